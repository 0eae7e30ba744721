/* The quorum view and the operator's commands of the fencelock CLI:
 *
 *   fencelock quorum [-o text|json] [--timeout-ms MS]
 *   fencelock quarantine list [-o text|json]
 *   fencelock quarantine clear HOST|VM
 *   fencelock vm show UID [-o text|json]
 *   fencelock vm move UID --to HOST [--no-wait] [--wait-s S]
 *   fencelock host fence|unfence|drain|undrain HOST [--no-wait] [--wait-s S]
 *   fencelock leader transfer [--to HOST]
 *
 * HOST is a host id or a host name. The changes run on the leader (asked on
 * another host, its daemon forwards them there), which records the caller's
 * uid. After the daemon's answer (the change is committed), fence,
 * drain and move follow what the cluster does until it is done (a fenced
 * host answered FENCED, the drained host's VMs run elsewhere, the moved VM
 * runs on its new host), polling the daemon's views, unless --no-wait. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/assert.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/client.h"

#define OPS2_WAIT_DEFAULT_S 120u

struct ops2_args {
	bool json;
	bool nagios; /* quorum: a failure is UNKNOWN (3) */
	bool wait;
	uint32_t wait_s;
	uint32_t timeout_ms;
	const char *to;
	int first; /* argv index of the first operand */
};

static void ops2_usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock quorum [-o text|json] [--timeout-ms MS]\n"
		"       fencelock quarantine list [-o text|json]\n"
		"       fencelock quarantine clear HOST|VM\n"
		"       fencelock vm show UID [-o text|json]\n"
		"       fencelock vm move UID --to HOST [--no-wait] [--wait-s S]\n"
		"       fencelock host fence|unfence|drain|undrain HOST [--no-wait] [--wait-s S]\n"
		"       fencelock leader transfer [--to HOST]\n"
		"\n"
		"  quorum            votes (expected, total, threshold), voters and the disk voter's host,\n"
		"                    learners with their lag, per-peer last heard and link, peers never seen;\n"
		"                    Nagios exit codes: 0 OK, 1 WARNING (a vote missing, a learner, a peer\n"
		"                    never seen), 2 CRITICAL (not quorate), 3 UNKNOWN (no answer)\n"
		"  quarantine list   hosts quarantined (flapping), drained or fenced, and FAILED VMs\n"
		"  quarantine clear  lifts a host's quarantine, or clears a FAILED VM (as 'vm clear')\n"
		"  vm show           a VM's spec, volumes (identity, ro), state, host, history\n"
		"  vm move           hands the VM over to HOST: stopped here, started there, never both\n"
		"  host fence        fences HOST through its mailbox: its VMs stop and move elsewhere;\n"
		"                    it stays fenced until 'host unfence'\n"
		"  host drain        moves every VM of HOST elsewhere (restart=never ones stay), then\n"
		"                    nothing is placed there until 'host undrain'\n"
		"  leader transfer   hands leadership to HOST (default: the best other voter)\n"
		"\n"
		"  -o, --output FORMAT  text (default) or json\n"
		"  --to HOST            target host (id or name)\n"
		"  --no-wait            return once the change is committed\n"
		"  --wait-s S           follow the change at most S seconds (default %u)\n"
		"  --timeout-ms MS      give up a request after MS milliseconds (default 10000)\n"
		"\n"
		"Changes run on the leader (another host forwards them to it). They need root,\n"
		"the daemon's user or the control group; each is logged with the caller's uid.\n"
		"\n%s",
		OPS2_WAIT_DEFAULT_S, fl_cli_exit_codes_text);
}

