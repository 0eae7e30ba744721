/* `fencelock doctor [--device PATH] [--config PATH] [--io-timeout MS]`: a
 * preflight of this host before it joins a cluster. Each check prints one
 * finding (OK, WARN or FAIL) with what to do: the shared device opens with
 * O_DIRECT, its logical and physical sector sizes, renewal-like reads (one
 * sector of the lockspace area, as a renewal reads it) timed against T,
 * with a progress line, multipath fast_io_fail_tmo where present, the
 * watchdog device, run_dir on a tmpfs, and every configured peer's Raft port
 * reachable over TCP. Reads only: nothing is ever written to the device (a
 * write test could undo another host's renewal on a live cluster).
 * Exit 0 when nothing failed (warnings allowed), 1 when a check failed,
 * 2 on a bad command line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "common/assert.h"
#include "disklock/layout.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/cfg_syntax.h"
#include "plugin/host/config.h"

#define DOCTOR_SAMPLES 200u
#define DOCTOR_HEADER_OFFSET (1u << 20) /* the fencelock header: 1 MiB into the device */

struct doctor {
	const char *device, *config;
	uint32_t io_timeout_ms;    /* T: --io-timeout, else the device header, else 1000 */
	struct fl_config cfg;
	bool have_cfg;
	unsigned fails, warns;
};

static void finding(struct doctor *dr, const char *level, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void finding(struct doctor *dr, const char *level, const char *what, const char *fmt, ...)
{
	va_list ap;
	dr->fails += strcmp(level, "FAIL") == 0;
	dr->warns += strcmp(level, "WARN") == 0;
	printf("%-4s  %-16s ", level, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void doctor_usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock doctor [--device PATH] [--config PATH] [--io-timeout DURATION]\n"
		"\n"
		"Preflight of this host before it joins a cluster: the shared device with O_DIRECT,\n"
		"its sector sizes, renewal-like read latency percentiles against T (a progress line\n"
		"while it measures), multipath fast_io_fail_tmo, the watchdog, run_dir on a tmpfs,\n"
		"every configured peer's Raft port. Each finding says what to do. Reads only.\n"
		"\n"
		"  -d, --device PATH     the shared device (default: [cluster] device of the config)\n"
		"  -c, --config PATH     fencelockd's configuration (default /etc/fencelock/fencelock.conf,\n"
		"                        if it exists)\n"
		"  -T, --io-timeout DURATION  T to compare with, as in the configuration (500ms, 2s;\n"
		"                        default: the device header's, else 1s); the latency\n"
		"                        finding also proposes the smallest T this storage allows\n"
		"  -h, --help            this text\n"
		"\nexit: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad command line\n\n%s",
		fl_cli_exit_codes_text);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sector sizes and the header's T; returns the logical sector size (0 on failure). */
static uint32_t doctor_sectors(struct doctor *dr, int fd)
{
	struct stat st;
	int lss = 512;
	unsigned pbs = 512;
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKSSZGET, &lss) != 0 || ioctl(fd, BLKPBSZGET, &pbs) != 0) {
			finding(dr, "FAIL", "sector size", "BLKSSZGET/BLKPBSZGET failed: %s", strerror(errno));
			return 0;
		}
		finding(dr, pbs > (unsigned)lss ? "WARN" : "OK", "sector size",
			"logical %d, physical %u bytes%s", lss, pbs,
			pbs > (unsigned)lss ? ": writes smaller than the physical sector are read-modify-write; "
					      "format with 4096-byte sectors if the array allows" : "");
	} else {
		finding(dr, "WARN", "device type", "%s is a regular file, not a block device: for tests on one machine "
			"only (every host must see the same LUN)", dr->device);
	}
	uint8_t *buf = NULL;
	struct lay_layout l;
	if (posix_memalign((void **)&buf, 4096, 4096) == 0 &&
	    pread(fd, buf, (size_t)lss, DOCTOR_HEADER_OFFSET) == lss && lay_header_decode(buf, &l) == 0) {
		finding(dr, "OK", "fencelock header", "cluster %s, io_timeout %u ms, %u hosts, %u volume slots", l.cluster,
			l.io_timeout_ms, l.max_hosts, l.volume_slots);
		if (dr->io_timeout_ms == 0)
			dr->io_timeout_ms = l.io_timeout_ms;
	} else {
		finding(dr, "WARN", "fencelock header", "none on %s: format it once (fencelock direct format "
			"--device %s --cluster NAME)", dr->device, dr->device);
	}
	free(buf);
	return (uint32_t)lss;
}

/* The smallest T the measured reads allow: p99 at most T/10 and the slowest
 * read at most T/2 (the margins docs/design.md asks of the lease loop), at
 * least 100 ms, rounded up to 50 ms. The storage path's own failover time
 * (multipath switch) is not seen by idle reads: T must cover it too. */
