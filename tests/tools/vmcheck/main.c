/* vmcheck: reads a volume written by fakevm (and optionally the fakevm logs)
 * after the fact and decides whether two writers ever overlapped in time.
 *
 * A writer is a process: (host, incarnation, nonce). Facts gathered from every
 * record on the volume (tip, alarm slots, data slots), every reference inside
 * them (seen, pred, alarm) and every log line:
 *   pred(P)   what P's first tip read found (empty volume, or Q's tip seq x);
 *   maxtip(P) the highest tip seq P is known to have written (a data record
 *             of seq s proves tip s-1: fakevm advances seq only after both
 *             writes of an iteration succeeded);
 *   alarm(P)  P read a tip it did not expect (see tests/tools/fakevm/main.c).
 * Overlap rules, each a proof from the order of writes on the tip sector
 * alone (no clock is compared):
 *   R1 alarm: P read, between two of its own operations, a tip written by Q:
 *      Q wrote while P was running;
 *   R2 predecessor wrote on: pred(P) = (Q, x) but maxtip(Q) > x: Q wrote its
 *      tip after P's first read, so Q ran on after P started;
 *   R3 fork: P and Q both started from the same predecessor and both wrote a
 *      tip: whichever wrote second had read before the other's write, i.e.
 *      while the other was running;
 *   R4 late write: the tip or a data slot holds a record of L, yet L is an
 *      ancestor (through pred) of P, which is known to have written that
 *      sector: L's write landed after P's (e.g. a write held in a stalled SAN
 *      path that reached the disk after the VM had moved).
 * A sector that is neither zero nor a valid record (bad magic or CRC, wrong
 * VM, misplaced) is corrupt: reported, never skipped. Exit 0: clean; 1: an
 * overlap was proven (corrupt sectors, if any, are reported as well); 2: no
 * overlap proven but something is corrupt or could not be read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/assert.h"
#include "tests/tools/fakevm/fvrec.h"
#include "common/version.h"

#define VC_MAX_PROCS 4096u
#define VC_MAX_ITEMS 256u       /* overlaps and corrupt sectors listed (all are counted) */
#define VC_MAX_LOG_DIRS 16u
#define VC_LINE_MAX 1024u
#define VC_TEXT_MAX 512u

struct vc_proc {
	uint32_t host;
	uint64_t inc, nonce;
	bool pred_known;
	struct fv_ref pred;
	int64_t maxtip;          /* -1: no tip write known */
	char maxtip_src[96];
	int64_t min_data, max_data; /* data record seqs seen on the volume, -1 if none */
	uint64_t records, log_lines;
	uint64_t rt_min_ns, rt_max_ns;   /* writer's CLOCK_REALTIME over its surviving records (reports only) */
	bool alarm_known;
	struct fv_ref alarm;
	uint64_t alarm_seq;
	char alarm_src[96];
};

struct vc_item {
	char rule[8];
	int a, b;                /* process indexes, -1 if none */
	char text[VC_TEXT_MAX];
};

struct vc {
	const char *volume;
	const char *log_dirs[VC_MAX_LOG_DIRS];
	unsigned n_log_dirs;
	bool json;
	char uid[FV_UID_MAX];
	uint32_t sector, nslots;
	bool have_header, have_tip;
	struct fv_rec tip;
	uint64_t n_data, n_alarm_slots;
	struct vc_proc procs[VC_MAX_PROCS];
	bool slot_valid[FV_MAX_SLOTS];     /* data slot holds a valid record */
	int slot_owner[FV_MAX_SLOTS];
	uint64_t slot_seq[FV_MAX_SLOTS];
	unsigned nprocs;
	struct vc_item overlaps[VC_MAX_ITEMS], corrupt[VC_MAX_ITEMS];
	unsigned n_overlaps, n_corrupt; /* counts; only the first VC_MAX_ITEMS are kept */
};

static struct vc g;

