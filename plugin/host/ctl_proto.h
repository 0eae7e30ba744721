/* The control protocol between fencelockd and its clients (CLI, exec wrapper,
 * libfencelock, VM managers).
 *
 * Transport: a unix stream socket. Each message is a 4-byte little-endian
 * length followed by that many bytes of one JSON object (UTF-8, no NUL).
 * Requests carry "v": 1, "op" and the op's fields; responses carry "v": 1 and
 * "ok": true plus result fields, or "ok": false, "error" (a sentence) and
 * "code" (the positive FL_E number). A request longer than CTL_MSG_MAX_BYTES
 * (64 KiB; replies may reach CTL_REPLY_MAX_BYTES, 4 MiB) is refused and ends the connection (the stream cannot be resynchronised
 * cheaply and no legitimate client sends one); malformed JSON or an invalid
 * request inside a well-formed frame is answered with an error and the
 * connection goes on. Unknown fields are ignored so that minor additions stay
 * compatible; a different "v" is refused. docs/control-protocol.md is the
 * reference for every op and its fields.
 *
 * This module only encodes, decodes and validates: no I/O. Strings in a
 * decoded struct ctl_req point into the json_t they came from and live as
 * long as it does. */
#ifndef FL_PLUGIN_CTL_PROTO_H
#define FL_PLUGIN_CTL_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fencelock/fencelock.h"

#define CTL_PROTO_VERSION 1
#define CTL_HDR_BYTES 4u
#define CTL_MSG_MAX_BYTES (64u * 1024u)   /* requests */
#define CTL_REPLY_MAX_BYTES (4u * 1024u * 1024u) /* replies: lists of a large cluster */
#define CTL_UID_MAX 64u                   /* VM uid: [A-Za-z0-9._:-], no leading '.' */
#define CTL_VOLUMES_MAX 8u                /* = FSM_VOLS_MAX */
#define CTL_PATH_MAX 255u                 /* = FSM_PATH_MAX */
#define CTL_SPEC_MAX 16384u               /* = FSM_SPEC_MAX */
#define CTL_STATE_MAX 4096u
/* vms and leases answer in pages, in uid order: at most "limit" VMs
 * (default CTL_PAGE_DEFAULT, at most CTL_PAGE_MAX) after the uid "after",
 * and "next" (the last uid listed) when more follow. A page also ends
 * before its reply could pass CTL_PAGE_BYTES, whatever the limit. */
#define CTL_PAGE_DEFAULT 500u
#define CTL_PAGE_MAX 2000u
#define CTL_PAGE_BYTES (CTL_REPLY_MAX_BYTES / 2u)
#define CTL_ERR_MAX 256u

enum ctl_op {
	CTL_OP_STATUS = 0,
	CTL_OP_HOSTS,
	CTL_OP_LEASES,
	CTL_OP_VMS,
	CTL_OP_METRICS,
	CTL_OP_VM_REGISTER,
	CTL_OP_VM_UNREGISTER,
	CTL_OP_VM_ACQUIRE,
	CTL_OP_VM_RELEASE,
	CTL_OP_VM_INQUIRE,
	CTL_OP_VM_STARTED,
	CTL_OP_VM_EXITED,
	CTL_OP_HOST_ADD,
	CTL_OP_HOST_REMOVE,
	CTL_OP_VM_CLEAR,        /* uid: clears FAILED (the operator looked at it) */
	CTL_OP_EVENTS,          /* the cluster's event history, since_index? */
	/* The quorum view and the operator's commands (docs/operations.md):
	 * the changes run on the leader, which records the caller. */
	CTL_OP_QUORUM,          /* votes, voters, learners, peers (read) */
	CTL_OP_VM_SHOW,         /* uid: the VM's spec, volumes, state (privileged: specs may hold secrets) */
	CTL_OP_QUARANTINE_CLEAR, /* id: lifts a host's quarantine */
	CTL_OP_HOST_FENCE,      /* id: fences a host through its mailbox */
	CTL_OP_HOST_UNFENCE,    /* id: clears an operator's fence */
	CTL_OP_HOST_DRAIN,      /* id: moves every VM away, then nothing is placed there */
	CTL_OP_HOST_UNDRAIN,    /* id */
	CTL_OP_VM_MOVE,         /* uid, to: hands the VM over to host `to` */
	CTL_OP_LEADER_TRANSFER, /* to (0: the best voter) */
	CTL_OP_HOST_FORGET,     /* id: drops a LEFT host's record */
	CTL_OP_COUNT
};

struct ctl_volume {
	const char *path;       /* absolute: how the registering host reaches it */
	const char *id;         /* its identity (plugin/host/volid.h), checked by volid_valid() */
	bool ro;
};

