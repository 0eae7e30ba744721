/* The per-VM guard: the deadline channel between fencelockd and the process
 * that watches a VM, and the watching itself.
 *
 * Every VM started with `fencelock exec` runs as the child of a guard process
 * (the exec wrapper itself). The daemon, after each good renewal of its
 * delta lease, pushes the VM's deadline forward: "start of the last good
 * renewal + F", on CLOCK_MONOTONIC (one clock for every process of a host).
 * If the daemon hangs, is SIGSTOPped or dies, the deadline stops moving and
 * the guard kills the VM on its own: SIGTERM (and the configured kill path)
 * at the deadline, SIGKILL at deadline + K. The guard never asks the daemon
 * anything to decide this, so a paused daemon cannot keep a VM alive.
 *
 * The channel is a small file per VM in the run dir (RUN_DIR/guard/UID),
 * mapped shared by both sides: two 64-byte slots, each a CRC-32C-protected
 * record (magic, version, sequence, deadline_us, kill_grace_us). The writer
 * fills slot (seq % 2) with seq one above the last, so a reader that races a
 * write (or a writer that dies mid-write) still finds the previous record
 * intact in the other slot; the reader takes the valid slot with the highest
 * sequence. The file lives in tmpfs and is rewritten in place (never
 * replaced), so it survives a daemon restart: the new daemon reopens it,
 * continues the sequence and extends the deadline before it passes. A guard
 * sleeps on a timerfd armed at the deadline and re-reads the record only when
 * it wakes: no polling, and an extension costs the daemon one memory write. */
#ifndef FL_PLUGIN_GUARD_H
#define FL_PLUGIN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GUARD_MAGIC 0x44524746u      /* "FGRD" little-endian */
#define GUARD_VERSION 1u
#define GUARD_SLOT_BYTES 64u
#define GUARD_FILE_BYTES 4096u       /* one page: two slots and room to grow */
#define GUARD_VOLUMES_MAX 8u

/* One decoded record. */
struct guard_rec {
	uint64_t seq;            /* > 0 for a written record */
	uint64_t deadline_us;    /* CLOCK_MONOTONIC; SIGTERM when reached */
	uint64_t kill_grace_us;  /* K: SIGKILL at deadline_us + kill_grace_us */
};

/* Encodes rec into one slot (little-endian fields, CRC-32C last). */
void guard_rec_encode(const struct guard_rec *rec, uint8_t slot[GUARD_SLOT_BYTES]);

/* Decodes one slot. Returns 0, -FL_EMAGIC (never written / foreign),
 * -FL_EVERSION or -FL_ECHECKSUM (torn or corrupt). */
int guard_rec_decode(const uint8_t slot[GUARD_SLOT_BYTES], struct guard_rec *rec);

/* Picks the valid slot with the highest sequence among the two at base.
 * Returns 0, or the error of slot 0 if neither is valid. */
int guard_rec_pick(const uint8_t *base, struct guard_rec *rec);

/* Writes the guard file path of VM uid, RUN_DIR/guard/UID, into buf (len
 * bytes). uid must satisfy ctl_uid_valid() (no '/'). Returns 0, or
 * -FL_EINVAL if it does not fit. */
int guard_file_path(const char *run_dir, const char *uid, char *buf, size_t len);

/* ---- the daemon's side ---- */
struct guard_writer {
	int fd;
	uint8_t *map;
	uint64_t seq;            /* last sequence written */
};

/* Opens or creates the guard file at path (mode 0644, size GUARD_FILE_BYTES)
 * and maps it. An existing file's sequence is continued, so a restarted
 * daemon picks up where the old one left off. Returns 0 or a -FL_E code. */
int guard_writer_open(struct guard_writer *w, const char *path);

/* Publishes a new deadline. Returns 0 (a memory write: cannot block). */
int guard_writer_set(struct guard_writer *w, uint64_t deadline_us, uint64_t kill_grace_us);

/* Unmaps and closes (the file stays; the daemon unlinks it on release). */
void guard_writer_close(struct guard_writer *w);

/* ---- the daemon's table of guard files, one per VM it holds leases for ----
 * The arbiter publishes one deadline for all VMs of the host after every good
 * renewal (arb_vm_ops.guard); the table writes it into every file. After a
 * daemon restart guard_table_adopt() reopens the files left in the run dir,
 * so the VMs that kept running under their guards are extended again. */
