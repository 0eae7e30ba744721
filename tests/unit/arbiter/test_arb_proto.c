/* Cluster protocol negotiation (plugin/arbiter/arb_proto.c) on an arbiter
 * that is only its configuration: the version two hosts speak is the
 * highest both announce; a peer with no version in common is refused (its
 * messages dropped) and taken back once it announces a common range; a peer
 * that never announces speaks protocol 2, refused only by a host whose
 * lowest version is above 2, and only after the grace period; malformed
 * announcements change nothing; a version string cannot inject quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/le.h"
#include "plugin/arbiter/arb_internal.h"

static struct arb *arb_with(uint16_t lo, uint16_t hi)
{
	struct arb *a = calloc(1, sizeof(*a));
	assert_non_null(a);
	a->cfg.host_id = 1;
	a->cfg.proto_min = lo;
	a->cfg.proto_max = hi;
	a->cfg.version = "1.1.0";
	return a;
}

/* Host `from` announces lo..hi and version v. */
static void announce(struct arb *a, uint64_t from, uint16_t lo, uint16_t hi, const char *v)
{
	uint8_t b[64];
	size_t n = strlen(v);
	fl_put_le16(b, lo);
	fl_put_le16(b + 2, hi);
	b[4] = (uint8_t)n;
	memcpy(b + 5, v, n);
	arb_proto_receive(a, from, b, (uint32_t)(5 + n));
}

static uint16_t used(const struct arb *a, uint32_t id)
{
	struct arb_peer_proto p;
	arb_peer_proto(a, id, &p);
	return p.used;
}

static void the_highest_common_version_is_spoken(void **state)
{
	(void)state;
	struct arb *a = arb_with(0, 0); /* the build's own: ARB_PROTO_MIN..ARB_PROTO_CURRENT */
	announce(a, 2, 2, 3, "1.1.0");
	announce(a, 3, 3, 4, "1.2.0");
	announce(a, 4, 2, 2, "1.0.9");
	assert_int_equal(used(a, 2), 3);
	assert_int_equal(used(a, 3), 3); /* a newer host speaks our highest */
	assert_int_equal(used(a, 4), 0); /* protocol 2 only: its replicated state is not ours */
	assert_true(arb_proto_drop(a, 4, 'R', 1000));
	struct arb *b = arb_with(2, 3); /* a build that speaks 2 as well accepts it */
	announce(b, 4, 2, 2, "1.0.9");
	assert_int_equal(used(b, 4), 2);
	free(b);
	struct arb_peer_proto p;
	arb_peer_proto(a, 3, &p);
	assert_true(p.announced);
	assert_false(p.refused);
	assert_int_equal(p.min, 3);
	assert_int_equal(p.max, 4);
	assert_string_equal(p.version, "1.2.0");
	assert_false(arb_proto_drop(a, 3, 'R', 1000));
	free(a);
}

static void no_version_in_common_is_refused_until_it_changes(void **state)
{
	(void)state;
	struct arb *a = arb_with(3, 4);
	announce(a, 2, 5, 5, "2.0.0");
	assert_int_equal(used(a, 2), 0);
	assert_true(arb_proto_drop(a, 2, 'R', 1000));
	assert_true(arb_proto_drop(a, 2, 'V', 2000));
	announce(a, 3, 2, 2, "1.0.0"); /* too old for a host that dropped 2 */
	assert_true(arb_proto_drop(a, 3, 'R', 1000));
	announce(a, 2, 4, 5, "2.0.0"); /* restarted with a common range: taken back */
	assert_int_equal(used(a, 2), 4);
	assert_false(arb_proto_drop(a, 2, 'R', 3000));
	free(a);
}

static void a_host_that_never_announces_speaks_protocol_2(void **state)
{
	(void)state;
	struct arb *old_ok = arb_with(2, 3), *strict = arb_with(3, 4);
	old_ok->last_heard_us[5] = 1;
	assert_false(arb_proto_drop(old_ok, 5, 'R', 1000));
	assert_false(arb_proto_drop(old_ok, 5, 'R', 100 * ARB_PROTO_GRACE_US));
	assert_int_equal(used(old_ok, 5), ARB_PROTO_LEGACY);
	/* A host speaking 3..4 waits the grace period for an announcement, then refuses. */
	uint64_t t0 = 5 * ARB_PROTO_GRACE_US;
	assert_false(arb_proto_drop(strict, 5, 'R', t0));
	assert_false(arb_proto_drop(strict, 5, 'R', t0 + ARB_PROTO_GRACE_US - 1));
	assert_true(arb_proto_drop(strict, 5, 'R', t0 + ARB_PROTO_GRACE_US));
	assert_int_equal(used(strict, 5), 0);
	/* Its announcement, late, is enough. */
	announce(strict, 5, 3, 3, "1.1.0");
	assert_false(arb_proto_drop(strict, 5, 'R', t0 + 2 * ARB_PROTO_GRACE_US));
	assert_int_equal(used(strict, 5), 3);
	free(old_ok);
	free(strict);
}

static void malformed_announcements_change_nothing(void **state)
{
	(void)state;
	struct arb *a = arb_with(2, 3);
	uint8_t b[8] = {0};
	arb_proto_receive(a, 2, b, 4); /* short */
	fl_put_le16(b, 0);
	fl_put_le16(b + 2, 3);
	arb_proto_receive(a, 2, b, 5); /* min 0 */
	fl_put_le16(b, 3);
	fl_put_le16(b + 2, 2);
	arb_proto_receive(a, 2, b, 5); /* max below min */
	fl_put_le16(b, 2);
	fl_put_le16(b + 2, 3);
	b[4] = 3;
	arb_proto_receive(a, 2, b, 6); /* version length beyond the message */
	struct arb_peer_proto p;
	arb_peer_proto(a, 2, &p);
	assert_false(p.announced);
	announce(a, 2, 2, 3, "1\"2\\3\n");
	arb_peer_proto(a, 2, &p);
	assert_string_equal(p.version, "1?2?3?"); /* printable, nothing to quote in JSON or a metric label */
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_highest_common_version_is_spoken),
		cmocka_unit_test(no_version_in_common_is_refused_until_it_changes),
		cmocka_unit_test(a_host_that_never_announces_speaks_protocol_2),
		cmocka_unit_test(malformed_announcements_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