static void add_item(struct vc_item *items, unsigned *n, const char *rule, int a, int b, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void add_item(struct vc_item *items, unsigned *n, const char *rule, int a, int b, const char *fmt, ...)
{
	if (*n < VC_MAX_ITEMS) {
		struct vc_item *it = &items[*n];
		snprintf(it->rule, sizeof(it->rule), "%s", rule);
		it->a = a;
		it->b = b;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(it->text, sizeof(it->text), fmt, ap);
		va_end(ap);
	}
	(*n)++;
}

#define CORRUPT(...) add_item(g.corrupt, &g.n_corrupt, "corrupt", -1, -1, __VA_ARGS__)

/* Finds or adds the process (host, inc, nonce); -1 if the table is full. */
static int proc_get(uint32_t host, uint64_t inc, uint64_t nonce)
{
	for (unsigned i = 0; i < g.nprocs; i++)
		if (g.procs[i].host == host && g.procs[i].inc == inc && g.procs[i].nonce == nonce)
			return (int)i;
	if (g.nprocs == VC_MAX_PROCS) {
		CORRUPT("more than %u writers: table full, evidence may be incomplete", VC_MAX_PROCS);
		return -1;
	}
	struct vc_proc *p = &g.procs[g.nprocs];
	memset(p, 0, sizeof(*p));
	p->host = host;
	p->inc = inc;
	p->nonce = nonce;
	p->maxtip = -1;
	p->min_data = p->max_data = -1;
	return (int)g.nprocs++;
}

static int proc_of_ref(const struct fv_ref *r)
{
	return r->state == FV_REF_VALID ? proc_get(r->host, r->inc, r->nonce) : -1;
}

static const char *pname(int i, char *buf, size_t len)
{
	if (i < 0)
		snprintf(buf, len, "(none)");
	else
		snprintf(buf, len, "host %" PRIu32 " inc %" PRIu64 " [%016" PRIx64 "]", g.procs[i].host, g.procs[i].inc,
			 g.procs[i].nonce);
	return buf;
}

static void fmt_ref(char *out, size_t len, const struct fv_ref *r)
{
	if (r->state == FV_REF_VALID)
		snprintf(out, len, "host %" PRIu32 " inc %" PRIu64 " [%016" PRIx64 "] seq %" PRIu64, r->host, r->inc,
			 r->nonce, r->seq);
	else
		snprintf(out, len, "%s", r->state == FV_REF_EMPTY ? "an empty tip" : r->state == FV_REF_TORN ? "a torn tip" : "nothing");
}

/* Records that process i wrote tip seq (evidence described by src). */
static void note_tip(int i, uint64_t seq, const char *src)
{
	if (i < 0)
		return;
	struct vc_proc *p = &g.procs[i];
	if ((int64_t)seq > p->maxtip) {
		p->maxtip = (int64_t)seq;
		snprintf(p->maxtip_src, sizeof(p->maxtip_src), "%s", src);
	}
}

static void note_pred(int i, const struct fv_ref *pred, const char *src)
{
	if (i < 0 || pred->state == FV_REF_NONE)
		return;
	struct vc_proc *p = &g.procs[i];
	if (p->pred_known && !fv_ref_equal(&p->pred, pred)) {
		char n[96];
		CORRUPT("%s: %s names a different predecessor than earlier evidence", src, pname(i, n, sizeof(n)));
		return;
	}
	p->pred_known = true;
	p->pred = *pred;
	if (pred->state == FV_REF_VALID)
		note_tip(proc_of_ref(pred), pred->seq, src);
}

static void note_alarm(int i, const struct fv_ref *seen, uint64_t at_seq, const char *src)
{
	if (i < 0)
		return;
	struct vc_proc *p = &g.procs[i];
	if (p->alarm_known && p->alarm_seq <= at_seq)
		return;
	p->alarm_known = true;
	p->alarm = *seen;
	p->alarm_seq = at_seq;
	snprintf(p->alarm_src, sizeof(p->alarm_src), "%s", src);
	if (seen->state == FV_REF_VALID)
		note_tip(proc_of_ref(seen), seen->seq, src);
}

/* Takes in every fact one valid record carries. */
static void absorb_record(const struct fv_rec *r, const char *src)
{
	int i = proc_get(r->host, r->inc, r->nonce);
	if (i < 0)
		return;
	g.procs[i].records++;
	if (r->realtime_ns != 0) {
		struct vc_proc *q = &g.procs[i];
		if (q->rt_min_ns == 0 || r->realtime_ns < q->rt_min_ns)
			q->rt_min_ns = r->realtime_ns;
		if (r->realtime_ns > q->rt_max_ns)
			q->rt_max_ns = r->realtime_ns;
	}
	if (r->kind == FV_KIND_TIP)
		note_tip(i, r->seq, src);
	else if ((r->flags & FV_FLAG_EXPECT_OWN) && r->seq > 0)
		note_tip(i, r->seq - 1, src);
	if (r->kind == FV_KIND_DATA) {
		struct vc_proc *p = &g.procs[i];
		if (p->min_data < 0 || (int64_t)r->seq < p->min_data)
			p->min_data = (int64_t)r->seq;
		if ((int64_t)r->seq > p->max_data)
			p->max_data = (int64_t)r->seq;
	}
	note_pred(i, &r->pred, src);
	if (r->seen.state == FV_REF_VALID)
		note_tip(proc_of_ref(&r->seen), r->seen.seq, src);
	if (r->flags & FV_FLAG_ALARM)
		note_alarm(i, &r->alarm, r->alarm_seq, src);
}

static int read_at(int fd, uint8_t *buf, uint64_t index)
{
	ssize_t n = pread(fd, buf, g.sector, (off_t)(index * g.sector));
	if (n == (ssize_t)g.sector)
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* Reads the header; returns 0 (g.have_header says whether there is one) or -1. */
static int read_header(int fd, uint8_t *buf)
{
	/* The header's own sector size is unknown yet: 512 bytes hold its fields,
	 * and a 4096-byte header's CRC needs the full sector, so try both. */
	static const uint32_t sizes[] = {4096, 512};
	for (unsigned k = 0; k < 2; k++) {
		g.sector = sizes[k];
		ssize_t n = pread(fd, buf, g.sector, 0);
		if (n < 0) {
			fprintf(stderr, "vmcheck: read %s: %s\n", g.volume, strerror(errno));
			return -1;
		}
		if (n < (ssize_t)g.sector)
			continue;
		struct fv_rec h;
		enum fv_ref_state st = fv_decode(buf, g.sector, &h);
		if (st == FV_REF_VALID && h.kind == FV_KIND_HEADER && h.sector_size == g.sector && h.nslots > 0 &&
		    h.nslots <= FV_MAX_SLOTS) {
			g.have_header = true;
			g.nslots = h.nslots;
			memcpy(g.uid, h.uid, FV_UID_MAX);
			return 0;
		}
		if (k == 0 && fv_is_zero(buf, g.sector))
			return 0; /* never written: a clean, empty volume */
	}
	CORRUPT("sector 0: not a fakevm header (bad magic, CRC or geometry)");
	return 0;
}

static void check_sector(uint8_t *buf, uint64_t index, uint32_t want_kind)
{
	char src[96];
	snprintf(src, sizeof(src), "sector %" PRIu64 " (%s)", index,
		 want_kind == FV_KIND_TIP ? "tip" : want_kind == FV_KIND_ALARM ? "alarm slot" : "data slot");
	struct fv_rec r;
	enum fv_ref_state st = fv_decode(buf, g.sector, &r);
	if (st == FV_REF_EMPTY)
		return;
	if (st == FV_REF_TORN) {
		CORRUPT("%s: bad magic or CRC (torn or foreign sector)", src);
		return;
	}
	if (strcmp(r.uid, g.uid) != 0) {
		CORRUPT("%s: a record of vm '%s' on the volume of vm '%s'", src, r.uid, g.uid);
		return;
	}
	bool placed = r.kind == want_kind && r.nslots == g.nslots && r.sector_size == g.sector;
	if (placed && want_kind == FV_KIND_DATA)
		placed = r.slot == index - FV_DATA_START && r.seq % g.nslots == r.slot;
	if (!placed) {
		CORRUPT("%s: valid record of kind %" PRIu32 " seq %" PRIu64 " in the wrong place", src, r.kind, r.seq);
		return;
	}
	if (want_kind == FV_KIND_TIP) {
		g.have_tip = true;
		g.tip = r;
	}
	if (want_kind == FV_KIND_DATA) {
		g.n_data++;
		g.slot_valid[r.slot] = true;
		g.slot_owner[r.slot] = proc_get(r.host, r.inc, r.nonce);
		g.slot_seq[r.slot] = r.seq;
	}
	if (want_kind == FV_KIND_ALARM)
		g.n_alarm_slots++;
	absorb_record(&r, src);
}

static int read_volume(void)
{
	int fd = open(g.volume, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL)
		fd = open(g.volume, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmcheck: open %s: %s\n", g.volume, strerror(errno));
		return -1;
	}
	uint8_t *buf = NULL;
	int rv = -1;
	if (posix_memalign((void **)&buf, 4096, 4096) != 0)
		goto out;
	if (read_header(fd, buf) != 0)
		goto out;
	rv = 0;
	if (!g.have_header)
		goto out;
	uint64_t last = FV_DATA_START + (uint64_t)g.nslots;
	for (uint64_t s = 1; s < last; s++) {
		int e = read_at(fd, buf, s);
		if (e != 0) {
			CORRUPT("sector %" PRIu64 ": cannot read: %s", s, strerror(-e));
			continue;
		}
		check_sector(buf, s, s == 1 ? FV_KIND_TIP : s < FV_DATA_START ? FV_KIND_ALARM : FV_KIND_DATA);
	}
out:
	free(buf);
	close(fd);
	return rv;
}

static int parse_ref(const char *s, struct fv_ref *r)
{
	char st;
	unsigned long long inc, nonce, seq;
	unsigned int host;
	if (sscanf(s, "%c:%u:%llu:%llx:%llu", &st, &host, &inc, &nonce, &seq) != 5)
		return -1;
	*r = (struct fv_ref){.state = fv_state_from_char(st), .host = host, .inc = inc, .nonce = nonce, .seq = seq};
	return r->state == FV_REF_NONE && st != 'n' ? -1 : 0;
}

/* Parses one complete log line of process i; returns 0 or -1 (malformed). */
static int log_line(int i, const char *line, const char *src)
{
	char a[128], b[128];
	unsigned long long seq, n;
	struct fv_ref seen, pred;
	int expect_own;
	if (strncmp(line, "it ", 3) == 0) {
		if (sscanf(line, "it seq=%llu seen=%127s pred=%127s alarms=%llu", &seq, a, b, &n) != 4 ||
		    parse_ref(a, &seen) != 0 || parse_ref(b, &pred) != 0)
			return -1;
		g.procs[i].log_lines++;
		note_tip(i, seq, src);
		note_pred(i, &pred, src);
		if (seen.state == FV_REF_VALID)
			note_tip(proc_of_ref(&seen), seen.seq, src);
		return 0;
	}
	if (strncmp(line, "alarm ", 6) == 0) {
		if (sscanf(line, "alarm seq=%llu seen=%127s expect_own=%d", &seq, a, &expect_own) != 3 ||
		    parse_ref(a, &seen) != 0)
			return -1;
		note_alarm(i, &seen, seq, src);
		return 0;
	}
	return strncmp(line, "stop ", 5) == 0 ? 0 : -1;
}

static void read_log(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		CORRUPT("log %s: cannot open: %s", path, strerror(errno));
		return;
	}
	char line[VC_LINE_MAX], uid[FV_UID_MAX], src[96];
	unsigned int host;
	unsigned long long inc, nonce;
	int i = -1;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(src, sizeof(src), "log %.80s", base);
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "fakevm-log 1 vm=%63s host=%u inc=%llu nonce=%llx", uid, &host, &inc, &nonce) != 4) {
		CORRUPT("%s: no fakevm-log header line", src);
		goto out;
	}
	if (g.have_header && strcmp(uid, g.uid) != 0)
		goto out; /* another VM's log in the same directory */
	i = proc_get(host, inc, nonce);
	for (unsigned long lineno = 2; i >= 0 && fgets(line, sizeof(line), f) != NULL; lineno++) {
		size_t len = strlen(line);
		if (len == 0 || line[len - 1] != '\n')
			break; /* a last line cut by a kill: not evidence either way */
		line[len - 1] = '\0';
		if (log_line(i, line, src) != 0)
			CORRUPT("%s:%lu: malformed line '%.200s'", src, lineno, line);
	}
