/* fencelock: the command-line tool. Dispatches to command groups; each group
 * lives in its own file (cli_direct_*.c, ...) and registers in cli.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock [-s SOCKET] COMMAND [ARGS...]\n"
		"\n"
		"commands:\n"
		"  direct ...     read and write the shared device without the daemon\n"
		"  status         this host's view of the cluster (Nagios exit codes)\n"
		"  hosts|leases|vms [-o text|json]   tables of the daemon's state\n"
		"  metrics        Prometheus metrics of the daemon\n"
		"  exec ... -- CMD ARGS...   run a VM under its volume leases and a guard\n"
		"  host add|remove ...       change the cluster's membership\n"
		"  vm inquire|release|unregister|clear UID   administer one VM\n"
		"  keygen [--output PATH] [--force]   create a cluster key (mode 0400)\n"
		"  help           this text\n"
		"\n"
		"Run 'fencelock COMMAND --help' for a command's options.\n"
		"-s SOCKET (or FENCELOCK_SOCKET) names the daemon's control socket.\n"
		"\n%s", fl_cli_exit_codes_text);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "-s") == 0) { /* global -s SOCKET */
		setenv("FENCELOCK_SOCKET", argv[2], 1);
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		usage(stderr);
		return FL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "direct") == 0)
		return fl_cli_direct(argc - 1, argv + 1);
	static const char *const status_cmds[] = {"status", "hosts", "leases", "vms", "metrics"};
	for (size_t i = 0; i < sizeof(status_cmds) / sizeof(status_cmds[0]); i++)
		if (strcmp(argv[1], status_cmds[i]) == 0)
			return fl_cli_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return fl_cli_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "exec") == 0)
		return fl_cli_exec(argc - 1, argv + 1);
	if (strcmp(argv[1], "host") == 0 || strcmp(argv[1], "vm") == 0)
		return fl_cli_admin(argc - 1, argv + 1);
	fprintf(stderr, "fencelock: unknown command '%s'; run 'fencelock --help'\n", argv[1]);
	return FL_EXIT_USAGE;
}
