/* The simulated shared disk and per-host handles onto it.
 *
 * One struct fl_simdisk is the shared device: bytes in memory, a sector size,
 * and its own never-paused clock on the simulated world. Each host opens a
 * struct fl_simbdev onto it: an fl_bdev whose I/O lands on the disk after a
 * simulated latency (on the disk's clock, so a write lands even while the
 * issuing host is paused) and whose completion is delivered on the host's
 * loop. Faults are set per handle at any time:
 *   - latency range;
 *   - stalled: I/O is accepted but not performed until unstalled, while its
 *     deadline still fires (the timed-out write may land later, as on a SAN);
 *   - error_permille: each I/O fails with -FL_EIO with this probability;
 *   - torn_permille: each write lands only partly (a random byte prefix,
 *     usually ending mid-sector) and reports -FL_EIO;
 *   - offline: every I/O fails with -FL_EIO.
 * fl_simbdev_crash() models the host dying: its in-flight writes land whole,
 * torn or not at all, by the handle's seeded randomness, and no callback runs. */
#ifndef FL_BDEV_SIM_H
#define FL_BDEV_SIM_H

#include "common/must_check.h"
#include "common/simloop.h"
#include "disklock/bdev.h"

struct fl_simdisk {
	uint8_t *data;
	uint64_t size_bytes;
	uint32_t sector_size;
	struct fl_simclock clock;  /* the disk's own clock: never paused */
	uint64_t writes_applied;
};

struct fl_simbdev_faults {
	uint64_t latency_min_us, latency_max_us;
	bool stalled;
	bool offline;
	uint32_t error_permille;
	uint32_t torn_permille;
};

struct fl_simbdev;

FL_MUST_CHECK int fl_simdisk_init(struct fl_simdisk *disk, struct fl_sim *sim, uint64_t size_bytes, uint32_t sector_size);
void fl_simdisk_free(struct fl_simdisk *disk);

/* Opens a handle for one host; loop is that host's clock. seed makes its
 * latency and fault draws reproducible. */
struct fl_simbdev *fl_simbdev_new(struct fl_simdisk *disk, struct fl_loop *host_loop, const char *name,
				  uint64_t seed);
struct fl_bdev *fl_simbdev_bdev(struct fl_simbdev *b);
struct fl_simbdev_faults *fl_simbdev_faults(struct fl_simbdev *b);
/* Sets stalled=false and releases the held I/O. */
void fl_simbdev_unstall(struct fl_simbdev *b);
/* The host dies: in-flight I/O is resolved as described above, callbacks are dropped. */
void fl_simbdev_crash(struct fl_simbdev *b);
/* Number of I/Os accepted and not yet performed on the disk. */
uint32_t fl_simbdev_inflight(const struct fl_simbdev *b);

#endif
