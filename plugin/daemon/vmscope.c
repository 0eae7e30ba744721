/* The transient systemd scope of a VM the daemon starts itself (a re-run or
 * recover_command, plugin/daemon/vmrt.c): under systemd as PID 1 the command
 * runs as `systemd-run --scope --slice=machine.slice --unit=fencelock-vm-...
 * -- COMMAND`, which asks systemd for a scope unit, moves itself into it and
 * execs COMMAND in place (same pid, cwd, descriptors and environment). So the
 * VM leaves fencelockd.service's cgroup: it is accounted, limited and
 * stopped as a unit of its own, and a stop or crash of the daemon's unit
 * cannot take it along. The process attributes of an ordinary process
 * (session, nice 0, OOM score 0, I/O class from nice, SCHED_OTHER) are set
 * by vmrt.c's child before exec. Without systemd as PID 1 (a container, a
 * test host) or without systemd-run, commands run as they are; the daemon
 * says so once at start. FENCELOCK_SYSTEMD_RUN=/path names another
 * systemd-run (and skips the PID 1 check): the tests' stand-in. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/assert.h"
#include "common/log.h"
#include "plugin/daemon/daemon.h"

static char g_systemd_run[64]; /* "" when commands run without a scope */
static uint64_t g_scopes;
/* What vmscope_init found, logged by vmscope_log once the daemon has started
 * (a daemon refusing its configuration prints one line: the reason). */
static char g_found[160];
static bool g_found_warn;

void vmscope_init(void)
{
	static const char *const paths[] = {"/usr/bin/systemd-run", "/bin/systemd-run"};
	struct stat st;
	const char *given = getenv("FENCELOCK_SYSTEMD_RUN");
	g_systemd_run[0] = '\0';
	g_found_warn = false;
	/* A stand-in for tests (and hosts with systemd-run elsewhere). */
	if (given != NULL && given[0] == '/' && strlen(given) < sizeof(g_systemd_run)) {
		snprintf(g_systemd_run, sizeof(g_systemd_run), "%s", given);
		snprintf(g_found, sizeof(g_found), "VMs this daemon starts run in transient scopes (%s --scope, FENCELOCK_SYSTEMD_RUN)",
			 given);
		return;
	}
	/* sd_booted(): systemd is PID 1 iff /run/systemd/system is a directory. */
	if (stat("/run/systemd/system", &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(g_found, sizeof(g_found), "systemd is not PID 1: VMs this daemon starts run without a scope of their own");
		return;
	}
	for (size_t i = 0; i < FL_ARRAY_SIZE(paths); i++) {
		if (access(paths[i], X_OK) == 0) {
			snprintf(g_systemd_run, sizeof(g_systemd_run), "%s", paths[i]);
			snprintf(g_found, sizeof(g_found), "VMs this daemon starts run in transient scopes (%s --scope, machine.slice)",
				 paths[i]);
			return;
		}
	}
	snprintf(g_found, sizeof(g_found), "systemd is PID 1 but systemd-run is missing: VMs this daemon starts stay in its own cgroup");
	g_found_warn = true;
}

void vmscope_log(void)
{
	if (g_found_warn)
		fl_warn("%s", g_found);
	else
		fl_info("%s", g_found);
}

char *const *vmscope_wrap(const char *uid, char *const argv[], char *out[], size_t n, struct vmscope_names *names)
{
	static char scope[] = "--scope", quiet[] = "--quiet", collect[] = "--collect", slice[] = "--slice=machine.slice",
		    dashes[] = "--";
	FL_ASSERT(uid != NULL);
	FL_ASSERT(argv != NULL);
	size_t argc = 0;
	while (argv[argc] != NULL)
		argc++;
	if (g_systemd_run[0] == '\0' || argc + 9 > n)
		return argv;
	/* Unique within this daemon's life (pid) and among its starts. */
	snprintf(names->unit, sizeof(names->unit), "--unit=fencelock-vm-%s-%d-%llu", uid, (int)getpid(),
		 (unsigned long long)++g_scopes);
	snprintf(names->desc, sizeof(names->desc), "--description=fencelock VM %s", uid);
	char *head[] = {g_systemd_run, scope, quiet, collect, slice, names->unit, names->desc, dashes};
	size_t k = 0;
	for (size_t i = 0; i < FL_ARRAY_SIZE(head); i++)
		out[k++] = head[i];
	for (size_t i = 0; i < argc; i++)
		out[k++] = argv[i];
	out[k] = NULL;
	FL_ASSERT(k < n);
	return out;
}
