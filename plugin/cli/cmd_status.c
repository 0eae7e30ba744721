/* `fencelock status|hosts|leases|vms|metrics`: the operator's view of the
 * local daemon, as text tables (like corosync-quorumtool and
 * `etcdctl -w table`) or as the daemon's JSON (-o json).
 *
 * `status` is also a Nagios plugin: its first text line is the plugin
 * summary ("FENCELOCK OK - ... | perfdata") and its exit code the plugin state: 0 OK,
 * 1 WARNING (a host is not UP), 2 CRITICAL (this host is not quorate, or its
 * delta lease is not valid), 3 UNKNOWN (daemon unreachable or its answer
 * unusable). The socket comes from -s, else $FENCELOCK_SOCKET, else the
 * default path. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/client.h"

#define TABLE_COLS_MAX 12
#define CELL_MAX 96

struct column {
	const char *header;
	const char *key;
};

struct status_args {
	const char *cmd;
	const char *socket;
	bool json;
	bool wide;              /* -o wide: names next to ids */
	uint32_t timeout_ms;
	uint32_t limit;         /* vms, leases: one page of this many VMs (0: every page) */
	const char *after;      /* vms, leases: one page, after this uid */
};

static void status_usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock [-s SOCKET] status|hosts|leases|vms|metrics [-o text|wide|json] [-t MS]\n"
		"       fencelock [-s SOCKET] vms|leases [--limit N] [--after UID] [-o text|wide|json] [-t MS]\n"
		"\n"
		"  status    this host's view: quorum, leader, term, timing, hosts, VMs here\n"
		"  hosts     cluster members and their states (UP, PARTITIONED, STORAGE_LOST, DEAD, FENCED, LEFT)\n"
		"  leases    volume leases and their holders\n"
		"  vms       registered VMs, where they run and their state\n"
		"  metrics   Prometheus text exposition of the daemon's metrics\n"
		"\n"
		"  -s, --socket SOCKET  control socket (default $FENCELOCK_SOCKET, else %s)\n"
		"  -o, --output FORMAT  text (default), wide (host names next to ids), or json\n"
		"                       (with \"schema_version\"; errors are JSON too)\n"
		"  -t, --timeout MS     give up after MS milliseconds (default 10000)\n"
		"  --limit N            vms, leases: one page of at most N VMs (1..%u), in uid order\n"
		"  --after UID          vms, leases: one page, of the VMs after UID (the previous page's \"next\");\n"
		"                       without either, every page is fetched (%u VMs a request)\n"
		"  -h, --help           this text\n"
		"\n%s",
		FL_DEFAULT_SOCKET, CTL_PAGE_MAX, CTL_PAGE_DEFAULT, fl_cli_exit_codes_text);
}

/* Formats one JSON value for a table cell. */
static void cell_text(json_t *v, char *buf, size_t len)
{
	if (json_is_array(v) && json_is_object(json_array_get(v, 0))) { /* volumes: PATH[:ro],... */
		size_t i, n = 0;
		json_t *e;
		buf[0] = '\0';
		json_array_foreach(v, i, e) {
			const char *p = json_string_value(json_object_get(e, "path"));
			int k = snprintf(buf + n, len - n, "%s%s%s", i ? "," : "", p != NULL ? p : "-",
					 json_is_true(json_object_get(e, "ro")) ? ":ro" : "");
			if (k < 0 || (size_t)k >= len - n)
				break;
			n += (size_t)k;
		}
	} else if (v == NULL || json_is_null(v))
		snprintf(buf, len, "-");
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.3f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, len, "%s", s != NULL ? s : "?");
		free(s);
	}
}

static void table_rule(const size_t *w, size_t ncols)
{
	for (size_t c = 0; c < ncols; c++) {
		putchar('+');
		for (size_t i = 0; i < w[c] + 2; i++)
			putchar('-');
	}
	puts("+");
}

static void table_row(const size_t *w, size_t ncols, char cells[][CELL_MAX])
{
	for (size_t c = 0; c < ncols; c++)
		printf("| %-*s ", (int)w[c], cells[c]);
	puts("|");
}

