/* `fencelock direct` delta-lease commands: init, dump, read-leader,
 * acquire-id, renew-id, release-id, host-status and hold-id. Each command
 * parses its options, opens the device through fl_bdev_aio_open(), probes
 * the lockspace's geometry from record 0 (sector size, align), and drives
 * the lockspace state machine (disklock/lockspace.h) on the real epoll loop
 * until its event arrives. Bad input is refused before anything is written;
 * a corrupt record is reported, never treated as free. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "common/log.h"
#include "common/loop.h"
#include "disklock/bdev.h"
#include "disklock/lockspace.h"
#include "disklock/spec.h"
#include "fencelock/error.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/direct.h"
#include "plugin/cli/out.h"
#include "plugin/host/cfg_syntax.h"

#define DIRECT_IO_TIMEOUT_US (10 * FL_US_PER_S)
#define CONTINUE (-1)

struct dcmd {
	const char *name;
	const char *optstring;
	bool takes_path;   /* one positional PATH[:OFFSET] */
	bool takes_force;
	const char *usage;
	/* -o was sanlock's io_timeout here: kept, with a warning, for a number;
	 * --io-timeout is the option (-o is the output format everywhere else). */
	bool o_io_timeout;
};

struct dopts {
	const char *spec_text;
	const char *host_name;
	const char *o;
	const char *io_timeout;
	uint32_t sector;      /* -Z; 0: from the record */
	uint64_t align;       /* -A; 0: 1M */
	uint64_t wait_s;      /* -w */
	bool force;
	const char *pos;
};

struct dctx {
	const struct dcmd *cmd;
	struct fl_eloop *el;
	struct fl_bdev *dev;
	char where[FL_SPEC_PATH_MAX + 32];  /* PATH:OFFSET, for messages */
	const char *path;
	uint64_t offset;
	uint32_t sector;
	uint64_t align;
	uint32_t hosts;
	struct fl_leader rec0;
	int rec0_rv;
	/* events of the state machine */
	bool done;
	int want;             /* the event ctx_wait waits for; -1: any */
	enum ls_event ev;
	int result;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* ---- options ---- */

static int usage_error(const struct dcmd *c, const char *what)
{
	fl_out_err(c->name, "%s; run 'fencelock direct %s --help'", what, c->name);
	return FL_EXIT_USAGE;
}

static int parse_opt(const struct dcmd *c, int ch, struct dopts *o)
{
	uint64_t v;
	switch (ch) {
	case 's': o->spec_text = optarg; return CONTINUE;
	case 'e': o->host_name = optarg; return CONTINUE;
	case 'o':
		if (!c->o_io_timeout) {
			o->o = optarg;
			return CONTINUE;
		}
		if (fl_out_parse_uint(optarg, 0, UINT64_MAX, &v) != 0)
			return usage_error(c, "-o is the output format; this command takes the io_timeout as --io-timeout");
		fprintf(stderr, "fencelock direct %s: -o IO_TIMEOUT is deprecated, use --io-timeout\n", c->name);
		o->io_timeout = optarg;
		return CONTINUE;
	case 'T':
		if (!c->o_io_timeout)
			return usage_error(c, "--io-timeout is not an option of this command");
		o->io_timeout = optarg;
		return CONTINUE;
	case 'O':
		if (c->o_io_timeout)
			return usage_error(c, "this command has no output format (--output)");
		o->o = optarg;
		return CONTINUE;
	case 'F': o->force = true; return CONTINUE;
	case 'Z':
		if (fl_out_parse_uint(optarg, 512, 4096, &v) != 0 || (v != 512 && v != 4096))
			return usage_error(c, "-Z takes 512 or 4096");
		o->sector = (uint32_t)v;
		return CONTINUE;
	case 'A':
		if (fl_out_parse_align(optarg, &o->align) != 0)
			return usage_error(c, "-A takes 1M, 2M, 4M or 8M");
		return CONTINUE;
	case 'w':
		if (fl_out_parse_uint(optarg, 0, 86400, &o->wait_s) != 0)
			return usage_error(c, "-w takes whole seconds 0..86400");
		return CONTINUE;
	default:
		return usage_error(c, "unknown option or missing option argument");
	}
}

/* Returns CONTINUE, or the exit code to return (0 after --help). */
static int parse_opts(const struct dcmd *c, int argc, char **argv, struct dopts *o)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"force", no_argument, NULL, 'F'},
		{"io-timeout", required_argument, NULL, 'T'},
		{"output", required_argument, NULL, 'O'},
		{"lockspace", required_argument, NULL, 's'},
		{"host-name", required_argument, NULL, 'e'},
		{"sector-size", required_argument, NULL, 'Z'},
		{"align", required_argument, NULL, 'A'},
		{"wait", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	int ch, rv;
	while ((ch = getopt_long(argc, argv, c->optstring, longopts, NULL)) != -1) {
		if (ch == 'h') {
			printf("%s", c->usage);
			return FL_EXIT_OK;
		}
		if (ch == 'F' && !c->takes_force)
			return usage_error(c, "--force is not an option of this command");
		if ((rv = parse_opt(c, ch, o)) != CONTINUE)
			return rv;
	}
	if (optind < argc && c->takes_path)
		o->pos = argv[optind++];
	if (optind < argc)
		return usage_error(c, "unexpected argument");
	return CONTINUE;
}

static int parse_spec(const struct dcmd *c, const struct dopts *o, bool host_id_required, struct fl_spec *spec)
{
	char err[512];
	if (o->spec_text == NULL)
		return usage_error(c, "-s LOCKSPACE:HOST_ID:PATH:OFFSET is required");
	if (fl_spec_parse(o->spec_text, FL_SPEC_LOCKSPACE, spec, err, sizeof(err)) != 0)
		return usage_error(c, err);
	if (host_id_required && spec->host_id == 0)
		return usage_error(c, "host_id 0 is not a host: give 1..2000 in -s");
	if (!host_id_required && spec->host_id != 0)
		return usage_error(c, "this command takes host_id 0 in -s (LOCKSPACE:0:PATH:OFFSET)");
	return CONTINUE;
}

/* ---- device and geometry ---- */

