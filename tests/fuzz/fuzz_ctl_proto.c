/* Fuzz target: the control protocol (plugin/host/ctl_proto.c): the framing
 * of a control socket stream (ctl_frame_parse, as the daemon reads it) and
 * the validation of every request and response in it.
 *
 * Mode byte (first input byte): bit 0 set: the rest is ONE message body and
 * the target prepends its 4-byte length, so the fuzzer reaches the JSON and
 * request validation without having to get the length right; clear: the rest
 * is a raw stream of frames.
 *
 * Checks: parsing consumes whole frames within the buffer and stops the
 * stream only on a refused length; a frame that parses holds a JSON object;
 * a request that decodes re-encodes (ctl_req_encode must accept it) and the
 * re-encoding decodes to the same request; packing a parsed message and
 * parsing the frame again gives an equal JSON value; the response checker
 * returns 0 or a negative code on anything. */
#include <jansson.h>
#include "fencelock/error.h"
#include "plugin/host/ctl_proto.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void check_same_req(const struct ctl_req *a, const struct ctl_req *b)
{
	FUZZ_CHECK(a->op == b->op, "op %d re-decodes as %d", a->op, b->op);
	FUZZ_CHECK(str_eq(a->uid, b->uid), "uid changed in the round trip");
	FUZZ_CHECK(a->pid == b->pid, "pid %d re-decodes as %d", a->pid, b->pid);
	FUZZ_CHECK(a->n_volumes == b->n_volumes, "volume count changed");
	for (uint32_t i = 0; i < a->n_volumes; i++) {
		FUZZ_CHECK(str_eq(a->volumes[i].path, b->volumes[i].path), "volume %u path changed", i);
		FUZZ_CHECK(str_eq(a->volumes[i].id, b->volumes[i].id), "volume %u identity changed", i);
		FUZZ_CHECK(a->volumes[i].ro == b->volumes[i].ro, "volume %u ro flag changed", i);
	}
	FUZZ_CHECK(str_eq(a->spec, b->spec), "spec changed in the round trip");
	FUZZ_CHECK(a->restart == b->restart, "restart policy changed");
	FUZZ_CHECK(str_eq(a->state, b->state), "hand-off state changed");
	FUZZ_CHECK(a->exit_code == b->exit_code, "exit code %d re-decodes as %d", a->exit_code, b->exit_code);
	FUZZ_CHECK(a->exit_signal == b->exit_signal, "signal changed");
	FUZZ_CHECK(a->host_id == b->host_id, "host id changed");
	FUZZ_CHECK(str_eq(a->host_name, b->host_name), "host name changed");
	FUZZ_CHECK(str_eq(a->host_addr, b->host_addr), "host address changed");
	FUZZ_CHECK(a->limit == b->limit, "page limit %u re-decodes as %u", a->limit, b->limit);
	FUZZ_CHECK(str_eq(a->after, b->after), "page cursor changed");
}

static void check_request(json_t *msg)
{
	struct ctl_req req;
	char err[CTL_ERR_MAX];
	int rv = ctl_req_decode(msg, &req, err, sizeof(err));
	FUZZ_CHECK(rv == 0 || rv == -FL_EINVAL || rv == -FL_EVERSION, "decode returned %d", rv);
	FUZZ_CHECK(rv == 0 || err[0] != '\0', "a refused request has no message");
	if (rv != 0)
		return;
	FUZZ_CHECK(req.op < CTL_OP_COUNT, "decoded op %d out of range", req.op);
	FUZZ_CHECK(req.uid == NULL || ctl_uid_valid(req.uid), "decoded an invalid uid");
	FUZZ_CHECK(req.n_volumes <= CTL_VOLUMES_MAX, "decoded %u volumes", req.n_volumes);
	json_t *again = NULL;
	rv = ctl_req_encode(&req, &again, err, sizeof(err));
	FUZZ_CHECK(rv == 0, "a decoded %s request does not re-encode: %s", ctl_op_name(req.op), err);
	struct ctl_req req2;
	rv = ctl_req_decode(again, &req2, err, sizeof(err));
	FUZZ_CHECK(rv == 0, "a re-encoded request does not decode: %s", err);
	check_same_req(&req, &req2);
	json_decref(again);
}

/* Every parsed message: request and response checks, and a pack/parse trip. */
static void check_message(json_t *msg)
{
	char err[CTL_ERR_MAX];
	check_request(msg);
	int rv = ctl_resp_check(msg, err, sizeof(err));
	FUZZ_CHECK(rv <= 0, "response check returned %d", rv);
	uint8_t *frame = NULL;
	size_t len = 0;
	rv = ctl_frame_pack(msg, CTL_REPLY_MAX_BYTES, &frame, &len);
	FUZZ_CHECK(rv == 0, "a parsed message does not pack (%d)", rv);
	size_t consumed = 0;
	json_t *back = NULL;
	rv = ctl_frame_parse(frame, len, CTL_REPLY_MAX_BYTES, &consumed, &back, err, sizeof(err));
	FUZZ_CHECK(rv == 0, "a packed message does not parse: %s", err);
	FUZZ_CHECK(back != NULL, "a packed message does not parse: %s", err);
	FUZZ_CHECK(consumed == len, "parse consumed %zu of %zu bytes", consumed, len);
	FUZZ_CHECK(json_equal(msg, back), "a message changed through pack and parse");
	json_decref(back);
	free(frame);
}

/* Reads frames from the stream as the daemon's connection loop does. */
static void parse_stream(const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		size_t consumed = 0;
		json_t *msg = NULL;
		char err[CTL_ERR_MAX];
		int rv = ctl_frame_parse(buf + off, len - off, CTL_MSG_MAX_BYTES, &consumed, &msg, err, sizeof(err));
		FUZZ_CHECK(rv == 0 || rv == -FL_EINVAL || rv == -FL_ENOSPC, "frame parse returned %d", rv);
		FUZZ_CHECK(consumed <= len - off, "parse consumed %zu of %zu bytes", consumed, len - off);
		if (rv == -FL_ENOSPC)
			return; /* the stream cannot go on: the daemon closes it */
		if (consumed == 0) {
			FUZZ_CHECK(rv == 0, "an incomplete frame returned a message");
			FUZZ_CHECK(msg == NULL, "an incomplete frame returned a message");
			return; /* incomplete: wait for more */
		}
		FUZZ_CHECK(consumed > CTL_HDR_BYTES, "a frame of %zu bytes", consumed);
		if (rv == 0) {
			FUZZ_CHECK(json_is_object(msg), "a parsed frame is not an object");
			check_message(msg);
			json_decref(msg);
		} else {
			FUZZ_CHECK(msg == NULL, "a refused frame returned a message");
		}
		off += consumed;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	if (size == 0)
		return 0;
	const uint8_t mode = data[0];
	data++;
	size--;
	if ((mode & 1) == 0) {
		parse_stream(data, size);
		return 0;
	}
	uint8_t *frame = malloc(CTL_HDR_BYTES + size);
	FUZZ_CHECK(frame != NULL, "out of memory");
	frame[0] = (uint8_t)size;
	frame[1] = (uint8_t)(size >> 8);
	frame[2] = (uint8_t)(size >> 16);
	frame[3] = (uint8_t)(size >> 24);
	memcpy(frame + CTL_HDR_BYTES, data, size);
	parse_stream(frame, CTL_HDR_BYTES + size);
	free(frame);
	return 0;
}
