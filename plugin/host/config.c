/* fencelockd configuration parser (see config.h).
 *
 * libinih does the lexing; a table of key definitions drives validation, so
 * every key is checked the same way and the message format lives in one
 * place. Line numbers come from our own reader function, which counts the
 * lines it hands to libinih (the distribution's libinih is built without
 * INI_HANDLER_LINENO); it also spots section headers, so an unknown section
 * is refused even when it holds no keys. Only the first error is reported:
 * an operator fixes one line at a time, and later errors may be consequences. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/errmap.h"
#include "disklock/timeouts.h"
#include "fencelock/error.h"
#include "plugin/host/config.h"
#include "plugin/host/ctl_server.h"

enum cfg_kind {
	KIND_NAME,      /* cfg_name_valid() */
	KIND_PATH,      /* absolute path, may be required */
	KIND_DURATION,  /* N | Ns | Nms, within [min, max] ms */
	KIND_HOST_ID,   /* 1..2000 */
	KIND_ADDR,      /* IPv4:port */
	KIND_GROUP,     /* group name or numeric gid */
	KIND_WATCHDOG,  /* auto | off | /dev/... */
	KIND_LOG_LEVEL, /* err | warning | notice | info | debug */
	KIND_BOOL,      /* yes | no */
	KIND_U32,       /* min..max */
};

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_kind kind;
	size_t off;       /* offset of the field in struct fl_config */
	size_t size;      /* size of a string field */
	uint32_t min, max;
	bool required;
};

#define STR_FIELD(f) offsetof(struct fl_config, f), sizeof(((struct fl_config *)0)->f)
#define NUM_FIELD(f) offsetof(struct fl_config, f), 0

static const struct cfg_key cfg_keys[] = {
	{"cluster", "name", KIND_NAME, STR_FIELD(cluster_name), 0, 0, true},
	{"cluster", "device", KIND_PATH, STR_FIELD(device), 0, 0, true},
	{"cluster", "io_timeout", KIND_DURATION, NUM_FIELD(io_timeout_ms), LS_IO_TIMEOUT_MIN_MS, LS_IO_TIMEOUT_MAX_MS, false},
	{"cluster", "partition_tolerance", KIND_DURATION, NUM_FIELD(partition_tolerance_ms), 100, 3600000, false},
	{"cluster", "key_file", KIND_PATH, STR_FIELD(key_file), 0, 0, false},
	{"cluster", "key_file_next", KIND_PATH, STR_FIELD(key_file_next), 0, 0, false},
	{"cluster", "insecure", KIND_BOOL, NUM_FIELD(insecure), 0, 0, false},
	{"host", "id", KIND_HOST_ID, NUM_FIELD(host_id), 1, CFG_HOST_ID_MAX, true},
	{"host", "name", KIND_NAME, STR_FIELD(host_name), 0, 0, true},
	{"host", "listen", KIND_ADDR, NUM_FIELD(listen), 0, 0, true},
	{"host", "control_socket", KIND_PATH, STR_FIELD(control_socket), 0, 0, false},
	{"host", "control_group", KIND_GROUP, NUM_FIELD(control_gid), 0, 0, false},
	{"host", "state_dir", KIND_PATH, STR_FIELD(state_dir), 0, 0, false},
	{"host", "run_dir", KIND_PATH, STR_FIELD(run_dir), 0, 0, false},
	{"host", "recover_command", KIND_PATH, STR_FIELD(recover_command), 0, 0, false},
	{"host", "kill_path", KIND_PATH, STR_FIELD(kill_path), 0, 0, false},
	{"host", "vm_kill_grace", KIND_DURATION, NUM_FIELD(vm_kill_grace_ms), 0, 60000, false},
	{"host", "watchdog", KIND_WATCHDOG, NUM_FIELD(watchdog), 0, 0, false},
	{"host", "log_level", KIND_LOG_LEVEL, NUM_FIELD(log_level), 0, 0, false},
	{"host", "metrics_file", KIND_PATH, STR_FIELD(metrics_file), 0, 0, false},
	{"host", "realtime", KIND_BOOL, NUM_FIELD(realtime), 0, 0, false},
	{"host", "priority", KIND_U32, NUM_FIELD(rt_priority), 1, 99, false},
	{"host", "lock_memory", KIND_BOOL, NUM_FIELD(lock_memory), 0, 0, false},
	{"host", "control_max_clients", KIND_U32, NUM_FIELD(control_max_clients), 16, 65536, false},
	{"host", "control_max_clients_per_uid", KIND_U32, NUM_FIELD(control_max_clients_per_uid), 1, 65536, false},
	{"host", "control_reserved_clients", KIND_U32, NUM_FIELD(control_reserved_clients), 1, 4096, false},
	{"host", "vm_log_dir", KIND_PATH, STR_FIELD(vm_log_dir), 0, 0, false},
	{"cluster", "voters", KIND_U32, NUM_FIELD(voters), 3, 7, false},
	{"host", "max_vms", KIND_U32, NUM_FIELD(max_vms), 1, CFG_MAX_VMS_MAX, false},
	{"cluster", "operator_forwarding", KIND_BOOL, NUM_FIELD(operator_forwarding), 0, 0, false},
};
#define CFG_NKEYS FL_ARRAY_SIZE(cfg_keys)
/* Indexes of keys the cross-checks name (asserted against the table). */
#define CFG_KEY_IO_TIMEOUT 2
#define CFG_KEY_PARTITION_TOLERANCE 3
#define CFG_KEY_KEY_FILE 4
#define CFG_KEY_KEY_FILE_NEXT 5
#define CFG_KEY_INSECURE 6
#define CFG_KEY_VM_KILL_GRACE 16
#define CFG_KEY_VOTERS 27

