/* Control protocol encoding, decoding and validation (see ctl_proto.h).
 *
 * Decoding is table-free but strict per op: each op states its required and
 * optional fields, and each field type has one checker that produces the
 * message naming the field. Encoding builds the object and then runs the
 * decoder over it, so a client can never send what the daemon would refuse
 * for a reason the client could have known. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/host/cfg_syntax.h"
#include "plugin/host/ctl_proto.h"
#include "plugin/host/volid.h"

static const struct {
	const char *name;
	bool mutates;
} ctl_ops[CTL_OP_COUNT] = {
	[CTL_OP_STATUS] = {"status", false},
	[CTL_OP_HOSTS] = {"hosts", false},
	[CTL_OP_LEASES] = {"leases", false},
	[CTL_OP_VMS] = {"vms", false},
	[CTL_OP_METRICS] = {"metrics", false},
	[CTL_OP_VM_REGISTER] = {"vm.register", true},
	[CTL_OP_VM_UNREGISTER] = {"vm.unregister", true},
	[CTL_OP_VM_ACQUIRE] = {"vm.acquire", true},
	[CTL_OP_VM_RELEASE] = {"vm.release", true},
	[CTL_OP_VM_INQUIRE] = {"vm.inquire", false},
	[CTL_OP_VM_STARTED] = {"vm.started", true},
	[CTL_OP_VM_EXITED] = {"vm.exited", true},
	[CTL_OP_HOST_ADD] = {"host.add", true},
	[CTL_OP_HOST_REMOVE] = {"host.remove", true},
	[CTL_OP_VM_CLEAR] = {"vm.clear", true},
	[CTL_OP_EVENTS] = {"events", false},
	[CTL_OP_QUORUM] = {"quorum", false},
	[CTL_OP_VM_SHOW] = {"vm.show", true}, /* privileged: a spec may hold secrets */
	[CTL_OP_QUARANTINE_CLEAR] = {"quarantine.clear", true},
	[CTL_OP_HOST_FENCE] = {"host.fence", true},
	[CTL_OP_HOST_UNFENCE] = {"host.unfence", true},
	[CTL_OP_HOST_DRAIN] = {"host.drain", true},
	[CTL_OP_HOST_UNDRAIN] = {"host.undrain", true},
	[CTL_OP_VM_MOVE] = {"vm.move", true},
	[CTL_OP_LEADER_TRANSFER] = {"leader.transfer", true},
	[CTL_OP_HOST_FORGET] = {"host.forget", true},
};

const char *ctl_op_name(enum ctl_op op)
{
	FL_ASSERT(op < CTL_OP_COUNT);
	return ctl_ops[op].name;
}

bool ctl_op_mutates(enum ctl_op op)
{
	FL_ASSERT(op < CTL_OP_COUNT);
	return ctl_ops[op].mutates;
}

bool ctl_uid_valid(const char *uid)
{
	size_t n = strlen(uid);
	if (n == 0 || n > CTL_UID_MAX || uid[0] == '.' || uid[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)uid[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != ':')
			return false;
	}
	return true;
}

const char *ctl_restart_name(enum fl_restart r)
{
	switch (r) {
	case FL_RESTART_ALWAYS: return "always";
	case FL_RESTART_NEVER: return "never";
	case FL_RESTART_ON_FAILURE: return "on-failure";
	case FL_RESTART_MANAGER: return "manager";
	}
	return NULL;
}

int ctl_restart_parse(const char *s, enum fl_restart *out)
{
	static const enum fl_restart all[] = {FL_RESTART_ALWAYS, FL_RESTART_NEVER, FL_RESTART_ON_FAILURE,
					      FL_RESTART_MANAGER};
	for (size_t i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, ctl_restart_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -FL_EINVAL;
}

static int ctl_bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int ctl_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -FL_EINVAL;
}

