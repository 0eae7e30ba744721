/* `fencelock direct`: the dispatch table's entries. Each command gets its
 * argv with argv[0] = the command name, prints its own --help, and returns
 * an exit code (cli.h). Delta-lease commands live in direct_delta.c; other
 * groups (Paxos leases, ...) add their own file and table entries. */
#ifndef FL_CLI_DIRECT_H
#define FL_CLI_DIRECT_H

#include <stddef.h>
#include <stdint.h>
#include "disklock/layout.h"
#include "plugin/cli/cli.h"

struct fl_direct_cmd {
	const char *name;
	const char *summary;   /* one line for `fencelock direct --help` */
	int (*run)(int argc, char **argv);
};

int fl_direct_init(int argc, char **argv);
int fl_direct_dump(int argc, char **argv);
int fl_direct_read_leader(int argc, char **argv);
int fl_direct_acquire_id(int argc, char **argv);
int fl_direct_renew_id(int argc, char **argv);
int fl_direct_release_id(int argc, char **argv);
int fl_direct_host_status(int argc, char **argv);
int fl_direct_hold_id(int argc, char **argv);

/* Reads the lockspace of the formatted device d (layout l) twice, span_us
 * apart, and lists in out (len bytes, "; "-separated) every host whose delta
 * record was renewed in between and every volume lease one of them holds.
 * Blocks for span_us. Returns how many it found (0: nothing live) or a -FL_E
 * code of a failed read. */
int fl_cli_live_scan(struct fl_cli_dev *d, const struct lay_layout *l, uint64_t span_us, char *out, size_t len);

#endif
