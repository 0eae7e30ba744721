/* Unit tests of the event history's times, --since, filters and text rows
 * (plugin/host/evview.c): RFC 3339 both ways, relative times and @INDEX,
 * hostile --since / --host values, matching, and the table's cells with
 * unknown times and names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "plugin/host/evview.h"

/* 2026-12-06T19:30:02.123456Z */
#define T0_US 1796585402123456ull

static char err[512];

static void time_format_is_rfc3339_utc_with_milliseconds(void **state)
{
	(void)state;
	char buf[EV_TIME_MAX];
	assert_true(ev_time_format(T0_US, buf, sizeof(buf)));
	assert_string_equal(buf, "2026-12-06T19:30:02.123Z");
	assert_true(ev_time_format(1000, buf, sizeof(buf)));
	assert_string_equal(buf, "1970-01-01T00:00:00.001Z");
	/* Unknown (0) is no time at all, never 1970; nor is a time past 9999. */
	assert_false(ev_time_format(0, buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_false(ev_time_format(UINT64_MAX, buf, sizeof(buf)));
	assert_string_equal(buf, "");
}

static void time_parse_reads_what_format_writes_and_offsets(void **state)
{
	(void)state;
	uint64_t us;
	assert_int_equal(ev_time_parse("2026-12-06T19:30:02.123Z", &us), 0);
	assert_true(us == T0_US - 456);
	assert_int_equal(ev_time_parse("2026-12-06T19:30:02.123456789Z", &us), 0);
	assert_true(us == T0_US);
	assert_int_equal(ev_time_parse("2026-12-06t19:30:02z", &us), 0);
	assert_true(us == T0_US - 123456);
	assert_int_equal(ev_time_parse("2026-12-06 20:30:02+01:00", &us), 0);
	assert_true(us == T0_US - 123456);
	assert_int_equal(ev_time_parse("2026-12-06T14:00:02-05:30", &us), 0);
	assert_true(us == T0_US - 123456);
	assert_int_equal(ev_time_parse("2024-02-29T00:00:00Z", &us), 0);
	assert_int_equal(ev_time_parse("1970-01-01T00:00:00Z", &us), 0);
	assert_true(us == 0);
}

static void time_parse_refuses_anything_else(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"2026",
		"2026-12-06",
		"2026-12-06T19:30",
		"2026-12-06T19:30:02", /* no zone */
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-12-06T24:00:00Z",
		"2026-12-06T23:60:00Z",
		"2026-12-06T23:59:61Z",
		"1969-12-31T23:59:59Z",
		"1970-01-01T00:00:00+01:00", /* before the epoch */
		"2026-12-06T19:30:02.Z",
		"2026-12-06T19:30:02.1234567890Z",
		"2026-12-06T19:30:02Zjunk",
		"2026-12-06T19:30:02+1:00",
		"2026-12-06T19:30:02+24:00",
		"+2026-12-06T19:30:02Z",
		"2026-1-06T19:30:02Z",
		"２０２６-12-06T19:30:02Z",
	};
	uint64_t us = 42;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ev_time_parse(bad[i], &us) != -FL_EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(ev_time_parse(NULL, &us), -FL_EINVAL);
	assert_true(us == 42);
}

static void since_reads_durations_times_and_indexes(void **state)
{
	(void)state;
	struct ev_since s;
	assert_int_equal(ev_since_parse("30s", T0_US, &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, EV_SINCE_TIME);
	assert_true(s.wall_us == T0_US - 30000000ull);
	assert_int_equal(ev_since_parse("10m", T0_US, &s, err, sizeof(err)), 0);
	assert_true(s.wall_us == T0_US - 600000000ull);
	assert_int_equal(ev_since_parse("2h", T0_US, &s, err, sizeof(err)), 0);
	assert_true(s.wall_us == T0_US - 7200000000ull);
	assert_int_equal(ev_since_parse("1d", T0_US, &s, err, sizeof(err)), 0);
	assert_true(s.wall_us == T0_US - 86400000000ull);
	assert_int_equal(ev_since_parse("0s", T0_US, &s, err, sizeof(err)), 0);
	assert_true(s.wall_us == T0_US);
	/* Further back than the epoch: everything with a known time. */
	assert_int_equal(ev_since_parse("36500d", 5, &s, err, sizeof(err)), 0);
	assert_true(s.wall_us == 0);
	assert_int_equal(ev_since_parse("@17", T0_US, &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, EV_SINCE_INDEX);
	assert_true(s.index == 17);
	assert_int_equal(ev_since_parse("2026-12-06T19:30:02Z", 0, &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, EV_SINCE_TIME);
	assert_true(s.wall_us == T0_US - 123456);
}

static void since_refuses_hostile_values_with_a_sentence(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"yesterday",
		"10",
		"10x",
		"s",
		"-5m",
		"+5m",
		"5 m",
		"5mm",
		"1.5h",
		"@",
		"@-1",
		"@1a",
		"@ 1",
		"@99999999999999999999",
		"99999999999999999999s",
		"36700d", /* past 100 years */
		"2026-12-06T19:30:02",
		"10m; rm -rf /",
	};
	struct ev_since s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ev_since_parse(bad[i], T0_US, &s, err, sizeof(err)) != -FL_EINVAL)
			fail_msg("--since '%s' was accepted", bad[i]);
		assert_non_null(strstr(err, "RFC 3339"));
		assert_non_null(strstr(err, "@INDEX"));
	}
	assert_int_equal(ev_since_parse(NULL, T0_US, &s, err, sizeof(err)), -FL_EINVAL);
}

static void host_filter_takes_an_id_or_a_name(void **state)
{
	(void)state;
	struct ev_filter f = {0};
	assert_int_equal(ev_filter_host("3", &f, err, sizeof(err)), 0);
	assert_int_equal(f.host_id, 3);
	assert_null(f.host_name);
	assert_int_equal(ev_filter_host("h3.rack-1", &f, err, sizeof(err)), 0);
	assert_int_equal(f.host_id, 0);
	assert_string_equal(f.host_name, "h3.rack-1");
	static const char *const bad[] = {"0", "2001", "99999999999999999999", "", "h 3", "h/3", "-h3x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ev_filter_host(bad[i], &f, err, sizeof(err)) != -FL_EINVAL)
			fail_msg("--host '%s' was accepted", bad[i]);
}

static json_t *placed(void)
{
	json_error_t je;
	json_t *e = json_loads("{\"seq\":4,\"index\":18,\"term\":2,\"time\":\"2026-12-06T19:30:02.123Z\","
			       "\"wall_us\":1796585402123456,\"type\":\"vm-placed\",\"host\":2,\"host_name\":\"h2\","
			       "\"vm\":\"vm-e\",\"from_host\":1,\"from_host_name\":\"h1\",\"state\":null,"
			       "\"incarnation\":2,\"fence_index\":null,\"cause\":\"DEAD\",\"leader\":2,\"leader_name\":\"h2\","
			       "\"by_host\":2,\"by_host_name\":\"h2\",\"by_uid\":null}",
			       0, &je);
	assert_non_null(e);
	return e;
}

static void match_by_time_index_host_and_vm(void **state)
{
	(void)state;
	json_t *e = placed();
	struct ev_filter f = {0};
	assert_true(ev_match(e, &f));
	f.since = (struct ev_since){.kind = EV_SINCE_TIME, .wall_us = T0_US};
	assert_true(ev_match(e, &f));
	f.since.wall_us = T0_US + 1;
	assert_false(ev_match(e, &f));
	f.since = (struct ev_since){.kind = EV_SINCE_INDEX, .index = 18};
	assert_true(ev_match(e, &f));
	f.since.index = 19;
	assert_false(ev_match(e, &f));
	f.since.kind = EV_SINCE_ALL;
	f.host_id = 1; /* where it came from */
	assert_true(ev_match(e, &f));
	f.host_id = 3;
	assert_false(ev_match(e, &f));
	f.host_id = 0;
	f.host_name = "h2";
	assert_true(ev_match(e, &f));
	f.host_name = "h3";
	assert_false(ev_match(e, &f));
	f.host_name = NULL;
	f.vm = "vm-e";
	assert_true(ev_match(e, &f));
	f.vm = "vm-f";
	assert_false(ev_match(e, &f));
	/* An unknown time never passes a time filter (it is not "after T"). */
	json_object_set_new(e, "time", json_null());
	json_object_set_new(e, "wall_us", json_null());
	f = (struct ev_filter){.since = {.kind = EV_SINCE_TIME, .wall_us = 0}};
	assert_false(ev_match(e, &f));
	json_decref(e);
}

static void text_row_shows_names_details_and_who_asked(void **state)
{
	(void)state;
	char cells[EV_COLS][EV_CELL_MAX];
	json_t *e = placed();
	ev_text_row(e, cells);
	assert_string_equal(cells[EV_COL_TIME], "2026-12-06T19:30:02.123Z");
	assert_string_equal(cells[EV_COL_INDEX], "18");
	assert_string_equal(cells[EV_COL_TYPE], "vm-placed");
	assert_string_equal(cells[EV_COL_HOST], "2 (h2)");
	assert_string_equal(cells[EV_COL_VM], "vm-e");
	assert_string_equal(cells[EV_COL_DETAIL], "from 1 (h1), incarnation 2");
	assert_string_equal(cells[EV_COL_CAUSE], "DEAD");
	assert_string_equal(cells[EV_COL_BY], "host 2 (h2)");
	/* An operator's fence: uid shown; unknown time and names as "-" and bare ids. */
	json_t *f = json_pack("{s:I,s:n,s:n,s:s,s:i,s:n,s:n,s:s,s:I,s:s,s:i,s:n,s:i}", "index", (json_int_t)40, "time",
			      "wall_us", "type", "fence-requested", "host", 7, "host_name", "vm", "state", "operator",
			      "fence_index", (json_int_t)40, "cause", "operator", "by_host", 3, "by_host_name", "by_uid",
			      0);
	assert_non_null(f);
	ev_text_row(f, cells);
	assert_string_equal(cells[EV_COL_TIME], "-");
	assert_string_equal(cells[EV_COL_HOST], "7");
	assert_string_equal(cells[EV_COL_VM], "-");
	assert_string_equal(cells[EV_COL_DETAIL], "operator, fence @40");
	assert_string_equal(cells[EV_COL_BY], "host 3, uid 0");
	/* A leader change shows its term; garbage fields never crash a row. */
	json_t *g = json_pack("{s:s,s:I,s:i,s:s,s:s,s:s}", "type", "leader", "term", (json_int_t)5, "host", -3, "vm", "",
			      "cause", "elected", "by_host_name", "x");
	ev_text_row(g, cells);
	assert_string_equal(cells[EV_COL_DETAIL], "term 5");
	assert_string_equal(cells[EV_COL_HOST], "-");
	assert_string_equal(cells[EV_COL_INDEX], "-");
	assert_string_equal(cells[EV_COL_BY], "-");
	json_decref(e);
	json_decref(f);
	json_decref(g);
	for (int c = 0; c < EV_COLS; c++)
		assert_true(strlen(ev_col_header((enum ev_col)c)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_format_is_rfc3339_utc_with_milliseconds),
		cmocka_unit_test(time_parse_reads_what_format_writes_and_offsets),
		cmocka_unit_test(time_parse_refuses_anything_else),
		cmocka_unit_test(since_reads_durations_times_and_indexes),
		cmocka_unit_test(since_refuses_hostile_values_with_a_sentence),
		cmocka_unit_test(host_filter_takes_an_id_or_a_name),
		cmocka_unit_test(match_by_time_index_host_and_vm),
		cmocka_unit_test(text_row_shows_names_details_and_who_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
