/* fakevm: a stand-in for a microVM that keeps writing tagged records to its
 * volume (O_DIRECT|O_DSYNC), so that vmcheck can later prove from the volume
 * (and the per-process logs) whether two incarnations of the VM ever wrote it
 * at the same time (invariant I1: never two writers on one volume).
 *
 * Why a "tip" sector. Round-robin data slots alone cannot show overlap: two
 * writers working on disjoint slots leave contents that a serial history could
 * also have produced. So every iteration also goes through one shared sector,
 * the tip: (1) read the tip; (2) write the data record to slot seq % nslots;
 * (3) write the same record to the tip; then seq++. Reads and writes of one
 * sector are linearizable (O_DIRECT|O_DSYNC on one file), so a read returns
 * the last tip write completed before it. What the writer expects to read:
 *   - before its first successful tip write: exactly what its first read
 *     found (its predecessor, "pred", kept in every record);
 *   - after it: its own tip (same incarnation and nonce).
 * Anything else means another process wrote the tip between two operations of
 * this one, i.e. while this one was running: the writer raises an alarm that
 * it keeps in every later record (sticky), copies to an alarm slot that
 * ordinary writes never touch, and logs. No clock is compared: the evidence is
 * the order of writes on one sector. vmcheck adds what the writer cannot see
 * itself (e.g. the predecessor writing again after our first read, two
 * processes that both started from the same predecessor, a late write of an
 * old incarnation landing after the last read) - see tests/tools/vmcheck.
 * A data record's seq s proves tip s-1 was written: seq advances only after
 * both writes of an iteration succeeded; a failed I/O retries the iteration.
 * SIGTERM/SIGINT finish the current iteration, then exit 0. The log (one file
 * per process in --log-dir) is append-only text, one line per iteration. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/assert.h"
#include "tests/tools/fakevm/fvrec.h"
#include "common/version.h"

#define FAKEVM_MAX_INTERVAL_MS 60000u
#define FAKEVM_ERR_REPORT_EVERY 50u  /* repeated I/O errors or alarms: one line in N */

struct fakevm {
	const char *volume, *log_dir, *log_file;
	char uid[FV_UID_MAX];
	uint32_t host, interval_ms, sector, nslots;
	uint64_t inc, nonce, count;
	int fd;
	FILE *log;
	uint8_t *buf;
	/* writer state */
	uint64_t seq;
	bool have_own_tip, pred_set;
	struct fv_ref pred, alarm;
	uint64_t alarm_seq, alarm_count;
	uint64_t io_errors;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fakevm --volume PATH --vm UID --host ID --incarnation N\n"
		   "              [--interval-ms 20] [--sector 4096] [--slots 256] [--log-dir DIR | --log-file PATH]\n"
		   "              [--count N]\n"
		   "Writes tagged records to PATH (O_DIRECT|O_DSYNC) until SIGTERM (or N iterations).\n"
		   "Layout and detection: see the top of tests/tools/fakevm/main.c; check with vmcheck.\n"
		   "Exit: 0 stopped cleanly, 2 bad arguments or the volume cannot be used.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(struct fakevm *vm, int argc, char **argv)
{
	uint64_t v;
	bool have_host = false, have_inc = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (val == NULL) {
			fprintf(stderr, "fakevm: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--volume") == 0)
			vm->volume = val;
		else if (strcmp(a, "--log-dir") == 0)
			vm->log_dir = val;
		else if (strcmp(a, "--log-file") == 0)
			vm->log_file = val;
		else if (strcmp(a, "--vm") == 0) {
			if (strlen(val) == 0 || strlen(val) >= FV_UID_MAX) {
				fprintf(stderr, "fakevm: --vm must be 1..%u bytes\n", FV_UID_MAX - 1);
				return -1;
			}
			for (const char *p = val; *p; p++)
				if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\') {
					fprintf(stderr, "fakevm: --vm '%s': printable characters only, no quotes\n", val);
					return -1;
				}
			snprintf(vm->uid, sizeof(vm->uid), "%s", val);
		} else if (strcmp(a, "--host") == 0 && parse_u64(val, UINT32_MAX, &v) == 0 && v > 0) {
			vm->host = (uint32_t)v;
			have_host = true;
		} else if (strcmp(a, "--incarnation") == 0 && parse_u64(val, UINT64_MAX, &v) == 0) {
			vm->inc = v;
			have_inc = true;
		} else if (strcmp(a, "--interval-ms") == 0 && parse_u64(val, FAKEVM_MAX_INTERVAL_MS, &v) == 0)
			vm->interval_ms = (uint32_t)v;
		else if (strcmp(a, "--sector") == 0 && parse_u64(val, 4096, &v) == 0 && (v == 512 || v == 4096))
			vm->sector = (uint32_t)v;
		else if (strcmp(a, "--slots") == 0 && parse_u64(val, FV_MAX_SLOTS, &v) == 0 && v > 0)
			vm->nslots = (uint32_t)v;
		else if (strcmp(a, "--count") == 0 && parse_u64(val, UINT64_MAX, &v) == 0)
			vm->count = v;
		else {
			fprintf(stderr, "fakevm: bad option or value: %s %s\n", a, val);
			return -1;
		}
	}
	if (vm->volume == NULL || vm->uid[0] == '\0' || !have_host || !have_inc) {
		fprintf(stderr, "fakevm: --volume, --vm, --host and --incarnation are required\n");
		return -1;
	}
	return 0;
}