static int ctx_open(struct dctx *x, uint32_t sector, bool read_only)
{
	char err[512];
	struct fl_bdev_aio_opts opts = {.sector_size = sector, .timeout_us = DIRECT_IO_TIMEOUT_US,
					.read_only = read_only};
	if (x->dev != NULL)
		fl_bdev_close(x->dev);
	x->dev = NULL;
	int rv = fl_bdev_aio_open(x->el, x->path, &opts, &x->dev, err, sizeof(err));
	if (rv != 0)
		fl_out_err(x->cmd->name, "cannot open the device: %s", err);
	return rv;
}

static int ctx_init(struct dctx *x, const struct dcmd *c, const char *path, uint64_t offset)
{
	memset(x, 0, sizeof(*x));
	x->want = -1;
	x->cmd = c;
	x->path = path;
	x->offset = offset;
	snprintf(x->where, sizeof(x->where), "%s:%llu", path, (unsigned long long)offset);
	x->el = fl_eloop_new();
	if (x->el == NULL) {
		fl_out_err(c->name, "cannot create the event loop: out of memory or file descriptors");
		return -FL_ENOMEM;
	}
	return 0;
}

/* Frees ls and the context: the device first, so that no I/O of ls is in
 * flight when ls goes (ls_free's contract), then ls while the loop lives. */
static void ctx_free_with(struct dctx *x, struct ls_lockspace *ls)
{
	if (x->dev != NULL)
		fl_bdev_close(x->dev);
	x->dev = NULL;
	ls_free(ls);
	if (x->el != NULL)
		fl_eloop_free(x->el);
	x->el = NULL;
}

static void ctx_free(struct dctx *x)
{
	if (x->dev != NULL)
		fl_bdev_close(x->dev);
	if (x->el != NULL)
		fl_eloop_free(x->el);
}

static int check_offset(struct dctx *x, uint64_t align)
{
	if (x->offset % x->dev->sector_size != 0 || x->offset % align != 0) {
		fl_out_err(x->cmd->name, "offset %llu in %s is not a multiple of the align size %lluM; "
			   "lockspaces start at multiples of 1M, 2M, 4M or 8M", (unsigned long long)x->offset,
			   x->path, (unsigned long long)(align >> 20));
		return -FL_EALIGN;
	}
	return 0;
}

/* Reads record 0 and learns sector size, align and host count from it.
 * want_sector: -Z or 0. space: expected lockspace name or NULL. With
 * tolerate_bad_rec0 a corrupt (not all-zero) record 0 leaves the default
 * geometry and x->rec0_rv set. Prints its errors. */
static int ctx_probe(struct dctx *x, uint32_t want_sector, const char *space, bool read_only, bool tolerate_bad_rec0)
{
	FL_ASSERT(x->el != NULL);
	FL_ASSERT(x->path != NULL);
	int rv = ctx_open(x, want_sector, read_only);
	if (rv != 0)
		return rv;
	if ((rv = check_offset(x, 1u << 20)) != 0)
		return rv;
	if (x->offset + x->dev->sector_size > x->dev->size_bytes) {
		fl_out_err(x->cmd->name, "%s is %llu bytes: nothing at offset %llu", x->path,
			   (unsigned long long)x->dev->size_bytes, (unsigned long long)x->offset);
		return -FL_ETOOSMALL;
	}
	uint8_t *buf = malloc(x->dev->sector_size);
	if (buf == NULL)
		return -FL_ENOMEM;
	rv = fl_bdev_read_sync(x->dev, x->offset, buf, x->dev->sector_size);
	if (rv != 0) {
		free(buf);
		fl_out_err(x->cmd->name, "read of record 0 at %s failed: %s", x->where, fl_strerror(rv));
		return rv;
	}
	x->rec0_rv = fl_leader_decode(buf, FL_DELTA_MAGIC, &x->rec0);
	bool zero = fl_block_is_zero(buf, FL_LEADER_SIZE);
	free(buf);
	if (x->rec0_rv != 0) {
		if (zero)
			fl_out_err(x->cmd->name, "no lockspace at %s (record 0 is all zeros); create one with "
				   "'fencelock direct init'", x->where);
		else if (!tolerate_bad_rec0)
			fl_out_err(x->cmd->name, "record 0 at %s is not a valid delta lease (%s): not a lockspace, "
				   "or a corrupt one; nothing was written", x->where, ls_record_reason(x->rec0_rv));
		if (zero || !tolerate_bad_rec0)
			return x->rec0_rv;
		x->sector = want_sector ? want_sector : x->dev->sector_size;
		x->align = fl_align_bytes_from_flags(0, x->sector);
	} else {
		char name[FL_NAME_LEN + 1];
		fl_name_get(x->rec0.space_name, name);
		if (space != NULL && strcmp(name, space) != 0) {
			fl_out_err(x->cmd->name, "the lockspace at %s is '%s', not '%s'; check -s", x->where, name, space);
			return -FL_EFOREIGN;
		}
		if (want_sector != 0 && x->rec0.sector_size != want_sector) {
			fl_out_err(x->cmd->name, "the lockspace at %s has %u-byte sectors but -Z says %u; drop -Z or "
				   "fix it", x->where, x->rec0.sector_size, want_sector);
			return -FL_ESECTOR;
		}
		x->sector = x->rec0.sector_size;
		x->align = fl_align_bytes_from_flags(x->rec0.flags, x->sector);
		if (x->align == 0 || (x->sector != 512 && x->sector != 4096)) {
			fl_out_err(x->cmd->name, "record 0 at %s has an unknown geometry (flags 0x%x, sector %u)",
				   x->where, x->rec0.flags, x->rec0.sector_size);
			return -FL_ECORRUPT;
		}
	}
	if (x->sector != x->dev->sector_size && (rv = ctx_open(x, x->sector, read_only)) != 0)
		return rv;
	if ((rv = check_offset(x, x->align)) != 0)
		return rv;
	x->hosts = fl_max_hosts(x->sector, x->align);
	if (x->offset + (uint64_t)x->hosts * x->sector > x->dev->size_bytes) {
		fl_out_err(x->cmd->name, "%s is %llu bytes, too small for the lockspace at offset %llu (%llu bytes)",
			   x->path, (unsigned long long)x->dev->size_bytes, (unsigned long long)x->offset,
			   (unsigned long long)x->hosts * x->sector);
		return -FL_ETOOSMALL;
	}
	return 0;
}