static void doctor_propose_t(struct doctor *dr, double p99, double max)
{
	double need = p99 * 10.0 > max * 2.0 ? p99 * 10.0 : max * 2.0;
	if (need < 100.0)
		need = 100.0;
	uint32_t t = ((uint32_t)need + 49u) / 50u * 50u;
	FL_ASSERT(t >= 100);
	finding(dr, "INFO", "proposed T", "io_timeout = %ums would fit these reads (p99 <= T/10, max <= T/2); "
		"make it at least the storage path's failover time (multipath switch), and keep 1s unless "
		"a faster failover is worth it (docs/operations.md, choosing T)", t);
}

/* Renewal-like reads: one sector at a time, O_DIRECT, timed. */
static void doctor_latency(struct doctor *dr, int fd, uint32_t sector)
{
	double lat[DOCTOR_SAMPLES];
	uint8_t *buf = NULL;
	if (posix_memalign((void **)&buf, 4096, sector) != 0)
		return;
	uint32_t n = 0;
	for (; n < DOCTOR_SAMPLES; n++) {
		double t0 = now_ms();
		if (pread(fd, buf, sector, (off_t)(n % 64u) * sector) != (ssize_t)sector) {
			finding(dr, "FAIL", "read latency", "read %u failed: %s", n, strerror(errno));
			break;
		}
		lat[n] = now_ms() - t0;
		if (n % 20u == 19u && isatty(STDERR_FILENO))
			fprintf(stderr, "\rmeasuring renewal-like reads: %u/%u", n + 1, DOCTOR_SAMPLES);
		usleep(5000);
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r%40s\r", "");
	free(buf);
	if (n == 0)
		return;
	qsort(lat, n, sizeof(lat[0]), cmp_double);
	double p50 = lat[n / 2], p99 = lat[(n * 99u) / 100u], max = lat[n - 1], t = (double)dr->io_timeout_ms;
	const char *lvl = max > t / 2 ? "FAIL" : p99 > t / 10 ? "WARN" : "OK";
	finding(dr, lvl, "read latency", "%u reads: p50 %.3f ms, p99 %.3f ms, max %.3f ms against T = %u ms%s", n, p50,
		p99, max, dr->io_timeout_ms,
		max > t / 2 ? ": the slowest read took more than T/2, so renewals would miss; fix the storage path "
			      "or raise io_timeout" :
		p99 > t / 10 ? ": p99 above T/10 leaves little margin; check the path and multipath settings" : "");
	doctor_propose_t(dr, p99, max);
}

/* fast_io_fail_tmo of FC remote ports, where the kernel shows them. */
static void doctor_multipath(struct doctor *dr)
{
	char seen[3][32];
	size_t n_seen = 0;
	glob_t g;
	if (glob("/sys/class/fc_remote_ports/*/fast_io_fail_tmo", 0, NULL, &g) != 0)
		g.gl_pathc = 0;
	for (size_t i = 0; i < g.gl_pathc && n_seen < FL_ARRAY_SIZE(seen); i++) {
		char line[32] = "";
		FILE *f = fopen(g.gl_pathv[i], "r");
		bool ok = f != NULL && fgets(line, sizeof(line), f) != NULL;
		if (f != NULL)
			fclose(f);
		line[strcspn(line, "\n")] = '\0';
		bool dup = false;
		for (size_t k = 0; k < n_seen; k++)
			dup = dup || strcmp(seen[k], line) == 0;
		if (!ok || line[0] == '\0' || dup)
			continue;
		snprintf(seen[n_seen++], sizeof(seen[0]), "%s", line);
		long v = strtol(line, NULL, 10);
		finding(dr, strcmp(line, "off") == 0 || v * 1000 > (long)dr->io_timeout_ms ? "WARN" : "OK",
			"fast_io_fail_tmo", "FC remote ports: %s s (set it, and no_path_retry in multipath.conf, so "
			"that I/O fails within T rather than queueing)", line);
	}
	if (g.gl_pathc > 0)
		globfree(&g);
	if (n_seen == 0)
		finding(dr, "OK", "multipath", "no FC remote ports here; with multipath, set fast_io_fail_tmo and "
			"no_path_retry so that I/O fails within T");
}

static void doctor_device(struct doctor *dr)
{
	if (dr->device == NULL) {
		finding(dr, "WARN", "device", "none given (--device PATH, or a config with [cluster] device)");
		return;
	}
	int fd = open(dr->device, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		finding(dr, "FAIL", "O_DIRECT open", "%s: %s: %s", dr->device, strerror(errno),
			errno == EINVAL ? "the file system does not support O_DIRECT; use a block device" :
			"check the path (use /dev/disk/by-id/... or /dev/mapper/...) and permissions");
		return;
	}
	finding(dr, "OK", "O_DIRECT open", "%s", dr->device);
	uint32_t sector = doctor_sectors(dr, fd);
	if (dr->io_timeout_ms == 0)
		dr->io_timeout_ms = LAY_DEFAULT_IO_TIMEOUT_MS;
	if (sector != 0)
		doctor_latency(dr, fd, sector);
	close(fd);
	doctor_multipath(dr);
}

static void doctor_host(struct doctor *dr)
{
	const char *wd = dr->have_cfg && dr->cfg.watchdog_device[0] ? dr->cfg.watchdog_device : "/dev/watchdog";
	if (dr->have_cfg && dr->cfg.watchdog == CFG_WATCHDOG_OFF)
		finding(dr, "WARN", "watchdog", "watchdog = off: a hung kernel is not reset before others take its leases");
	else if (access(wd, F_OK) != 0)
		finding(dr, "WARN", "watchdog", "no %s: load the board's watchdog driver (or modprobe softdog), or set "
			"watchdog = off to say this is meant", wd);
	else
		finding(dr, "OK", "watchdog", "%s present", wd);
	const char *run = dr->have_cfg ? dr->cfg.run_dir : "/run/fencelock";
	struct statfs sf;
	const char *probe = statfs(run, &sf) == 0 ? run : "/run";
	if (statfs(probe, &sf) != 0)
		finding(dr, "WARN", "run_dir", "cannot check %s: %s", run, strerror(errno));
	else if (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)
		finding(dr, "FAIL", "run_dir", "%s%s%s is not on a tmpfs: guard files would survive a reboot; use a "
			"directory on a tmpfs (/run/fencelock under systemd)", run, probe != run ? " (its parent " : "",
			probe != run ? "/run)" : "");
	else
		finding(dr, "OK", "run_dir", "%s on a tmpfs", probe);
}

/* A TCP connect to addr within timeout_ms: 0, or an errno. */
static int tcp_probe(const struct sockaddr_in *addr, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int e = 0;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
		e = errno;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		socklen_t len = sizeof(e);
		if (e == EINPROGRESS)
			e = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 ? e
											: ETIMEDOUT;
	}
	close(fd);
	return e;
}

