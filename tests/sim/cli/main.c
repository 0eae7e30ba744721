/* fencelock-sim: runs whole fencelock clusters on simulated time with faults
 * and checks the invariants I1-I6 (tests/sim/run.h). One seed replays one run
 * exactly; a violation prints the seed and how to replay it with a trace. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/version.h"
#include "disklock/timeouts.h"
#include "tests/sim/run.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock-sim [--seed S | --seeds A..B] [--hosts N] [--vms N] [--duration SECONDS]\n"
		"                     [--nemesis LIST] [--io-timeout T] [--partition-tolerance P]\n"
		"                     [--drift PPM] [--jitter MS] [--churn SECONDS] [--snapshot-every N] [--voters N]\n"
		"                     [--trace]\n"
		"                     [-o|--output text|json]\n"
		"       fencelock-sim --version | --help\n"
		"\n"
		"Runs N fencelock hosts (2..128) in one process on simulated time, with the real arbiter,\n"
		"Raft, delta leases, volume leases and mailboxes over a simulated network and shared disk,\n"
		"injects faults, and checks: I1 no two hosts write one volume at once; I2 one leader per\n"
		"term and the same entry at every index on every host; I3 after healing every VM runs\n"
		"exactly once; I4 an outage shorter than P restarts nothing; I5 nothing committed is lost;\n"
		"I6 corrupt records are errors, never a crash.\n"
		"\n"
		"  --seed S              one run (default 1)\n"
		"  --seeds A..B          runs seeds A to B inclusive\n"
		"  --hosts N             hosts (default 3, at most 128)\n"
		"  --voters N            host voters the leader keeps: 3, 5 (default) or 7; the other\n"
		"                        hosts are Raft learners\n"
		"  --vms N               VMs (default 2 per host)\n"
		"  --duration SECONDS    simulated time under faults per run (default 300)\n"
		"  --nemesis LIST        comma list of partition,asym,partial,split,flap,crash,pause,disk,\n"
		"                        torn,drift,move,loss,blip,stall; or all (default) or none\n"
		"                        (stall: storage stalls and latency spikes shorter than F)\n"
		"  --io-timeout T        io_timeout in seconds, fractions allowed (0.1..300, default 1)\n"
		"  --partition-tolerance P   seconds (default 10)\n"
		"  --drift PPM           clock-rate drift bound (default 200)\n"
		"  --jitter MS           scheduling jitter: every host timer fires up to MS late\n"
		"                        (fractions allowed; default 0)\n"
		"  --churn SECONDS       move one VM to another host every SECONDS (no nemesis; the\n"
		"                        leader paused once, less than P) and fail a run whose hosts'\n"
		"                        memory or Raft disk still grows in its second half\n"
		"                        (e.g. --duration 86400: a simulated day)\n"
		"  --snapshot-every N    applied entries between snapshots (default: the arbiter's)\n"
		"  --trace               log every decision with simulated time (use with one --seed)\n"
		"  -o text|json          report format (default text)\n"
		"\n"
		"Exit status: 0 no violation, 1 a violation (the seed is printed), 2 usage error.\n");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct dist {
	uint64_t *v;
	size_t n, cap;
};

static void dist_add(struct dist *d, const uint64_t *v, uint32_t n)
{
	if (n == 0)
		return;
	if (d->n + n > d->cap) {
		d->cap = (d->n + n) * 2;
		d->v = realloc(d->v, d->cap * sizeof(*d->v));
		if (d->v == NULL)
			abort();
	}
	memcpy(d->v + d->n, v, n * sizeof(*v));
	d->n += n;
}

static double pct(struct dist *d, double q)
{
	if (d->n == 0)
		return 0;
	qsort(d->v, d->n, sizeof(*d->v), cmp_u64);
	size_t i = (size_t)(q * (double)(d->n - 1) + 0.5);
	return (double)d->v[i] / 1e6;
}

/* The quantiles, and every sample (seconds, sorted): make bench draws the
 * distribution from them. */
static json_t *dist_json(struct dist *d)
{
	json_t *o = json_pack("{s:I,s:f,s:f,s:f}", "count", (json_int_t)d->n, "p50_s", pct(d, 0.5), "p99_s",
			      pct(d, 0.99), "max_s", pct(d, 1.0));
	json_t *v = json_array();
	for (size_t i = 0; i < d->n && o != NULL && v != NULL; i++)
		json_array_append_new(v, json_real((double)d->v[i] / 1e6));
	if (o != NULL && v != NULL)
		json_object_set_new(o, "samples_s", v);
	else
		json_decref(v);
	return o;
}

