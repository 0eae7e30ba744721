/* Unit tests of the control protocol: framing, request validation per op,
 * responses, and seeded fuzzing of frames and request bodies (never a crash,
 * always a message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/rand.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_proto.h"

static char err[CTL_ERR_MAX];

/* Decodes a request given as JSON text. */
static int decode_text(const char *text, struct ctl_req *req, json_t **keep)
{
	json_t *m = json_loads(text, 0, NULL);
	assert_non_null(m);
	int rv = ctl_req_decode(m, req, err, sizeof(err));
	if (keep != NULL)
		*keep = m;
	else
		json_decref(m);
	return rv;
}

static void a_register_request_round_trips_through_a_frame(void **state)
{
	(void)state;
	struct ctl_req req = {.op = CTL_OP_VM_REGISTER, .uid = "vm-1", .n_volumes = 2,
			      .volumes = {{.path = "/dev/sdb", .id = "wwid:3600a0b8"},
					  {.path = "/srv/img/base.img", .id = "file:fsid=0000000100000002:/srv/img/base.img",
					   .ro = true}},
			      .spec = "{\"argv\":[\"x\"]}", .restart = FL_RESTART_NEVER};
	json_t *o;
	assert_int_equal(ctl_req_encode(&req, &o, err, sizeof(err)), 0);
	uint8_t *buf;
	size_t len, used;
	assert_int_equal(ctl_frame_pack(o, CTL_MSG_MAX_BYTES, &buf, &len), 0);
	json_decref(o);
	json_t *m;
	assert_int_equal(ctl_frame_parse(buf, len, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), 0);
	assert_int_equal(used, len);
	free(buf);
	struct ctl_req got;
	assert_int_equal(ctl_req_decode(m, &got, err, sizeof(err)), 0);
	assert_int_equal(got.op, CTL_OP_VM_REGISTER);
	assert_string_equal(got.uid, "vm-1");
	assert_int_equal(got.n_volumes, 2);
	assert_string_equal(got.volumes[1].path, "/srv/img/base.img");
	assert_true(got.volumes[1].ro);
	assert_string_equal(got.volumes[0].id, "wwid:3600a0b8");
	assert_false(got.volumes[0].ro);
	assert_string_equal(got.spec, "{\"argv\":[\"x\"]}");
	assert_int_equal(got.restart, FL_RESTART_NEVER);
	json_decref(m);
}

static void a_restart_policy_is_written_by_its_name(void **state)
{
	(void)state;
	enum fl_restart r = FL_RESTART_NEVER;
	assert_string_equal(ctl_restart_name(FL_RESTART_ALWAYS), "always");
	assert_string_equal(ctl_restart_name(FL_RESTART_NEVER), "never");
	assert_string_equal(ctl_restart_name(FL_RESTART_ON_FAILURE), "on-failure");
	assert_string_equal(ctl_restart_name(FL_RESTART_MANAGER), "manager");
	assert_int_equal(ctl_restart_parse("manager", &r), 0);
	assert_int_equal(r, FL_RESTART_MANAGER);
	assert_null(ctl_restart_name((enum fl_restart)7));
	assert_int_equal(ctl_restart_parse("always", &r), 0);
	assert_int_equal(r, FL_RESTART_ALWAYS);
	assert_int_equal(ctl_restart_parse("never", &r), 0);
	assert_int_equal(r, FL_RESTART_NEVER);
	assert_int_equal(ctl_restart_parse("Never", &r), -FL_EINVAL);
	assert_int_equal(ctl_restart_parse("", &r), -FL_EINVAL);
	assert_int_equal(r, FL_RESTART_NEVER);
}

static void a_register_request_with_a_restart_policy_outside_the_enum_is_not_encoded(void **state)
{
	(void)state;
	struct ctl_req req = {.op = CTL_OP_VM_REGISTER, .uid = "vm-1", .n_volumes = 1,
			      .volumes = {{.path = "/dev/sdb", .id = "id:b"}}, .restart = (enum fl_restart)7};
	json_t *o = (json_t *)&req;
	assert_int_equal(ctl_req_encode(&req, &o, err, sizeof(err)), -FL_EINVAL);
	assert_null(o);
	assert_non_null(strstr(err, "restart policy 7"));
}