out:
	fclose(f);
}

static void read_logs(void)
{
	for (unsigned d = 0; d < g.n_log_dirs; d++) {
		DIR *dir = opendir(g.log_dirs[d]);
		if (dir == NULL) {
			CORRUPT("log dir %s: cannot open: %s", g.log_dirs[d], strerror(errno));
			continue;
		}
		struct dirent *e;
		while ((e = readdir(dir)) != NULL) {
			size_t len = strlen(e->d_name);
			if (strncmp(e->d_name, "fakevm-", 7) != 0 || len < 4 || strcmp(e->d_name + len - 4, ".log") != 0)
				continue;
			char path[4096];
			int n = snprintf(path, sizeof(path), "%s/%s", g.log_dirs[d], e->d_name);
			if (n > 0 && (size_t)n < sizeof(path))
				read_log(path);
		}
		closedir(dir);
	}
}

#define OVERLAP(rule, a, b, ...) add_item(g.overlaps, &g.n_overlaps, rule, a, b, __VA_ARGS__)

static void rule_alarm(void)
{
	char n1[96], n2[96];
	for (unsigned i = 0; i < g.nprocs; i++) {
		struct vc_proc *p = &g.procs[i];
		if (!p->alarm_known)
			continue;
		fmt_ref(n2, sizeof(n2), &p->alarm);
		OVERLAP("R1", (int)i, proc_of_ref(&p->alarm),
			"%s, running (at its seq %" PRIu64 "), read a tip it had not written nor started from: %s "
			"(evidence: %s)",
			pname((int)i, n1, sizeof(n1)), p->alarm_seq, n2, p->alarm_src);
	}
}

