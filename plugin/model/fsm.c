/* The replicated state machine: command and snapshot encoding, apply, queries.
 *
 * Encoding goes through one symmetric codec (struct cx): the same function
 * describes a record's fields for writing, reading and measuring, so encode
 * and decode cannot drift apart. Reading is bounds-checked at every field and
 * a failure only sets a flag, so any byte string, however malformed, ends in
 * a clean -FL_E code. Apply functions check everything first and change the
 * state only when the command is known to apply, so a rejection leaves no
 * trace but the counters. See fsm.h for the contract and docs/design.md
 * ("The arbiter") for the choices. */
#include <stdlib.h>
#include <string.h>
#include "plugin/model/fsm.h"
#include "plugin/model/fsm_ev.h"
#include "plugin/model/fsm_ix.h"
#include "common/assert.h"
#include "common/crc32c.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"

/* ---- the symmetric codec ---- */

enum cx_mode { CX_READ, CX_WRITE, CX_MEASURE };

struct cx {
	enum cx_mode mode;
	uint8_t *w;
	const uint8_t *r;
	size_t cap;
	size_t off;
	uint16_t ver; /* the format version read or written (commands, snapshots) */
	bool bad;   /* a bound or a value was violated */
	bool full;  /* writing ran out of room */
};

static bool cx_room(struct cx *x, size_t n)
{
	if (x->bad)
		return false;
	if (x->mode != CX_MEASURE && x->cap - x->off < n) {
		x->bad = true;
		x->full = x->mode == CX_WRITE;
		return false;
	}
	return true;
}

static void cx_u8(struct cx *x, uint8_t *v)
{
	if (!cx_room(x, 1))
		return;
	if (x->mode == CX_WRITE)
		x->w[x->off] = *v;
	else if (x->mode == CX_READ)
		*v = x->r[x->off];
	x->off += 1;
}

static void cx_u16(struct cx *x, uint16_t *v)
{
	if (!cx_room(x, 2))
		return;
	if (x->mode == CX_WRITE)
		fl_put_le16(x->w + x->off, *v);
	else if (x->mode == CX_READ)
		*v = fl_get_le16(x->r + x->off);
	x->off += 2;
}

static void cx_u32(struct cx *x, uint32_t *v)
{
	if (!cx_room(x, 4))
		return;
	if (x->mode == CX_WRITE)
		fl_put_le32(x->w + x->off, *v);
	else if (x->mode == CX_READ)
		*v = fl_get_le32(x->r + x->off);
	x->off += 4;
}

static void cx_u64(struct cx *x, uint64_t *v)
{
	if (!cx_room(x, 8))
		return;
	if (x->mode == CX_WRITE)
		fl_put_le64(x->w + x->off, *v);
	else if (x->mode == CX_READ)
		*v = fl_get_le64(x->r + x->off);
	x->off += 8;
}

/* Booleans are one byte, 0 or 1; anything else is malformed. */
static void cx_bool(struct cx *x, bool *v)
{
	uint8_t b = x->mode == CX_READ ? 0 : (uint8_t)(*v ? 1 : 0);
	cx_u8(x, &b);
	if (x->mode == CX_READ && !x->bad) {
		if (b > 1)
			x->bad = true;
		*v = b == 1;
	}
}

/* Printable ASCII; spaces only where allowed (paths, addresses). */
static bool str_ok(const char *s, size_t n, bool spaces)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch > 0x7e || ch < 0x20 || (ch == 0x20 && !spaces))
			return false;
	}
	return true;
}

/* A string is a u16 length then its bytes, no NUL; s holds max + 1 bytes. */
static void cx_str(struct cx *x, char *s, size_t max, bool spaces, bool empty_ok)
{
	FL_ASSERT(max < UINT16_MAX);
	uint16_t n = 0;
	if (x->mode != CX_READ) {
		size_t l = strnlen(s, max + 1);
		if (l > max || !str_ok(s, l, spaces))
			x->bad = true;
		n = (uint16_t)l;
	}
	cx_u16(x, &n);
	if (x->bad || n > max || (n == 0 && !empty_ok)) {
		x->bad = true;
		return;
	}
	if (!cx_room(x, n))
		return;
	if (x->mode == CX_WRITE) {
		memcpy(x->w + x->off, s, n);
	} else if (x->mode == CX_READ) {
		memcpy(s, x->r + x->off, n);
		s[n] = '\0';
		if (!str_ok(s, n, spaces))
			x->bad = true;
	}
	x->off += n;
}

/* A blob is a u32 length then its bytes; when reading, *p points into the input. */
static void cx_blob(struct cx *x, const uint8_t **p, uint32_t *len, uint32_t max)
{
	cx_u32(x, len);
	if (x->bad || *len > max) {
		x->bad = true;
		return;
	}
	if (!cx_room(x, *len))
		return;
	if (x->mode == CX_WRITE && *len > 0)
		memcpy(x->w + x->off, *p, *len);
	else if (x->mode == CX_READ)
		*p = x->r + x->off;
	x->off += *len;
}

/* ---- commands ---- */

static void cmd_register_body(struct cx *x, struct fsm_cmd *c)
{
	cx_str(x, c->uid, FSM_UID_MAX, false, false);
	cx_u8(x, &c->restart);
	cx_u64(x, &c->ptol_us);
	cx_u32(x, &c->host_id);
	cx_u8(x, &c->nvol);
	if (c->nvol > FSM_VOLS_MAX)
		x->bad = true;
	for (uint32_t i = 0; i < c->nvol && i < FSM_VOLS_MAX && !x->bad; i++) {
		cx_str(x, c->vol[i].id, FSM_VOLID_MAX, false, false);
		cx_str(x, c->vol[i].path, FSM_PATH_MAX, true, false);
		cx_bool(x, &c->vol[i].ro);
	}
	cx_u32(x, &c->owner_uid);
	cx_u32(x, &c->owner_gid);
	cx_blob(x, &c->spec, &c->spec_len, FSM_SPEC_MAX);
}

/* Fences, quarantine and notes: about one host. */
static void cmd_host_body(struct cx *x, struct fsm_cmd *c)
{
	switch (c->type) {
	case FSM_CMD_FENCE_REQUEST:
		cx_u32(x, &c->host_id);
		cx_u8(x, &c->reason);
		break;
	case FSM_CMD_FENCE_ACK:
		cx_u32(x, &c->host_id);
		cx_u64(x, &c->fence_index);
		break;
	case FSM_CMD_QUARANTINE_SET:
		cx_u32(x, &c->host_id);
		cx_u64(x, &c->until_us);
		break;
	default:
		FL_ASSERT(c->type == FSM_CMD_NOTE);
		if (x->ver < 4)
			x->bad = true;
		cx_u8(x, &c->flag);
		cx_u32(x, &c->host_id);
		cx_u8(x, &c->reason);
		break;
	}
}

/* The body of each command type, field by field. */
static void cmd_body(struct cx *x, struct fsm_cmd *c)
{
	switch (c->type) {
	case FSM_CMD_HOST_ADD:
		cx_u32(x, &c->host_id);
		cx_str(x, c->name, FSM_NAME_MAX, false, false);
		cx_str(x, c->addr, FSM_ADDR_MAX, true, false);
		cx_u8(x, &c->role);
		break;
	case FSM_CMD_HOST_RENAME:
		cx_u32(x, &c->host_id);
		cx_str(x, c->name, FSM_NAME_MAX, false, false);
		break;
	case FSM_CMD_HOST_REMOVE:
	case FSM_CMD_HOST_FORGET:
	case FSM_CMD_FENCE_CLEAR:
	case FSM_CMD_QUARANTINE_CLEAR:
		cx_u32(x, &c->host_id);
		break;
	case FSM_CMD_VM_REGISTER:
		cmd_register_body(x, c);
		break;
	case FSM_CMD_VM_UNREGISTER:
	case FSM_CMD_VM_CLEAR:
		cx_str(x, c->uid, FSM_UID_MAX, false, false);
		break;
	case FSM_CMD_VM_END:
	case FSM_CMD_VM_START_FAILED:
		cx_str(x, c->uid, FSM_UID_MAX, false, false);
		cx_u32(x, &c->host_id);
		cx_u64(x, &c->incarnation);
		if (c->type == FSM_CMD_VM_END)
			cx_u8(x, &c->flag);
		break;
	case FSM_CMD_VM_FAIL:
		cx_str(x, c->uid, FSM_UID_MAX, false, false);
		cx_u64(x, &c->incarnation);
		break;
	case FSM_CMD_VM_PLACE:
	case FSM_CMD_VM_REPORT:
		cx_str(x, c->uid, FSM_UID_MAX, false, false);
		cx_u32(x, &c->host_id);
		cx_u64(x, &c->incarnation);
		if (c->type == FSM_CMD_VM_REPORT)
			cx_u8(x, &c->running);
		break;
	case FSM_CMD_FENCE_REQUEST:
	case FSM_CMD_FENCE_ACK:
	case FSM_CMD_QUARANTINE_SET:
	case FSM_CMD_NOTE:
		cmd_host_body(x, c);
		break;
	case FSM_CMD_SLOT_ALLOC:
		cx_str(x, c->uid, FSM_UID_MAX, false, false);
		cx_str(x, c->volid, FSM_VOLID_MAX, false, false);
		cx_u32(x, &c->slot);
		break;
	case FSM_CMD_SLOT_FREE:
		cx_u32(x, &c->slot);
		break;
	default:
		x->bad = true;
		break;
	}
}