static void every_op_encodes_to_a_request_the_decoder_accepts(void **state)
{
	(void)state;
	struct ctl_req reqs[] = {
		{.op = CTL_OP_STATUS}, {.op = CTL_OP_HOSTS}, {.op = CTL_OP_LEASES}, {.op = CTL_OP_VMS},
		{.op = CTL_OP_METRICS},
		{.op = CTL_OP_VM_REGISTER, .uid = "a", .n_volumes = 1, .volumes = {{.path = "/v", .id = "id:v"}}},
		{.op = CTL_OP_VM_UNREGISTER, .uid = "a"},
		{.op = CTL_OP_VM_ACQUIRE, .uid = "a", .pid = 42, .state = "opaque:1"},
		{.op = CTL_OP_VM_RELEASE, .uid = "a"},
		{.op = CTL_OP_VM_INQUIRE, .uid = "a"},
		{.op = CTL_OP_VM_STARTED, .uid = "a", .pid = 42},
		{.op = CTL_OP_VM_EXITED, .uid = "a", .pid = 42, .exit_code = 0},
		{.op = CTL_OP_HOST_ADD, .host_id = 4, .host_name = "h4", .host_addr = "127.0.0.1:7404"},
		{.op = CTL_OP_HOST_REMOVE, .host_id = 4},
		{.op = CTL_OP_VM_CLEAR, .uid = "a"},
		{.op = CTL_OP_EVENTS, .since_index = 7},
		{.op = CTL_OP_QUORUM},
		{.op = CTL_OP_VM_SHOW, .uid = "a"},
		{.op = CTL_OP_QUARANTINE_CLEAR, .host_id = 2},
		{.op = CTL_OP_HOST_FENCE, .host_id = 2},
		{.op = CTL_OP_HOST_UNFENCE, .host_id = 2},
		{.op = CTL_OP_HOST_DRAIN, .host_id = 2},
		{.op = CTL_OP_HOST_UNDRAIN, .host_id = 2},
		{.op = CTL_OP_VM_MOVE, .uid = "a", .host_id = 3},
		{.op = CTL_OP_LEADER_TRANSFER},
		{.op = CTL_OP_HOST_FORGET, .host_id = 4},
	};
	assert_int_equal(sizeof(reqs) / sizeof(reqs[0]), CTL_OP_COUNT);
	for (size_t i = 0; i < CTL_OP_COUNT; i++) {
		json_t *o;
		assert_int_equal(ctl_req_encode(&reqs[i], &o, err, sizeof(err)), 0);
		struct ctl_req got;
		assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), 0);
		assert_int_equal(got.op, reqs[i].op);
		assert_string_equal(json_string_value(json_object_get(o, "op")), ctl_op_name(reqs[i].op));
		json_decref(o);
	}
}

static void only_reads_are_open_to_everyone(void **state)
{
	(void)state;
	assert_false(ctl_op_mutates(CTL_OP_STATUS));
	assert_false(ctl_op_mutates(CTL_OP_METRICS));
	assert_false(ctl_op_mutates(CTL_OP_VM_INQUIRE));
	assert_true(ctl_op_mutates(CTL_OP_VM_ACQUIRE));
	assert_true(ctl_op_mutates(CTL_OP_HOST_REMOVE));
	assert_false(ctl_op_mutates(CTL_OP_QUORUM));
	assert_true(ctl_op_mutates(CTL_OP_VM_SHOW)); /* a spec may hold secrets */
	assert_true(ctl_op_mutates(CTL_OP_HOST_FENCE));
	assert_true(ctl_op_mutates(CTL_OP_HOST_DRAIN));
	assert_true(ctl_op_mutates(CTL_OP_VM_MOVE));
	assert_true(ctl_op_mutates(CTL_OP_QUARANTINE_CLEAR));
	assert_true(ctl_op_mutates(CTL_OP_LEADER_TRANSFER));
	assert_true(ctl_op_mutates(CTL_OP_HOST_FORGET));
}