static void rule_pred(void)
{
	char n1[96], n2[96];
	for (unsigned i = 0; i < g.nprocs; i++) {
		struct vc_proc *p = &g.procs[i];
		if (!p->pred_known || p->pred.state != FV_REF_VALID)
			continue;
		int q = proc_of_ref(&p->pred);
		if (q < 0 || g.procs[q].maxtip <= (int64_t)p->pred.seq)
			continue;
		OVERLAP("R2", q, (int)i,
			"%s started after reading the tip seq %" PRIu64 " of %s, which later wrote tip seq %" PRId64
			" (evidence: %s)",
			pname((int)i, n1, sizeof(n1)), p->pred.seq, pname(q, n2, sizeof(n2)), g.procs[q].maxtip,
			g.procs[q].maxtip_src);
	}
}

static void rule_fork(void)
{
	char n1[96], n2[96], r[96];
	for (unsigned i = 0; i < g.nprocs; i++)
		for (unsigned j = i + 1; j < g.nprocs; j++) {
			struct vc_proc *p = &g.procs[i], *q = &g.procs[j];
			if (!p->pred_known || !q->pred_known || !fv_ref_equal(&p->pred, &q->pred) || p->maxtip < 0 ||
			    q->maxtip < 0)
				continue;
			fmt_ref(r, sizeof(r), &p->pred);
			OVERLAP("R3", (int)i, (int)j, "%s and %s both started from %s and both wrote the tip",
				pname((int)i, n1, sizeof(n1)), pname((int)j, n2, sizeof(n2)), r);
		}
}