/* Version 4: who proposed and asked, when, and why. */
static void cmd_origin(struct cx *x, struct fsm_origin *o)
{
	if (x->ver < 4)
		return;
	cx_u64(x, &o->wall_us);
	cx_u32(x, &o->leader);
	cx_u32(x, &o->by_host);
	cx_bool(x, &o->by_op);
	cx_u32(x, &o->by_uid);
	cx_u8(x, &o->cause);
	if (o->cause >= FSM_CAUSE_END)
		x->bad = true;
}

/* CRC-32C over the header without its CRC field, then the body. */
static uint32_t cmd_crc(const uint8_t *buf, size_t len)
{
	FL_ASSERT(len >= FSM_CMD_HDR_BYTES);
	uint32_t crc = fl_crc32c(0xFFFFFFFFu, buf, 12);
	return ~fl_crc32c(crc, buf + 16, len - 16);
}

int fsm_cmd_encode(const struct fsm_cmd *c, uint8_t *buf, size_t cap, size_t *len)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(buf != NULL);
	FL_ASSERT(len != NULL);
	if (cap < FSM_CMD_HDR_BYTES)
		return -FL_ENOSPC;
	struct fsm_cmd tmp = *c;   /* the codec takes a mutable record; writing never changes it */
	struct cx x = {.mode = CX_WRITE, .w = buf + FSM_CMD_HDR_BYTES, .cap = cap - FSM_CMD_HDR_BYTES,
		       .ver = FSM_CMD_VERSION};
	cmd_body(&x, &tmp);
	cmd_origin(&x, &tmp.origin);
	if (x.bad)
		return x.full ? -FL_ENOSPC : -FL_EINVAL;
	FL_ASSERT(x.off <= FSM_CMD_MAX_BYTES - FSM_CMD_HDR_BYTES);
	fl_put_le32(buf, FSM_CMD_MAGIC);
	fl_put_le16(buf + 4, FSM_CMD_VERSION);
	fl_put_le16(buf + 6, c->type);
	fl_put_le32(buf + 8, (uint32_t)x.off);
	fl_put_le64(buf + 16, c->stamp_us);
	*len = FSM_CMD_HDR_BYTES + x.off;
	fl_put_le32(buf + 12, cmd_crc(buf, *len));
	return 0;
}

int fsm_cmd_decode(const uint8_t *buf, size_t len, struct fsm_cmd *c)
{
	FL_ASSERT(c != NULL);
	memset(c, 0, sizeof(*c));
	if (buf == NULL || len < FSM_CMD_HDR_BYTES || len > FSM_CMD_MAX_BYTES)
		return -FL_EINVAL;
	if (fl_get_le32(buf) != FSM_CMD_MAGIC)
		return -FL_EMAGIC;
	uint16_t ver = fl_get_le16(buf + 4);
	if (ver < FSM_CMD_VERSION_MIN || ver > FSM_CMD_VERSION)
		return -FL_EVERSION;
	if (fl_get_le32(buf + 8) != len - FSM_CMD_HDR_BYTES)
		return -FL_EINVAL;
	if (fl_get_le32(buf + 12) != cmd_crc(buf, len))
		return -FL_ECHECKSUM;
	c->type = fl_get_le16(buf + 6);
	c->stamp_us = fl_get_le64(buf + 16);
	struct cx x = {.mode = CX_READ, .r = buf + FSM_CMD_HDR_BYTES, .cap = len - FSM_CMD_HDR_BYTES, .ver = ver};
	cmd_body(&x, c);
	cmd_origin(&x, &c->origin);
	if (x.bad || x.off != x.cap)
		return -FL_EINVAL;
	FL_ASSERT(c->nvol <= FSM_VOLS_MAX);
	FL_ASSERT(c->spec_len <= FSM_SPEC_MAX);
	return 0;
}

/* ---- lifetime ---- */

void fsm_limits_default(struct fsm_limits *l)
{
	FL_ASSERT(l != NULL);
	l->max_hosts = FSM_HOSTS_DEFAULT;
	l->max_vms = FSM_VMS_DEFAULT;
	l->max_slots = 1024;
	l->spec_max_bytes = FSM_SPEC_MAX;
}

/* A snapshot restores into tables at least as large as the ones it was
 * taken from: entries keep their indexes, and what the larger tables change
 * (room for more) is the same on every host running this build. A release
 * that raised a table size therefore reads the snapshots of the one before,
 * once the whole cluster runs it (docs/operations.md, "Upgrading one host at
 * a time"). A snapshot of larger tables never fits. */
static bool limits_fit(const struct fsm_limits *snap, const struct fsm_limits *ours)
{
	return snap->max_hosts <= ours->max_hosts && snap->max_vms <= ours->max_vms &&
	       snap->max_slots <= ours->max_slots && snap->spec_max_bytes <= ours->spec_max_bytes;
}

static bool limits_ok(const struct fsm_limits *l)
{
	return l->max_hosts >= 1 && l->max_hosts <= FSM_HOST_ID_MAX &&
	       l->max_vms >= 1 && l->max_vms <= FSM_VMS_MAX &&
	       l->max_slots >= 1 && l->max_slots <= FSM_SLOTS_MAX &&
	       l->spec_max_bytes <= FSM_SPEC_MAX;
}

int fsm_init(struct fsm *f, const struct fsm_limits *l)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(l != NULL);
	memset(f, 0, sizeof(*f));
	if (!limits_ok(l))
		return -FL_EINVAL;
	uint64_t fixed = (uint64_t)FSM_SNAP_HDR_BYTES + FSM_SNAP_GLOBALS_BYTES + 4u +
			 (uint64_t)l->max_hosts * FSM_HOST_REC_MAX_BYTES + 4u + FSM_EVENTS_MAX_BYTES;
	if (fixed >= FSM_SNAP_MAX_BYTES)
		return -FL_EINVAL;
	f->lim = *l;
	f->charge_max = FSM_SNAP_MAX_BYTES - fixed;
	f->hosts = calloc(l->max_hosts, sizeof(*f->hosts));
	f->vms = calloc(l->max_vms, sizeof(*f->vms));
	f->slots = calloc(l->max_slots, sizeof(*f->slots));
	f->ev = calloc(FSM_EVENTS_MAX, sizeof(*f->ev));
	int rv = fsm_ix_alloc(f);
	if (f->hosts == NULL || f->vms == NULL || f->slots == NULL || rv != 0 || f->ev == NULL) {
		fsm_free(f);
		return -FL_ENOMEM;
	}
	fsm_reset(f);
	return 0;
}

void fsm_free(struct fsm *f)
{
	FL_ASSERT(f != NULL);
	free(f->hosts);
	free(f->vms);
	free(f->slots);
	fsm_ix_free(f);
	free(f->ev);
	memset(f, 0, sizeof(*f));
}

void fsm_reset(struct fsm *f)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->hosts != NULL);
	memset(f->hosts, 0, f->lim.max_hosts * sizeof(*f->hosts));
	memset(f->slots, 0, f->lim.max_slots * sizeof(*f->slots));
	memset(f->vms, 0, f->lim.max_vms * sizeof(*f->vms));
	fsm_ix_reset(f);
	f->charged = 0;
	f->last_index = 0;
	f->last_term = 0;
	f->clock_us = 0;
	memset(&f->ctr, 0, sizeof(f->ctr));
	memset(f->ev, 0, FSM_EVENTS_MAX * sizeof(*f->ev));
	f->ev_total = 0;
	FL_ASSERT(f->ix.free_n == f->ix.n_chunks);
}

/* ---- lookups ---- */

static int host_index(const struct fsm *f, uint32_t host_id)
{
	if (host_id == 0)
		return -1;
	for (uint32_t i = 0; i < f->lim.max_hosts; i++)
		if (f->hosts[i].host_id == host_id)
			return (int)i;
	return -1;
}

