/* Live use of a formatted device, for `fencelock direct format` to refuse to
 * format over a running cluster (which took every host's lease away at once,
 * and no host recovered until restarted by hand).
 *
 * Liveness is judged the way every host judges another: by a delta record
 * whose timestamp changes. The lockspace area is read twice, span_us apart
 * (the caller passes the device's renewal interval R plus one io_timeout, so
 * a host that renews is seen to), and a record whose timestamp moved belongs
 * to a live host. A volume lease is held when its Paxos leader record carries
 * a timestamp and names a live host as owner (a lease whose owner is not live
 * protects nothing). Every live host and held lease is listed in out. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/assert.h"
#include "disklock/layout.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/direct.h"

#define LIVE_BUF_ALIGN 4096u

static void appendf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void appendf(char *out, size_t len, const char *fmt, ...)
{
	size_t used = strlen(out);
	if (used + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out + used, len - used, fmt, ap);
	va_end(ap);
}

/* Marks live[h] for every host whose record changed between a and b. */
static uint32_t live_hosts(const struct lay_layout *l, const uint8_t *a, const uint8_t *b, bool *live, char *out,
			   size_t len)
{
	uint32_t n = 0;
	for (uint32_t h = 1; h <= l->max_hosts; h++) {
		struct fl_leader la, lb;
		const uint8_t *sa = a + (size_t)(h - 1) * l->sector_size, *sb = b + (size_t)(h - 1) * l->sector_size;
		if (fl_leader_decode(sa, FL_DELTA_MAGIC, &la) != 0 || fl_leader_decode(sb, FL_DELTA_MAGIC, &lb) != 0)
			continue;
		if (lb.timestamp == 0 || (lb.timestamp == la.timestamp && lb.owner_generation == la.owner_generation))
			continue;
		char name[FL_NAME_LEN + 1];
		fl_name_get(lb.resource_name, name);
		live[h] = true;
		appendf(out, len, "%shost_id %u (%s, generation %" PRIu64 ") renews its delta lease", n ? "; " : "", h,
			name, lb.owner_generation);
		n++;
	}
	return n;
}

static uint32_t held_slots(struct fl_cli_dev *d, const struct lay_layout *l, const bool *live, uint8_t *sec, char *out,
			   size_t len, uint32_t n)
{
	for (uint32_t s = 0; s < l->volume_slots; s++) {
		struct fl_leader lp;
		if (fl_bdev_read_sync(d->bdev, lay_slot_offset(l, s), sec, l->sector_size) != 0 ||
		    fl_leader_decode(sec, FL_PAXOS_MAGIC, &lp) != 0 || lp.timestamp == 0 || lp.owner_id == 0 ||
		    lp.owner_id > l->max_hosts || !live[lp.owner_id])
			continue;
		char name[FL_NAME_LEN + 1];
		fl_name_get(lp.resource_name, name);
		appendf(out, len, "%svolume lease %s held by host_id %" PRIu64, n ? "; " : "", name, lp.owner_id);
		n++;
	}
	return n;
}

int fl_cli_live_scan(struct fl_cli_dev *d, const struct lay_layout *l, uint64_t span_us, char *out, size_t len)
{
	FL_ASSERT(l->max_hosts >= 1);
	FL_ASSERT(len > 0);
	out[0] = '\0';
	size_t bytes = ((size_t)l->max_hosts * l->sector_size + LIVE_BUF_ALIGN - 1) / LIVE_BUF_ALIGN * LIVE_BUF_ALIGN;
	uint8_t *a = aligned_alloc(LIVE_BUF_ALIGN, bytes), *b = aligned_alloc(LIVE_BUF_ALIGN, bytes);
	uint8_t *sec = aligned_alloc(LIVE_BUF_ALIGN, LIVE_BUF_ALIGN);
	bool *live = calloc((size_t)l->max_hosts + 1u, sizeof(bool));
	int rv = a && b && sec && live ? 0 : -FL_ENOMEM;
	if (rv == 0)
		rv = fl_bdev_read_sync(d->bdev, l->lockspace_offset, a, (uint32_t)bytes);
	if (rv == 0) {
		struct timespec ts = {.tv_sec = (time_t)(span_us / FL_US_PER_S),
				      .tv_nsec = (long)(span_us % FL_US_PER_S) * 1000};
		while (nanosleep(&ts, &ts) != 0) /* the CLI may wait: nothing else runs */
			;
		rv = fl_bdev_read_sync(d->bdev, l->lockspace_offset, b, (uint32_t)bytes);
	}
	if (rv == 0) {
		uint32_t n = live_hosts(l, a, b, live, out, len);
		rv = (int)held_slots(d, l, live, sec, out, len, n);
	}
	free(a);
	free(b);
	free(sec);
	free(live);
	return rv;
}
