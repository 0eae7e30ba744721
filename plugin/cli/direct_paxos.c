/* `fencelock direct` commands on resource (paxos) leases: init -r, acquire,
 * release, read-leader -r; plus the device and lockspace-observer helpers
 * the layout commands share (cli.h). A lease is named LS:RES:PATH:OFFSET.
 * The owner's liveness comes from its delta lease, found either through the
 * fencelock header on the lease's device (format) or through -s
 * LS:0:PATH:OFFSET; the CLI has no history, so it watches the record for one
 * renewal interval before it calls a silent owner anything but unknown, and
 * only --wait lets it watch long enough (D) to take over from a dead one. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/log.h"
#include "common/rand.h"
#include "disklock/layout.h"
#include "disklock/lockspace.h"
#include "disklock/paxos.h"
#include "disklock/spec.h"
#include "disklock/timeouts.h"
#include "fencelock/error.h"
#include "plugin/cli/cli.h"

int fl_cli_dev_open(const char *path, bool create, uint64_t create_size, struct fl_cli_dev *d)
{
	char err[512] = "";
	memset(d, 0, sizeof(*d));
	d->el = fl_eloop_new();
	if (d->el == NULL) {
		fprintf(stderr, "fencelock: cannot create the event loop\n");
		return -FL_ENOMEM;
	}
	struct fl_bdev_aio_opts o = {.timeout_us = 10 * FL_US_PER_S, .create = create,
				     .create_size_bytes = create_size};
	int rv = fl_bdev_aio_open(d->el, path, &o, &d->bdev, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "fencelock: %s\n", err[0] ? err : fl_strerror(rv));
		fl_eloop_free(d->el);
		d->el = NULL;
	}
	return rv;
}

void fl_cli_dev_close(struct fl_cli_dev *d)
{
	if (d->bdev)
		fl_bdev_close(d->bdev);
	if (d->el)
		fl_eloop_free(d->el);
	memset(d, 0, sizeof(*d));
}

/* ---- owner observation through the delta lease ------------------------------- */

static int observe_read(struct fl_cli_observer *ob, uint64_t host_id)
{
	uint32_t ss = ob->dev.bdev->sector_size;
	uint8_t *s = malloc(ss);
	if (s == NULL)
		return -FL_ENOMEM;
	int rv = fl_bdev_read_sync(ob->dev.bdev, ob->offset + (host_id - 1) * ss, s, ss);
	if (rv == 0)
		ls_obs_update(&ob->obs[host_id], s, ob->space, ss, fl_now_us(fl_eloop_loop(ob->dev.el)));
	free(s);
	return rv;
}

static enum vl_owner_state map_state(enum ls_host_state s)
{
	switch (s) {
	case LS_HOST_FREE: return VL_OWNER_FREE;
	case LS_HOST_LIVE: return VL_OWNER_LIVE;
	case LS_HOST_FAIL: return VL_OWNER_FAIL;
	case LS_HOST_DEAD: return VL_OWNER_DEAD;
	default: return VL_OWNER_UNKNOWN; /* unknown, or a record we cannot trust: never free */
	}
}

enum vl_owner_state fl_cli_owner_state(void *ctx, uint64_t host_id, uint64_t generation)
{
	struct fl_cli_observer *ob = ctx;
	if (ob == NULL || ob->dev.bdev == NULL || host_id < 1 || host_id > LS_MAX_HOSTS)
		return VL_OWNER_UNKNOWN;
	struct fl_loop *loop = fl_eloop_loop(ob->dev.el);
	if (observe_read(ob, host_id) != 0)
		return VL_OWNER_UNKNOWN;
	struct ls_host_obs *o = &ob->obs[host_id];
	if (o->error == 0 && o->seen && o->timestamp != 0 && generation != 0 && o->generation > generation)
		return VL_OWNER_NEWER_GEN;
	enum ls_host_state st = ls_obs_state_ms(o, fl_now_us(loop), LS_IO_TIMEOUT_DEFAULT_MS);
	if (st == LS_HOST_UNKNOWN && !ob->patient && o->seen) {
		/* No history and no --wait: watch one renewal interval (+T) for a change. */
		struct ls_timing t;
		ls_obs_timing_ms(o, LS_IO_TIMEOUT_DEFAULT_MS, &t);
		uint64_t until = o->first_seen_us + t.renew_us + t.io_us;
		while (fl_now_us(loop) < until && !o->change_seen && o->error == 0) {
			usleep(200 * 1000);
			if (observe_read(ob, host_id) != 0)
				break;
		}
		st = ls_obs_state_ms(o, fl_now_us(loop), LS_IO_TIMEOUT_DEFAULT_MS);
	}
	return map_state(st);
}

