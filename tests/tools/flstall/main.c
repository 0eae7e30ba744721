/* flstall: a FUSE filesystem that serves one backing file as MOUNTPOINT/disk
 * and can freeze or fail its I/O on command, so tests can watch the real
 * block device (disklock/bdev_aio.c) meet a stalled SAN path. Reads and
 * writes pass through to the backing file (pread/pwrite; fsync becomes
 * fdatasync); O_DIRECT opens work and requests are served by many threads at
 * once. Control: write one word to MOUNTPOINT/ctl (synchronous: the write
 * returns once the mode applies) or to the FIFO given by --ctl:
 *   freeze    every new data request (read, write, fsync of disk) blocks, and
 *             requests already inside flstall hold their reply, until unfreeze;
 *             a frozen write reaches the backing file only after unfreeze, as a
 *             write held in a SAN path may land late;
 *   unfreeze  back to normal (same as ok); blocked requests go on;
 *   fail      data requests return EIO;
 *   ok        normal pass-through.
 * Reading MOUNTPOINT/ctl returns "mode=ok|frozen|fail blocked=N served=N".
 * Metadata (lookup, getattr, open) is never frozen. Each frozen request holds
 * one of FLSTALL_MAX_THREADS (64) server threads; the ctl file needs a free
 * one, the FIFO does not (it has its own thread). On SIGTERM/SIGINT flstall
 * releases every blocked request (they fail with EIO) and unmounts cleanly.
 * With --dir BACKDIR, MOUNTPOINT/dir passes through to BACKDIR (files and
 * directories: create, mkdir, open, read, write, rename, unlink, stat), and
 * there freeze holds every request, metadata included, as a hung NFS or
 * FUSE mount holds a log directory. */
#define FUSE_USE_VERSION 314
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/version.h"

#define FLSTALL_MAX_THREADS 64  /* > kernel max_background (12) + sync requests */
#define FLSTALL_WAIT_SLICE_NS 50000000L /* re-check for shutdown every 50 ms */
#define FLSTALL_WORD_MAX 32

enum stall_mode { MODE_OK, MODE_FROZEN, MODE_FAIL };

static struct {
	int backing_fd;
	const char *backing_path;
	const char *ctl_path;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	enum stall_mode mode;
	unsigned long blocked, served;
	pthread_t ctl_thread;
	int ctl_thread_started;
	int sync_dio;
	const char *dir;         /* --dir: the backing directory of MOUNTPOINT/dir, or NULL */
} g = {.backing_fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static const char *mode_name(enum stall_mode m)
{
	return m == MODE_FROZEN ? "frozen" : m == MODE_FAIL ? "fail" : "ok";
}

static int session_exiting(void)
{
	struct fuse_context *c = fuse_get_context();
	return c != NULL && c->fuse != NULL && fuse_session_exited(fuse_get_session(c->fuse));
}

/* Blocks while frozen; returns 0 to go on or -EIO (fail mode, or shutting
 * down: a blocked request must not keep the unmount waiting). */
static int gate(void)
{
	pthread_mutex_lock(&g.mu);
	g.blocked++;
	while (g.mode == MODE_FROZEN && !session_exiting()) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += FLSTALL_WAIT_SLICE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g.cond, &g.mu, &ts);
	}
	g.blocked--;
	int rv = (g.mode == MODE_FAIL || session_exiting()) ? -EIO : 0;
	if (rv == 0)
		g.served++;
	pthread_mutex_unlock(&g.mu);
	return rv;
}

/* Applies a control word; returns 0 or -EINVAL. */
static int apply_word(const char *buf, size_t len)
{
	char w[FLSTALL_WORD_MAX];
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < sizeof(w); i++)
		if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\0')
			w[n++] = buf[i];
	w[n] = '\0';
	enum stall_mode m;
	if (strcmp(w, "freeze") == 0)
		m = MODE_FROZEN;
	else if (strcmp(w, "unfreeze") == 0 || strcmp(w, "ok") == 0)
		m = MODE_OK;
	else if (strcmp(w, "fail") == 0)
		m = MODE_FAIL;
	else if (n == 0)
		return 0;
	else {
		fprintf(stderr, "flstall: unknown control word '%s' (use freeze, unfreeze, fail, ok)\n", w);
		return -EINVAL;
	}
	pthread_mutex_lock(&g.mu);
	g.mode = m;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.mu);
	return 0;
}