#define GUARD_UID_MAX 64u            /* = CTL_UID_MAX */
#define GUARD_TABLE_MAX 16384u
#define GUARD_PATH_MAX (1024u + GUARD_UID_MAX + 2u) /* RUN_DIR/guard/UID */

struct guard_entry {
	bool used;
	bool reserved;                   /* guard_table_reserve(): its writer is being opened */
	char uid[GUARD_UID_MAX + 1];
	struct guard_writer w;
};

struct guard_table {
	char dir[1024];                  /* RUN_DIR/guard */
	uint32_t cap, n;
	struct guard_entry *e;           /* cap entries */
};

/* Creates RUN_DIR/guard (mode 0755) if needed and an empty table of cap
 * (1..GUARD_TABLE_MAX) entries. Returns 0 or a -FL_E code. */
int guard_table_init(struct guard_table *t, const char *run_dir, uint32_t cap);

/* Closes every writer; the files stay (their VMs keep running, guarded). */
void guard_table_free(struct guard_table *t);

/* Reopens every guard file found in the directory (after a restart) and calls
 * fn(ctx, uid) for each, so the caller can match them with its registry.
 * Files whose name is not a valid uid are skipped. Returns the number
 * adopted, or -FL_ENOSPC if the table is too small for them all. */
int guard_table_adopt(struct guard_table *t, void (*fn)(void *ctx, const char *uid), void *ctx);

/* Creates (or reuses) the guard file of VM uid with a first deadline and
 * writes its path into path (len bytes). Returns 0, -FL_EINVAL (bad uid,
 * path too long), -FL_ENOSPC (table full) or an I/O error. */
int guard_table_open(struct guard_table *t, const char *uid, uint64_t deadline_us,
		     uint64_t kill_grace_us, char *path, size_t len);

/* The same in steps, so that the file system calls (open, truncate, mmap;
 * close, unlink) run off the caller's thread, which only ever moves memory:
 * guard_table_reserve() claims the entry of uid on the caller's thread and
 * writes the file's path into path; guard_writer_open(path) runs elsewhere;
 * guard_table_fill() puts the opened writer in (taken over) and publishes a
 * first deadline, or guard_table_unreserve() gives the entry up. Returns 0
 * (reserved), 1 (uid's file is open in the table already: nothing to open),
 * -FL_EBUSY (uid is reserved already), -FL_EINVAL or -FL_ENOSPC. */
int guard_table_reserve(struct guard_table *t, const char *uid, char *path, size_t len);
void guard_table_fill(struct guard_table *t, const char *uid, struct guard_writer *w, uint64_t deadline_us,
		      uint64_t kill_grace_us);
void guard_table_unreserve(struct guard_table *t, const char *uid);

/* Takes the writer of uid out of the table (no later deadline reaches its
 * file) into out, with the file's path; guard_file_drop() then closes it and
 * unlinks the file, off the caller's thread. Returns 0 or -FL_ENOENT. */
int guard_table_detach(struct guard_table *t, const char *uid, struct guard_writer *out, char *path, size_t len);
void guard_file_drop(struct guard_writer *w, const char *path);

/* Publishes one deadline to every VM (after a good renewal). Cannot fail:
 * memory writes only. */
void guard_table_extend_all(struct guard_table *t, uint64_t deadline_us, uint64_t kill_grace_us);

/* Publishes a deadline to one VM (e.g. "now" when the daemon itself kills
 * it). Returns 0 or -FL_ENOENT. */
int guard_table_set(struct guard_table *t, const char *uid, uint64_t deadline_us, uint64_t kill_grace_us);

/* Closes and unlinks the guard file of uid (its leases are released).
 * Returns 0 or -FL_ENOENT. */
int guard_table_close(struct guard_table *t, const char *uid);

/* ---- the guard's side ---- */
struct guard_reader {
	int fd;
	const uint8_t *map;
};

/* Opens and maps the guard file read-only. Returns 0 or a -FL_E code. */
int guard_reader_open(struct guard_reader *r, const char *path);

/* Reads the current record (see guard_rec_pick). */
int guard_reader_get(const struct guard_reader *r, struct guard_rec *rec);

/* Unmaps and closes (harmless on a reader that failed to open). */
void guard_reader_close(struct guard_reader *r);