static int ops2_parse(int argc, char **argv, struct ops2_args *a)
{
	static const struct option longs[] = {
		{"output", required_argument, NULL, 'o'},
		{"to", required_argument, NULL, 'T'},
		{"no-wait", no_argument, NULL, 'n'},
		{"wait-s", required_argument, NULL, 'w'},
		{"timeout-ms", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*a = (struct ops2_args){.wait = true, .wait_s = OPS2_WAIT_DEFAULT_S, .timeout_ms = 10000};
	int c;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return -1;
			a->json = strcmp(optarg, "json") == 0;
			break;
		case 'T': a->to = optarg; break;
		case 'n': a->wait = false; break;
		case 'w': a->wait_s = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm': a->timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'h': ops2_usage(stdout); exit(FL_EXIT_OK);
		default: return -1;
		}
	}
	a->first = optind;
	return a->timeout_ms > 0 && a->wait_s > 0 ? 0 : -1;
}

static bool g_unreachable; /* the last failure was the connection's */

/* The exit code for rv, a failure of ops2_call(). */
static int ops2_exit(int rv)
{
	return g_unreachable ? fl_cli_exit_connect(rv) : fl_cli_exit_for(rv);
}

/* A failure: the sentence on stderr, or under -o json an object on stdout
 * {"schema_version", "ok": false, "error", "exit"}. */
static void ops2_error(const struct ops2_args *a, int rv, const char *what, const char *msg)
{
	if (!a->json) {
		fprintf(stderr, "fencelock %s: %s\n", what, msg);
		return;
	}
	json_t *o = json_pack("{s:i,s:b,s:s,s:i}", "schema_version", FL_CLI_SCHEMA_VERSION, "ok", 0, "error", msg, "exit",
			      a->nagios ? FL_NAGIOS_UNKNOWN : ops2_exit(rv));
	if (o != NULL)
		json_dumpf(o, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(o);
}

/* One request to the local daemon; reports the daemon's sentence on failure. */
static int ops2_call(const struct ops2_args *a, const struct ctl_req *req, json_t **reply, const char *what)
{
	struct fl_client *c;
	char msg[512];
	*reply = NULL;
	int rv = fl_connect(NULL, &c);
	g_unreachable = rv != 0;
	if (rv != 0) {
		const char *path = getenv(FL_SOCKET_ENV);
		snprintf(msg, sizeof(msg), "fencelockd unreachable at %s: %s; is it running?",
			 path != NULL ? path : FL_DEFAULT_SOCKET, fl_strerror(rv));
		ops2_error(a, rv, what, msg);
		return rv;
	}
	fl_client_set_timeout_ms(c, a->timeout_ms);
	if (req->op == CTL_OP_VMS || req->op == CTL_OP_LEASES)
		rv = fl_client_call_all(c, req, reply); /* every page */
	else
		rv = fl_client_call(c, req, reply);
	if (rv != 0) {
		ops2_error(a, rv, what, fl_client_error(c));
		json_decref(*reply);
		*reply = NULL;
	}
	fl_disconnect(c);
	return rv;
}

static void print_json(json_t *r)
{
	json_t *copy = json_copy(r);
	json_object_del(copy, "v");
	json_object_del(copy, "ok");
	if (json_object_get(copy, "schema_version") == NULL)
		json_object_set_new(copy, "schema_version", json_integer(FL_CLI_SCHEMA_VERSION));
	json_dumpf(copy, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(copy);
}

/* ---- host names ---- */

/* HOST as an id, or looked up by name in the daemon's host table. */
static int resolve_host(const struct ops2_args *a, const char *arg, uint32_t *id)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);
	if (arg[0] >= '0' && arg[0] <= '9' && *end == '\0') {
		if (v < 1 || v > 2000)
			return -FL_EINVAL;
		*id = (uint32_t)v;
		return 0;
	}
	json_t *r, *h;
	size_t i;
	int rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_HOSTS}, &r, "hosts");
	if (rv != 0)
		return rv;
	rv = -FL_ENOENT;
	json_array_foreach(json_object_get(r, "hosts"), i, h)
	{
		const char *name = json_string_value(json_object_get(h, "name"));
		if (name != NULL && strcmp(name, arg) == 0) {
			*id = (uint32_t)json_integer_value(json_object_get(h, "id"));
			rv = 0;
		}
	}
	json_decref(r);
	if (rv != 0)
		fprintf(stderr, "fencelock: no host named '%s' (see 'fencelock hosts')\n", arg);
	return rv;
}

