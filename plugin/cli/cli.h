/* Internal interface of the fencelock CLI: exit codes and command groups. */
#ifndef FL_CLI_H
#define FL_CLI_H

/* Exit codes, documented in `fencelock --help` and the README. */
enum fl_exit {
	FL_EXIT_OK = 0,
	FL_EXIT_FAIL = 1,       /* operation failed (I/O error, corrupt record, ...) */
	FL_EXIT_USAGE = 2,      /* bad command line or spec */
	FL_EXIT_BUSY = 3,       /* host_id or lease held by a live host */
	FL_EXIT_TIMEOUT = 4,    /* I/O timed out */
	FL_EXIT_CORRUPT = 5,    /* corrupt or foreign on-disk record */
	FL_EXIT_NOENT = 6,      /* device, path, VM or host not found, or the device too small */
	FL_EXIT_PERM = 7,       /* permission denied */
	FL_EXIT_NOTHELD = 8,    /* vm release / unregister: not held on this host */
	FL_EXIT_UNREACHABLE = 9, /* fencelockd unreachable: no control socket, nobody listening */
};

/* The "schema_version" of every JSON document the CLI prints (-o json):
 * raised when a field changes meaning or type or goes away (adding one does
 * not); docs/control-protocol.md, "JSON schema". */
#define FL_CLI_SCHEMA_VERSION 1

/* The one exit-code table, printed by every --help (plugin/cli/exit.c). */
extern const char fl_cli_exit_codes_text[];

/* Maps a -FL_E code to an exit code. */
int fl_cli_exit_for(int rv);
/* Maps the failure of fl_connect() to an exit code: 7 when the socket may
 * not be opened, 9 otherwise (the daemon is unreachable). */
int fl_cli_exit_connect(int rv);

/* `fencelock direct ...`: argv[0] is "direct". */
int fl_cli_direct(int argc, char **argv);

/* ---- paxos leases, layout, mailboxes (direct_paxos.c, direct_layout.c) ---- */
#include <stdbool.h>
#include <stdint.h>
#include "disklock/bdev.h"
#include "disklock/lockspace.h"
#include "disklock/paxos.h"

/* A real device and the epoll loop it completes on. */
struct fl_cli_dev {
	struct fl_eloop *el;
	struct fl_bdev *bdev;
};
/* Opens path (O_DIRECT, libaio); prints a one-line reason on failure. */
int fl_cli_dev_open(const char *path, bool create, uint64_t create_size, struct fl_cli_dev *d);
void fl_cli_dev_close(struct fl_cli_dev *d);

/* Watches delta leases of one lockspace to judge lease owners (vl_owner_fn).
 * Not patient (no --wait): a silent owner is watched one renewal interval. */
struct fl_cli_observer {
	struct fl_cli_dev dev;
	uint64_t offset;
	char space[FL_NAME_LEN + 1];
	struct ls_host_obs *obs;   /* by host_id, LS_MAX_HOSTS + 1 entries */
	bool patient;
};
int fl_cli_observer_open(struct fl_cli_observer *ob, const char *path, uint64_t offset, const char *space);
void fl_cli_observer_close(struct fl_cli_observer *ob);
enum vl_owner_state fl_cli_owner_state(void *ctx, uint64_t host_id, uint64_t generation);

/* Commands; argv[0] is the command name. init and read-leader dispatch on
 * -r (lease, here) versus -s (lockspace, direct_delta.c). */
int fl_cli_direct_init_r(int argc, char **argv);
int fl_cli_direct_acquire(int argc, char **argv);
int fl_cli_direct_release(int argc, char **argv);
int fl_cli_direct_read_leader_r(int argc, char **argv);
int fl_cli_direct_format(int argc, char **argv);
int fl_cli_direct_message(int argc, char **argv);
int fl_cli_direct_mailbox(int argc, char **argv);
/* True if argv has a -r option (a lease spec) rather than -s. */
bool fl_cli_has_lease_spec(int argc, char **argv);
/* Table entries for init / read-leader (-r here, -s to direct_delta.c) and
 * dump (the lockspace dump, then the fencelock area of a formatted device). */
int fl_cli_direct_init_any(int argc, char **argv);
int fl_cli_direct_read_leader_any(int argc, char **argv);
int fl_cli_direct_dump_any(int argc, char **argv);
/* Prints the fencelock area of a formatted device (header, mailboxes in use,
 * held leases) for `dump`; prints nothing for a device without a fencelock
 * header. Returns 0 or a -FL_E code. */
int fl_cli_dump_fencelock_text(const char *path);
/* The same as a JSON object (header fields, timeouts, offsets, mailboxes in
 * use, leases in use), or NULL for a device without a fencelock header; for
 * `dump -o json` to attach under "fencelock". Returns a new reference. */
#include <jansson.h>
json_t *fl_cli_fencelock_area_json(const char *path);
#endif
