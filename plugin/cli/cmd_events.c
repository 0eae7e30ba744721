/* `fencelock events`: the cluster's decision history (host states, fences,
 * quarantines, membership, placements, starts and stops of VMs, leaders),
 * as the local daemon holds it in the replicated state: the same on every
 * host that applied the same Raft entries, the last 1024 events, kept
 * across restarts and snapshots. A table for people (one line per event,
 * oldest first) or JSON for scripts (-o json); the times are the proposing
 * leader's wall clock, in UTC. --since, --host and --vm choose the events
 * (plugin/host/evview.h parses and matches; a Raft index in --since goes to
 * the daemon, which then sends only the later ones). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/client.h"
#include "plugin/host/evview.h"

struct events_args {
	const char *socket;
	bool json;
	uint32_t timeout_ms;
	struct ev_filter filter;
};

static void events_usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock [-s SOCKET] events [--since T] [--host H] [--vm UID] [-o text|json] [-t MS]\n"
		"\n"
		"The cluster's decision history from the replicated state, oldest first: host\n"
		"states (UP, PARTITIONED, STORAGE_LOST, DEAD, FENCED, LEFT), fences requested and\n"
		"acknowledged, quarantines, membership, VMs placed, started, stopped, ended, given up,\n"
		"FAILED, and leader changes; each with its time (the leader's clock, UTC), Raft\n"
		"index, host, VM, cause and who asked. The last %u events are kept, across\n"
		"restarts and snapshots, and every host shows the same ones.\n"
		"\n"
		"  --since T            only events from T on: an RFC 3339 time\n"
		"                       (2026-12-06T19:30:00Z, or with an offset +01:00), a time back\n"
		"                       from now (30s, 10m, 2h, 1d), or @INDEX (a Raft index)\n"
		"  --host H             only events about host H (id or name; a VM placed on or moved from it)\n"
		"  --vm UID             only events of VM UID\n"
		"  -o, --output FORMAT  text (default) or json (with \"schema_version\"; times as RFC 3339\n"
		"                       strings, null when unknown; errors are JSON too)\n"
		"  -s, --socket SOCKET  control socket (default $FENCELOCK_SOCKET, else %s)\n"
		"  -t, --timeout MS     give up after MS milliseconds (default 10000)\n"
		"  -h, --help           this text\n"
		"\n%s",
		1024u, FL_DEFAULT_SOCKET, fl_cli_exit_codes_text);
}

static uint64_t wall_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int events_usage_error(const char *msg)
{
	fprintf(stderr, "fencelock events: %s\n", msg);
	return FL_EXIT_USAGE;
}

/* One option; returns -1 to go on, else the exit code. */
static int events_opt(int c, struct events_args *a)
{
	char err[512];
	switch (c) {
	case 'S':
		if (ev_since_parse(optarg, wall_now_us(), &a->filter.since, err, sizeof(err)) != 0)
			return events_usage_error(err);
		return -1;
	case 'H':
		if (ev_filter_host(optarg, &a->filter, err, sizeof(err)) != 0)
			return events_usage_error(err);
		return -1;
	case 'V':
		if (!ctl_uid_valid(optarg))
			return events_usage_error("--vm: a VM uid is 1..64 of [A-Za-z0-9._:-], not starting with '.' or '-'");
		a->filter.vm = optarg;
		return -1;
	case 'o':
		if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
			return events_usage_error("-o: text or json");
		a->json = strcmp(optarg, "json") == 0;
		return -1;
	case 's': a->socket = optarg; return -1;
	case 't': {
		char *end;
		unsigned long ms = strtoul(optarg, &end, 10);
		if (*optarg < '0' || *optarg > '9' || *end != '\0' || ms == 0 || ms > 3600000u)
			return events_usage_error("-t: a number of milliseconds, 1..3600000");
		a->timeout_ms = (uint32_t)ms;
		return -1;
	}
	case 'h': events_usage(stdout); return FL_EXIT_OK;
	default: events_usage(stderr); return FL_EXIT_USAGE;
	}
}