static int parse_seeds(const char *s, uint64_t *a, uint64_t *b)
{
	char *end;
	*a = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	if (*end == '\0') {
		*b = *a;
		return 0;
	}
	if (strncmp(end, "..", 2) != 0)
		return -1;
	const char *rest = end + 2;
	*b = strtoull(rest, &end, 10);
	return (end == rest || *end != '\0' || *b < *a) ? -1 : 0;
}

/* The command line: the run parameters, the seed range and the report format. */
struct sim_args {
	struct simrun_params p;
	uint64_t s0, s1;
	uint32_t vms;      /* 0: two per host */
	bool json;
};

/* Parses a non-negative decimal number (fractions allowed) times scale into
 * *out (rounded to the nearest integer). Returns 0, or 2 after saying why. */
static int parse_seconds_ms(const char *text, const char *what, double scale, uint32_t *out)
{
	char *end = NULL;
	double v = strtod(text, &end);
	if (end == text || *end != '\0' || !(v >= 0.0) || v * scale > 4e9) {
		fprintf(stderr, "fencelock-sim: %s '%s' must be a non-negative number\n", what, text);
		return 2;
	}
	*out = (uint32_t)(v * scale + 0.5);
	return 0;
}

/* Parses one option into a. Returns 0, or 2 (usage error, said on stderr). */
static int parse_opt(struct sim_args *a, int o)
{
	switch (o) {
	case 's': case 'S':
		if (parse_seeds(optarg, &a->s0, &a->s1) != 0) {
			fprintf(stderr, "fencelock-sim: bad seed '%s' (want N or A..B)\n", optarg);
			return 2;
		}
		return 0;
	case 'n': a->p.cl.hosts = (uint32_t)atoi(optarg); return 0;
	case 'v': a->vms = (uint32_t)atoi(optarg); return 0;
	case 'd': a->p.duration_us = strtoull(optarg, NULL, 10) * 1000000ull; return 0;
	case 'N':
		if (simrun_nemesis_parse(optarg, &a->p.nemesis) != 0) {
			fprintf(stderr, "fencelock-sim: unknown nemesis in '%s'\n", optarg);
			return 2;
		}
		return 0;
	case 'T': return parse_seconds_ms(optarg, "--io-timeout", 1000.0, &a->p.cl.io_timeout_ms);
	case 'J': {
		uint32_t us;
		int rv = parse_seconds_ms(optarg, "--jitter", 1000.0, &us);
		a->p.cl.jitter_us = us;
		return rv;
	}
	case 'P': a->p.cl.p_us = strtoull(optarg, NULL, 10) * 1000000ull; return 0;
	case 'D': a->p.cl.max_drift_ppm = atoi(optarg); return 0;
	case 't': a->p.trace = true; return 0;
	case 'E': a->p.cl.snapshot_every = strtoull(optarg, NULL, 10); return 0;
	case 'C': a->p.churn_us = strtoull(optarg, NULL, 10) * 1000000ull; return 0;
	case 'W': {
		char *end = NULL;
		unsigned long v = strtoul(optarg, &end, 10);
		if (end == optarg || *end != '\0' || (v != 3 && v != 5 && v != 7)) {
			fprintf(stderr, "fencelock-sim: --voters takes 3, 5 or 7\n");
			return 2;
		}
		a->p.cl.voters = (uint32_t)v;
		return 0;
	}
	case 'o':
		if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
			fprintf(stderr, "fencelock-sim: -o takes text or json\n");
			return 2;
		}
		a->json = strcmp(optarg, "json") == 0;
		return 0;
	default: usage(stderr); return 2;
	}
}

/* Parses the command line into a (defaults first). Returns -1 to go on, or
 * the exit status: 0 after --help, 2 for a usage error. */