static void on_ls_event(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg)
{
	struct dctx *x = arg;
	(void)ls;
	if (x->want >= 0 && (int)ev != x->want)
		return;
	x->done = true;
	x->ev = ev;
	x->result = result;
}

/* Drives the loop until the state machine reports (or limit_us passes). */
static int ctx_wait(struct dctx *x, uint64_t limit_us)
{
	FL_ASSERT(x->el != NULL);
	FL_ASSERT(x->dev != NULL);
	struct fl_loop *loop = fl_eloop_loop(x->el);
	uint64_t end = fl_now_us(loop) + limit_us;
	x->done = false;
	while (!x->done) {
		if (fl_now_us(loop) > end)
			return -FL_ETIMEDOUT;
		int rv = fl_eloop_run_once(x->el, 100 * FL_US_PER_MS);
		if (rv != 0)
			return rv;
	}
	return x->result;
}

static int ctx_lockspace(struct dctx *x, const char *space, uint64_t host_id, const char *host_name,
			 uint32_t io_timeout_ms, struct ls_lockspace **out)
{
	struct ls_config cfg = {.host_id = host_id, .offset = x->offset, .align_bytes = x->align,
				.io_timeout_ms = io_timeout_ms};
	snprintf(cfg.space_name, sizeof(cfg.space_name), "%s", space);
	if (host_name != NULL)
		snprintf(cfg.host_name, sizeof(cfg.host_name), "%s", host_name);
	int rv = ls_new(fl_eloop_loop(x->el), x->dev, &cfg, on_ls_event, x, out);
	if (rv != 0)
		fl_out_err(x->cmd->name, "bad lockspace parameters for %s: %s", x->where, fl_strerror(rv));
	return rv;
}

/* Reads host_id's record into sector (x->sector bytes) and checks it. */
static int read_record(struct dctx *x, const char *space, uint64_t host_id, uint8_t *sector, struct fl_leader *l)
{
	FL_ASSERT(host_id >= 1);
	if (host_id > x->hosts) {
		fl_out_err(x->cmd->name, "host_id %llu is beyond this lockspace's %u host ids",
			   (unsigned long long)host_id, x->hosts);
		return -FL_EINVAL;
	}
	FL_ASSERT(x->sector == 512 || x->sector == 4096);
	int rv = fl_bdev_read_sync(x->dev, x->offset + (host_id - 1) * x->sector, sector, x->sector);
	if (rv != 0) {
		fl_out_err(x->cmd->name, "read of host_id %llu at %s failed: %s", (unsigned long long)host_id,
			   x->where, fl_strerror(rv));
		return rv;
	}
	rv = ls_record_check(sector, space, x->sector, l);
	if (rv != 0)
		fl_out_err(x->cmd->name, "the record of host_id %llu at %s is not valid: %s; it is never treated "
			   "as free, and nothing was written", (unsigned long long)host_id, x->where,
			   ls_record_reason(rv));
	return rv;
}

/* ---- init ---- */

static const struct dcmd cmd_init = {
	"init", "s:o:Z:A:h", false, true,
	"usage: fencelock direct init -s LOCKSPACE:0:PATH:OFFSET [--io-timeout T] [-Z 512|4096]\n"
	"                             [-A 1M|2M|4M|8M] [--force]\n"
	"\n"
	"Formats a lockspace of delta leases at OFFSET of PATH in sanlock's format: one free\n"
	"record per host_id (2000 for 512-byte sectors and 1M align; 250 per MiB with 4096),\n"
	"record 0 written last so the lockspace appears in one write.\n"
	"  --io-timeout T  io_timeout written into every record: N or Ns seconds, Nms\n"
	"                  milliseconds, 100ms..300s (default 1; -o N is a deprecated spelling)\n"
	"  -Z  sector size (default: the device's)      -A  align size (default 1M)\n"
	"Refuses, writing nothing, when the area holds another lockspace, anything that is\n"
	"not a lockspace, a lockspace of another geometry, or a host_id still held\n"
	"(timestamp != 0); --force overwrites all of these.\n",
	true,
};

/* What is already at the area; 0 if init may write. */
static int init_check_existing(struct dctx *x, const char *space, uint64_t align, bool force)
{
	struct fl_leader l;
	uint32_t dsec = x->dev->sector_size;
	FL_ASSERT(fl_align_flag_from_bytes(align) != 0);
	FL_ASSERT(x->offset % align == 0);
	uint8_t *buf = malloc(align);
	if (buf == NULL)
		return -FL_ENOMEM;
	int rv = fl_bdev_read_sync(x->dev, x->offset, buf, (uint32_t)align);
	if (rv != 0) {
		fl_out_err(x->cmd->name, "read of %s failed: %s", x->where, fl_strerror(rv));
		goto out;
	}
	if (force || fl_block_is_zero(buf, dsec))
		goto out;
	char name[FL_NAME_LEN + 1];
	rv = fl_leader_decode(buf, FL_DELTA_MAGIC, &l);
	fl_name_get(l.space_name, name);
	if (rv != 0) {
		fl_out_err(x->cmd->name, "%s holds data that is not a lockspace (%s); nothing was written; use "
			   "--force to overwrite it", x->where, ls_record_reason(rv));
	} else if (strcmp(name, space) != 0 || l.sector_size != dsec ||
		   fl_align_bytes_from_flags(l.flags, l.sector_size) != align) {
		rv = -FL_EFOREIGN;
		fl_out_err(x->cmd->name, "%s already holds lockspace '%s' (%u-byte sectors, align %lluM); nothing "
			   "was written; use --force to overwrite it", x->where, name, l.sector_size,
			   (unsigned long long)(fl_align_bytes_from_flags(l.flags, l.sector_size) >> 20));
	} else {
		uint32_t hosts = fl_max_hosts(dsec, align);
		for (uint32_t i = 0; i < hosts && rv == 0; i++) {
			if (ls_record_check(buf + (size_t)i * dsec, space, dsec, &l) == 0 && l.timestamp != 0) {
				fl_name_get(l.resource_name, name);
				fl_out_err(x->cmd->name, "host_id %u of lockspace '%s' at %s is held by %s (timestamp "
					   "%llu); release it first or use --force", i + 1, space, x->where, name,
					   (unsigned long long)l.timestamp);
				rv = -FL_EBUSY;
			}
		}
	}
out:
	free(buf);
	return rv;
}

