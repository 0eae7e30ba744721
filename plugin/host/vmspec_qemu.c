/* VM uid and volumes from a QEMU command line (see vmspec.h, "QEMU").
 *
 * QEMU's option values are "key=value" items split at ','; ",," is a comma
 * inside a value, a bare "key" is "key=on". -drive takes "file=" as a path
 * (with an optional "PROTOCOL:" prefix); -blockdev only names host files in
 * "filename" keys ("file=" there is a reference to another node), dotted for
 * children ("file.filename"), or as JSON. Everything here is bounded: a
 * value longer than QEMU_VALUE_MAX is refused, keys longer than
 * QEMU_KEY_MAX match nothing, a path longer than CTL_PATH_MAX is refused,
 * JSON nests at most VMSPEC_QEMU_JSON_DEPTH levels. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/host/vmspec.h"

#define QEMU_VALUE_MAX 8192u
#define QEMU_KEY_MAX 96u

static int vq_bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int vq_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -FL_EINVAL;
}

/* Drivers and protocols that reach storage over the network: QEMU opens
 * them itself, but there is no host path fencelock could name. */
static bool qemu_network(const char *driver)
{
	static const char *const net[] = {"nbd", "nbd+unix", "nbd+tcp", "iscsi", "iser",
					  "rbd", "gluster", "gluster+tcp", "gluster+unix", "gluster+rdma",
					  "nfs", "ssh", "http", "https", "ftp",
					  "ftps", "sheepdog", "vxhs", "curl"};
	for (size_t i = 0; i < FL_ARRAY_SIZE(net); i++)
		if (strcmp(driver, net[i]) == 0)
			return true;
	return false;
}

/* Protocols that are a host path: "file:/x" is /x. */
static bool qemu_local(const char *driver)
{
	return strcmp(driver, "file") == 0 || strcmp(driver, "host_device") == 0 || strcmp(driver, "host_cdrom") == 0;
}

/* One item of a QEMU option value. */
struct qitem {
	char key[QEMU_KEY_MAX];
	char val[CTL_PATH_MAX + 1];
	bool key_long; /* key longer than the buffer: matches nothing */
	bool val_long; /* value longer than the buffer: unusable */
};

/* Reads the item at *pp into it and moves *pp past it; false at the end. */
static bool qitem_next(const char **pp, struct qitem *it)
{
	const char *p = *pp;
	if (*p == '\0')
		return false;
	size_t k = 0, v = 0;
	it->key_long = it->val_long = false;
	for (; *p != '\0' && *p != '=' && *p != ','; p++) {
		if (k + 1 < sizeof(it->key))
			it->key[k++] = *p;
		else
			it->key_long = true;
	}
	it->key[k] = '\0';
	if (*p != '=') {
		snprintf(it->val, sizeof(it->val), "on");
	} else {
		for (p++; *p != '\0'; p++) {
			if (*p == ',' && p[1] != ',')
				break;
			p += *p == ','; /* ",," is one comma */
			if (v + 1 < sizeof(it->val))
				it->val[v++] = *p;
			else
				it->val_long = true;
		}
		it->val[v] = '\0';
	}
	*pp = p + (*p == ',');
	return true;
}

/* The last value of key in value (QEMU takes the last), or NULL. */
static const struct qitem *qitem_get(const char *value, const char *key, struct qitem *it)
{
	bool found = false;
	struct qitem cur;
	for (const char *p = value; qitem_next(&p, &cur);) {
		if (!cur.key_long && strcmp(cur.key, key) == 0) {
			*it = cur;
			found = true;
		}
	}
	return found ? it : NULL;
}

/* QEMU's booleans: on/yes/true/y, off/no/false/n. */
static int qemu_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true", "y"}, *const no[] = {"off", "no", "false", "n"};
	for (size_t i = 0; i < FL_ARRAY_SIZE(yes); i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return -FL_EINVAL;
}

/* True if key (e.g. "readonly") is set to a true value in value; a
 * non-boolean value fails. */
static int qitem_flag(const char *opt, const char *value, const char *key, bool *on, char *err, size_t errlen)
{
	struct qitem it;
	*on = false;
	if (qitem_get(value, key, &it) == NULL)
		return 0;
	if (it.val_long || qemu_bool(it.val, on) != 0)
		return vq_bad(err, errlen, "%s %.160s: %s must be on or off", opt, value, key);
	return 0;
}