/* A string field: required or not, 1..max bytes, no NUL inside. */
static int get_str(json_t *msg, const char *key, bool required, size_t max, const char **out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(msg, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return required ? ctl_bad(err, errlen, "field '%s' missing", key) : 0;
	if (!json_is_string(v))
		return ctl_bad(err, errlen, "field '%s' must be a string", key);
	size_t len = json_string_length(v);
	if (len > max || strlen(json_string_value(v)) != len)
		return ctl_bad(err, errlen, "field '%s' longer than %zu bytes or holds NUL", key, max);
	*out = json_string_value(v);
	return 0;
}

/* An integer field within [min, max]; absent -> *out = dflt unless required. */
static int get_int(json_t *msg, const char *key, bool required, json_int_t min, json_int_t max,
		   json_int_t dflt, json_int_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(msg, key);
	*out = dflt;
	if (v == NULL || json_is_null(v))
		return required ? ctl_bad(err, errlen, "field '%s' missing", key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return ctl_bad(err, errlen, "field '%s' must be an integer in %lld..%lld", key,
			       (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int get_uid(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	int rv = get_str(msg, "uid", true, CTL_UID_MAX, &req->uid, err, errlen);
	if (rv == 0 && !ctl_uid_valid(req->uid))
		return ctl_bad(err, errlen, "field 'uid' must be 1..%u of [A-Za-z0-9._:-], not starting with '.' or '-'",
			       CTL_UID_MAX);
	return rv;
}

static int get_pid(json_t *msg, bool required, struct ctl_req *req, char *err, size_t errlen)
{
	json_int_t pid;
	int rv = get_int(msg, "pid", required, 1, INT32_MAX, 0, &pid, err, errlen);
	req->pid = (int32_t)pid;
	return rv;
}

static int get_volumes(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	json_t *vols = json_object_get(msg, "volumes");
	if (!json_is_array(vols) || json_array_size(vols) == 0 || json_array_size(vols) > CTL_VOLUMES_MAX)
		return ctl_bad(err, errlen, "field 'volumes' must be a list of 1..%u {path, id, ro}", CTL_VOLUMES_MAX);
	req->n_volumes = (uint32_t)json_array_size(vols);
	for (uint32_t i = 0; i < req->n_volumes; i++) {
		json_t *v = json_array_get(vols, i);
		if (!json_is_object(v))
			return ctl_bad(err, errlen, "volumes[%u] must be an object {path, ro}", i);
		const char *path;
		int rv = get_str(v, "path", true, CTL_PATH_MAX, &path, err, errlen);
		if (rv != 0)
			return rv;
		if (path[0] != '/')
			return ctl_bad(err, errlen, "volumes[%u].path must be absolute, got '%s'", i, path);
		const char *id;
		rv = get_str(v, "id", true, VOLID_MAX, &id, err, errlen);
		if (rv != 0)
			return rv;
		if (!volid_valid(id))
			return ctl_bad(err, errlen, "volumes[%u].id '%.80s' is not a volume identity (wwid:, dm:, file:, id:)",
				       i, id);
		json_t *ro = json_object_get(v, "ro");
		if (ro != NULL && !json_is_boolean(ro))
			return ctl_bad(err, errlen, "volumes[%u].ro must be true or false", i);
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(req->volumes[j].path, path) == 0 || strcmp(req->volumes[j].id, id) == 0)
				return ctl_bad(err, errlen, "volumes[%u] '%s' (%s) listed twice", i, path, id);
		req->volumes[i] = (struct ctl_volume){.path = path, .id = id, .ro = ro != NULL && json_is_true(ro)};
	}
	return 0;
}

static int decode_register(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	int rv = get_uid(msg, req, err, errlen);
	if (rv == 0)
		rv = get_volumes(msg, req, err, errlen);
	if (rv == 0)
		rv = get_str(msg, "spec", false, CTL_SPEC_MAX, &req->spec, err, errlen);
	if (rv != 0)
		return rv;
	if (req->spec == NULL)
		req->spec = "";
	const char *restart;
	rv = get_str(msg, "restart", false, 16, &restart, err, errlen);
	if (rv != 0)
		return rv;
	req->restart = FL_RESTART_ALWAYS;
	if (restart != NULL && ctl_restart_parse(restart, &req->restart) != 0)
		return ctl_bad(err, errlen, "field 'restart' must be always, never, on-failure or manager, got '%s'",
			       restart);
	return 0;
}

static int decode_exited(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	json_int_t code, sig;
	int rv = get_uid(msg, req, err, errlen);
	if (rv == 0)
		rv = get_pid(msg, true, req, err, errlen);
	if (rv == 0)
		rv = get_int(msg, "exit_code", false, -1, 255, -1, &code, err, errlen);
	if (rv == 0)
		rv = get_int(msg, "signal", false, 0, 64, 0, &sig, err, errlen);
	if (rv != 0)
		return rv;
	if ((code < 0) == (sig == 0))
		return ctl_bad(err, errlen, "vm.exited needs exactly one of 'exit_code' (0..255) and 'signal' (1..64)");
	req->exit_code = (int32_t)code;
	req->exit_signal = (int32_t)sig;
	return 0;
}

static int decode_host(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	json_int_t id;
	int rv = get_int(msg, "id", true, 1, CFG_HOST_ID_MAX, 0, &id, err, errlen);
	if (rv != 0)
		return rv;
	req->host_id = (uint32_t)id;
	if (req->op != CTL_OP_HOST_ADD)
		return 0;
	rv = get_str(msg, "name", true, CFG_NAME_MAX, &req->host_name, err, errlen);
	if (rv == 0 && !cfg_name_valid(req->host_name))
		return ctl_bad(err, errlen, "field 'name' must be 1..%u of [A-Za-z0-9._-]", CFG_NAME_MAX);
	if (rv == 0)
		rv = get_str(msg, "addr", true, 64, &req->host_addr, err, errlen);
	struct sockaddr_in sa;
	if (rv == 0 && cfg_parse_ipv4_port(req->host_addr, &sa) != 0)
		return ctl_bad(err, errlen, "field 'addr' must be IPv4:PORT, got '%s'", req->host_addr);
	return rv;
}

static int decode_events(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	json_int_t since;
	int rv = get_int(msg, "since_index", false, 0, INT64_MAX, 0, &since, err, errlen);
	req->since_index = (uint64_t)since;
	return rv;
}

/* vm.move: uid and "to" (a host id); leader.transfer: "to", 0 or absent = any. */
static int decode_to(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	json_int_t to;
	bool move = req->op == CTL_OP_VM_MOVE;
	int rv = move ? get_uid(msg, req, err, errlen) : 0;
	if (rv == 0)
		rv = get_int(msg, "to", move, move ? 1 : 0, CFG_HOST_ID_MAX, 0, &to, err, errlen);
	if (rv == 0)
		req->host_id = (uint32_t)to;
	return rv;
}

/* vms, leases: "limit" and "after" (a uid; need not be registered). */
static int decode_page(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	json_int_t limit;
	int rv = get_int(msg, "limit", false, 1, CTL_PAGE_MAX, 0, &limit, err, errlen);
	if (rv == 0)
		req->limit = (uint32_t)limit;
	if (rv == 0)
		rv = get_str(msg, "after", false, CTL_UID_MAX, &req->after, err, errlen);
	if (rv == 0 && req->after != NULL && !ctl_uid_valid(req->after))
		return ctl_bad(err, errlen, "field 'after' must be a VM uid (1..%u of [A-Za-z0-9._:-])", CTL_UID_MAX);
	return rv;
}

static int decode_op_fields(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	int rv;
	switch (req->op) {
	case CTL_OP_LEASES: case CTL_OP_VMS:
		return decode_page(msg, req, err, errlen);
	case CTL_OP_STATUS: case CTL_OP_HOSTS: case CTL_OP_METRICS:
	case CTL_OP_QUORUM:
		return 0;
	case CTL_OP_VM_SHOW:
		return get_uid(msg, req, err, errlen);
	case CTL_OP_QUARANTINE_CLEAR: case CTL_OP_HOST_FENCE: case CTL_OP_HOST_UNFENCE: case CTL_OP_HOST_DRAIN:
	case CTL_OP_HOST_UNDRAIN:
		return decode_host(msg, req, err, errlen);
	case CTL_OP_VM_MOVE: case CTL_OP_LEADER_TRANSFER:
		return decode_to(msg, req, err, errlen);
	case CTL_OP_VM_REGISTER:
		return decode_register(msg, req, err, errlen);
	case CTL_OP_VM_UNREGISTER: case CTL_OP_VM_INQUIRE: case CTL_OP_VM_CLEAR:
		return get_uid(msg, req, err, errlen);
	case CTL_OP_VM_ACQUIRE:
		rv = get_uid(msg, req, err, errlen);
		if (rv == 0)
			rv = get_pid(msg, true, req, err, errlen);
		if (rv == 0)
			rv = get_str(msg, "state", false, CTL_STATE_MAX, &req->state, err, errlen);
		return rv;
	case CTL_OP_VM_RELEASE: case CTL_OP_VM_STARTED:
		rv = get_uid(msg, req, err, errlen);
		if (rv == 0)
			rv = get_pid(msg, req->op == CTL_OP_VM_STARTED, req, err, errlen);
		return rv;
	case CTL_OP_VM_EXITED:
		return decode_exited(msg, req, err, errlen);
	case CTL_OP_HOST_ADD: case CTL_OP_HOST_REMOVE: case CTL_OP_HOST_FORGET:
		return decode_host(msg, req, err, errlen);
	case CTL_OP_EVENTS:
		return decode_events(msg, req, err, errlen);
	case CTL_OP_COUNT:
		break;
	}
	FL_UNREACHABLE("an op without a decoder");
	return -FL_EINVAL;
}

int ctl_req_decode(json_t *msg, struct ctl_req *req, char *err, size_t errlen)
{
	FL_ASSERT(req != NULL);
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	memset(req, 0, sizeof(*req));
	req->exit_code = -1;
	err[0] = '\0';
	if (!json_is_object(msg))
		return ctl_bad(err, errlen, "request must be a JSON object");
	json_t *v = json_object_get(msg, "v");
	if (!json_is_integer(v))
		return ctl_bad(err, errlen, "field 'v' (protocol version) missing or not an integer");
	if (json_integer_value(v) != CTL_PROTO_VERSION) {
		snprintf(err, errlen, "protocol version %lld not supported; this daemon speaks v%d",
			 (long long)json_integer_value(v), CTL_PROTO_VERSION);
		return -FL_EVERSION;
	}
	const char *op;
	int rv = get_str(msg, "op", true, 32, &op, err, errlen);
	if (rv != 0)
		return rv;
	uint32_t i = 0;
	while (i < CTL_OP_COUNT && strcmp(ctl_ops[i].name, op) != 0)
		i++;
	if (i == CTL_OP_COUNT)
		return ctl_bad(err, errlen, "unknown op '%s'", op);
	req->op = (enum ctl_op)i;
	return decode_op_fields(msg, req, err, errlen);
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return v == NULL ? 0 : json_object_set_new(o, key, json_string(v));
}

static int encode_fields(const struct ctl_req *req, json_t *o)
{
	int rv = set_str(o, "uid", req->uid);
	if (req->pid > 0)
		rv |= json_object_set_new(o, "pid", json_integer(req->pid));
	if (req->op == CTL_OP_VM_REGISTER) {
		json_t *vols = json_array();
		for (uint32_t i = 0; vols != NULL && i < req->n_volumes && i < CTL_VOLUMES_MAX; i++) {
			json_t *v = json_pack("{s:s?, s:s?, s:b}", "path", req->volumes[i].path, "id", req->volumes[i].id,
					      "ro", req->volumes[i].ro);
			rv |= json_array_append_new(vols, v);
		}
		rv |= json_object_set_new(o, "volumes", vols);
		rv |= set_str(o, "spec", req->spec);
		rv |= set_str(o, "restart", ctl_restart_name(req->restart));
	}
	if (req->op == CTL_OP_VM_ACQUIRE)
		rv |= set_str(o, "state", req->state);
	if (req->op == CTL_OP_VM_EXITED) {
		if (req->exit_signal > 0)
			rv |= json_object_set_new(o, "signal", json_integer(req->exit_signal));
		else
			rv |= json_object_set_new(o, "exit_code", json_integer(req->exit_code));
	}
	if (req->op == CTL_OP_VM_MOVE || req->op == CTL_OP_LEADER_TRANSFER)
		rv |= json_object_set_new(o, "to", json_integer(req->host_id));
	else if (req->host_id != 0) {
		rv |= json_object_set_new(o, "id", json_integer(req->host_id));
		rv |= set_str(o, "name", req->host_name);
		rv |= set_str(o, "addr", req->host_addr);
	}
	if ((req->op == CTL_OP_VMS || req->op == CTL_OP_LEASES) && req->limit > 0)
		rv |= json_object_set_new(o, "limit", json_integer(req->limit));
	if (req->op == CTL_OP_VMS || req->op == CTL_OP_LEASES)
		rv |= set_str(o, "after", req->after);
	if (req->op == CTL_OP_EVENTS && req->since_index > 0)
		rv |= json_object_set_new(o, "since_index", json_integer((json_int_t)FL_MIN(req->since_index, (uint64_t)INT64_MAX)));
	return rv;
}

int ctl_req_encode(const struct ctl_req *req, json_t **out, char *err, size_t errlen)
{
	FL_ASSERT(req != NULL);
	FL_ASSERT(out != NULL);
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	*out = NULL;
	if (req->op >= CTL_OP_COUNT)
		return ctl_bad(err, errlen, "unknown op %d", (int)req->op);
	if (req->op == CTL_OP_VM_REGISTER && ctl_restart_name(req->restart) == NULL)
		return ctl_bad(err, errlen, "restart policy %d is not one of enum fl_restart",
			       (int)req->restart);
	json_t *o = json_pack("{s:i, s:s}", "v", CTL_PROTO_VERSION, "op", ctl_op_name(req->op));
	if (o == NULL || encode_fields(req, o) != 0) {
		json_decref(o);
		snprintf(err, errlen, "out of memory encoding a %s request", ctl_op_name(req->op));
		return -FL_ENOMEM;
	}
	struct ctl_req check;
	int rv = ctl_req_decode(o, &check, err, errlen);
	if (rv != 0) {
		json_decref(o);
		return rv;
	}
	FL_ASSERT(check.op == req->op);
	*out = o;
	return 0;
}

json_t *ctl_resp_ok(void)
{
	return json_pack("{s:i, s:b}", "v", CTL_PROTO_VERSION, "ok", 1);
}

json_t *ctl_resp_error(int code, const char *msg)
{
	FL_ASSERT(code < 0);
	return json_pack("{s:i, s:b, s:s, s:i}", "v", CTL_PROTO_VERSION, "ok", 0, "error",
			 msg != NULL ? msg : fl_strerror(code), "code", -code);
}

int ctl_resp_check(const json_t *resp, char *err, size_t errlen)
{
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	err[0] = '\0';
	json_t *v = json_object_get(resp, "v");
	json_t *ok = json_object_get(resp, "ok");
	if (!json_is_object(resp) || !json_is_integer(v) || !json_is_boolean(ok))
		return ctl_bad(err, errlen, "malformed response: missing 'v' or 'ok'");
	if (json_integer_value(v) != CTL_PROTO_VERSION) {
		snprintf(err, errlen, "response of protocol version %lld, expected %d",
			 (long long)json_integer_value(v), CTL_PROTO_VERSION);
		return -FL_EVERSION;
	}
	if (json_is_true(ok))
		return 0;
	json_t *code = json_object_get(resp, "code");
	json_t *msg = json_object_get(resp, "error");
	json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;
	if (c <= 0 || c >= 1000)
		c = FL_EINVAL;
	snprintf(err, errlen, "%s", json_is_string(msg) ? json_string_value(msg) : fl_strerror(-(int)c));
	return -(int)c;
}

int ctl_frame_pack(const json_t *msg, size_t max_bytes, uint8_t **buf, size_t *len)
{
	FL_ASSERT(msg != NULL);
	FL_ASSERT(buf != NULL);
	FL_ASSERT(len != NULL);
	*buf = NULL;
	*len = 0;
	size_t body = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (body == 0)
		return -FL_ENOMEM;
	FL_ASSERT(max_bytes <= CTL_REPLY_MAX_BYTES);
	if (body > max_bytes)
		return -FL_ENOSPC;
	uint8_t *b = malloc(CTL_HDR_BYTES + body);
	if (b == NULL)
		return -FL_ENOMEM;
	size_t got = json_dumpb(msg, (char *)b + CTL_HDR_BYTES, body, JSON_COMPACT);
	FL_ASSERT(got == body);
	b[0] = (uint8_t)body;
	b[1] = (uint8_t)(body >> 8);
	b[2] = (uint8_t)(body >> 16);
	b[3] = (uint8_t)(body >> 24);
	*buf = b;
	*len = CTL_HDR_BYTES + body;
	return 0;
}

int ctl_frame_parse(const uint8_t *buf, size_t len, size_t max_bytes, size_t *consumed, json_t **msg,
		    char *err, size_t errlen)
{
	FL_ASSERT(consumed != NULL);
	FL_ASSERT(msg != NULL);
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	*consumed = 0;
	*msg = NULL;
	if (len < CTL_HDR_BYTES)
		return 0;
	uint32_t body = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
			(uint32_t)buf[3] << 24;
	if (body == 0 || body > max_bytes) {
		snprintf(err, errlen, "message of %u bytes refused; the limit is 1..%zu", body, max_bytes);
		return -FL_ENOSPC;
	}
	if (len - CTL_HDR_BYTES < body)
		return 0;
	*consumed = CTL_HDR_BYTES + body;
	json_error_t jerr;
	json_t *m = json_loadb((const char *)buf + CTL_HDR_BYTES, body, JSON_REJECT_DUPLICATES, &jerr);
	if (m == NULL)
		return ctl_bad(err, errlen, "malformed JSON at byte %d: %s", jerr.position, jerr.text);
	if (!json_is_object(m)) {
		json_decref(m);
		return ctl_bad(err, errlen, "message must be a JSON object");
	}
	*msg = m;
	return 0;
}
