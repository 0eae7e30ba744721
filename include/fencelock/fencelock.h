/* libfencelock: the client side of fencelockd's control socket.
 *
 * For VM managers (and the fencelock CLI): connect to the local daemon,
 * register a VM with its volumes, acquire and release the VM's volume leases
 * on behalf of the VMM's pid, inquire the opaque lease state for a migration
 * hand-off, and read the host's status. The calls mirror libvirt's lock
 * driver (virLockDriver: register, acquire, release, inquire).
 *
 * Every call blocks for at most the client's timeout (default 30 s; lease
 * acquisition needs disk I/O and may take a few io_timeouts). Every call
 * returns 0 or a negative -FL_E code (fencelock/error.h): -FL_EBUSY when a
 * volume is held by another host, -FL_ENOTQUORATE when this host is not
 * quorate, -FL_EPERM when the caller may not change state, -FL_ENOENT for an
 * unknown VM; fl_client_error() then holds the daemon's sentence. Requests
 * and replies are the versioned JSON of docs/control-protocol.md; a client
 * is not thread-safe (one request at a time; use one client per thread). */
#ifndef FENCELOCK_FENCELOCK_H
#define FENCELOCK_FENCELOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "fencelock/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; fl_version() gives the library's. The soname
 * is libfencelock.so.MAJOR: MAJOR changes when a call or structure here
 * changes incompatibly, MINOR when calls are added. */
#define FENCELOCK_VERSION_MAJOR 1
#define FENCELOCK_VERSION_MINOR 1
#define FENCELOCK_VERSION_PATCH 0
#define FENCELOCK_STR_(x) #x
#define FENCELOCK_XSTR_(x) FENCELOCK_STR_(x)
#define FENCELOCK_VERSION FENCELOCK_XSTR_(FENCELOCK_VERSION_MAJOR) "." FENCELOCK_XSTR_(FENCELOCK_VERSION_MINOR) "." \
	FENCELOCK_XSTR_(FENCELOCK_VERSION_PATCH)

#define FL_DEFAULT_SOCKET "/run/fencelock/fencelockd.sock"
#define FL_SOCKET_ENV "FENCELOCK_SOCKET"
#define FL_CLIENT_TIMEOUT_DEFAULT_MS 30000u
#define FL_GUARD_PATH_MAX 1024u

struct fl_client;

/* The version of the library actually loaded, "MAJOR.MINOR.PATCH" (static
 * string); compare with FENCELOCK_VERSION to detect a header/library skew. */
FL_PUBLIC const char *fl_version(void);

/* Connects to the daemon at socket_path; NULL means $FENCELOCK_SOCKET, or
 * FL_DEFAULT_SOCKET when unset. Returns 0 and *out, -FL_ENOENT if nobody
 * listens there, -FL_EPERM if the socket may not be opened, or another code.
 * On failure *out is NULL and nothing needs freeing. */
FL_PUBLIC int fl_connect(const char *socket_path, struct fl_client **out);

/* Closes the connection and frees the client (NULL is fine). */
FL_PUBLIC void fl_disconnect(struct fl_client *c);

/* The socket path this client connected to. */
FL_PUBLIC const char *fl_client_socket(const struct fl_client *c);

/* Sets the per-request timeout (milliseconds, > 0). */
FL_PUBLIC void fl_client_set_timeout_ms(struct fl_client *c, uint32_t timeout_ms);

/* The sentence describing the last failure ("" after a success). */
FL_PUBLIC const char *fl_client_error(const struct fl_client *c);

/* Sends one request given as JSON text (an object with "v" and "op") and
 * returns the reply's JSON text in *reply (malloc'd, caller frees), also when
 * the daemon answered an error. Returns 0 if the reply says ok, else the
 * reply's -FL_E code, or a transport error (then *reply is NULL). */
FL_PUBLIC int fl_request(struct fl_client *c, const char *request_json, char **reply);

struct fl_volume {
	const char *path;        /* absolute path of the block device or image */
	int read_only;           /* nonzero: shared read-only lease */
};

/* A volume with, optionally, an identity given by the operator. */
struct fl_volume_id {
	const char *path;        /* absolute path of the block device or image */
	int read_only;           /* nonzero: shared read-only lease */
	/* NULL: read from the device or file as fl_vm_register does; else
	 * 1..128 of [A-Za-z0-9._:-], registered as "id:ID": the same ID on
	 * every host that reaches this volume, for volumes whose identity
	 * cannot be read (or devices that only look alike). */
	const char *id;
};