static void *ctl_fifo_main(void *arg)
{
	(void)arg;
	/* O_RDWR: the FIFO never reports EOF when a writer goes away. */
	int fd = open(g.ctl_path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "flstall: open control FIFO %s: %s\n", g.ctl_path, strerror(errno));
		return NULL;
	}
	char buf[256];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* One word per line; a write may carry several lines. */
		size_t start = 0;
		for (size_t i = 0; i <= (size_t)n; i++) {
			if (i == (size_t)n || buf[i] == '\n') {
				apply_word(buf + start, i - start);
				start = i + 1;
			}
		}
	}
	close(fd);
	return NULL;
}

/* ---- MOUNTPOINT/dir: a gated pass-through ---- */

/* True for "/dir" and "/dir/...", with the backing path in out. */
static int dir_path(const char *path, char *out, size_t len)
{
	if (g.dir == NULL || strncmp(path, "/dir", 4) != 0 || (path[4] != '\0' && path[4] != '/'))
		return 0;
	int n = snprintf(out, len, "%s%s", g.dir, path + 4);
	return n > 0 && (size_t)n < len;
}

#define DIR_OP(path, real)                                   \
	char real[4096];                                     \
	if (!dir_path((path), real, sizeof(real)))           \
		return -ENOENT;                              \
	int gate_rv_ = gate();                               \
	if (gate_rv_ != 0)                                   \
		return gate_rv_

static int dir_getattr(const char *path, struct stat *st)
{
	DIR_OP(path, real);
	return lstat(real, st) == 0 ? 0 : -errno;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	DIR_OP(path, real);
	return mkdir(real, mode) == 0 ? 0 : -errno;
}

static int fs_unlink(const char *path)
{
	DIR_OP(path, real);
	return unlink(real) == 0 ? 0 : -errno;
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	char real_to[4096];
	if (flags != 0 || !dir_path(to, real_to, sizeof(real_to)))
		return -EINVAL;
	DIR_OP(from, real);
	return rename(real, real_to) == 0 ? 0 : -errno;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	DIR_OP(path, real);
	int fd = open(real, (fi->flags & ~O_NOFOLLOW) | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int dir_open(const char *path, struct fuse_file_info *fi)
{
	DIR_OP(path, real);
	int fd = open(real, (fi->flags & ~O_NOFOLLOW) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	char real[4096];
	if (dir_path(path, real, sizeof(real)) && fi->fh != 0)
		close((int)fi->fh);
	return 0;
}

static int dir_readdir(const char *path, void *buf, fuse_fill_dir_t fill)
{
	DIR_OP(path, real);
	DIR *d = opendir(real);
	if (d == NULL)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		fill(buf, e->d_name, NULL, 0, 0);
	closedir(d);
	return 0;
}

static int dir_rw(const char *path, char *rbuf, const char *wbuf, size_t size, off_t off, struct fuse_file_info *fi)
{
	DIR_OP(path, real);
	ssize_t n = rbuf != NULL ? pread((int)fi->fh, rbuf, size, off) : pwrite((int)fi->fh, wbuf, size, off);
	return n < 0 ? -errno : (int)n;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 0;
	if (g.dir != NULL) {
		/* Every lookup reaches us (and meets the gate), none is cached. */
		cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	}
	if (g.sync_dio)
		conn->want &= ~(unsigned)FUSE_CAP_ASYNC_DIO; /* the kernel then serves O_DIRECT aio synchronously */
	/* Threads started before fuse_main daemonizes would not survive the fork. */
	if (g.ctl_path != NULL) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		g.ctl_thread_started = pthread_create(&g.ctl_thread, NULL, ctl_fifo_main, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	return NULL;
}

static void fs_destroy(void *private_data)
{
	(void)private_data;
	if (g.ctl_thread_started) {
		pthread_cancel(g.ctl_thread);
		pthread_join(g.ctl_thread, NULL);
	}
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strncmp(path, "/dir", 4) == 0 && g.dir != NULL)
		return dir_getattr(path, st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/ctl") == 0) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		return 0;
	}
	if (strcmp(path, "/disk") != 0)
		return -ENOENT;
	struct stat b;
	if (fstat(g.backing_fd, &b) != 0)
		return -errno;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = b.st_size;
	st->st_blocks = b.st_blocks;
	st->st_mtim = b.st_mtim;
	st->st_ctim = b.st_ctim;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strncmp(path, "/dir", 4) == 0 && g.dir != NULL)
		return dir_readdir(path, buf, fill);
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "disk", NULL, 0, 0);
	fill(buf, "ctl", NULL, 0, 0);
	if (g.dir != NULL)
		fill(buf, "dir", NULL, 0, 0);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/ctl") == 0) {
		fi->direct_io = 1; /* size 0 on stat, content generated on read */
		return 0;
	}
	if (strncmp(path, "/dir/", 5) == 0)
		return dir_open(path, fi);
	if (strcmp(path, "/disk") != 0)
		return -ENOENT;
	/* No page cache: every read and write reaches flstall, O_DIRECT or not. */
	fi->direct_io = 1;
	return 0;
}