/* ---- text tables ---- */

#define T_COLS 10
#define T_CELL 64

struct col {
	const char *header, *key;
};

static void cell(json_t *v, char *buf, size_t len)
{
	if (v == NULL || json_is_null(v))
		snprintf(buf, len, "-");
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.2f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, len, "?");
}

static void table(const struct col *cols, size_t n, json_t *rows)
{
	size_t w[T_COLS], i, c;
	char b[T_CELL];
	json_t *row;
	FL_ASSERT(n <= T_COLS);
	for (c = 0; c < n; c++)
		w[c] = strlen(cols[c].header);
	json_array_foreach(rows, i, row) for (c = 0; c < n; c++)
	{
		cell(json_object_get(row, cols[c].key), b, sizeof(b));
		w[c] = FL_MAX(w[c], strlen(b));
	}
	for (c = 0; c < n; c++)
		printf("%-*s%s", c + 1 < n ? (int)w[c] : 0, cols[c].header, c + 1 < n ? "  " : "\n");
	json_array_foreach(rows, i, row) for (c = 0; c < n; c++)
	{
		cell(json_object_get(row, cols[c].key), b, sizeof(b));
		printf("%-*s%s", c + 1 < n ? (int)w[c] : 0, b, c + 1 < n ? "  " : "\n");
	}
}

/* ---- quorum ---- */

/* Nagios state of a quorum reply, with its one-line summary. */
static int quorum_nagios(json_t *q, char *sum, size_t len)
{
	json_int_t exp = json_integer_value(json_object_get(q, "expected_votes"));
	json_int_t tot = json_integer_value(json_object_get(q, "total_votes"));
	json_int_t thr = json_integer_value(json_object_get(q, "threshold"));
	size_t learners = json_array_size(json_object_get(q, "learners"));
	size_t never = json_array_size(json_object_get(q, "never_seen"));
	const char *member = json_string_value(json_object_get(q, "member"));
	const char *why = json_string_value(json_object_get(q, "member_reason"));
	if (member != NULL && (strcmp(member, "voter") != 0 || why != NULL)) {
		snprintf(sum, len, "%s: %s", member, why != NULL ? why : "this host does not vote");
		return strcmp(member, "removed") == 0 ? FL_NAGIOS_CRITICAL : FL_NAGIOS_WARNING;
	}
	if (!json_is_boolean(json_object_get(q, "quorate")) || exp <= 0) {
		snprintf(sum, len, "quorum reply lacks its votes; daemon and CLI versions differ?");
		return FL_NAGIOS_UNKNOWN;
	}
	int code = !json_is_true(json_object_get(q, "quorate")) ? FL_NAGIOS_CRITICAL
		   : tot < exp || learners > 0 || never > 0	? FL_NAGIOS_WARNING
								: FL_NAGIOS_OK;
	snprintf(sum, len, "%s, %lld/%lld votes (threshold %lld)%s%s", code == FL_NAGIOS_CRITICAL ? "not quorate" : "quorate",
		 (long long)tot, (long long)exp, (long long)thr, learners ? ", learners catching up" : "",
		 never ? ", configured peers never seen" : "");
	return code;
}