/* True if anc is a strict ancestor of p through the pred chain (bounded). */
static bool is_ancestor(int anc, int p)
{
	FL_ASSERT(p >= 0);
	FL_ASSERT(p < (int)g.nprocs);
	FL_ASSERT(anc < (int)g.nprocs);
	int cur = p;
	for (unsigned step = 0; step < g.nprocs; step++) {
		const struct vc_proc *c = &g.procs[cur];
		if (!c->pred_known || c->pred.state != FV_REF_VALID)
			return false;
		cur = proc_of_ref(&c->pred);
		if (cur < 0 || cur == p)
			return false;
		if (cur == anc)
			return true;
	}
	return false;
}

/* The sector's content is by last; any descendant that is known to have
 * written this sector wrote it before last did: last wrote late. */
static void late_write_on(int last, const char *where, uint64_t seq, int64_t slot)
{
	char n1[96], n2[96];
	FL_ASSERT(slot >= 0);
	FL_ASSERT(slot < (int64_t)g.nslots);
	FL_ASSERT(last < (int)g.nprocs);
	for (unsigned i = 0; last >= 0 && i < g.nprocs; i++) {
		/* A process that advanced past seq q wrote data slot q % nslots and the
		 * tip; it wrote data slot s < nslots iff its max tip seq >= s. */
		if ((int)i == last || g.procs[i].maxtip < slot || !is_ancestor(last, (int)i))
			continue;
		OVERLAP("R4", last, (int)i,
			"%s holds seq %" PRIu64 " of %s, an ancestor of %s, which had already written that sector: "
			"a late write",
			where, seq, pname(last, n1, sizeof(n1)), pname((int)i, n2, sizeof(n2)));
	}
}