static int read_sector(struct fakevm *vm, uint64_t index)
{
	ssize_t n = pread(vm->fd, vm->buf, vm->sector, (off_t)(index * vm->sector));
	if (n == (ssize_t)vm->sector)
		return 0;
	return n < 0 ? -errno : -EIO;
}

static int write_sector(struct fakevm *vm, uint64_t index)
{
	ssize_t n = pwrite(vm->fd, vm->buf, vm->sector, (off_t)(index * vm->sector));
	if (n == (ssize_t)vm->sector)
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* Writes the header if the volume has none; checks it otherwise. */
static int setup_header(struct fakevm *vm)
{
	int rv = read_sector(vm, 0);
	if (rv != 0) {
		fprintf(stderr, "fakevm: read header of %s: %s\n", vm->volume, strerror(-rv));
		return rv;
	}
	struct fv_rec h;
	enum fv_ref_state st = fv_decode(vm->buf, vm->sector, &h);
	if (st == FV_REF_VALID) {
		if (h.kind != FV_KIND_HEADER || h.sector_size != vm->sector || h.nslots != vm->nslots ||
		    strcmp(h.uid, vm->uid) != 0) {
			fprintf(stderr,
				"fakevm: %s holds a fakevm header for vm '%s' (sector %u, %u slots); "
				"this run wants vm '%s' (sector %u, %u slots): use a fresh volume\n",
				vm->volume, h.uid, h.sector_size, h.nslots, vm->uid, vm->sector, vm->nslots);
			return -EINVAL;
		}
		return 0;
	}
	if (st == FV_REF_TORN) {
		/* A 512-byte header read through a 4096-byte sector fails the CRC:
		 * name the geometry rather than calling the volume foreign. */
		if (vm->sector == 4096 && fv_decode(vm->buf, 512, &h) == FV_REF_VALID && h.kind == FV_KIND_HEADER)
			fprintf(stderr, "fakevm: %s holds a fakevm header with 512-byte sectors: pass --sector 512\n",
				vm->volume);
		else
			fprintf(stderr, "fakevm: %s: sector 0 is neither empty nor a fakevm header; refusing to write\n",
				vm->volume);
		return -EINVAL;
	}
	struct fv_rec hdr = {.kind = FV_KIND_HEADER, .host = vm->host, .inc = vm->inc, .nonce = vm->nonce,
			     .nslots = vm->nslots, .sector_size = vm->sector,
			     .realtime_ns = now_ns(CLOCK_REALTIME), .mono_ns = now_ns(CLOCK_MONOTONIC)};
	memcpy(hdr.uid, vm->uid, FV_UID_MAX);
	fv_encode(&hdr, vm->buf, vm->sector);
	rv = write_sector(vm, 0);
	if (rv != 0)
		fprintf(stderr, "fakevm: write header of %s: %s\n", vm->volume, strerror(-rv));
	return rv;
}

static int open_volume(struct fakevm *vm)
{
	vm->fd = open(vm->volume, O_RDWR | O_CREAT | O_DIRECT | O_DSYNC | O_CLOEXEC, 0600);
	if (vm->fd < 0) {
		int e = errno;
		fprintf(stderr, "fakevm: open %s with O_DIRECT|O_DSYNC: %s%s\n", vm->volume, strerror(e),
			e == EINVAL ? " (this filesystem has no O_DIRECT: use a real one, not tmpfs)" : "");
		return -e;
	}
	struct stat st;
	uint64_t need = (uint64_t)(FV_DATA_START + vm->nslots) * vm->sector;
	if (fstat(vm->fd, &st) != 0)
		return -errno;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < need && ftruncate(vm->fd, (off_t)need) != 0) {
		fprintf(stderr, "fakevm: extend %s to %" PRIu64 " bytes: %s\n", vm->volume, need, strerror(errno));
		return -errno;
	}
	if (posix_memalign((void **)&vm->buf, 4096, vm->sector) != 0) {
		fprintf(stderr, "fakevm: out of memory\n");
		return -ENOMEM;
	}
	return setup_header(vm);
}

