/* Fuzz target: what fencelock reads from a VMM's own description of a VM
 * (plugin/host/vmspec.c): a Firecracker JSON configuration, Firecracker and
 * Cloud Hypervisor command lines (argv), Cloud Hypervisor --disk values,
 * `fencelock exec --volume` arguments, and the spec `fencelock exec`
 * registers, rebuilt into a command line for recovery.
 *
 * Mode byte (first input byte) % 6 picks the entry point; the rest is its
 * text (argv: NUL-separated arguments; for Firecracker's argv the target
 * writes the text after the first 0x01 byte into a temporary file and points
 * every --config-file at it, so the file is the fuzzer's, never a path of
 * this machine).
 *
 * Checks: every entry point returns 0 or a -FL_E code with a message; the
 * spec it leaves holds at most CTL_VOLUMES_MAX distinct absolute,
 * terminated paths and a valid uid or none; a rebuilt command line is
 * NULL-terminated after argc entries, starts with the fencelock binary and
 * "exec", and names the VM's uid after --vm. */
#include <unistd.h>
#include "fencelock/error.h"
#include "plugin/host/vmspec.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static void check_spec(const struct vmspec *s)
{
	FUZZ_CHECK(s->n_volumes <= CTL_VOLUMES_MAX, "%u volumes", s->n_volumes);
	FUZZ_CHECK(memchr(s->uid, '\0', sizeof(s->uid)) != NULL, "uid not terminated");
	FUZZ_CHECK(s->uid[0] == '\0' || ctl_uid_valid(s->uid), "invalid uid '%s' accepted", s->uid);
	for (uint32_t i = 0; i < s->n_volumes; i++) {
		const char *p = s->volumes[i].path;
		FUZZ_CHECK(memchr(p, '\0', sizeof(s->volumes[i].path)) != NULL, "volume %u not terminated", i);
		FUZZ_CHECK(p[0] == '/', "volume %u is not absolute: %s", i, p);
		for (uint32_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(s->volumes[j].path, p) != 0, "volume %s listed twice", p);
	}
}

/* Splits text at NUL bytes into argv (argv[0] the VMM binary). */
static int split_args(char *text, size_t len, char *argv[MAX_ARGS + 1])
{
	int argc = 0;
	argv[argc++] = "vmm";
	for (size_t off = 0; off <= len && argc < MAX_ARGS; argc++) {
		argv[argc] = text + off;
		off += strlen(text + off) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

static void check_rerun(const char *text)
{
	struct vmspec_rerun r;
	char err[256];
	err[0] = '\0';
	int rv = vmspec_rerun_build(text, "/usr/bin/fencelock", &r, err, sizeof(err));
	FUZZ_CHECK(rv == 0 || rv == -FL_EINVAL || rv == -FL_ENOMEM, "rerun build returned %d", rv);
	if (rv != 0) {
		FUZZ_CHECK(err[0] != '\0', "refused without a message");
		return;
	}
	FUZZ_CHECK(r.argc >= 4, "argc %d", r.argc);
	FUZZ_CHECK((unsigned)r.argc < VMSPEC_ARGV_MAX, "argc %d", r.argc);
	FUZZ_CHECK(r.argv[r.argc] == NULL, "argv not NULL-terminated");
	for (int i = 0; i < r.argc; i++)
		FUZZ_CHECK(r.argv[i] != NULL, "argv[%d] NULL before argc", i);
	FUZZ_CHECK(strcmp(r.argv[0], "/usr/bin/fencelock") == 0, "command does not start with fencelock exec");
	FUZZ_CHECK(strcmp(r.argv[1], "exec") == 0, "command does not start with fencelock exec");
	FUZZ_CHECK(strcmp(r.argv[2], "--vm") == 0, "command names no valid uid");
	FUZZ_CHECK(ctl_uid_valid(r.argv[3]), "command names no valid uid");
	vmspec_rerun_free(&r);
}

static void firecracker_args(char *text, size_t len, struct vmspec *s, char *err, size_t errlen)
{
	char path[] = "/tmp/fl-fuzz-fc-XXXXXX";
	int fd = mkstemp(path);
	FUZZ_CHECK(fd >= 0, "cannot create a temporary file");
	char *cfg = memchr(text, 1, len);
	size_t args_len = cfg != NULL ? (size_t)(cfg - text) : len;
	if (cfg != NULL)
		FUZZ_CHECK(write(fd, cfg + 1, len - args_len - 1) == (ssize_t)(len - args_len - 1), "write failed");
	close(fd);
	text[args_len] = '\0';
	char *argv[MAX_ARGS + 1];
	int argc = split_args(text, args_len, argv);
	char eq[sizeof(path) + 16];
	snprintf(eq, sizeof(eq), "--config-file=%s", path);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config-file=", 14) == 0)
			argv[i] = eq;
		else if (strcmp(argv[i], "--config-file") == 0 && i + 1 < argc)
			argv[++i] = path;
	}
	int rv = vmspec_firecracker_args(s, argc, argv, err, errlen);
	FUZZ_CHECK(rv <= 0, "firecracker args returned %d", rv);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = data[0] % 6;
	size_t len = size - 1;
	char *text = malloc(len + 1);
	FUZZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data + 1, len);
	text[len] = '\0';
	static struct vmspec s;
	memset(&s, 0, sizeof(s));
	char err[256];
	err[0] = '\0';
	int rv = 0;
	char *argv[MAX_ARGS + 1];
	switch (mode) {
	case 0:
		rv = vmspec_firecracker_config(&s, text, len, err, sizeof(err));
		break;
	case 1:
		firecracker_args(text, len, &s, err, sizeof(err));
		break;
	case 2:
		rv = vmspec_ch_args(&s, split_args(text, len, argv), argv, err, sizeof(err));
		break;
	case 3:
		for (char *v = text; rv == 0 && v < text + len; v += strlen(v) + 1)
			rv = vmspec_ch_disk(&s, v, err, sizeof(err));
		break;
	case 4:
		for (char *v = text; rv == 0 && v < text + len; v += strlen(v) + 1)
			rv = vmspec_add_volume_arg(&s, v, err, sizeof(err));
		break;
	default:
		check_rerun(text);
		break;
	}
	FUZZ_CHECK(rv <= 0, "entry point %u returned %d", mode, rv);
	FUZZ_CHECK(rv == 0 || err[0] != '\0', "entry point %u refused without a message", mode);
	check_spec(&s);
	free(text);
	return 0;
}
