/* VM uid and volumes from exec arguments and VMM configurations (see vmspec.h). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "fencelock/error.h"
#include "plugin/host/vmspec.h"

static int vs_bad(char *err, size_t errlen, int rv, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int vs_bad(char *err, size_t errlen, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rv;
}

int vmspec_add_volume(struct vmspec *s, const char *path, bool ro, char *err, size_t errlen)
{
	FL_ASSERT(s != NULL);
	FL_ASSERT(path != NULL);
	char abs[CTL_PATH_MAX + 2];
	if (path[0] == '\0')
		return vs_bad(err, errlen, -FL_EINVAL, "empty volume path");
	if (path[0] == '/') {
		if (strlen(path) > CTL_PATH_MAX)
			return vs_bad(err, errlen, -FL_EINVAL, "volume path longer than %u bytes: %.64s...", CTL_PATH_MAX, path);
		snprintf(abs, sizeof(abs), "%s", path);
	} else {
		char cwd[CTL_PATH_MAX + 1];
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) > CTL_PATH_MAX)
			return vs_bad(err, errlen, -FL_EINVAL, "volume path %s: cannot make it absolute (too long?)", path);
	}
	for (uint32_t i = 0; i < s->n_volumes; i++) {
		if (strcmp(s->volumes[i].path, abs) == 0) {
			s->volumes[i].ro = s->volumes[i].ro && ro;
			return 0;
		}
	}
	if (s->n_volumes >= CTL_VOLUMES_MAX)
		return vs_bad(err, errlen, -FL_ENOSPC, "more than %u volumes; fencelock guards at most %u per VM",
			      CTL_VOLUMES_MAX, CTL_VOLUMES_MAX);
	struct vmspec_volume *v = &s->volumes[s->n_volumes++];
	size_t len = strlen(abs);
	FL_ASSERT(len <= CTL_PATH_MAX);
	memcpy(v->path, abs, len + 1);
	v->ro = ro;
	return 0;
}

/* Cuts a trailing ":ro", ":rw" or ":id=ID" off arg[0..*n); true if one was. */
static bool volume_suffix(const char *arg, size_t *n, bool *ro, char *id, size_t idlen)
{
	if (*n > 3 && (strncmp(arg + *n - 3, ":ro", 3) == 0 || strncmp(arg + *n - 3, ":rw", 3) == 0)) {
		*ro = arg[*n - 1] == 'o';
		*n -= 3;
		return true;
	}
	for (size_t k = *n; k >= 4; k--) {
		if (arg[k - 1] == '/')
			return false;
		if (strncmp(arg + k - 4, ":id=", 4) == 0) {
			snprintf(id, idlen, "%.*s", (int)(*n - k), arg + k);
			*n = k - 4;
			return true;
		}
	}
	return false;
}

int vmspec_add_volume_arg(struct vmspec *s, const char *arg, char *err, size_t errlen)
{
	size_t n = strlen(arg);
	bool ro = false;
	char id[VOLID_OPERATOR_MAX + 2] = "", full[VOLID_MAX + 1];
	for (int k = 0; k < 2 && volume_suffix(arg, &n, &ro, id, sizeof(id)); k++)
		;
	if (id[0] != '\0' && volid_operator(id, full, sizeof(full), err, errlen) != 0)
		return -FL_EINVAL;
	char path[CTL_PATH_MAX + 2];
	if (n > CTL_PATH_MAX)
		return vs_bad(err, errlen, -FL_EINVAL, "--volume %.64s...: path longer than %u bytes", arg, CTL_PATH_MAX);
	memcpy(path, arg, n);
	path[n] = '\0';
	uint32_t before = s->n_volumes;
	int rv = vmspec_add_volume(s, path, ro, err, errlen);
	for (uint32_t i = 0; rv == 0 && id[0] != '\0' && i < s->n_volumes; i++)
		if (s->n_volumes > before ? i == s->n_volumes - 1 : strcmp(s->volumes[i].path, path) == 0)
			snprintf(s->volumes[i].id, sizeof(s->volumes[i].id), "%s", id);
	return rv;
}

