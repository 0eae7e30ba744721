/* fencelockd configuration: the INI file every host reads at start.
 *
 * cfg_load() parses the file with libinih into a plain struct and validates
 * every key: types, ranges, paths absolute, addresses IPv4:port, unknown
 * sections and keys refused, a key set twice refused, required keys present,
 * and the cross-checks between sections (our own id listed in [peers] with the
 * address we listen on). The first problem found becomes a one-line message
 * naming the file, the line and the key, e.g.
 *     fencelock.conf:7: [host] id: must be 1..2000, got 0
 * so the daemon can refuse to start with exactly that line. Durations are
 * written as "N", "Ns" or "Nms" and stored in microseconds or milliseconds as
 * the field names say. The keys and their defaults are documented in
 * docs/operations.md ("Configuration"). */
#ifndef FL_PLUGIN_CONFIG_H
#define FL_PLUGIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>
#include "plugin/host/cfg_syntax.h"

#define CFG_PATH_MAX 1024u
#define CFG_PEERS_MAX 128u
#define CFG_ERR_MAX 512u

enum cfg_watchdog_mode {
	CFG_WATCHDOG_AUTO = 0,  /* use /dev/watchdog if present */
	CFG_WATCHDOG_OFF,       /* never */
	CFG_WATCHDOG_DEVICE,    /* the named device, refuse to start without it */
};

/* Below the kernel's own real-time threads (watchdog, migration: 99), above
 * every ordinary process. */
#define CFG_RT_PRIORITY_DEFAULT 50u

struct cfg_peer {
	uint32_t id;
	struct sockaddr_in addr;
	uint32_t line;          /* line in the file, for later error messages */
};

struct fl_config {
	/* [cluster] */
	char cluster_name[CFG_NAME_MAX + 1];
	char device[CFG_PATH_MAX];
	uint32_t io_timeout_ms;           /* T: every timeout derives from it */
	uint32_t partition_tolerance_ms;  /* P */
	char key_file[CFG_PATH_MAX];      /* cluster key (fencelock keygen); required unless insecure */
	char key_file_next[CFG_PATH_MAX]; /* "" = none; the next key during a rotation */
	bool insecure;                    /* no key: plain Raft frames (tests only) */
	bool operator_forwarding;         /* as leader, run operator commands other members forward (default yes) */
	uint32_t voters;                  /* host voters the leader keeps: 3, 5 (default) or 7 */
	/* [host] */
	uint32_t host_id;
	char host_name[CFG_NAME_MAX + 1];
	struct sockaddr_in listen;
	char control_socket[CFG_PATH_MAX];
	bool have_control_group;
	gid_t control_gid;                /* members may use mutating control ops */
	uint32_t control_max_clients;     /* 0 = the server's default */
	uint32_t control_max_clients_per_uid; /* an unprivileged uid; 0 = default */
	uint32_t control_reserved_clients; /* kept for root, and for everyone else; 0 = default */
	char state_dir[CFG_PATH_MAX];
	char run_dir[CFG_PATH_MAX];       /* per-VM guard files live in run_dir/guard */
	char recover_command[CFG_PATH_MAX]; /* "" = rerun the registered command line */
	char kill_path[CFG_PATH_MAX];     /* "" = none; run at a VM's kill deadline */
	uint32_t vm_kill_grace_ms;        /* SIGTERM to SIGKILL; <= K = io_timeout */
	enum cfg_watchdog_mode watchdog;
	char watchdog_device[CFG_PATH_MAX];
	int log_level;                    /* syslog LOG_ERR..LOG_DEBUG */
	char metrics_file[CFG_PATH_MAX];  /* "" = none; node_exporter textfile */
	bool realtime;                    /* the lease loop thread runs SCHED_RR (default yes) */
	uint32_t rt_priority;             /* its SCHED_RR priority, 1..99 */
	bool lock_memory;                 /* mlockall(MCL_CURRENT | MCL_FUTURE) (default yes) */
	char vm_log_dir[CFG_PATH_MAX];    /* stdout/stderr of VMs we start; "" = state_dir/vm-logs */
	uint32_t max_vms;                 /* VMs the leader places here at most, 1..CFG_MAX_VMS_MAX; 0 = no limit */
	/* [peers]: empty when this host joins an existing cluster */
	uint32_t n_peers;
	struct cfg_peer peers[CFG_PEERS_MAX];
};

/* Parses and validates the INI file at path into *cfg (defaults first, then
 * the file). Returns 0, or -FL_ENOENT if the file cannot be opened, -FL_EINVAL
 * for any content error; on error err (errlen bytes, >= 1) holds one line
 * "FILE:LINE: [section] key: what is wrong" (LINE omitted for a missing key). */
int cfg_load(const char *path, struct fl_config *cfg, char *err, size_t errlen);

/* Same as cfg_load() on an in-memory text; name is used in messages only. */
int cfg_load_string(const char *name, const char *text, struct fl_config *cfg,
		    char *err, size_t errlen);

/* [host] max_vms at most (it travels in 16 bits: plugin/arbiter/arbiter.h). */
#define CFG_MAX_VMS_MAX 65535u
#define CFG_KEY_BYTES 32u

/* Reads a cluster key file (as written by `fencelock keygen`): a regular
 * file, not a symlink, of exactly CFG_KEY_BYTES bytes, owned by the
 * effective user and not readable or writable by group or others. Returns
 * 0, or a -FL_E code with one line in err naming the file and what to do. */
int cfg_read_key(const char *path, uint8_t key[CFG_KEY_BYTES], char *err, size_t errlen);

/* Reads the keys cfg names into keys[0] (key_file) and keys[1]
 * (key_file_next, if set); *n = how many (0 when insecure). Returns 0 or the
 * first failure of cfg_read_key() (err names the config key). */
int cfg_read_keys(const struct fl_config *cfg, uint8_t keys[2][CFG_KEY_BYTES], uint32_t *n, char *err,
		  size_t errlen);

/* Returns the peer with that id, or NULL. */
const struct cfg_peer *cfg_find_peer(const struct fl_config *cfg, uint32_t id);

#endif