int fl_cli_observer_open(struct fl_cli_observer *ob, const char *path, uint64_t offset, const char *space)
{
	memset(ob, 0, sizeof(*ob));
	ob->offset = offset;
	snprintf(ob->space, sizeof(ob->space), "%s", space);
	ob->obs = calloc(LS_MAX_HOSTS + 1, sizeof(*ob->obs));
	if (ob->obs == NULL)
		return -FL_ENOMEM;
	return fl_cli_dev_open(path, false, 0, &ob->dev);
}

void fl_cli_observer_close(struct fl_cli_observer *ob)
{
	fl_cli_dev_close(&ob->dev);
	free(ob->obs);
	ob->obs = NULL;
}

/* ---- option parsing -------------------------------------------------------------- */

struct px_opts {
	struct fl_spec r, s;
	bool have_r, have_s, shared, json, have_i, have_g;
	uint64_t host_id, generation, wait_s, num_hosts, lver;
};

static int parse_u64(const char *what, const char *text, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v = strtoull(text, &end, 10);
	if (text[0] == '\0' || text[0] == '-' || *end != '\0' || v > max) {
		fprintf(stderr, "fencelock: %s '%s' is not a number in 0..%" PRIu64 "\n", what, text, max);
		return -FL_EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_spec(const char *text, enum fl_spec_kind kind, struct fl_spec *out)
{
	char err[256];
	int rv = fl_spec_parse(text, kind, out, err, sizeof(err));
	if (rv != 0)
		fprintf(stderr, "fencelock: %s\n", err);
	return rv;
}

static int px_parse(int argc, char **argv, struct px_opts *o, const char *usage)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},   {"shared", no_argument, NULL, 'S'},
		{"wait", required_argument, NULL, 'w'}, {"lver", required_argument, NULL, 'l'},
		{"num-hosts", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
	int c, rv = 0;
	memset(o, 0, sizeof(*o));
	optind = 1;
	while (rv == 0 && (c = getopt_long(argc, argv, "hr:s:i:g:o:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", usage); return 1;
		case 'r': rv = parse_spec(optarg, FL_SPEC_RESOURCE, &o->r); o->have_r = true; break;
		case 's': rv = parse_spec(optarg, FL_SPEC_LOCKSPACE, &o->s); o->have_s = true; break;
		case 'i': rv = parse_u64("host_id", optarg, VL_MAX_HOSTS, &o->host_id); o->have_i = true; break;
		case 'g': rv = parse_u64("generation", optarg, UINT64_MAX, &o->generation); o->have_g = true; break;
		case 'S': o->shared = true; break;
		case 'w': rv = parse_u64("--wait", optarg, 86400, &o->wait_s); break;
		case 'l': rv = parse_u64("--lver", optarg, UINT64_MAX, &o->lver); break;
		case 'n': rv = parse_u64("--num-hosts", optarg, VL_MAX_HOSTS, &o->num_hosts); break;
		case 'o':
			o->json = strcmp(optarg, "json") == 0;
			if (!o->json && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "fencelock: -o takes text or json, not '%s'\n", optarg);
				rv = -FL_EINVAL;
			}
			break;
		default: fprintf(stderr, "%s", usage); return -FL_EINVAL;
		}
	}
	if (rv == 0 && optind < argc) {
		fprintf(stderr, "fencelock: unexpected argument '%s'\n%s", argv[optind], usage);
		rv = -FL_EINVAL;
	}
	return rv;
}

static int require(bool have, const char *what, const char *usage)
{
	if (!have)
		fprintf(stderr, "fencelock: %s is required\n%s", what, usage);
	return have ? 0 : -FL_EINVAL;
}

/* ---- init -r ------------------------------------------------------------------ */