static struct fsm_host *host_joined(struct fsm *f, uint32_t host_id)
{
	int i = host_index(f, host_id);
	if (i < 0 || f->hosts[i].state != FSM_HOST_JOINED)
		return NULL;
	return &f->hosts[i];
}

static int vm_index(const struct fsm *f, const char *uid)
{
	return fsm_ix_uid_find(f, uid);
}

static int vm_volume(const struct fsm_vm *vm, const char *id)
{
	for (uint32_t i = 0; i < vm->nvol && i < FSM_VOLS_MAX; i++)
		if (strcmp(vm->vol[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* ---- apply: membership ---- */

static bool name_taken(const struct fsm *f, const char *name, uint32_t except_id)
{
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		const struct fsm_host *h = &f->hosts[i];
		if (h->state == FSM_HOST_JOINED && h->host_id != except_id &&
		    strcmp(h->name, name) == 0)
			return true;
	}
	return false;
}

static int ap_host_add(struct fsm *f, const struct fsm_cmd *c)
{
	if (c->host_id == 0 || c->host_id > FSM_HOST_ID_MAX ||
	    (c->role != FSM_ROLE_VOTER && c->role != FSM_ROLE_LEARNER))
		return -FL_EINVAL;
	int i = host_index(f, c->host_id);
	if (i >= 0 && f->hosts[i].state == FSM_HOST_JOINED)
		return -FL_EBUSY;
	if (name_taken(f, c->name, c->host_id))
		return -FL_EBUSY;
	if (i < 0) {   /* a LEFT host rejoins in its old entry, keeping its fence history */
		for (uint32_t k = 0; k < f->lim.max_hosts && i < 0; k++)
			if (f->hosts[k].host_id == 0)
				i = (int)k;
		if (i < 0)
			return -FL_ENOSPC;
	}
	struct fsm_host *h = &f->hosts[i];
	h->host_id = c->host_id;
	h->role = c->role;
	h->state = FSM_HOST_JOINED;
	memcpy(h->name, c->name, sizeof(h->name));
	memcpy(h->addr, c->addr, sizeof(h->addr));
	FL_ASSERT(host_joined(f, c->host_id) == h);
	return 0;
}

static int ap_host_remove(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_host *h = host_joined(f, c->host_id);
	if (h == NULL)
		return -FL_ENOENT;
	if (fsm_vms_on_host(f, c->host_id, NULL, 0) > 0)
		return -FL_EBUSY;
	h->state = FSM_HOST_LEFT;
	return 0;
}

/* A LEFT host's record goes: it leaves every table and its id is free. */
static int ap_host_forget(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_host *h = (struct fsm_host *)fsm_host_find(f, c->host_id);
	if (h == NULL)
		return -FL_ENOENT;
	if (h->state != FSM_HOST_LEFT)
		return -FL_EBUSY;
	FL_ASSERT(fsm_vms_on_host(f, c->host_id, NULL, 0) == 0);
	memset(h, 0, sizeof(*h));
	return 0;
}

static int ap_host_rename(struct fsm *f, const struct fsm_cmd *c)
{
	struct fsm_host *h = host_joined(f, c->host_id);
	if (h == NULL)
		return -FL_ENOENT;
	if (name_taken(f, c->name, c->host_id))
		return -FL_EBUSY;
	memcpy(h->name, c->name, sizeof(h->name));
	return 0;
}

/* ---- apply: VMs ---- */

/* Bytes a VM's snapshot record takes at most (its failure list full). */
static uint32_t cmd_charge(const struct fsm_cmd *c)
{
	size_t n = FSM_VM_CHARGE_FIXED + strlen(c->uid) + c->spec_len;
	for (uint32_t k = 0; k < c->nvol && k < FSM_VOLS_MAX; k++)
		n += FSM_VOL_CHARGE_FIXED + strlen(c->vol[k].id) + strlen(c->vol[k].path);
	FL_ASSERT(n <= UINT32_MAX);
	return (uint32_t)n;
}

static uint32_t vm_charge(const struct fsm_vm *vm)
{
	size_t n = FSM_VM_CHARGE_FIXED + strlen(vm->uid) + vm->spec_len;
	for (uint32_t k = 0; k < vm->nvol && k < FSM_VOLS_MAX; k++)
		n += FSM_VOL_CHARGE_FIXED + strlen(vm->vol[k].id) + strlen(vm->vol[k].path);
	FL_ASSERT(n <= UINT32_MAX);
	return (uint32_t)n;
}

/* A read-write volume (by identity) belongs to one active VM only; read-only
 * ones may be shared by VMs that all open them read-only. A stopped VM
 * (unplaced, not running) holds nothing: its registration stays, its
 * volumes are free, and placing it again checks them again (ap_vm_place). */
static int volumes_check(const struct fsm *f, const struct fsm_cmd *c, int self)
{
	for (uint32_t i = 0; i < c->nvol; i++) {
		if (c->vol[i].path[0] != '/' || strchr(c->vol[i].id, ':') == NULL)
			return -FL_EINVAL;
		for (uint32_t k = 0; k < i; k++)
			if (strcmp(c->vol[i].id, c->vol[k].id) == 0)
				return -FL_EINVAL;
		if (fsm_volume_holder(f, c->vol[i].id, c->vol[i].ro, self < 0 ? UINT32_MAX : (uint32_t)self) != NULL)
			return -FL_EBUSY;
	}
	return 0;
}

/* True if the command names the same volume identities and modes as vm. */
static bool same_identities(const struct fsm_vm *vm, const struct fsm_cmd *c)
{
	if (vm->nvol != c->nvol)
		return false;
	for (uint32_t i = 0; i < c->nvol; i++) {
		int k = vm_volume(vm, c->vol[i].id);
		if (k < 0 || vm->vol[k].ro != c->vol[i].ro)
			return false;
	}
	return true;
}

static void free_slots(struct fsm *f, struct fsm_vm *vm)
{
	for (uint32_t k = 0; k < vm->nvol; k++) {
		if (vm->vol[k].slot != FSM_SLOT_NONE)
			memset(&f->slots[vm->vol[k].slot], 0, sizeof(f->slots[0]));
		vm->vol[k].slot = FSM_SLOT_NONE;
	}
}

/* Copies the registration's fields into vm; a VM whose identities changed
 * loses its slots (the leader allocates new ones). */
static void vm_fill(struct fsm *f, struct fsm_vm *vm, const struct fsm_cmd *c)
{
	bool same = same_identities(vm, c);
	uint32_t slot[FSM_VOLS_MAX] = {0};
	for (uint32_t i = 0; i < c->nvol; i++) {
		int k = same ? vm_volume(vm, c->vol[i].id) : -1;
		slot[i] = k >= 0 ? vm->vol[k].slot : FSM_SLOT_NONE;
	}
	if (!same)
		free_slots(f, vm);
	vm->restart = c->restart;
	vm->ptol_us = c->ptol_us;
	vm->owner_uid = c->owner_uid;
	vm->owner_gid = c->owner_gid;
	vm->path_host = c->host_id;
	vm->nvol = c->nvol;
	for (uint32_t i = 0; i < c->nvol; i++) {
		memcpy(vm->vol[i].id, c->vol[i].id, sizeof(vm->vol[i].id));
		memcpy(vm->vol[i].path, c->vol[i].path, sizeof(vm->vol[i].path));
		vm->vol[i].ro = c->vol[i].ro;
		vm->vol[i].slot = slot[i];
	}
	if (vm->spec_len > 0)
		fsm_ix_spec_free(f, vm->spec_chunk);
	vm->spec_len = c->spec_len;
	vm->spec_chunk = c->spec_len > 0 ? fsm_ix_spec_store(f, c->spec, c->spec_len) : FSM_CHUNK_NONE;
}

/* Re-indexes the slot table after vm_fill() reordered a VM's volumes. */
static void vm_reslot(struct fsm *f, uint32_t idx)
{
	struct fsm_vm *vm = &f->vms[idx];
	for (uint32_t k = 0; k < vm->nvol; k++) {
		uint32_t s = vm->vol[k].slot;
		if (s == FSM_SLOT_NONE)
			continue;
		FL_ASSERT(s < f->lim.max_slots);
		f->slots[s].vm_plus1 = idx + 1;
		f->slots[s].vol = (uint8_t)k;
	}
}

/* A new uid is added unplaced; a known one is updated: its spec, policy and
 * paths always, its volume identities only while it is stopped. */
static int ap_vm_register(struct fsm *f, const struct fsm_cmd *c)
{
	if (c->restart < FSM_RESTART_ALWAYS || c->restart >= FSM_RESTART_END || c->nvol > FSM_VOLS_MAX ||
	    c->spec_len > f->lim.spec_max_bytes)
		return -FL_EINVAL;
	int self = vm_index(f, c->uid);
	int rv = volumes_check(f, c, self);
	if (rv != 0)
		return rv;
	if (self >= 0 && !same_identities(&f->vms[self], c) && fsm_vm_active(&f->vms[self]))
		return -FL_EBUSY;
	if (self < 0 && fsm_ix_vm_free(f) < f->lim.max_vms)
		self = (int)fsm_ix_vm_free(f);   /* the lowest free entry */
	if (self < 0)
		return -FL_ENOSPC;
	struct fsm_vm *vm = &f->vms[self];
	uint32_t charge = cmd_charge(c), old = vm->used ? vm->charge : 0;
	if (f->charged - old + charge > f->charge_max)
		return -FL_ENOSPC;   /* the snapshot would outgrow one Raft message */
	if (!vm->used) {   /* a new uid in the lowest free entry */
		memset(vm, 0, sizeof(*vm));
		vm->used = true;
		memcpy(vm->uid, c->uid, sizeof(vm->uid));
		fsm_ix_uid_add(f, (uint32_t)self);
	}
	fsm_ix_vols_del(f, (uint32_t)self);
	vm_fill(f, vm, c);
	fsm_ix_vols_add(f, (uint32_t)self);
	f->charged = f->charged - old + charge;
	vm->charge = charge;
	vm_reslot(f, (uint32_t)self);
	FL_ASSERT(vm_index(f, c->uid) == self);
	return 0;
}

static void vm_remove(struct fsm *f, struct fsm_vm *vm)
{
	uint32_t idx = (uint32_t)(vm - f->vms);
	FL_ASSERT(idx < f->lim.max_vms);
	free_slots(f, vm);
	fsm_ix_vols_del(f, idx);
	fsm_ix_uid_del(f, idx);
	if (vm->spec_len > 0)
		fsm_ix_spec_free(f, vm->spec_chunk);
	FL_ASSERT(f->charged >= vm->charge);
	f->charged -= vm->charge;
	memset(vm, 0, sizeof(*vm));
}

static int ap_vm_unregister(struct fsm *f, const struct fsm_cmd *c)
{
	int i = vm_index(f, c->uid);
	if (i < 0)
		return -FL_ENOENT;
	struct fsm_vm *vm = &f->vms[i];
	if (vm->run_state == FSM_RUN_RUNNING)
		return -FL_EBUSY;
	vm_remove(f, vm);
	FL_ASSERT(vm_index(f, c->uid) < 0);
	return 0;
}

/* Compare-and-set on the incarnation: a decision made on an older view of
 * the VM (a stale leader, a duplicate proposal) is refused. */
static int ap_vm_place(struct fsm *f, const struct fsm_cmd *c)
{
	int i = vm_index(f, c->uid);
	if (i < 0)
		return -FL_ENOENT;
	struct fsm_vm *vm = &f->vms[i];
	if (vm->incarnation != c->incarnation)
		return -FL_ESTALE;
	if (c->host_id != 0) {
		int h = host_index(f, c->host_id);
		if (h < 0)
			return -FL_ENOENT;
		/* Never onto a host that is leaving, flapping, or being fenced
		 * (SBD's "clean" start: no rejoin while a fence is pending). */
		if (f->hosts[h].state != FSM_HOST_JOINED || f->hosts[h].fence.active ||
		    fsm_host_quarantined(f, c->host_id, f->clock_us))
			return -FL_EPERM;
		if (vm->failed)
			return -FL_EPERM;   /* FAILED until an operator clears it */
		for (uint32_t k = 0; k < vm->nvol; k++)
			if (fsm_volume_holder(f, vm->vol[k].id, vm->vol[k].ro, (uint32_t)i) != NULL)
				return -FL_EBUSY;
	}
	vm->pending = false;
	vm->desired_host = c->host_id;
	vm->incarnation++;
	vm->run_state = FSM_RUN_STOPPED;
	vm->run_host = 0;
	f->ctr.placements++;
	FL_ASSERT(vm->incarnation == c->incarnation + 1);
	return 0;
}

static int ap_vm_report(struct fsm *f, const struct fsm_cmd *c)
{
	if (c->running > 1)
		return -FL_EINVAL;
	int i = vm_index(f, c->uid);
	if (i < 0)
		return -FL_ENOENT;
	struct fsm_vm *vm = &f->vms[i];
	if (vm->incarnation != c->incarnation || vm->desired_host != c->host_id || c->host_id == 0)
		return -FL_ESTALE;
	vm->run_state = c->running ? FSM_RUN_RUNNING : FSM_RUN_STOPPED;
	vm->run_host = c->running ? c->host_id : 0;
	if (c->running) {   /* it runs: the failures before count no more */
		vm->nfailed = 0;
		memset(vm->failed_on, 0, sizeof(vm->failed_on));
	}
	return 0;
}

/* The VM's current placement, checked as VM_REPORT does: the command must
 * come from the host it is placed on, for its current incarnation. */
static struct fsm_vm *vm_placed_cas(struct fsm *f, const struct fsm_cmd *c, int *rv)
{
	int i = vm_index(f, c->uid);
	*rv = i < 0 ? -FL_ENOENT : 0;
	if (i < 0)
		return NULL;
	struct fsm_vm *vm = &f->vms[i];
	if (vm->incarnation != c->incarnation || vm->desired_host != c->host_id || c->host_id == 0) {
		*rv = -FL_ESTALE;
		return NULL;
	}
	return vm;
}

static void vm_unplace(struct fsm *f, struct fsm_vm *vm)
{
	vm->desired_host = 0;
	vm->incarnation++;
	vm->run_state = FSM_RUN_STOPPED;
	vm->run_host = 0;
	f->ctr.placements++;
}

static int ap_vm_end(struct fsm *f, const struct fsm_cmd *c)
{
	int rv;
	if (c->flag > 1)
		return -FL_EINVAL;
	struct fsm_vm *vm = vm_placed_cas(f, c, &rv);
	if (vm == NULL)
		return rv;
	vm_unplace(f, vm);
	vm->pending = false;
	if (c->flag == 1)
		vm_remove(f, vm);
	return 0;
}

static int ap_vm_start_failed(struct fsm *f, const struct fsm_cmd *c)
{
	int rv;
	struct fsm_vm *vm = vm_placed_cas(f, c, &rv);
	if (vm == NULL)
		return rv;
	if (!fsm_vm_failed_on(vm, c->host_id)) {
		if (vm->nfailed == FSM_FAILED_MAX) {   /* keep the newest */
			memmove(vm->failed_on, vm->failed_on + 1, (FSM_FAILED_MAX - 1) * sizeof(vm->failed_on[0]));
			vm->nfailed--;
		}
		vm->failed_on[vm->nfailed++] = c->host_id;
	}
	vm_unplace(f, vm);
	vm->pending = vm->restart != FSM_RESTART_NEVER;
	FL_ASSERT(vm->nfailed <= FSM_FAILED_MAX);
	return 0;
}

static int ap_vm_fail_clear(struct fsm *f, const struct fsm_cmd *c)
{
	int i = vm_index(f, c->uid);
	if (i < 0)
		return -FL_ENOENT;
	struct fsm_vm *vm = &f->vms[i];
	if (c->type == FSM_CMD_VM_CLEAR) {
		if (!vm->failed && vm->nfailed == 0)
			return -FL_ENOENT;
		vm->failed = false;
		vm->nfailed = 0;
		memset(vm->failed_on, 0, sizeof(vm->failed_on));
		vm->pending = vm->desired_host == 0 && vm->restart != FSM_RESTART_NEVER;
		return 0;
	}
	FL_ASSERT(c->type == FSM_CMD_VM_FAIL);
	if (vm->incarnation != c->incarnation)
		return -FL_ESTALE;
	if (vm->desired_host != 0 || vm->failed)
		return -FL_EBUSY;
	vm->failed = true;
	vm->pending = false;
	return 0;
}

/* ---- apply: fencing, quarantine, slots ---- */

static int ap_fence(struct fsm *f, uint64_t index, uint64_t term, const struct fsm_cmd *c)
{
	int i = host_index(f, c->host_id);
	if (i < 0)
		return -FL_ENOENT;
	struct fsm_host *h = &f->hosts[i];
	struct fsm_fence *fe = &h->fence;
	switch (c->type) {
	case FSM_CMD_FENCE_REQUEST:
		if (c->reason == 0 || c->reason >= FSM_FENCE_REASON_END)
			return -FL_EINVAL;
		if (h->state != FSM_HOST_JOINED)
			return -FL_EPERM;
		if (fe->active)
			return -FL_EBUSY;
		*fe = (struct fsm_fence){.active = true, .reason = c->reason, .req_index = index,
					 .req_term = term, .req_stamp_us = f->clock_us};
		h->fence_stamps_us[h->fence_total % FSM_FENCE_HISTORY] = f->clock_us;
		h->fence_total++;
		f->ctr.fences++;
		return 0;
	case FSM_CMD_FENCE_ACK:
		if (!fe->active)
			return -FL_ENOENT;
		if (fe->req_index != c->fence_index)
			return -FL_ESTALE;
		fe->acked = true;   /* acking twice is harmless */
		return 0;
	default:
		FL_ASSERT(c->type == FSM_CMD_FENCE_CLEAR);
		if (!fe->active)
			return -FL_ENOENT;
		memset(fe, 0, sizeof(*fe));
		return 0;
	}
}

static int ap_quarantine(struct fsm *f, const struct fsm_cmd *c)
{
	int i = host_index(f, c->host_id);
	if (i < 0)
		return -FL_ENOENT;
	if (c->type == FSM_CMD_QUARANTINE_SET) {
		if (c->until_us <= f->clock_us)
			return -FL_EINVAL;   /* already over: a stale proposal */
		f->hosts[i].quarantine_until_us = c->until_us;
	} else {
		FL_ASSERT(c->type == FSM_CMD_QUARANTINE_CLEAR);
		f->hosts[i].quarantine_until_us = 0;
	}
	return 0;
}

static int ap_slot_alloc(struct fsm *f, const struct fsm_cmd *c)
{
	int i = vm_index(f, c->uid);
	int v = i < 0 ? -1 : vm_volume(&f->vms[i], c->volid);
	if (v < 0)
		return -FL_ENOENT;
	struct fsm_volume *vol = &f->vms[i].vol[v];
	if (vol->slot != FSM_SLOT_NONE)
		return -FL_EBUSY;
	uint32_t s = c->slot;
	if (s == FSM_SLOT_ANY) {
		for (s = 0; s < f->lim.max_slots && f->slots[s].vm_plus1 != 0; s++)
			;
		if (s == f->lim.max_slots)
			return -FL_ENOSPC;
	} else if (s >= f->lim.max_slots) {
		return -FL_EINVAL;
	} else if (f->slots[s].vm_plus1 != 0) {
		return -FL_EBUSY;
	}
	f->slots[s].vm_plus1 = (uint32_t)i + 1;
	f->slots[s].vol = (uint8_t)v;
	vol->slot = s;
	FL_ASSERT(s < f->lim.max_slots);
	return 0;
}

static int ap_slot_free(struct fsm *f, const struct fsm_cmd *c)
{
	if (c->slot >= f->lim.max_slots)
		return -FL_EINVAL;
	struct fsm_slot *s = &f->slots[c->slot];
	if (s->vm_plus1 == 0)
		return -FL_ENOENT;
	struct fsm_vm *vm = &f->vms[s->vm_plus1 - 1];
	FL_ASSERT(vm->used);
	FL_ASSERT(vm->vol[s->vol].slot == c->slot);
	if (vm->run_state == FSM_RUN_RUNNING)
		return -FL_EBUSY;
	vm->vol[s->vol].slot = FSM_SLOT_NONE;
	memset(s, 0, sizeof(*s));
	return 0;
}

/* What the leader saw, for the history: a host's state (a repeat of the
 * state last noted is refused, so a new leader's re-notes add nothing), a
 * voter promotion (once), or its own election. */
static int ap_note(struct fsm *f, const struct fsm_cmd *c)
{
	if (c->flag == FSM_NOTE_LEADER)
		return c->origin.leader != 0 ? 0 : -FL_EINVAL;
	if (c->flag != FSM_NOTE_HOST_STATE && c->flag != FSM_NOTE_VOTER)
		return -FL_EINVAL;
	int i = host_index(f, c->host_id);
	if (i < 0)
		return -FL_ENOENT;
	struct fsm_host *h = &f->hosts[i];
	if (c->flag == FSM_NOTE_VOTER) {
		if (h->noted_voter)
			return -FL_EBUSY;
		h->noted_voter = true;
		return 0;
	}
	if (c->reason < FSM_CAUSE_UP || c->reason > FSM_CAUSE_LEFT)
		return -FL_EINVAL;
	if (h->noted_state == c->reason)
		return -FL_EBUSY;
	h->noted_state = c->reason;
	FL_ASSERT(h->noted_state != 0);
	return 0;
}

/* What decode guarantees and apply relies on for memory safety. */
static bool cmd_bounded(const struct fsm_cmd *c)
{
	if (memchr(c->name, 0, sizeof(c->name)) == NULL || memchr(c->addr, 0, sizeof(c->addr)) == NULL ||
	    memchr(c->uid, 0, sizeof(c->uid)) == NULL || memchr(c->volid, 0, sizeof(c->volid)) == NULL ||
	    c->nvol > FSM_VOLS_MAX || (c->spec_len > 0 && c->spec == NULL))
		return false;
	for (uint32_t i = 0; i < c->nvol; i++)
		if (memchr(c->vol[i].path, 0, sizeof(c->vol[i].path)) == NULL ||
		    memchr(c->vol[i].id, 0, sizeof(c->vol[i].id)) == NULL)
			return false;
	return true;
}

int fsm_apply_cmd(struct fsm *f, uint64_t index, uint64_t term, const struct fsm_cmd *c)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(c != NULL);
	FL_ASSERT(index > f->last_index);
	FL_ASSERT(term >= f->last_term);
	FL_ASSERT(cmd_bounded(c));
	f->last_index = index;
	f->last_term = term;
	f->clock_us = FL_MAX(f->clock_us, c->stamp_us);
	struct fsm_ev_pre pre;
	fsm_ev_before(f, c, &pre);
	int rv;
	switch (c->type) {
	case FSM_CMD_HOST_ADD: rv = ap_host_add(f, c); break;
	case FSM_CMD_HOST_REMOVE: rv = ap_host_remove(f, c); break;
	case FSM_CMD_HOST_RENAME: rv = ap_host_rename(f, c); break;
	case FSM_CMD_HOST_FORGET: rv = ap_host_forget(f, c); break;
	case FSM_CMD_VM_REGISTER: rv = ap_vm_register(f, c); break;
	case FSM_CMD_VM_UNREGISTER: rv = ap_vm_unregister(f, c); break;
	case FSM_CMD_VM_PLACE: rv = ap_vm_place(f, c); break;
	case FSM_CMD_VM_REPORT: rv = ap_vm_report(f, c); break;
	case FSM_CMD_FENCE_REQUEST:
	case FSM_CMD_FENCE_ACK:
	case FSM_CMD_FENCE_CLEAR: rv = ap_fence(f, index, term, c); break;
	case FSM_CMD_QUARANTINE_SET:
	case FSM_CMD_QUARANTINE_CLEAR: rv = ap_quarantine(f, c); break;
	case FSM_CMD_SLOT_ALLOC: rv = ap_slot_alloc(f, c); break;
	case FSM_CMD_SLOT_FREE: rv = ap_slot_free(f, c); break;
	case FSM_CMD_VM_END: rv = ap_vm_end(f, c); break;
	case FSM_CMD_VM_START_FAILED: rv = ap_vm_start_failed(f, c); break;
	case FSM_CMD_VM_FAIL:
	case FSM_CMD_VM_CLEAR: rv = ap_vm_fail_clear(f, c); break;
	case FSM_CMD_NOTE: rv = ap_note(f, c); break;
	default: rv = -FL_EINVAL; break;
	}
	if (rv == 0) {
		f->ctr.applied++;
		fsm_ev_after(f, index, term, c, &pre);
	} else {
		f->ctr.rejected++;
	}
	return rv;
}

int fsm_apply(struct fsm *f, uint64_t index, uint64_t term, const uint8_t *buf, size_t len)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(index > f->last_index);
	FL_ASSERT(term >= f->last_term);
	struct fsm_cmd c;
	int rv = fsm_cmd_decode(buf, len, &c);
	if (rv != 0) {
		f->last_index = index;
		f->last_term = term;
		f->ctr.rejected++;
		return rv;
	}
	return fsm_apply_cmd(f, index, term, &c);
}

/* ---- snapshot ---- */

static void snap_host(struct cx *x, struct fsm_host *h)
{
	cx_u32(x, &h->host_id);
	cx_u8(x, &h->role);
	cx_u8(x, &h->state);
	cx_str(x, h->name, FSM_NAME_MAX, false, false);
	cx_str(x, h->addr, FSM_ADDR_MAX, true, false);
	cx_bool(x, &h->fence.active);
	cx_bool(x, &h->fence.acked);
	cx_u8(x, &h->fence.reason);
	cx_u64(x, &h->fence.req_index);
	cx_u64(x, &h->fence.req_term);
	cx_u64(x, &h->fence.req_stamp_us);
	cx_u32(x, &h->fence_total);
	for (uint32_t k = 0; k < FSM_FENCE_HISTORY; k++)
		cx_u64(x, &h->fence_stamps_us[k]);
	cx_u64(x, &h->quarantine_until_us);
	if (x->ver >= 4) {
		cx_u8(x, &h->noted_state);
		cx_bool(x, &h->noted_voter);
		if (h->noted_state > FSM_CAUSE_LEFT)
			x->bad = true;
	}
}

static void snap_event(struct cx *x, struct fsm_event *e)
{
	cx_u64(x, &e->seq);
	cx_u64(x, &e->index);
	cx_u64(x, &e->term);
	cx_u64(x, &e->wall_us);
	cx_u64(x, &e->value);
	cx_u32(x, &e->host_id);
	cx_u32(x, &e->from_host);
	cx_u32(x, &e->leader);
	cx_u32(x, &e->by_host);
	cx_u32(x, &e->by_uid);
	cx_bool(x, &e->by_op);
	cx_u8(x, &e->kind);
	cx_u8(x, &e->state);
	cx_u8(x, &e->cause);
	cx_str(x, e->uid, FSM_UID_MAX, false, true);
	if (e->kind == 0 || e->kind >= FSM_EV_KIND_END || e->cause >= FSM_CAUSE_END)
		x->bad = true;
}

/* Version 4: the event total, then the events held, oldest first. */
static void snap_events_write(const struct fsm *f, struct cx *x)
{
	uint64_t total = f->ev_total;
	uint32_t n = fsm_events_held(f);
	cx_u64(x, &total);
	cx_u32(x, &n);
	for (uint64_t seq = total - n; seq < total; seq++) {
		struct fsm_event e = *fsm_event_get(f, seq);
		snap_event(x, &e);
	}
}

static bool snap_events_read(struct fsm *f, struct cx *x)
{
	uint64_t total = 0;
	uint32_t n = 0;
	cx_u64(x, &total);
	cx_u32(x, &n);
	if (x->bad || n > FSM_EVENTS_MAX || n > total || (total > FSM_EVENTS_MAX && n != FSM_EVENTS_MAX) ||
	    (total <= FSM_EVENTS_MAX && n != total))
		return false;
	for (uint64_t seq = total - n; seq < total && !x->bad; seq++) {
		struct fsm_event *e = &f->ev[seq % FSM_EVENTS_MAX];
		snap_event(x, e);
		if (e->seq != seq)
			return false;
	}
	f->ev_total = total;
	return !x->bad;
}

/* The VM's record but its spec (snap_spec_write, read as a blob after it). */
static void snap_vm(struct cx *x, struct fsm_vm *vm)
{
	cx_str(x, vm->uid, FSM_UID_MAX, false, false);
	cx_u8(x, &vm->restart);
	cx_u8(x, &vm->run_state);
	cx_u8(x, &vm->nvol);
	if (vm->nvol > FSM_VOLS_MAX)
		x->bad = true;
	for (uint32_t i = 0; i < vm->nvol && i < FSM_VOLS_MAX && !x->bad; i++) {
		cx_str(x, vm->vol[i].id, FSM_VOLID_MAX, false, false);
		cx_str(x, vm->vol[i].path, FSM_PATH_MAX, true, false);
		cx_bool(x, &vm->vol[i].ro);
		cx_u32(x, &vm->vol[i].slot);
	}
	cx_u32(x, &vm->path_host);
	cx_bool(x, &vm->pending);
	cx_bool(x, &vm->failed);
	cx_u8(x, &vm->nfailed);
	if (vm->nfailed > FSM_FAILED_MAX)
		x->bad = true;
	for (uint32_t k = 0; k < vm->nfailed && k < FSM_FAILED_MAX && !x->bad; k++)
		cx_u32(x, &vm->failed_on[k]);
	cx_u32(x, &vm->desired_host);
	cx_u32(x, &vm->run_host);
	cx_u64(x, &vm->incarnation);
	cx_u64(x, &vm->ptol_us);
	cx_u32(x, &vm->owner_uid);
	cx_u32(x, &vm->owner_gid);
}

/* Writes (or measures) vm's spec as a blob, from its chunks. */
static void snap_spec_write(const struct fsm *f, struct cx *x, const struct fsm_vm *vm)
{
	uint32_t len = vm->spec_len;
	cx_u32(x, &len);
	if (!cx_room(x, len))
		return;
	if (x->mode == CX_WRITE && len > 0)
		fsm_ix_spec_copy(f, vm->spec_chunk, len, x->w + x->off);
	x->off += len;
}

static void snap_globals(struct cx *x, struct fsm_limits *l, uint64_t v[3], struct fsm_counters *ctr)
{
	cx_u32(x, &l->max_hosts);
	cx_u32(x, &l->max_vms);
	cx_u32(x, &l->max_slots);
	cx_u32(x, &l->spec_max_bytes);
	for (uint32_t k = 0; k < 3; k++)
		cx_u64(x, &v[k]);
	cx_u64(x, &ctr->applied);
	cx_u64(x, &ctr->rejected);
	cx_u64(x, &ctr->placements);
	cx_u64(x, &ctr->fences);
}

/* Writes (or measures) the body; entries carry their table index so that a
 * restored FSM has the same holes, hence the same future choices. */
static void snap_write(const struct fsm *f, struct cx *x)
{
	struct fsm_limits l = f->lim;
	uint64_t v[3] = {f->last_index, f->last_term, f->clock_us};
	struct fsm_counters ctr = f->ctr;
	snap_globals(x, &l, v, &ctr);
	uint32_t n = 0;
	for (uint32_t i = 0; i < f->lim.max_hosts; i++)
		n += f->hosts[i].host_id != 0;
	cx_u32(x, &n);
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		if (f->hosts[i].host_id == 0)
			continue;
		struct fsm_host h = f->hosts[i];
		uint32_t idx = i;
		cx_u32(x, &idx);
		snap_host(x, &h);
	}
	n = 0;
	for (uint32_t i = 0; i < f->lim.max_vms; i++)
		n += f->vms[i].used;
	cx_u32(x, &n);
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		if (!f->vms[i].used)
			continue;
		struct fsm_vm vm = f->vms[i];
		uint32_t idx = i;
		cx_u32(x, &idx);
		snap_vm(x, &vm);
		snap_spec_write(f, x, &f->vms[i]);
	}
	if (x->ver >= 4)
		snap_events_write(f, x);
}