int vmspec_set_uid(struct vmspec *s, const char *uid, char *err, size_t errlen)
{
	if (!ctl_uid_valid(uid))
		return vs_bad(err, errlen, -FL_EINVAL,
			      "VM uid '%.80s' invalid: use 1..%u of [A-Za-z0-9._:-], not starting with '.' or '-'",
			      uid, CTL_UID_MAX);
	snprintf(s->uid, sizeof(s->uid), "%s", uid);
	return 0;
}

void vmspec_warn(struct vmspec *s, const char *fmt, ...)
{
	FL_ASSERT(s != NULL);
	if (s->n_warnings < VMSPEC_WARN_MAX) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->warnings[s->n_warnings], VMSPEC_WARN_LEN, fmt, ap);
		va_end(ap);
	}
	if (s->n_warnings < UINT32_MAX)
		s->n_warnings++;
}

/* true, false, null (= absent) or absent -> *out; anything else fails. */
static bool json_opt_bool(json_t *v, bool *out)
{
	*out = v != NULL && json_is_true(v);
	return v == NULL || json_is_null(v) || json_is_boolean(v);
}

/* One entry of Firecracker's "drives": a host path, or a vhost-user socket. */
static int fc_drive(struct vmspec *s, size_t i, json_t *d, char *err, size_t errlen)
{
	json_t *path = json_object_get(d, "path_on_host"), *sock = json_object_get(d, "socket");
	const char *id = json_string_value(json_object_get(d, "drive_id"));
	bool ro;
	if (!json_is_object(d) || !json_opt_bool(json_object_get(d, "is_read_only"), &ro))
		return vs_bad(err, errlen, -FL_EINVAL,
			      "Firecracker config: drives[%zu]: not an object, or is_read_only not true, false or null", i);
	if (path == NULL || json_is_null(path)) {
		if (!json_is_string(sock))
			return vs_bad(err, errlen, -FL_EINVAL,
				      "Firecracker config: drives[%zu] has neither path_on_host nor socket", i);
		vmspec_warn(s, "drive '%.40s' is vhost-user (socket %.100s): its backend opens the storage, not Firecracker; "
			    "it is not a volume fencelock can guard", id != NULL ? id : "?", json_string_value(sock));
		return 0;
	}
	if (!json_is_string(path))
		return vs_bad(err, errlen, -FL_EINVAL, "Firecracker config: drives[%zu]: path_on_host must be a string", i);
	const char *cache = json_string_value(json_object_get(d, "cache_type"));
	if (!ro && cache != NULL && strcmp(cache, "Unsafe") == 0)
		vmspec_warn(s, "drive '%.40s' has cache_type Unsafe: Firecracker acknowledges the guest's flushes without "
			    "writing them through, so writes the guest saw flushed can be lost in a failover", id != NULL ? id : "?");
	return vmspec_add_volume(s, json_string_value(path), ro, err, errlen);
}

/* One entry of Firecracker's "pmem": a file mapped into the guest. */
static int fc_pmem(struct vmspec *s, size_t i, json_t *d, char *err, size_t errlen)
{
	json_t *path = json_object_get(d, "path_on_host");
	bool ro;
	if (!json_is_object(d) || !json_is_string(path) || !json_opt_bool(json_object_get(d, "read_only"), &ro))
		return vs_bad(err, errlen, -FL_EINVAL,
			      "Firecracker config: pmem[%zu]: path_on_host must be a string and read_only a boolean", i);
	return vmspec_add_volume(s, json_string_value(path), ro, err, errlen);
}

int vmspec_firecracker_config(struct vmspec *s, const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (root == NULL)
		return vs_bad(err, errlen, -FL_EINVAL, "Firecracker config: malformed JSON at line %d: %s",
			      jerr.line, jerr.text);
	int rv = 0;
	json_t *drives = json_object_get(root, "drives"), *pmem = json_object_get(root, "pmem");
	if ((drives != NULL && !json_is_array(drives)) || (pmem != NULL && !json_is_array(pmem)))
		rv = vs_bad(err, errlen, -FL_EINVAL, "Firecracker config: \"drives\" and \"pmem\" must be lists");
	else if (json_array_size(drives) == 0 && json_array_size(pmem) == 0)
		rv = vs_bad(err, errlen, -FL_EINVAL, "Firecracker config: no \"drives\" and no \"pmem\"; nothing to guard");
	size_t i;
	json_t *d;
	json_array_foreach(drives, i, d) {
		if (rv == 0)
			rv = fc_drive(s, i, d, err, errlen);
	}
	json_array_foreach(pmem, i, d) {
		if (rv == 0)
			rv = fc_pmem(s, i, d, err, errlen);
	}
	json_decref(root);
	return rv;
}