static int init_run(struct dctx *x, const struct fl_spec *spec, const struct dopts *o, uint32_t io_timeout_ms)
{
	uint64_t align = o->align ? o->align : 1ull << 20;
	struct ls_lockspace *ls = NULL;
	int rv = ctx_open(x, o->sector, false);
	if (rv == 0)
		rv = check_offset(x, align);
	if (rv != 0)
		return rv;
	if (x->offset + align > x->dev->size_bytes) {
		fl_out_err(x->cmd->name, "%s is %llu bytes, too small for a %lluM lockspace at offset %llu",
			   x->path, (unsigned long long)x->dev->size_bytes, (unsigned long long)(align >> 20),
			   (unsigned long long)x->offset);
		return -FL_ETOOSMALL;
	}
	if ((rv = init_check_existing(x, spec->space, align, o->force)) != 0)
		return rv;
	x->align = align;
	if ((rv = ctx_lockspace(x, spec->space, 0, NULL, io_timeout_ms, &ls)) != 0)
		return rv;
	rv = ls_format(ls);
	if (rv == 0)
		rv = ctx_wait(x, 60 * FL_US_PER_S);
	if (rv == 0)
		printf("init done: lockspace %s at %s, %u host ids, sector %u, align %lluM, io_timeout %u ms\n",
		       spec->space, x->where, ls_area_hosts(ls), x->dev->sector_size,
		       (unsigned long long)(align >> 20), io_timeout_ms);
	else
		fl_out_err(x->cmd->name, "format of %s failed: %s; the area is in an unknown state, run init again",
			   x->where, fl_strerror(rv));
	ls_free(ls);
	return rv;
}

/* --io-timeout (sanlock's -o): a duration as the configuration takes it, a
 * plain number being whole seconds as sanlock's; the result in milliseconds. */
static int parse_io_timeout(const struct dcmd *c, const struct dopts *o, uint32_t *io_timeout_ms)
{
	uint32_t ms = LS_IO_TIMEOUT_DEFAULT_MS;
	if (o->io_timeout != NULL &&
	    (cfg_parse_duration_ms(o->io_timeout, LS_IO_TIMEOUT_MAX_MS, &ms) != 0 || !ls_io_timeout_ms_valid(ms)))
		return usage_error(c, "--io-timeout takes N or Ns seconds or Nms milliseconds, 100ms..300s "
				      "(whole seconds above 65535ms)");
	*io_timeout_ms = ms;
	return CONTINUE;
}

int fl_direct_init(int argc, char **argv)
{
	struct dopts o;
	struct fl_spec spec;
	struct dctx x;
	uint32_t t;
	int rv = parse_opts(&cmd_init, argc, argv, &o);
	if (rv == CONTINUE)
		rv = parse_spec(&cmd_init, &o, false, &spec);
	if (rv == CONTINUE)
		rv = parse_io_timeout(&cmd_init, &o, &t);
	if (rv != CONTINUE)
		return rv;
	rv = ctx_init(&x, &cmd_init, spec.path, spec.offset);
	if (rv == 0)
		rv = init_run(&x, &spec, &o, t);
	ctx_free(&x);
	return fl_cli_exit_for(rv);
}

/* ---- dump ---- */

static const struct dcmd cmd_dump = {
	"dump", "o:Z:h", true, false,
	"usage: fencelock direct dump PATH[:OFFSET] [-o text|json] [-Z 512|4096]\n"
	"\n"
	"Lists every record of the lockspace at OFFSET (default 0) that was ever acquired, and\n"
	"every record that cannot be trusted (bad checksum, magic, version, lockspace name or\n"
	"sector size) with valid false and its reason. Reads only.\n"
	"JSON: {lockspace, path, offset, sector_size, align_size, hosts: [{host_id, name,\n"
	"generation, timestamp, io_timeout, valid, marked} | {host_id, valid: false, reason}]}\n",
	false,
};

static json_t *dump_entry(uint32_t host_id, const uint8_t *sec, const char *space, uint32_t sector, bool *list)
{
	struct fl_leader l;
	FL_ASSERT(host_id >= 1);
	FL_ASSERT(host_id <= LS_MAX_HOSTS);
	int rv = ls_record_check(sec, space, sector, &l);
	*list = rv != 0 || l.owner_generation != 0 || l.owner_id != 0 || l.timestamp != 0;
	if (!*list)
		return NULL;
	json_t *o;
	if (rv == 0) {
		o = fl_out_leader_json(&l);
		json_object_set_new(o, "owner_id", json_integer((json_int_t)l.owner_id));
		json_object_set_new(o, "host_id", json_integer(host_id));
	} else {
		o = json_object();
		json_object_set_new(o, "host_id", json_integer(host_id));
		json_object_set_new(o, "valid", json_false());
		json_object_set_new(o, "reason", json_string(fl_block_is_zero(sec, FL_LEADER_SIZE)
								      ? "uninitialised (all zeros)"
								      : ls_record_reason(rv)));
	}
	return o;
}

static void dump_text(const struct dctx *x, json_t *root)
{
	json_t *hosts = json_object_get(root, "hosts");
	size_t i;
	json_t *h;
	printf("lockspace %s at %s: sector_size %u, align %lluM, %u host ids\n",
	       json_string_value(json_object_get(root, "lockspace")), x->where, x->sector,
	       (unsigned long long)(x->align >> 20), x->hosts);
	printf("%7s %-48s %10s %12s %4s %6s %s\n", "host_id", "name", "generation", "timestamp", "io_t", "marked",
	       "valid");
	json_array_foreach(hosts, i, h) {
		if (!json_is_true(json_object_get(h, "valid"))) {
			printf("%7lld %-48s %10s %12s %4s %6s no: %s\n",
			       (long long)json_integer_value(json_object_get(h, "host_id")), "-", "-", "-", "-", "-",
			       json_string_value(json_object_get(h, "reason")));
			continue;
		}
		printf("%7lld %-48s %10lld %12lld %4lld %6s yes\n",
		       (long long)json_integer_value(json_object_get(h, "host_id")),
		       json_string_value(json_object_get(h, "name")),
		       (long long)json_integer_value(json_object_get(h, "generation")),
		       (long long)json_integer_value(json_object_get(h, "timestamp")),
		       (long long)json_integer_value(json_object_get(h, "io_timeout")),
		       json_is_true(json_object_get(h, "marked")) ? "yes" : "no");
	}
}