static void operator_ops_check_their_fields(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:i,s:s,s:s}", "v", 1, "op", "vm.move", "uid", "a");
	struct ctl_req got;
	assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "'to'"));
	json_object_set_new(o, "to", json_integer(0));
	assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), -FL_EINVAL);
	json_object_set_new(o, "to", json_integer(3));
	assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), 0);
	assert_int_equal(got.host_id, 3);
	json_decref(o);
	o = json_pack("{s:i,s:s}", "v", 1, "op", "host.fence");
	assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), -FL_EINVAL);
	assert_non_null(strstr(err, "'id'"));
	json_decref(o);
	o = json_pack("{s:i,s:s}", "v", 1, "op", "leader.transfer");
	assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), 0);
	assert_int_equal(got.host_id, 0);
	json_decref(o);
}

/* vms and leases take a page: limit 1..CTL_PAGE_MAX and a uid to start after. */
static void list_ops_take_a_page(void **state)
{
	(void)state;
	struct ctl_req req = {.op = CTL_OP_VMS, .limit = 100, .after = "vm-00042"}, got;
	json_t *o = NULL;
	assert_int_equal(ctl_req_encode(&req, &o, err, sizeof(err)), 0);
	assert_int_equal(ctl_req_decode(o, &got, err, sizeof(err)), 0);
	assert_int_equal(got.limit, 100);
	assert_string_equal(got.after, "vm-00042");
	json_decref(o);
	assert_int_equal(decode_text("{\"v\":1,\"op\":\"leases\"}", &got, NULL), 0);
	assert_int_equal(got.limit, 0);
	assert_null(got.after);
	static const char *const bad[] = {
		"{\"v\":1,\"op\":\"vms\",\"limit\":0}", "{\"v\":1,\"op\":\"vms\",\"limit\":2001}",
		"{\"v\":1,\"op\":\"vms\",\"limit\":\"5\"}", "{\"v\":1,\"op\":\"leases\",\"after\":\"../x\"}",
		"{\"v\":1,\"op\":\"vms\",\"after\":7}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_text(bad[i], &got, NULL), -FL_EINVAL);
	assert_non_null(strstr(err, "'after'"));
}

static void the_encoder_refuses_what_the_daemon_would_refuse(void **state)
{
	(void)state;
	struct ctl_req req = {.op = CTL_OP_VM_ACQUIRE, .uid = "../etc", .pid = 1};
	json_t *o = (json_t *)1;
	assert_int_equal(ctl_req_encode(&req, &o, err, sizeof(err)), -FL_EINVAL);
	assert_null(o);
	assert_non_null(strstr(err, "field 'uid'"));
}

static void another_protocol_version_is_refused(void **state)
{
	(void)state;
	struct ctl_req req;
	assert_int_equal(decode_text("{\"v\":2,\"op\":\"status\"}", &req, NULL), -FL_EVERSION);
	assert_non_null(strstr(err, "protocol version 2 not supported"));
	assert_int_equal(decode_text("{\"op\":\"status\"}", &req, NULL), -FL_EINVAL);
	assert_int_equal(decode_text("{\"v\":\"1\",\"op\":\"status\"}", &req, NULL), -FL_EINVAL);
}

static void an_unknown_op_is_refused_by_name(void **state)
{
	(void)state;
	struct ctl_req req;
	assert_int_equal(decode_text("{\"v\":1,\"op\":\"vm.explode\"}", &req, NULL), -FL_EINVAL);
	assert_string_equal(err, "unknown op 'vm.explode'");
	assert_int_equal(decode_text("{\"v\":1,\"op\":7}", &req, NULL), -FL_EINVAL);
	assert_string_equal(err, "field 'op' must be a string");
}

static void invalid_fields_are_named_in_the_error(void **state)
{
	(void)state;
	static const struct { const char *text, *want; } cases[] = {
		{"{\"v\":1,\"op\":\"vm.acquire\",\"uid\":\"a/b\",\"pid\":1}", "field 'uid'"},
		{"{\"v\":1,\"op\":\"vm.acquire\",\"uid\":\"a\"}", "field 'pid' missing"},
		{"{\"v\":1,\"op\":\"vm.acquire\",\"uid\":\"a\",\"pid\":0}", "field 'pid' must be an integer"},
		{"{\"v\":1,\"op\":\"vm.acquire\",\"uid\":\"a\",\"pid\":1.5}", "field 'pid' must be an integer"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[]}", "field 'volumes'"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"rel\"}]}", "volumes[0].path must be absolute"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"/a\",\"id\":\"id:a\",\"ro\":1}]}", "volumes[0].ro"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"/a\",\"id\":\"id:a\"},{\"path\":\"/b\",\"id\":\"id:a\"}]}", "listed twice"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"/a\"}]}", "field 'id'"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"/a\",\"id\":\"/dev/sda\"}]}", "not a volume identity"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"/a\",\"id\":\"id:a\"}],\"restart\":\"maybe\"}", "field 'restart'"},
		{"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"a\",\"volumes\":[{\"path\":\"/a\",\"id\":\"id:a\"}],\"spec\":{}}", "field 'spec' must be a string"},
		{"{\"v\":1,\"op\":\"vm.exited\",\"uid\":\"a\",\"pid\":3}", "exactly one of"},
		{"{\"v\":1,\"op\":\"vm.exited\",\"uid\":\"a\",\"pid\":3,\"exit_code\":0,\"signal\":9}", "exactly one of"},
		{"{\"v\":1,\"op\":\"host.add\",\"id\":2001,\"name\":\"h\",\"addr\":\"127.0.0.1:1\"}", "field 'id'"},
		{"{\"v\":1,\"op\":\"host.add\",\"id\":2,\"name\":\"h\",\"addr\":\"somewhere\"}", "field 'addr'"},
		{"{\"v\":1,\"op\":\"host.add\",\"id\":2,\"name\":\"h h\",\"addr\":\"127.0.0.1:1\"}", "field 'name'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_req req;
		assert_int_equal(decode_text(cases[i].text, &req, NULL), -FL_EINVAL);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
	}
}

static void too_many_volumes_are_refused(void **state)
{
	(void)state;
	json_t *vols = json_array();
	for (unsigned i = 0; i <= CTL_VOLUMES_MAX; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/v%u", i);
		json_array_append_new(vols, json_pack("{s:s,s:s}", "path", p, "id", "id:x"));
	}
	json_t *m = json_pack("{s:i,s:s,s:s,s:o}", "v", 1, "op", "vm.register", "uid", "a", "volumes", vols);
	struct ctl_req req;
	assert_int_equal(ctl_req_decode(m, &req, err, sizeof(err)), -FL_EINVAL);
	json_decref(m);
}

static void unknown_fields_are_ignored_for_compatibility(void **state)
{
	(void)state;
	struct ctl_req req;
	assert_int_equal(decode_text("{\"v\":1,\"op\":\"status\",\"colour\":\"blue\"}", &req, NULL), 0);
	assert_int_equal(req.op, CTL_OP_STATUS);
}

static void responses_carry_ok_or_the_error_and_its_code(void **state)
{
	(void)state;
	json_t *ok = ctl_resp_ok();
	assert_int_equal(ctl_resp_check(ok, err, sizeof(err)), 0);
	json_decref(ok);
	json_t *e = ctl_resp_error(-FL_EBUSY, "volume /dev/sdb is held by host 2");
	assert_int_equal(json_integer_value(json_object_get(e, "code")), FL_EBUSY);
	assert_int_equal(ctl_resp_check(e, err, sizeof(err)), -FL_EBUSY);
	assert_string_equal(err, "volume /dev/sdb is held by host 2");
	json_decref(e);
	json_t *bad = json_pack("{s:i}", "v", 1);
	assert_int_equal(ctl_resp_check(bad, err, sizeof(err)), -FL_EINVAL);
	json_decref(bad);
}

static void a_partial_frame_asks_for_more(void **state)
{
	(void)state;
	json_t *o = ctl_resp_ok();
	uint8_t *buf;
	size_t len, used;
	assert_int_equal(ctl_frame_pack(o, CTL_MSG_MAX_BYTES, &buf, &len), 0);
	json_decref(o);
	for (size_t cut = 0; cut < len; cut++) {
		json_t *m = (json_t *)1;
		assert_int_equal(ctl_frame_parse(buf, cut, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), 0);
		assert_null(m);
		assert_int_equal(used, 0);
	}
	free(buf);
}

static void two_frames_in_one_buffer_parse_one_after_the_other(void **state)
{
	(void)state;
	uint8_t two[256];
	const char *a = "{\"v\":1,\"op\":\"status\"}", *b = "{\"v\":1,\"op\":\"hosts\"}";
	size_t la = strlen(a), lb = strlen(b);
	two[0] = (uint8_t)la; two[1] = two[2] = two[3] = 0;
	memcpy(two + 4, a, la);
	two[4 + la] = (uint8_t)lb; two[5 + la] = two[6 + la] = two[7 + la] = 0;
	memcpy(two + 8 + la, b, lb);
	size_t used;
	json_t *m;
	assert_int_equal(ctl_frame_parse(two, 8 + la + lb, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), 0);
	assert_int_equal(used, 4 + la);
	json_decref(m);
	assert_int_equal(ctl_frame_parse(two + used, 4 + lb, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(m, "op")), "hosts");
	json_decref(m);
}

static void an_oversized_or_empty_frame_is_refused_from_its_header(void **state)
{
	(void)state;
	uint8_t hdr[4] = {0x01, 0x00, 0x01, 0x00}; /* 65537 */
	size_t used;
	json_t *m;
	assert_int_equal(ctl_frame_parse(hdr, 4, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), -FL_ENOSPC);
	assert_non_null(strstr(err, "65537 bytes refused"));
	uint8_t zero[4] = {0};
	assert_int_equal(ctl_frame_parse(zero, 4, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), -FL_ENOSPC);
}

static void a_malformed_body_is_skipped_and_reported(void **state)
{
	(void)state;
	uint8_t buf[] = {3, 0, 0, 0, '{', '"', 'x', 2, 0, 0, 0, '[', ']'};
	size_t used;
	json_t *m;
	assert_int_equal(ctl_frame_parse(buf, sizeof(buf), CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), -FL_EINVAL);
	assert_int_equal(used, 7);
	assert_non_null(strstr(err, "malformed JSON"));
	assert_int_equal(ctl_frame_parse(buf + 7, 6, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), -FL_EINVAL);
	assert_string_equal(err, "message must be a JSON object");
	assert_int_equal(used, 6);
}

static void replies_may_be_larger_than_requests(void **state)
{
	(void)state;
	char *big = malloc(CTL_MSG_MAX_BYTES * 2);
	memset(big, 'y', CTL_MSG_MAX_BYTES * 2 - 1);
	big[CTL_MSG_MAX_BYTES * 2 - 1] = '\0';
	json_t *o = json_pack("{s:i,s:b,s:s}", "v", 1, "ok", 1, "text", big);
	uint8_t *buf;
	size_t len, used;
	assert_int_equal(ctl_frame_pack(o, CTL_REPLY_MAX_BYTES, &buf, &len), 0);
	json_t *m;
	assert_int_equal(ctl_frame_parse(buf, len, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err)), -FL_ENOSPC);
	assert_int_equal(ctl_frame_parse(buf, len, CTL_REPLY_MAX_BYTES, &used, &m, err, sizeof(err)), 0);
	assert_int_equal(strlen(json_string_value(json_object_get(m, "text"))), CTL_MSG_MAX_BYTES * 2 - 1);
	json_decref(m);
	free(buf);
	json_decref(o);
	free(big);
}