/* Matches "--name value" or "--name=value" at argv[*i]; advances *i past it. */
static const char *opt_value(int argc, char *const argv[], int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] == '\0' && *i + 1 < argc) {
		(*i)++;
		return argv[*i];
	}
	return NULL;
}

static int read_small_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return vs_bad(err, errlen, fl_from_errno(errno), "cannot open %s: %s", path, strerror(errno));
	char *buf = malloc(VMSPEC_CONFIG_MAX_BYTES + 1);
	size_t n = buf != NULL ? fread(buf, 1, VMSPEC_CONFIG_MAX_BYTES + 1, f) : 0;
	bool failed = buf == NULL || ferror(f) || n > VMSPEC_CONFIG_MAX_BYTES;
	fclose(f);
	if (failed) {
		free(buf);
		return vs_bad(err, errlen, -FL_EINVAL, "cannot read %s (larger than %u bytes?)", path,
			      VMSPEC_CONFIG_MAX_BYTES);
	}
	*out = buf;
	*len = n;
	return 0;
}

int vmspec_firecracker_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen)
{
	const char *id = NULL, *config = NULL, *api = "/run/firecracker.socket";
	bool no_api = false;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--id")) != NULL)
			id = v;
		else if ((v = opt_value(argc, argv, &i, "--config-file")) != NULL)
			config = v;
		else if ((v = opt_value(argc, argv, &i, "--api-sock")) != NULL)
			api = v;
		else if (strcmp(argv[i], "--no-api") == 0)
			no_api = true;
	}
	if (id == NULL && s->uid[0] == '\0')
		return vs_bad(err, errlen, -FL_EINVAL, "firecracker arguments have no --id; it is the VM uid (or pass --vm UID)");
	if (config == NULL && s->n_volumes == 0)
		return vs_bad(err, errlen, -FL_EINVAL,
			      "firecracker arguments have no --config-file: drives set over the API cannot be seen; "
			      "use --config-file, or name the volumes with --volume PATH");
	int rv = id != NULL ? vmspec_set_uid(s, id, err, errlen) : 0;
	if (rv != 0 || config == NULL)
		return rv;
	if (!no_api)
		vmspec_warn(s, "the API socket %.120s stays live beside --config-file: a PATCH /drives there can re-point a "
			    "drive to a volume fencelock does not guard; pass --no-api if nothing needs it", api);
	char *text = NULL;
	size_t len = 0;
	rv = read_small_file(config, &text, &len, err, errlen);
	if (rv != 0)
		return rv;
	rv = vmspec_firecracker_config(s, text, len, err, errlen);
	free(text);
	return rv;
}

static int parse_onoff(const char *v, size_t n, bool *out)
{
	if ((n == 2 && strncmp(v, "on", 2) == 0) || (n == 4 && strncmp(v, "true", 4) == 0))
		*out = true;
	else if ((n == 3 && strncmp(v, "off", 3) == 0) || (n == 5 && strncmp(v, "false", 5) == 0))
		*out = false;
	else
		return -FL_EINVAL;
	return 0;
}

/* Cloud Hypervisor's "key=value,key=value" values: the value of key (at
 * most CTL_PATH_MAX bytes) into out, and whether it was there. -FL_EINVAL
 * for an item without '=' or a value too long for out. */