static void quorum_text(json_t *q, int code, const char *sum)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	static const struct col voters[] = {{"ID", "id"}, {"KIND", "kind"}, {"NAME", "name"}, {"VOTES", "votes"}, {"PRESENT", "present"}, {"STATE", "state"}, {"SERVED BY", "served_by"}, {"MATCH", "match_index"}};
	static const struct col learners[] = {{"ID", "id"}, {"NAME", "name"}, {"MATCH", "match_index"}, {"LAG", "lag"}};
	static const struct col peers[] = {{"ID", "id"}, {"NAME", "name"}, {"ADDRESS", "addr"}, {"STATE", "state"}, {"LAST HEARD (ms)", "last_heard_ms"}, {"LINK", "link"}, {"RTT (ms)", "rtt_ms"}, {"QUEUED", "queued"}, {"VERSION", "version"}, {"PROTO", "protocol"}};
	static const struct col never[] = {{"ID", "id"}, {"ADDRESS", "addr"}};
	char b[T_CELL];
	FL_ASSERT(code >= FL_NAGIOS_OK);
	FL_ASSERT(code <= FL_NAGIOS_UNKNOWN);
	printf("FENCELOCK %s - %s | votes=%lld expected=%lld threshold=%lld learners=%zu\n\n", names[code], sum,
	       (long long)json_integer_value(json_object_get(q, "total_votes")),
	       (long long)json_integer_value(json_object_get(q, "expected_votes")),
	       (long long)json_integer_value(json_object_get(q, "threshold")),
	       json_array_size(json_object_get(q, "learners")));
	static const char *const kv[][2] = {{"Cluster:", "cluster"}, {"This host:", "host_id"}, {"View:", "view"}, {"Quorate:", "quorate"}, {"Leader:", "leader"}, {"Term:", "term"}, {"Commit index:", "commit"}, {"Expected votes:", "expected_votes"}, {"Total votes:", "total_votes"}, {"Threshold:", "threshold"}, {"Disk voter served by:", "witness_holder"}};
	for (size_t i = 0; i < FL_ARRAY_SIZE(kv); i++) {
		cell(json_object_get(q, kv[i][1]), b, sizeof(b));
		printf("%-22s %s\n", kv[i][0], b);
	}
	printf("\nVoters:\n");
	table(voters, FL_ARRAY_SIZE(voters), json_object_get(q, "voters"));
	printf("\nLearners (%zu):\n", json_array_size(json_object_get(q, "learners")));
	if (json_array_size(json_object_get(q, "learners")) > 0)
		table(learners, FL_ARRAY_SIZE(learners), json_object_get(q, "learners"));
	printf("\nPeers:\n");
	table(peers, FL_ARRAY_SIZE(peers), json_object_get(q, "peers"));
	printf("\nConfigured peers never seen (%zu):\n", json_array_size(json_object_get(q, "never_seen")));
	if (json_array_size(json_object_get(q, "never_seen")) > 0)
		table(never, FL_ARRAY_SIZE(never), json_object_get(q, "never_seen"));
}

static int cmd_quorum(const struct ops2_args *a)
{
	json_t *q;
	char sum[256];
	int rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_QUORUM}, &q, "quorum");
	if (rv != 0 && !a->json)
		printf("FENCELOCK UNKNOWN - no usable answer from fencelockd: %s\n", fl_strerror(rv));
	if (rv != 0)
		return FL_NAGIOS_UNKNOWN;
	int code = quorum_nagios(q, sum, sizeof(sum));
	if (a->json)
		print_json(q);
	else
		quorum_text(q, code, sum);
	json_decref(q);
	return code;
}

/* ---- quarantine ---- */