static void rule_late_write(void)
{
	if (g.have_tip)
		late_write_on(proc_get(g.tip.host, g.tip.inc, g.tip.nonce), "the tip", g.tip.seq, 0);
	for (uint32_t s = 0; s < g.nslots && s < FV_MAX_SLOTS; s++) {
		if (!g.slot_valid[s])
			continue;
		char where[48];
		snprintf(where, sizeof(where), "data slot %" PRIu32, s);
		late_write_on(g.slot_owner[s], where, g.slot_seq[s], (int64_t)s);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *verdict(void)
{
	return g.n_overlaps > 0 ? "overlap" : g.n_corrupt > 0 ? "error" : "clean";
}

static void report_json(void)
{
	printf("{\"volume\":");
	json_str(g.volume);
	printf(",\"vm\":");
	json_str(g.uid);
	printf(",\"sector\":%" PRIu32 ",\"slots\":%" PRIu32 ",\"data_records\":%" PRIu64 ",\"verdict\":\"%s\",\"writers\":[",
	       g.sector, g.nslots, g.n_data, verdict());
	for (unsigned i = 0; i < g.nprocs; i++) {
		const struct vc_proc *p = &g.procs[i];
		char r[96];
		fmt_ref(r, sizeof(r), &p->pred);
		printf("%s{\"host\":%" PRIu32 ",\"incarnation\":%" PRIu64 ",\"nonce\":\"%016" PRIx64 "\",\"max_tip_seq\":%" PRId64
		       ",\"data_seq_min\":%" PRId64 ",\"data_seq_max\":%" PRId64 ",\"records\":%" PRIu64 ",\"log_lines\":%" PRIu64
		       ",\"realtime_first_ns\":%" PRIu64 ",\"realtime_last_ns\":%" PRIu64 ",\"started_from\":",
		       i ? "," : "", p->host, p->inc, p->nonce, p->maxtip, p->min_data, p->max_data, p->records, p->log_lines,
		       p->rt_min_ns, p->rt_max_ns);
		json_str(p->pred_known ? r : "unknown");
		printf(",\"alarm\":%s}", p->alarm_known ? "true" : "false");
	}
	printf("],\"overlaps\":[");
	for (unsigned i = 0; i < g.n_overlaps && i < VC_MAX_ITEMS; i++) {
		printf("%s{\"rule\":\"%s\",\"evidence\":", i ? "," : "", g.overlaps[i].rule);
		json_str(g.overlaps[i].text);
		printf("}");
	}
	printf("],\"overlap_count\":%u,\"corrupt\":[", g.n_overlaps);
	for (unsigned i = 0; i < g.n_corrupt && i < VC_MAX_ITEMS; i++) {
		printf("%s", i ? "," : "");
		json_str(g.corrupt[i].text);
	}
	printf("],\"corrupt_count\":%u}\n", g.n_corrupt);
}

/* A writer's CLOCK_REALTIME as UTC HH:MM:SS.mmm, for people reading a report:
 * never used to decide anything (hosts' clocks are not compared). */
static void fmt_time(char *out, size_t len, uint64_t ns)
{
	if (ns == 0) {
		snprintf(out, len, "-");
		return;
	}
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;
	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out, len, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ns % 1000000000ull / 1000000ull));
}