static int ch_item(const char *value, const char *key, char *out, size_t outlen, bool *found)
{
	size_t klen = strlen(key);
	*found = false;
	/* Bounded by strlen(value): each round consumes one "key=value," item. */
	for (const char *p = value; *p != '\0';) {
		size_t item = strcspn(p, ",");
		const char *eq = memchr(p, '=', item);
		if (eq == NULL)
			return -FL_EINVAL;
		size_t vlen = item - (size_t)(eq - p) - 1;
		if ((size_t)(eq - p) == klen && strncmp(p, key, klen) == 0) {
			if (vlen >= outlen)
				return -FL_EINVAL;
			memcpy(out, eq + 1, vlen);
			out[vlen] = '\0';
			*found = true;
		}
		p += item + (p[item] == ',');
	}
	return 0;
}

/* A Cloud Hypervisor value's path (key pkey) and read-only flag (key rkey). */
static int ch_path_ro(const char *opt, const char *value, const char *pkey, const char *rkey, char *path, bool *ro,
		      char *err, size_t errlen)
{
	char flag[8];
	bool has_path, has_ro;
	if (ch_item(value, pkey, path, CTL_PATH_MAX + 1, &has_path) != 0 || ch_item(value, rkey, flag, sizeof(flag), &has_ro) != 0)
		return vs_bad(err, errlen, -FL_EINVAL, "%s %.200s: not key=value items, or a value too long", opt, value);
	*ro = false;
	if (has_ro && parse_onoff(flag, strlen(flag), ro) != 0)
		return vs_bad(err, errlen, -FL_EINVAL, "%s %.200s: %s must be on, off, true or false", opt, value, rkey);
	if (has_path && path[0] == '\0')
		return vs_bad(err, errlen, -FL_EINVAL, "%s %.200s: empty %s", opt, value, pkey);
	if (!has_path)
		path[0] = '\0';
	return 0;
}

int vmspec_ch_disk(struct vmspec *s, const char *value, char *err, size_t errlen)
{
	char path[CTL_PATH_MAX + 1], sock[CTL_PATH_MAX + 1];
	bool ro, has_sock;
	int rv = ch_path_ro("--disk", value, "path", "readonly", path, &ro, err, errlen);
	if (rv != 0)
		return rv;
	if (path[0] != '\0')
		return vmspec_add_volume(s, path, ro, err, errlen);
	if (ch_item(value, "socket", sock, sizeof(sock), &has_sock) != 0 || !has_sock)
		return vs_bad(err, errlen, -FL_EINVAL, "--disk %.200s: neither path= nor socket=", value);
	vmspec_warn(s, "--disk %.120s is vhost-user: its backend opens the storage, not Cloud Hypervisor; it is not a "
		    "volume fencelock can guard", value);
	return 0;
}

int vmspec_ch_pmem(struct vmspec *s, const char *value, char *err, size_t errlen)
{
	char path[CTL_PATH_MAX + 1];
	bool discard;
	int rv = ch_path_ro("--pmem", value, "file", "discard_writes", path, &discard, err, errlen);
	if (rv == 0 && path[0] == '\0')
		rv = vs_bad(err, errlen, -FL_EINVAL, "--pmem %.200s: no file=", value);
	/* discard_writes=on maps the file private: the guest's writes never reach it. */
	return rv != 0 ? rv : vmspec_add_volume(s, path, discard, err, errlen);
}

int vmspec_ch_socket_uid(const char *value, char *uid, size_t uidlen)
{
	static const char name[] = "/cloudhypervisor.sock";
	const char *path = strncmp(value, "path=", 5) == 0 ? value + 5 : value;
	size_t n = strcspn(path, ","), nlen = sizeof(name) - 1;
	if (n <= nlen || strncmp(path + n - nlen, name, nlen) != 0)
		return -FL_EINVAL;
	size_t end = n - nlen, start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (end - start == 0 || end - start >= uidlen)
		return -FL_EINVAL;
	memcpy(uid, path + start, end - start);
	uid[end - start] = '\0';
	return ctl_uid_valid(uid) ? 0 : -FL_EINVAL;
}

