/* libfencelock (see include/fencelock/fencelock.h): a blocking client of the
 * control socket. One request, one reply; each bounded by the client's
 * timeout through poll() on a non-blocking socket, so a paused or hung
 * daemon costs a caller at most that long. A connection whose reply timed
 * out is unusable afterwards (the late reply would answer the next request)
 * and every later call on it fails at once. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "common/loop.h"
#include "plugin/host/client.h"
#include "plugin/host/volid.h"

struct fl_client {
	int fd;
	bool broken;                  /* a reply was lost mid-way: the stream is out of step */
	uint32_t timeout_ms;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char err[CTL_ERR_MAX + 128];
};

static int cli_fail(struct fl_client *c, int rv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cli_fail(struct fl_client *c, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return rv;
}

int fl_connect(const char *socket_path, struct fl_client **out)
{
	FL_ASSERT(out != NULL);
	*out = NULL;
	const char *path = socket_path;
	if (path == NULL || path[0] == '\0')
		path = getenv(FL_SOCKET_ENV);
	if (path == NULL || path[0] == '\0')
		path = FL_DEFAULT_SOCKET;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -FL_EINVAL;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct fl_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -FL_ENOMEM;
	c->timeout_ms = FL_CLIENT_TIMEOUT_DEFAULT_MS;
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return e == ECONNREFUSED ? -FL_ENOENT : fl_from_errno(e);
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0) {
		close(c->fd);
		free(c);
		return -FL_EIO;
	}
	*out = c;
	return 0;
}

void fl_disconnect(struct fl_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

const char *fl_version(void) { return FENCELOCK_VERSION; }

const char *fl_client_socket(const struct fl_client *c) { return c->path; }

void fl_client_set_timeout_ms(struct fl_client *c, uint32_t timeout_ms)
{
	FL_ASSERT(timeout_ms > 0);
	c->timeout_ms = timeout_ms;
}

const char *fl_client_error(const struct fl_client *c) { return c->err; }

/* Waits for events on the socket until deadline_us; -FL_ETIMEDOUT after. */
static int cli_wait(struct fl_client *c, short events, uint64_t deadline_us)
{
	for (;;) {
		uint64_t now = fl_monotonic_us();
		if (now >= deadline_us)
			return -FL_ETIMEDOUT;
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, (int)((deadline_us - now + 999) / 1000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return fl_from_errno(errno);
	}
}

static int cli_send_all(struct fl_client *c, const uint8_t *buf, size_t len, uint64_t deadline_us)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return fl_from_errno(errno);
		int rv = cli_wait(c, POLLOUT, deadline_us);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static int cli_recv_exact(struct fl_client *c, uint8_t *buf, size_t len, uint64_t deadline_us)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = recv(c->fd, buf + off, len - off, 0);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			return -FL_ESHUTDOWN;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return fl_from_errno(errno);
		int rv = cli_wait(c, POLLIN, deadline_us);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static int cli_recv_reply(struct fl_client *c, json_t **reply, uint64_t deadline_us)
{
	uint8_t hdr[CTL_HDR_BYTES];
	int rv = cli_recv_exact(c, hdr, sizeof(hdr), deadline_us);
	if (rv != 0)
		return rv;
	uint32_t len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (len == 0 || len > CTL_REPLY_MAX_BYTES)
		return -FL_ECORRUPT;
	uint8_t *buf = malloc(CTL_HDR_BYTES + len);
	if (buf == NULL)
		return -FL_ENOMEM;
	memcpy(buf, hdr, CTL_HDR_BYTES);
	rv = cli_recv_exact(c, buf + CTL_HDR_BYTES, len, deadline_us);
	size_t used;
	char err[CTL_ERR_MAX];
	if (rv == 0 && ctl_frame_parse(buf, CTL_HDR_BYTES + len, CTL_REPLY_MAX_BYTES, &used, reply, err, sizeof(err)) != 0)
		rv = -FL_ECORRUPT;
	free(buf);
	return rv;
}

/* One round trip of an already built request object. */
static int cli_roundtrip(struct fl_client *c, const json_t *req, json_t **reply)
{
	*reply = NULL;
	if (c->broken)
		return cli_fail(c, -FL_ESHUTDOWN, "connection to %s unusable after an earlier timeout; reconnect", c->path);
	uint8_t *frame;
	size_t len;
	int rv = ctl_frame_pack(req, CTL_MSG_MAX_BYTES, &frame, &len);
	if (rv != 0)
		return cli_fail(c, rv, "request too large or out of memory (%s)", fl_strerror(rv));
	uint64_t deadline_us = fl_monotonic_us() + (uint64_t)c->timeout_ms * FL_US_PER_MS;
	rv = cli_send_all(c, frame, len, deadline_us);
	free(frame);
	if (rv == 0)
		rv = cli_recv_reply(c, reply, deadline_us);
	if (rv != 0) {
		c->broken = true;
		if (rv == -FL_ETIMEDOUT)
			return cli_fail(c, rv, "fencelockd at %s did not answer within %u ms; is it paused or hung?",
					c->path, c->timeout_ms);
		return cli_fail(c, rv, "talking to fencelockd at %s failed: %s", c->path, fl_strerror(rv));
	}
	char err[CTL_ERR_MAX];
	rv = ctl_resp_check(*reply, err, sizeof(err));
	if (rv != 0)
		return cli_fail(c, rv, "%s", err);
	c->err[0] = '\0';
	return 0;
}

int fl_client_call(struct fl_client *c, const struct ctl_req *req, json_t **reply)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(req != NULL);
	FL_ASSERT(reply != NULL);
	*reply = NULL;
	json_t *o;
	char err[CTL_ERR_MAX];
	int rv = ctl_req_encode(req, &o, err, sizeof(err));
	if (rv != 0)
		return cli_fail(c, rv, "%s", err);
	rv = cli_roundtrip(c, o, reply);
	json_decref(o);
	return rv;
}

/* Appends page's list to acc's and sets cursor to page's "next" ("" at the end). */
static int page_merge(json_t *acc, json_t *page, const char *key, char *cursor, size_t cap)
{
	json_t *next = json_object_get(page, "next");
	const char *n = json_string_value(next);
	if (!json_is_array(json_object_get(page, key)) || (next != NULL && !json_is_null(next) && n == NULL) ||
	    (n != NULL && strlen(n) >= cap))
		return -FL_EINVAL;
	if (acc != page && json_array_extend(json_object_get(acc, key), json_object_get(page, key)) != 0)
		return -FL_ENOMEM;
	snprintf(cursor, cap, "%s", n != NULL ? n : "");
	return 0;
}

int fl_client_call_all(struct fl_client *c, const struct ctl_req *req, json_t **reply)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(req != NULL);
	FL_ASSERT(reply != NULL);
	FL_ASSERT(req->op == CTL_OP_VMS || req->op == CTL_OP_LEASES);
	const char *key = req->op == CTL_OP_VMS ? "vms" : "leases";
	char cursor[CTL_UID_MAX + 1], prev[CTL_UID_MAX + 1];
	struct ctl_req r = *req;
	int rv = fl_client_call(c, &r, reply);
	if (rv == 0 && page_merge(*reply, *reply, key, cursor, sizeof(cursor)) != 0)
		return cli_fail(c, -FL_EINVAL, "the daemon's %s reply is not a page of a list", key);
	/* Each page must move the cursor forward (uid order), so this ends. */
	while (rv == 0 && cursor[0] != '\0') {
		json_t *page;
		memcpy(prev, cursor, sizeof(prev));
		r.after = prev;
		rv = fl_client_call(c, &r, &page);
		if (rv == 0 && (page_merge(*reply, page, key, cursor, sizeof(cursor)) != 0 ||
				(cursor[0] != '\0' && strcmp(cursor, prev) <= 0)))
			rv = cli_fail(c, -FL_EINVAL, "the daemon's %s reply is not the next page of a list", key);
		json_decref(page);
	}
	if (rv == 0)
		json_object_set_new(*reply, "next", json_null());
	return rv;
}

