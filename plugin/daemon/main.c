/* fencelockd: the fencelock daemon, one per host (docs/design.md).
 *
 *   fencelockd -c CONFIG [-f]
 *
 * Start-up, in an order where every refusal happens before anything is
 * written to the shared device: the config (one-line error naming the key),
 * the shared device (libaio + O_DIRECT), its layout (formatted, and for the
 * cluster [cluster] name names), the Raft transport on [host] listen with the
 * [peers], the file log store in state_dir, the arbiter (bootstrap: every
 * [peers] id a voter, plus the disk voter when their number is even), the
 * guard files a previous instance left (adopted, so their VMs are extended
 * again after our first renewal), the control socket, and only then the
 * arbiter's start: the delta lease and Raft.
 *
 * Shutdown on SIGTERM / SIGINT: the loop stops; if no VM runs here (nothing
 * started by us, nothing granted) the arbiter releases the delta lease first
 * (arb_release, the loop driven until it is written), so the others see this
 * host leave at once; then the control socket goes, the device is closed and
 * the arbiter freed without writing anything more, and a restart takes the host id again without waiting. With VMs running
 * the delta lease is left alone on purpose: their volume leases are only
 * valid while it is, and they keep running under their guards, which kill
 * them F after the last renewal unless a restarted daemon extends them
 * first. SIGHUP re-reads the config's log_level and the cluster keys
 * (key_file, key_file_next: a rotation without downtime). Logs go to stderr with -f,
 * else to syslog (facility daemon); the daemon does not fork itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sodium.h>
#include "common/assert.h"
#include "common/version.h"
#include "common/log.h"
#include "fencelock/error.h"
#include "plugin/daemon/daemon.h"
#include "disklock/lockspace.h"
#include "plugin/host/asynclog.h"
#include "raft/node.h"

#define FLD_HOUSEKEEPING_US FL_US_PER_S
#define FLD_RELEASE_TIMEOUT_S 10

static struct fld D;
static bool join_mode;
static bool rejoin_mode; /* --rejoin: the state_dir was lost (implies join_mode) */

/* ---- logging ---- */

static char log_tag[64];
static bool use_syslog;

/* The outputs behind the non-blocking sink (plugin/host/asynclog.h): they
 * run on the log thread, where a stalled journal or syslog may block. */
static void stderr_out(void *ctx, int level, const struct timespec *ts, const char *msg)
{
	static const char *const names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
	(void)ctx;
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000,
		log_tag, names[level & 7], msg);
}

static void syslog_out(void *ctx, int level, const struct timespec *ts, const char *msg)
{
	(void)ctx;
	(void)ts;
	syslog(level, "%s", msg);
}

static void log_stop_atexit(void)
{
	fl_alog_stop(1000);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fencelockd -c CONFIG [-f] [-j | --rejoin]\n"
		"       fencelockd --version | --help\n"
		"\n"
		"The fencelock daemon: keeps this host's VMs safe on shared storage through\n"
		"network partitions (Raft over TCP + leases on the shared device).\n"
		"\n"
		"  -c, --config CONFIG  the INI configuration (see docs/operations.md, fencelockd(8))\n"
		"  -f, --foreground     log to stderr (default: syslog, facility daemon)\n"
		"  -j, --join           join a running cluster (added first with 'fencelock host add' on\n"
		"                       the leader): [peers] needs one reachable member (the others are\n"
		"                       learned from it), nothing is founded\n"
		"      --rejoin         this host's state_dir was lost: join again as a fresh member (the\n"
		"                       leader removes the old voter and adds it back as a learner)\n"
		"  -V, --version        the version and build, then exit\n"
		"  -h, --help           this help\n"
		"\n"
		"Signals: SIGTERM/SIGINT clean shutdown (VMs keep running under their guards;\n"
		"the delta lease is released only when no VM runs here), SIGHUP re-reads log_level\n"
		"and the cluster keys (key_file, key_file_next).\n"
		"Environment: FENCELOCK_BIN, the fencelock CLI used to re-run VMs (default: next\n"
		"to fencelockd).\n"
		"exit codes: 0 clean shutdown, 1 start-up failed (one line says why), 2 usage,\n"
		"  3 another live host holds this host's id (a duplicate [host] id; not restarted by the unit),\n"
		"  4 this host was removed from the cluster ('fencelock host remove'; not restarted by the unit).\n");
}

/* ---- start-up steps: each prints one line naming what is wrong ---- */

/* The guard files must not outlive a reboot (a stale deadline file read by a
 * VM started after it would be a lie): run_dir belongs on a tmpfs. Said
 * loudly, not refused (tests and unusual hosts run elsewhere). */
