/* Volume identity from sysfs, the mount table and statfs (rules in volid.h,
 * reasons in docs/design.md "Volume identity"). Every read is bounded (a
 * sysfs attribute, one mount table line, a recursion depth for loop devices
 * over files on loop devices), every string that leaves here is checked by
 * volid_valid(), and a device that says nothing trustworthy about itself is
 * refused rather than named after its path. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/host/volid.h"

#define VOLID_ATTR_MAX 512u    /* longest sysfs attribute read */
#define VOLID_DEPTH_MAX 4      /* loop -> file -> fs on loop -> ... */
#define VOLID_PATH_BUF 4096u

static int vb(char *err, size_t errlen, int rv, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int vb(char *err, size_t errlen, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rv;
}

static const char *sysfs_root(const struct volid_env *env)
{
	const char *e = getenv(VOLID_SYSFS_ENV);
	if (env != NULL && env->sysfs != NULL)
		return env->sysfs;
	return e != NULL && e[0] == '/' ? e : "/sys";
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._:=/+,@~-", c) != NULL;
}

/* Lower-cases s and turns every run of other characters (spaces in T10
 * ids) into one '_'. */
static void sanitize(char *s, bool lower)
{
	char *w = s;
	bool gap = false;
	for (const char *r = s; *r != '\0'; r++) {
		char c = *r;
		if (!id_char(c)) {
			gap = true;
			continue;
		}
		if (gap && w != s)
			*w++ = '_';
		gap = false;
		*w++ = lower && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	*w = '\0';
}

bool volid_valid(const char *id)
{
	static const char *const ns[] = {"wwid:", "dm:", "file:", "id:"};
	if (id == NULL)
		return false;
	size_t n = strnlen(id, VOLID_MAX + 1);
	if (n == 0 || n > VOLID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!id_char(id[i]))
			return false;
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		size_t l = strlen(ns[k]);
		if (n > l && strncmp(id, ns[k], l) == 0)
			return true;
	}
	return false;
}

int volid_operator(const char *given, char *id, size_t idlen, char *err, size_t errlen)
{
	FL_ASSERT(given != NULL);
	FL_ASSERT(id != NULL);
	size_t n = strnlen(given, VOLID_OPERATOR_MAX + 1);
	bool ok = n > 0 && n <= VOLID_OPERATOR_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = (given[i] >= 'a' && given[i] <= 'z') || (given[i] >= 'A' && given[i] <= 'Z') ||
		     (given[i] >= '0' && given[i] <= '9') || strchr("._:-", given[i]) != NULL;
	if (!ok)
		return vb(err, errlen, -FL_EINVAL, "volume id '%.40s%s' invalid: use 1..%u of [A-Za-z0-9._:-]", given,
			  n > 40 ? "..." : "", VOLID_OPERATOR_MAX);
	if ((size_t)snprintf(id, idlen, "id:%s", given) >= idlen)
		return vb(err, errlen, -FL_EINVAL, "volume id too long");
	FL_ASSERT(volid_valid(id));
	return 0;
}

/* Reads dir/name (one sysfs attribute) into buf, trailing whitespace cut.
 * 0, -FL_ENOENT when absent, -FL_EIO when unreadable. */
static int read_path(const char *p, char *buf, size_t len)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -FL_ENOENT : -FL_EIO;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -FL_EIO;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\0'))
		n--;
	buf[n] = '\0';
	return 0;
}

static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char p[VOLID_PATH_BUF];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return -FL_EINVAL;
	return read_path(p, buf, len);
}

