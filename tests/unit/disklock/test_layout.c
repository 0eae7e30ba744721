/* Unit tests of the device layout: offsets for the defaults, header round
 * trip and corruption, format on the simulated disk (refusal of another
 * cluster's device, too-small device), and the lease areas format writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/crc32c.h"
#include "common/le.h"
#include "common/log.h"
#include "common/simloop.h"
#include "disklock/bdev_sim.h"
#include "disklock/layout.h"
#include "disklock/paxos.h"
#include "fencelock/error.h"

struct fx {
	struct fl_sim sim;
	struct fl_simclock clock;
	struct fl_simdisk disk;
	struct fl_simbdev *dev;
	struct fl_bdev *bdev;
};

static void fx_init_ss(struct fx *f, uint64_t size, uint32_t sector_size)
{
	fl_log_set_level(LOG_CRIT);
	assert_int_equal(fl_sim_init(&f->sim, 1), 0);
	assert_int_equal(fl_simclock_init(&f->clock, &f->sim, 0, 0), 0);
	assert_int_equal(fl_simdisk_init(&f->disk, &f->sim, size, sector_size), 0);
	f->dev = fl_simbdev_new(&f->disk, &f->clock.base, "sim", 1);
	f->bdev = fl_simbdev_bdev(f->dev);
}

static void fx_init(struct fx *f, uint64_t size) { fx_init_ss(f, size, 512); }

static void fx_free(struct fx *f)
{
	fl_bdev_close(f->bdev);
	fl_simdisk_free(&f->disk);
	fl_simclock_free(&f->clock);
	fl_sim_free(&f->sim);
}

static void params(struct lay_params *p, const char *cluster, uint32_t hosts, uint32_t slots)
{
	memset(p, 0, sizeof(*p));
	p->cluster = cluster;
	p->io_timeout_ms = 1000;
	p->max_hosts = hosts;
	p->volume_slots = slots;
	p->sector_size = 512;
	p->uuid[0] = 0xab;
}

static void default_layout_has_documented_offsets_and_size(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l;
	char err[128];
	params(&p, "c1", LAY_DEFAULT_MAX_HOSTS, LAY_DEFAULT_VOLUME_SLOTS);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	assert_true(l.header_offset == 1u << 20 && l.mailbox_offset == 2u << 20);
	assert_true(l.mailbox_bytes == 129 * 512);
	assert_true(l.witness_offset == 7u << 20); /* 64 x 64.5 KiB of mailboxes = 4.03 MiB, rounded up */
	assert_true(l.voter_offset == 8u << 20 && l.slots_offset == 16u << 20);
	assert_true(l.total_bytes == (16u + 128u) << 20);
	assert_true(l.dead_us == 6000000 && l.renew_us == 1000000);
}

static void header_round_trips_and_a_flipped_bit_is_a_checksum_error(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l, m;
	char err[128];
	uint8_t s[512];
	params(&p, "prod", 8, 4);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	lay_header_encode(&l, s, 512);
	assert_int_equal(lay_header_decode(s, &m), 0);
	assert_string_equal(m.cluster, "prod");
	assert_true(m.slots_offset == l.slots_offset && m.total_bytes == l.total_bytes && m.uuid[0] == 0xab);
	s[100] ^= 1;
	assert_int_equal(lay_header_decode(s, &m), -FL_ECHECKSUM);
	memset(s, 0, sizeof(s));
	assert_int_equal(lay_header_decode(s, &m), -FL_ENOENT);
}

/* Re-seals a header sector after a test edited it (a tool that writes a
 * valid CRC over whatever it likes). */
static void reseal(uint8_t *s) { fl_put_le32(s + LAY_HEADER_CSUM_LEN, fl_crc32c_std(s, LAY_HEADER_CSUM_LEN)); }

/* Offsets in the header sector: whole seconds at 12, milliseconds at 216. */
#define HDR_IO_S 12
#define HDR_IO_MS 216

static void a_sub_second_header_round_trips_and_old_readers_see_seconds(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l, m;
	char err[200];
	uint8_t s[512];
	params(&p, "fast", 8, 4);
	p.io_timeout_ms = 500;
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	assert_true(l.renew_us == 500000u && l.fail_us == 2000000u && l.dead_us == 3000000u);
	lay_header_encode(&l, s, 512);
	assert_int_equal(fl_get_le32(s + HDR_IO_S), 1); /* rounded up for older readers */
	assert_int_equal(fl_get_le64(s + HDR_IO_MS), 500);
	assert_int_equal(lay_header_decode(s, &m), 0);
	assert_int_equal(m.io_timeout_ms, 500);
	assert_true(m.dead_us == 3000000u);
}

