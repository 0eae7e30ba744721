/* Internal interface of the fencelock CLI: exit codes and command groups. */
#ifndef FL_CLI_H
#define FL_CLI_H

/* Exit codes, documented in `fencelock --help` and the README. */
enum fl_exit {
	FL_EXIT_OK = 0,
	FL_EXIT_FAIL = 1,       /* operation failed (I/O error, corrupt record, ...) */
	FL_EXIT_USAGE = 2,      /* bad command line or spec */
	FL_EXIT_BUSY = 3,       /* host_id or lease held by a live host */
	FL_EXIT_TIMEOUT = 4,    /* I/O timed out */
	FL_EXIT_CORRUPT = 5,    /* corrupt or foreign on-disk record */
	FL_EXIT_NOENT = 6,      /* device or path missing, or too small */
	FL_EXIT_PERM = 7,       /* permission denied */
};

extern const char fl_cli_exit_codes_text[];

/* Maps a -FL_E code to an exit code. */
int fl_cli_exit_for(int rv);

/* `fencelock direct ...`: argv[0] is "direct". */
int fl_cli_direct(int argc, char **argv);

#endif