size_t fsm_snapshot_size(const struct fsm *f)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->hosts != NULL);
	struct cx x = {.mode = CX_MEASURE, .ver = FSM_SNAP_VERSION};
	snap_write(f, &x);
	FL_ASSERT(!x.bad);
	return FSM_SNAP_HDR_BYTES + x.off;
}

int fsm_snapshot(const struct fsm *f, uint8_t *buf, size_t cap, size_t *len)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(buf != NULL);
	FL_ASSERT(len != NULL);
	if (cap < FSM_SNAP_HDR_BYTES)
		return -FL_ENOSPC;
	struct cx x = {.mode = CX_WRITE, .w = buf + FSM_SNAP_HDR_BYTES, .cap = cap - FSM_SNAP_HDR_BYTES,
		       .ver = FSM_SNAP_VERSION};
	snap_write(f, &x);
	if (x.bad)
		return -FL_ENOSPC;
	FL_ASSERT(x.off <= UINT32_MAX);
	fl_put_le32(buf, FSM_SNAP_MAGIC);
	fl_put_le16(buf + 4, FSM_SNAP_VERSION);
	fl_put_le16(buf + 6, 0);
	fl_put_le32(buf + 8, (uint32_t)x.off);
	fl_put_le32(buf + 12, fl_crc32c_std(buf + FSM_SNAP_HDR_BYTES, x.off));
	*len = FSM_SNAP_HDR_BYTES + x.off;
	return 0;
}