/* A VM's restart policy: the one spelling of it in fencelock; what the
 * cluster does when the VM stops without an operator asking (docs/design.md,
 * "VM lifecycle"). The control protocol writes it "always", "never",
 * "on-failure", "manager"; the replicated state stores it in its own encoding
 * (plugin/model/fsm.h, enum fsm_restart), mapped from this one by the
 * daemon. The values are part of the ABI. */
enum fl_restart {
	FL_RESTART_ALWAYS = 0,   /* host failure: moved; VMM failure: re-run; clean end: stopped */
	FL_RESTART_NEVER = 1,    /* host failure: stays; VMM failure: stopped; clean end: unregistered */
	FL_RESTART_ON_FAILURE = 2, /* host failure: moved; VMM failure: re-run; clean end: unregistered */
	FL_RESTART_MANAGER = 3,  /* a VM manager runs it: never re-run by fencelock; recover_command on
				    host failure; clean end: unregistered */
};

/* Registers (or updates) a VM: its uid, volumes (1..8), an opaque spec given
 * back to the recover command when the VM is placed elsewhere (may be NULL),
 * and its restart policy. Each volume's identity is read here, in the
 * caller's process, from the device (sysfs) or the file's filesystem
 * (docs/design.md, "Volume identity"); a volume without one is refused with
 * a message naming its path (then use fl_vm_register_ids). Registering a
 * known uid again updates its spec, policy and paths (and its volumes while
 * it is stopped). */
FL_PUBLIC int fl_vm_register(struct fl_client *c, const char *uid, const struct fl_volume *volumes,
		   size_t n_volumes, const char *spec, enum fl_restart restart);

/* As fl_vm_register(), with operator-given identities where id is set. */
FL_PUBLIC int fl_vm_register_ids(struct fl_client *c, const char *uid, const struct fl_volume_id *volumes,
				 size_t n_volumes, const char *spec, enum fl_restart restart);

/* Removes a VM from the registry (its leases must be released).
 * -FL_ENOTHELD if it runs on another host. */
FL_PUBLIC int fl_vm_unregister(struct fl_client *c, const char *uid);

/* Clears the FAILED mark of a VM (every eligible host failed to start it):
 * the cluster places it again. -FL_ENOENT if it is not marked. */
FL_PUBLIC int fl_vm_clear(struct fl_client *c, const char *uid);

/* What the daemon grants with the leases: where the VM's guard deadline
 * lives and how the deadline moves (docs/control-protocol.md, vm.acquire). */
struct fl_lease_grant {
	char guard_path[FL_GUARD_PATH_MAX];
	uint32_t renew_interval_ms;  /* R: the deadline moves about this often */
	uint32_t fence_after_ms;     /* F: deadline = start of last good renewal + F */
	uint32_t kill_grace_ms;      /* K: SIGKILL this long after the deadline */
	char kill_path[FL_GUARD_PATH_MAX]; /* "" or a program run as KILL_PATH UID PID */
};

/* Acquires every volume lease of a registered VM for process pid (the VMM,
 * or the process about to exec it). state is NULL or a string returned by
 * fl_vm_inquire() on the source host of a migration. On success *grant says
 * how the VM must be guarded. Refused with -FL_EBUSY if another host holds a
 * lease, -FL_ENOTQUORATE if this host is not quorate. */
FL_PUBLIC int fl_vm_acquire(struct fl_client *c, const char *uid, pid_t pid, const char *state,
		  struct fl_lease_grant *grant);

/* Releases the VM's leases (pid 0: whoever holds them on this host). */
FL_PUBLIC int fl_vm_release(struct fl_client *c, const char *uid, pid_t pid);

/* Copies the opaque lease state of the VM into state (len bytes, NUL-terminated). */
FL_PUBLIC int fl_vm_inquire(struct fl_client *c, const char *uid, char *state, size_t len);

/* Reports that the VMM runs as pid, or has exited with wait_status (as from
 * waitpid()). */
FL_PUBLIC int fl_vm_started(struct fl_client *c, const char *uid, pid_t pid);
FL_PUBLIC int fl_vm_exited(struct fl_client *c, const char *uid, pid_t pid, int wait_status);

/* Returns this host's status as JSON text in *json (malloc'd): quorate,
 * leader, term, hosts, vms... (docs/control-protocol.md, op "status"). */
FL_PUBLIC int fl_status(struct fl_client *c, char **json);

#ifdef __cplusplus
}
#endif

#endif