static int dump_run(struct dctx *x, enum fl_out_format fmt, uint32_t want_sector)
{
	int rv = ctx_probe(x, want_sector, NULL, true, true);
	if (rv != 0)
		return rv;
	char space[FL_NAME_LEN + 1] = "";
	if (x->rec0_rv == 0)
		fl_name_get(x->rec0.space_name, space);
	size_t len = (size_t)x->hosts * x->sector;
	uint8_t *area = malloc(len);
	if (area == NULL)
		return -FL_ENOMEM;
	rv = fl_bdev_read_sync(x->dev, x->offset, area, (uint32_t)len);
	if (rv != 0) {
		fl_out_err(x->cmd->name, "read of the lockspace at %s failed: %s", x->where, fl_strerror(rv));
		free(area);
		return rv;
	}
	json_t *root = json_object(), *hosts = json_array();
	json_object_set_new(root, "lockspace", json_string(space));
	json_object_set_new(root, "path", json_string(x->path));
	json_object_set_new(root, "offset", json_integer((json_int_t)x->offset));
	json_object_set_new(root, "sector_size", json_integer(x->sector));
	json_object_set_new(root, "align_size", json_integer((json_int_t)x->align));
	for (uint32_t i = 0; i < x->hosts; i++) {
		bool list;
		json_t *e = dump_entry(i + 1, area + (size_t)i * x->sector, space, x->sector, &list);
		if (list)
			json_array_append_new(hosts, e);
	}
	json_object_set_new(root, "hosts", hosts);
	free(area);
	if (fmt == FL_OUT_JSON) {
		/* On a device laid out by `direct format`, the fencelock area too. */
		json_t *fa = x->offset == 0 ? fl_cli_fencelock_area_json(x->path) : NULL;
		if (fa != NULL)
			json_object_set_new(root, "fencelock", fa);
		return fl_out_json_print(root);
	}
	dump_text(x, root);
	json_decref(root);
	return 0;
}

static int parse_format(const struct dcmd *c, const struct dopts *o, enum fl_out_format *fmt)
{
	*fmt = FL_OUT_TEXT;
	if (o->o != NULL && fl_out_parse_format(o->o, fmt) != 0)
		return usage_error(c, "-o takes text or json");
	return CONTINUE;
}

int fl_direct_dump(int argc, char **argv)
{
	struct dopts o;
	struct dctx x;
	enum fl_out_format fmt;
	char path[FL_SPEC_PATH_MAX], err[512];
	uint64_t offset;
	int rv = parse_opts(&cmd_dump, argc, argv, &o);
	if (rv == CONTINUE)
		rv = parse_format(&cmd_dump, &o, &fmt);
	if (rv == CONTINUE && o.pos == NULL)
		rv = usage_error(&cmd_dump, "missing PATH[:OFFSET]");
	if (rv == CONTINUE && fl_spec_parse_path_offset(o.pos, path, sizeof(path), &offset, err, sizeof(err)) != 0)
		rv = usage_error(&cmd_dump, err);
	if (rv != CONTINUE)
		return rv;
	rv = ctx_init(&x, &cmd_dump, path, offset);
	if (rv == 0)
		rv = dump_run(&x, fmt, o.sector);
	ctx_free(&x);
	return fl_cli_exit_for(rv);
}

/* ---- read-leader ---- */

static const struct dcmd cmd_read_leader = {
	"read-leader", "s:o:Z:h", false, false,
	"usage: fencelock direct read-leader -s LOCKSPACE:HOST_ID:PATH:OFFSET [-o text|json] [-Z 512|4096]\n"
	"\n"
	"Prints host_id's delta-lease record (sanlock's read_leader fields, key value), or\n"
	"fails with exit 5 if it cannot be trusted. Reads only.\n",
	false,
};

int fl_direct_read_leader(int argc, char **argv)
{
	struct dopts o;
	struct fl_spec spec;
	struct dctx x;
	struct fl_leader l;
	enum fl_out_format fmt;
	int rv = parse_opts(&cmd_read_leader, argc, argv, &o);
	if (rv == CONTINUE)
		rv = parse_format(&cmd_read_leader, &o, &fmt);
	if (rv == CONTINUE)
		rv = parse_spec(&cmd_read_leader, &o, true, &spec);
	if (rv != CONTINUE)
		return rv;
	rv = ctx_init(&x, &cmd_read_leader, spec.path, spec.offset);
	if (rv == 0)
		rv = ctx_probe(&x, o.sector, spec.space, true, true);
	uint8_t *sec = rv == 0 ? malloc(x.sector) : NULL;
	if (rv == 0 && sec == NULL)
		rv = -FL_ENOMEM;
	if (rv == 0)
		rv = read_record(&x, spec.space, spec.host_id, sec, &l);
	if (rv == 0 && fmt == FL_OUT_JSON)
		rv = fl_out_json_print(fl_out_leader_json(&l));
	else if (rv == 0)
		fl_out_leader_text(stdout, &l);
	free(sec);
	ctx_free(&x);
	return fl_cli_exit_for(rv);
}

/* ---- acquire-id, renew-id, release-id ---- */

static const struct dcmd cmd_acquire_id = {
	"acquire-id", "s:e:o:Z:h", false, false,
	"usage: fencelock direct acquire-id -s LOCKSPACE:HOST_ID:PATH:OFFSET -e HOST_NAME [--io-timeout T]\n"
	"\n"
	"Acquires HOST_ID with sanlock's delta-lease algorithm and exits without renewing it\n"
	"(see hold-id). A free record, or one last written under the same HOST_NAME, is\n"
	"written at once; any other is watched first for 7T (fencelock record) or 8N + 60 s\n"
	"(sanlock record) and taken only if it did not change. After writing, waits 2T and\n"
	"re-reads. Exit 3 if another host kept writing the record.\n"
	"  -e, --host-name  this host's unique name (1..47 bytes)\n"
	"  --io-timeout T   io_timeout: N or Ns seconds, Nms milliseconds, 100ms..300s (default 1;\n"
	"                   -o N is a deprecated spelling)\n",
	true,
};