static int qemu_json_node(struct vmspec *s, json_t *node, bool ro, unsigned depth, char *err, size_t errlen);

/* A "json:{...}" filename or a JSON -blockdev. */
static int qemu_json(struct vmspec *s, const char *text, bool ro, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return vq_bad(err, errlen, "QEMU block options %.80s: not a JSON object (%s)", text, jerr.text);
	}
	int rv = qemu_json_node(s, root, ro, 0, err, errlen);
	json_decref(root);
	return rv;
}

static int qemu_json_node(struct vmspec *s, json_t *node, bool ro, unsigned depth, char *err, size_t errlen)
{
	if (depth >= VMSPEC_QEMU_JSON_DEPTH)
		return vq_bad(err, errlen, "QEMU block options nest deeper than %u levels", VMSPEC_QEMU_JSON_DEPTH);
	json_t *r = json_object_get(node, "read-only"), *fn = json_object_get(node, "filename"), *v;
	const char *driver = json_string_value(json_object_get(node, "driver"));
	if (r != NULL && !json_is_boolean(r))
		return vq_bad(err, errlen, "QEMU block options: \"read-only\" must be true or false");
	ro = ro || json_is_true(r);
	int rv = 0;
	if (driver != NULL && qemu_network(driver))
		vmspec_warn(s, "a QEMU block node uses the %.20s driver: network storage, not a volume fencelock can guard",
			    driver);
	else if (fn != NULL && !json_is_string(fn))
		rv = vq_bad(err, errlen, "QEMU block options: \"filename\" must be a string");
	else if (fn != NULL)
		rv = vmspec_add_volume(s, json_string_value(fn), ro, err, errlen);
	const char *key;
	json_object_foreach(node, key, v)
	{
		if (rv == 0 && json_is_object(v))
			rv = qemu_json_node(s, v, ro, depth + 1, err, errlen);
		for (size_t i = 0; rv == 0 && json_is_array(v) && i < json_array_size(v); i++)
			if (json_is_object(json_array_get(v, i)))
				rv = qemu_json_node(s, json_array_get(v, i), ro, depth + 1, err, errlen);
	}
	return rv;
}

/* A file name as -drive file= and -hda take it: a path, "file:PATH",
 * "json:{...}", or a network protocol (a warning). */
static int qemu_file(struct vmspec *s, const char *opt, const char *file, bool ro, char *err, size_t errlen)
{
	if (strncmp(file, "json:", 5) == 0)
		return qemu_json(s, file + 5, ro, err, errlen);
	size_t colon = strcspn(file, ":/");
	if (file[colon] == ':' && colon > 0) {
		char proto[32];
		snprintf(proto, sizeof(proto), "%.*s", (int)FL_MIN(colon, sizeof(proto) - 1), file);
		if (qemu_local(proto))
			return vmspec_add_volume(s, file + colon + 1, ro, err, errlen);
		if (!qemu_network(proto))
			return vq_bad(err, errlen, "%s %.160s: unknown protocol '%s' (a file name with ':' is written ./NAME)",
				      opt, file, proto);
		vmspec_warn(s, "%s %.120s: network storage (%s), not a volume fencelock can guard", opt, file, proto);
		return 0;
	}
	return vmspec_add_volume(s, file, ro, err, errlen);
}

int vmspec_qemu_drive(struct vmspec *s, const char *value, bool all_ro, char *err, size_t errlen)
{
	if (strlen(value) > QEMU_VALUE_MAX)
		return vq_bad(err, errlen, "-drive value longer than %u bytes", QEMU_VALUE_MAX);
	static const char *const ro_keys[] = {"readonly", "read-only", "snapshot", "file.read-only"};
	bool ro = all_ro, on;
	for (size_t i = 0; i < FL_ARRAY_SIZE(ro_keys); i++) {
		int rv = qitem_flag("-drive", value, ro_keys[i], &on, err, errlen);
		if (rv != 0)
			return rv;
		ro = ro || on;
	}
	struct qitem it, drv;
	if (qitem_get(value, "media", &it) != NULL && strcmp(it.val, "cdrom") == 0)
		ro = true;
	const struct qitem *file = qitem_get(value, "file.filename", &it);
	if (file == NULL)
		file = qitem_get(value, "file", &it);
	if (qitem_get(value, "file.driver", &drv) != NULL && qemu_network(drv.val)) {
		vmspec_warn(s, "-drive %.120s: network storage (%s), not a volume fencelock can guard", value, drv.val);
		return 0;
	}
	if (file == NULL)
		return 0; /* an empty drive (no medium) */
	if (file->val_long || file->val[0] == '\0')
		return vq_bad(err, errlen, "-drive %.160s: file name empty or longer than %u bytes", value, CTL_PATH_MAX);
	return qemu_file(s, "-drive", file->val, ro, err, errlen);
}

