/* Unit tests of the sanlock-style spec parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "disklock/spec.h"
#include "fencelock/error.h"

static void parses_a_lockspace_spec(void **state)
{
	(void)state;
	struct fl_spec s;
	char err[256];
	assert_int_equal(fl_spec_parse("LS:7:/dev/sdb:1048576", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), 0);
	assert_string_equal(s.space, "LS");
	assert_true(s.host_id == 7 && s.offset == 1048576);
	assert_string_equal(s.path, "/dev/sdb");
	assert_string_equal(s.resource, "");
}

static void parses_a_resource_spec(void **state)
{
	(void)state;
	struct fl_spec s;
	assert_int_equal(fl_spec_parse("LS:vm-1.disk:/img:0", FL_SPEC_RESOURCE, &s, NULL, 0), 0);
	assert_string_equal(s.resource, "vm-1.disk");
	assert_true(s.host_id == 0 && s.offset == 0);
}

static void escaped_colons_belong_to_the_path(void **state)
{
	(void)state;
	struct fl_spec s;
	char text[128];
	assert_int_equal(fl_spec_parse("LS:1:/dev/disk/by-path/pci-0\\:1\\:0:0", FL_SPEC_LOCKSPACE, &s, NULL, 0), 0);
	assert_string_equal(s.path, "/dev/disk/by-path/pci-0:1:0");
	int n = fl_spec_format(&s, text, sizeof(text));
	assert_int_equal(n, (int)strlen(text));
	assert_string_equal(text, "LS:1:/dev/disk/by-path/pci-0\\:1\\:0:0");
}

static void an_unescaped_colon_in_the_path_is_too_many_fields(void **state)
{
	(void)state;
	struct fl_spec s;
	char err[256];
	assert_int_equal(fl_spec_parse("LS:1:/a:b:0", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "too many fields"));
}

static void missing_fields_and_path_are_refused(void **state)
{
	(void)state;
	struct fl_spec s;
	char err[256];
	assert_int_equal(fl_spec_parse("LS:1:/img", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "too few fields"));
	assert_int_equal(fl_spec_parse("LS:1::0", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "missing path"));
}

static void names_longer_than_47_bytes_are_refused(void **state)
{
	(void)state;
	struct fl_spec s;
	char text[256], err[256];
	char name[49];
	memset(name, 'a', 48);
	name[48] = '\0';
	snprintf(text, sizeof(text), "%s:1:/img:0", name);
	assert_int_equal(fl_spec_parse(text, FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "longer than 47"));
	name[47] = '\0';
	snprintf(text, sizeof(text), "%s:1:/img:0", name);
	assert_int_equal(fl_spec_parse(text, FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), 0);
	assert_int_equal(fl_spec_parse(":1:/img:0", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
}

static void host_id_and_offset_must_be_decimal_in_range(void **state)
{
	(void)state;
	struct fl_spec s;
	char err[256];
	assert_int_equal(fl_spec_parse("LS:2001:/img:0", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "host_id"));
	assert_int_equal(fl_spec_parse("LS:x:/img:0", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(fl_spec_parse("LS:-1:/img:0", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(fl_spec_parse("LS:1:/img:1M", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "offset"));
	assert_int_equal(fl_spec_parse("LS:1:/img:99999999999999999999", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)),
			 -FL_EINVAL);
	assert_int_equal(fl_spec_parse("LS:0:/img:18446744073709551615", FL_SPEC_LOCKSPACE, &s, err, sizeof(err)), 0);
	assert_true(s.offset == UINT64_MAX);
}

static void path_offset_argument_takes_an_optional_offset(void **state)
{
	(void)state;
	char path[64], err[128];
	uint64_t off = 99;
	assert_int_equal(fl_spec_parse_path_offset("/img", path, sizeof(path), &off, err, sizeof(err)), 0);
	assert_string_equal(path, "/img");
	assert_true(off == 0);
	assert_int_equal(fl_spec_parse_path_offset("/img:2097152", path, sizeof(path), &off, err, sizeof(err)), 0);
	assert_true(off == 2097152);
	assert_int_equal(fl_spec_parse_path_offset("/a\\:b", path, sizeof(path), &off, err, sizeof(err)), 0);
	assert_string_equal(path, "/a:b");
	assert_int_equal(fl_spec_parse_path_offset("/img:x", path, sizeof(path), &off, err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(fl_spec_parse_path_offset(":0", path, sizeof(path), &off, err, sizeof(err)), -FL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_lockspace_spec),
		cmocka_unit_test(parses_a_resource_spec),
		cmocka_unit_test(escaped_colons_belong_to_the_path),
		cmocka_unit_test(an_unescaped_colon_in_the_path_is_too_many_fields),
		cmocka_unit_test(missing_fields_and_path_are_refused),
		cmocka_unit_test(names_longer_than_47_bytes_are_refused),
		cmocka_unit_test(host_id_and_offset_must_be_decimal_in_range),
		cmocka_unit_test(path_offset_argument_takes_an_optional_offset),
	};
	return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