static void doctor_peers(struct doctor *dr)
{
	if (!dr->have_cfg) {
		finding(dr, "WARN", "peers", "no configuration read (--config PATH): peers not checked");
		return;
	}
	for (uint32_t i = 0; i < dr->cfg.n_peers; i++) {
		const struct cfg_peer *p = &dr->cfg.peers[i];
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &p->addr.sin_addr, ip, sizeof(ip));
		if (p->id == dr->cfg.host_id)
			continue;
		int e = tcp_probe(&p->addr, 1000);
		if (e == 0)
			finding(dr, "OK", "peer", "%u at %s:%u reachable", p->id, ip, ntohs(p->addr.sin_port));
		else
			finding(dr, "FAIL", "peer", "%u at %s:%u: %s: check the network, the firewall (TCP %u) and that "
				"its fencelockd runs", p->id, ip, ntohs(p->addr.sin_port), strerror(e), ntohs(p->addr.sin_port));
	}
}

static int doctor_parse(int argc, char **argv, struct doctor *dr)
{
	static const struct option lo[] = {{"device", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
					   {"io-timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:c:T:h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dr->device = optarg; break;
		case 'c': dr->config = optarg; break;
		case 'T':
			if (cfg_parse_duration_ms(optarg, 300000, &dr->io_timeout_ms) != 0 || dr->io_timeout_ms < 100)
				return -1;
			break;
		case 'h': doctor_usage(stdout); exit(FL_EXIT_OK);
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int fl_cli_doctor(int argc, char **argv)
{
	static struct doctor dr;
	char err[512];
	if (doctor_parse(argc, argv, &dr) != 0) {
		doctor_usage(stderr);
		return FL_EXIT_USAGE;
	}
	const char *cfg = dr.config != NULL ? dr.config : "/etc/fencelock/fencelock.conf";
	if (dr.config != NULL || access(cfg, F_OK) == 0) {
		dr.have_cfg = cfg_load(cfg, &dr.cfg, err, sizeof(err)) == 0;
		if (dr.have_cfg)
			finding(&dr, "OK", "config", "%s: host %u (%s) of cluster %s", cfg, dr.cfg.host_id, dr.cfg.host_name,
				dr.cfg.cluster_name);
		else
			finding(&dr, "FAIL", "config", "%s", err);
	}
	if (dr.device == NULL && dr.have_cfg)
		dr.device = dr.cfg.device;
	doctor_device(&dr);
	doctor_host(&dr);
	doctor_peers(&dr);
	printf("\n%u failed, %u warning(s)\n", dr.fails, dr.warns);
	return dr.fails > 0 ? FL_EXIT_FAIL : FL_EXIT_OK;
}