static void report_text(void)
{
	printf("volume %s: vm '%s', sector %" PRIu32 ", %" PRIu32 " slots, %" PRIu64 " data records, %" PRIu64
	       " alarm records\n",
	       g.volume, g.have_header ? g.uid : "(no header: never written)", g.sector, g.nslots, g.n_data,
	       g.n_alarm_slots);
	for (unsigned i = 0; i < g.nprocs; i++) {
		const struct vc_proc *p = &g.procs[i];
		char n[96], r[96], d[64];
		fmt_ref(r, sizeof(r), &p->pred);
		if (p->max_data < 0)
			snprintf(d, sizeof(d), "none");
		else
			snprintf(d, sizeof(d), "%" PRId64 "..%" PRId64, p->min_data, p->max_data);
		char t0[32], t1[32];
		fmt_time(t0, sizeof(t0), p->rt_min_ns);
		fmt_time(t1, sizeof(t1), p->rt_max_ns);
		printf("writer %s: tip writes up to seq %" PRId64 ", data seqs %s on the volume (its clock: %s..%s), %" PRIu64
		       " log lines, started from %s\n",
		       pname((int)i, n, sizeof(n)), p->maxtip, d, t0, t1, p->log_lines, p->pred_known ? r : "(unknown)");
	}
	for (unsigned i = 0; i < g.n_overlaps && i < VC_MAX_ITEMS; i++)
		printf("OVERLAP %s: %s\n", g.overlaps[i].rule, g.overlaps[i].text);
	for (unsigned i = 0; i < g.n_corrupt && i < VC_MAX_ITEMS; i++)
		printf("CORRUPT: %s\n", g.corrupt[i].text);
	if (g.n_overlaps > VC_MAX_ITEMS || g.n_corrupt > VC_MAX_ITEMS)
		printf("(lists cut at %u items)\n", VC_MAX_ITEMS);
	printf("vmcheck: %s: %u overlap proofs, %u corrupt\n", verdict(), g.n_overlaps, g.n_corrupt);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmcheck --volume PATH [--logs DIR...] [-o text|json]\n"
		   "Proves from a fakevm volume (and its logs) whether two writers overlapped in time.\n"
		   "Exit: 0 clean, 1 overlap proven, 2 corrupt record or read error (no overlap proven).\n");
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--volume") == 0 && i + 1 < argc)
			g.volume = argv[++i];
		else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "json") == 0)
				g.json = true;
			else if (strcmp(argv[i], "text") != 0)
				return -1;
		} else if (strcmp(a, "--logs") == 0 && i + 1 < argc) {
			while (i + 1 < argc && argv[i + 1][0] != '-') {
				if (g.n_log_dirs == VC_MAX_LOG_DIRS)
					return -1;
				g.log_dirs[g.n_log_dirs++] = argv[++i];
			}
		} else
			return -1;
	}
	return g.volume == NULL ? -1 : 0;
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "vmcheck");
	if (parse_args(argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	if (read_volume() != 0)
		return 2;
	read_logs();
	rule_alarm();
	rule_pred();
	rule_fork();
	rule_late_write();
	if (g.json)
		report_json();
	else
		report_text();
	return g.n_overlaps > 0 ? 1 : g.n_corrupt > 0 ? 2 : 0;
}