static void fmt_ref(char *out, size_t len, const struct fv_ref *r)
{
	snprintf(out, len, "%c:%" PRIu32 ":%" PRIu64 ":%016" PRIx64 ":%" PRIu64, fv_state_char(r->state), r->host,
		 r->inc, r->nonce, r->seq);
}

/* The log's path: --log-file as given (a guest's serial port, named by the
 * host), or a file of its own in --log-dir named after the process. */
static int log_path(const struct fakevm *vm, char *path, size_t len)
{
	if (vm->log_file != NULL) {
		int n = snprintf(path, len, "%s", vm->log_file);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	int n = snprintf(path, len, "%s/fakevm-%s-h%" PRIu32 "-i%" PRIu64 "-%016" PRIx64 ".log",
			 vm->log_dir, vm->uid, vm->host, vm->inc, vm->nonce);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (char *p = path + strlen(vm->log_dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	return 0;
}

static int open_log(struct fakevm *vm)
{
	if (vm->log_dir == NULL && vm->log_file == NULL)
		return 0;
	char path[4096];
	if (log_path(vm, path, sizeof(path)) != 0) {
		fprintf(stderr, "fakevm: log path too long\n");
		return -ENAMETOOLONG;
	}
	vm->log = fopen(path, "a");
	if (vm->log == NULL) {
		fprintf(stderr, "fakevm: open log %s: %s\n", path, strerror(errno));
		return -errno;
	}
	setvbuf(vm->log, NULL, _IOLBF, 0);
	fprintf(vm->log, "fakevm-log 1 vm=%s host=%" PRIu32 " inc=%" PRIu64 " nonce=%016" PRIx64 " volume=%s\n",
		vm->uid, vm->host, vm->inc, vm->nonce, vm->volume);
	return 0;
}

/* Compares what the tip read found with what this writer expects there;
 * raises the (sticky) alarm on anything else. Returns true on alarm. */
static bool check_tip(struct fakevm *vm, const struct fv_ref *seen)
{
	FL_ASSERT(vm->pred_set || !vm->have_own_tip); /* our first tip write follows our first read */
	if (!vm->pred_set) {
		vm->pred = *seen;
		vm->pred_set = true;
		return false;
	}
	bool ok = vm->have_own_tip ? fv_same_writer(seen, vm->host, vm->inc, vm->nonce)
				   : fv_ref_equal(seen, &vm->pred);
	if (ok)
		return false;
	if (vm->alarm_count == 0) {
		vm->alarm = *seen;
		vm->alarm_seq = vm->seq;
	}
	vm->alarm_count++;
	char s[128];
	fmt_ref(s, sizeof(s), seen);
	if (vm->alarm_count % FAKEVM_ERR_REPORT_EVERY == 1)
		fprintf(stderr, "fakevm: vm %s host %" PRIu32 " inc %" PRIu64 ": OVERLAP: tip read at seq %" PRIu64
				" found %s, expected %s (alarm %" PRIu64 ")\n",
			vm->uid, vm->host, vm->inc, vm->seq, s, vm->have_own_tip ? "our own" : "our predecessor",
			vm->alarm_count);
	if (vm->log != NULL)
		fprintf(vm->log, "alarm seq=%" PRIu64 " seen=%s expect_own=%d\n", vm->seq, s, vm->have_own_tip);
	return true;
}

static void build_rec(const struct fakevm *vm, struct fv_rec *r, uint32_t kind, const struct fv_ref *seen)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	memcpy(r->uid, vm->uid, FV_UID_MAX);
	r->host = vm->host;
	r->flags = (vm->have_own_tip ? FV_FLAG_EXPECT_OWN : 0u) | (vm->alarm_count > 0 ? FV_FLAG_ALARM : 0u);
	r->inc = vm->inc;
	r->nonce = vm->nonce;
	r->seq = vm->seq;
	r->slot = (uint32_t)(vm->seq % vm->nslots);
	r->nslots = vm->nslots;
	r->sector_size = vm->sector;
	r->realtime_ns = now_ns(CLOCK_REALTIME);
	r->mono_ns = now_ns(CLOCK_MONOTONIC);
	r->seen = *seen;
	r->pred = vm->pred;
	r->alarm = vm->alarm;
	r->alarm_seq = vm->alarm_seq;
	r->alarm_count = vm->alarm_count;
}

static void io_error(struct fakevm *vm, const char *what, int rv)
{
	if (vm->io_errors++ % FAKEVM_ERR_REPORT_EVERY == 0)
		fprintf(stderr, "fakevm: vm %s: %s at seq %" PRIu64 ": %s (%" PRIu64 " I/O errors so far; retrying)\n",
			vm->uid, what, vm->seq, strerror(-rv), vm->io_errors);
}

/* One iteration: read tip, write data slot, write tip. Returns 0 when seq
 * advanced, or a negative errno (the iteration is retried). */
static int iterate(struct fakevm *vm)
{
	int rv = read_sector(vm, 1);
	if (rv != 0) {
		io_error(vm, "tip read", rv);
		return rv;
	}
	struct fv_rec tip;
	struct fv_ref seen = {.state = fv_decode(vm->buf, vm->sector, &tip)};
	if (seen.state == FV_REF_VALID)
		seen = (struct fv_ref){.state = FV_REF_VALID, .host = tip.host, .inc = tip.inc, .nonce = tip.nonce,
				       .seq = tip.seq};
	bool alarm = check_tip(vm, &seen);
	struct fv_rec r;
	if (alarm) {
		build_rec(vm, &r, FV_KIND_ALARM, &seen);
		fv_encode(&r, vm->buf, vm->sector);
		rv = write_sector(vm, 2 + vm->nonce % FV_ALARM_SLOTS);
		if (rv != 0)
			io_error(vm, "alarm write", rv);
	}
	build_rec(vm, &r, FV_KIND_DATA, &seen);
	fv_encode(&r, vm->buf, vm->sector);
	struct fv_rec chk;  /* what we write must read back as this very record */
	FL_ASSERT(fv_decode(vm->buf, vm->sector, &chk) == FV_REF_VALID);
	FL_ASSERT(chk.seq == vm->seq);
	FL_ASSERT(chk.slot == r.slot);
	FL_ASSERT(r.slot < vm->nslots);
	rv = write_sector(vm, FV_DATA_START + r.slot);
	if (rv != 0) {
		io_error(vm, "data write", rv);
		return rv;
	}
	r.kind = FV_KIND_TIP;
	fv_encode(&r, vm->buf, vm->sector);
	rv = write_sector(vm, 1);
	if (rv != 0) {
		io_error(vm, "tip write", rv);
		return rv;
	}
	vm->have_own_tip = true;
	if (vm->log != NULL) {
		char s[128], p[128];
		fmt_ref(s, sizeof(s), &seen);
		fmt_ref(p, sizeof(p), &vm->pred);
		fprintf(vm->log, "it seq=%" PRIu64 " seen=%s pred=%s alarms=%" PRIu64 " mono_ns=%" PRIu64 "\n", vm->seq,
			s, p, vm->alarm_count, r.mono_ns);
	}
	vm->seq++;
	return 0;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	/* EINTR (our stop signal) ends the sleep early: that is what we want. */
	nanosleep(&ts, NULL);
}

static uint64_t make_nonce(void)
{
	uint64_t n = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			n = 0;
		close(fd);
	}
	if (n == 0)
		n = now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	return n;
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "fakevm");
	struct fakevm vm = {.interval_ms = 20, .sector = 4096, .nslots = FV_DEFAULT_SLOTS, .fd = -1};
	if (parse_args(&vm, argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	vm.nonce = make_nonce();
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (open_volume(&vm) != 0 || open_log(&vm) != 0)
		return 2;
	printf("fakevm: vm=%s host=%" PRIu32 " inc=%" PRIu64 " nonce=%016" PRIx64 " pid=%d volume=%s\n", vm.uid,
	       vm.host, vm.inc, vm.nonce, (int)getpid(), vm.volume);
	fflush(stdout);
	while (!g_stop && (vm.count == 0 || vm.seq < vm.count)) {
		iterate(&vm);
		if (!g_stop && vm.interval_ms > 0)
			sleep_ms(vm.interval_ms);
	}
	printf("fakevm: vm=%s inc=%" PRIu64 " stopped after %" PRIu64 " writes, %" PRIu64 " alarms, %" PRIu64
	       " I/O errors\n",
	       vm.uid, vm.inc, vm.seq, vm.alarm_count, vm.io_errors);
	if (vm.log != NULL) {
		fprintf(vm.log, "stop seq=%" PRIu64 " alarms=%" PRIu64 "\n", vm.seq, vm.alarm_count);
		fclose(vm.log);
	}
	free(vm.buf);
	close(vm.fd);
	return 0;
}
