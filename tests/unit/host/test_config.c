/* Unit tests of the fencelockd configuration parser: the example config
 * parses, and each class of error is refused with a one-line message naming
 * the file, the line and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "fencelock/error.h"
#include "plugin/host/config.h"

static const char example[] =
	"[cluster]\n"
	"name = demo\n"
	"device = /path/to/shared.img\n"
	"io_timeout = 1\n"
	"partition_tolerance = 10\n"
	"[host]\n"
	"id = 1\n"
	"name = h1\n"
	"listen = 127.0.0.1:7401\n"
	"control_socket = /run/fencelock/h1.sock\n"
	"state_dir = /var/lib/fencelock/h1\n"
	"recover_command = /usr/libexec/fencelock/recover\n"
	"[peers]\n"
	"1 = 127.0.0.1:7401\n"
	"2 = 127.0.0.1:7402\n"
	"3 = 127.0.0.1:7403\n"
	"[cluster]\n"
	"key_file = /etc/fencelock/authkey\n";

static struct fl_config cfg;
static char err[CFG_ERR_MAX];

/* Replaces the first occurrence of `from` in the example by `to` and parses it. */
static int load_edited(const char *from, const char *to)
{
	char text[2048];
	const char *at = strstr(example, from);
	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - example), example, to, at + strlen(from));
	return cfg_load_string("fencelock.conf", text, &cfg, err, sizeof(err));
}

static void the_issue_example_parses_with_every_value(void **state)
{
	(void)state;
	assert_int_equal(cfg_load_string("fencelock.conf", example, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.cluster_name, "demo");
	assert_string_equal(cfg.device, "/path/to/shared.img");
	assert_int_equal(cfg.io_timeout_ms, 1000);
	assert_int_equal(cfg.partition_tolerance_ms, 10000);
	assert_int_equal(cfg.host_id, 1);
	assert_string_equal(cfg.host_name, "h1");
	assert_int_equal(ntohs(cfg.listen.sin_port), 7401);
	assert_string_equal(cfg.control_socket, "/run/fencelock/h1.sock");
	assert_string_equal(cfg.recover_command, "/usr/libexec/fencelock/recover");
	assert_int_equal(cfg.n_peers, 3);
	assert_non_null(cfg_find_peer(&cfg, 3));
	assert_null(cfg_find_peer(&cfg, 4));
}

static void defaults_derive_the_kill_grace_from_io_timeout(void **state)
{
	(void)state;
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 2000ms\n"), 0);
	assert_int_equal(cfg.vm_kill_grace_ms, 2000);
	assert_int_equal(cfg.watchdog, CFG_WATCHDOG_AUTO);
	assert_int_equal(cfg.log_level, LOG_NOTICE);
	assert_string_equal(cfg.run_dir, "/run/fencelock");
}

/* T in milliseconds: N and Ns are seconds (as before), Nms milliseconds. */
static void io_timeout_takes_milliseconds(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		uint32_t ms;
	} ok[] = {{"io_timeout = 500ms\n", 500}, {"io_timeout = 1s\n", 1000},   {"io_timeout = 2\n", 2000},
		  {"io_timeout = 100ms\n", 100}, {"io_timeout = 1500ms\n", 1500}, {"io_timeout = 65535ms\npartition_tolerance = 70s\n", 65535},
		  {"io_timeout = 300s\npartition_tolerance = 300s\n", 300000},
		  {"io_timeout = 70000ms\npartition_tolerance = 70s\n", 70000}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rv = load_edited("io_timeout = 1\npartition_tolerance = 10\n", ok[i].line);
		if (rv != 0)
			print_error("%s: %s\n", ok[i].line, err);
		assert_int_equal(rv, 0);
		assert_int_equal(cfg.io_timeout_ms, ok[i].ms);
	}
	/* K defaults to T; P must be at least T. */
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 250ms\n"), 0);
	assert_int_equal(cfg.vm_kill_grace_ms, 250);
}

static void extras_are_parsed(void **state)
{
	(void)state;
	assert_int_equal(load_edited("[peers]\n",
		"control_group = 0\nwatchdog = /dev/watchdog1\nlog_level = debug\n"
		"metrics_file = /var/lib/node_exporter/fencelock.prom\nkill_path = /usr/bin/true\n"
		"vm_kill_grace = 500ms\n[peers]\n"), 0);
	assert_true(cfg.have_control_group);
	assert_int_equal(cfg.control_gid, 0);
	assert_int_equal(cfg.watchdog, CFG_WATCHDOG_DEVICE);
	assert_string_equal(cfg.watchdog_device, "/dev/watchdog1");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.vm_kill_grace_ms, 500);
}

