/* Fuzz target: the cluster-key handshake and the sealed framing of the Raft
 * TCP transport (raft/tcp_auth.c): HELLO, REPLY and FINISH as a responder
 * and an initiator receive them, the frame header check and frame opening.
 *
 * Mode byte % 4:
 *   0  a fuzzed HELLO to a responder (bit 2 of the mode byte: the target
 *      puts the right magic, version, length, uuid and responder id in, so
 *      the fuzzer reaches the rest), then, if accepted, a fuzzed FINISH;
 *   1  a fuzzed REPLY to an initiator that sent a real HELLO;
 *   2  a real handshake between two hosts holding fuzz-chosen key sets
 *      (one or two of three keys each), then sealed frames of fuzzed
 *      payloads, some altered, replayed, reordered or cut on the way;
 *   3  frame headers through ta_frame_len.
 * Checks: no fuzzed FINISH or REPLY ever authenticates (without a key the
 * fuzzer cannot make a MAC: an accepted one would be a forgery); a real
 * handshake succeeds exactly when the two hosts share a key and then both
 * sides hold matching session keys; every untouched frame opens in order to
 * its payload and every altered, replayed, reordered or cut one is refused;
 * a frame length is refused or within its bounds. */
#include "common/le.h"
#include "fencelock/error.h"
#include "raft/tcp_auth.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 1024u