static void warn_run_dir_not_tmpfs(const struct fld *d)
{
	struct statfs sf;
	if (statfs(d->cfg.run_dir, &sf) != 0)
		return;
	if (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)
		fl_warn("WARNING: %s: [host] run_dir %s is not on a tmpfs (file system type 0x%lx): its guard files "
			"survive a reboot; use /run/fencelock (the unit's RuntimeDirectory)", d->config_path, d->cfg.run_dir,
			(unsigned long)sf.f_type);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fencelockd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (use_syslog) {
		va_start(ap, fmt);
		fl_vlog(LOG_ERR, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[CFG_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

static void find_fencelock_bin(struct fld *d)
{
	const char *env = getenv("FENCELOCK_BIN");
	char self[900];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (env != NULL && env[0] == '/') {
		snprintf(d->fencelock_bin, sizeof(d->fencelock_bin), "%s", env);
		return;
	}
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(d->fencelock_bin, sizeof(d->fencelock_bin), "%s/fencelock", self);
			if (access(d->fencelock_bin, X_OK) == 0)
				return;
		}
	}
	snprintf(d->fencelock_bin, sizeof(d->fencelock_bin), "/usr/local/bin/fencelock");
}

static int open_device(struct fld *d)
{
	char err[256];
	struct fl_bdev_aio_opts o = {.timeout_us = 0};
	int rv = fl_bdev_aio_open(d->el, d->cfg.device, &o, &d->bdev, err, sizeof(err));
	if (rv != 0)
		return die("%s: [cluster] device: %s", d->config_path, err);
	rv = lay_read_sync(d->bdev, &d->layout);
	if (rv == -FL_ENOENT)
		return die("%s: [cluster] device: %s is not formatted; run 'fencelock direct format --device %s "
			   "--cluster %s' once, from one host", d->config_path, d->cfg.device, d->cfg.device,
			   d->cfg.cluster_name);
	if (rv != 0)
		return die("%s: [cluster] device: %s has no valid fencelock header (%s): wrong device, or "
			   "formatted by another tool", d->config_path, d->cfg.device, fl_strerror(rv));
	if (strcmp(d->layout.cluster, d->cfg.cluster_name) != 0)
		return die("%s: [cluster] name: the device %s is formatted for cluster '%s', not '%s'; wrong "
			   "device or wrong name", d->config_path, d->cfg.device, d->layout.cluster, d->cfg.cluster_name);
	if (d->cfg.host_id > d->layout.max_hosts)
		return die("%s: [host] id: %u is above the device's max_hosts (%u)", d->config_path, d->cfg.host_id,
			   d->layout.max_hosts);
	for (uint32_t i = 0; i < d->cfg.n_peers; i++)
		if (d->cfg.peers[i].id > d->layout.max_hosts)
			return die("%s:%u: [peers] %u: id above the device's max_hosts (%u)", d->config_path,
				   d->cfg.peers[i].line, d->cfg.peers[i].id, d->layout.max_hosts);
	if (d->cfg.io_timeout_ms != d->layout.io_timeout_ms)
		fl_warn("[cluster] io_timeout is %u ms but the device says %u ms: the device's value is used (every "
			"host must use the same)", d->cfg.io_timeout_ms, d->layout.io_timeout_ms);
	d->bdev->default_timeout_us = (uint64_t)d->layout.io_timeout_ms * FL_US_PER_MS;
	return 0;
}

static void on_deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	struct fld *d = arg;
	if (d->arb != NULL)
		arb_receive(d->arb, from, payload, len);
}

static int open_transport(struct fld *d)
{
	char ip[INET_ADDRSTRLEN], err[256];
	inet_ntop(AF_INET, &d->cfg.listen.sin_addr, ip, sizeof(ip));
	struct raft_tcp_config tc = {.self_id = d->cfg.host_id, .listen_addr = ip,
				     .listen_port = ntohs(d->cfg.listen.sin_port), .deliver = on_deliver,
				     .deliver_arg = d};
	memcpy(tc.cluster_uuid, d->layout.uuid, sizeof(tc.cluster_uuid));
	char kerr[CFG_PATH_MAX + 300];
	int rv = cfg_read_keys(&d->cfg, tc.keys, &tc.n_keys, kerr, sizeof(kerr));
	if (rv != 0)
		return die("%s: %s", d->config_path, kerr);
	if (tc.n_keys == 0)
		fl_warn("[cluster] insecure = yes: Raft traffic is neither authenticated nor encrypted; anyone who "
			"reaches %s:%u and knows the cluster uuid controls this cluster (tests only)", ip,
			ntohs(d->cfg.listen.sin_port));
	rv = raft_tcp_new(d->el, &tc, &d->tcp, err, sizeof(err));
	sodium_memzero(tc.keys, sizeof(tc.keys));
	if (rv != 0)
		return die("%s: [host] listen: %s", d->config_path, err);
	for (uint32_t i = 0; i < d->cfg.n_peers; i++) {
		const struct cfg_peer *p = &d->cfg.peers[i];
		char pip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &p->addr.sin_addr, pip, sizeof(pip));
		snprintf(d->peer_addr_buf[i], sizeof(d->peer_addr_buf[i]), "%s:%u", pip, ntohs(p->addr.sin_port));
		d->peer_addrs[p->id] = d->peer_addr_buf[i];
		if (p->id != d->cfg.host_id && (rv = raft_tcp_add_peer(d->tcp, p->id, pip, ntohs(p->addr.sin_port))) != 0)
			return die("%s:%u: [peers] %u: %s", d->config_path, p->line, p->id, fl_strerror(rv));
	}
	return 0;
}

/* The wall clock the leader stamps its commands with (the event history's
 * times; nothing compares it): a vDSO read, never blocking. */
static uint64_t wall_clock_us(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * FL_US_PER_S + (uint64_t)ts.tv_nsec / 1000u;
}