struct cfg_parse {
	struct fl_config *cfg;
	const char *name;       /* file name for messages */
	char *err;
	size_t errlen;
	bool failed;
	uint32_t line;          /* line being parsed (1-based) */
	bool mid_line;          /* last chunk handed to inih did not end a line */
	uint32_t seen_line[CFG_NKEYS];
	uint32_t peer_line[CFG_HOST_ID_MAX + 1];
	bool vm_kill_grace_set;
	/* input: exactly one of the two */
	FILE *file;
	const char *text;
	size_t pos;
};

static void cfg_fail(struct cfg_parse *p, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_fail(struct cfg_parse *p, uint32_t line, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	int n = line > 0 ? snprintf(p->err, p->errlen, "%s:%u: ", p->name, line)
			 : snprintf(p->err, p->errlen, "%s: ", p->name);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int parse_log_level(const char *v)
{
	static const struct { const char *name; int level; } levels[] = {
		{"err", LOG_ERR}, {"error", LOG_ERR}, {"warning", LOG_WARNING},
		{"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
	};
	for (size_t i = 0; i < FL_ARRAY_SIZE(levels); i++)
		if (strcmp(v, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

static bool path_ok(const char *v, size_t size)
{
	return v[0] == '/' && strlen(v) < size && strstr(v, "/../") == NULL;
}

/* What a key accepts, for the message when it gets something else. */
static void cfg_expect(const struct cfg_key *k, char *buf, size_t len)
{
	const char *what = "invalid";
	switch (k->kind) {
	case KIND_NAME: what = "must be 1..47 of [A-Za-z0-9._-], not starting with '.' or '-'"; break;
	case KIND_PATH: what = "must be an absolute path without '/../'"; break;
	case KIND_DURATION:
		snprintf(buf, len, "must be a duration (N, Ns or Nms) of %u..%u ms", k->min, k->max);
		return;
	case KIND_HOST_ID: what = "must be 1..2000"; break;
	case KIND_ADDR: what = "must be IPv4:PORT, e.g. 127.0.0.1:7401"; break;
	case KIND_GROUP: what = "must be an existing group name or gid"; break;
	case KIND_WATCHDOG: what = "must be auto, off or a /dev/ path"; break;
	case KIND_LOG_LEVEL: what = "must be err, warning, notice, info or debug"; break;
	case KIND_BOOL: what = "must be yes or no"; break;
	case KIND_U32:
		snprintf(buf, len, "must be a number %u..%u", k->min, k->max);
		return;
	}
	snprintf(buf, len, "%s", what);
}

static bool cfg_set_group(struct cfg_parse *p, const char *v)
{
	uint32_t gid;
	if (cfg_parse_u32(v, &gid) == 0) {
		p->cfg->control_gid = (gid_t)gid;
	} else {
		struct group gr, *res = NULL;
		char buf[4096];
		if (getgrnam_r(v, &gr, buf, sizeof(buf), &res) != 0 || res == NULL) {
			cfg_fail(p, p->line, "[host] control_group: no such group '%s'; create it or use a gid", v);
			return false;
		}
		p->cfg->control_gid = gr.gr_gid;
	}
	p->cfg->have_control_group = true;
	return true;
}

/* A yes/no or a number within the key's bounds; false when v is neither. */
static bool cfg_set_plain(char *base, const struct cfg_key *k, const char *v)
{
	if (k->kind == KIND_BOOL) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return false;
		*(bool *)(void *)(base + k->off) = strcmp(v, "yes") == 0;
		return true;
	}
	uint32_t n;
	if (cfg_parse_u32(v, &n) != 0 || n < k->min || n > k->max)
		return false;
	*(uint32_t *)(void *)(base + k->off) = n;
	return true;
}

/* Stores one validated value; returns false (after cfg_fail) when invalid. */
static bool cfg_set(struct cfg_parse *p, const struct cfg_key *k, const char *v)
{
	char *base = (char *)p->cfg;
	switch (k->kind) {
	case KIND_NAME:
		if (!cfg_name_valid(v))
			goto bad;
		snprintf(base + k->off, k->size, "%s", v);
		return true;
	case KIND_PATH:
		if (!path_ok(v, k->size))
			goto bad;
		snprintf(base + k->off, k->size, "%s", v);
		return true;
	case KIND_DURATION: {
		uint32_t ms;
		if (cfg_parse_duration_ms(v, k->max, &ms) != 0 || ms < k->min)
			goto bad;
		*(uint32_t *)(void *)(base + k->off) = ms;
		p->vm_kill_grace_set |= k->off == offsetof(struct fl_config, vm_kill_grace_ms);
		return true;
	}
	case KIND_HOST_ID: {
		uint32_t id;
		if (cfg_parse_u32(v, &id) != 0 || id < k->min || id > k->max)
			goto bad;
		p->cfg->host_id = id;
		return true;
	}
	case KIND_ADDR:
		if (cfg_parse_ipv4_port(v, &p->cfg->listen) != 0)
			goto bad;
		return true;
	case KIND_GROUP:
		return cfg_set_group(p, v);
	case KIND_WATCHDOG:
		if (strcmp(v, "auto") == 0)
			p->cfg->watchdog = CFG_WATCHDOG_AUTO;
		else if (strcmp(v, "off") == 0)
			p->cfg->watchdog = CFG_WATCHDOG_OFF;
		else if (strncmp(v, "/dev/", 5) == 0 && path_ok(v, sizeof(p->cfg->watchdog_device))) {
			p->cfg->watchdog = CFG_WATCHDOG_DEVICE;
			snprintf(p->cfg->watchdog_device, sizeof(p->cfg->watchdog_device), "%s", v);
		} else
			goto bad;
		return true;
	case KIND_LOG_LEVEL: {
		int level = parse_log_level(v);
		if (level < 0)
			goto bad;
		p->cfg->log_level = level;
		return true;
	}
	case KIND_BOOL:
	case KIND_U32:
		if (cfg_set_plain(base, k, v))
			return true;
		goto bad;
	}
bad:;
	char expect[128];
	cfg_expect(k, expect, sizeof(expect));
	cfg_fail(p, p->line, "[%s] %s: %s, got %s", k->section, k->key, expect, v[0] != '\0' ? v : "nothing");
	return false;
}

static bool cfg_peer(struct cfg_parse *p, const char *name, const char *value)
{
	uint32_t id;
	if (cfg_parse_u32(name, &id) != 0 || id < 1 || id > CFG_HOST_ID_MAX) {
		cfg_fail(p, p->line, "[peers] %s: peer key must be a host id 1..2000", name);
		return false;
	}
	if (p->peer_line[id] != 0) {
		cfg_fail(p, p->line, "[peers] %s: set twice (first on line %u)", name, p->peer_line[id]);
		return false;
	}
	if (p->cfg->n_peers >= CFG_PEERS_MAX) {
		cfg_fail(p, p->line, "[peers] %s: more than %u peers", name, CFG_PEERS_MAX);
		return false;
	}
	struct cfg_peer *peer = &p->cfg->peers[p->cfg->n_peers];
	if (cfg_parse_ipv4_port(value, &peer->addr) != 0) {
		cfg_fail(p, p->line, "[peers] %s: must be IPv4:PORT, e.g. 127.0.0.1:7401, got '%s'", name, value);
		return false;
	}
	for (uint32_t i = 0; i < p->cfg->n_peers; i++) {
		const struct cfg_peer *o = &p->cfg->peers[i];
		if (o->addr.sin_addr.s_addr == peer->addr.sin_addr.s_addr && o->addr.sin_port == peer->addr.sin_port) {
			cfg_fail(p, p->line, "[peers] %s: address %s already used by peer %u (line %u)",
				 name, value, o->id, o->line);
			return false;
		}
	}
	peer->id = id;
	peer->line = p->line;
	p->peer_line[id] = p->line;
	p->cfg->n_peers++;
	return true;
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_parse *p = user;
	if (p->failed)
		return 1; /* one message is enough; keep inih quiet */
	if (strcmp(section, "peers") == 0)
		return cfg_peer(p, name, value) ? 1 : 0;
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (strcmp(section, k->section) != 0 || strcmp(name, k->key) != 0)
			continue;
		if (p->seen_line[i] != 0) {
			cfg_fail(p, p->line, "[%s] %s: set twice (first on line %u)", section, name, p->seen_line[i]);
			return 0;
		}
		p->seen_line[i] = p->line;
		return cfg_set(p, k, value) ? 1 : 0;
	}
	if (section[0] == '\0')
		cfg_fail(p, p->line, "%s: key outside any section; put it under [cluster] or [host]", name);
	else if (strcmp(section, "cluster") == 0 || strcmp(section, "host") == 0)
		cfg_fail(p, p->line, "[%s] %s: unknown key; see docs/operations.md for the keys", section, name);
	else
		cfg_fail(p, p->line, "[%s]: unknown section; sections are [cluster], [host], [peers]", section);
	return 0;
}

/* Checks a section header line that inih is about to see. */
static void cfg_check_header(struct cfg_parse *p, const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != '[')
		return;
	static const char *const known[] = {"[cluster]", "[host]", "[peers]"};
	size_t n = strcspn(line, "\r\n");
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < FL_ARRAY_SIZE(known); i++)
		if (n == strlen(known[i]) && strncmp(line, known[i], n) == 0)
			return;
	cfg_fail(p, p->line, "%.*s: unknown section; sections are [cluster], [host], [peers]",
		 (int)FL_MIN(n, 64u), line);
}

/* fgets-style reader for inih that counts lines. */
static char *cfg_reader(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	FL_ASSERT(num > 1);
	char *got;
	if (p->file != NULL) {
		got = fgets(str, num, p->file);
	} else {
		const char *src = p->text + p->pos;
		if (*src == '\0')
			return NULL;
		size_t n = strcspn(src, "\n");
		n = FL_MIN(n + (src[n] == '\n'), (size_t)num - 1);
		memcpy(str, src, n);
		str[n] = '\0';
		p->pos += n;
		got = str;
	}
	if (got == NULL)
		return NULL;
	if (!p->mid_line) {
		p->line++;
		cfg_check_header(p, str);
	}
	size_t len = strlen(str);
	p->mid_line = len == 0 || str[len - 1] != '\n';
	return got;
}

static void cfg_defaults(struct fl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->io_timeout_ms = LS_IO_TIMEOUT_DEFAULT_MS;
	cfg->partition_tolerance_ms = 10000;
	cfg->voters = 5; /* ARB_VOTERS_DEFAULT */
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "/run/fencelock/fencelockd.sock");
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/fencelock");
	snprintf(cfg->run_dir, sizeof(cfg->run_dir), "/run/fencelock");
	cfg->watchdog = CFG_WATCHDOG_AUTO;
	cfg->log_level = LOG_NOTICE;
	cfg->realtime = true;       /* as sanlock: the lease loop runs SCHED_RR, memory locked */
	cfg->rt_priority = CFG_RT_PRIORITY_DEFAULT;
	cfg->lock_memory = true;
	cfg->operator_forwarding = true;
}

/* A cluster key, or an explicit insecure = yes; not both. */
static void cfg_check_keys(struct cfg_parse *p)
{
	const struct fl_config *cfg = p->cfg;
	if (cfg->insecure && (cfg->key_file[0] != '\0' || cfg->key_file_next[0] != '\0'))
		cfg_fail(p, p->seen_line[CFG_KEY_INSECURE], "[cluster] insecure: yes, but a key_file is set too; "
			 "remove one of them");
	else if (!cfg->insecure && cfg->key_file[0] == '\0')
		cfg_fail(p, 0, "[cluster] key_file: required: create a cluster key "
			 "with 'fencelock keygen' and copy it to every host (or, for tests only, insecure = yes)");
	else if (cfg->key_file_next[0] != '\0' && strcmp(cfg->key_file, cfg->key_file_next) == 0)
		cfg_fail(p, p->seen_line[CFG_KEY_KEY_FILE_NEXT], "[cluster] key_file_next: names the same file as "
			 "key_file");
}

static void cfg_cross_check(struct cfg_parse *p)
{
	struct fl_config *cfg = p->cfg;
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_IO_TIMEOUT].key, "io_timeout") == 0);
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_PARTITION_TOLERANCE].key, "partition_tolerance") == 0);
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_VM_KILL_GRACE].key, "vm_kill_grace") == 0);
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_KEY_FILE].key, "key_file") == 0);
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_KEY_FILE_NEXT].key, "key_file_next") == 0);
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_INSECURE].key, "insecure") == 0);
	FL_ASSERT(strcmp(cfg_keys[CFG_KEY_VOTERS].key, "voters") == 0);
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (cfg_keys[i].required && p->seen_line[i] == 0)
			cfg_fail(p, 0, "[%s] %s: required key missing", cfg_keys[i].section, cfg_keys[i].key);
	if (p->failed)
		return;
	cfg_check_keys(p);
	if (!ls_io_timeout_ms_valid(cfg->io_timeout_ms))
		cfg_fail(p, p->seen_line[CFG_KEY_IO_TIMEOUT], "[cluster] io_timeout: must be whole seconds above %u ms "
			 "(each lease record carries milliseconds in 16 bits), got %u ms",
			 LS_IO_TIMEOUT_FRACTIONAL_MAX_MS, cfg->io_timeout_ms);
	if (!p->vm_kill_grace_set)
		cfg->vm_kill_grace_ms = cfg->io_timeout_ms; /* K = T */
	if (cfg->vm_kill_grace_ms > cfg->io_timeout_ms)
		cfg_fail(p, p->seen_line[CFG_KEY_VM_KILL_GRACE], "[host] vm_kill_grace: must be at most io_timeout (%u ms), the kill grace K, got %u ms",
			 cfg->io_timeout_ms, cfg->vm_kill_grace_ms);
	if (cfg->partition_tolerance_ms < cfg->io_timeout_ms)
		cfg_fail(p, p->seen_line[CFG_KEY_PARTITION_TOLERANCE], "[cluster] partition_tolerance: must be at least io_timeout (%u ms), got %u ms",
			 cfg->io_timeout_ms, cfg->partition_tolerance_ms);
	if (cfg->voters % 2 == 0)
		cfg_fail(p, p->seen_line[CFG_KEY_VOTERS], "[cluster] voters: must be 3, 5 or 7 (an odd number), got %u",
			 cfg->voters);
	uint32_t max = cfg->control_max_clients != 0 ? cfg->control_max_clients : CTL_CLIENTS_DEFAULT;
	if (cfg->control_reserved_clients != 0 && cfg->control_reserved_clients >= max / 2)
		cfg_fail(p, 0, "[host] control_reserved_clients: must be below half of control_max_clients (%u), got %u",
			 max, cfg->control_reserved_clients);
	if (cfg->n_peers == 0)
		return; /* joining host: learns the members from the cluster */
	const struct cfg_peer *self = cfg_find_peer(cfg, cfg->host_id);
	if (self == NULL)
		cfg_fail(p, p->peer_line[0], "[peers]: our own [host] id %u is not listed; add '%u = ADDR'",
			 cfg->host_id, cfg->host_id);
	else if (self->addr.sin_addr.s_addr != cfg->listen.sin_addr.s_addr ||
		 self->addr.sin_port != cfg->listen.sin_port)
		cfg_fail(p, self->line, "[peers] %u: address differs from [host] listen; they must be equal",
			 cfg->host_id);
}