static void realtime_and_locked_memory_are_on_by_default_and_can_be_turned_off(void **state)
{
	(void)state;
	assert_int_equal(cfg_load_string("fencelock.conf", example, &cfg, err, sizeof(err)), 0);
	assert_true(cfg.realtime);
	assert_true(cfg.lock_memory);
	assert_int_equal(cfg.rt_priority, CFG_RT_PRIORITY_DEFAULT);
	assert_int_equal(load_edited("[peers]\n", "realtime = no\npriority = 10\nlock_memory = no\n[peers]\n"), 0);
	assert_false(cfg.realtime);
	assert_false(cfg.lock_memory);
	assert_int_equal(cfg.rt_priority, 10);
}

static void a_priority_outside_1_to_99_or_a_bool_not_yes_or_no_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("[peers]\n", "priority = 100\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "[host] priority: must be a number 1..99, got 100"));
	assert_int_equal(load_edited("[peers]\n", "realtime = true\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "[host] realtime: must be yes or no, got true"));
}

static void a_host_id_out_of_range_names_file_line_and_key(void **state)
{
	(void)state;
	assert_int_equal(load_edited("id = 1\n", "id = 0\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:7: [host] id: must be 1..2000, got 0");
	assert_int_equal(load_edited("id = 1\n", "id = 2001\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":7: [host] id: must be 1..2000, got 2001"));
	assert_int_equal(load_edited("id = 1\n", "id = one\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":7: [host] id:"));
}

static void voters_is_3_5_or_7_and_defaults_to_5(void **state)
{
	(void)state;
	assert_int_equal(cfg_load_string("fencelock.conf", example, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.voters, 5);
	const char *good[] = {"3", "5", "7"};
	for (size_t i = 0; i < 3; i++) {
		char line[64];
		snprintf(line, sizeof(line), "partition_tolerance = 10\nvoters = %s\n", good[i]);
		assert_int_equal(load_edited("partition_tolerance = 10\n", line), 0);
		assert_int_equal(cfg.voters, (uint32_t)atoi(good[i]));
	}
	const char *bad[] = {"1", "2", "4", "6", "8", "0", "x", ""};
	for (size_t i = 0; i < 8; i++) {
		char line[64];
		snprintf(line, sizeof(line), "partition_tolerance = 10\nvoters = %s\n", bad[i]);
		assert_int_equal(load_edited("partition_tolerance = 10\n", line), -FL_EINVAL);
		assert_non_null(strstr(err, "voters"));
	}
}

/* [host] max_vms: absent is no limit; 1..65535; anything else names the key. */
static void max_vms_is_a_count_or_absent(void **state)
{
	(void)state;
	assert_int_equal(cfg_load_string("fencelock.conf", example, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.max_vms, 0);
	assert_int_equal(load_edited("name = h1\n", "name = h1\nmax_vms = 100\n"), 0);
	assert_int_equal(cfg.max_vms, 100);
	assert_int_equal(load_edited("name = h1\n", "name = h1\nmax_vms = 65535\n"), 0);
	assert_int_equal(cfg.max_vms, 65535);
	const char *bad[] = {"0", "65536", "-1", "4294967297", "10 VMs", "1e3", "0x10", "", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[96];
		snprintf(line, sizeof(line), "name = h1\nmax_vms = %s\n", bad[i]);
		assert_int_equal(load_edited("name = h1\n", line), -FL_EINVAL);
		if (strstr(err, "[host] max_vms") == NULL)
			fail_msg("max_vms = '%s': %s", bad[i], err);
	}
}

static void an_unknown_key_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("name = h1\n", "name = h1\nflavour = vanilla\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:9: [host] flavour: unknown key; see docs/operations.md for the keys");
}

static void an_unknown_section_is_refused_even_when_empty(void **state)
{
	(void)state;
	assert_int_equal(load_edited("[peers]\n", "[extras]\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "fencelock.conf:13: [extras]: unknown section"));
	assert_int_equal(load_edited("[peers]\n", "[extras]\nx = 1\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "fencelock.conf:13: [extras]: unknown section"));
}

static void a_key_outside_any_section_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("[cluster]\n", "stray = 1\n[cluster]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "fencelock.conf:1: stray: key outside any section"));
}

static void a_key_set_twice_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("name = h1\n", "name = h1\nname = h2\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:9: [host] name: set twice (first on line 8)");
}

static void a_missing_required_key_is_named(void **state)
{
	(void)state;
	assert_int_equal(load_edited("device = /path/to/shared.img\n", ""), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf: [cluster] device: required key missing");
}

static void a_relative_path_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("state_dir = /var/lib/fencelock/h1", "state_dir = var/lib"), -FL_EINVAL);
	assert_non_null(strstr(err, "fencelock.conf:11: [host] state_dir: must be an absolute path"));
}

static void a_malformed_address_is_refused(void **state)
{
	(void)state;
	const char *bad[] = {"localhost:7401", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
			     "127.0.0.1:74x", "300.0.0.1:7401", ":7401"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "listen = %s\n", bad[i]);
		assert_int_equal(load_edited("listen = 127.0.0.1:7401\n", line), -FL_EINVAL);
		assert_non_null(strstr(err, "fencelock.conf:9: [host] listen: must be IPv4:PORT"));
	}
}

static void a_bad_duration_is_refused_with_its_range(void **state)
{
	(void)state;
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 1h\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:4: [cluster] io_timeout: must be a duration (N, Ns or Nms) of 100..300000 ms, got 1h");
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 10ms\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 99ms\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "of 100..300000 ms, got 99ms"));
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 0\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 0ms\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 301s\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 99999999999999999999\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 4294967295s\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 500msx\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 500 ms\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 0.5s\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 500MS\n"), -FL_EINVAL);
	/* Above 65535 ms only whole seconds: a record carries ms in 16 bits. */
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = 65536ms\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:4: [cluster] io_timeout: must be whole seconds above 65535 ms (each lease record carries milliseconds in 16 bits), got 65536 ms");
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = -1\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout = -500ms\n"), -FL_EINVAL);
	assert_int_equal(load_edited("io_timeout = 1\n", "io_timeout =\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "got nothing"));
}

static void a_kill_grace_longer_than_io_timeout_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("[peers]\n", "vm_kill_grace = 2s\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "fencelock.conf:13: [host] vm_kill_grace: must be at most io_timeout"));
}

static void our_own_id_must_be_among_the_peers(void **state)
{
	(void)state;
	assert_int_equal(load_edited("1 = 127.0.0.1:7401\n", ""), -FL_EINVAL);
	assert_non_null(strstr(err, "[peers]: our own [host] id 1 is not listed"));
}

static void our_peer_address_must_equal_listen(void **state)
{
	(void)state;
	assert_int_equal(load_edited("1 = 127.0.0.1:7401\n", "1 = 127.0.0.1:7409\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:14: [peers] 1: address differs from [host] listen; they must be equal");
}

static void peers_are_validated(void **state)
{
	(void)state;
	assert_int_equal(load_edited("3 = 127.0.0.1:7403\n", "3 = 127.0.0.1:7402\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":16: [peers] 3: address 127.0.0.1:7402 already used by peer 2 (line 15)"));
	assert_int_equal(load_edited("3 = 127.0.0.1:7403\n", "0 = 127.0.0.1:7403\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":16: [peers] 0: peer key must be a host id 1..2000"));
	assert_int_equal(load_edited("3 = 127.0.0.1:7403\n", "2 = 127.0.0.1:7403\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":16: [peers] 2: set twice (first on line 15)"));
}

static void a_joining_host_may_omit_peers(void **state)
{
	(void)state;
	assert_int_equal(load_edited("[peers]\n1 = 127.0.0.1:7401\n2 = 127.0.0.1:7402\n3 = 127.0.0.1:7403\n", ""), 0);
	assert_int_equal(cfg.n_peers, 0);
}

static void a_syntax_error_names_its_line(void **state)
{
	(void)state;
	assert_int_equal(load_edited("name = h1\n", "name h1\n"), -FL_EINVAL);
	assert_string_equal(err, "fencelock.conf:8: syntax error: expected '[section]' or 'key = value'");
}

static void a_bad_name_or_watchdog_or_level_is_refused(void **state)
{
	(void)state;
	assert_int_equal(load_edited("name = demo\n", "name = de/mo\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":2: [cluster] name:"));
	assert_int_equal(load_edited("[peers]\n", "watchdog = sometimes\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":13: [host] watchdog: must be auto, off or a /dev/ path"));
	assert_int_equal(load_edited("[peers]\n", "log_level = loud\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":13: [host] log_level:"));
	assert_int_equal(load_edited("[peers]\n", "control_group = no-such-group-xyz\n[peers]\n"), -FL_EINVAL);
	assert_non_null(strstr(err, ":13: [host] control_group: no such group 'no-such-group-xyz'"));
}

static void a_missing_file_is_reported_with_its_path(void **state)
{
	(void)state;
	assert_int_equal(cfg_load("/nonexistent/fencelock.conf", &cfg, err, sizeof(err)), -FL_ENOENT);
	assert_non_null(strstr(err, "/nonexistent/fencelock.conf: cannot open"));
}

static void a_file_on_disk_reports_its_base_name(void **state)
{
	(void)state;
	char path[] = "/tmp/fl-cfg-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "[cluster]\nname = demo\nbogus = 1\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), -FL_EINVAL);
	unlink(path);
	char want[128];
	snprintf(want, sizeof(want), "%s:3: [cluster] bogus: unknown key", strrchr(path, '/') + 1);
	assert_non_null(strstr(err, want));
}

static void a_cluster_key_is_required_unless_insecure(void **state)
{
	(void)state;
	assert_int_equal(load_edited("key_file = /etc/fencelock/authkey\n", ""), -FL_EINVAL);
	assert_non_null(strstr(err, "[cluster] key_file: required"));
	assert_int_equal(load_edited("key_file = /etc/fencelock/authkey\n", "insecure = yes\n"), 0);
	assert_true(cfg.insecure);
	assert_int_equal(load_edited("key_file = /etc/fencelock/authkey\n",
				     "key_file = /etc/fencelock/authkey\ninsecure = yes\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "[cluster] insecure: yes, but a key_file is set too"));
	assert_int_equal(load_edited("key_file = /etc/fencelock/authkey\n",
				     "key_file = /etc/fencelock/authkey\nkey_file_next = /etc/fencelock/authkey.next\n"), 0);
	assert_string_equal(cfg.key_file_next, "/etc/fencelock/authkey.next");
	assert_int_equal(load_edited("key_file = /etc/fencelock/authkey\n", "insecure = maybe\n"), -FL_EINVAL);
	assert_non_null(strstr(err, "must be yes or no"));
}

/* Writes len bytes to a fresh file of mode `mode`; returns its path. */
static const char *key_on_disk(char *path, size_t len, mode_t mode)
{
	strcpy(path, "/tmp/fl-key-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t bytes[64];
	memset(bytes, 0x42, sizeof(bytes));
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void a_key_file_must_be_32_private_bytes(void **state)
{
	(void)state;
	char path[32];
	uint8_t key[CFG_KEY_BYTES];
	assert_int_equal(cfg_read_key(key_on_disk(path, 32, 0400), key, err, sizeof(err)), 0);
	assert_int_equal(key[31], 0x42);
	unlink(path);
	assert_int_equal(cfg_read_key(key_on_disk(path, 32, 0644), key, err, sizeof(err)), -FL_EPERM);
	assert_non_null(strstr(err, "readable or writable by group or others"));
	unlink(path);
	assert_int_equal(cfg_read_key(key_on_disk(path, 31, 0400), key, err, sizeof(err)), -FL_EPERM);
	assert_non_null(strstr(err, "is not 32 bytes long"));
	unlink(path);
	assert_int_equal(cfg_read_key("/nonexistent/authkey", key, err, sizeof(err)), -FL_ENOENT);
	assert_non_null(strstr(err, "fencelock keygen"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_issue_example_parses_with_every_value),
		cmocka_unit_test(defaults_derive_the_kill_grace_from_io_timeout),
		cmocka_unit_test(io_timeout_takes_milliseconds),
		cmocka_unit_test(extras_are_parsed),
		cmocka_unit_test(realtime_and_locked_memory_are_on_by_default_and_can_be_turned_off),
		cmocka_unit_test(a_priority_outside_1_to_99_or_a_bool_not_yes_or_no_is_refused),
		cmocka_unit_test(a_host_id_out_of_range_names_file_line_and_key),
		cmocka_unit_test(an_unknown_key_is_refused),
		cmocka_unit_test(voters_is_3_5_or_7_and_defaults_to_5),
		cmocka_unit_test(max_vms_is_a_count_or_absent),
		cmocka_unit_test(an_unknown_section_is_refused_even_when_empty),
		cmocka_unit_test(a_key_outside_any_section_is_refused),
		cmocka_unit_test(a_key_set_twice_is_refused),
		cmocka_unit_test(a_missing_required_key_is_named),
		cmocka_unit_test(a_relative_path_is_refused),
		cmocka_unit_test(a_malformed_address_is_refused),
		cmocka_unit_test(a_bad_duration_is_refused_with_its_range),
		cmocka_unit_test(a_kill_grace_longer_than_io_timeout_is_refused),
		cmocka_unit_test(our_own_id_must_be_among_the_peers),
		cmocka_unit_test(our_peer_address_must_equal_listen),
		cmocka_unit_test(peers_are_validated),
		cmocka_unit_test(a_joining_host_may_omit_peers),
		cmocka_unit_test(a_syntax_error_names_its_line),
		cmocka_unit_test(a_bad_name_or_watchdog_or_level_is_refused),
		cmocka_unit_test(a_missing_file_is_reported_with_its_path),
		cmocka_unit_test(a_file_on_disk_reports_its_base_name),
		cmocka_unit_test(a_cluster_key_is_required_unless_insecure),
		cmocka_unit_test(a_key_file_must_be_32_private_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
