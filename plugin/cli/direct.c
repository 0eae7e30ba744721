/* `fencelock direct ...`: reads and writes the shared device without the
 * daemon, like `sanlock direct`. This file is only the dispatch table; each
 * command group lives in its own direct_*.c and adds rows here. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/assert.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/direct.h"

static const struct fl_direct_cmd direct_cmds[] = {
	{"init", "format a lockspace (-s) or a resource lease (-r) area", fl_cli_direct_init_any},
	{"dump", "list the records of a lockspace (and the fencelock area)", fl_cli_direct_dump_any},
	{"read-leader", "print one host_id's record (-s) or a lease's leader (-r)", fl_cli_direct_read_leader_any},
	{"acquire-id", "acquire a host_id (sanlock's delta-lease algorithm)", fl_direct_acquire_id},
	{"renew-id", "renew a held host_id once", fl_direct_renew_id},
	{"release-id", "release a host_id (timestamp 0)", fl_direct_release_id},
	{"host-status", "watch every host's record and judge LIVE/FAIL/DEAD", fl_direct_host_status},
	{"hold-id", "acquire a host_id and keep renewing it until SIGTERM/SIGINT", fl_direct_hold_id},
	{"acquire", "acquire a resource (paxos) lease: disk Paxos ballot", fl_cli_direct_acquire},
	{"release", "release a resource lease", fl_cli_direct_release},
	{"format", "lay out a whole cluster on a device (lockspace, mailboxes, leases)", fl_cli_direct_format},
	{"message", "write fence|clear|test into a host's mailbox", fl_cli_direct_message},
	{"mailbox", "list mailboxes (or acknowledge one as its owner)", fl_cli_direct_mailbox},
};

/* -o json / --output json / --output=json among the arguments. */
static bool wants_json(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc &&
		     strcmp(argv[i + 1], "json") == 0) ||
		    strcmp(argv[i], "--output=json") == 0 || strcmp(argv[i], "-ojson") == 0)
			return true;
	return false;
}

/* Under -o json an error is JSON too: the command's stderr is kept aside
 * while it runs; if it fails, its last line becomes {"schema_version", "ok":
 * false, "error", "exit"} on stdout, and the text still goes to stderr. */
static int run_json_errors(const struct fl_direct_cmd *c, int argc, char **argv)
{
	FILE *cap = tmpfile();
	int saved = cap != NULL ? dup(STDERR_FILENO) : -1;
	if (saved < 0 || dup2(fileno(cap), STDERR_FILENO) < 0) {
		if (cap != NULL)
			fclose(cap);
		if (saved >= 0)
			close(saved);
		return c->run(argc, argv);
	}
	int rc = c->run(argc, argv);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char line[1024], last[1024] = "";
	rewind(cap);
	while (fgets(line, sizeof(line), cap) != NULL) {
		fputs(line, stderr);
		if (line[0] != '\n')
			snprintf(last, sizeof(last), "%s", line);
	}
	fclose(cap);
	last[strcspn(last, "\n")] = '\0';
	if (rc != FL_EXIT_OK) {
		fflush(stdout);
		json_t *o = json_pack("{s:i,s:b,s:s,s:i}", "schema_version", FL_CLI_SCHEMA_VERSION, "ok", 0, "error",
				      last[0] ? last : "failed", "exit", rc);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	}
	return rc;
}

static void direct_usage(FILE *f)
{
	fprintf(f, "usage: fencelock direct COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < FL_ARRAY_SIZE(direct_cmds); i++)
		fprintf(f, "  %-14s %s\n", direct_cmds[i].name, direct_cmds[i].summary);
	fprintf(f, "\nRun 'fencelock direct COMMAND --help' for a command's options.\n\n%s", fl_cli_exit_codes_text);
}

int fl_cli_direct(int argc, char **argv)
{
	FL_ASSERT(argc >= 1);
	FL_ASSERT(argv != NULL);
	if (argc < 2) {
		direct_usage(stderr);
		return FL_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		direct_usage(stdout);
		return FL_EXIT_OK;
	}
	for (size_t i = 0; i < FL_ARRAY_SIZE(direct_cmds); i++)
		if (strcmp(direct_cmds[i].name, name) == 0)
			return wants_json(argc, argv) ? run_json_errors(&direct_cmds[i], argc - 1, argv + 1)
						      : direct_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "fencelock direct: unknown command '%s'; run 'fencelock direct --help'\n", name);
	return FL_EXIT_USAGE;
}