int fl_request(struct fl_client *c, const char *request_json, char **reply)
{
	FL_ASSERT(c != NULL);
	FL_ASSERT(request_json != NULL);
	FL_ASSERT(reply != NULL);
	*reply = NULL;
	json_error_t jerr;
	json_t *o = json_loads(request_json, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return cli_fail(c, -FL_EINVAL, "request is not a JSON object: %s", jerr.text);
	}
	json_t *r;
	int rv = cli_roundtrip(c, o, &r);
	json_decref(o);
	if (r != NULL) {
		*reply = json_dumps(r, JSON_COMPACT);
		json_decref(r);
	}
	return rv;
}

/* Calls and drops the reply: for ops whose reply carries only "ok". */
static int cli_simple(struct fl_client *c, const struct ctl_req *req)
{
	json_t *r;
	int rv = fl_client_call(c, req, &r);
	json_decref(r);
	return rv;
}

int fl_vm_register_ids(struct fl_client *c, const char *uid, const struct fl_volume_id *volumes,
		       size_t n_volumes, const char *spec, enum fl_restart restart)
{
	struct ctl_req req = {.op = CTL_OP_VM_REGISTER, .uid = uid, .spec = spec, .restart = restart};
	if (n_volumes == 0 || n_volumes > CTL_VOLUMES_MAX || volumes == NULL)
		return cli_fail(c, -FL_EINVAL, "a VM needs 1..%u volumes, got %zu", CTL_VOLUMES_MAX, n_volumes);
	req.n_volumes = (uint32_t)n_volumes;
	char ids[CTL_VOLUMES_MAX][VOLID_MAX + 1];
	char err[1024];
	for (size_t i = 0; i < n_volumes; i++) {
		const char *path = volumes[i].path != NULL ? volumes[i].path : "";
		int rv = volumes[i].id != NULL ? volid_operator(volumes[i].id, ids[i], sizeof(ids[i]), err, sizeof(err))
					       : volid_resolve(NULL, path, ids[i], sizeof(ids[i]), NULL, 0, err, sizeof(err));
		if (rv != 0)
			return cli_fail(c, rv, "%s", err);
		req.volumes[i] = (struct ctl_volume){.path = path, .id = ids[i], .ro = volumes[i].read_only != 0};
	}
	return cli_simple(c, &req);
}