/* Prints rows (a JSON array of objects) as an etcdctl-style table. */
static void print_table(const struct column *cols, size_t ncols, json_t *rows)
{
	FL_ASSERT(ncols <= TABLE_COLS_MAX);
	size_t w[TABLE_COLS_MAX];
	char cells[TABLE_COLS_MAX][CELL_MAX];
	size_t nrows = json_array_size(rows);
	for (size_t c = 0; c < ncols; c++)
		w[c] = strlen(cols[c].header);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			cell_text(json_object_get(json_array_get(rows, r), cols[c].key), cells[c], CELL_MAX);
			w[c] = FL_MAX(w[c], strlen(cells[c]));
		}
	table_rule(w, ncols);
	for (size_t c = 0; c < ncols; c++)
		snprintf(cells[c], CELL_MAX, "%s", cols[c].header);
	table_row(w, ncols, cells);
	table_rule(w, ncols);
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++)
			cell_text(json_object_get(json_array_get(rows, r), cols[c].key), cells[c], CELL_MAX);
		table_row(w, ncols, cells);
	}
	table_rule(w, ncols);
}

static const struct column host_cols[] = {
	{"ID", "id"}, {"NAME", "name"}, {"ADDRESS", "addr"}, {"STATE", "state"},
	{"SINCE", "since"}, {"VOTER", "voter"}, {"VERSION", "version"}, {"PROTO", "protocol"}, {"MARKS", "flags"},
};
static const struct column lease_cols[] = {
	{"VOLUME", "volume"}, {"IDENTITY", "id"}, {"VM", "vm"}, {"MODE", "mode"}, {"HOLDER", "holder"},
	{"STATE", "state"},
};
static const struct column lease_cols_wide[] = {
	{"VOLUME", "volume"}, {"IDENTITY", "id"}, {"VM", "vm"}, {"MODE", "mode"}, {"HOLDER", "holder"},
	{"HOLDER NAME", "holder_name"}, {"STATE", "state"}, {"SLOT", "slot"},
};
static const struct column vm_cols[] = {
	{"UID", "uid"}, {"HOST", "host"}, {"STATE", "state"}, {"PID", "pid"}, {"RESTART", "restart"},
	{"VOLUMES", "volumes"},
};
static const struct column vm_cols_wide[] = {
	{"UID", "uid"}, {"HOST", "host"}, {"HOST NAME", "host_name"}, {"STATE", "state"}, {"PID", "pid"},
	{"RESTART", "restart"}, {"INCARNATION", "incarnation"}, {"VOLUMES", "volumes"},
};
static const struct column host_cols_wide[] = {
	{"ID", "id"}, {"NAME", "name"}, {"ADDRESS", "addr"}, {"STATE", "state"},
	{"SINCE", "since"}, {"FOR (s)", "since_s"}, {"VOTER", "voter"}, {"VERSION", "version"}, {"PROTO", "protocol"},
	{"MARKS", "flags"},
};

/* Evaluates a status reply as a Nagios plugin; summary gets the reason. */
static int status_nagios(json_t *r, char *summary, size_t len)
{
	json_t *quorate = json_object_get(r, "quorate");
	json_t *hosts = json_object_get(r, "hosts");
	json_t *lease = json_object_get(r, "lease_valid");
	if (!json_is_boolean(quorate) || !json_is_array(hosts)) {
		snprintf(summary, len, "status reply lacks 'quorate' or 'hosts'; daemon and CLI versions differ?");
		return FL_NAGIOS_UNKNOWN;
	}
	const char *member = json_string_value(json_object_get(r, "member"));
	const char *mwhy = json_string_value(json_object_get(r, "member_reason"));
	if (member != NULL && (strcmp(member, "voter") != 0 || mwhy != NULL)) {
		snprintf(summary, len, "%s: %s", member, mwhy != NULL ? mwhy : "this host does not vote");
		return strcmp(member, "removed") == 0 ? FL_NAGIOS_CRITICAL : FL_NAGIOS_WARNING;
	}
	if (!json_is_true(quorate)) {
		const char *why = json_string_value(json_object_get(r, "quorum_reason"));
		snprintf(summary, len, "not quorate%s%s", why != NULL ? ": " : "", why != NULL ? why : "");
		return FL_NAGIOS_CRITICAL;
	}
	if (json_is_false(lease)) {
		snprintf(summary, len, "this host's delta lease is not valid: its VMs will be stopped");
		return FL_NAGIOS_CRITICAL;
	}
	size_t i, up = 0, left = 0, n = json_array_size(hosts);
	json_t *h;
	const char *bad = NULL, *bad_name = NULL;
	json_int_t bad_id = 0;
	json_array_foreach(hosts, i, h) {
		const char *st = json_string_value(json_object_get(h, "state"));
		if (st != NULL && strcmp(st, "UP") == 0)
			up++;
		else if (st != NULL && strcmp(st, "LEFT") == 0)
			left++;
		else if (bad == NULL) {
			bad = st != NULL ? st : "in an unknown state";
			bad_id = json_integer_value(json_object_get(h, "id"));
			bad_name = json_string_value(json_object_get(h, "name"));
		}
	}
	json_t *leader = json_object_get(r, "leader");
	char lead[32];
	cell_text(leader, lead, sizeof(lead));
	snprintf(summary, len, "quorate, leader %s, term %lld, %zu/%zu hosts UP", lead,
		 (long long)json_integer_value(json_object_get(r, "term")), up, n - left);
	json_t *failed = json_object_get(r, "vms_failed");
	if (bad != NULL) {
		size_t l = strlen(summary);
		snprintf(summary + l, len - l, "; host %lld%s%s%s is %s", (long long)bad_id, bad_name != NULL ? " (" : "",
			 bad_name != NULL ? bad_name : "", bad_name != NULL ? ")" : "", bad);
	}
	if (json_array_size(failed) > 0) {
		size_t l = strlen(summary);
		snprintf(summary + l, len - l, "; %zu VM(s) FAILED (first: %s): 'fencelock vm clear UID' once fixed",
			 json_array_size(failed), json_string_value(json_array_get(failed, 0)));
	}
	return bad != NULL || json_array_size(failed) > 0 ? FL_NAGIOS_WARNING : FL_NAGIOS_OK;
}