/* A test hook: FENCELOCK_TEST_PROTOCOL=MIN-MAX makes this daemon announce
 * cluster protocol versions MIN..MAX, and a version of its own, as another
 * build would (tests/integration/t_daemon_rolling_upgrade.sh). It changes
 * the numbers announced and nothing of what goes on the wire otherwise. */
static void test_protocol_hook(struct arb_config *ac)
{
	static char version[ARB_VERSION_MAX + 1];
	const char *e = getenv("FENCELOCK_TEST_PROTOCOL");
	unsigned lo, hi;
	if (e == NULL)
		return;
	if (sscanf(e, "%u-%u", &lo, &hi) != 2 || lo == 0 || lo > hi || hi > 99) {
		fl_warn("FENCELOCK_TEST_PROTOCOL=%s is not MIN-MAX (1 <= MIN <= MAX <= 99): ignored", e);
		return;
	}
	ac->proto_min = (uint16_t)lo;
	ac->proto_max = (uint16_t)hi;
	snprintf(version, sizeof(version), "%s+proto%u", fl_build_version(), hi);
	ac->version = version;
	fl_warn("FENCELOCK_TEST_PROTOCOL: this daemon announces cluster protocol %u..%u as fencelock %s (a test hook)",
		lo, hi, version);
}

/* The address our transport was last given for each host id beyond
 * [peers] (sync_peers, peer_learned): one is never given twice. */
static char peer_known[CFG_HOST_ID_MAX + 1][FSM_ADDR_MAX + 1];

/* A member told the arbiter where host id listens (the join handshake):
 * the transport goes there, unless [peers] says so already. */
static void peer_learned(void *ctx, uint32_t id, const char *addr)
{
	struct fld *d = ctx;
	struct sockaddr_in sa;
	if (id > CFG_HOST_ID_MAX || id == d->cfg.host_id || cfg_parse_ipv4_port(addr, &sa) != 0)
		return;
	if (d->peer_addrs[id] != NULL && strcmp(d->peer_addrs[id], addr) == 0)
		return;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	if (strcmp(peer_known[id], addr) == 0)
		return;
	int rv = raft_tcp_add_peer(d->tcp, id, ip, ntohs(sa.sin_port));
	if (rv == 0)
		snprintf(peer_known[id], sizeof(peer_known[id]), "%s", addr);
	fl_notice("peer %u at %s (learned from a member): %s", id, addr, rv ? fl_strerror(rv) : "added");
}

/* Reads host_id's delta record: true with *l if it is valid and was ever acquired. */
static bool read_own_record(struct fld *d, uint8_t *sec, struct fl_leader *l)
{
	uint32_t ss = d->layout.sector_size;
	int rv = fl_bdev_read_sync(d->bdev, d->layout.lockspace_offset + (uint64_t)(d->cfg.host_id - 1) * ss, sec, ss);
	return rv == 0 && ls_record_check(sec, d->layout.cluster, ss, l) == 0 && l->owner_generation > 0;
}

/* A host id used on the device before (its delta record has a generation)
 * with no Raft state in state_dir lost that state: started as a founding
 * voter it could vote twice in a term. Refused unless it joins (-j) or
 * rejoins (--rejoin). Unless another daemon renews that id right now (the
 * record changes within a renewal and an I/O timeout): that is a duplicate
 * host id, which the delta-lease acquire reports as such (exit 3); telling
 * its operator to --rejoin would take the live host's place. */