static int ctl_read(char *buf, size_t size, off_t off)
{
	char text[128];
	pthread_mutex_lock(&g.mu);
	int n = snprintf(text, sizeof(text), "mode=%s blocked=%lu served=%lu\n", mode_name(g.mode), g.blocked,
			 g.served);
	pthread_mutex_unlock(&g.mu);
	if (off >= n)
		return 0;
	size_t len = (size_t)(n - off) < size ? (size_t)(n - off) : size;
	memcpy(buf, text + off, len);
	return (int)len;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, "/ctl") == 0)
		return ctl_read(buf, size, off);
	if (strncmp(path, "/dir/", 5) == 0)
		return dir_rw(path, buf, NULL, size, off, fi);
	int rv = gate();
	if (rv != 0)
		return rv;
	ssize_t n = pread(g.backing_fd, buf, size, off);
	if (n < 0)
		return -errno;
	rv = gate(); /* a freeze that began meanwhile holds the reply */
	return rv != 0 ? rv : (int)n;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, "/ctl") == 0) {
		int rv = apply_word(buf, size);
		return rv != 0 ? rv : (int)size;
	}
	if (strncmp(path, "/dir/", 5) == 0)
		return dir_rw(path, NULL, buf, size, off, fi);
	int rv = gate();
	if (rv != 0)
		return rv;
	ssize_t n = pwrite(g.backing_fd, buf, size, off);
	if (n < 0)
		return -errno;
	rv = gate();
	return rv != 0 ? rv : (int)n;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	if (strcmp(path, "/disk") != 0)
		return 0;
	int rv = gate();
	if (rv != 0)
		return rv;
	return fdatasync(g.backing_fd) == 0 ? 0 : -errno;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	if (strcmp(path, "/ctl") == 0)
		return 0; /* "echo freeze > ctl" opens with O_TRUNC */
	if (strncmp(path, "/dir/", 5) == 0) {
		DIR_OP(path, real);
		return truncate(real, size) == 0 ? 0 : -errno;
	}
	if (strcmp(path, "/disk") != 0)
		return -ENOENT;
	return ftruncate(g.backing_fd, size) == 0 ? 0 : -errno;
}

static const struct fuse_operations fs_ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.fsync = fs_fsync,
	.truncate = fs_truncate,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.create = fs_create,
	.release = fs_release,
};

