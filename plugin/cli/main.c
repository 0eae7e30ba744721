/* fencelock: the command-line tool. Dispatches to command groups; each group
 * lives in its own file (cli_direct_*.c, ...) and registers in cli.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/version.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/ctl_proto.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock [-s|--socket SOCKET] COMMAND [ARGS...]\n"
		"       fencelock --version | --help\n"
		"\n"
		"commands:\n"
		"  direct ...     read and write the shared device without the daemon\n"
		"  status         this host's view of the cluster (Nagios exit codes)\n"
		"  hosts|leases|vms [-o text|wide|json]   tables of the daemon's state\n"
		"  metrics        Prometheus metrics of the daemon\n"
		"  events [--since T] [--host H] [--vm UID] [-o text|json]   the cluster's decision history\n"
		"  exec ... -- CMD ARGS...   run a VM under its volume leases and a guard\n"
		"  host add|remove|forget .. change the cluster's membership\n"
		"  host fence|unfence|drain|undrain HOST   fence a host by hand, or evacuate it\n"
		"  vm inquire|release|unregister|clear UID   administer one VM\n"
		"  vm show UID | vm move UID --to HOST       a VM's record; hand it to another host\n"
		"  quorum [-o text|json]     votes, voters, disk voter, learners, peers (Nagios codes)\n"
		"  quarantine list|clear ... quarantined, drained and fenced hosts, FAILED VMs\n"
		"  leader transfer [--to HOST]   hand Raft leadership to another host\n"
		"  keygen [--key-file PATH] [--force]   create a cluster key (mode 0400)\n"
		"  doctor [--device PATH] [--config PATH]   preflight of this host before it joins\n"
		"  help           this text       version   the version and build (also --version)\n"
		"\n"
		"Run 'fencelock COMMAND --help' for a command's options.\n"
		"-s/--socket SOCKET (or FENCELOCK_SOCKET) names the daemon's control socket.\n"
		"Options: -o/--output is the output format (text, wide, json) wherever it exists;\n"
		"every option has a long form. JSON output carries \"schema_version\" (%d).\n"
		"\n%s", FL_CLI_SCHEMA_VERSION, fl_cli_exit_codes_text);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strncmp(argv[1], "--socket=", 9) == 0) { /* global --socket=SOCKET */
		setenv("FENCELOCK_SOCKET", argv[1] + 9, 1);
		argv[1] = argv[0];
		argc -= 1;
		argv += 1;
	}
	if (argc >= 3 && (strcmp(argv[1], "-s") == 0 || strcmp(argv[1], "--socket") == 0)) { /* global -s SOCKET */
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
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		fl_print_version(stdout, "fencelock");
		printf("control protocol: %d\njson schema_version: %d\n", CTL_PROTO_VERSION, FL_CLI_SCHEMA_VERSION);
		return FL_EXIT_OK;
	}
	if (strcmp(argv[1], "direct") == 0)
		return fl_cli_direct(argc - 1, argv + 1);
	static const char *const status_cmds[] = {"status", "hosts", "leases", "vms", "metrics"};
	for (size_t i = 0; i < sizeof(status_cmds) / sizeof(status_cmds[0]); i++)
		if (strcmp(argv[1], status_cmds[i]) == 0)
			return fl_cli_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "events") == 0)
		return fl_cli_events(argc - 1, argv + 1);
	if (strcmp(argv[1], "doctor") == 0)
		return fl_cli_doctor(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return fl_cli_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "__vm-start") == 0)
		return fl_cli_vm_start(argc - 1, argv + 1);
	if (strcmp(argv[1], "exec") == 0)
		return fl_cli_exec(argc - 1, argv + 1);
	if (fl_cli_ops2_handles(argc - 1, argv + 1))
		return fl_cli_ops2(argc - 1, argv + 1);
	if (strcmp(argv[1], "host") == 0 || strcmp(argv[1], "vm") == 0)
		return fl_cli_admin(argc - 1, argv + 1);
	fprintf(stderr, "fencelock: unknown command '%s'; run 'fencelock --help'\n", argv[1]);
	return FL_EXIT_USAGE;
}