static const char init_usage[] =
	"usage: fencelock direct init -r LS:RES:PATH:OFFSET [--num-hosts N]\n"
	"  Writes a free resource (paxos) lease of one align size (1 MiB for 512-byte\n"
	"  sectors) at OFFSET, readable by 'sanlock direct read_leader -r'. N: host_ids\n"
	"  that may take part (default 2000, sanlock's). Refuses to overwrite a lockspace.\n";

int fl_cli_direct_init_r(int argc, char **argv)
{
	struct px_opts o;
	int rv = px_parse(argc, argv, &o, init_usage);
	if (rv != 0)
		return rv > 0 ? FL_EXIT_OK : FL_EXIT_USAGE;
	if (require(o.have_r, "-r LS:RES:PATH:OFFSET", init_usage) != 0)
		return FL_EXIT_USAGE;
	struct fl_cli_dev d;
	rv = fl_cli_dev_open(o.r.path, false, 0, &d);
	if (rv != 0)
		return fl_cli_exit_for(rv);
	uint32_t ss = d.bdev->sector_size;
	uint64_t align = ss == 512 ? 1ull << 20 : 8ull << 20;
	uint64_t n = o.num_hosts ? o.num_hosts : VL_MAX_HOSTS; /* 2002 sectors fit one align at 512 and 4K */
	uint8_t *sec = malloc(ss);
	rv = sec ? fl_bdev_read_sync(d.bdev, o.r.offset, sec, ss) : -FL_ENOMEM;
	if (rv == 0 && fl_get_le32(sec) == FL_DELTA_MAGIC) {
		fprintf(stderr, "fencelock: %s at %" PRIu64 " holds a lockspace; refusing to write a lease over it\n",
			o.r.path, o.r.offset);
		rv = -FL_EMAGIC;
	}
	free(sec);
	if (rv == 0)
		rv = vl_init_sync(d.bdev, o.r.offset, FL_MIN(align, d.bdev->size_bytes - FL_MIN(o.r.offset, d.bdev->size_bytes)),
				  o.r.space, o.r.resource, (uint32_t)n, fl_align_flag_from_bytes(align));
	if (rv != 0)
		fprintf(stderr, "fencelock: init of lease %s:%s on %s at %" PRIu64 " failed: %s\n", o.r.space,
			o.r.resource, o.r.path, o.r.offset, fl_strerror(rv));
	else
		printf("init done\n");
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}

/* ---- acquire / release -------------------------------------------------------- */

static const char acquire_usage[] =
	"usage: fencelock direct acquire -r LS:RES:PATH:OFFSET -i HOST_ID -g GENERATION\n"
	"                                [--shared] [--wait SECONDS] [--lver LVER] [-s LS:0:PATH:OFFSET]\n"
	"  Runs a disk Paxos ballot for the lease. A lease held by another host is taken\n"
	"  only if that host's delta lease is free, has a newer generation, or has not\n"
	"  changed for D; the lockspace comes from -s or from the device's fencelock\n"
	"  header. Without --wait a live or silent owner fails at once (exit 3) after\n"
	"  one renewal interval of watching; --wait keeps watching up to SECONDS.\n"
	"  --lver: migration hand-off, fail unless the lease's lver is still LVER.\n";

/* Finds the lockspace for the owner check: -s, else the layout header (whose
 * max_hosts also bounds the dblocks to read with the leader: *hint). */
static int open_observer(const struct px_opts *o, struct fl_cli_dev *d, struct fl_cli_observer *ob, uint32_t *hint)
{
	struct lay_layout l;
	bool laid_out = lay_read_sync(d->bdev, &l) == 0;
	*hint = laid_out ? l.max_hosts : 0;
	if (o->have_s)
		return fl_cli_observer_open(ob, o->s.path, o->s.offset, o->s.space);
	if (laid_out)
		return fl_cli_observer_open(ob, o->r.path, l.lockspace_offset, l.cluster);
	memset(ob, 0, sizeof(*ob)); /* no lockspace: every foreign owner stays unknown */
	return 0;
}

static void print_busy(const struct px_opts *o, const struct vl_result *r)
{
	fprintf(stderr, "fencelock: lease %s:%s held by %s host %" PRIu64 "%s\n", o->r.space, o->r.resource,
		vl_owner_state_name(r->busy_state), r->busy_host_id,
		r->busy_state == VL_OWNER_LIVE ? "" : "; retry with --wait D to take it over once it is dead");
}

