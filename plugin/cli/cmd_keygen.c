/* `fencelock keygen [--output PATH] [--force]`: creates a cluster key, the
 * secret every host of a cluster shares to authenticate its Raft traffic
 * (raft/tcp_auth.h). 32 random bytes from libsodium, written to a file of
 * mode 0400 (like corosync's authkey). An existing file is never touched
 * without --force; with it the new key goes to a temporary file in the same
 * directory first and is renamed over the old one, so a reader never sees a
 * half-written key. Copy the file to every host over a channel you trust
 * (scp, configuration management): whoever holds it speaks for the cluster. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"

#define KEYGEN_DEFAULT_PATH "/etc/fencelock/authkey"
#define KEYGEN_KEY_BYTES 32u

static void keygen_usage(FILE *f)
{
	fprintf(f, "usage: fencelock keygen [-k|--key-file PATH] [--force]\n"
		   "\n"
		   "Creates a cluster key: 32 random bytes in PATH (default %s),\n"
		   "mode 0400. Name it in [cluster] key_file on every host (key_file_next during\n"
		   "a rotation; docs/operations.md, \"Security\"). An existing file is kept unless\n"
		   "--force is given. (--output PATH is a deprecated spelling of --key-file.)\n"
		   "\n%s", KEYGEN_DEFAULT_PATH, fl_cli_exit_codes_text);
}

/* Writes the key to a new file at path (O_EXCL, 0400). Returns 0 or errno. */
static int keygen_write(const char *path, const uint8_t *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return errno;
	int e = 0;
	if (fchmod(fd, 0400) != 0 || write(fd, key, KEYGEN_KEY_BYTES) != (ssize_t)KEYGEN_KEY_BYTES || fsync(fd) != 0)
		e = errno != 0 ? errno : EIO;
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (e != 0)
		unlink(path);
	return e;
}

/* --force: a temporary file beside path, then rename over it. */
static int keygen_replace(const char *path, const uint8_t *key)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return ENAMETOOLONG;
	int e = keygen_write(tmp, key);
	if (e == 0 && rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
	}
	return e;
}

int fl_cli_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key-file", required_argument, NULL, 'k'}, {"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *path = KEYGEN_DEFAULT_PATH;
	bool force = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': /* -o is the output format everywhere else */
			if (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0 || strcmp(optarg, "wide") == 0) {
				fprintf(stderr, "fencelock keygen: no output format; the key's path is --key-file\n");
				return FL_EXIT_USAGE;
			}
			fprintf(stderr, "fencelock keygen: --output/-o PATH is deprecated, use --key-file\n");
			path = optarg;
			break;
		case 'k': path = optarg; break;
		case 'f': force = true; break;
		case 'h': keygen_usage(stdout); return FL_EXIT_OK;
		default: keygen_usage(stderr); return FL_EXIT_USAGE;
		}
	}
	if (optind != argc || path[0] == '\0') {
		keygen_usage(stderr);
		return FL_EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "fencelock keygen: libsodium failed to initialise; no key written\n");
		return FL_EXIT_FAIL;
	}
	uint8_t key[KEYGEN_KEY_BYTES];
	randombytes_buf(key, sizeof(key));
	int e = force ? keygen_replace(path, key) : keygen_write(path, key);
	sodium_memzero(key, sizeof(key));
	if (e == EEXIST) {
		fprintf(stderr, "fencelock keygen: %s exists; it is kept (a cluster key in use must not change "
			"by accident). Use --force to replace it, or another --output\n", path);
		return FL_EXIT_BUSY;
	}
	if (e != 0) {
		fprintf(stderr, "fencelock keygen: cannot write %s: %s\n", path, strerror(e));
		return e == EACCES || e == EPERM ? FL_EXIT_PERM : e == ENOENT ? FL_EXIT_NOENT : FL_EXIT_FAIL;
	}
	printf("cluster key written to %s (mode 0400); copy it to every host and name it in [cluster] key_file\n",
	       path);
	return FL_EXIT_OK;
}