int cfg_read_key(const char *path, uint8_t key[CFG_KEY_BYTES], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open the cluster key: %s; create it with 'fencelock keygen --output "
			 "%s' (or copy the cluster's key there)", path, strerror(e), path);
		if (fd >= 0)
			close(fd);
		return fl_from_errno(e);
	}
	const char *bad = NULL;
	if (!S_ISREG(st.st_mode))
		bad = "is not a regular file";
	else if (st.st_uid != geteuid())
		bad = "is not owned by the user fencelockd runs as";
	else if ((st.st_mode & 077) != 0)
		bad = "is readable or writable by group or others; chmod 0400 it";
	else if (st.st_size != (off_t)CFG_KEY_BYTES)
		bad = "is not 32 bytes long: not a key from 'fencelock keygen'";
	ssize_t n = bad == NULL ? read(fd, key, CFG_KEY_BYTES) : -1;
	close(fd);
	if (bad == NULL && n != (ssize_t)CFG_KEY_BYTES)
		bad = "could not be read whole";
	if (bad != NULL) {
		snprintf(err, errlen, "%s: the cluster key %s", path, bad);
		memset(key, 0, CFG_KEY_BYTES);
		return -FL_EPERM;
	}
	return 0;
}

int cfg_read_keys(const struct fl_config *cfg, uint8_t keys[2][CFG_KEY_BYTES], uint32_t *n, char *err,
		  size_t errlen)
{
	char why[CFG_PATH_MAX + 256];
	*n = 0;
	if (cfg->insecure)
		return 0;
	const char *paths[2] = {cfg->key_file, cfg->key_file_next};
	for (uint32_t i = 0; i < 2 && paths[i][0] != '\0'; i++) {
		int rv = cfg_read_key(paths[i], keys[i], why, sizeof(why));
		if (rv != 0) {
			snprintf(err, errlen, "[cluster] %s: %s", i == 0 ? "key_file" : "key_file_next", why);
			return rv;
		}
		*n = i + 1;
	}
	return 0;
}

