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

int vmspec_firecracker_config(struct vmspec *s, const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (root == NULL)
		return vs_bad(err, errlen, -FL_EINVAL, "Firecracker config: malformed JSON at line %d: %s",
			      jerr.line, jerr.text);
	int rv = 0;
	json_t *drives = json_object_get(root, "drives");
	if (!json_is_array(drives)) {
		rv = vs_bad(err, errlen, -FL_EINVAL, "Firecracker config: no \"drives\" list; nothing to guard");
		goto out;
	}
	size_t i;
	json_t *d;
	json_array_foreach(drives, i, d) {
		json_t *path = json_object_get(d, "path_on_host");
		json_t *ro = json_object_get(d, "is_read_only");
		if (path == NULL || json_is_null(path))
			continue; /* vhost-user drive: no host path */
		if (!json_is_string(path) || (ro != NULL && !json_is_boolean(ro))) {
			rv = vs_bad(err, errlen, -FL_EINVAL,
				    "Firecracker config: drives[%zu]: path_on_host must be a string and is_read_only a boolean", i);
			goto out;
		}
		rv = vmspec_add_volume(s, json_string_value(path), ro != NULL && json_is_true(ro), err, errlen);
		if (rv != 0)
			goto out;
	}
out:
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
	const char *id = NULL, *config = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--id")) != NULL)
			id = v;
		else if ((v = opt_value(argc, argv, &i, "--config-file")) != NULL)
			config = v;
	}
	if (id == NULL && s->uid[0] == '\0')
		return vs_bad(err, errlen, -FL_EINVAL, "firecracker arguments have no --id; it is the VM uid (or pass --vm UID)");
	if (config == NULL)
		return vs_bad(err, errlen, -FL_EINVAL,
			      "firecracker arguments have no --config-file: drives set over the API cannot be guarded; use --config-file or --volume");
	int rv = id != NULL ? vmspec_set_uid(s, id, err, errlen) : 0;
	char *text = NULL;
	size_t len = 0;
	if (rv == 0)
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

int vmspec_ch_disk(struct vmspec *s, const char *value, char *err, size_t errlen)
{
	char path[CTL_PATH_MAX + 2] = "";
	bool ro = false;
	const char *p = value;
	/* Bounded by strlen(value): each round consumes one "key=value," item. */
	while (*p != '\0') {
		size_t item = strcspn(p, ",");
		const char *eq = memchr(p, '=', item);
		if (eq == NULL)
			return vs_bad(err, errlen, -FL_EINVAL, "--disk %s: item '%.*s' is not key=value", value, (int)item, p);
		size_t klen = (size_t)(eq - p), vlen = item - klen - 1;
		if (klen == 4 && strncmp(p, "path", 4) == 0) {
			if (vlen == 0 || vlen > CTL_PATH_MAX)
				return vs_bad(err, errlen, -FL_EINVAL, "--disk %s: path empty or too long", value);
			memcpy(path, eq + 1, vlen);
			path[vlen] = '\0';
		} else if (klen == 8 && strncmp(p, "readonly", 8) == 0 && parse_onoff(eq + 1, vlen, &ro) != 0) {
			return vs_bad(err, errlen, -FL_EINVAL, "--disk %s: readonly must be on, off, true or false", value);
		}
		p += item + (p[item] == ',');
	}
	if (path[0] == '\0')
		return 0; /* vhost-user disk (socket=...): no host path to guard */
	return vmspec_add_volume(s, path, ro, err, errlen);
}

int vmspec_ch_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen)
{
	uint32_t before = s->n_volumes;
	for (int i = 1; i < argc; i++) {
		int rv = 0;
		if (strncmp(argv[i], "--disk=", 7) == 0) {
			rv = vmspec_ch_disk(s, argv[i] + 7, err, errlen);
		} else if (strcmp(argv[i], "--disk") == 0) {
			/* --disk takes every following value up to the next option. */
			while (rv == 0 && i + 1 < argc && argv[i + 1][0] != '-')
				rv = vmspec_ch_disk(s, argv[++i], err, errlen);
		}
		if (rv != 0)
			return rv;
	}
	if (s->n_volumes == before)
		return vs_bad(err, errlen, -FL_EINVAL, "cloud-hypervisor arguments have no --disk path=...; nothing to guard");
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
