/* Daemon-facing commands of the fencelock CLI: the status tools
 * (cmd_status.c), the administrative ops (cmd_admin.c) and the VM lifecycle
 * wrapper (cmd_exec.c). Each takes the
 * argv that starts with its own command name and returns the exit code. */
#ifndef FL_CLI_CMD_OPS_H
#define FL_CLI_CMD_OPS_H

/* Nagios plugin exit codes of `fencelock status`. */
enum fl_nagios {
	FL_NAGIOS_OK = 0,
	FL_NAGIOS_WARNING = 1,
	FL_NAGIOS_CRITICAL = 2,
	FL_NAGIOS_UNKNOWN = 3,
};

/* Exit codes of `fencelock exec` when CMD did not run (chosen above the
 * codes a VMM commonly uses, in the range env(1) and timeout(1) use). */
enum fl_exec_exit {
	FL_EXEC_EXIT_RETRY = 119,       /* transient: daemon busy or no free control slot past --wait */
	FL_EXEC_EXIT_UNREACHABLE = 120, /* daemon unreachable, or protocol failure */
	FL_EXEC_EXIT_BUSY = 121,        /* a volume lease is held by another host */
	FL_EXEC_EXIT_NOTQUORATE = 122,  /* this host is not quorate */
	FL_EXEC_EXIT_PERM = 123,        /* the daemon refused our credentials */
	FL_EXEC_EXIT_REFUSED = 124,     /* any other refusal or guard failure */
	FL_EXEC_EXIT_USAGE = 125,       /* bad command line, spec or VM config */
	FL_EXEC_EXIT_NOEXEC = 126,      /* CMD found but not executable */
	FL_EXEC_EXIT_NOTFOUND = 127,    /* CMD not found */
};

/* `fencelock __vm-start ...`: what fencelockd's child of a VM start execs
 * first (cmd_vmstart.c); argv[0] is "__vm-start". Returns only on a usage
 * error. */
int fl_cli_vm_start(int argc, char **argv);

/* `fencelock status|hosts|leases|vms|metrics [-o text|json] [-s SOCKET]`;
 * argv[0] is the command name. */
int fl_cli_status(int argc, char **argv);

/* `fencelock host add|remove ...` and `fencelock vm inquire|release|unregister
 * UID`; argv[0] is "host" or "vm". The socket comes from FENCELOCK_SOCKET
 * (main() sets it from the global -s). */
int fl_cli_admin(int argc, char **argv);

/* `fencelock keygen [--output PATH] [--force]`: writes a new cluster key
 * (32 random bytes, mode 0400), never over an existing file without
 * --force; argv[0] is "keygen". Returns the exit code. */
int fl_cli_keygen(int argc, char **argv);

/* `fencelock doctor [--device PATH] [--config PATH] [--io-timeout MS]`: the
 * preflight of a host (cmd_doctor.c); argv[0] is "doctor". */
int fl_cli_doctor(int argc, char **argv);

/* `fencelock exec ... -- CMD ARGS...`; argv[0] is "exec". */
int fl_cli_exec(int argc, char **argv);

/* `fencelock events [--since T] [--host H] [--vm UID] [-o text|json]`
 * (cmd_events.c); argv[0] is "events". */
int fl_cli_events(int argc, char **argv);
/* The quorum view and the operator's commands (cmd_ops2.c): `quorum`,
 * `quarantine list|clear`, `vm show|move`, `host fence|unfence|drain|undrain`,
 * `leader transfer`. fl_cli_ops2_handles() says whether argv (argv[0] the
 * command group) is one of them. */
#include <stdbool.h>
bool fl_cli_ops2_handles(int argc, char **argv);
int fl_cli_ops2(int argc, char **argv);

#endif