static int parse_args(int argc, char **argv, struct sim_args *a)
{
	*a = (struct sim_args){.p = {.cl = {.hosts = 3, .io_timeout_ms = 1000, .p_us = 10000000, .max_drift_ppm = 200},
				     .duration_us = 300000000, .nemesis = NEM_ALL},
			       .s0 = 1, .s1 = 1};
	static const struct option opts[] = {
		{"seed", required_argument, 0, 's'},	{"seeds", required_argument, 0, 'S'},
		{"hosts", required_argument, 0, 'n'},	{"vms", required_argument, 0, 'v'},
		{"duration", required_argument, 0, 'd'}, {"nemesis", required_argument, 0, 'N'},
		{"io-timeout", required_argument, 0, 'T'}, {"partition-tolerance", required_argument, 0, 'P'},
		{"drift", required_argument, 0, 'D'},	{"trace", no_argument, 0, 't'},
		{"jitter", required_argument, 0, 'J'},
		{"churn", required_argument, 0, 'C'},	{"snapshot-every", required_argument, 0, 'E'},
		{"voters", required_argument, 0, 'W'},
		{"help", no_argument, 0, 'h'},		{"version", no_argument, 0, 'V'},
		{"output", required_argument, 0, 'o'},	{0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (o == 'h') {
			usage(stdout);
			return 0;
		}
		if (o == 'V') {
			fl_print_version(stdout, "fencelock-sim");
			return 0;
		}
		if (parse_opt(a, o) != 0)
			return 2;
	}
	if (optind != argc || a->p.cl.hosts < 2 || a->p.cl.hosts > SIMCL_MAX_HOSTS ||
	    !ls_io_timeout_ms_valid(a->p.cl.io_timeout_ms) || a->p.cl.p_us == 0 ||
	    a->p.cl.jitter_us >= (uint64_t)a->p.cl.io_timeout_ms * FL_US_PER_MS) {
		fprintf(stderr, "fencelock-sim: bad arguments (hosts 2..%d, io-timeout 0.1..300 s, whole seconds above "
			"65.535 s, jitter below io-timeout, P > 0)\n", SIMCL_MAX_HOSTS);
		return 2;
	}
	a->p.cl.vms = a->vms ? a->vms : 2 * a->p.cl.hosts;
	if (a->p.cl.vms > SIMCL_MAX_VMS) {
		fprintf(stderr, "fencelock-sim: at most %d VMs\n", SIMCL_MAX_VMS);
		return 2;
	}
	return -1;
}

/* What a sweep of seeds found, summed over its runs. */
struct sweep {
	struct dist fo, ho;   /* failover and hand-over times */
	uint64_t runs, bad, faults, false_fo, split, blips;
	json_t *jruns;        /* one object per run, for -o json */
	bool json;            /* -o json: no text lines per run */
};

/* Under --churn: one line per host, the largest memory accounting
 * (fencelock_arbiter_bytes), Raft disk and registry size of each half of the
 * run (first -> second). */
static void print_churn(const struct simrun_result *r, uint32_t hosts)
{
	printf("seed %" PRIu64 ": %" PRIu64 " VM moves, leadership moved from h%u to h%u\n", r->seed, r->churn_moves,
	       r->churn_leaders[0], r->churn_leaders[1]);
	for (uint32_t h = 1; h <= hosts; h++)
		printf("  h%u: memory %.1f -> %.1f KiB, Raft disk %.1f -> %.1f KiB, registry %u -> %u VMs%s\n", h,
		       (double)r->mem_max[0][h] / 1024, (double)r->mem_max[1][h] / 1024,
		       (double)r->disk_max[0][h] / 1024, (double)r->disk_max[1][h] / 1024, r->reg_max[0][h],
		       r->reg_max[1][h], r->mem_max[0][h] ? "" : " (was down: not checked)");
}

/* The options of p that the replay line must repeat besides the common ones. */
static const char *churn_args(const struct simrun_params *p)
{
	static char buf[256];
	int n = 0;
	buf[0] = '\0';
	if (p->churn_us > 0)
		n = snprintf(buf, sizeof(buf), " --churn %" PRIu64, p->churn_us / 1000000);
	if (p->cl.snapshot_every > 0 && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " --snapshot-every %" PRIu64, p->cl.snapshot_every);
	if (p->cl.io_timeout_ms != 1000 && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " --io-timeout %.3f", p->cl.io_timeout_ms / 1000.0);
	if (p->cl.jitter_us != 0 && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " --jitter %.3f", (double)p->cl.jitter_us / 1000.0);
	if (p->cl.p_us != 10000000 && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " --partition-tolerance %" PRIu64, p->cl.p_us / 1000000);
	if (p->cl.voters != 0 && n >= 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " --voters %u", p->cl.voters);
	if (p->nemesis != NEM_ALL && n >= 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, " --nemesis 0x%x", p->nemesis);
	return buf;
}

/* Runs one seed, adds it to s and prints how to replay it if it broke an invariant. */
static void sweep_one(struct sweep *s, struct simrun_params *p, uint64_t seed, const char *argv0)
{
	struct simrun_result r;
	p->cl.seed = seed;
	int rv = simrun_one(p, &r);
	s->runs++;
	s->faults += r.faults;
	s->false_fo += r.false_failovers;
	s->blips += r.blips;
	s->split += r.split_brain;
	dist_add(&s->fo, r.failover_us, r.n_failover);
	dist_add(&s->ho, r.handover_us, r.n_handover);
	if (p->churn_us > 0 && !s->json)
		print_churn(&r, p->cl.hosts);
	if (rv != 0) {
		s->bad++;
		fprintf(stderr, "fencelock-sim: seed %" PRIu64 ": %u violation(s), first at %.3f s: %s\n"
				"  replay: %s --seed %" PRIu64 " --hosts %u --vms %u --duration %" PRIu64
				"%s --trace\n",
			seed, r.violations, (double)r.first_violation_us / 1e6, r.first_violation, argv0, seed,
			p->cl.hosts, p->cl.vms, p->duration_us / 1000000, churn_args(p));
	}
	json_array_append_new(s->jruns, json_pack("{s:I,s:i,s:s,s:i,s:i,s:i,s:I}", "seed", (json_int_t)seed,
						  "violations", (int)r.violations, "first_violation",
						  r.first_violation, "faults", (int)r.faults,
						  "false_failovers", (int)r.false_failovers, "split_brain",
						  (int)r.split_brain, "starts", (json_int_t)r.starts));
}

/* Prints the sweep's report (JSON or text); takes over s->jruns. */
static void sweep_report(struct sweep *s, const struct sim_args *a)
{
	if (a->json) {
		json_t *rep = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:{s:i,s:i,s:f,s:f,s:f}}", "seeds",
					(json_int_t)s->runs, "violations", (json_int_t)s->bad, "faults",
					(json_int_t)s->faults, "blips", (json_int_t)s->blips,
					"false_failovers", (json_int_t)s->false_fo, "split_brain",
					(json_int_t)s->split, "failover", dist_json(&s->fo), "handover",
					dist_json(&s->ho), "runs", s->jruns, "params", "hosts", (int)a->p.cl.hosts, "vms",
					(int)a->p.cl.vms, "io_timeout_s", (double)a->p.cl.io_timeout_ms / 1000.0,
					"partition_tolerance_s", (double)a->p.cl.p_us / 1e6, "jitter_ms",
					(double)a->p.cl.jitter_us / 1e3);
		char *txt = json_dumps(rep, JSON_INDENT(2));
		puts(txt);
		free(txt);
		json_decref(rep);
		return;
	}
	json_decref(s->jruns);
	printf("seeds %" PRIu64 "..%" PRIu64 ": %" PRIu64 " runs, %" PRIu64 " with violations, %" PRIu64
	       " faults, %" PRIu64 " blips, %" PRIu64 " false failovers, %" PRIu64 " split-brain\n",
	       a->s0, a->s1, s->runs, s->bad, s->faults, s->blips, s->false_fo, s->split);
	printf("failover after a crash:    n=%zu p50 %.2f s  p99 %.2f s  max %.2f s\n", s->fo.n, pct(&s->fo, .5),
	       pct(&s->fo, .99), pct(&s->fo, 1));
	printf("hand-over after partition: n=%zu p50 %.1f s  p99 %.1f s  max %.1f s\n", s->ho.n, pct(&s->ho, .5),
	       pct(&s->ho, .99), pct(&s->ho, 1));
}

int main(int argc, char **argv)
{
	struct sim_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (!a.p.trace)
		fl_log_set_level(LOG_CRIT);
	struct sweep s = {.jruns = json_array(), .json = a.json};
	for (uint64_t seed = a.s0; seed <= a.s1; seed++)
		sweep_one(&s, &a.p, seed, argv[0]);
	sweep_report(&s, &a);
	free(s.fo.v);
	free(s.ho.v);
	return s.bad ? 1 : 0;
}
