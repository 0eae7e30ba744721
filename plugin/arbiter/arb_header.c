/* The device header, checked again while the daemon runs: every
 * ARB_HEADER_EVERY_US (or R when longer) the header sector is read through
 * the device seam, asynchronously like every other read of the arbiter, and
 * compared with the layout the host started with. Two reads in a row that
 * do not show our cluster (another uuid or cluster name, a header of no
 * cluster, a wiped sector) mean the device is no longer ours: someone
 * formatted it, or a path now leads to another LUN. From then on the host
 * writes nothing to it (the device refuses every write: no renewal, no
 * release, no mailbox, no disk voter), its delta lease counts as invalid, so
 * its VMs are stopped at once and none starts, and it alarms (log at crit,
 * status and metrics). It releases nothing: a lease it cannot see any more
 * it cannot prove it holds, and a write could land in another cluster. Read
 * errors and timeouts prove nothing either way and are left to the renewal. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include "common/assert.h"
#include "common/log.h"
#include "disklock/layout.h"
#include "fencelock/error.h"
#include "plugin/arbiter/arb_internal.h"

#define ARB_HEADER_EVERY_US (2 * FL_US_PER_S)
#define ARB_HEADER_CONFIRM 2u /* reads in a row that must disagree */

int arb_header_init(struct arb *a)
{
	a->hdr.buf = calloc(1, a->cfg.bdev->sector_size);
	return a->hdr.buf != NULL ? 0 : -FL_ENOMEM;
}

void arb_header_free(struct arb *a)
{
	free(a->hdr.buf);
	a->hdr.buf = NULL;
}

/* Why the header just read is not ours, or NULL when it is. */
static const char *hdr_mismatch(const struct arb *a, int rv, const struct lay_layout *l)
{
	if (rv == -FL_ENOENT)
		return "the header sector is all zeros (wiped)";
	if (rv == -FL_EMAGIC)
		return "the header sector holds no fencelock header";
	if (rv != 0)
		return "the header does not decode";
	if (memcmp(l->uuid, a->cfg.layout.uuid, LAY_UUID_LEN) != 0)
		return "the header names another cluster uuid";
	if (strcmp(l->cluster, a->cfg.layout.cluster) != 0)
		return "the header names another cluster";
	return NULL;
}

static void hdr_foreign(struct arb *a, const char *why, const struct lay_layout *l, int rv)
{
	a->hdr.foreign = true;
	a->cfg.bdev->writes_refused = true;
	a->ctr.header_foreign++;
	if (arb_vms_running(a) > 0)
		a->ctr.fences_storage++;
	fl_log(LOG_CRIT, "host %" PRIu64 ": the device header of %s changed under us: %s (now \"%s\", was \"%s\"%s): this "
	       "is not our cluster's device any more; writing nothing to it, stopping every VM here, releasing "
	       "nothing; restart the daemon once the device is right", a->cfg.host_id, a->cfg.bdev->name, why,
	       rv == 0 ? l->cluster : "?", a->cfg.layout.cluster, rv == 0 ? "" : ", no header");
}

static void hdr_read_done(struct fl_io *io, int result)
{
	struct arb *a = io->arg;
	a->hdr.busy = false;
	a->ctr.header_checks++;
	if (result != 0 || a->hdr.foreign)
		return; /* an I/O error proves nothing: the renewal deals with storage */
	struct lay_layout l;
	memset(&l, 0, sizeof(l));
	int rv = lay_header_decode(a->hdr.buf, &l);
	const char *why = hdr_mismatch(a, rv, &l);
	if (why == NULL) {
		a->hdr.bad_reads = 0;
		return;
	}
	if (++a->hdr.bad_reads < ARB_HEADER_CONFIRM) {
		fl_warn("host %" PRIu64 ": device header check: %s; reading it again", a->cfg.host_id, why);
		a->hdr.next_us = 0; /* confirm at the next tick */
		return;
	}
	hdr_foreign(a, why, &l, rv);
}

void arb_header_tick(struct arb *a, uint64_t now)
{
	if (a->hdr.busy || a->hdr.foreign || now < a->hdr.next_us)
		return;
	a->hdr.next_us = now + FL_MAX((uint64_t)ARB_HEADER_EVERY_US, a->cfg.layout.renew_us);
	a->hdr.io = (struct fl_io){.op = FL_IO_READ,
				   .offset = a->cfg.layout.header_offset,
				   .len = a->cfg.bdev->sector_size,
				   .buf = a->hdr.buf,
				   .cb = hdr_read_done,
				   .arg = a};
	a->hdr.busy = fl_bdev_submit(a->cfg.bdev, &a->hdr.io) == 0;
}
