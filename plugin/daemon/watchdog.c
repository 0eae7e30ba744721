/* fencelockd's hardware (or softdog) watchdog: the last line behind the
 * per-VM guards.
 *
 * When configured (`watchdog = auto` and /dev/watchdog exists, or an explicit
 * device), the daemon opens it at start with a timeout of F and pets it only
 * after a good renewal of its delta lease, the same moment the guards'
 * deadlines move. A daemon that hangs, is stopped or dies stops petting, and
 * the watchdog resets the host about F after the last good renewal's end,
 * which is before D = F + K + M after its start, when others may take the
 * host's leases. A clean stop disarms it (the magic close); a crash leaves it
 * armed, so a dead daemon's host resets unless a new instance takes over the
 * device and pets it within F. */
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "common/log.h"
#include "plugin/daemon/daemon.h"

int fld_watchdog_open(struct fld *d, char *err, size_t errlen)
{
	const char *path = d->cfg.watchdog_device[0] ? d->cfg.watchdog_device : "/dev/watchdog";
	d->wd_fd = -1;
	if (d->cfg.watchdog == CFG_WATCHDOG_OFF)
		return 0;
	if (d->cfg.watchdog == CFG_WATCHDOG_AUTO && access(path, F_OK) != 0) {
		d->wd_auto_missing = true; /* said once started (fld_watchdog_warn): a refused start stays one line */
		return 0;
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: [host] watchdog: cannot open %s: %s", d->config_path, path, strerror(errno));
		return -1;
	}
	int timeout_s = (int)(d->layout.fail_us / FL_US_PER_S);
	if (ioctl(fd, WDIOC_SETTIMEOUT, &timeout_s) != 0) {
		int e = errno;
		/* Not a watchdog: close without arming anything (no magic needed). */
		close(fd);
		snprintf(err, errlen, "%s: [host] watchdog: %s is not a watchdog device (%s); set watchdog = off or "
			 "name the right device", d->config_path, path, strerror(e));
		return -1;
	}
	d->wd_fd = fd;
	fl_notice("watchdog %s armed: it resets this host %d s after the last good renewal", path, timeout_s);
	return 0;
}

void fld_watchdog_pet(struct fld *d)
{
	if (d->wd_fd >= 0 && ioctl(d->wd_fd, WDIOC_KEEPALIVE, 0) != 0)
		fl_warn("watchdog keepalive failed: %s", strerror(errno));
}

void fld_watchdog_close(struct fld *d)
{
	if (d->wd_fd < 0)
		return;
	/* The magic close: a clean stop disarms it (the guards stay in charge). */
	if (write(d->wd_fd, "V", 1) != 1)
		fl_warn("watchdog magic close failed: %s; it stays armed", strerror(errno));
	close(d->wd_fd);
	d->wd_fd = -1;
}

void fld_watchdog_warn(const struct fld *d)
{
	if (d->wd_auto_missing)
		fl_warn("WARNING: watchdog = auto but there is no /dev/watchdog: this host runs WITHOUT a hardware "
			"watchdog, so a hung kernel is not reset before other hosts take its VMs' leases; load a watchdog "
			"driver (e.g. modprobe softdog, or the board's) or set [host] watchdog = off to say this is meant");
}