static int check_state_not_lost(struct fld *d)
{
	char path[CFG_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/hardstate", d->cfg.state_dir);
	if (join_mode || access(path, F_OK) == 0)
		return 0;
	uint32_t ss = d->layout.sector_size;
	uint8_t *sec = aligned_alloc(4096, ss < 4096 ? 4096 : ss);
	struct fl_leader l, again;
	bool used = sec != NULL && read_own_record(d, sec, &l);
	if (used) {
		struct ls_timing t;
		ls_timing_for_record_ms(&l, d->layout.io_timeout_ms, &t);
		usleep((useconds_t)FL_MIN(t.renew_us + t.io_us, (uint64_t)30 * FL_US_PER_S)); /* at start, not on the loop */
		used = read_own_record(d, sec, &again) && again.timestamp == l.timestamp &&
		       again.owner_generation == l.owner_generation;
	}
	free(sec);
	if (!used)
		return 0;
	return die("%s: [host] state_dir: %s holds no Raft state, but host id %u has been used on %s before "
		   "(generation %" PRIu64 "): this host's state was lost. Start it once with 'fencelockd -c %s "
		   "--rejoin' (it rejoins as a fresh member; docs/operations.md, \"Lost state_dir\")",
		   d->config_path, d->cfg.state_dir, d->cfg.host_id, d->cfg.device, l.owner_generation, d->config_path);
}

static int create_arbiter(struct fld *d, struct raft_config *boot)
{
	struct arb_config ac;
	char err[256];
	uint64_t T = (uint64_t)d->layout.io_timeout_ms * FL_US_PER_MS;
	arb_config_defaults(&ac, d->cfg.host_id, (uint64_t)d->cfg.partition_tolerance_ms * FL_US_PER_MS);
	snprintf(ac.host_name, sizeof(ac.host_name), "%s", d->cfg.host_name);
	ac.loop = d->loop;
	ac.bdev = d->bdev;
	ac.layout = d->layout;
	ac.seed = d->cfg.host_id ^ fl_monotonic_us();
	ac.raft.seed = ac.seed;
	arb_raft_timing(&ac, T);
	ac.transport = raft_tcp_transport(d->tcp);
	ac.peer_addrs = d->peer_addrs;
	ac.n_peer_addrs = FL_MIN(d->layout.max_hosts + 1u, CFG_HOST_ID_MAX + 1u);
	ac.limits.max_hosts = d->layout.max_hosts;
	ac.limits.max_slots = d->layout.volume_slots;
	ac.limits.max_vms = FL_MIN(ac.limits.max_vms, FLD_MAX_VMS);
	ac.max_vms = d->cfg.max_vms; /* 0: no limit; the leader learns it from our views */
	ac.plc.include_unplaced = false; /* a VM runs where its wrapper asked, or where recovery puts it */
	ac.vm = vmrt_ops(d);
	ac.wall_us = wall_clock_us;
	ac.op_msg = fld_opfwd_msg;
	ac.op_ctx = d;
	test_protocol_hook(&ac);
	fld_opfwd_init(d);
	ac.voters = d->cfg.voters;
	uint32_t ids[CFG_PEERS_MAX], n = 0;
	for (uint32_t i = 0; i < d->cfg.n_peers && i < CFG_PEERS_MAX; i++)
		ids[n++] = d->cfg.peers[i].id;
	/* The lowest ARB_VOTERS_MAX ids vote, the rest are learners: the same
	 * configuration on every host, whatever its voters setting. */
	if (arb_bootstrap_config(ids, n, boot) != 0)
		return die("%s: [peers]: ids must be 1..%u, at most %u of them", d->config_path, ARB_MAX_HOSTS,
			   ARB_MAX_HOSTS);
	/* A joiner founds nothing: it learns the configuration from the leader
	 * that added it; [peers] only tells its transport where the members are. */
	ac.bootstrap = boot->n > 0 && !join_mode ? boot : NULL;
	ac.rejoin = rejoin_mode;
	ac.raft.rejoining = rejoin_mode;
	ac.peer_learned = peer_learned;
	ac.peer_learned_ctx = d;
	struct raft_logstore_file_opts so = {.queue_max = 2 * RAFT_NODE_STORE_QUEUE_MIN};
	int rv = raft_logstore_file_open(d->el, d->cfg.state_dir, &so, &ac.store, err, sizeof(err));
	if (rv != 0)
		return die("%s: [host] state_dir: %s", d->config_path, err);
	rv = arb_new(&ac, &d->arb);
	if (rv != 0)
		return die("cannot create the arbiter for host %u: %s", d->cfg.host_id, fl_strerror(rv));
	return 0;
}

static int open_control(struct fld *d)
{
	struct ctl_backend be;
	fld_backend(d, &be);
	/* Mode 0666: any local user may connect and read; who may change what
	 * is checked per request from SO_PEERCRED (docs/operations.md,
	 * "Security"). Served from the server's own thread. */
	struct ctl_server_opts o = {.path = d->cfg.control_socket, .mode = 0666, .have_group = d->cfg.have_control_group,
				    .gid = d->cfg.control_gid, .own_thread = true,
				    .max_clients = d->cfg.control_max_clients,
				    .max_per_uid = d->cfg.control_max_clients_per_uid,
				    .reserved = d->cfg.control_reserved_clients};
	fld_snap_publish(d); /* readers never see "starting" once the socket exists */
	/* The server logs its own refusal; ours names the config key instead
	 * (one line on a refusal). */
	int level = fl_log_get_level();
	fl_log_set_level(LOG_CRIT);
	int rv = ctl_server_new(d->el, &o, &be, &d->ctl);
	fl_log_set_level(level);
	if (rv != 0)
		return die("%s: [host] control_socket: cannot serve on %s: %s", d->config_path, d->cfg.control_socket,
			   rv == -FL_EBUSY ? "another fencelockd answers there, or the path is not a socket"
					   : fl_strerror(rv));
	return 0;
}

/* ---- periodic work ---- */

static void poll_fn(struct fl_timer *t, void *arg)
{
	struct fld *d = arg;
	uint64_t now = fl_now_us(d->loop);
	fld_waiters_poll(d, now);
	vmrt_poll(d, now);
	fld_snap_maybe_publish(d, now);
	fl_timer_after(d->loop, t, FLD_POLL_US);
}

/* Hosts added to the cluster after we started: their addresses come through
 * the FSM, and our transport must know them to talk to them. */
static void sync_peers(struct fld *d)
{
	char(*known)[FSM_ADDR_MAX + 1] = peer_known;
	const struct fsm *f = arb_fsm(d->arb);
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		struct sockaddr_in sa;
		if (h == NULL || h->host_id == d->cfg.host_id || h->host_id > CFG_HOST_ID_MAX ||
		    h->state != FSM_HOST_JOINED || strcmp(known[h->host_id], h->addr) == 0 ||
		    cfg_parse_ipv4_port(h->addr, &sa) != 0)
			continue;
		const char *cur = d->peer_addrs[h->host_id];
		snprintf(known[h->host_id], sizeof(known[0]), "%s", h->addr);
		if (cur != NULL && strcmp(cur, h->addr) == 0)
			continue;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		int rv = raft_tcp_add_peer(d->tcp, h->host_id, ip, ntohs(sa.sin_port));
		fl_notice("peer %u (%s) at %s: %s", h->host_id, h->name, h->addr, rv ? fl_strerror(rv) : "added");
	}
}