static const struct dcmd cmd_renew_id = {
	"renew-id", "s:Z:h", false, false,
	"usage: fencelock direct renew-id -s LOCKSPACE:HOST_ID:PATH:OFFSET\n"
	"\n"
	"Renews a held HOST_ID once: reads the lockspace and rewrites the record with a new\n"
	"timestamp (this host's monotonic seconds). Fails if the record is free or corrupt.\n",
	false,
};

static const struct dcmd cmd_release_id = {
	"release-id", "s:Z:h", false, false,
	"usage: fencelock direct release-id -s LOCKSPACE:HOST_ID:PATH:OFFSET\n"
	"\n"
	"Releases HOST_ID: rewrites its record with timestamp 0, as sanlock's release_id.\n"
	"A record that is already free is left alone (exit 0).\n",
	false,
};

static void report_busy(struct dctx *x, const struct fl_spec *spec)
{
	struct fl_leader l;
	char name[FL_NAME_LEN + 1] = "?";
	uint8_t *sec = malloc(x->sector);
	unsigned long long gen = 0;
	if (sec != NULL && fl_bdev_read_sync(x->dev, x->offset + (spec->host_id - 1) * x->sector, sec, x->sector) == 0 &&
	    ls_record_check(sec, spec->space, x->sector, &l) == 0) {
		fl_name_get(l.resource_name, name);
		gen = (unsigned long long)l.owner_generation;
	}
	free(sec);
	fl_out_err(x->cmd->name, "host_id %llu of lockspace %s at %s is busy: %s (generation %llu) kept renewing "
		   "it; choose another host_id, or stop that host", (unsigned long long)spec->host_id, spec->space,
		   x->where, name, gen);
}

static int acquire_prepare(struct dctx *x, const struct dcmd *c, int argc, char **argv, struct fl_spec *spec,
			   struct ls_lockspace **ls)
{
	struct dopts o;
	uint32_t t;
	int rv = parse_opts(c, argc, argv, &o);
	if (rv == CONTINUE)
		rv = parse_spec(c, &o, true, spec);
	if (rv == CONTINUE)
		rv = parse_io_timeout(c, &o, &t);
	if (rv == CONTINUE && (o.host_name == NULL || strlen(o.host_name) == 0 || strlen(o.host_name) >= FL_NAME_LEN))
		rv = usage_error(c, "-e HOST_NAME (1..47 bytes, unique per host) is required");
	if (rv != CONTINUE)
		return rv;
	rv = ctx_init(x, c, spec->path, spec->offset);
	if (rv == 0)
		rv = ctx_probe(x, o.sector, spec->space, false, false);
	if (rv == 0 && spec->host_id > x->hosts) {
		fl_out_err(c->name, "host_id %llu is beyond this lockspace's %u host ids",
			   (unsigned long long)spec->host_id, x->hosts);
		rv = -FL_EINVAL;
	}
	if (rv == 0)
		rv = ctx_lockspace(x, spec->space, spec->host_id, o.host_name, t, ls);
	if (rv == 0 && (rv = ls_acquire(*ls)) == 0)
		rv = ctx_wait(x, 600 * FL_US_PER_S);
	bool record_error = rv == -FL_ECHECKSUM || rv == -FL_EMAGIC || rv == -FL_EVERSION || rv == -FL_EFOREIGN ||
			    rv == -FL_ESECTOR;
	if (rv == -FL_EBUSY)
		report_busy(x, spec);
	else if (record_error && *ls != NULL)
		fl_out_err(c->name, "the record of host_id %llu at %s is not valid: %s; it is never treated as free, "
			   "and nothing was written", (unsigned long long)spec->host_id, x->where, ls_record_reason(rv));
	else if (rv < 0 && *ls != NULL)
		fl_out_err(c->name, "acquire of host_id %llu at %s failed: %s", (unsigned long long)spec->host_id,
			   x->where, fl_strerror(rv));
	return fl_cli_exit_for(rv);
}

int fl_direct_acquire_id(int argc, char **argv)
{
	struct dctx x = {0};
	struct fl_spec spec;
	struct ls_lockspace *ls = NULL;
	int rc = acquire_prepare(&x, &cmd_acquire_id, argc, argv, &spec, &ls);
	if (rc == FL_EXIT_OK && ls != NULL && ls_state(ls) == LS_HELD) {
		const struct fl_leader *l = ls_own_record(ls);
		printf("acquire-id done: host_id %llu of %s, generation %llu, timestamp %llu\n",
		       (unsigned long long)spec.host_id, spec.space, (unsigned long long)l->owner_generation,
		       (unsigned long long)l->timestamp);
	}
	ctx_free_with(&x, ls);
	return rc;
}

/* Reads and adopts our record for renew-id / release-id. *held: timestamp != 0. */
static int adopt_record(struct dctx *x, const struct fl_spec *spec, uint32_t want_sector, struct ls_lockspace **ls,
			bool *held)
{
	struct fl_leader l;
	int rv = ctx_probe(x, want_sector, spec->space, false, false);
	uint8_t *sec = rv == 0 ? malloc(x->sector) : NULL;
	if (rv == 0 && sec == NULL)
		rv = -FL_ENOMEM;
	if (rv == 0)
		rv = read_record(x, spec->space, spec->host_id, sec, &l);
	free(sec);
	if (rv != 0)
		return rv;
	*held = l.timestamp != 0;
	if (!*held)
		return 0;
	char name[FL_NAME_LEN + 1];
	fl_name_get(l.resource_name, name);
	uint32_t t = fl_leader_io_timeout_ms(&l);
	rv = ctx_lockspace(x, spec->space, spec->host_id, name, t != 0 ? t : LS_IO_TIMEOUT_DEFAULT_MS, ls);
	if (rv == 0)
		rv = ls_adopt(*ls, &l);
	return rv;
}

