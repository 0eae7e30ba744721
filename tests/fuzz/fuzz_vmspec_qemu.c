/* Fuzz target: what fencelock reads from a QEMU command line
 * (plugin/host/vmspec_qemu.c): the whole argv, -drive values and -blockdev
 * values (QEMU's "key=value,,..." syntax, dotted keys, JSON).
 *
 * Mode byte (first input byte) % 3 picks the entry point; the rest is its
 * text (argv: NUL-separated arguments; values: NUL-separated, one call each,
 * the second bit of the mode byte making every volume read-only as
 * -snapshot does).
 *
 * Checks: every entry point returns 0 or -FL_EINVAL / -FL_ENOSPC with a
 * message; the spec holds at most CTL_VOLUMES_MAX distinct absolute,
 * terminated paths, a valid uid or none, and only terminated warnings; with
 * every volume read-only no volume is read-write. */
#include "fencelock/error.h"
#include "plugin/host/vmspec.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static void check_spec(const struct vmspec *s, bool all_ro)
{
	FUZZ_CHECK(s->n_volumes <= CTL_VOLUMES_MAX, "%u volumes", s->n_volumes);
	FUZZ_CHECK(memchr(s->uid, '\0', sizeof(s->uid)) != NULL, "uid not terminated");
	FUZZ_CHECK(s->uid[0] == '\0' || ctl_uid_valid(s->uid), "invalid uid '%s' accepted", s->uid);
	for (uint32_t i = 0; i < s->n_volumes; i++) {
		const char *p = s->volumes[i].path;
		FUZZ_CHECK(memchr(p, '\0', sizeof(s->volumes[i].path)) != NULL, "volume %u not terminated", i);
		FUZZ_CHECK(p[0] == '/', "volume %u is not absolute: %s", i, p);
		FUZZ_CHECK(!all_ro || s->volumes[i].ro, "volume %s read-write under -snapshot", p);
		for (uint32_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(s->volumes[j].path, p) != 0, "volume %s listed twice", p);
	}
	for (uint32_t i = 0; i < s->n_warnings && i < VMSPEC_WARN_MAX; i++)
		FUZZ_CHECK(memchr(s->warnings[i], '\0', VMSPEC_WARN_LEN) != NULL, "warning %u not terminated", i);
}

/* Splits text at NUL bytes into argv (argv[0] the VMM binary). */
static int split_args(char *text, size_t len, char *argv[MAX_ARGS + 1])
{
	int argc = 0;
	argv[argc++] = "qemu-system-x86_64";
	for (size_t off = 0; off <= len && argc < MAX_ARGS; argc++) {
		argv[argc] = text + off;
		off += strlen(text + off) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	if (size == 0)
		return 0;
	uint8_t mode = data[0] % 3;
	bool all_ro = (data[0] & 0x80) != 0;
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
	if (mode == 0) {
		all_ro = false; /* -snapshot is an argument there */
		rv = vmspec_qemu_args(&s, split_args(text, len, argv), argv, err, sizeof(err));
	}
	for (char *v = text; mode != 0 && rv == 0 && v < text + len; v += strlen(v) + 1)
		rv = mode == 1 ? vmspec_qemu_drive(&s, v, all_ro, err, sizeof(err))
			       : vmspec_qemu_blockdev(&s, v, all_ro, err, sizeof(err));
	FUZZ_CHECK(rv == 0 || rv == -FL_EINVAL || rv == -FL_ENOSPC, "entry point %u returned %d", mode, rv);
	FUZZ_CHECK(rv == 0 || err[0] != '\0', "entry point %u refused without a message", mode);
	check_spec(&s, all_ro);
	free(text);
	return 0;
}