int fl_cli_direct_acquire(int argc, char **argv)
{
	struct px_opts o;
	int rv = px_parse(argc, argv, &o, acquire_usage);
	if (rv != 0)
		return rv > 0 ? FL_EXIT_OK : FL_EXIT_USAGE;
	if (require(o.have_r, "-r", acquire_usage) || require(o.have_i && o.host_id > 0, "-i HOST_ID (1..2000)", acquire_usage) ||
	    require(o.have_g && o.generation > 0, "-g GENERATION (> 0)", acquire_usage))
		return FL_EXIT_USAGE;
	struct fl_cli_dev d;
	struct fl_cli_observer ob;
	rv = fl_cli_dev_open(o.r.path, false, 0, &d);
	if (rv != 0)
		return fl_cli_exit_for(rv);
	uint32_t hint = 0;
	rv = open_observer(&o, &d, &ob, &hint);
	if (rv != 0) {
		fl_cli_dev_close(&d);
		return fl_cli_exit_for(rv);
	}
	ob.patient = o.wait_s > 0;
	struct fl_rand rnd;
	fl_rand_seed(&rnd, fl_monotonic_us() ^ ((uint64_t)getpid() << 32) ^ o.host_id);
	struct vl_area a = {.bdev = d.bdev, .offset = o.r.offset, .num_hosts_hint = hint,
			    .space_name = o.r.space, .resource_name = o.r.resource};
	struct vl_acquire_args args = {.host_id = o.host_id, .generation = o.generation, .shared = o.shared,
				       .acquire_lver = o.lver, .wait_us = o.wait_s * FL_US_PER_S,
				       .owner_state = fl_cli_owner_state, .owner_ctx = &ob, .rand = &rnd};
	struct vl_op op;
	rv = vl_acquire_start(&op, &a, &args, NULL, NULL);
	if (rv == 0) {
		rv = vl_wait_sync(&op, d.bdev);
		if (rv == 0)
			printf("acquire done: lver %" PRIu64 " owner %" PRIu64 " generation %" PRIu64 "%s\n",
			       op.res.leader.lver, o.host_id, o.generation, o.shared ? " shared" : "");
		else if (rv == -FL_EBUSY)
			print_busy(&o, &op.res);
		else
			fprintf(stderr, "fencelock: acquire of %s:%s on %s at %" PRIu64 " failed: %s\n", o.r.space,
				o.r.resource, o.r.path, o.r.offset, fl_strerror(rv));
		vl_op_free(&op);
	}
	fl_cli_observer_close(&ob);
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}

static const char release_usage[] =
	"usage: fencelock direct release -r LS:RES:PATH:OFFSET -i HOST_ID -g GENERATION\n"
	"  Releases an exclusive hold (dblock RELEASED, leader timestamp 0 when we\n"
	"  wrote it) or a shared one (mode block cleared). Exit 6 if not held.\n";

int fl_cli_direct_release(int argc, char **argv)
{
	struct px_opts o;
	int rv = px_parse(argc, argv, &o, release_usage);
	if (rv != 0)
		return rv > 0 ? FL_EXIT_OK : FL_EXIT_USAGE;
	if (require(o.have_r, "-r", release_usage) || require(o.have_i && o.host_id > 0, "-i HOST_ID", release_usage) ||
	    require(o.have_g && o.generation > 0, "-g GENERATION", release_usage))
		return FL_EXIT_USAGE;
	struct fl_cli_dev d;
	rv = fl_cli_dev_open(o.r.path, false, 0, &d);
	if (rv != 0)
		return fl_cli_exit_for(rv);
	struct vl_area a = {.bdev = d.bdev, .offset = o.r.offset, .space_name = o.r.space,
			    .resource_name = o.r.resource};
	struct vl_op op;
	rv = vl_release_start(&op, &a, o.host_id, o.generation, NULL, NULL);
	if (rv == 0) {
		rv = vl_wait_sync(&op, d.bdev);
		vl_op_free(&op);
	}
	if (rv == 0)
		printf("release done\n");
	else
		fprintf(stderr, "fencelock: release of %s:%s by host %" PRIu64 " failed: %s\n", o.r.space, o.r.resource,
			o.host_id, fl_strerror(rv));
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}

