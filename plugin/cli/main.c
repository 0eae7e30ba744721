/* fencelock: the command-line tool. Dispatches to command groups; each group
 * lives in its own file (cli_direct_*.c, ...) and registers in cli.h. */
#include <stdio.h>
#include <string.h>
#include "plugin/cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock COMMAND [ARGS...]\n"
		"\n"
		"commands:\n"
		"  direct ...     read and write the shared device without the daemon\n"
		"  help           this text\n"
		"\n"
		"Run 'fencelock COMMAND --help' for a command's options.\n"
		"\n%s", fl_cli_exit_codes_text);
}

int main(int argc, char **argv)
{
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
	fprintf(stderr, "fencelock: unknown command '%s'; run 'fencelock --help'\n", argv[1]);
	return FL_EXIT_USAGE;
}
