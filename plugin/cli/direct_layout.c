/* `fencelock direct` commands on the fencelock device layout: format,
 * message (poison pill into a mailbox), mailbox (list, or --ack as owner),
 * and the fencelock part of `dump`. Each opens the device, reads the header
 * (lay_read_sync) and derives every offset from it. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "common/assert.h"
#include "disklock/layout.h"
#include "disklock/mailbox.h"
#include "disklock/paxos.h"
#include "fencelock/error.h"
#include "disklock/spec.h"
#include "disklock/timeouts.h"
#include "plugin/host/cfg_syntax.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/direct.h"

bool fl_cli_has_lease_spec(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-r") == 0 || strncmp(argv[i], "-r", 2) == 0)
			return true;
	return false;
}

static int parse_num(const char *what, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v = strtoull(text, &end, 10);
	if (text[0] == '\0' || text[0] == '-' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "fencelock: %s '%s' must be a number in %" PRIu64 "..%" PRIu64 "\n", what, text, min, max);
		return -FL_EINVAL;
	}
	*out = v;
	return 0;
}

static int open_layout(const char *path, struct fl_cli_dev *d, struct lay_layout *l)
{
	int rv = fl_cli_dev_open(path, false, 0, d);
	if (rv != 0)
		return rv;
	rv = lay_read_sync(d->bdev, l);
	if (rv != 0) {
		fprintf(stderr, "fencelock: %s has no valid fencelock header (%s); run 'fencelock direct format'\n",
			path, fl_strerror(rv));
		fl_cli_dev_close(d);
	}
	return rv;
}

static struct mb_geom geom_of(struct fl_cli_dev *d, const struct lay_layout *l)
{
	return (struct mb_geom){.bdev = d->bdev, .offset = l->mailbox_offset, .box_bytes = l->mailbox_bytes,
				.max_hosts = l->max_hosts};
}

/* T as the configuration writes it (cfg_parse_duration_ms(): N and Ns are
 * seconds, Nms milliseconds), within what a record can carry. */
static int parse_io_timeout(const char *text, uint32_t *out_ms)
{
	uint32_t ms;
	if (cfg_parse_duration_ms(text, LS_IO_TIMEOUT_MAX_MS, &ms) != 0 || !ls_io_timeout_ms_valid(ms)) {
		fprintf(stderr, "fencelock: --io-timeout '%s' must be a duration (N or Ns seconds, Nms milliseconds) of "
			"%ums..%us, whole seconds above %ums\n", text, LS_IO_TIMEOUT_MIN_MS, LS_IO_TIMEOUT_MAX_S,
			LS_IO_TIMEOUT_FRACTIONAL_MAX_MS);
		return -FL_EINVAL;
	}
	*out_ms = ms;
	return 0;
}

/* ---- format ------------------------------------------------------------------- */

static const char format_usage[] =
	"usage: fencelock direct format --device PATH --cluster NAME [--io-timeout T]\n"
	"                               [--max-hosts N] [--volume-slots N] [--force]\n"
	"  Lays out a whole cluster on PATH: lockspace at 0, fencelock header at 1 MiB,\n"
	"  mailboxes, witness lease, disk voter area, volume-lease slots (docs/ondisk.md).\n"
	"  --io-timeout T: N or Ns seconds, Nms milliseconds, 100ms..300s\n"
	"  (whole seconds above 65535ms); every host uses the device's T.\n"
	"  Defaults: --io-timeout 1s, --max-hosts 64, --volume-slots 128 (144 MiB with 512-byte\n"
	"  sectors). A device of another cluster, or one on which a host renews its\n"
	"  delta lease (watched for one renewal interval), is refused unless --force.\n";

/* A device in use by a live cluster is not formatted over without --force:
 * every host would lose its lease at once. Lists what it found. */