static void a_header_without_milliseconds_still_loads(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l, m;
	char err[200];
	uint8_t s[512];
	params(&p, "old", 8, 4);
	p.io_timeout_ms = 2000;
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	lay_header_encode(&l, s, 512);
	/* What a header written before T had milliseconds holds: 0 there. */
	fl_put_le64(s + HDR_IO_MS, 0);
	reseal(s);
	assert_int_equal(lay_header_decode(s, &m), 0);
	assert_int_equal(m.io_timeout_ms, 2000);
	assert_true(m.fail_us == 8000000u);
}

static void hostile_header_timeouts_are_corrupt(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l, m;
	char err[200];
	uint8_t s[512];
	params(&p, "evil", 8, 4);
	p.io_timeout_ms = 500;
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	static const struct {
		uint32_t sec;
		uint64_t ms;
	} bad[] = {
		{1, 99},		  /* below 100 ms */
		{2, 500},		  /* seconds that are not the ms rounded up */
		{0, 500},		  /* no seconds */
		{0, 0},			  /* nothing at all */
		{301, 0},		  /* an old header above 300 s */
		{66, 65536},		  /* fractional above 16 bits */
		{1, 1ull << 40},	  /* huge */
		{UINT32_MAX, UINT64_MAX}, /* garbage */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lay_header_encode(&l, s, 512);
		fl_put_le32(s + HDR_IO_S, bad[i].sec);
		fl_put_le64(s + HDR_IO_MS, bad[i].ms);
		reseal(s);
		assert_int_equal(lay_header_decode(s, &m), -FL_ECORRUPT);
	}
	/* Consistent T fields, but derived timers of another T: corrupt too. */
	lay_header_encode(&l, s, 512);
	fl_put_le32(s + HDR_IO_S, 1);
	fl_put_le64(s + HDR_IO_MS, 250);
	reseal(s);
	assert_int_equal(lay_header_decode(s, &m), -FL_ECORRUPT);
	/* lay_compute refuses what the header would refuse. */
	static const uint32_t bad_ms[] = {0, 99, 65536, 300001, 301000, UINT32_MAX};
	for (size_t i = 0; i < sizeof(bad_ms) / sizeof(bad_ms[0]); i++) {
		p.io_timeout_ms = bad_ms[i];
		assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), -FL_EINVAL);
		assert_non_null(strstr(err, "io_timeout"));
	}
}

static void bad_parameters_are_refused_with_a_reason(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l;
	char err[128] = "";
	params(&p, "", 8, 4);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "cluster"));
	params(&p, "c", 0, 4);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), -FL_EINVAL);
}

static void format_writes_a_readable_header_and_free_leases(void **state)
{
	(void)state;
	struct fx f;
	struct lay_params p;
	struct lay_layout l, m;
	char err[160];
	params(&p, "c1", 8, 4);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	fx_init(&f, l.total_bytes);
	assert_int_equal(lay_format_sync(f.bdev, &l, false, err, sizeof(err)), 0);
	assert_int_equal(lay_read_sync(f.bdev, &m), 0);
	assert_true(m.witness_offset == l.witness_offset);
	struct fl_leader ld;
	assert_int_equal(fl_leader_decode(f.disk.data + l.lockspace_offset, FL_DELTA_MAGIC, &ld), 0);
	assert_int_equal(fl_leader_decode(f.disk.data + l.witness_offset, FL_PAXOS_MAGIC, &ld), 0);
	assert_true(ld.num_hosts == 8 && ld.timestamp == 0);
	assert_int_equal(fl_leader_decode(f.disk.data + lay_slot_offset(&l, 3), FL_PAXOS_MAGIC, &ld), 0);
	char name[FL_NAME_LEN + 1];
	fl_name_get(ld.resource_name, name);
	assert_string_equal(name, "slot-3");
	fx_free(&f);
}

static void format_with_4k_sectors_writes_a_sane_voter_header(void **state)
{
	(void)state;
	struct fx f;
	struct lay_params p;
	struct lay_layout l;
	struct lay_voter_header v;
	char err[160];
	params(&p, "c4k", 8, 2);
	p.sector_size = 4096;
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	fx_init_ss(&f, l.total_bytes, 4096);
	assert_int_equal(lay_format_sync(f.bdev, &l, false, err, sizeof(err)), 0);
	assert_int_equal(lay_voter_decode(f.disk.data + l.voter_offset, &v), 0);
	/* Every region inside the area, whatever the align size (8 MiB here). */
	assert_true(l.align_bytes == 8u << 20);
	/* Each field on its own: a sum could wrap around. */
	assert_true(v.ring_offset < v.snap_offset && v.ring_bytes > 0 && v.ring_bytes < l.voter_bytes);
	assert_true(v.ring_offset + v.ring_bytes <= v.snap_offset);
	assert_true(v.snap_offset + v.snap_bytes <= l.voter_bytes);
	fx_free(&f);
}

