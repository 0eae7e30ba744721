/* Fuzz target: the Raft message codec (raft/msg.c) and the configuration
 * codec it embeds (raft_config_decode, also used for configuration entries).
 *
 * Checks, for any input: decode never crashes or over-reads; a decoded
 * message re-encodes to exactly the input (the format has one encoding per
 * value: fixed-width fields, booleans 0/1, no trailing bytes), its size is
 * what raft_msg_encoded_size() says, and the re-encoding decodes to the same
 * bytes again; the same for a configuration and for every configuration
 * entry an append carries. */
#include "fencelock/error.h"
#include "raft/msg.h"
#include "raft/raft.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded configuration re-encodes to exactly its bytes. */
static void check_config(const uint8_t *data, size_t size)
{
	struct raft_config c;
	if (raft_config_decode(data, size, &c) != 0)
		return;
	FUZZ_CHECK(c.n <= RAFT_MAX_SERVERS, "decoded configuration has %u servers", c.n);
	uint8_t out[1 + 4 + RAFT_MAX_SERVERS * 9];
	int n = raft_config_encode(&c, out, sizeof(out));
	FUZZ_CHECK(n > 0, "a decoded configuration does not re-encode (%d)", n);
	FUZZ_CHECK((size_t)n == size, "configuration re-encodes to %d bytes, decoded from %zu", n, size);
	FUZZ_CHECK(memcmp(out, data, size) == 0, "configuration re-encodes to other bytes");
}

static void check_msg(const uint8_t *data, size_t size)
{
	struct raft_msg m;
	int rv = raft_msg_decode(data, size, &m);
	FUZZ_CHECK(rv == 0 || rv == -FL_EINVAL || rv == -FL_EVERSION, "unexpected decode result %d", rv);
	if (rv != 0)
		return;
	size_t need = raft_msg_encoded_size(&m);
	FUZZ_CHECK(need == size, "encoded size %zu differs from the %zu bytes decoded", need, size);
	uint8_t *out = malloc(size);
	FUZZ_CHECK(out != NULL, "out of memory");
	int n = raft_msg_encode(&m, out, size);
	FUZZ_CHECK(n >= 0, "decoded message re-encodes to %d bytes, not %zu", n, size);
	FUZZ_CHECK((size_t)n == size, "decoded message re-encodes to %d bytes, not %zu", n, size);
	FUZZ_CHECK(memcmp(out, data, size) == 0, "decoded message re-encodes to other bytes");
	struct raft_msg m2;
	FUZZ_CHECK(raft_msg_decode(out, size, &m2) == 0, "re-encoded message does not decode");
	FUZZ_CHECK(m2.type == m.type, "re-encoded message decodes to another header");
	FUZZ_CHECK(m2.from == m.from, "re-encoded message decodes to another header");
	FUZZ_CHECK(m2.to == m.to, "re-encoded message decodes to another header");
	FUZZ_CHECK(m2.term == m.term, "re-encoded message decodes to another header");
	if (m.type == RAFT_MSG_APPEND) {
		for (uint32_t i = 0; i < m.append.n_entries; i++) {
			const struct raft_entry *e = &m.append.entries[i];
			FUZZ_CHECK(e->len == 0 || (e->data >= data && e->data + e->len <= data + size),
				   "entry %u points outside the buffer", i);
			if (e->type == RAFT_ENTRY_CONFIG)
				check_config(e->data, e->len);
		}
	}
	if (m.type == RAFT_MSG_SNAPSHOT)
		FUZZ_CHECK(m.snapshot.len == 0 ||
				   (m.snapshot.data >= data && m.snapshot.data + m.snapshot.len <= data + size),
			   "snapshot data points outside the buffer");
	raft_msg_release(&m2);
	raft_msg_release(&m);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	/* libFuzzer passes a heap copy of exactly size bytes: ASan sees any
	 * read past its end. */
	check_msg(data, size);
	check_config(data, size);
	return 0;
}
