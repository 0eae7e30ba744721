/* `fencelock direct ...`: reads and writes the shared device without the
 * daemon, like `sanlock direct`. This file is only the dispatch table; each
 * command group lives in its own direct_*.c and adds rows here. */
#include <stdio.h>
#include <string.h>
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
			return direct_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "fencelock direct: unknown command '%s'; run 'fencelock direct --help'\n", name);
	return FL_EXIT_USAGE;
}
