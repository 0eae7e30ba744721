/* Unit tests of the sanlock-format encoding, pinned to a record that
 * sanlock 3.8.5 itself wrote (`sanlock direct acquire_id -s LS:1:...`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "disklock/ondisk.h"
#include "fencelock/error.h"

static const uint8_t sanlock_delta_host1[200] = {
	0x10, 0x20, 0x21, 0x12, 0x04, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4c, 0x53, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x64, 0x33, 0x64,
	0x61, 0x66, 0x35, 0x30, 0x2d, 0x34, 0x61, 0x64, 0x36, 0x2d, 0x34, 0x64,
	0x34, 0x37, 0x2d, 0x61, 0x62, 0x38, 0x34, 0x2d, 0x30, 0x34, 0x36, 0x30,
	0x34, 0x32, 0x35, 0x37, 0x37, 0x63, 0x37, 0x33, 0x2e, 0x76, 0x6d, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x43, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x93, 0xf2, 0xc0, 0x96, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void decodes_a_record_written_by_sanlock(void **state)
{
	(void)state;
	struct fl_leader l;
	char name[FL_NAME_LEN + 1];
	assert_int_equal(fl_leader_decode(sanlock_delta_host1, FL_DELTA_MAGIC, &l), 0);
	assert_int_equal(l.magic, FL_DELTA_MAGIC);
	assert_int_equal(l.version, FL_DELTA_VERSION);
	assert_int_equal(l.flags, FL_LFL_ALIGN_1M);
	assert_int_equal(l.sector_size, 512);
	assert_true(l.owner_id == 1 && l.owner_generation == 1);
	assert_true(l.timestamp == 0x43);
	assert_int_equal(l.checksum, 0x96c0f293u);
	assert_int_equal(l.io_timeout, 1);
	fl_name_get(l.space_name, name);
	assert_string_equal(name, "LS");
	fl_name_get(l.resource_name, name);
	assert_string_equal(name, "0d3daf50-4ad6-4d47-ab84-046042577c73.vm");
	assert_false(fl_mark_valid(&l));
}

static void reencoding_reproduces_sanlocks_bytes(void **state)
{
	(void)state;
	struct fl_leader l;
	uint8_t buf[FL_LEADER_SIZE];
	fl_leader_decode_raw(sanlock_delta_host1, &l);
	l.checksum = 0;
	fl_leader_encode(&l, buf);
	assert_memory_equal(buf, sanlock_delta_host1, FL_LEADER_SIZE);
}

static void a_flipped_bit_is_a_checksum_error_never_free(void **state)
{
	(void)state;
	struct fl_leader l;
	uint8_t buf[FL_LEADER_SIZE];
	for (size_t byte = 0; byte < FL_LEADER_CSUM_LEN; byte++) {
		memcpy(buf, sanlock_delta_host1, sizeof(buf));
		buf[byte] ^= 0x04;
		assert_int_equal(fl_leader_decode(buf, FL_DELTA_MAGIC, &l), -FL_ECHECKSUM);
	}
}

static void wrong_magic_and_version_are_refused(void **state)
{
	(void)state;
	struct fl_leader l;
	uint8_t buf[FL_LEADER_SIZE];
	assert_int_equal(fl_leader_decode(sanlock_delta_host1, FL_PAXOS_MAGIC, &l), -FL_EMAGIC);
	fl_leader_decode_raw(sanlock_delta_host1, &l);
	l.version = 0x00040001;
	fl_leader_encode(&l, buf);
	assert_int_equal(fl_leader_decode(buf, FL_DELTA_MAGIC, &l), -FL_EVERSION);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fl_leader_decode(buf, FL_DELTA_MAGIC, &l), -FL_EMAGIC);
}

static void dblock_round_trips_and_zero_is_valid(void **state)
{
	(void)state;
	struct fl_dblock d = {.mbal = 2001, .bal = 2001, .inp = 1, .inp2 = 3, .inp3 = 77, .lver = 5,
			      .flags = FL_DBLOCK_RELEASED};
	struct fl_dblock e;
	uint8_t buf[FL_DBLOCK_SIZE];
	fl_dblock_encode(&d, buf);
	assert_int_equal(fl_dblock_decode(buf, &e), 0);
	assert_true(e.mbal == 2001 && e.lver == 5 && e.flags == FL_DBLOCK_RELEASED);
	buf[3] ^= 1;
	assert_int_equal(fl_dblock_decode(buf, &e), -FL_ECHECKSUM);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(fl_dblock_decode(buf, &e), 0);
}

static void mark_follows_generation_and_timestamp(void **state)
{
	(void)state;
	struct fl_leader l;
	fl_leader_decode_raw(sanlock_delta_host1, &l);
	l.unused1 = fl_mark_compute(&l);
	assert_true(fl_mark_valid(&l));
	l.timestamp++; /* what a sanlock renewal does, copying unused1 */
	assert_false(fl_mark_valid(&l));
}

static void geometry_table_matches_sanlock(void **state)
{
	(void)state;
	assert_int_equal(fl_max_hosts(512, 1 << 20), 2000);
	assert_int_equal(fl_max_hosts(4096, 1 << 20), 250);
	assert_int_equal(fl_max_hosts(4096, 2 << 20), 500);
	assert_int_equal(fl_max_hosts(4096, 8 << 20), 2000);
	assert_true(fl_align_bytes_from_flags(0, 4096) == 8u << 20);
	assert_true(fl_align_bytes_from_flags(FL_LFL_ALIGN_2M, 4096) == 2u << 20);
	assert_int_equal(fl_align_flag_from_bytes(4u << 20), FL_LFL_ALIGN_4M);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_a_record_written_by_sanlock),
		cmocka_unit_test(reencoding_reproduces_sanlocks_bytes),
		cmocka_unit_test(a_flipped_bit_is_a_checksum_error_never_free),
		cmocka_unit_test(wrong_magic_and_version_are_refused),
		cmocka_unit_test(dblock_round_trips_and_zero_is_valid),
		cmocka_unit_test(mark_follows_generation_and_timestamp),
		cmocka_unit_test(geometry_table_matches_sanlock),
	};
	return cmocka_run_group_tests_name("ondisk", tests, NULL, NULL);
}