/* A decoded, validated request; which fields are meaningful depends on op. */
struct ctl_req {
	enum ctl_op op;
	const char *uid;              /* vm.* */
	int32_t pid;                  /* vm.acquire/started/exited: > 0; release: 0 = any */
	uint32_t n_volumes;           /* vm.register: 1..CTL_VOLUMES_MAX */
	struct ctl_volume volumes[CTL_VOLUMES_MAX];
	const char *spec;             /* vm.register: opaque, "" when absent */
	enum fl_restart restart;      /* vm.register */
	const char *state;            /* vm.acquire: hand-off state from vm.inquire, or NULL */
	int32_t exit_code;            /* vm.exited: 0..255, or -1 when killed by a signal */
	int32_t exit_signal;          /* vm.exited: 0, or the signal that ended it */
	uint32_t host_id;             /* host.*, quarantine.clear: 1..2000; vm.move,
				       * leader.transfer ("to"): 1..2000, leader.transfer 0 = any */
	const char *host_name;        /* host.add */
	const char *host_addr;        /* host.add: IPv4:port */
	uint64_t since_index;         /* events: only events of Raft entries >= this (0: all held) */
	uint32_t limit;               /* vms, leases: VMs per page, 1..CTL_PAGE_MAX (0: CTL_PAGE_DEFAULT) */
	const char *after;            /* vms, leases: list the VMs whose uid sorts after this one (NULL: from the first) */
};

/* The op's wire name ("vm.acquire"); op < CTL_OP_COUNT. */
const char *ctl_op_name(enum ctl_op op);

/* True for ops that change state (and vm.show, whose spec may hold
 * secrets): they need root, the daemon's own uid or the control group. */
bool ctl_op_mutates(enum ctl_op op);

/* True if uid is a valid VM uid (it also names the VM's guard file). */
bool ctl_uid_valid(const char *uid);

/* The protocol's word for a restart policy: "always", "never",
 * "on-failure" or "manager" (NULL for a value outside enum fl_restart). */
const char *ctl_restart_name(enum fl_restart r);

/* Parses one of those words into *out. Returns 0, or -FL_EINVAL for any
 * other text or NULL (*out untouched). */
int ctl_restart_parse(const char *s, enum fl_restart *out);

/* Validates msg as a request of this protocol version and fills *req with
 * pointers into msg. Returns 0, or -FL_EINVAL / -FL_EVERSION with a sentence
 * in err (errlen >= 1) naming the field at fault. */
int ctl_req_decode(json_t *msg, struct ctl_req *req, char *err, size_t errlen);

/* Builds the request object for *req (with "v" and "op"). Returns 0 and a new
 * reference in *out, or -FL_EINVAL (message in err) if *req would not pass
 * ctl_req_decode(), or -FL_ENOMEM. */
int ctl_req_encode(const struct ctl_req *req, json_t **out, char *err, size_t errlen);

/* Returns a new {"v":1,"ok":true} object (NULL only on allocation failure). */
json_t *ctl_resp_ok(void);

/* Returns a new {"v":1,"ok":false,"error":msg,"code":-code} object; code is a
 * negative -FL_E value, msg a sentence (fl_strerror(code) when NULL). */
json_t *ctl_resp_error(int code, const char *msg);

/* Checks a response: 0 if it says ok, else the negative FL_E code it carries
 * with its "error" copied to err; -FL_EINVAL / -FL_EVERSION if it is not a
 * well-formed response of this version. */
int ctl_resp_check(const json_t *resp, char *err, size_t errlen);

/* Serialises msg into a new frame (header + compact JSON) in *buf / *len,
 * to be freed with free(). Returns 0, -FL_ENOSPC if the body is longer than
 * max_bytes (CTL_MSG_MAX_BYTES for requests, CTL_REPLY_MAX_BYTES for
 * replies), or -FL_ENOMEM. */
int ctl_frame_pack(const json_t *msg, size_t max_bytes, uint8_t **buf, size_t *len);

/* Looks for one frame at the start of buf (len bytes received so far).
 * Returns:
 *   0 with *msg NULL and *consumed 0: incomplete, read more;
 *   0 with *msg a new JSON object and *consumed the frame size;
 *   -FL_EINVAL with *consumed the frame size: the frame's body is not a JSON
 *       object (err says why); the stream can go on after it;
 *   -FL_ENOSPC: the header announces more than max_bytes or zero bytes;
 *       the stream cannot go on. */
int ctl_frame_parse(const uint8_t *buf, size_t len, size_t max_bytes, size_t *consumed, json_t **msg,
		    char *err, size_t errlen);

#endif