/* One Cloud Hypervisor option that fencing cares about, at argv[*i]. */
static int ch_opt(struct vmspec *s, int argc, char *const argv[], int *i, const char **api, char *err, size_t errlen)
{
	static const char *const multi[] = {"--disk", "--pmem", "--fs"};
	const char *a = argv[*i];
	for (size_t k = 0; k < FL_ARRAY_SIZE(multi); k++) {
		size_t n = strlen(multi[k]);
		if (strncmp(a, multi[k], n) != 0 || (a[n] != '\0' && a[n] != '='))
			continue;
		int rv = 0;
		/* The option takes every following value up to the next option. */
		for (bool first = true; rv == 0; first = false) {
			const char *v = first && a[n] == '=' ? a + n + 1 : NULL;
			if (v == NULL && (first || a[n] == '\0') && *i + 1 < argc && argv[*i + 1][0] != '-')
				v = argv[++*i];
			if (v == NULL)
				break;
			if (k == 0)
				rv = vmspec_ch_disk(s, v, err, errlen);
			else if (k == 1)
				rv = vmspec_ch_pmem(s, v, err, errlen);
			else
				vmspec_warn(s, "--fs %.120s is virtiofs: virtiofsd shares a host directory, not a volume "
					    "fencelock can guard", v);
		}
		return rv;
	}
	const char *v = opt_value(argc, argv, i, "--api-socket");
	if (v != NULL)
		*api = v;
	return 0;
}

int vmspec_ch_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen)
{
	const char *api = NULL;
	for (int i = 1; i < argc; i++) {
		int rv = ch_opt(s, argc, argv, &i, &api, err, errlen);
		if (rv != 0)
			return rv;
	}
	if (s->uid[0] == '\0' && (api == NULL || vmspec_ch_socket_uid(api, s->uid, sizeof(s->uid)) != 0))
		return vs_bad(err, errlen, -FL_EINVAL,
			      "cloud-hypervisor has no uid of its own: pass --vm UID (or an --api-socket "
			      ".../UID/cloudhypervisor.sock, Flintlock's layout)");
	if (s->n_volumes == 0)
		return vs_bad(err, errlen, -FL_EINVAL, "cloud-hypervisor arguments have no --disk path=... or --pmem file=...; nothing to guard");
	return 0;
}

static int rerun_push(struct vmspec_rerun *r, const char *a)
{
	if ((size_t)r->argc + 1 >= VMSPEC_ARGV_MAX)
		return -FL_ENOSPC;
	r->argv[r->argc] = strdup(a);
	if (r->argv[r->argc] == NULL)
		return -FL_ENOMEM;
	r->argc++;
	return 0;
}

/* The fencelock exec options of the spec: mode, restart policy, volumes
 * (with their operator-given identities). */
static int rerun_options(json_t *spec, struct vmspec_rerun *r, char *err, size_t errlen)
{
	const char *mode = json_string_value(json_object_get(spec, "mode"));
	int rv = 0;
	if (mode != NULL && strcmp(mode, "firecracker") == 0)
		rv = rerun_push(r, "--firecracker");
	else if (mode != NULL && strcmp(mode, "cloud-hypervisor") == 0)
		rv = rerun_push(r, "--cloud-hypervisor");
	else if (mode != NULL && strcmp(mode, "qemu") == 0)
		rv = rerun_push(r, "--qemu");
	else if (mode != NULL && strcmp(mode, "plain") != 0)
		return vs_bad(err, errlen, -FL_EINVAL, "spec: unknown mode '%s'", mode);
	const char *restart = json_string_value(json_object_get(spec, "restart"));
	enum fl_restart pol;
	if (restart != NULL && ctl_restart_parse(restart, &pol) != 0)
		return vs_bad(err, errlen, -FL_EINVAL, "spec: unknown restart policy '%.20s'", restart);
	if (restart != NULL && rv == 0 && (rv = rerun_push(r, "--restart")) == 0)
		rv = rerun_push(r, restart);
	json_t *vols = json_object_get(spec, "volumes"), *v;
	if (!json_is_array(vols) || json_array_size(vols) == 0 || json_array_size(vols) > CTL_VOLUMES_MAX)
		return vs_bad(err, errlen, -FL_EINVAL, "spec: 'volumes' must list 1..%u volumes", CTL_VOLUMES_MAX);
	size_t i;
	json_array_foreach(vols, i, v) {
		const char *path = json_string_value(json_object_get(v, "path"));
		if (path == NULL || path[0] != '/' || strlen(path) > CTL_PATH_MAX)
			return vs_bad(err, errlen, -FL_EINVAL, "spec: volumes[%zu].path must be an absolute path", i);
		const char *id = json_string_value(json_object_get(v, "id"));
		char arg[CTL_PATH_MAX + VOLID_OPERATOR_MAX + 16], full[VOLID_MAX + 1];
		if (id != NULL && volid_operator(id, full, sizeof(full), err, errlen) != 0)
			return -FL_EINVAL;
		snprintf(arg, sizeof(arg), "%s%s%s%s", path, json_is_true(json_object_get(v, "ro")) ? ":ro" : "",
			 id != NULL ? ":id=" : "", id != NULL ? id : "");
		if (rv == 0)
			rv = rerun_push(r, "--volume");
		if (rv == 0)
			rv = rerun_push(r, arg);
	}
	return rv;
}