static int cmd_quarantine_list(const struct ops2_args *a)
{
	json_t *hr, *vr, *h, *vm;
	size_t i;
	int rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_HOSTS}, &hr, "quarantine list");
	if (rv != 0)
		return ops2_exit(rv);
	if ((rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_VMS}, &vr, "quarantine list")) != 0) {
		json_decref(hr);
		return ops2_exit(rv);
	}
	json_t *out = json_pack("{s:i,s:[],s:[]}", "schema_version", FL_CLI_SCHEMA_VERSION, "hosts", "vms");
	json_array_foreach(json_object_get(hr, "hosts"), i, h)
	{
		const char *fence = json_string_value(json_object_get(h, "fence"));
		if (json_is_true(json_object_get(h, "quarantined")) || (fence != NULL && strcmp(fence, "none") != 0))
			json_array_append(json_object_get(out, "hosts"), h);
	}
	json_array_foreach(json_object_get(vr, "vms"), i, vm)
	{
		const char *st = json_string_value(json_object_get(vm, "state"));
		if ((st != NULL && strcmp(st, "FAILED") == 0) || json_array_size(json_object_get(vm, "failed_on")) > 0)
			json_array_append(json_object_get(out, "vms"), vm);
	}
	static const struct col hcols[] = {{"ID", "id"}, {"NAME", "name"}, {"STATE", "state"}, {"MARKS", "flags"}};
	static const struct col vcols[] = {{"UID", "uid"}, {"STATE", "state"}, {"HOST", "host"}};
	if (a->json) {
		print_json(out);
	} else {
		printf("Hosts quarantined, drained or fenced (%zu):\n", json_array_size(json_object_get(out, "hosts")));
		table(hcols, FL_ARRAY_SIZE(hcols), json_object_get(out, "hosts"));
		printf("\nVMs FAILED or with failed starts (%zu):\n", json_array_size(json_object_get(out, "vms")));
		table(vcols, FL_ARRAY_SIZE(vcols), json_object_get(out, "vms"));
	}
	json_decref(out);
	json_decref(hr);
	json_decref(vr);
	return FL_EXIT_OK;
}

/* HOST (an id, or a name the daemon knows) lifts a quarantine; anything
 * else is a VM uid whose FAILED mark is cleared. */
static int cmd_quarantine_clear(const struct ops2_args *a, const char *what)
{
	struct ctl_req req = {.op = CTL_OP_QUARANTINE_CLEAR};
	bool numeric = what[0] >= '0' && what[0] <= '9' && strspn(what, "0123456789") == strlen(what);
	json_t *r = NULL, *h;
	size_t i;
	if (!numeric && ops2_call(a, &(struct ctl_req){.op = CTL_OP_HOSTS}, &r, "quarantine clear") == 0)
		json_array_foreach(json_object_get(r, "hosts"), i, h)
		{
			const char *name = json_string_value(json_object_get(h, "name"));
			if (name != NULL && strcmp(name, what) == 0)
				req.host_id = (uint32_t)json_integer_value(json_object_get(h, "id"));
		}
	json_decref(r);
	if (numeric && resolve_host(a, what, &req.host_id) != 0)
		return FL_EXIT_USAGE;
	if (req.host_id == 0) {
		req = (struct ctl_req){.op = CTL_OP_VM_CLEAR, .uid = what};
		if (!ctl_uid_valid(what)) {
			fprintf(stderr, "fencelock quarantine clear: '%s' is neither a host nor a VM uid\n", what);
			return FL_EXIT_USAGE;
		}
	}
	int rv = ops2_call(a, &req, &r, "quarantine clear");
	if (rv == 0 && req.op == CTL_OP_VM_CLEAR)
		printf("VM %s cleared: it will be placed again\n", what);
	else if (rv == 0)
		printf("host %u: quarantine lifted\n", req.host_id);
	json_decref(r);
	return ops2_exit(rv);
}

/* ---- vm show ---- */

static int cmd_vm_show(const struct ops2_args *a, const char *uid)
{
	json_t *r;
	if (!ctl_uid_valid(uid)) {
		fprintf(stderr, "fencelock vm show: '%s' is not a VM uid\n", uid);
		return FL_EXIT_USAGE;
	}
	int rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_VM_SHOW, .uid = uid}, &r, "vm show");
	if (rv != 0)
		return ops2_exit(rv);
	if (a->json) {
		print_json(r);
		json_decref(r);
		return FL_EXIT_OK;
	}
	static const char *const kv[][2] = {{"UID:", "uid"}, {"State:", "state"}, {"Host:", "host"}, {"Host name:", "host_name"}, {"Runs on:", "run_host"}, {"Incarnation:", "incarnation"}, {"Restart:", "restart"}, {"Owner uid:", "owner_uid"}, {"Owner gid:", "owner_gid"}, {"P (ms):", "partition_tolerance_ms"}, {"Paths of host:", "paths_of_host"}, {"History events:", "history_events"}, {"Last event:", "last_event"}};
	static const struct col vcols[] = {{"PATH", "path"}, {"IDENTITY", "id"}, {"RO", "ro"}, {"SLOT", "slot"}};
	char b[T_CELL];
	for (size_t i = 0; i < FL_ARRAY_SIZE(kv); i++) {
		cell(json_object_get(r, kv[i][1]), b, sizeof(b));
		printf("%-17s %s\n", kv[i][0], b);
	}
	char *fo = json_dumps(json_object_get(r, "failed_on"), JSON_COMPACT | JSON_ENCODE_ANY);
	printf("%-17s %s\n\nVolumes:\n", "Failed on hosts:", fo != NULL ? fo : "[]");
	free(fo);
	table(vcols, FL_ARRAY_SIZE(vcols), json_object_get(r, "volumes"));
	char *spec = json_dumps(json_object_get(r, "spec"), JSON_INDENT(2) | JSON_ENCODE_ANY);
	printf("\nSpec:\n%s\n", spec != NULL ? spec : "null");
	free(spec);
	json_decref(r);
	return FL_EXIT_OK;
}