/* ---- read-leader -r ------------------------------------------------------------ */

static const char read_leader_usage[] =
	"usage: fencelock direct read-leader -r LS:RES:PATH:OFFSET [-o text|json]\n"
	"  Prints the lease's leader record, shared holders and a hand-off state string.\n";

static void print_leader(const struct vl_result *r, bool json)
{
	const struct fl_leader *l = &r->leader;
	char sp[FL_NAME_LEN + 1], rs[FL_NAME_LEN + 1], state[VL_STATE_STR_LEN] = "";
	fl_name_get(l->space_name, sp);
	fl_name_get(l->resource_name, rs);
	if (vl_state_format(l, state) != 0)
		state[0] = '\0'; /* does not fit the hand-off form: printed empty */
	if (json) {
		json_t *sh = json_array();
		for (uint32_t i = 0; i < FL_MIN(r->shared_count, (uint32_t)VL_MAX_SHARED); i++)
			json_array_append_new(sh, json_pack("{s:I,s:I}", "host_id", (json_int_t)r->shared_host[i],
							    "generation", (json_int_t)r->shared_gen[i]));
		json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:o,s:s}", "lockspace", sp, "resource", rs,
				      "owner_id", (json_int_t)l->owner_id, "owner_generation",
				      (json_int_t)l->owner_generation, "lver", (json_int_t)l->lver, "timestamp",
				      (json_int_t)l->timestamp, "held", r->held, "num_hosts",
				      (json_int_t)l->num_hosts, "write_id", (json_int_t)l->write_id,
				      "shared_holders", sh, "state", state);
		json_object_set_new(j, "schema_version", json_integer(FL_CLI_SCHEMA_VERSION));
		char *s = json_dumps(j, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	printf("magic 0x%08x\nversion 0x%08x\nflags 0x%x\nsector_size %u\nnum_hosts %" PRIu64 "\nmax_hosts %" PRIu64
	       "\nowner_id %" PRIu64 "\nowner_generation %" PRIu64 "\nlver %" PRIu64 "\nspace_name %s\n"
	       "resource_name %s\ntimestamp %" PRIu64 "\nwrite_id %" PRIu64 "\nwrite_generation %" PRIu64
	       "\nwrite_timestamp %" PRIu64 "\n",
	       l->magic, l->version, l->flags, l->sector_size, l->num_hosts, l->max_hosts, l->owner_id,
	       l->owner_generation, l->lver, sp, rs, l->timestamp, l->write_id, l->write_generation,
	       l->write_timestamp);
	printf("held %s\n", r->held ? "yes" : "no");
	printf("shared_holders");
	for (uint32_t i = 0; i < FL_MIN(r->shared_count, (uint32_t)VL_MAX_SHARED); i++)
		printf(" %" PRIu64 ":%" PRIu64, r->shared_host[i], r->shared_gen[i]);
	printf("\nstate %s\n", state);
}

int fl_cli_direct_read_leader_r(int argc, char **argv)
{
	struct px_opts o;
	int rv = px_parse(argc, argv, &o, read_leader_usage);
	if (rv != 0)
		return rv > 0 ? FL_EXIT_OK : FL_EXIT_USAGE;
	if (require(o.have_r, "-r", read_leader_usage) != 0)
		return FL_EXIT_USAGE;
	struct fl_cli_dev d;
	rv = fl_cli_dev_open(o.r.path, false, 0, &d);
	if (rv != 0)
		return fl_cli_exit_for(rv);
	struct vl_area a = {.bdev = d.bdev, .offset = o.r.offset, .space_name = o.r.space,
			    .resource_name = o.r.resource};
	struct vl_op op;
	rv = vl_inquire_start(&op, &a, NULL, NULL);
	if (rv == 0) {
		rv = vl_wait_sync(&op, d.bdev);
		if (rv == 0)
			print_leader(&op.res, o.json);
		vl_op_free(&op);
	}
	if (rv != 0)
		fprintf(stderr, "fencelock: read_leader of %s:%s on %s at %" PRIu64 " failed: %s\n", o.r.space,
			o.r.resource, o.r.path, o.r.offset, fl_strerror(rv));
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}