/* Mounts and serves until unmounted or signalled; returns the exit status. */
static int serve(char *argv0, const char *mnt, int fg, int debug)
{
	char *fargv[4] = {argv0, "-o", "fsname=flstall,subtype=flstall", NULL};
	char *dargv[5] = {argv0, "-d", "-o", "fsname=flstall,subtype=flstall", NULL};
	struct fuse_args args = debug ? (struct fuse_args)FUSE_ARGS_INIT(4, dargv)
				      : (struct fuse_args)FUSE_ARGS_INIT(3, fargv);
	struct fuse *f = fuse_new(&args, &fs_ops, sizeof(fs_ops), NULL);
	if (f == NULL) {
		fprintf(stderr, "flstall: fuse_new failed\n");
		return 1;
	}
	int rv = 1;
	if (fuse_mount(f, mnt) != 0) {
		fprintf(stderr, "flstall: cannot mount on %s (is /dev/fuse there? is it mounted already?)\n", mnt);
		goto out_destroy;
	}
	struct fuse_session *se = fuse_get_session(f);
	if (fuse_daemonize(fg) != 0 || fuse_set_signal_handlers(se) != 0)
		goto out_unmount;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (cfg != NULL) {
		/* Frozen requests each hold a thread; the ctl file must still be served. */
		fuse_loop_cfg_set_max_threads(cfg, FLSTALL_MAX_THREADS);
		fuse_loop_cfg_set_idle_threads(cfg, 8);
		rv = fuse_loop_mt(f, cfg) == 0 ? 0 : 1;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_remove_signal_handlers(se);
out_unmount:
	fuse_unmount(f);
out_destroy:
	fuse_destroy(f);
	fuse_opt_free_args(&args);
	return rv;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flstall MOUNTPOINT --backing FILE [--dir DIR] [--ctl FIFO] [--sync-dio] [-f] [-d]\n"
		"Serves FILE as MOUNTPOINT/disk (O_DIRECT, multi-threaded) with injectable stalls.\n"
		"Control: write a word to MOUNTPOINT/ctl (synchronous) or to FIFO (created by flstall):\n"
		"  freeze    data requests block (and in-flight ones hold their reply) until unfreeze\n"
		"  unfreeze  normal again (same as ok)\n"
		"  fail      data requests return EIO\n"
		"  ok        normal pass-through\n"
		"cat MOUNTPOINT/ctl prints mode, blocked and served request counts.\n"
		"With more than 63 requests frozen at once, only the FIFO is still served.\n"
		"--dir DIR serves DIR as MOUNTPOINT/dir, every request of it (metadata too) frozen by freeze.\n"
		"--sync-dio turns FUSE async direct I/O off (then io_submit blocks on every frozen request).\n"
		"-f stays in the foreground; -d adds FUSE debug output. SIGTERM unmounts cleanly.\n"
		"Unmount by hand: fusermount3 -u MOUNTPOINT\n");
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "flstall");
	const char *mnt = NULL;
	int fg = 0, debug = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backing") == 0 && i + 1 < argc)
			g.backing_path = argv[++i];
		else if (strcmp(argv[i], "--ctl") == 0 && i + 1 < argc)
			g.ctl_path = argv[++i];
		else if (strcmp(argv[i], "-f") == 0)
			fg = 1;
		else if (strcmp(argv[i], "-d") == 0)
			debug = 1;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			g.dir = argv[++i];
		else if (strcmp(argv[i], "--sync-dio") == 0)
			g.sync_dio = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && mnt == NULL)
			mnt = argv[i];
		else {
			fprintf(stderr, "flstall: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (mnt == NULL || g.backing_path == NULL) {
		usage(stderr);
		return 2;
	}
	g.backing_fd = open(g.backing_path, O_RDWR | O_CLOEXEC);
	if (g.backing_fd < 0) {
		fprintf(stderr, "flstall: open backing file %s: %s; create it first (truncate -s 8M FILE)\n",
			g.backing_path, strerror(errno));
		return 1;
	}
	if (g.ctl_path != NULL) {
		unlink(g.ctl_path);
		if (mkfifo(g.ctl_path, 0600) != 0) {
			fprintf(stderr, "flstall: mkfifo %s: %s\n", g.ctl_path, strerror(errno));
			return 1;
		}
	}
	int rv = serve(argv[0], mnt, fg, debug);
	if (g.ctl_path != NULL)
		unlink(g.ctl_path);
	close(g.backing_fd);
	return rv;
}