static int format_refuse_live(struct fl_cli_dev *d, const struct lay_layout *old, const char *dev)
{
	static char found[4096];
	uint64_t span = old->renew_us + (uint64_t)old->io_timeout_ms * FL_US_PER_MS;
	fprintf(stderr, "fencelock: %s holds cluster '%s'; watching its leases for %.1f s before formatting\n", dev,
		old->cluster, (double)span / 1e6);
	int n = fl_cli_live_scan(d, old, span, found, sizeof(found));
	if (n < 0) {
		fprintf(stderr, "fencelock: format of %s refused: cannot read its lockspace (%s); --force formats anyway\n",
			dev, fl_strerror(n));
		return n;
	}
	if (n == 0)
		return 0;
	fprintf(stderr, "fencelock: format of %s refused: cluster '%s' is live on it: %s. Stop fencelockd on every "
		"host first (formatting under them takes every lease away), or pass --force\n", dev, old->cluster, found);
	return -FL_EBUSY;
}

/* After a refusal for size: how many volume slots would fit on this device. */
static void format_too_small_hint(const struct lay_params *p, uint64_t size)
{
	struct lay_params q = *p;
	struct lay_layout l;
	char err[256];
	uint32_t fit = 0;
	for (uint32_t lo = 1, hi = p->volume_slots; lo <= hi;) {
		q.volume_slots = lo + (hi - lo) / 2;
		if (lay_compute(&q, &l, err, sizeof(err)) == 0 && l.total_bytes <= size) {
			fit = q.volume_slots;
			lo = q.volume_slots + 1;
		} else {
			hi = q.volume_slots - 1;
		}
	}
	if (fit > 0)
		fprintf(stderr, "fencelock: --volume-slots %u (at most %u VMs' volumes) fits this device; or give a larger "
			"device for --volume-slots %u\n", fit, fit, p->volume_slots);
	else
		fprintf(stderr, "fencelock: even --volume-slots 1 does not fit; give a larger device or fewer --max-hosts "
			"(now %u)\n", p->max_hosts);
}