/* Reads VM record idx, its spec into the pool, and indexes it; false if it
 * is malformed, a duplicate, or over the snapshot bound. */
static bool snap_read_vm(struct fsm *f, struct cx *x, uint32_t idx)
{
	struct fsm_vm *vm = &f->vms[idx];
	const uint8_t *spec = NULL;
	snap_vm(x, vm);
	cx_blob(x, &spec, &vm->spec_len, f->lim.spec_max_bytes);
	if (x->bad || vm_index(f, vm->uid) >= 0)
		return false;
	vm->charge = vm_charge(vm);
	if (f->charged + vm->charge > f->charge_max || fsm_ix_chunks(vm->spec_len) > f->ix.free_n)
		return false;
	f->charged += vm->charge;
	vm->spec_chunk = vm->spec_len > 0 ? fsm_ix_spec_store(f, spec, vm->spec_len) : FSM_CHUNK_NONE;
	vm->used = true;
	fsm_ix_uid_add(f, idx);
	fsm_ix_vols_add(f, idx);
	return true;
}

/* Reads the host and VM tables into an emptied f; false on any inconsistency. */
static bool snap_read_tables(struct fsm *f, struct cx *x)
{
	uint32_t n = 0;
	cx_u32(x, &n);
	for (uint32_t k = 0; k < n && k < f->lim.max_hosts && !x->bad; k++) {
		uint32_t idx = UINT32_MAX;
		cx_u32(x, &idx);
		if (x->bad || idx >= f->lim.max_hosts || f->hosts[idx].host_id != 0)
			return false;
		snap_host(x, &f->hosts[idx]);
		if (f->hosts[idx].host_id == 0)
			return false;
	}
	if (x->bad || n > f->lim.max_hosts)
		return false;
	cx_u32(x, &n);
	for (uint32_t k = 0; k < n && k < f->lim.max_vms && !x->bad; k++) {
		uint32_t idx = UINT32_MAX;
		cx_u32(x, &idx);
		if (x->bad || idx >= f->lim.max_vms || f->vms[idx].used)
			return false;
		if (!snap_read_vm(f, x, idx))
			return false;
	}
	if (x->bad || n > f->lim.max_vms)
		return false;
	if (x->ver >= 4 && !snap_events_read(f, x))
		return false;
	return !x->bad && x->off == x->cap;
}