/* ---- following a change until the cluster has done it ---- */

struct follow {
	uint32_t host;	 /* fence, drain: the host; move: the target */
	const char *uid; /* move: the VM */
	json_t *moving;	 /* drain: the uids placed on host when asked */
	bool fence;
};

static json_t *vm_by_uid(json_t *vms, const char *uid)
{
	json_t *vm;
	size_t i;
	json_array_foreach(vms, i, vm)
	{
		const char *u = json_string_value(json_object_get(vm, "uid"));
		if (u != NULL && strcmp(u, uid) == 0)
			return vm;
	}
	return NULL;
}

static bool vm_runs_on(json_t *vm, uint32_t host)
{
	const char *st = json_string_value(json_object_get(vm, "state"));
	return vm != NULL && (uint32_t)json_integer_value(json_object_get(vm, "host")) == host && st != NULL &&
	       strcmp(st, "RUNNING") == 0;
}

/* True when the change is done; *what says what is still awaited. */
static bool follow_done(const struct follow *f, json_t *hosts, json_t *vms, char *what, size_t len)
{
	json_t *x;
	size_t i;
	if (f->uid != NULL) {
		snprintf(what, len, "VM %s to run on host %u", f->uid, f->host);
		return vm_runs_on(vm_by_uid(vms, f->uid), f->host);
	}
	json_array_foreach(hosts, i, x)
	{
		const char *fence = json_string_value(json_object_get(x, "fence"));
		if ((uint32_t)json_integer_value(json_object_get(x, "id")) == f->host && f->fence &&
		    (fence == NULL || strcmp(fence, "fenced") != 0)) {
			snprintf(what, len, "host %u to answer FENCED", f->host);
			return false;
		}
	}
	json_array_foreach(f->moving, i, x)
	{
		json_t *vm = vm_by_uid(vms, json_string_value(x));
		uint32_t on = vm != NULL ? (uint32_t)json_integer_value(json_object_get(vm, "host")) : 0;
		if (vm != NULL && (on == f->host || !vm_runs_on(vm, on))) {
			snprintf(what, len, "VM %s to run on another host", json_string_value(x));
			return false;
		}
	}
	return true;
}

static int follow_poll(const struct ops2_args *a, const struct follow *f, char *what, size_t len, bool *done)
{
	json_t *hr, *vr;
	int rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_HOSTS}, &hr, "hosts");
	if (rv != 0)
		return rv;
	if ((rv = ops2_call(a, &(struct ctl_req){.op = CTL_OP_VMS}, &vr, "vms")) == 0)
		*done = follow_done(f, json_object_get(hr, "hosts"), json_object_get(vr, "vms"), what, len);
	json_decref(hr);
	json_decref(vr);
	return rv;
}