static int renew_release(const struct dcmd *c, int argc, char **argv, bool release)
{
	struct dopts o;
	struct fl_spec spec;
	struct dctx x = {0};
	struct ls_lockspace *ls = NULL;
	bool held = false;
	int rv = parse_opts(c, argc, argv, &o);
	if (rv == CONTINUE)
		rv = parse_spec(c, &o, true, &spec);
	if (rv != CONTINUE)
		return rv;
	rv = ctx_init(&x, c, spec.path, spec.offset);
	if (rv == 0)
		rv = adopt_record(&x, &spec, o.sector, &ls, &held);
	if (rv == 0 && !held && release) {
		printf("release-id: host_id %llu of %s is already free\n", (unsigned long long)spec.host_id, spec.space);
	} else if (rv == 0 && !held) {
		fl_out_err(c->name, "host_id %llu of %s at %s is free (timestamp 0): acquire it first",
			   (unsigned long long)spec.host_id, spec.space, x.where);
		rv = -FL_ESTALE;
	} else if (rv == 0) {
		rv = release ? ls_release(ls) : ls_renew_once(ls);
		if (rv == 0)
			rv = ctx_wait(&x, 60 * FL_US_PER_S);
		if (rv != 0)
			fl_out_err(c->name, "%s of host_id %llu at %s failed: %s", release ? "release" : "renewal",
				   (unsigned long long)spec.host_id, x.where, fl_strerror(rv));
		else
			printf("%s done: host_id %llu of %s, timestamp %llu\n", c->name, (unsigned long long)spec.host_id,
			       spec.space, (unsigned long long)ls_own_record(ls)->timestamp);
	}
	ctx_free_with(&x, ls);
	return fl_cli_exit_for(rv);
}

int fl_direct_renew_id(int argc, char **argv) { return renew_release(&cmd_renew_id, argc, argv, false); }
int fl_direct_release_id(int argc, char **argv) { return renew_release(&cmd_release_id, argc, argv, true); }

/* ---- hold-id ---- */

static const struct dcmd cmd_hold_id = {
	"hold-id", "s:e:o:Z:h", false, false,
	"usage: fencelock direct hold-id -s LOCKSPACE:HOST_ID:PATH:OFFSET -e HOST_NAME [--io-timeout T]\n"
	"\n"
	"Acquires HOST_ID as acquire-id does, then renews it every T until SIGTERM or\n"
	"SIGINT, and then releases it. Prints one line per acquisition, renewal failure,\n"
	"expiry or loss. Exit 1 if the lease expired (no good renewal for 4T) or was lost.\n",
	true,
};

static int hold_loop(struct dctx *x, struct ls_lockspace *ls)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	x->done = false;
	while (!stop_requested) {
		int rv = fl_eloop_run_once(x->el, 200 * FL_US_PER_MS);
		if (rv != 0)
			return rv;
		if (!x->done)
			continue;
		x->done = false;
		if (x->ev == LS_EV_RENEW_FAILED)
			printf("hold-id: renewal failed: %s; valid for %lld ms more\n", fl_strerror(x->result),
			       (long long)(ls_valid_until_us(ls) - FL_MIN(ls_valid_until_us(ls),
									   fl_now_us(fl_eloop_loop(x->el)))) / 1000);
		if (x->ev == LS_EV_EXPIRED || x->ev == LS_EV_LEASE_LOST) {
			printf("hold-id: lease %s; stopping\n", x->ev == LS_EV_EXPIRED ? "expired" : "lost to another host");
			fflush(stdout);
			return x->ev == LS_EV_EXPIRED ? -FL_ETIMEDOUT : -FL_ESTALE;
		}
		fflush(stdout);
	}
	x->want = LS_EV_RELEASED; /* a renewal in flight completes first */
	int rv = ls_release(ls);
	if (rv == 0)
		rv = ctx_wait(x, 10 * FL_US_PER_S);
	printf("hold-id: %s\n", rv == 0 ? "released" : "release failed");
	return rv;
}

int fl_direct_hold_id(int argc, char **argv)
{
	struct dctx x = {0};
	struct fl_spec spec;
	struct ls_lockspace *ls = NULL;
	int rc = acquire_prepare(&x, &cmd_hold_id, argc, argv, &spec, &ls);
	if (rc == FL_EXIT_OK && ls != NULL && ls_state(ls) == LS_HELD) {
		const struct fl_leader *l = ls_own_record(ls);
		printf("hold-id: holding host_id %llu of %s, generation %llu; renewing every %u s\n",
		       (unsigned long long)spec.host_id, spec.space, (unsigned long long)l->owner_generation, l->io_timeout);
		fflush(stdout);
		int rv = hold_loop(&x, ls);
		if (rv != 0)
			fl_out_err(cmd_hold_id.name, "host_id %llu at %s: %s", (unsigned long long)spec.host_id, x.where,
				   fl_strerror(rv));
		rc = rv == 0 ? FL_EXIT_OK : FL_EXIT_FAIL;
	}
	ctx_free_with(&x, ls);
	return rc;
}

/* ---- host-status ---- */

static const struct dcmd cmd_host_status = {
	"host-status", "s:o:w:Z:h", false, false,
	"usage: fencelock direct host-status -s LOCKSPACE:0:PATH:OFFSET [-w SECONDS] [-o text|json]\n"
	"\n"
	"Reads the lockspace every 500 ms for SECONDS (default 0: one read) and judges every\n"
	"host that ever acquired an id, on this host's clock only, by whether its timestamp\n"
	"changes: FREE (released), UNKNOWN (not watched long enough), LIVE, FAIL (no change\n"
	"for 4T; 8N for sanlock records), DEAD (no change for 6T; 8N + 60 s for sanlock\n"
	"records), ERROR (corrupt or foreign record, never free). Prints each change of state\n"
	"while watching, then a table (or one JSON object with hosts and transitions).\n",
	false,
};

struct hs {
	struct ls_host_obs obs[LS_MAX_HOSTS];
	enum ls_host_state st[LS_MAX_HOSTS];
	bool listed[LS_MAX_HOSTS];
	json_t *transitions;
	uint64_t t0_us;
};