static const uint8_t k_uuid[16] = {0xfe, 0x1c, 0x10, 0xc4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static uint8_t g_keys[3][TA_KEY_BYTES];

static void setup(void)
{
	static bool done;
	if (done)
		return;
	fuzz_quiet();
	FUZZ_CHECK(ta_init() == 0, "libsodium init failed");
	for (uint32_t i = 0; i < 3; i++)
		memset(g_keys[i], 0x31 + (int)i, TA_KEY_BYTES);
	done = true;
}

/* One or two of the three keys, chosen by b. */
static void pick_keys(uint8_t b, struct ta_keys *k)
{
	k->n = 1 + (b & 1);
	memcpy(k->key[0], g_keys[(b >> 1) % 3], TA_KEY_BYTES);
	memcpy(k->key[1], g_keys[(b >> 3) % 3], TA_KEY_BYTES);
}

static void responder(struct fuzz_in *in, bool fix)
{
	struct ta_keys keys;
	pick_keys(fuzz_u8(in), &keys);
	uint8_t hello[TA_HELLO_BYTES];
	fuzz_fill(in, hello, sizeof(hello));
	if (fix) {
		fl_put_le32(hello, TA_HELLO_MAGIC);
		fl_put_le16(hello + 4, TA_VERSION);
		fl_put_le16(hello + 6, TA_HELLO_BYTES);
		memcpy(hello + 8, k_uuid, sizeof(k_uuid));
		fl_put_le64(hello + 32, 1);
	}
	uint64_t init_id = 0;
	int rv = ta_hello_check(hello, k_uuid, 1, &init_id);
	FUZZ_CHECK(rv == 0 || rv == -FL_EMAGIC || rv == -FL_EVERSION || rv == -FL_EFOREIGN, "hello check: %d", rv);
	if (rv != 0)
		return;
	FUZZ_CHECK(init_id == fl_get_le64(hello + 24), "hello check reports another initiator id");
	struct ta_hs hs;
	uint8_t reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	ta_reply_make(&hs, &keys, hello, reply);
	fuzz_fill(in, finish, sizeof(finish));
	if (fix) {
		fl_put_le32(finish, TA_FINISH_MAGIC);
		fl_put_le16(finish + 4, TA_VERSION);
		fl_put_le16(finish + 6, TA_FINISH_BYTES);
	}
	struct ta_session s;
	rv = ta_finish_check(&hs, &keys, finish, &s);
	FUZZ_CHECK(rv == -FL_EMAGIC || rv == -FL_EVERSION || rv == -FL_EPERM,
		   "a forged FINISH was accepted (%d)", rv);
}

static void initiator(struct fuzz_in *in, bool fix)
{
	struct ta_keys keys;
	pick_keys(fuzz_u8(in), &keys);
	struct ta_hs hs;
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	ta_hello_make(&hs, k_uuid, 2, 1, hello);
	fuzz_fill(in, reply, sizeof(reply));
	if (fix) {
		fl_put_le32(reply, TA_REPLY_MAGIC);
		fl_put_le16(reply + 4, TA_VERSION);
		fl_put_le16(reply + 6, TA_REPLY_BYTES);
	}
	struct ta_session s;
	int rv = ta_reply_check(&hs, &keys, reply, finish, &s);
	FUZZ_CHECK(rv == -FL_EMAGIC || rv == -FL_EVERSION || rv == -FL_EPERM, "a forged REPLY was accepted (%d)", rv);
}

static bool share_key(const struct ta_keys *a, const struct ta_keys *b)
{
	for (uint32_t i = 0; i < a->n; i++)
		for (uint32_t j = 0; j < b->n; j++)
			if (memcmp(a->key[i], b->key[j], TA_KEY_BYTES) == 0)
				return true;
	return false;
}

/* Sends fuzzed payloads from i to r, some tampered with on the way. */
static void frames(struct fuzz_in *in, struct ta_session *i, struct ta_session *r)
{
	static uint8_t sealed[TA_FRAME_HDR_BYTES + MAX_PAYLOAD + TA_TAG_BYTES];
	static uint8_t last[sizeof(sealed)];
	uint32_t last_len = 0;
	while (in->n > 0) {
		uint8_t how = fuzz_u8(in);
		uint8_t payload[MAX_PAYLOAD];
		uint32_t len = fuzz_u16(in) % MAX_PAYLOAD;
		len = (uint32_t)fuzz_fill(in, payload, len);
		uint32_t total = (uint32_t)ta_sealed_bytes(len);
		ta_seal(i, payload, len, sealed);
		bool tampered = false;
		if ((how & 3) == 1) {
			sealed[fuzz_u16(in) % total] ^= (uint8_t)(1 + fuzz_u8(in) % 255u);
			tampered = true;
		} else if ((how & 3) == 2 && last_len > 0) {
			memcpy(sealed, last, last_len); /* a replay of the previous frame */
			total = last_len;
			tampered = true;
		}
		memcpy(last, sealed, total);
		last_len = total;
		int64_t sl = ta_frame_len(sealed, MAX_PAYLOAD);
		if (sl < 0) {
			FUZZ_CHECK(tampered, "an untouched frame header was refused");
			return; /* the receiver drops the connection */
		}
		if ((uint64_t)sl + TA_FRAME_HDR_BYTES > total) {
			FUZZ_CHECK(tampered, "an untouched frame announces more than it holds");
			return;
		}
		int rv = ta_open(r, sealed, sealed + TA_FRAME_HDR_BYTES, (uint32_t)sl);
		if (tampered) {
			FUZZ_CHECK(rv == -FL_EPERM, "a tampered or replayed frame opened (%d)", rv);
			return;
		}
		FUZZ_CHECK(rv == 0, "an untouched frame did not open (%d)", rv);
		FUZZ_CHECK((uint32_t)sl == len + TA_TAG_BYTES, "opened frame has another length");
		FUZZ_CHECK(memcmp(sealed + TA_FRAME_HDR_BYTES, payload, len) == 0, "opened frame has another payload");
	}
}

static void real_handshake(struct fuzz_in *in)
{
	struct ta_keys ki, kr;
	pick_keys(fuzz_u8(in), &ki);
	pick_keys(fuzz_u8(in), &kr);
	struct ta_hs hi, hr;
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	ta_hello_make(&hi, k_uuid, 2, 1, hello);
	uint64_t id = 0;
	FUZZ_CHECK(ta_hello_check(hello, k_uuid, 1, &id) == 0, "a real HELLO was refused");
	FUZZ_CHECK(id == 2, "a real HELLO names initiator %llu", (unsigned long long)id);
	ta_reply_make(&hr, &kr, hello, reply);
	struct ta_session si, sr;
	int rv = ta_reply_check(&hi, &ki, reply, finish, &si);
	bool shared = share_key(&ki, &kr);
	FUZZ_CHECK((rv == 0) == shared, "initiator %s a responder %s a key with it (%d)",
		   rv == 0 ? "accepted" : "refused", shared ? "sharing" : "not sharing", rv);
	if (rv != 0)
		return;
	FUZZ_CHECK(ta_finish_check(&hr, &kr, finish, &sr) == 0, "a real FINISH was refused");
	FUZZ_CHECK(memcmp(si.tx, sr.rx, TA_KEY_BYTES) == 0, "initiator to responder keys differ");
	FUZZ_CHECK(memcmp(si.rx, sr.tx, TA_KEY_BYTES) == 0, "responder to initiator keys differ");
	FUZZ_CHECK(memcmp(si.key_id, sr.key_id, TA_KEY_ID_BYTES) == 0, "sessions name different cluster keys");
	frames(in, &si, &sr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size == 0)
		return 0;
	struct fuzz_in in = {data + 1, size - 1};
	bool fix = (data[0] & 4) != 0;
	switch (data[0] % 4) {
	case 0:
		responder(&in, fix);
		break;
	case 1:
		initiator(&in, fix);
		break;
	case 2:
		real_handshake(&in);
		break;
	default:
		while (in.n > 0) {
			uint8_t hdr[TA_FRAME_HDR_BYTES];
			fuzz_fill(&in, hdr, sizeof(hdr));
			int64_t sl = ta_frame_len(hdr, MAX_PAYLOAD);
			FUZZ_CHECK(sl == -FL_EINVAL || (sl >= TA_TAG_BYTES && sl <= MAX_PAYLOAD + TA_TAG_BYTES),
				   "frame length %lld out of bounds", (long long)sl);
		}
		break;
	}
	return 0;
}