static void packing_refuses_a_message_over_the_limit(void **state)
{
	(void)state;
	char *big = malloc(CTL_MSG_MAX_BYTES + 1);
	memset(big, 'x', CTL_MSG_MAX_BYTES);
	big[CTL_MSG_MAX_BYTES] = '\0';
	json_t *o = json_pack("{s:s}", "text", big);
	uint8_t *buf;
	size_t len;
	assert_int_equal(ctl_frame_pack(o, CTL_MSG_MAX_BYTES, &buf, &len), -FL_ENOSPC);
	assert_null(buf);
	json_decref(o);
	free(big);
}

/* Random bytes behind a random header, and byte flips of valid requests:
 * parse and decode must return 0 or an error with a message, never crash. */
static void fuzzed_frames_are_errors_never_crashes(void **state)
{
	(void)state;
	struct fl_rand r;
	fl_rand_seed(&r, 0xF1F0);
	static const char *seeds[] = {
		"{\"v\":1,\"op\":\"vm.register\",\"uid\":\"vm-1\",\"volumes\":[{\"path\":\"/a\",\"id\":\"id:a\",\"ro\":true}],\"spec\":\"s\",\"restart\":\"never\"}",
		"{\"v\":1,\"op\":\"vm.exited\",\"uid\":\"a\",\"pid\":3,\"signal\":9}",
		"{\"v\":1,\"op\":\"host.add\",\"id\":2,\"name\":\"h\",\"addr\":\"127.0.0.1:1\"}",
	};
	uint8_t buf[512];
	unsigned decoded = 0, refused = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n;
		if (iter % 2 == 0) {
			const char *s = seeds[fl_rand_below(&r, 3)];
			n = strlen(s);
			memcpy(buf + 4, s, n);
			for (int k = 0; k < 1 + (int)fl_rand_below(&r, 4); k++)
				buf[4 + fl_rand_below(&r, n)] = (uint8_t)fl_rand_next(&r);
		} else {
			n = 1 + fl_rand_below(&r, sizeof(buf) - 4);
			for (size_t k = 0; k < n; k++)
				buf[4 + k] = (uint8_t)fl_rand_below(&r, 128);
		}
		buf[0] = (uint8_t)n; buf[1] = (uint8_t)(n >> 8); buf[2] = buf[3] = 0;
		size_t used;
		json_t *m;
		err[0] = '\0';
		int rv = ctl_frame_parse(buf, 4 + n, CTL_MSG_MAX_BYTES, &used, &m, err, sizeof(err));
		assert_int_equal(used, 4 + n);
		if (rv != 0) {
			assert_int_equal(rv, -FL_EINVAL);
			assert_true(err[0] != '\0');
			refused++;
			continue;
		}
		struct ctl_req req;
		rv = ctl_req_decode(m, &req, err, sizeof(err));
		assert_true(rv == 0 || err[0] != '\0');
		decoded += rv == 0;
		refused += rv != 0;
		json_decref(m);
	}
	assert_true(decoded > 0);
	assert_true(refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_register_request_round_trips_through_a_frame),
		cmocka_unit_test(every_op_encodes_to_a_request_the_decoder_accepts),
		cmocka_unit_test(only_reads_are_open_to_everyone),
		cmocka_unit_test(operator_ops_check_their_fields),
		cmocka_unit_test(list_ops_take_a_page),
		cmocka_unit_test(the_encoder_refuses_what_the_daemon_would_refuse),
		cmocka_unit_test(another_protocol_version_is_refused),
		cmocka_unit_test(an_unknown_op_is_refused_by_name),
		cmocka_unit_test(invalid_fields_are_named_in_the_error),
		cmocka_unit_test(too_many_volumes_are_refused),
		cmocka_unit_test(unknown_fields_are_ignored_for_compatibility),
		cmocka_unit_test(responses_carry_ok_or_the_error_and_its_code),
		cmocka_unit_test(a_partial_frame_asks_for_more),
		cmocka_unit_test(two_frames_in_one_buffer_parse_one_after_the_other),
		cmocka_unit_test(an_oversized_or_empty_frame_is_refused_from_its_header),
		cmocka_unit_test(a_malformed_body_is_skipped_and_reported),
		cmocka_unit_test(packing_refuses_a_message_over_the_limit),
		cmocka_unit_test(replies_may_be_larger_than_requests),
		cmocka_unit_test(fuzzed_frames_are_errors_never_crashes),
		cmocka_unit_test(a_restart_policy_is_written_by_its_name),
		cmocka_unit_test(a_register_request_with_a_restart_policy_outside_the_enum_is_not_encoded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