/* Rebuilds the slot table from the volumes; false on a collision. */
static bool snap_rebuild_slots(struct fsm *f)
{
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		struct fsm_vm *vm = &f->vms[i];
		for (uint32_t k = 0; vm->used && k < vm->nvol; k++) {
			uint32_t s = vm->vol[k].slot;
			if (s == FSM_SLOT_NONE)
				continue;
			if (s >= f->lim.max_slots || f->slots[s].vm_plus1 != 0)
				return false;
			f->slots[s].vm_plus1 = i + 1;
			f->slots[s].vol = (uint8_t)k;
		}
	}
	return true;
}

int fsm_restore(struct fsm *f, const uint8_t *buf, size_t len)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->hosts != NULL);
	if (buf == NULL || len < FSM_SNAP_HDR_BYTES)
		return -FL_EINVAL;
	if (fl_get_le32(buf) != FSM_SNAP_MAGIC)
		return -FL_EMAGIC;
	uint16_t ver = fl_get_le16(buf + 4);
	if (ver < FSM_SNAP_VERSION_MIN || ver > FSM_SNAP_VERSION || fl_get_le16(buf + 6) != 0)
		return -FL_EVERSION;
	if (fl_get_le32(buf + 8) != len - FSM_SNAP_HDR_BYTES)
		return -FL_EINVAL;
	if (fl_get_le32(buf + 12) != fl_crc32c_std(buf + FSM_SNAP_HDR_BYTES, len - FSM_SNAP_HDR_BYTES))
		return -FL_ECHECKSUM;
	struct cx x = {.mode = CX_READ, .r = buf + FSM_SNAP_HDR_BYTES, .cap = len - FSM_SNAP_HDR_BYTES, .ver = ver};
	struct fsm_limits l = {0};
	uint64_t v[3] = {0};
	struct fsm_counters ctr = {0};
	snap_globals(&x, &l, v, &ctr);
	if (x.bad)
		return -FL_EINVAL;
	if (!limits_fit(&l, &f->lim))
		return -FL_EFOREIGN;
	fsm_reset(f);
	f->last_index = v[0];
	f->last_term = v[1];
	f->clock_us = v[2];
	f->ctr = ctr;
	if (!snap_read_tables(f, &x) || !snap_rebuild_slots(f) || fsm_check(f) != 0) {
		fsm_reset(f);
		return -FL_ECORRUPT;
	}
	return 0;
}