static void format_refuses_another_clusters_device_unless_forced(void **state)
{
	(void)state;
	struct fx f;
	struct lay_params p;
	struct lay_layout a, b;
	char err[160];
	params(&p, "alpha", 4, 2);
	assert_int_equal(lay_compute(&p, &a, err, sizeof(err)), 0);
	params(&p, "beta", 4, 2);
	assert_int_equal(lay_compute(&p, &b, err, sizeof(err)), 0);
	fx_init(&f, a.total_bytes);
	assert_int_equal(lay_format_sync(f.bdev, &a, false, err, sizeof(err)), 0);
	assert_int_equal(lay_format_sync(f.bdev, &b, false, err, sizeof(err)), -FL_EFOREIGN);
	assert_non_null(strstr(err, "alpha"));
	assert_int_equal(lay_format_sync(f.bdev, &a, false, err, sizeof(err)), 0); /* same cluster: fine */
	assert_int_equal(lay_format_sync(f.bdev, &b, true, err, sizeof(err)), 0);
	fx_free(&f);
}

static void format_of_a_too_small_device_names_the_needed_size(void **state)
{
	(void)state;
	struct fx f;
	struct lay_params p;
	struct lay_layout l;
	char err[160];
	params(&p, "c1", 4, 8);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	fx_init(&f, 4u << 20);
	assert_int_equal(lay_format_sync(f.bdev, &l, false, err, sizeof(err)), -FL_ETOOSMALL);
	assert_non_null(strstr(err, "needs"));
	fx_free(&f);
}

/* Re-encodes the header in sector s with its CRC made valid again. */
static void rewrite_crc(uint8_t *s)
{
	fl_put_le32(s + LAY_HEADER_CSUM_LEN, fl_crc32c_std(s, LAY_HEADER_CSUM_LEN));
}

/* Found by the layout fuzz target: a header whose CRC checks but whose
 * offsets, timeouts or parameters are not a layout lay_compute() gives was
 * accepted, and would have sent every host's I/O where no format wrote. */
static void a_header_with_a_valid_crc_but_foreign_offsets_is_corrupt(void **state)
{
	(void)state;
	struct lay_params p;
	struct lay_layout l, out;
	char err[128];
	params(&p, "c1", 4, 8);
	assert_int_equal(lay_compute(&p, &l, err, sizeof(err)), 0);
	uint8_t s[512];
	/* The mailbox offset moved into the lockspace (bytes 96 + 8 * 7). */
	lay_header_encode(&l, s, sizeof(s));
	fl_put_le64(s + 96 + 8 * 7, 0);
	rewrite_crc(s);
	assert_int_equal(lay_header_decode(s, &out), -FL_ECORRUPT);
	/* An I/O timeout of 0 s (bytes 12..15), with the derived timeouts left alone. */
	lay_header_encode(&l, s, sizeof(s));
	fl_put_le32(s + 12, 0);
	rewrite_crc(s);
	assert_int_equal(lay_header_decode(s, &out), -FL_ECORRUPT);
	/* An empty cluster name. */
	lay_header_encode(&l, s, sizeof(s));
	memset(s + 32, 0, FL_NAME_LEN);
	rewrite_crc(s);
	assert_int_equal(lay_header_decode(s, &out), -FL_ECORRUPT);
	/* The untouched header still decodes. */
	lay_header_encode(&l, s, sizeof(s));
	assert_int_equal(lay_header_decode(s, &out), 0);
	assert_int_equal(out.mailbox_offset, l.mailbox_offset);
}

static void voter_header_round_trips(void **state)
{
	(void)state;
	struct lay_voter_header v = {.term = 7, .vote = 3, .ring_offset = 1 << 20, .snap_index = 99}, w;
	uint8_t s[512];
	lay_voter_encode(&v, s, 512);
	assert_int_equal(lay_voter_decode(s, &w), 0);
	assert_true(w.term == 7 && w.vote == 3 && w.snap_index == 99);
	s[9] ^= 2;
	assert_int_equal(lay_voter_decode(s, &w), -FL_ECHECKSUM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_layout_has_documented_offsets_and_size),
		cmocka_unit_test(header_round_trips_and_a_flipped_bit_is_a_checksum_error),
		cmocka_unit_test(bad_parameters_are_refused_with_a_reason),
		cmocka_unit_test(a_sub_second_header_round_trips_and_old_readers_see_seconds),
		cmocka_unit_test(a_header_without_milliseconds_still_loads),
		cmocka_unit_test(hostile_header_timeouts_are_corrupt),
		cmocka_unit_test(format_writes_a_readable_header_and_free_leases),
		cmocka_unit_test(format_with_4k_sectors_writes_a_sane_voter_header),
		cmocka_unit_test(format_refuses_another_clusters_device_unless_forced),
		cmocka_unit_test(format_of_a_too_small_device_names_the_needed_size),
		cmocka_unit_test(a_header_with_a_valid_crc_but_foreign_offsets_is_corrupt),
		cmocka_unit_test(voter_header_round_trips),
	};
	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