/* This host was removed from the cluster: once no VM runs here it stops,
 * and the clean stop releases its delta lease. Returns true when stopping. */
static bool stop_removed(struct fld *d, const struct arb_status *st)
{
	bool idle = st->vms_running == 0 && !vmrt_any_active(d);
	if (!d->removed_said || idle) {
		char by[48] = "it applied its own removal";
		if (st->removed_by != 0)
			snprintf(by, sizeof(by), "told by the leader, host %u", st->removed_by);
		fl_notice("host %u (%s) was removed from the cluster (%s): %s", d->cfg.host_id, d->cfg.host_name, by,
			  idle ? "releasing its delta lease and stopping (exit 4, which the unit does not restart)"
			       : "it stops once no VM runs here");
		d->removed_said = true;
	}
	if (!idle)
		return false;
	d->exit_code = FLD_EXIT_REMOVED;
	d->done = true;
	fl_eloop_stop(d->el);
	return true;
}

/* A LEFT host whose address a member now has (a replacement at the same
 * address): the transport stops calling the old id there (the new host
 * would refuse every handshake meant for it). Once per id. */
static void drop_replaced_peers(struct fld *d)
{
	static bool dropped[CFG_HOST_ID_MAX + 1];
	const struct fsm *f = arb_fsm(d->arb);
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = fsm_host_at(f, i);
		if (h == NULL || h->state != FSM_HOST_LEFT || h->host_id > CFG_HOST_ID_MAX || dropped[h->host_id])
			continue;
		for (uint32_t k = 0; k < f->lim.max_hosts; k++) {
			const struct fsm_host *o = fsm_host_at(f, k);
			if (o == NULL || o->state != FSM_HOST_JOINED || strcmp(o->addr, h->addr) != 0)
				continue;
			dropped[h->host_id] = true;
			if (raft_tcp_remove_peer(d->tcp, h->host_id) == 0)
				fl_notice("peer %u (%s, LEFT) dropped: host %u (%s) is at %s now", h->host_id, h->name,
					  o->host_id, o->name, h->addr);
			break;
		}
	}
}

static void housekeeping_fn(struct fl_timer *t, void *arg)
{
	struct fld *d = arg;
	struct arb_status st;
	arb_status(d->arb, &st);
	if (st.host_id_taken) {
		fl_err("another live host holds host id %u on %s: two hosts are configured with the same [host] id; "
		       "stopping (exit %d, which the unit does not restart). Give every host its own id", d->cfg.host_id,
		       d->cfg.device, FLD_EXIT_CONFLICT);
		d->exit_code = FLD_EXIT_CONFLICT;
		d->done = true;
		fl_eloop_stop(d->el);
		return;
	}
	if (st.snapshot_refused) {
		fl_err("this fencelockd cannot restore the replicated state's snapshot at index %" PRIu64 " (%s): its "
		       "copy of the cluster state would differ from the other hosts', so it stops (exit %d, which the "
		       "unit does not restart); its VMs are recovered elsewhere as after a crash. A snapshot from "
		       "another fencelock version: run the version the other hosts run",
		       st.snapshot_refused_index, fl_strerror(st.snapshot_refused_rv), FLD_EXIT_CONFLICT);
		d->exit_code = FLD_EXIT_CONFLICT;
		d->done = true;
		fl_eloop_stop(d->el);
		return;
	}
	if (st.removed && stop_removed(d, &st))
		return;
	sync_peers(d);
	drop_replaced_peers(d);
	if (st.quorate && fl_now_us(d->loop) - d->started_us > 2 * d->layout.fail_us)
		vmrt_forget_unclaimed(d);
	fld_write_metrics_file(d);
	fl_timer_after(d->loop, t, FLD_HOUSEKEEPING_US);
}

/* ---- signals ---- */

static int sig_fd = -1;

/* SIGHUP: the config and the cluster keys are re-read on the worker thread
 * (the control group's name is resolved through NSS, which may wait on the
 * network; key files are files), and only the new log level and the keys
 * (a rotation: key_file and key_file_next) are applied, on the loop. A
 * failure keeps what is in use. Insecure mode cannot be switched at run time
 * (every host would have to switch at once). */
static struct reload_job {
	struct fl_work w;
	struct fld *d;
	const char *path;
	struct fl_config cfg;
	char err[CFG_ERR_MAX];
	int rv;
	uint8_t keys[2][CFG_KEY_BYTES];
	uint32_t n_keys;
	char key_err[CFG_PATH_MAX + 300];
	int key_rv;
} reload;

static void reload_run(struct fl_work *w)
{
	struct reload_job *j = (struct reload_job *)w;
	j->rv = cfg_load(j->path, &j->cfg, j->err, sizeof(j->err));
	j->n_keys = 0;
	j->key_rv = j->rv == 0 ? cfg_read_keys(&j->cfg, j->keys, &j->n_keys, j->key_err, sizeof(j->key_err)) : 0;
}