/* ---- invariants ---- */

static bool host_ok(const struct fsm *f, uint32_t i)
{
	const struct fsm_host *h = &f->hosts[i];
	if (h->host_id == 0)
		return true;
	if (h->host_id > FSM_HOST_ID_MAX || host_index(f, h->host_id) != (int)i ||
	    (h->state != FSM_HOST_JOINED && h->state != FSM_HOST_LEFT) ||
	    (h->role != FSM_ROLE_VOTER && h->role != FSM_ROLE_LEARNER))
		return false;
	return !h->fence.active || (h->fence.reason > 0 && h->fence.reason < FSM_FENCE_REASON_END);
}

static bool vm_ok(const struct fsm *f, uint32_t i)
{
	const struct fsm_vm *vm = &f->vms[i];
	if (!vm->used)
		return true;
	if (vm_index(f, vm->uid) != (int)i || vm->nvol > FSM_VOLS_MAX || vm->nfailed > FSM_FAILED_MAX ||
	    vm->restart < FSM_RESTART_ALWAYS || vm->restart >= FSM_RESTART_END ||
	    (vm->failed && vm->desired_host != 0) ||
	    vm->run_state > FSM_RUN_RUNNING || vm->spec_len > f->lim.spec_max_bytes || vm->charge != vm_charge(vm))
		return false;
	if (vm->desired_host != 0 && host_index(f, vm->desired_host) < 0)
		return false;
	if ((vm->run_state == FSM_RUN_RUNNING) != (vm->run_host != 0))
		return false;
	for (uint32_t k = 0; k < vm->nvol; k++) {
		uint32_t s = vm->vol[k].slot;
		if (s != FSM_SLOT_NONE && (s >= f->lim.max_slots || f->slots[s].vm_plus1 != i + 1 ||
					   f->slots[s].vol != k))
			return false;
	}
	return true;
}

int fsm_check(const struct fsm *f)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->hosts != NULL);
	for (uint32_t i = 0; i < f->lim.max_hosts; i++)
		if (!host_ok(f, i))
			return -FL_ECORRUPT;
	uint64_t charged = 0, chunks = 0, n = 0;
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		n += f->vms[i].used;
		if (!vm_ok(f, i) || (i < f->ix.vm_lo && !f->vms[i].used))
			return -FL_ECORRUPT;
		charged += f->vms[i].used ? f->vms[i].charge : 0u;
		chunks += f->vms[i].used ? fsm_ix_chunks(f->vms[i].spec_len) : 0u;
	}
	if (charged != f->charged || charged > f->charge_max || chunks + f->ix.free_n != f->ix.n_chunks ||
	    n != f->ix.n_vms)
		return -FL_ECORRUPT;
	for (uint32_t s = 0; s < f->lim.max_slots; s++) {
		const struct fsm_slot *sl = &f->slots[s];
		if (sl->vm_plus1 == 0)
			continue;
		if (sl->vm_plus1 > f->lim.max_vms || !f->vms[sl->vm_plus1 - 1].used ||
		    sl->vol >= f->vms[sl->vm_plus1 - 1].nvol ||
		    f->vms[sl->vm_plus1 - 1].vol[sl->vol].slot != s)
			return -FL_ECORRUPT;
	}
	return 0;
}

/* ---- queries ---- */

const struct fsm_host *fsm_host_find(const struct fsm *f, uint32_t host_id)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->hosts != NULL);
	int i = host_index(f, host_id);
	return i < 0 ? NULL : &f->hosts[i];
}

const struct fsm_host *fsm_host_at(const struct fsm *f, uint32_t i)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(i < f->lim.max_hosts);
	return f->hosts[i].host_id == 0 ? NULL : &f->hosts[i];
}

uint32_t fsm_hosts_joined(const struct fsm *f, uint32_t *ids, uint32_t cap)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(ids != NULL || cap == 0);
	uint32_t n = 0;
	for (uint32_t i = 0; i < f->lim.max_hosts; i++) {
		if (f->hosts[i].host_id == 0 || f->hosts[i].state != FSM_HOST_JOINED)
			continue;
		if (n < cap)
			ids[n] = f->hosts[i].host_id;
		n++;
	}
	return n;
}

