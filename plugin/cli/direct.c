/* `fencelock direct`: placeholder dispatch until the lockspace commands land. */
#include <stdio.h>
#include "plugin/cli/cli.h"

int fl_cli_direct(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "fencelock direct: no subcommands yet\n");
	return FL_EXIT_USAGE;
}