static void reload_keys(struct reload_job *j)
{
	struct fld *d = j->d;
	int rv = j->key_rv;
	if (j->cfg.insecure != d->cfg.insecure) {
		fl_warn("SIGHUP: [cluster] insecure changed; restart the daemon to apply it (keys not reloaded)");
		return;
	}
	if (j->cfg.insecure)
		return;
	if (rv == 0 && (rv = raft_tcp_set_keys(d->tcp, j->n_keys, (const uint8_t(*)[RAFT_TCP_KEY_BYTES])j->keys)) != 0)
		snprintf(j->key_err, sizeof(j->key_err), "the transport refused them: %s", fl_strerror(rv));
	sodium_memzero(j->keys, sizeof(j->keys));
	if (rv != 0) {
		fl_warn("SIGHUP: cluster keys not reloaded (the old ones stay in use): %s", j->key_err);
		return;
	}
	fl_notice("SIGHUP: cluster keys reloaded: %s%s%s", j->cfg.key_file, j->n_keys > 1 ? " (current) and " : "",
		  j->n_keys > 1 ? j->cfg.key_file_next : "");
}

static void reload_done(struct fl_work *w)
{
	struct reload_job *j = (struct reload_job *)w;
	if (j->rv == 0) {
		fl_log_set_level(j->cfg.log_level);
		fl_notice("SIGHUP: log level now %d", j->cfg.log_level);
		reload_keys(j);
	} else {
		fl_warn("SIGHUP: config not reloaded: %s", j->err);
	}
	sodium_memzero(j->keys, sizeof(j->keys));
}

static void reload_log_level(struct fld *d)
{
	if (reload.w.queued)
		return; /* the reload under way reads the file as it is now */
	reload.d = d;
	reload.path = d->config_path;
	reload.w.run = reload_run;
	reload.w.done = reload_done;
	if (fl_worker_submit(d->worker, &reload.w) != 0)
		fl_warn("SIGHUP: the worker queue is full; send SIGHUP again later");
}

static void on_signal(void *arg, uint32_t ev)
{
	struct fld *d = arg;
	struct signalfd_siginfo si;
	(void)ev;
	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_log_level(d);
			continue;
		}
		fl_notice("signal %u: shutting down", si.ssi_signo);
		d->done = true;
		fl_eloop_stop(d->el);
	}
}

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Before any thread exists (the log store's worker inherits the mask): a
 * SIGTERM must reach the signalfd, not a thread with the default action. */
static void block_signals(void)
{
	sigset_t set;
	signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int setup_signals(struct fld *d)
{
	sigset_t set;
	signal_set(&set);
	sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0 || fl_eloop_add_fd(d->el, sig_fd, EPOLLIN, on_signal, d) != 0)
		return die("cannot set up signal handling: %s", strerror(errno));
	return 0;
}

/* ---- shutdown ---- */

/* Releases our delta lease through the arbiter, driving the loop for at most
 * FLD_RELEASE_TIMEOUT_S (an I/O deadline is T, far less). */
static void release_delta_lease(struct fld *d)
{
	int rv = arb_release(d->arb);
	uint64_t end = fl_now_us(d->loop) + FLD_RELEASE_TIMEOUT_S * FL_US_PER_S;
	while (rv == 0 && !arb_released(d->arb) && fl_now_us(d->loop) < end)
		fl_eloop_run_once(d->el, 100 * FL_US_PER_MS);
	if (rv == 0 && arb_released(d->arb))
		fl_notice("delta lease of host %u released: the others see it leave now", d->cfg.host_id);
	else
		fl_warn("releasing the delta lease of host %u failed (%s): it expires on its own", d->cfg.host_id,
			rv != 0 ? fl_strerror(rv) : "no answer in time");
}

static void shutdown_daemon(struct fld *d)
{
	struct arb_status st;
	arb_status(d->arb, &st);
	bool idle = st.vms_running == 0 && !vmrt_any_active(d);
	/* First, while the device and the arbiter still run: a host with no VM
	 * leaves at once; one with VMs leaves them to their guards. */
	if (idle)
		release_delta_lease(d);
	ctl_server_free(d->ctl);
	d->ctl = NULL;
	fld_snap_drop(d);
	fld_waiters_drop(d);
	fld_opfwd_stop(d);
	vmrt_shutdown(d);
	fl_timer_cancel(d->loop, &d->poll);
	fl_timer_cancel(d->loop, &d->housekeeping);
	/* The device first: it cancels I/O whose fl_io lives in the arbiter
	 * (no callback runs after this), then the arbiter goes, writing nothing. */
	fl_bdev_close(d->bdev);
	d->bdev = NULL;
	arb_free(d->arb);
	d->arb = NULL;
	raft_tcp_free(d->tcp);
	int wrv = fl_worker_free(d->worker, FL_US_PER_S);
	d->worker = NULL;
	fld_remove_metrics_file(d, wrv == 0);
	guard_table_free(&d->guards);
	fld_watchdog_close(d);
	if (!idle)
		fl_notice("VMs run here: the delta lease is left to its guards' deadline (restart within %u s "
			  "keeps them)", (unsigned)(d->layout.fail_us / FL_US_PER_S));
	fl_eloop_free(d->el);
}

/* ---- main ---- */

static int parse_args(int argc, char **argv, bool *fg)
{
	static const struct option lo[] = {{"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
					   {"join", no_argument, NULL, 'j'}, {"rejoin", no_argument, NULL, 'R'},
					   {"help", no_argument, NULL, 'h'},
					   {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "c:fjhV", lo, NULL)) != -1) {
		switch (c) {
		case 'c': D.config_path = optarg; break;
		case 'f': *fg = true; break;
		case 'j': join_mode = true; break;
		case 'R': join_mode = rejoin_mode = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V':
			fl_print_version(stdout, "fencelockd");
			printf("control protocol: %d\n", CTL_PROTO_VERSION);
			exit(0);
		default: return -1;
		}
	}
	return D.config_path != NULL && optind == argc ? 0 : -1;
}

/* As sanlock does: the lease loop must run when its renewal is due, so its
 * thread runs SCHED_RR ([host] realtime, priority) and no page of the daemon
 * may be swapped out or faulted in from disk ([host] lock_memory: mlockall of
 * what is mapped now and later). Called once the other threads exist: only
 * the loop thread (this one) gets SCHED_RR; the worker, log and log-store
 * threads keep the ordinary policy, so a busy one cannot delay a renewal.
 * SCHED_RESET_ON_FORK makes every child (a VM started by recover_command or
 * a re-run, a flush) begin with the ordinary policy and nice 0; memory locks
 * are never inherited by a child. A refusal (no CAP_SYS_NICE / CAP_IPC_LOCK)
 * is logged and the daemon runs on without it. */
static void setup_priority(struct fld *d)
{
	if (d->cfg.lock_memory) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
			fl_warn("[host] lock_memory: mlockall failed: %s; the daemon may be swapped out (needs "
				"CAP_IPC_LOCK, or a large enough RLIMIT_MEMLOCK)", strerror(errno));
		else
			fl_info("memory locked (mlockall): the daemon is never swapped out");
	}
	if (!d->cfg.realtime)
		return;
	struct sched_param sp = {.sched_priority = (int)d->cfg.rt_priority};
	if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) != 0)
		fl_warn("[host] realtime: SCHED_RR priority %u refused: %s; renewals run at the ordinary priority "
			"(needs CAP_SYS_NICE)", d->cfg.rt_priority, strerror(errno));
	else
		fl_info("lease loop thread: SCHED_RR priority %u", d->cfg.rt_priority);
}