static int rerun_fill(json_t *spec, const char *bin, struct vmspec_rerun *r, char *err, size_t errlen)
{
	const char *wrapper = json_string_value(json_object_get(spec, "wrapper"));
	const char *uid = json_string_value(json_object_get(spec, "uid"));
	const char *cwd = json_string_value(json_object_get(spec, "cwd"));
	json_t *argv = json_object_get(spec, "argv"), *a;
	if (wrapper == NULL || strcmp(wrapper, "fencelock exec") != 0)
		return vs_bad(err, errlen, -FL_EINVAL, "spec was not registered by fencelock exec; configure recover_command");
	if (uid == NULL || !ctl_uid_valid(uid) || cwd == NULL || cwd[0] != '/' || strlen(cwd) > CTL_PATH_MAX)
		return vs_bad(err, errlen, -FL_EINVAL, "spec: 'uid' or 'cwd' missing or invalid");
	if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > VMSPEC_ARGV_MAX / 2)
		return vs_bad(err, errlen, -FL_EINVAL, "spec: 'argv' must list 1..%u strings", VMSPEC_ARGV_MAX / 2);
	snprintf(r->cwd, sizeof(r->cwd), "%s", cwd);
	int rv = rerun_push(r, bin);
	const char *head[] = {"exec", "--vm", uid};
	for (size_t i = 0; rv == 0 && i < FL_ARRAY_SIZE(head); i++)
		rv = rerun_push(r, head[i]);
	if (rv == 0)
		rv = rerun_options(spec, r, err, errlen);
	if (rv == 0)
		rv = rerun_push(r, "--");
	size_t i;
	json_array_foreach(argv, i, a) {
		if (rv == 0 && !json_is_string(a))
			rv = vs_bad(err, errlen, -FL_EINVAL, "spec: argv[%zu] is not a string", i);
		if (rv == 0)
			rv = rerun_push(r, json_string_value(a));
	}
	if (rv == -FL_ENOSPC)
		rv = vs_bad(err, errlen, -FL_EINVAL, "spec: command line longer than %u arguments", VMSPEC_ARGV_MAX);
	return rv;
}

int vmspec_rerun_build(const char *spec, const char *fencelock_bin, struct vmspec_rerun *out,
		       char *err, size_t errlen)
{
	FL_ASSERT(spec != NULL);
	FL_ASSERT(fencelock_bin != NULL);
	FL_ASSERT(out != NULL);
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loads(spec, 0, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return vs_bad(err, errlen, -FL_EINVAL, "spec is not a JSON object; configure recover_command");
	}
	out->argv = calloc(VMSPEC_ARGV_MAX, sizeof(char *));
	int rv = out->argv == NULL ? -FL_ENOMEM : rerun_fill(root, fencelock_bin, out, err, errlen);
	json_decref(root);
	if (rv != 0)
		vmspec_rerun_free(out);
	return rv;
}

void vmspec_rerun_free(struct vmspec_rerun *r)
{
	for (int i = 0; r->argv != NULL && i < r->argc; i++)
		free(r->argv[i]);
	free(r->argv);
	memset(r, 0, sizeof(*r));
}