static void print_kv(const char *k, json_t *r, const char *key, const char *unit)
{
	char v[CELL_MAX];
	cell_text(json_object_get(r, key), v, sizeof(v));
	printf("%-22s %s%s\n", k, v, unit);
}

/* Nagios performance data: counts a graphing add-on can plot. */
static void status_perfdata(json_t *r, char *buf, size_t len)
{
	json_t *hosts = json_object_get(r, "hosts"), *h;
	size_t i, up = 0;
	json_array_foreach(hosts, i, h) {
		const char *st = json_string_value(json_object_get(h, "state"));
		up += st != NULL && strcmp(st, "UP") == 0;
	}
	snprintf(buf, len, "quorate=%d hosts_up=%zu hosts=%zu vms=%zu term=%lld",
		 json_is_true(json_object_get(r, "quorate")) ? 1 : 0, up, json_array_size(hosts),
		 json_array_size(json_object_get(r, "vms")), (long long)json_integer_value(json_object_get(r, "term")));
}

/* "Hosts by state: UP 2, PARTITIONED 1" in the order of the state table. */
static void print_state_counts(json_t *hosts)
{
	static const char *const states[] = {"UP", "PARTITIONED", "STORAGE_LOST", "DEAD", "FENCED", "LEFT"};
	size_t counts[FL_ARRAY_SIZE(states) + 1] = {0};
	size_t i, k;
	json_t *h;
	json_array_foreach(hosts, i, h) {
		const char *st = json_string_value(json_object_get(h, "state"));
		for (k = 0; k < FL_ARRAY_SIZE(states) && (st == NULL || strcmp(st, states[k]) != 0); k++)
			;
		counts[k]++; /* k == FL_ARRAY_SIZE(states): unknown state */
	}
	printf("%-22s", "Hosts by state:");
	const char *sep = " ";
	for (k = 0; k <= FL_ARRAY_SIZE(states); k++) {
		if (counts[k] == 0)
			continue;
		printf("%s%s %zu", sep, k < FL_ARRAY_SIZE(states) ? states[k] : "other", counts[k]);
		sep = ", ";
	}
	printf("%s\n", json_array_size(hosts) == 0 ? " none" : "");
}

/* The quorum's votes (`fencelock quorum` has the details) and the hosts an
 * operator or flap damping marked (quarantined, drained, fenced). */
static void status_quorum_lines(json_t *r)
{
	json_t *q = json_object_get(r, "quorum"), *h;
	char holder[CELL_MAX];
	size_t i;
	if (json_is_object(q)) {
		cell_text(json_object_get(q, "witness_holder"), holder, sizeof(holder));
		printf("%-22s %lld of %lld expected, threshold %lld; disk voter served by %s\n", "Votes:",
		       (long long)json_integer_value(json_object_get(q, "total_votes")),
		       (long long)json_integer_value(json_object_get(q, "expected_votes")),
		       (long long)json_integer_value(json_object_get(q, "threshold")), holder);
	}
	json_array_foreach(json_object_get(r, "hosts"), i, h) {
		const char *flags = json_string_value(json_object_get(h, "flags"));
		if (flags != NULL && flags[0] != '\0')
			printf("%-22s host %lld: %s\n", "Marked:", (long long)json_integer_value(json_object_get(h, "id")),
			       flags);
	}
}