static int start(struct fld *d, struct raft_config *boot)
{
	d->wd_fd = -1;
	if (mkdir_p(d->cfg.state_dir, 0700) != 0)
		return die("%s: [host] state_dir: cannot create %s: %s", d->config_path, d->cfg.state_dir, strerror(errno));
	if (mkdir_p(d->cfg.run_dir, 0755) != 0)
		return die("%s: [host] run_dir: cannot create %s: %s", d->config_path, d->cfg.run_dir, strerror(errno));
	/* The watchdog after the device (its timeout is F from the layout) and
	 * before the arbiter (which pets it from its first renewal). */
	char err[CFG_PATH_MAX + 256];
	if (open_device(d) != 0)
		return -1;
	if (fld_watchdog_open(d, err, sizeof(err)) != 0)
		return die("%s", err);
	if (check_state_not_lost(d) != 0 || open_transport(d) != 0 || create_arbiter(d, boot) != 0)
		return -1;
	int rv = fl_worker_new(d->el, FLD_WORKER_QUEUE, FLD_WORKER_THREADS, &d->worker);
	if (rv != 0)
		return die("cannot start the worker threads: %s", fl_strerror(rv));
	rv = guard_table_init(&d->guards, d->cfg.run_dir, FLD_MAX_VMS);
	if (rv == 0 && (rv = vmrt_adopt(d)) > 0)
		rv = 0;
	if (rv != 0)
		return die("%s: [host] run_dir: guard files in %s/guard: %s", d->config_path, d->cfg.run_dir, fl_strerror(rv));
	if (open_control(d) != 0 || setup_signals(d) != 0)
		return -1;
	setup_priority(d);
	if ((rv = arb_start(d->arb)) != 0)
		return die("cannot start the arbiter of host %u: %s", d->cfg.host_id, fl_strerror(rv));
	fl_timer_init(&d->poll, poll_fn, d);
	fl_timer_init(&d->housekeeping, housekeeping_fn, d);
	fl_timer_after(d->loop, &d->poll, FLD_POLL_US);
	fl_timer_after(d->loop, &d->housekeeping, FLD_HOUSEKEEPING_US);
	return 0;
}

/* Pins glibc's allocator thresholds. By default glibc raises its mmap
 * threshold to the size of every large block freed (up to 32 MiB), so after
 * the first large transient buffer (a snapshot, a long control reply) such
 * buffers come from the heap instead: small long-lived allocations then land
 * between them, the heap cannot shrink, and the resident size of a daemon
 * that runs for months ratchets up with churn. Pinned, a block of 128 KiB or
 * more is a mapping of its own and goes back to the kernel when freed, and
 * free space above 256 KiB at the heap's top is returned. */
