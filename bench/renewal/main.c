/* fl-bench-renewal: bytes read and written by one delta-lease renewal with
 * N hosts in use, on the simulated disk (I/O is counted by the block-device
 * seam, so the numbers are exact), printed next to sanlock's, which reads the
 * whole 1 MiB align area on every renewal. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "disklock/bdev_sim.h"
#include "disklock/lockspace.h"
#include "common/version.h"

static int acquired;

static void on_event(struct ls_lockspace *ls, enum ls_event ev, int result, void *arg)
{
	(void)ls;
	(void)arg;
	if (ev == LS_EV_ACQUIRED && result == 0)
		acquired = 1;
}

/* Renews once with `in_use` other hosts holding ids 2..in_use+1; returns
 * the bytes read and written by that renewal. */
/* A set-up step that cannot fail on a simulated disk; if it does, the
 * numbers would be meaningless: stop. */
static void must(int rv, const char *what)
{
	if (rv != 0) {
		fprintf(stderr, "fl-bench-renewal: %s failed: %d\n", what, rv);
		exit(1);
	}
}

static void measure(uint32_t in_use, uint64_t *rd, uint64_t *wr)
{
	struct fl_sim sim;
	struct fl_simdisk disk;
	struct fl_simclock clock;
	fl_sim_init(&sim, 1);
	must(fl_simdisk_init(&disk, &sim, 1u << 20, 512), "simulated disk");
	fl_simclock_init(&clock, &sim, 5000000, 0);
	struct fl_simbdev *sb = fl_simbdev_new(&disk, &clock.base, "bench", 1);
	struct fl_bdev *dev = fl_simbdev_bdev(sb);
	struct ls_config cfg = {.space_name = "LS", .host_id = 1, .host_name = "h1", .io_timeout_ms = 1000,
				.align_bytes = 1u << 20};
	struct ls_lockspace *ls;
	must(ls_new(&clock.base, dev, &cfg, on_event, NULL, &ls), "ls_new");
	must(ls_format(ls), "ls_format");
	fl_sim_run_until(&sim, sim.now_us + 1000000);
	for (uint32_t h = 2; h <= in_use + 1 && h <= 2000; h++) {
		struct fl_leader l;
		ls_record_init_ms(&l, "LS", 512, 1u << 20, 1000);
		l.owner_id = h;
		l.owner_generation = 1;
		l.timestamp = 100;
		snprintf(l.resource_name, sizeof(l.resource_name), "h%u", h);
		ls_record_encode_sector(&l, disk.data + (uint64_t)(h - 1) * 512, 512);
	}
	acquired = 0;
	must(ls_acquire(ls), "ls_acquire");
	fl_sim_run_until(&sim, sim.now_us + 5000000); /* acquire, then renewals every second */
	struct fl_bdev_stats before = dev->stats;
	fl_sim_run_until(&sim, sim.now_us + 1000000); /* exactly one more renewal (R = 1 s) */
	*rd = dev->stats.bytes_read - before.bytes_read;
	*wr = dev->stats.bytes_written - before.bytes_written;
	if (!acquired)
		fprintf(stderr, "fl-bench-renewal: acquire failed\n");
	ls_free(ls);
	fl_bdev_close(dev);
	fl_simclock_free(&clock);
	fl_simdisk_free(&disk);
	fl_sim_free(&sim);
}

/* Usage: fl-bench-renewal [CSV]: the table on stdout, and with CSV the same
 * numbers as "hosts,fl_read,fl_write,sanlock_read" lines for the plot. */
int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "fl-bench-renewal");
	fl_log_set_level(LOG_ERR);
	FILE *csv = NULL;
	if (argc > 1) {
		csv = fopen(argv[1], "w");
		if (csv == NULL) {
			perror(argv[1]);
			return 1;
		}
	}
	printf("%-14s %14s %14s %18s %8s\n", "hosts in use", "fl read B", "fl write B", "sanlock read B", "ratio");
	uint32_t cases[] = {2, 3, 8, 16, 32, 64, 128, 512, 2000};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t rd, wr;
		measure(cases[i] - 1, &rd, &wr);
		printf("%-14u %14" PRIu64 " %14" PRIu64 " %18u %8.3f\n", cases[i], rd, wr, 1u << 20,
		       (double)rd / (1u << 20));
		if (csv != NULL)
			fprintf(csv, "%u,%" PRIu64 ",%" PRIu64 ",%u\n", cases[i], rd, wr, 1u << 20);
	}
	if (csv != NULL && fclose(csv) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