/* True if a "read-only" (or "readonly") key on path prefix's node or one of
 * its parents is on: "file.file." is under "file." and "". */
static int blockdev_ro(const char *value, const char *prefix, size_t plen, bool *ro, char *err, size_t errlen)
{
	char key[QEMU_KEY_MAX + 16];
	*ro = false;
	for (size_t n = 0; n <= plen && !*ro; n++) {
		if (n != 0 && prefix[n - 1] != '.')
			continue;
		bool on;
		snprintf(key, sizeof(key), "%.*sread-only", (int)n, prefix);
		int rv = qitem_flag("-blockdev", value, key, &on, err, errlen);
		if (rv != 0)
			return rv;
		*ro = on;
	}
	return 0;
}

int vmspec_qemu_blockdev(struct vmspec *s, const char *value, bool all_ro, char *err, size_t errlen)
{
	if (strlen(value) > QEMU_VALUE_MAX)
		return vq_bad(err, errlen, "-blockdev value longer than %u bytes", QEMU_VALUE_MAX);
	if (value[0] == '{')
		return qemu_json(s, value, all_ro, err, errlen);
	struct qitem it;
	int rv = 0;
	/* Bounded by strlen(value): each round consumes one item. */
	for (const char *p = value; rv == 0 && qitem_next(&p, &it);) {
		size_t klen = strlen(it.key), sfx = sizeof("filename") - 1;
		bool is_driver = klen >= 6 && strcmp(it.key + klen - 6, "driver") == 0 &&
				 (klen == 6 || it.key[klen - 7] == '.');
		if (!it.key_long && is_driver && qemu_network(it.val))
			vmspec_warn(s, "-blockdev %.120s: network storage (%s), not a volume fencelock can guard", value,
				    it.val);
		if (it.key_long || klen < sfx || strcmp(it.key + klen - sfx, "filename") != 0 ||
		    (klen > sfx && it.key[klen - sfx - 1] != '.'))
			continue;
		if (it.val_long || it.val[0] == '\0')
			return vq_bad(err, errlen, "-blockdev %.160s: %s empty or longer than %u bytes", value, it.key,
				      CTL_PATH_MAX);
		bool ro;
		rv = blockdev_ro(value, it.key, klen - sfx, &ro, err, errlen);
		if (rv == 0)
			rv = vmspec_add_volume(s, it.val, all_ro || ro, err, errlen);
	}
	return rv;
}

/* -name's guest name: "guest=NAME,..." or an implied first "NAME,...". */
static bool qemu_name(const char *value, char *name, size_t namelen)
{
	struct qitem it;
	size_t first = strcspn(value, "=,");
	if (value[first] == '=') {
		if (qitem_get(value, "guest", &it) == NULL || it.val_long)
			return false;
	} else {
		const char *p = value;
		char implied[CTL_PATH_MAX + 1 + 8];
		snprintf(implied, sizeof(implied), "guest=%.*s", (int)FL_MIN(strlen(value), CTL_PATH_MAX), value);
		p = implied;
		if (!qitem_next(&p, &it) || it.val_long)
			return false;
	}
	if (strlen(it.val) >= namelen)
		return false;
	snprintf(name, namelen, "%s", it.val);
	return true;
}

/* Options with a value that must be skipped as a whole (not read as an
 * option); the ones read above are handled before. */
static bool qemu_takes_value(const char *o)
{
	static const char *const opts[] = {
		"append", "kernel", "initrd", "m", "M", "machine", "smp", "cpu", "accel",
		"device", "netdev", "net", "serial", "monitor", "chardev", "display", "vga", "bios",
		"boot", "object", "numa", "global", "qmp", "mon", "pidfile", "D", "d",
		"L", "k", "rtc", "incoming", "fsdev", "virtfs", "runas", "chroot", "sandbox",
		"icount", "action", "trace", "msg", "smbios", "fw_cfg", "overcommit", "parallel", "vnc",
		"spice", "pflash", "mtdblock", "sd", "fda", "fdb", "dtb", "compat", "run-with",
		"audiodev", "tpmdev", "iscsi", "add-fd", "plugin", "option-rom", "mem-path", "g", "acpitable"};
	for (size_t i = 0; i < FL_ARRAY_SIZE(opts); i++)
		if (strcmp(o, opts[i]) == 0)
			return true;
	return false;
}