static int put_id(char *id, size_t idlen, char *err, size_t errlen, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Formats the identity; refuses one that does not fit or is malformed. */
static int put_id(char *id, size_t idlen, char *err, size_t errlen, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(id, idlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= idlen || (size_t)n > VOLID_MAX)
		return vb(err, errlen, -FL_EINVAL, "%s: its identity would be longer than %u bytes", what, VOLID_MAX);
	if (!volid_valid(id))
		return vb(err, errlen, -FL_EINVAL, "%s: its identity '%.60s' is malformed", what, id);
	return 0;
}

/* SCSI designators as multipath's WWID spells them: naa. -> 3, eui. -> 2,
 * t10. -> 1 (scsi_id's type prefixes), lower case. */
static void scsi_wwid(char *w)
{
	static const char *const pre[][2] = {{"naa.", "3"}, {"eui.", "2"}, {"t10.", "1"}};
	sanitize(w, true);
	for (size_t k = 0; k < 3; k++) {
		if (strncmp(w, pre[k][0], 4) == 0) {
			w[0] = pre[k][1][0];
			memmove(w + 1, w + 4, strlen(w + 4) + 1);
			return;
		}
	}
}

static int file_id(const struct volid_env *env, const char *canon, const struct stat *st, int depth, char *id,
		   size_t idlen, char *err, size_t errlen);
static int block_dir_id(const struct volid_env *env, const char *dir, int depth, char *id, size_t idlen,
			char *err, size_t errlen);

/* A device-mapper map: multipath by its WWID (so that it agrees with its
 * path devices), anything else by its uuid; none -> refused. */
static int dm_id(const char *dir, char *uuid, char *id, size_t idlen, char *err, size_t errlen)
{
	char name[128] = "?";
	(void)read_attr(dir, "dm/name", name, sizeof(name));
	sanitize(name, false);
	if (uuid[0] == '\0')
		return vb(err, errlen, -FL_EINVAL, "device-mapper device %s has no uuid (a thin snapshot or a plain "
			  "dmsetup table): nothing names it the same on every host", name);
	unsigned part = 0;
	int off = 0;
	if (sscanf(uuid, "part%u-%n", &part, &off) == 1 && off > 0 && strncmp(uuid + off, "mpath-", 6) == 0) {
		char *w = uuid + off + 6;
		sanitize(w, true);
		return put_id(id, idlen, err, errlen, name, "wwid:%s:part%u", w, part);
	}
	if (strncmp(uuid, "mpath-", 6) == 0) {
		sanitize(uuid + 6, true);
		return put_id(id, idlen, err, errlen, name, "wwid:%s", uuid + 6);
	}
	sanitize(uuid, false);
	return put_id(id, idlen, err, errlen, name, "dm:%s", uuid);
}

/* A loop device: the identity of its backing file (and offset). */
static int loop_id(const struct volid_env *env, const char *dir, const char *backing, int depth, char *id,
		   size_t idlen, char *err, size_t errlen)
{
	char off[32] = "0", canon[VOLID_PATH_BUF], sub[VOLID_MAX + 1];
	struct stat st;
	size_t n = strlen(backing);
	if (n >= 10 && strcmp(backing + n - 10, " (deleted)") == 0)
		return vb(err, errlen, -FL_EINVAL, "loop device over a deleted file (%s)", backing);
	if (backing[0] != '/' || realpath(backing, canon) == NULL || stat(canon, &st) != 0)
		return vb(err, errlen, -FL_EINVAL, "loop device: its backing file %s cannot be resolved", backing);
	int rv = S_ISREG(st.st_mode) ? file_id(env, canon, &st, depth + 1, sub, sizeof(sub), err, errlen)
	       : S_ISBLK(st.st_mode) ? volid_block(env, major(st.st_rdev), minor(st.st_rdev), sub, sizeof(sub), err, errlen)
				     : vb(err, errlen, -FL_EINVAL, "loop device: backing %s is not a file", canon);
	if (rv != 0)
		return rv;
	(void)read_attr(dir, "loop/offset", off, sizeof(off));
	if (strcmp(off, "0") == 0 || off[0] == '\0')
		return put_id(id, idlen, err, errlen, backing, "%s", sub);
	sanitize(off, false);
	return put_id(id, idlen, err, errlen, backing, "%s:off=%s", sub, off);
}

/* NVMe namespace attributes when "wwid" is missing: uuid, nguid, eui. */
static int nvme_fallback(const char *dir, const char *dev, char *id, size_t idlen, char *err, size_t errlen)
{
	char a[VOLID_ATTR_MAX];
	if (read_attr(dir, "uuid", a, sizeof(a)) == 0 && a[0] != '\0' &&
	    strcmp(a, "00000000-0000-0000-0000-000000000000") != 0) {
		sanitize(a, true);
		return put_id(id, idlen, err, errlen, dev, "wwid:uuid.%s", a);
	}
	for (int k = 0; k < 2; k++) {
		if (read_attr(dir, k == 0 ? "nguid" : "eui", a, sizeof(a)) != 0 || a[0] == '\0')
			continue;
		char hex[VOLID_ATTR_MAX], *w = hex;
		for (const char *r = a; *r != '\0'; r++)
			if (*r != '-' && *r != ' ')
				*w++ = *r;
		*w = '\0';
		sanitize(hex, true);
		if (strspn(hex, "0") != strlen(hex))
			return put_id(id, idlen, err, errlen, dev, "wwid:eui.%s", hex);
	}
	return 1; /* nothing here */
}

static int block_dir_id(const struct volid_env *env, const char *dir, int depth, char *id, size_t idlen,
			char *err, size_t errlen)
{
	char a[VOLID_ATTR_MAX], dev[64] = "?", parent[VOLID_PATH_BUF], sub[VOLID_MAX + 1];
	if (depth > VOLID_DEPTH_MAX)
		return vb(err, errlen, -FL_EINVAL, "devices nested more than %d deep", VOLID_DEPTH_MAX);
	if (read_attr(dir, "dev", dev, sizeof(dev)) == -FL_ENOENT)
		return vb(err, errlen, -FL_ENOENT, "no block device in sysfs at %s", dir);
	if (read_attr(dir, "partition", a, sizeof(a)) == 0) {
		unsigned part = (unsigned)strtoul(a, NULL, 10);
		snprintf(parent, sizeof(parent), "%s/..", dir);
		int rv = block_dir_id(env, parent, depth + 1, sub, sizeof(sub), err, errlen);
		return rv != 0 ? rv : put_id(id, idlen, err, errlen, dev, "%s:part%u", sub, part);
	}
	if (read_attr(dir, "dm/uuid", a, sizeof(a)) == 0)
		return dm_id(dir, a, id, idlen, err, errlen);
	if (read_attr(dir, "loop/backing_file", a, sizeof(a)) == 0)
		return loop_id(env, dir, a, depth, id, idlen, err, errlen);
	if (read_attr(dir, "wwid", a, sizeof(a)) == 0 && a[0] != '\0') {
		sanitize(a, true);
		return put_id(id, idlen, err, errlen, dev, "wwid:%s", a);
	}
	int rv = nvme_fallback(dir, dev, id, idlen, err, errlen);
	if (rv <= 0)
		return rv;
	if (read_attr(dir, "device/wwid", a, sizeof(a)) == 0 && a[0] != '\0') {
		scsi_wwid(a);
		return put_id(id, idlen, err, errlen, dev, "wwid:%s", a);
	}
	return vb(err, errlen, -FL_EINVAL, "block device %s exposes no identity in sysfs (no device/wwid, wwid, "
		  "dm/uuid or loop/backing_file)", dev);
}

int volid_block(const struct volid_env *env, uint32_t maj, uint32_t min, char *id, size_t idlen, char *err,
		size_t errlen)
{
	FL_ASSERT(id != NULL);
	FL_ASSERT(idlen > 0);
	char dir[VOLID_PATH_BUF];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/dev/block/%u:%u", sysfs_root(env), maj, min) >= sizeof(dir))
		return vb(err, errlen, -FL_EINVAL, "sysfs root too long");
	int rv = block_dir_id(env, dir, 0, id, idlen, err, errlen);
	FL_ASSERT(rv != 0 || volid_valid(id));
	return rv;
}

/* ---- regular files ---- */

struct volid_mnt {
	uint32_t maj, min;
	char root[VOLID_PATH_BUF];
	char mp[VOLID_PATH_BUF];
	char fstype[64];
	char source[512];
};

/* Copies a mount table field, decoding its octal escapes (\040 = ' '). */
static bool mnt_field(const char *f, char *out, size_t len)
{
	size_t w = 0;
	for (size_t r = 0; f[r] != '\0'; r++) {
		char c = f[r];
		if (c == '\\' && f[r + 1] >= '0' && f[r + 1] <= '3' && f[r + 2] >= '0' && f[r + 2] <= '7' &&
		    f[r + 3] >= '0' && f[r + 3] <= '7') {
			c = (char)((f[r + 1] - '0') * 64 + (f[r + 2] - '0') * 8 + (f[r + 3] - '0'));
			r += 3;
		}
		if (w + 1 >= len)
			return false;
		out[w++] = c;
	}
	out[w] = '\0';
	return true;
}

/* Parses one mountinfo line: "ID PARENT MAJ:MIN ROOT MP OPTS [OPT...] -
 * FSTYPE SOURCE SUPER". */
static bool mnt_parse(char *line, struct volid_mnt *m)
{
	char *save = NULL, *tok[6] = {0};
	int n = 0;
	char *t = strtok_r(line, " \n", &save);
	while (t != NULL && n < 6) {
		tok[n++] = t;
		t = n < 6 ? strtok_r(NULL, " \n", &save) : NULL;
	}
	if (n < 6 || sscanf(tok[2], "%u:%u", &m->maj, &m->min) != 2)
		return false;
	if (!mnt_field(tok[3], m->root, sizeof(m->root)) || !mnt_field(tok[4], m->mp, sizeof(m->mp)))
		return false;
	while ((t = strtok_r(NULL, " \n", &save)) != NULL && strcmp(t, "-") != 0)
		;
	char *type = strtok_r(NULL, " \n", &save), *src = strtok_r(NULL, " \n", &save);
	if (t == NULL || type == NULL || src == NULL)
		return false;
	return mnt_field(type, m->fstype, sizeof(m->fstype)) && mnt_field(src, m->source, sizeof(m->source));
}

static size_t mp_covers(const char *mp, const char *path)
{
	size_t l = strlen(mp);
	if (strcmp(mp, "/") == 0)
		return 1;
	return strncmp(path, mp, l) == 0 && (path[l] == '/' || path[l] == '\0') ? l : 0;
}

/* The mount holding canon: the longest mount point over it with the file's
 * device (the last such line: later mounts cover earlier ones). */
static int mount_of(const struct volid_env *env, const char *canon, dev_t dev, struct volid_mnt *best)
{
	const char *p = env != NULL && env->mountinfo != NULL ? env->mountinfo : "/proc/self/mountinfo";
	FILE *f = fopen(p, "re");
	if (f == NULL)
		return -FL_EIO;
	char *line = NULL;
	size_t cap = 0, best_len = 0;
	struct volid_mnt m;
	while (getline(&line, &cap, f) > 0) {
		if (!mnt_parse(line, &m) || m.maj != major(dev) || m.min != minor(dev))
			continue;
		size_t l = mp_covers(m.mp, canon);
		if (l > 0 && l >= best_len) {
			best_len = l;
			*best = m;
		}
	}
	free(line);
	fclose(f);
	return best_len > 0 ? 0 : -FL_ENOENT;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static int put_fs(char *fs, size_t fslen, char *err, size_t errlen, const char *canon, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int put_fs(char *fs, size_t fslen, char *err, size_t errlen, const char *canon, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(fs, fslen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= fslen)
		return vb(err, errlen, -FL_EINVAL, "file %s: its filesystem's identity is too long", canon);
	return 0;
}

/* The filesystem part of a file identity (see volid.h). */
static int fs_id(const struct volid_env *env, const char *canon, const struct volid_mnt *m, int depth, char *fs,
		 size_t fslen, char *err, size_t errlen)
{
	static const char *const net[] = {"nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "fuse.glusterfs",
					  "lustre", "gpfs", "beegfs", NULL};
	static const char *const local[] = {"tmpfs", "ramfs", "devtmpfs", NULL};
	char sub[VOLID_MAX + 1], e2[256];
	struct statfs sf;
	if (in_list(m->fstype, net) && m->maj == 0) {
		char src[sizeof(m->source)];
		snprintf(src, sizeof(src), "%s", m->source);
		sanitize(src, false);
		if ((size_t)snprintf(fs, fslen, "%s=%s", m->fstype, src) >= fslen)
			return vb(err, errlen, -FL_EINVAL, "file %s: mount source %.60s too long", canon, src);
		return 0;
	}
	if (m->maj != 0) {
		char dir[VOLID_PATH_BUF];
		snprintf(dir, sizeof(dir), "%s/dev/block/%u:%u", sysfs_root(env), m->maj, m->min);
		if (block_dir_id(env, dir, depth + 1, sub, sizeof(sub), e2, sizeof(e2)) == 0)
			return put_fs(fs, fslen, err, errlen, canon, "dev=%s", sub);
	}
	if (!in_list(m->fstype, local) && statfs(canon, &sf) == 0) {
		uint32_t v[2];
		memcpy(v, &sf.f_fsid, sizeof(v));
		if (v[0] != 0 || v[1] != 0)
			return put_fs(fs, fslen, err, errlen, canon, "fsid=%08x%08x", v[0], v[1]);
	}
	if (in_list(m->fstype, local)) {
		char mid[64];
		const char *p = env != NULL && env->machine_id != NULL ? env->machine_id : "/etc/machine-id";
		if (read_path(p, mid, sizeof(mid)) != 0 || mid[0] == '\0')
			return vb(err, errlen, -FL_EINVAL, "file %s is on %s and %s cannot be read", canon, m->fstype, p);
		sanitize(mid, true);
		return put_fs(fs, fslen, err, errlen, canon, "host=%s,dev=%u:%u", mid, m->maj, m->min);
	}
	return vb(err, errlen, -FL_EINVAL, "file %s is on a %s filesystem (%s) with no identity shared across hosts",
		  canon, m->fstype, m->source);
}

static int file_id(const struct volid_env *env, const char *canon, const struct stat *st, int depth, char *id,
		   size_t idlen, char *err, size_t errlen)
{
	struct volid_mnt *m = malloc(sizeof(*m));
	char fs[VOLID_MAX + 1], rel[VOLID_PATH_BUF];
	if (m == NULL)
		return -FL_ENOMEM;
	int rv = mount_of(env, canon, st->st_dev, m);
	if (rv != 0) {
		free(m);
		return vb(err, errlen, -FL_EINVAL, "file %s: no mount of its device %u:%u in the mount table", canon,
			  major(st->st_dev), minor(st->st_dev));
	}
	rv = fs_id(env, canon, m, depth, fs, sizeof(fs), err, errlen);
	const char *below = strcmp(m->mp, "/") == 0 ? canon : canon + strlen(m->mp);
	bool fits = (size_t)snprintf(rel, sizeof(rel), "%s%s", strcmp(m->root, "/") == 0 ? "" : m->root, below) <
		    sizeof(rel);
	free(m);
	if (rv != 0)
		return rv;
	if (!fits)
		return vb(err, errlen, -FL_EINVAL, "file %s: path too long", canon);
	sanitize(rel, false);
	return put_id(id, idlen, err, errlen, canon, "file:%s:%s", fs, rel);
}

int volid_resolve(const struct volid_env *env, const char *path, char *id, size_t idlen, char *canon,
		  size_t canonlen, char *err, size_t errlen)
{
	FL_ASSERT(path != NULL);
	FL_ASSERT(id != NULL);
	char buf[PATH_MAX];
	struct stat st;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path[0] != '/' || strnlen(path, VOLID_PATH_BUF) >= VOLID_PATH_BUF)
		return vb(err, errlen, -FL_EINVAL, "volume %.80s: the path must be absolute", path);
	if (realpath(path, buf) == NULL || stat(buf, &st) != 0)
		return vb(err, errlen, errno == ENOENT ? -FL_ENOENT : -FL_EINVAL, "volume %s: cannot resolve it: %s",
			  path, strerror(errno));
	if (canon != NULL && (size_t)snprintf(canon, canonlen, "%s", buf) >= canonlen)
		return vb(err, errlen, -FL_EINVAL, "volume %s: resolved path too long", path);
	char why[512] = "";
	int rv = S_ISBLK(st.st_mode) ? volid_block(env, major(st.st_rdev), minor(st.st_rdev), id, idlen, why, sizeof(why))
	       : S_ISREG(st.st_mode) ? file_id(env, buf, &st, 0, id, idlen, why, sizeof(why))
				     : vb(why, sizeof(why), -FL_EINVAL, "neither a block device nor a regular file");
	if (rv != 0)
		return vb(err, errlen, rv == -FL_ENOMEM ? rv : -FL_EINVAL,
			  "volume %s (%s) has no identity fencelock can trust: %s; name it yourself with --volume "
			  "%s:id=ID (the same ID on every host that reaches this device)", path, buf, why, path);
	FL_ASSERT(volid_valid(id));
	return 0;
}