static void status_text(json_t *r, int code, const char *summary)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	char perf[160];
	status_perfdata(r, perf, sizeof(perf));
	FL_ASSERT(code >= FL_NAGIOS_OK);
	FL_ASSERT(code <= FL_NAGIOS_UNKNOWN);
	printf("FENCELOCK %s - %s | %s\n\n", names[code], summary, perf);
	print_kv("Cluster:", r, "cluster", "");
	print_kv("This host id:", r, "host_id", "");
	print_kv("This host name:", r, "host_name", "");
	print_kv("Quorate:", r, "quorate", "");
	print_kv("Quorum:", r, "quorum_reason", "");
	print_kv("This host is a:", r, "member", "");
	print_kv("Leader:", r, "leader", "");
	print_kv("Leader name:", r, "leader_name", "");
	print_kv("Term:", r, "term", "");
	print_kv("Delta lease valid:", r, "lease_valid", "");
	if (json_object_get(r, "io_timeout_ms") != NULL)
		print_kv("io_timeout (T):", r, "io_timeout_ms", " ms");
	else
		print_kv("io_timeout (T):", r, "io_timeout_s", " s");
	print_kv("Partition tol. (P):", r, "partition_tolerance_s", " s");
	if (json_integer_value(json_object_get(r, "vms_waiting")) > 0) /* the leader's count */
		print_kv("VMs waiting for room:", r, "vms_waiting", " (every candidate at its max_vms)");
	status_quorum_lines(r);
	json_t *hosts = json_object_get(r, "hosts"), *vms = json_object_get(r, "vms");
	print_state_counts(hosts);
	printf("\nHosts (%zu):\n", json_array_size(hosts));
	print_table(host_cols, 5, hosts);
	json_t *reg = json_object_get(r, "vms_registered");
	if (json_is_integer(reg))
		printf("\nVMs here (%zu of %lld registered; all: fencelock vms):\n", json_array_size(vms),
		       (long long)json_integer_value(reg));
	else
		printf("\nVMs (%zu):\n", json_array_size(vms));
	print_table(vm_cols, 3, vms);
}

static void print_json(json_t *r)
{
	json_t *copy = json_pack("{s:i}", "schema_version", FL_CLI_SCHEMA_VERSION);
	json_object_update(copy, r);
	json_object_del(copy, "v");
	json_object_del(copy, "ok");
	json_dumpf(copy, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(copy);
}

/* An error under -o json: {"schema_version", "ok": false, "error", "exit"}
 * on stdout, where a reader of the JSON looks. */
static void print_json_error(const char *msg, int exit_code)
{
	json_t *o = json_pack("{s:i,s:b,s:s,s:i}", "schema_version", FL_CLI_SCHEMA_VERSION, "ok", 0, "error", msg,
			      "exit", exit_code);
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
}

static int status_parse(int argc, char **argv, struct status_args *a)
{
	static const struct option lo[] = {{"output", required_argument, NULL, 'o'}, {"socket", required_argument, NULL, 's'},
					   {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
					   {"limit", required_argument, NULL, 'L'}, {"after", required_argument, NULL, 'A'},
					   {NULL, 0, NULL, 0}};
	char *end;
	unsigned long v;
	*a = (struct status_args){.cmd = argv[0], .timeout_ms = 10000};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:s:t:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0 && strcmp(optarg, "wide") != 0)
				return -1;
			a->json = strcmp(optarg, "json") == 0;
			a->wide = strcmp(optarg, "wide") == 0;
			break;
		case 's': a->socket = optarg; break;
		case 't': a->timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'L':
			v = strtoul(optarg, &end, 10);
			if (*end != '\0' || optarg[0] < '1' || optarg[0] > '9' || v > CTL_PAGE_MAX)
				return -1;
			a->limit = (uint32_t)v;
			break;
		case 'A':
			if (!ctl_uid_valid(optarg))
				return -1;
			a->after = optarg;
			break;
		case 'h': status_usage(stdout); exit(0);
		default: return -1;
		}
	}
	bool paged = strcmp(a->cmd, "vms") == 0 || strcmp(a->cmd, "leases") == 0;
	if (!paged && (a->limit != 0 || a->after != NULL))
		return -1;
	return optind == argc && a->timeout_ms > 0 ? 0 : -1;
}