/* ---- the guard's decisions (pure: unit-tested without processes) ---- */
enum guard_phase {
	GUARD_WATCHING = 0,  /* deadline in the future */
	GUARD_TERM_SENT,     /* deadline passed: SIGTERM sent, SIGKILL at term_deadline + K */
	GUARD_KILL_SENT,     /* SIGKILL sent; waiting for the exit */
};

enum guard_action {
	GUARD_ACT_NONE = 0,
	GUARD_ACT_TERM,      /* send SIGTERM and run the kill path */
	GUARD_ACT_KILL,      /* send SIGKILL */
	GUARD_ACT_TERM_KILL, /* woke after deadline + K (the guard itself was
			      * paused): SIGTERM and SIGKILL at once */
};

struct guard_state {
	enum guard_phase phase;
	uint64_t deadline_us;     /* the deadline in force */
	uint64_t kill_grace_us;
	uint64_t seq;             /* sequence of the record in force */
	uint64_t kill_at_us;      /* GUARD_TERM_SENT: when SIGKILL is due */
	uint32_t bad_reads;       /* wakes at which no valid record was found */
};

/* Starts from the first record (which must be valid). */
void guard_state_init(struct guard_state *st, const struct guard_rec *first);

/* One wake-up at now_us with the record just read (rec NULL when the read
 * failed: the deadline in force stays, it is never extended by a bad read).
 * A newer record replaces the deadline while watching; once the kill has
 * started nothing stops it. Returns the action to take and sets *wake_us to
 * the next time the guard must wake (UINT64_MAX: only on the VM's exit). */
enum guard_action guard_step(struct guard_state *st, uint64_t now_us, const struct guard_rec *rec,
			     uint64_t *wake_us);

/* ---- the guard process ---- */
struct guard_run_opts {
	pid_t child;                 /* the VM process, leader of its own process group */
	const struct guard_reader *reader;
	const char *uid;             /* for the kill path and messages */
	const char *kill_path;       /* "" or NULL: none; run as KILL_PATH UID PID */
};

struct guard_result {
	int wait_status;             /* as from waitpid() */
	bool killed_by_guard;        /* the deadline passed and the guard acted */
	bool sigkill_sent;
	uint64_t deadline_us;        /* deadline in force at the end */
	uint64_t kill_grace_us;
};

/* Watches opts->child until it exits: a timerfd at the deadline, a signalfd
 * for SIGCHLD and for SIGTERM/SIGINT/SIGHUP/SIGQUIT, which it forwards to the
 * child's process group. When the child exits, what is left of its process
 * group is killed with SIGKILL before the child is reaped: nothing of the VM
 * may outlive the release of its leases (a VMM must therefore run in the
 * foreground, not daemonize out of its group). The caller must have blocked those signals before
 * forking the child. Returns 0 with *res filled, or a -FL_E code if the guard
 * could not set itself up (then it has killed the child's group with SIGKILL
 * and reaped it, since an unguarded VM must not run). */
int guard_run(const struct guard_run_opts *opts, struct guard_result *res);

/* Flushes each volume's dirty pages to the device: fsync() of the path and,
 * for a block device, BLKFLSBUF; done in a child process so that a hung
 * device cannot hold the caller past timeout_us. A killed VMM may leave dirty
 * pages in the host's page cache that the kernel writes later; after the
 * lease is released another host may be writing the volume, so those late
 * writes would corrupt it. Returns 0 when every volume was flushed (a path that no longer exists
 * counts as flushed), -FL_EIO
 * if one failed, -FL_ETIMEDOUT if they did not finish in time (the caller
 * must then NOT release the leases, and let them expire instead). */
int guard_flush_volumes(const char *const *paths, size_t n, uint64_t timeout_us);

/* The same flush, started and not waited for: forks the child that flushes
 * paths (n <= GUARD_VOLUMES_MAX) and returns at once with its pid in *pid and
 * a pidfd in *pidfd (readable once the child exits), so a loop can watch it
 * and bound it with a timer of its own. Callable from any thread (the child
 * uses async-signal-safe calls only). Returns 0 or a -FL_E code (nothing
 * started). */
int guard_flush_start(const char *const *paths, size_t n, pid_t *pid, int *pidfd);

/* Reaps a flush child without waiting: 0 when it flushed every volume,
 * -FL_EIO when one failed, -FL_EAGAIN while it still runs. */
int guard_flush_reap(pid_t pid);

#endif