/* The uid from -name or -uuid, unless --vm gave one. */
static int qemu_uid(struct vmspec *s, const char *name, const char *uuid, char *err, size_t errlen)
{
	char n[CTL_UID_MAX + 1];
	if (s->uid[0] != '\0')
		return 0;
	if (name != NULL && qemu_name(name, n, sizeof(n)) && ctl_uid_valid(n))
		return vmspec_set_uid(s, n, err, errlen);
	if (uuid != NULL && ctl_uid_valid(uuid))
		return vmspec_set_uid(s, uuid, err, errlen);
	return vq_bad(err, errlen, "qemu arguments have no usable uid: give -name guest=NAME or -uuid UUID "
				   "(letters, digits, ._:-), or pass --vm UID");
}

/* One option at argv[*i] ("-o" or "--o"); moves *i past its value. */
static int qemu_opt(struct vmspec *s, int argc, char *const argv[], int *i, bool all_ro, const char **name,
		    const char **uuid, char *err, size_t errlen)
{
	const char *a = argv[*i];
	if (a[0] != '-')
		return 0;
	const char *o = a + 1 + (a[1] == '-');
	static const char *const hd[] = {"hda", "hdb", "hdc", "hdd", "cdrom"};
	bool known = strcmp(o, "drive") == 0 || strcmp(o, "blockdev") == 0 || strcmp(o, "name") == 0 ||
		     strcmp(o, "uuid") == 0;
	for (size_t k = 0; k < FL_ARRAY_SIZE(hd); k++)
		known = known || strcmp(o, hd[k]) == 0;
	if (!known && !qemu_takes_value(o))
		return 0;
	if (*i + 1 >= argc)
		return vq_bad(err, errlen, "qemu option %.40s has no value", a);
	const char *v = argv[++*i];
	if (strcmp(o, "drive") == 0)
		return vmspec_qemu_drive(s, v, all_ro, err, errlen);
	if (strcmp(o, "blockdev") == 0)
		return vmspec_qemu_blockdev(s, v, all_ro, err, errlen);
	if (strcmp(o, "name") == 0)
		*name = v;
	else if (strcmp(o, "uuid") == 0)
		*uuid = v;
	else if (strcmp(o, "virtfs") == 0 || strcmp(o, "fsdev") == 0)
		vmspec_warn(s, "-%s %.120s shares a host directory, not a volume fencelock can guard", o, v);
	else if (strcmp(o, "device") == 0 && strncmp(v, "vhost-user-blk", 14) == 0)
		vmspec_warn(s, "-device %.120s: its vhost-user backend opens the storage, not QEMU; it is not a volume "
			       "fencelock can guard",
			    v);
	else if (known && strlen(v) > CTL_PATH_MAX)
		return vq_bad(err, errlen, "-%s %.64s...: longer than %u bytes", o, v, CTL_PATH_MAX);
	else if (known)
		return qemu_file(s, a, v, all_ro || strcmp(o, "cdrom") == 0, err, errlen);
	return 0;
}

int vmspec_qemu_args(struct vmspec *s, int argc, char *const argv[], char *err, size_t errlen)
{
	FL_ASSERT(s != NULL);
	bool all_ro = false;
	for (int i = 1; i < argc; i++)
		all_ro = all_ro || strcmp(argv[i], "-snapshot") == 0 || strcmp(argv[i], "--snapshot") == 0;
	const char *name = NULL, *uuid = NULL;
	for (int i = 1; i < argc; i++) {
		int rv = qemu_opt(s, argc, argv, &i, all_ro, &name, &uuid, err, errlen);
		if (rv != 0)
			return rv;
	}
	int rv = qemu_uid(s, name, uuid, err, errlen);
	if (rv == 0 && s->n_volumes == 0)
		rv = vq_bad(err, errlen, "qemu arguments have no -drive file=..., -blockdev ...filename=... or -hda; "
					 "nothing to guard (or name the volumes with --volume PATH)");
	return rv;
}