static int follow_run(const struct ops2_args *a, const struct follow *f)
{
	char what[160] = "";
	struct timespec t0, now, pause = {.tv_nsec = 200 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		bool done = false;
		int rv = follow_poll(a, f, what, sizeof(what), &done);
		if (rv != 0)
			return ops2_exit(rv);
		if (done)
			return FL_EXIT_OK;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= (time_t)a->wait_s) {
			fprintf(stderr, "fencelock: still waiting after %u s for %s; the change is committed and goes on "
					"('--wait-s S' to wait longer)\n",
				a->wait_s, what);
			return FL_EXIT_TIMEOUT;
		}
		nanosleep(&pause, NULL);
	}
}

/* The uids placed on host (a drain's VMs), as a JSON array of strings. */
static json_t *vms_on(const struct ops2_args *a, uint32_t host)
{
	json_t *vr, *vm, *out = json_array();
	size_t i;
	if (ops2_call(a, &(struct ctl_req){.op = CTL_OP_VMS}, &vr, "vms") != 0)
		return out;
	json_array_foreach(json_object_get(vr, "vms"), i, vm)
	{
		const char *restart = json_string_value(json_object_get(vm, "restart"));
		if ((uint32_t)json_integer_value(json_object_get(vm, "host")) == host &&
		    (restart == NULL || strcmp(restart, "never") != 0))
			json_array_append(out, json_object_get(vm, "uid"));
	}
	json_decref(vr);
	return out;
}

/* ---- host fence|unfence|drain|undrain, vm move, leader transfer ---- */

static int cmd_host_op(const struct ops2_args *a, const char *verb, const char *arg)
{
	static const struct {
		const char *verb;
		enum ctl_op op;
		const char *done;
	} ops[] = {
		{"fence", CTL_OP_HOST_FENCE, "fence committed"},
		{"unfence", CTL_OP_HOST_UNFENCE, "unfenced"},
		{"drain", CTL_OP_HOST_DRAIN, "drained: nothing is placed there"},
		{"undrain", CTL_OP_HOST_UNDRAIN, "undrained: it takes VMs again"},
	};
	size_t k = 0;
	while (k < FL_ARRAY_SIZE(ops) && strcmp(ops[k].verb, verb) != 0)
		k++;
	if (k == FL_ARRAY_SIZE(ops)) {
		ops2_usage(stderr);
		return FL_EXIT_USAGE;
	}
	struct ctl_req req = {.op = ops[k].op};
	if (resolve_host(a, arg, &req.host_id) != 0)
		return FL_EXIT_USAGE;
	struct follow f = {.host = req.host_id, .fence = req.op == CTL_OP_HOST_FENCE};
	f.moving = req.op == CTL_OP_HOST_DRAIN || f.fence ? vms_on(a, req.host_id) : json_array();
	json_t *r;
	char what[32];
	snprintf(what, sizeof(what), "host %s", verb);
	int rv = ops2_call(a, &req, &r, what);
	if (rv == 0) {
		printf("host %u: %s\n", req.host_id, ops[k].done);
		json_decref(r);
		if (a->wait && (f.fence || req.op == CTL_OP_HOST_DRAIN)) {
			printf("waiting for %s%zu VM(s) to run elsewhere...\n", f.fence ? "its FENCED answer and " : "",
			       json_array_size(f.moving));
			fflush(stdout);
			rv = follow_run(a, &f);
			if (rv == FL_EXIT_OK)
				printf("host %u: done\n", req.host_id);
			json_decref(f.moving);
			return rv;
		}
	}
	json_decref(f.moving);
	return ops2_exit(rv);
}

static int cmd_vm_move(const struct ops2_args *a, const char *uid)
{
	struct ctl_req req = {.op = CTL_OP_VM_MOVE, .uid = uid};
	if (a->to == NULL || !ctl_uid_valid(uid)) {
		fprintf(stderr, "fencelock vm move: needs a VM uid and --to HOST\n");
		return FL_EXIT_USAGE;
	}
	if (resolve_host(a, a->to, &req.host_id) != 0)
		return FL_EXIT_USAGE;
	json_t *r;
	int rv = ops2_call(a, &req, &r, "vm move");
	json_decref(r);
	if (rv != 0)
		return ops2_exit(rv);
	printf("VM %s placed on host %u\n", uid, req.host_id);
	if (!a->wait)
		return FL_EXIT_OK;
	struct follow f = {.host = req.host_id, .uid = uid};
	rv = follow_run(a, &f);
	if (rv == FL_EXIT_OK)
		printf("VM %s runs on host %u\n", uid, req.host_id);
	return rv;
}