int fl_vm_register(struct fl_client *c, const char *uid, const struct fl_volume *volumes,
		   size_t n_volumes, const char *spec, enum fl_restart restart)
{
	struct fl_volume_id v[CTL_VOLUMES_MAX];
	if (n_volumes == 0 || n_volumes > CTL_VOLUMES_MAX || volumes == NULL)
		return cli_fail(c, -FL_EINVAL, "a VM needs 1..%u volumes, got %zu", CTL_VOLUMES_MAX, n_volumes);
	for (size_t i = 0; i < n_volumes; i++)
		v[i] = (struct fl_volume_id){.path = volumes[i].path, .read_only = volumes[i].read_only};
	return fl_vm_register_ids(c, uid, v, n_volumes, spec, restart);
}

int fl_vm_clear(struct fl_client *c, const char *uid)
{
	return cli_simple(c, &(struct ctl_req){.op = CTL_OP_VM_CLEAR, .uid = uid});
}

int fl_vm_unregister(struct fl_client *c, const char *uid)
{
	return cli_simple(c, &(struct ctl_req){.op = CTL_OP_VM_UNREGISTER, .uid = uid});
}

static uint32_t get_ms(json_t *r, const char *key)
{
	json_t *v = json_object_get(r, key);
	return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= UINT32_MAX
		       ? (uint32_t)json_integer_value(v) : 0;
}

int fl_vm_acquire(struct fl_client *c, const char *uid, pid_t pid, const char *state,
		  struct fl_lease_grant *grant)
{
	FL_ASSERT(grant != NULL);
	memset(grant, 0, sizeof(*grant));
	json_t *r;
	int rv = fl_client_call(c, &(struct ctl_req){.op = CTL_OP_VM_ACQUIRE, .uid = uid, .pid = pid, .state = state}, &r);
	if (rv == 0) {
		const char *gp = json_string_value(json_object_get(r, "guard_path"));
		const char *kp = json_string_value(json_object_get(r, "kill_path"));
		grant->renew_interval_ms = get_ms(r, "renew_interval_ms");
		grant->fence_after_ms = get_ms(r, "fence_after_ms");
		grant->kill_grace_ms = get_ms(r, "kill_grace_ms");
		if (gp == NULL || gp[0] != '/' || strlen(gp) >= sizeof(grant->guard_path) || grant->fence_after_ms == 0)
			rv = cli_fail(c, -FL_ECORRUPT, "vm.acquire reply lacks a valid guard_path or fence_after_ms");
		else
			snprintf(grant->guard_path, sizeof(grant->guard_path), "%s", gp);
		if (kp != NULL)
			snprintf(grant->kill_path, sizeof(grant->kill_path), "%s", kp);
	}
	json_decref(r);
	return rv;
}

int fl_vm_release(struct fl_client *c, const char *uid, pid_t pid)
{
	return cli_simple(c, &(struct ctl_req){.op = CTL_OP_VM_RELEASE, .uid = uid, .pid = pid});
}

int fl_vm_inquire(struct fl_client *c, const char *uid, char *state, size_t len)
{
	FL_ASSERT(state != NULL);
	FL_ASSERT(len > 0);
	state[0] = '\0';
	json_t *r;
	int rv = fl_client_call(c, &(struct ctl_req){.op = CTL_OP_VM_INQUIRE, .uid = uid}, &r);
	if (rv == 0) {
		const char *s = json_string_value(json_object_get(r, "state"));
		if (s == NULL)
			rv = cli_fail(c, -FL_ECORRUPT, "vm.inquire reply lacks 'state'");
		else if (strlen(s) >= len)
			rv = cli_fail(c, -FL_ENOSPC, "lease state of %zu bytes does not fit in %zu", strlen(s), len);
		else
			memcpy(state, s, strlen(s) + 1);
	}
	json_decref(r);
	return rv;
}

int fl_vm_started(struct fl_client *c, const char *uid, pid_t pid)
{
	return cli_simple(c, &(struct ctl_req){.op = CTL_OP_VM_STARTED, .uid = uid, .pid = pid});
}

int fl_vm_exited(struct fl_client *c, const char *uid, pid_t pid, int wait_status)
{
	struct ctl_req req = {.op = CTL_OP_VM_EXITED, .uid = uid, .pid = pid, .exit_code = -1};
	if (WIFSIGNALED(wait_status))
		req.exit_signal = WTERMSIG(wait_status);
	else
		req.exit_code = WEXITSTATUS(wait_status);
	return cli_simple(c, &req);
}

int fl_status(struct fl_client *c, char **json)
{
	FL_ASSERT(json != NULL);
	*json = NULL;
	json_t *r;
	int rv = fl_client_call(c, &(struct ctl_req){.op = CTL_OP_STATUS}, &r);
	if (rv == 0) {
		*json = json_dumps(r, JSON_COMPACT);
		if (*json == NULL)
			rv = cli_fail(c, -FL_ENOMEM, "out of memory formatting the status");
	}
	json_decref(r);
	return rv;
}