static void hs_observe(struct dctx *x, struct hs *h, const uint8_t *area, const char *space, enum fl_out_format fmt,
		       bool first)
{
	FL_ASSERT(x->hosts <= LS_MAX_HOSTS);
	FL_ASSERT(area != NULL);
	uint64_t now = fl_now_us(fl_eloop_loop(x->el));
	uint32_t t = fl_leader_io_timeout_ms(&x->rec0);
	if (t == 0)
		t = LS_IO_TIMEOUT_DEFAULT_MS;
	for (uint32_t i = 0; i < x->hosts; i++) {
		const uint8_t *sec = area + (size_t)i * x->sector;
		struct ls_host_obs *o = &h->obs[i];
		ls_obs_update(o, sec, space, x->sector, now);
		if (o->error != 0 ? !fl_block_is_zero(sec, FL_LEADER_SIZE) : o->generation != 0)
			h->listed[i] = true;
		enum ls_host_state s = ls_obs_state_ms(o, now, t);
		if (!first && h->listed[i] && s != h->st[i]) {
			double at = (double)(now - h->t0_us) / 1e6;
			if (fmt == FL_OUT_TEXT) {
				printf("+%6.1fs host_id %u (%s): %s -> %s\n", at, i + 1, o->error ? "?" : o->name,
				       ls_host_state_name(h->st[i]), ls_host_state_name(s));
				fflush(stdout);
			}
			json_t *e = json_object();
			json_object_set_new(e, "t_s", json_real(at));
			json_object_set_new(e, "host_id", json_integer(i + 1));
			json_object_set_new(e, "from", json_string(ls_host_state_name(h->st[i])));
			json_object_set_new(e, "to", json_string(ls_host_state_name(s)));
			json_array_append_new(h->transitions, e);
		}
		h->st[i] = s;
	}
}

static json_t *hs_report(struct dctx *x, struct hs *h, const char *space, enum fl_out_format fmt)
{
	uint64_t now = fl_now_us(fl_eloop_loop(x->el));
	json_t *hosts = json_array();
	if (fmt == FL_OUT_TEXT)
		printf("%7s %-32s %10s %12s %-7s %s\n", "host_id", "name", "generation", "timestamp", "state",
		       "unchanged_for");
	for (uint32_t i = 0; i < x->hosts; i++) {
		const struct ls_host_obs *o = &h->obs[i];
		if (!h->listed[i])
			continue;
		double age = o->seen ? (double)(now - o->changed_us) / 1e6 : 0;
		json_t *e = json_object();
		json_object_set_new(e, "host_id", json_integer(i + 1));
		json_object_set_new(e, "state", json_string(ls_host_state_name(h->st[i])));
		if (o->error != 0) {
			json_object_set_new(e, "reason", json_string(ls_record_reason(o->error)));
			if (fmt == FL_OUT_TEXT)
				printf("%7u %-32s %10s %12s %-7s %s\n", i + 1, "-", "-", "-", "ERROR", ls_record_reason(o->error));
		} else {
			json_object_set_new(e, "name", json_string(o->name));
			json_object_set_new(e, "generation", json_integer((json_int_t)o->generation));
			json_object_set_new(e, "timestamp", json_integer((json_int_t)o->timestamp));
			json_object_set_new(e, "marked", json_boolean(o->marked));
			json_object_set_new(e, "unchanged_for_s", json_real(age));
			if (fmt == FL_OUT_TEXT)
				printf("%7u %-32s %10llu %12llu %-7s %.1fs\n", i + 1, o->name, (unsigned long long)o->generation,
				       (unsigned long long)o->timestamp, ls_host_state_name(h->st[i]), age);
		}
		json_array_append_new(hosts, e);
	}
	json_t *root = json_object();
	json_object_set_new(root, "lockspace", json_string(space));
	json_object_set_new(root, "watched_s", json_real((double)(now - h->t0_us) / 1e6));
	json_object_set_new(root, "hosts", hosts);
	json_object_set_new(root, "transitions", h->transitions);
	h->transitions = NULL;
	return root;
}

static int hs_run(struct dctx *x, const struct fl_spec *spec, const struct dopts *o, enum fl_out_format fmt)
{
	struct hs *h = calloc(1, sizeof(*h));
	size_t len = 0;
	uint8_t *area = NULL;
	int rv = h == NULL ? -FL_ENOMEM : ctx_probe(x, o->sector, spec->space, true, false);
	if (rv == 0) {
		len = (size_t)x->hosts * x->sector;
		area = malloc(len);
		h->transitions = json_array();
		rv = area == NULL ? -FL_ENOMEM : 0;
	}
	struct fl_loop *loop = fl_eloop_loop(x->el);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	uint64_t end = 0;
	for (bool first = true; rv == 0; first = false) {
		uint64_t start = fl_now_us(loop);
		if (first)
			end = (h->t0_us = start) + o->wait_s * FL_US_PER_S;
		rv = fl_bdev_read_sync(x->dev, x->offset, area, (uint32_t)len);
		if (rv != 0) {
			fl_out_err(x->cmd->name, "read of the lockspace at %s failed: %s", x->where, fl_strerror(rv));
			break;
		}
		hs_observe(x, h, area, spec->space, fmt, first);
		if (stop_requested || fl_now_us(loop) >= end)
			break;
		uint64_t next = FL_MIN(start + 500 * FL_US_PER_MS, end);
		while (fl_now_us(loop) < next && !stop_requested && rv == 0)
			rv = fl_eloop_run_once(x->el, next - fl_now_us(loop));
	}
	if (rv == 0) {
		json_t *root = hs_report(x, h, spec->space, fmt);
		if (fmt == FL_OUT_JSON)
			rv = fl_out_json_print(root);
		else
			json_decref(root);
	}
	if (h != NULL)
		json_decref(h->transitions);
	free(area);
	free(h);
	return rv;
}

int fl_direct_host_status(int argc, char **argv)
{
	struct dopts o;
	struct fl_spec spec;
	struct dctx x;
	enum fl_out_format fmt;
	int rv = parse_opts(&cmd_host_status, argc, argv, &o);
	if (rv == CONTINUE)
		rv = parse_format(&cmd_host_status, &o, &fmt);
	if (rv == CONTINUE)
		rv = parse_spec(&cmd_host_status, &o, false, &spec);
	if (rv != CONTINUE)
		return rv;
	rv = ctx_init(&x, &cmd_host_status, spec.path, spec.offset);
	if (rv == 0)
		rv = hs_run(&x, &spec, &o, fmt);
	ctx_free(&x);
	return fl_cli_exit_for(rv);
}