static enum ctl_op status_op(const char *cmd)
{
	static const struct { const char *name; enum ctl_op op; } map[] = {
		{"status", CTL_OP_STATUS}, {"hosts", CTL_OP_HOSTS}, {"leases", CTL_OP_LEASES},
		{"vms", CTL_OP_VMS}, {"metrics", CTL_OP_METRICS},
	};
	for (size_t i = 0; i < FL_ARRAY_SIZE(map); i++)
		if (strcmp(cmd, map[i].name) == 0)
			return map[i].op;
	return CTL_OP_COUNT;
}

static int status_show(const struct status_args *a, enum ctl_op op, json_t *r)
{
	if (op == CTL_OP_STATUS) {
		char summary[256];
		int code = status_nagios(r, summary, sizeof(summary));
		if (a->json)
			print_json(r);
		else
			status_text(r, code, summary);
		return code;
	}
	if (a->json) {
		print_json(r);
		return FL_EXIT_OK;
	}
	if (op == CTL_OP_METRICS) {
		const char *text = json_string_value(json_object_get(r, "text"));
		fputs(text != NULL ? text : "", stdout);
		return text != NULL ? FL_EXIT_OK : FL_EXIT_FAIL;
	}
	if (op == CTL_OP_HOSTS && a->wide)
		print_table(host_cols_wide, FL_ARRAY_SIZE(host_cols_wide), json_object_get(r, "hosts"));
	else if (op == CTL_OP_HOSTS)
		print_table(host_cols, FL_ARRAY_SIZE(host_cols), json_object_get(r, "hosts"));
	else if (op == CTL_OP_LEASES)
		print_table(a->wide ? lease_cols_wide : lease_cols,
			    a->wide ? FL_ARRAY_SIZE(lease_cols_wide) : FL_ARRAY_SIZE(lease_cols), json_object_get(r, "leases"));
	else
		print_table(a->wide ? vm_cols_wide : vm_cols, a->wide ? FL_ARRAY_SIZE(vm_cols_wide) : FL_ARRAY_SIZE(vm_cols),
			    json_object_get(r, "vms"));
	const char *next = json_string_value(json_object_get(r, "next"));
	if (next != NULL)
		printf("more: fencelock %s --limit %u --after %s\n", a->cmd, a->limit != 0 ? a->limit : CTL_PAGE_DEFAULT,
		       next);
	return FL_EXIT_OK;
}

/* A failure before an answer: the Nagios UNKNOWN line for status, the
 * message otherwise; a JSON error object under -o json. Returns the exit code. */
static int status_fail(const struct status_args *a, bool is_status, const char *msg, int exit_code)
{
	int code = is_status ? FL_NAGIOS_UNKNOWN : exit_code;
	if (a->json)
		print_json_error(msg, code);
	else if (is_status)
		printf("FENCELOCK UNKNOWN - %s\n", msg);
	else
		fprintf(stderr, "%s\n", msg);
	return code;
}

int fl_cli_status(int argc, char **argv)
{
	FL_ASSERT(argc >= 1);
	struct status_args a;
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		status_usage(stdout);
		return FL_EXIT_OK;
	}
	enum ctl_op op = status_op(argv[0]);
	bool is_status = op == CTL_OP_STATUS;
	if (op == CTL_OP_COUNT || status_parse(argc, argv, &a) != 0) {
		status_usage(stderr);
		return is_status ? FL_NAGIOS_UNKNOWN : FL_EXIT_USAGE;
	}
	struct fl_client *c;
	char msg[512];
	int rv = fl_connect(a.socket, &c);
	if (rv != 0) {
		const char *path = a.socket != NULL ? a.socket : getenv(FL_SOCKET_ENV);
		snprintf(msg, sizeof(msg), "fencelockd unreachable at %s: %s; is it running? (-s SOCKET or FENCELOCK_SOCKET)",
			 path != NULL ? path : FL_DEFAULT_SOCKET, fl_strerror(rv));
		return status_fail(&a, is_status, msg, fl_cli_exit_connect(rv));
	}
	fl_client_set_timeout_ms(c, a.timeout_ms);
	json_t *r;
	struct ctl_req req = {.op = op, .limit = a.limit, .after = a.after};
	bool all = (op == CTL_OP_VMS || op == CTL_OP_LEASES) && a.limit == 0 && a.after == NULL;
	rv = all ? fl_client_call_all(c, &req, &r) : fl_client_call(c, &req, &r);
	if (rv != 0) {
		snprintf(msg, sizeof(msg), "fencelock %s: %s", a.cmd, fl_client_error(c));
		json_decref(r);
		fl_disconnect(c);
		return status_fail(&a, is_status, msg, fl_cli_exit_for(rv));
	}
	int code = status_show(&a, op, r);
	json_decref(r);
	fl_disconnect(c);
	return code;
}