const struct cfg_peer *cfg_find_peer(const struct fl_config *cfg, uint32_t id)
{
	for (uint32_t i = 0; i < cfg->n_peers; i++)
		if (cfg->peers[i].id == id)
			return &cfg->peers[i];
	return NULL;
}

static int cfg_run(struct cfg_parse *p)
{
	cfg_defaults(p->cfg);
	int rv = ini_parse_stream(cfg_reader, p, cfg_handler, p);
	if (rv > 0 && !p->failed)
		cfg_fail(p, (uint32_t)rv, "syntax error: expected '[section]' or 'key = value'");
	else if (rv < 0 && !p->failed)
		cfg_fail(p, 0, "out of memory while parsing");
	if (!p->failed)
		cfg_cross_check(p);
	return p->failed ? -FL_EINVAL : 0;
}

static const char *cfg_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

int cfg_load(const char *path, struct fl_config *cfg, char *err, size_t errlen)
{
	FL_ASSERT(path != NULL);
	FL_ASSERT(cfg != NULL);
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	err[0] = '\0';
	struct cfg_parse *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -FL_ENOMEM;
	int rv;
	p->file = fopen(path, "re");
	if (p->file == NULL) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open: %s; pass the config with -c", path, strerror(e));
		rv = e == ENOENT ? -FL_ENOENT : fl_from_errno(e);
	} else {
		*p = (struct cfg_parse){.cfg = cfg, .name = cfg_basename(path), .err = err,
					.errlen = errlen, .file = p->file};
		rv = cfg_run(p);
		fclose(p->file);
	}
	free(p);
	return rv;
}

int cfg_load_string(const char *name, const char *text, struct fl_config *cfg, char *err, size_t errlen)
{
	FL_ASSERT(name != NULL);
	FL_ASSERT(text != NULL);
	FL_ASSERT(cfg != NULL);
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	err[0] = '\0';
	struct cfg_parse *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -FL_ENOMEM;
	*p = (struct cfg_parse){.cfg = cfg, .name = name, .err = err, .errlen = errlen, .text = text};
	int rv = cfg_run(p);
	free(p);
	return rv;
}