int fl_cli_direct_format(int argc, char **argv)
{
	static const struct option lo[] = {{"device", required_argument, NULL, 'd'}, {"cluster", required_argument, NULL, 'c'},
					   {"max-hosts", required_argument, NULL, 'm'}, {"volume-slots", required_argument, NULL, 'v'},
					   {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
					   {"io-timeout", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0}};
	const char *dev = NULL;
	uint32_t io = LAY_DEFAULT_IO_TIMEOUT_MS;
	uint64_t hosts = LAY_DEFAULT_MAX_HOSTS, slots = LAY_DEFAULT_VOLUME_SLOTS;
	struct lay_params p = {0};
	bool force = false;
	int c, rv = 0;
	optind = 1;
	while (rv == 0 && (c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", format_usage); return FL_EXIT_OK;
		case 'd': dev = optarg; break;
		case 'c': p.cluster = optarg; break;
		case 'o': /* the old spelling: -o is the output format everywhere else */
			fprintf(stderr, "fencelock direct format: -o IO_TIMEOUT is deprecated, use --io-timeout\n");
			/* fall through */
		case 'i': rv = parse_io_timeout(optarg, &io); break;
		case 'm': rv = parse_num("--max-hosts", optarg, 1, MB_MAX_HOSTS, &hosts); break;
		case 'v': rv = parse_num("--volume-slots", optarg, 1, LAY_MAX_VOLUME_SLOTS, &slots); break;
		case 'f': force = true; break;
		default: fprintf(stderr, "%s", format_usage); return FL_EXIT_USAGE;
		}
	}
	if (rv != 0 || dev == NULL || p.cluster == NULL || optind < argc) {
		if (rv == 0)
			fprintf(stderr, "fencelock: format needs --device and --cluster\n%s", format_usage);
		return FL_EXIT_USAGE;
	}
	struct fl_cli_dev d;
	if ((rv = fl_cli_dev_open(dev, false, 0, &d)) != 0)
		return fl_cli_exit_for(rv);
	p.io_timeout_ms = io, p.max_hosts = (uint32_t)hosts, p.volume_slots = (uint32_t)slots;
	p.sector_size = d.bdev->sector_size;
	struct lay_layout l, old;
	char err[512] = "";
	bool have_old = lay_read_sync(d.bdev, &old) == 0;
	if (have_old && !force)
		rv = format_refuse_live(&d, &old, dev);
	if (rv == 0 && have_old && strcmp(old.cluster, p.cluster) == 0)
		memcpy(p.uuid, old.uuid, LAY_UUID_LEN); /* re-format of the same cluster keeps its uuid */
	else if (rv == 0 && getrandom(p.uuid, LAY_UUID_LEN, 0) != LAY_UUID_LEN)
		rv = -FL_EIO;
	if (rv == -FL_EBUSY) {
		fl_cli_dev_close(&d);
		return FL_EXIT_BUSY;
	}
	if (rv == 0)
		rv = lay_compute(&p, &l, err, sizeof(err));
	if (rv == 0)
		rv = lay_format_sync(d.bdev, &l, force, err, sizeof(err));
	if (rv != 0)
		fprintf(stderr, "fencelock: format of %s failed: %s\n", dev, err[0] ? err : fl_strerror(rv));
	if (rv == -FL_ETOOSMALL)
		format_too_small_hint(&p, d.bdev->size_bytes);
	else if (rv == 0)
		printf("format done: cluster %s, %u hosts, %u volume slots, %" PRIu64 " bytes used\n", l.cluster,
		       l.max_hosts, l.volume_slots, l.total_bytes);
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}

/* ---- message / mailbox ----------------------------------------------------------- */

static const char message_usage[] =
	"usage: fencelock direct message --device PATH --to HOST_ID --from HOST_ID fence|clear|test\n"
	"  Writes a request into HOST_ID's mailbox (the sender's own sector of it).\n";

int fl_cli_direct_message(int argc, char **argv)
{
	static const struct option lo[] = {{"device", required_argument, NULL, 'd'}, {"to", required_argument, NULL, 't'},
					   {"from", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *dev = NULL;
	uint64_t to = 0, from = 0;
	int c, rv = 0;
	optind = 1;
	while (rv == 0 && (c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", message_usage); return FL_EXIT_OK;
		case 'd': dev = optarg; break;
		case 't': rv = parse_num("--to", optarg, 1, MB_MAX_HOSTS, &to); break;
		case 'f': rv = parse_num("--from", optarg, 1, MB_MAX_HOSTS, &from); break;
		default: fprintf(stderr, "%s", message_usage); return FL_EXIT_USAGE;
		}
	}
	enum mb_kind kind = optind + 1 == argc ? mb_kind_parse(argv[optind]) : MB_NONE;
	if (rv != 0 || dev == NULL || to == 0 || from == 0 || kind == MB_NONE) {
		fprintf(stderr, "fencelock: message needs --device, --to, --from and one of fence|clear|test\n%s",
			message_usage);
		return FL_EXIT_USAGE;
	}
	struct fl_cli_dev d;
	struct lay_layout l;
	if ((rv = open_layout(dev, &d, &l)) != 0)
		return fl_cli_exit_for(rv);
	if (to > l.max_hosts || from > l.max_hosts) {
		fprintf(stderr, "fencelock: host_id above the device's max_hosts %u\n", l.max_hosts);
		rv = -FL_EINVAL;
	}
	struct mb_geom g = geom_of(&d, &l);
	uint64_t seq = 0;
	if (rv == 0)
		rv = mb_send_sync(&g, from, to, kind, fl_monotonic_us() / FL_US_PER_S, &seq);
	if (rv == 0)
		printf("message %s sent to host %" PRIu64 " from host %" PRIu64 " seq %" PRIu64 "\n", mb_kind_name(kind),
		       to, from, seq);
	else if (rv != -FL_EINVAL)
		fprintf(stderr, "fencelock: message to host %" PRIu64 " on %s failed: %s\n", to, dev, fl_strerror(rv));
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}

static const char mailbox_usage[] =
	"usage: fencelock direct mailbox --device PATH [-o text|json] [--ack HOST_ID]\n"
	"  Lists every mailbox that holds a record: status, requests, acks, pending.\n"
	"  --ack HOST_ID: act as that host's owner: acknowledge its pending requests.\n";

static json_t *box_json(const struct mb_box *b, uint32_t max_hosts)
{
	json_t *reqs = json_array();
	for (uint32_t s = 1; s <= max_hosts; s++) {
		if (b->req[s].seq == 0 && b->ack[s].seq == 0)
			continue;
		json_array_append_new(reqs, json_pack("{s:I,s:s,s:I,s:s,s:I,s:b}", "from", (json_int_t)s, "request",
						      mb_kind_name(b->req[s].kind), "seq", (json_int_t)b->req[s].seq, "ack",
						      mb_kind_name(b->ack[s].kind), "ack_seq", (json_int_t)b->ack[s].seq,
						      "pending", mb_pending(b, s)));
	}
	return json_pack("{s:I,s:s,s:I,s:o}", "host_id", (json_int_t)b->owner, "status",
			 b->status.kind ? mb_kind_name(b->status.kind) : "never-written", "pending",
			 (json_int_t)b->pending, "requests", reqs);
}

static void box_text(const struct mb_box *b, uint32_t max_hosts)
{
	printf("host %" PRIu64 " status %s pending %u\n", b->owner,
	       b->status.kind ? mb_kind_name(b->status.kind) : "never-written", b->pending);
	for (uint32_t s = 1; s <= max_hosts; s++)
		if (b->req[s].seq != 0 || b->ack[s].seq != 0)
			printf("  from %u: %s seq %" PRIu64 ", ack %s seq %" PRIu64 "%s\n", s, mb_kind_name(b->req[s].kind),
			       b->req[s].seq, mb_kind_name(b->ack[s].kind), b->ack[s].seq,
			       mb_pending(b, s) ? " PENDING" : "");
}

static int list_boxes(struct fl_cli_dev *d, const struct lay_layout *l, bool json, json_t *into)
{
	struct mb_geom g = geom_of(d, l);
	struct mb_box *b = malloc(sizeof(*b));
	json_t *arr = json_array();
	int rv = b ? 0 : -FL_ENOMEM;
	for (uint64_t h = 1; rv == 0 && h <= l->max_hosts; h++) {
		rv = mb_read_sync(&g, h, b);
		bool used = b->status.kind != 0;
		for (uint32_t s = 1; s <= l->max_hosts && !used; s++)
			used = b->req[s].seq != 0;
		if (rv != 0 || !used)
			continue;
		if (json)
			json_array_append_new(arr, box_json(b, l->max_hosts));
		else
			box_text(b, l->max_hosts);
	}
	if (rv == 0 && into != NULL) {
		json_object_set_new(into, "mailboxes", arr);
	} else if (rv == 0 && json) {
		char *s = json_dumps(json_pack("{s:i,s:s,s:o}", "schema_version", FL_CLI_SCHEMA_VERSION, "cluster",
						    l->cluster, "mailboxes", arr),
				      JSON_COMPACT);
		printf("%s\n", s);
		free(s);
	} else {
		json_decref(arr);
	}
	free(b);
	return rv;
}

int fl_cli_direct_mailbox(int argc, char **argv)
{
	static const struct option lo[] = {{"device", required_argument, NULL, 'd'}, {"ack", required_argument, NULL, 'a'},
					   {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *dev = NULL;
	uint64_t ack = 0;
	bool json = false;
	int c, rv = 0;
	optind = 1;
	while (rv == 0 && (c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", mailbox_usage); return FL_EXIT_OK;
		case 'd': dev = optarg; break;
		case 'a': rv = parse_num("--ack", optarg, 1, MB_MAX_HOSTS, &ack); break;
		case 'o': json = strcmp(optarg, "json") == 0; rv = json || strcmp(optarg, "text") == 0 ? 0 : -FL_EINVAL; break;
		default: fprintf(stderr, "%s", mailbox_usage); return FL_EXIT_USAGE;
		}
	}
	if (rv != 0 || dev == NULL || optind < argc) {
		fprintf(stderr, "fencelock: mailbox needs --device PATH\n%s", mailbox_usage);
		return FL_EXIT_USAGE;
	}
	struct fl_cli_dev d;
	struct lay_layout l;
	if ((rv = open_layout(dev, &d, &l)) != 0)
		return fl_cli_exit_for(rv);
	if (ack != 0) {
		struct mb_geom g = geom_of(&d, &l);
		struct mb_box *b = malloc(sizeof(*b));
		bool fence = false;
		rv = b ? mb_process_sync(&g, ack, fl_monotonic_us() / FL_US_PER_S, b, &fence) : -FL_ENOMEM;
		free(b);
		if (rv == 0)
			printf("host %" PRIu64 " acknowledged its mailbox: %s\n", ack, fence ? "fenced" : "running");
	}
	if (rv == 0)
		rv = list_boxes(&d, &l, json, NULL);
	if (rv != 0)
		fprintf(stderr, "fencelock: mailbox on %s failed: %s\n", dev, fl_strerror(rv));
	fl_cli_dev_close(&d);
	return fl_cli_exit_for(rv);
}

/* ---- dump of the fencelock area ----------------------------------------------------- */

static void dump_lease(struct fl_cli_dev *d, uint64_t offset, const char *what)
{
	struct vl_area a = {.bdev = d->bdev, .offset = offset};
	struct vl_op op;
	if (vl_inquire_start(&op, &a, NULL, NULL) != 0)
		return;
	int rv = vl_wait_sync(&op, d->bdev);
	const struct fl_leader *l = &op.res.leader;
	if (rv != 0)
		printf("%-10" PRIu64 " %-12s error: %s\n", offset, what, fl_strerror(rv));
	else if (op.res.held || op.res.shared_count > 0)
		printf("%-10" PRIu64 " %-12s owner %" PRIu64 " gen %" PRIu64 " lver %" PRIu64 " ts %" PRIu64
		       " shared %u\n", offset, what, l->owner_id, l->owner_generation, l->lver, l->timestamp,
		       op.res.shared_count);
	vl_op_free(&op);
}

/* A lease in use as JSON, or NULL when it is free (or unreadable: listed with its error). */
static json_t *lease_json(struct fl_cli_dev *d, uint64_t offset, const char *what)
{
	struct vl_area a = {.bdev = d->bdev, .offset = offset};
	struct vl_op op;
	if (vl_inquire_start(&op, &a, NULL, NULL) != 0)
		return NULL;
	int rv = vl_wait_sync(&op, d->bdev);
	const struct fl_leader *l = &op.res.leader;
	json_t *j = NULL;
	if (rv != 0) {
		j = json_pack("{s:s,s:I,s:s}", "name", what, "offset", (json_int_t)offset, "error", fl_strerror(rv));
	} else if (op.res.held || op.res.shared_count > 0) {
		json_t *sh = json_array();
		for (uint32_t i = 0; i < FL_MIN(op.res.shared_count, (uint32_t)VL_MAX_SHARED); i++)
			json_array_append_new(sh, json_pack("{s:I,s:I}", "host_id", (json_int_t)op.res.shared_host[i],
							    "generation", (json_int_t)op.res.shared_gen[i]));
		j = json_pack("{s:s,s:I,s:b,s:I,s:I,s:I,s:I,s:o}", "name", what, "offset", (json_int_t)offset, "held",
			      op.res.held, "owner_id", (json_int_t)l->owner_id, "owner_generation",
			      (json_int_t)l->owner_generation, "lver", (json_int_t)l->lver, "timestamp",
			      (json_int_t)l->timestamp, "shared_holders", sh);
	}
	vl_op_free(&op);
	return j;
}

json_t *fl_cli_fencelock_area_json(const char *path)
{
	struct fl_cli_dev d;
	struct lay_layout l;
	if (fl_cli_dev_open(path, false, 0, &d) != 0)
		return NULL;
	if (lay_read_sync(d.bdev, &l) != 0) {
		fl_cli_dev_close(&d);
		return NULL;
	}
	char uuid[2 * LAY_UUID_LEN + 1];
	for (int i = 0; i < LAY_UUID_LEN; i++)
		snprintf(uuid + 2 * i, 3, "%02x", l.uuid[i]);
	json_t *root = json_pack(
		"{s:s,s:s,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "cluster", l.cluster,
		"uuid", uuid, "io_timeout_s", (json_int_t)ls_io_timeout_record_s(l.io_timeout_ms), "io_timeout_ms",
		(json_int_t)l.io_timeout_ms, "max_hosts", (json_int_t)l.max_hosts,
		"volume_slots", (json_int_t)l.volume_slots, "timeouts_us", "renew", (json_int_t)l.renew_us, "fail",
		(json_int_t)l.fail_us, "kill", (json_int_t)l.kill_us, "margin", (json_int_t)l.margin_us, "dead",
		(json_int_t)l.dead_us, "offsets", "header", (json_int_t)l.header_offset, "mailboxes",
		(json_int_t)l.mailbox_offset, "mailbox_bytes", (json_int_t)l.mailbox_bytes, "witness",
		(json_int_t)l.witness_offset, "voter", (json_int_t)l.voter_offset, "slots", (json_int_t)l.slots_offset,
		"total_bytes", (json_int_t)l.total_bytes);
	json_t *leases = json_array();
	json_t *w = lease_json(&d, l.witness_offset, LAY_WITNESS_NAME);
	if (w != NULL)
		json_array_append_new(leases, w);
	for (uint32_t i = 0; i < l.volume_slots; i++) {
		char name[FL_NAME_LEN + 1];
		lay_slot_name(i, name);
		json_t *e = lease_json(&d, lay_slot_offset(&l, i), name);
		if (e != NULL)
			json_array_append_new(leases, e);
	}
	json_object_set_new(root, "leases_in_use", leases);
	if (list_boxes(&d, &l, true, root) != 0)
		json_object_set_new(root, "mailboxes", json_string("unreadable"));
	fl_cli_dev_close(&d);
	return root;
}

int fl_cli_dump_fencelock_text(const char *path)
{
	struct fl_cli_dev d;
	struct lay_layout l;
	if (fl_cli_dev_open(path, false, 0, &d) != 0)
		return 0;
	if (lay_read_sync(d.bdev, &l) != 0) {
		fl_cli_dev_close(&d);
		return 0;
	}
	printf("fencelock area: cluster %s io_timeout %u ms max_hosts %u volume_slots %u total %" PRIu64 "\n",
	       l.cluster, l.io_timeout_ms, l.max_hosts, l.volume_slots, l.total_bytes);
	printf("  header %" PRIu64 " mailboxes %" PRIu64 " witness %" PRIu64 " voter %" PRIu64 " slots %" PRIu64 "\n",
	       l.header_offset, l.mailbox_offset, l.witness_offset, l.voter_offset, l.slots_offset);
	int rv = list_boxes(&d, &l, false, NULL);
	dump_lease(&d, l.witness_offset, "witness");
	for (uint32_t i = 0; i < l.volume_slots; i++) {
		char name[FL_NAME_LEN + 1];
		lay_slot_name(i, name);
		dump_lease(&d, lay_slot_offset(&l, i), name);
	}
	fl_cli_dev_close(&d);
	return rv;
}

/* ---- dispatch of the names shared with the lockspace commands --------------------------- */

int fl_cli_direct_init_any(int argc, char **argv)
{
	return fl_cli_has_lease_spec(argc, argv) ? fl_cli_direct_init_r(argc, argv) : fl_direct_init(argc, argv);
}

int fl_cli_direct_read_leader_any(int argc, char **argv)
{
	return fl_cli_has_lease_spec(argc, argv) ? fl_cli_direct_read_leader_r(argc, argv)
						 : fl_direct_read_leader(argc, argv);
}

int fl_cli_direct_dump_any(int argc, char **argv)
{
	int rc = fl_direct_dump(argc, argv);
	const char *target = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			json = strcmp(argv[++i], "json") == 0;
		else if (argv[i][0] != '-' && target == NULL)
			target = argv[i];
	}
	if (rc != FL_EXIT_OK || json || target == NULL)
		return rc;
	char path[FL_SPEC_PATH_MAX], err[256];
	uint64_t off = 0;
	if (fl_spec_parse_path_offset(target, path, sizeof(path), &off, err, sizeof(err)) != 0 || off != 0)
		return rc;
	return fl_cli_exit_for(fl_cli_dump_fencelock_text(path));
}
