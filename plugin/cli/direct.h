/* `fencelock direct`: the dispatch table's entries. Each command gets its
 * argv with argv[0] = the command name, prints its own --help, and returns
 * an exit code (cli.h). Delta-lease commands live in direct_delta.c; other
 * groups (Paxos leases, ...) add their own file and table entries. */
#ifndef FL_CLI_DIRECT_H
#define FL_CLI_DIRECT_H

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

#endif
