/* Exit-code table of the CLI (see cli.h). */
#include "fencelock/error.h"
#include "plugin/cli/cli.h"

const char fl_cli_exit_codes_text[] =
	"exit codes (one table for every command; status and exec add theirs below):\n"
	"  0  success\n"
	"  1  operation failed (I/O error, not quorate, no leader, unexpected state)\n"
	"  2  bad command line, spec string or option\n"
	"  3  host_id or lease held by a live host\n"
	"  4  I/O or the daemon's answer timed out\n"
	"  5  corrupt or foreign on-disk record (bad checksum, magic, version, name)\n"
	"  6  not found: device, path, VM or host; or the device is too small for the layout\n"
	"  7  permission denied\n"
	"  8  the VM is not held on this host (vm release) or still runs elsewhere (vm unregister)\n"
	"  9  fencelockd unreachable (no control socket, nobody listening)\n"
	"  status is a Nagios plugin: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (no usable answer)\n"
	"  exec returns CMD's status (128+N after signal N), or 119..127 if CMD did not run\n"
	"  (fencelock exec --help)\n";

int fl_cli_exit_connect(int rv)
{
	return rv == -FL_EPERM ? FL_EXIT_PERM : FL_EXIT_UNREACHABLE;
}

int fl_cli_exit_for(int rv)
{
	switch (-rv) {
	case 0: return FL_EXIT_OK;
	case FL_EINVAL: case FL_EALIGN: case FL_ESECTOR: return FL_EXIT_USAGE;
	case FL_EBUSY: return FL_EXIT_BUSY;
	case FL_ETIMEDOUT: return FL_EXIT_TIMEOUT;
	case FL_ECHECKSUM: case FL_EMAGIC: case FL_EVERSION: case FL_EFOREIGN: case FL_ECORRUPT:
		return FL_EXIT_CORRUPT;
	case FL_ENOENT: case FL_ETOOSMALL: return FL_EXIT_NOENT;
	case FL_EPERM: return FL_EXIT_PERM;
	case FL_ENOTHELD: return FL_EXIT_NOTHELD;
	default: return FL_EXIT_FAIL;
	}
}