static int cmd_leader_transfer(const struct ops2_args *a)
{
	struct ctl_req req = {.op = CTL_OP_LEADER_TRANSFER};
	if (a->to != NULL && resolve_host(a, a->to, &req.host_id) != 0)
		return FL_EXIT_USAGE;
	json_t *r;
	int rv = ops2_call(a, &req, &r, "leader transfer");
	if (rv == 0)
		printf("leadership handed to host %lld\n", (long long)json_integer_value(json_object_get(r, "to")));
	json_decref(r);
	return ops2_exit(rv);
}

/* ---- dispatch ---- */

bool fl_cli_ops2_handles(int argc, char **argv)
{
	static const char *const cmds[][2] = {
		{"quorum", NULL},
		{"quarantine", NULL},
		{"leader", NULL},
		{"vm", "show"},
		{"vm", "move"},
		{"host", "fence"},
		{"host", "unfence"},
		{"host", "drain"},
		{"host", "undrain"},
	};
	for (size_t i = 0; argc >= 1 && i < FL_ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[0], cmds[i][0]) == 0 && (cmds[i][1] == NULL || (argc >= 2 && strcmp(argv[1], cmds[i][1]) == 0)))
			return true;
	return false;
}

/* argv[0] is the group; the verb (if the group has verbs) is argv[1]. */
static int ops2_run(const struct ops2_args *a, const char *group, const char *verb, int n, char **rest)
{
	if (strcmp(group, "quorum") == 0 && n == 0)
		return cmd_quorum(a);
	if (strcmp(group, "quarantine") == 0 && strcmp(verb, "list") == 0 && n == 0)
		return cmd_quarantine_list(a);
	if (strcmp(group, "quarantine") == 0 && strcmp(verb, "clear") == 0 && n == 1)
		return cmd_quarantine_clear(a, rest[0]);
	if (strcmp(group, "vm") == 0 && strcmp(verb, "show") == 0 && n == 1)
		return cmd_vm_show(a, rest[0]);
	if (strcmp(group, "vm") == 0 && strcmp(verb, "move") == 0 && n == 1)
		return cmd_vm_move(a, rest[0]);
	if (strcmp(group, "host") == 0 && n == 1)
		return cmd_host_op(a, verb, rest[0]);
	if (strcmp(group, "leader") == 0 && strcmp(verb, "transfer") == 0 && n == 0)
		return cmd_leader_transfer(a);
	ops2_usage(stderr);
	return strcmp(group, "quorum") == 0 ? FL_NAGIOS_UNKNOWN : FL_EXIT_USAGE;
}

int fl_cli_ops2(int argc, char **argv)
{
	FL_ASSERT(argc >= 1);
	FL_ASSERT(fl_cli_ops2_handles(argc, argv));
	bool verbs = strcmp(argv[0], "quorum") != 0;
	if (verbs && argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		ops2_usage(stdout);
		return FL_EXIT_OK;
	}
	const char *verb = verbs && argc >= 2 ? argv[1] : "";
	int skip = verbs && argc >= 2 ? 1 : 0;
	struct ops2_args a;
	int bad = ops2_parse(argc - skip, argv + skip, &a);
	a.nagios = strcmp(argv[0], "quorum") == 0;
	if (bad != 0) {
		ops2_usage(stderr);
		return strcmp(argv[0], "quorum") == 0 ? FL_NAGIOS_UNKNOWN : FL_EXIT_USAGE;
	}
	return ops2_run(&a, argv[0], verb, argc - skip - a.first, argv + skip + a.first);
}