/* Returns -1 to go on, else the exit code. */
static int events_parse(int argc, char **argv, struct events_args *a)
{
	static const struct option longopts[] = {
		{"since", required_argument, NULL, 'S'}, {"host", required_argument, NULL, 'H'},
		{"vm", required_argument, NULL, 'V'}, {"output", required_argument, NULL, 'o'},
		{"socket", required_argument, NULL, 's'}, {"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof(*a));
	a->timeout_ms = 10000;
	optind = 1;
	int c, rv;
	while ((c = getopt_long(argc, argv, "+o:s:t:h", longopts, NULL)) != -1)
		if ((rv = events_opt(c, a)) >= 0)
			return rv;
	if (optind != argc) {
		fprintf(stderr, "fencelock events: unexpected argument '%s'\n", argv[optind]);
		events_usage(stderr);
		return FL_EXIT_USAGE;
	}
	return -1;
}

static void events_text(json_t *r, json_t *shown)
{
	size_t n = json_array_size(shown);
	char(*cells)[EV_COLS][EV_CELL_MAX] = calloc(n + 1, sizeof(*cells));
	if (cells == NULL) {
		fprintf(stderr, "fencelock events: out of memory\n");
		return;
	}
	size_t w[EV_COLS];
	for (int c = 0; c < EV_COLS; c++) {
		snprintf(cells[0][c], EV_CELL_MAX, "%s", ev_col_header((enum ev_col)c));
		w[c] = strlen(cells[0][c]);
	}
	for (size_t i = 0; i < n; i++) {
		ev_text_row(json_array_get(shown, i), cells[i + 1]);
		for (int c = 0; c < EV_COLS; c++)
			w[c] = FL_MAX(w[c], strlen(cells[i + 1][c]));
	}
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < EV_COLS; c++)
			printf(c + 1 < EV_COLS ? "%-*s  " : "%-*s\n", c + 1 < EV_COLS ? (int)w[c] : 0, cells[i][c]);
	}
	free(cells);
	json_int_t total = json_integer_value(json_object_get(r, "total"));
	json_int_t held = json_integer_value(json_object_get(r, "held"));
	printf("(%zu shown of %lld held; %lld recorded in all, the last %lld kept)\n", n, (long long)held,
	       (long long)total, (long long)json_integer_value(json_object_get(r, "capacity")));
}

/* A failure before an answer: the message on stderr, or under -o json a
 * JSON error object on stdout. Returns exit_code. */
static int events_fail(const struct events_args *a, const char *msg, int exit_code)
{
	if (a->json) {
		json_t *o = json_pack("{s:i,s:b,s:s,s:i}", "schema_version", FL_CLI_SCHEMA_VERSION, "ok", 0, "error", msg,
				      "exit", exit_code);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		fprintf(stderr, "%s\n", msg);
	}
	return exit_code;
}

/* Keeps the events of r that pass the filter; prints them. */
static int events_show(const struct events_args *a, json_t *r)
{
	json_t *all = json_object_get(r, "events");
	if (!json_is_array(all))
		return events_fail(a, "fencelock events: the daemon's reply has no events list; daemon and CLI versions differ?",
				   FL_EXIT_FAIL);
	json_t *shown = json_array(), *ev;
	size_t i;
	json_array_foreach(all, i, ev)
		if (ev_match(ev, &a->filter))
			json_array_append(shown, ev);
	if (a->json) {
		json_t *out = json_pack("{s:i}", "schema_version", FL_CLI_SCHEMA_VERSION);
		json_object_update(out, r);
		json_object_del(out, "v");
		json_object_del(out, "ok");
		json_object_set(out, "events", shown);
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(out);
	} else {
		events_text(r, shown);
	}
	json_decref(shown);
	return FL_EXIT_OK;
}

int fl_cli_events(int argc, char **argv)
{
	FL_ASSERT(argc >= 1);
	struct events_args a;
	int rv = events_parse(argc, argv, &a);
	if (rv >= 0)
		return rv;
	struct fl_client *c;
	char msg[512];
	rv = fl_connect(a.socket, &c);
	if (rv != 0) {
		const char *path = a.socket != NULL ? a.socket : getenv(FL_SOCKET_ENV);
		snprintf(msg, sizeof(msg), "fencelock events: fencelockd unreachable at %s: %s; is it running? (-s SOCKET or FENCELOCK_SOCKET)",
			 path != NULL ? path : FL_DEFAULT_SOCKET, fl_strerror(rv));
		return events_fail(&a, msg, fl_cli_exit_connect(rv));
	}
	fl_client_set_timeout_ms(c, a.timeout_ms);
	struct ctl_req req = {.op = CTL_OP_EVENTS};
	if (a.filter.since.kind == EV_SINCE_INDEX)
		req.since_index = a.filter.since.index;
	json_t *r = NULL;
	rv = fl_client_call(c, &req, &r);
	if (rv != 0) {
		snprintf(msg, sizeof(msg), "fencelock events: %s", fl_client_error(c));
		json_decref(r);
		fl_disconnect(c);
		/* the request was ours: an invalid one is not the user's usage error */
		return events_fail(&a, msg, rv == -FL_EINVAL ? FL_EXIT_FAIL : fl_cli_exit_for(rv));
	}
	int code = events_show(&a, r);
	json_decref(r);
	fl_disconnect(c);
	return code;
}