const struct fsm_vm *fsm_vm_find(const struct fsm *f, const char *uid, uint32_t *idx)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(uid != NULL);
	int i = vm_index(f, uid);
	if (i < 0)
		return NULL;
	if (idx != NULL)
		*idx = (uint32_t)i;
	return &f->vms[i];
}

uint32_t fsm_vm_scan_end(const struct fsm *f)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(f->ix.vm_hw <= f->lim.max_vms);
	return f->ix.vm_hw;
}

const struct fsm_vm *fsm_vm_at(const struct fsm *f, uint32_t i)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(i < f->lim.max_vms);
	return f->vms[i].used ? &f->vms[i] : NULL;
}

uint32_t fsm_slots_free(const struct fsm *f)
{
	FL_ASSERT(f != NULL);
	uint32_t n = 0;
	for (uint32_t s = 0; s < f->lim.max_slots; s++)
		n += f->slots[s].vm_plus1 == 0;
	return n;
}

uint32_t fsm_vm_count(const struct fsm *f)
{
	FL_ASSERT(f != NULL);
	return f->ix.n_vms;
}

void fsm_vm_spec(const struct fsm *f, const struct fsm_vm *vm, uint8_t *buf, size_t cap)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(vm != NULL);
	FL_ASSERT(vm->used);
	FL_ASSERT(cap >= vm->spec_len);
	FL_ASSERT(buf != NULL || vm->spec_len == 0);
	if (vm->spec_len > 0)
		fsm_ix_spec_copy(f, vm->spec_chunk, vm->spec_len, buf);
}

bool fsm_vm_spec_equal(const struct fsm *f, const struct fsm_vm *vm, const uint8_t *spec, uint32_t len)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(vm != NULL);
	FL_ASSERT(spec != NULL || len == 0);
	return vm->spec_len == len && (len == 0 || fsm_ix_spec_equal(f, vm->spec_chunk, spec, len));
}

size_t fsm_mem_per_vm(void)
{
	/* the VM record, its uid and volume index links and buckets (2 each) */
	return sizeof(struct fsm_vm) + 3u * sizeof(uint32_t) + 3u * FSM_VOLS_MAX * sizeof(uint32_t);
}

size_t fsm_mem_bytes(const struct fsm_limits *l)
{
	FL_ASSERT(l != NULL);
	uint64_t fixed = (uint64_t)FSM_SNAP_HDR_BYTES + FSM_SNAP_GLOBALS_BYTES + 8u +
			 (uint64_t)l->max_hosts * FSM_HOST_REC_MAX_BYTES + FSM_EVENTS_MAX_BYTES;
	uint64_t charge_max = fixed < FSM_SNAP_MAX_BYTES ? FSM_SNAP_MAX_BYTES - fixed : 0;
	uint64_t chunks = FL_MIN((uint64_t)l->max_vms * fsm_ix_chunks(l->spec_max_bytes),
				 charge_max / FSM_SPEC_CHUNK + (l->spec_max_bytes > 0 ? l->max_vms : 0u));
	return (size_t)l->max_hosts * sizeof(struct fsm_host) + (size_t)l->max_vms * fsm_mem_per_vm() +
	       (size_t)l->max_slots * sizeof(struct fsm_slot) + (size_t)chunks * (FSM_SPEC_CHUNK + 4u) +
	       FSM_EVENTS_MAX * sizeof(struct fsm_event);
}

uint32_t fsm_vms_on_host(const struct fsm *f, uint32_t host_id, uint32_t *idx, uint32_t cap)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(idx != NULL || cap == 0);
	uint32_t n = 0;
	for (uint32_t i = 0; i < f->lim.max_vms; i++) {
		if (!f->vms[i].used || host_id == 0 || f->vms[i].desired_host != host_id)
			continue;
		if (n < cap)
			idx[n] = i;
		n++;
	}
	return n;
}

int fsm_volume_slot(const struct fsm *f, const char *uid, const char *volid, uint32_t *slot)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(uid != NULL);
	FL_ASSERT(volid != NULL);
	FL_ASSERT(slot != NULL);
	int i = vm_index(f, uid);
	int v = i < 0 ? -1 : vm_volume(&f->vms[i], volid);
	if (v < 0 || f->vms[i].vol[v].slot == FSM_SLOT_NONE)
		return -FL_ENOENT;
	*slot = f->vms[i].vol[v].slot;
	FL_ASSERT(*slot < f->lim.max_slots);
	return 0;
}

bool fsm_vm_failed_on(const struct fsm_vm *vm, uint32_t host_id)
{
	FL_ASSERT(vm != NULL);
	for (uint32_t k = 0; k < vm->nfailed && k < FSM_FAILED_MAX; k++)
		if (vm->failed_on[k] == host_id)
			return true;
	return false;
}

bool fsm_vm_active(const struct fsm_vm *vm)
{
	FL_ASSERT(vm != NULL);
	return vm->used && (vm->desired_host != 0 || vm->run_state == FSM_RUN_RUNNING);
}

struct holder_q {
	bool ro;
	uint32_t except;
};

static bool holder_match(const struct fsm *f, uint32_t idx, uint32_t vol, const void *arg)
{
	const struct holder_q *q = arg;
	const struct fsm_vm *o = &f->vms[idx];
	return idx != q->except && fsm_vm_active(o) && !(o->vol[vol].ro && q->ro);
}

const struct fsm_vm *fsm_volume_holder(const struct fsm *f, const char *id, bool ro, uint32_t except_idx)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(id != NULL);
	struct holder_q q = {.ro = ro, .except = except_idx};
	int v = fsm_ix_vol_scan(f, id, holder_match, &q);
	return v < 0 ? NULL : &f->vms[v];
}

bool fsm_host_quarantined(const struct fsm *f, uint32_t host_id, uint64_t now_us)
{
	FL_ASSERT(f != NULL);
	int i = host_index(f, host_id);
	return i >= 0 && now_us < f->hosts[i].quarantine_until_us;
}

uint32_t fsm_host_fences_since(const struct fsm *f, uint32_t host_id, uint64_t since_us)
{
	FL_ASSERT(f != NULL);
	int i = host_index(f, host_id);
	if (i < 0)
		return 0;
	const struct fsm_host *h = &f->hosts[i];
	uint32_t n = 0, kept = FL_MIN(h->fence_total, FSM_FENCE_HISTORY);
	for (uint32_t k = 0; k < kept; k++)
		n += h->fence_stamps_us[k] >= since_us;
	FL_ASSERT(n <= FSM_FENCE_HISTORY);
	return n;
}

const char *fsm_restart_name(uint8_t restart)
{
	static const char *const names[FSM_RESTART_END] = {
		[FSM_RESTART_ALWAYS] = "always", [FSM_RESTART_NEVER] = "never",
		[FSM_RESTART_ON_FAILURE] = "on-failure", [FSM_RESTART_MANAGER] = "manager",
	};
	return restart < FSM_RESTART_END && names[restart] != NULL ? names[restart] : "?";
}

const char *fsm_cmd_type_name(uint16_t type)
{
	static const char *const names[FSM_CMD_TYPE_END] = {
		[FSM_CMD_HOST_ADD] = "host-add", [FSM_CMD_HOST_REMOVE] = "host-remove",
		[FSM_CMD_HOST_RENAME] = "host-rename", [FSM_CMD_VM_REGISTER] = "vm-register",
		[FSM_CMD_VM_UNREGISTER] = "vm-unregister", [FSM_CMD_VM_PLACE] = "vm-place",
		[FSM_CMD_VM_REPORT] = "vm-report", [FSM_CMD_FENCE_REQUEST] = "fence-request",
		[FSM_CMD_FENCE_ACK] = "fence-ack", [FSM_CMD_FENCE_CLEAR] = "fence-clear",
		[FSM_CMD_QUARANTINE_SET] = "quarantine-set",
		[FSM_CMD_QUARANTINE_CLEAR] = "quarantine-clear",
		[FSM_CMD_SLOT_ALLOC] = "slot-alloc", [FSM_CMD_SLOT_FREE] = "slot-free",
		[FSM_CMD_VM_END] = "vm-end", [FSM_CMD_VM_START_FAILED] = "vm-start-failed",
		[FSM_CMD_VM_FAIL] = "vm-fail", [FSM_CMD_VM_CLEAR] = "vm-clear", [FSM_CMD_NOTE] = "note",
		[FSM_CMD_HOST_FORGET] = "host-forget",
	};
	if (type >= FSM_CMD_TYPE_END || names[type] == NULL)
		return "?";
	return names[type];
}