static void pin_allocator(void)
{
#ifdef __GLIBC__
	if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1 || mallopt(M_TRIM_THRESHOLD, 256 * 1024) != 1)
		fl_warn("mallopt failed: large buffers may stay in the heap after use");
#endif
}

/* Threads the daemon does not size itself (the log store's writer, the
 * AIO submitter, liburcu's call_rcu thread) get 256 KiB stacks instead of
 * glibc's default of RLIMIT_STACK (8 MiB): with lock_memory, mlockall faults
 * in and locks every page of every stack, so four default stacks alone held
 * 32 MiB of a daemon whose threads use a few KiB each. None of them recurses
 * (the control thread, which parses JSON, sizes its own: ctl_server.c). */
static void small_default_stacks(void)
{
#ifdef __GLIBC__
	pthread_attr_t a;
	if (pthread_attr_init(&a) != 0)
		return;
	if (pthread_attr_setstacksize(&a, FLD_THREAD_STACK_BYTES) != 0 || pthread_setattr_default_np(&a) != 0)
		fl_warn("cannot set the default thread stack size: threads get glibc's default");
	pthread_attr_destroy(&a);
#endif
}

/* Descriptors: each VM here costs the daemon up to four (the VM's and its
 * wrapper's pidfds, a flush child's, a spawn's log), each control client one,
 * plus the device, the log store and the peers (docs/operations.md,
 * "Density"). The usual soft limit of 1,024 would cap a host at a few hundred
 * VMs, so the soft limit is raised to the hard one; the children we spawn
 * get the old soft limit back (vmrt.c), as a VMM using select() expects. */
struct rlimit fld_nofile_orig = {RLIM_INFINITY, RLIM_INFINITY};

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	fld_nofile_orig = rl;
	rlim_t want = (rlim_t)FLD_FDS_PER_VM * FLD_MAX_VMS + CTL_CLIENTS_DEFAULT + 256u;
	if (rl.rlim_cur >= want || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fl_warn("RLIMIT_NOFILE: cannot raise the soft limit to %llu: %s", (unsigned long long)rl.rlim_max,
			strerror(errno));
		return;
	}
	if (rl.rlim_cur < want)
		fl_warn("RLIMIT_NOFILE: %llu descriptors allowed, %llu wanted for %u VMs; raise the hard limit "
			"(LimitNOFILE=)", (unsigned long long)rl.rlim_cur, (unsigned long long)want, FLD_MAX_VMS);
}

int main(int argc, char **argv)
{
	bool fg = false;
	char err[CFG_ERR_MAX];
	static struct raft_config boot;
	if (parse_args(argc, argv, &fg) != 0) {
		usage(stderr);
		return 2;
	}
	if (cfg_load(D.config_path, &D.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fencelockd: %s\n", err);
		return 1;
	}
	snprintf(log_tag, sizeof(log_tag), "fencelockd[%s]", D.cfg.host_name);
	block_signals(); /* before the log thread: it inherits the mask */
	if (!fg) {
		openlog("fencelockd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		use_syslog = true;
	}
	if (fl_alog_start(fg ? stderr_out : syslog_out, NULL) != 0) {
		fprintf(stderr, "fencelockd: cannot start the log thread: %s\n", strerror(errno));
		return 1;
	}
	atexit(log_stop_atexit);
	fl_log_set_sink(fl_alog_sink, NULL);
	fl_log_set_level(D.cfg.log_level);
	pin_allocator();
	small_default_stacks();
	raise_nofile();
	find_fencelock_bin(&D);
	D.fencelock_bin_ok = access(D.fencelock_bin, X_OK) == 0;
	/* The loop publishes the read views' snapshot with call_rcu: it must be
	 * a registered RCU thread. */
	urcu_memb_register_thread();
	vmrt_init(&D);
	D.el = fl_eloop_new();
	if (D.el == NULL)
		return die("cannot create the event loop: %s", strerror(errno)) ? 1 : 1;
	D.loop = fl_eloop_loop(D.el);
	/* The guard files and the loop share CLOCK_MONOTONIC microseconds. */
	FL_ASSERT(fl_now_us(D.loop) / FL_US_PER_S == fl_monotonic_us() / FL_US_PER_S ||
		  fl_monotonic_us() - fl_now_us(D.loop) < FL_US_PER_S);
	D.started_us = fl_now_us(D.loop);
	if (start(&D, &boot) != 0)
		return 1;
	fl_notice("host %u (%s) of cluster %s: listening on %s, control socket %s, T = %u ms, P = %u ms",
		  D.cfg.host_id, D.cfg.host_name, D.cfg.cluster_name, D.peer_addrs[D.cfg.host_id] ? D.peer_addrs[D.cfg.host_id] : "?",
		  D.cfg.control_socket, D.layout.io_timeout_ms, D.cfg.partition_tolerance_ms);
	vmscope_log();
	/* Said once started, so that a refused start stays one line. */
	warn_run_dir_not_tmpfs(&D);
	fld_watchdog_warn(&D);
	fl_eloop_run(D.el, &D.done);
	shutdown_daemon(&D);
	urcu_memb_unregister_thread();
	fl_notice("stopped");
	return D.exit_code;
}
