/* Fuzz target: the Raft TCP transport's inbound framing (raft/tcp.c), through
 * its public interface: a real transport on a real epoll loop listens on
 * 127.0.0.1 (kernel-chosen port); each input is sent on a new connection,
 * which is then half-closed, and the loop runs until the transport has
 * closed its side.
 *
 * Mode byte: bit 0 clear: the rest is the raw byte stream; set: the rest
 * describes frames (flags, length, payload) that the target assembles with
 * the right magic, version, cluster uuid, receiver and CRC unless a flag
 * asks to break one of them, so the fuzzer reaches delivery and every
 * refusal past the CRC.
 *
 * Checks: the transport delivers exactly the frames a reference reading of
 * the frame format (transport.h) accepts, in order, with their sender and
 * payload, and stops at the first frame it must refuse (bad magic, version,
 * header length, length above the maximum, CRC, a sender that changes, a
 * frame of another cluster or receiver, a sender that is not a configured
 * peer); its frames_received counter agrees; it closes the connection after
 * the stream ends; nothing crashes or leaks. Every delivered payload goes
 * through raft_msg_decode as the node does. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/crc32c.h"
#include "common/le.h"
#include "common/loop.h"
#include "fencelock/error.h"
#include "raft/msg.h"
#include "raft/transport.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELF 1u
#define MAX_FRAME 4096u
#define MAX_STREAM (64u * 1024u)
#define MAX_FRAMES 1400u /* > MAX_STREAM / header bytes */

static const uint8_t k_uuid[16] = {0xfe, 0x1c, 0x10, 0xc4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

struct expect {
	uint64_t from;
	uint32_t off, len; /* payload in the stream */
};

static struct fl_eloop *g_el;
static struct raft_tcp *g_t;
static const uint8_t *g_stream;
static struct expect g_exp[MAX_FRAMES];
static uint32_t g_n_exp, g_n_got;

static void deliver(void *arg, uint64_t from, const uint8_t *payload, uint32_t len)
{
	(void)arg;
	FUZZ_CHECK(g_n_got < g_n_exp, "delivered frame %u; the format accepts only %u", g_n_got + 1, g_n_exp);
	const struct expect *e = &g_exp[g_n_got++];
	FUZZ_CHECK(from == e->from, "frame %u delivered from host %llu, sent from %llu", g_n_got,
		   (unsigned long long)from, (unsigned long long)e->from);
	FUZZ_CHECK(len == e->len, "frame %u delivered with %u bytes, sent with %u", g_n_got, len, e->len);
	FUZZ_CHECK(len == 0 || memcmp(payload, g_stream + e->off, len) == 0, "frame %u payload changed", g_n_got);
	struct raft_msg m;
	if (raft_msg_decode(payload, len, &m) == 0)
		raft_msg_release(&m);
}

static bool configured(uint64_t id) { return id == 2 || id == 3; }

/* The reference reading of the stream: what the transport must deliver. */
static void expect_frames(const uint8_t *s, size_t len)
{
	g_n_exp = 0;
	uint64_t conn_from = 0;
	size_t off = 0;
	while (len - off >= RAFT_TCP_FRAME_HEADER_BYTES) {
		FUZZ_CHECK(g_n_exp < MAX_FRAMES, "more frames than MAX_FRAMES");
		const uint8_t *h = s + off;
		uint32_t plen = fl_get_le32(h + 40);
		if (fl_get_le32(h) != RAFT_TCP_MAGIC || fl_get_le16(h + 4) != RAFT_TCP_VERSION ||
		    fl_get_le16(h + 6) != RAFT_TCP_FRAME_HEADER_BYTES || plen > MAX_FRAME)
			return;
		if (len - off - RAFT_TCP_FRAME_HEADER_BYTES < plen)
			return;
		uint32_t crc = ~fl_crc32c(fl_crc32c(~0u, h, 44), h + RAFT_TCP_FRAME_HEADER_BYTES, plen);
		uint64_t from = fl_get_le64(h + 24);
		if (crc != fl_get_le32(h + 44) || (conn_from != 0 && from != conn_from))
			return;
		if (memcmp(h + 8, k_uuid, 16) != 0 || fl_get_le64(h + 32) != SELF || !configured(from))
			return;
		conn_from = from;
		g_exp[g_n_exp++] = (struct expect){from, (uint32_t)(off + RAFT_TCP_FRAME_HEADER_BYTES), plen};
		off += RAFT_TCP_FRAME_HEADER_BYTES + plen;
	}
}

/* Mode 1: frames assembled from descriptors. */
static size_t build_frames(struct fuzz_in *in, uint8_t *out)
{
	size_t off = 0;
	while (in->n > 0 && off + RAFT_TCP_FRAME_HEADER_BYTES + 2048 <= MAX_STREAM) {
		uint8_t flags = fuzz_u8(in);
		uint32_t plen = fuzz_u16(in) % 2048u;
		uint8_t *h = out + off;
		static const uint64_t froms[] = {2, 3, 7, SELF};
		uint64_t from = froms[(flags >> 5) & 3];
		fl_put_le32(h, flags & 8 ? 0x54524C47u : RAFT_TCP_MAGIC);
		fl_put_le16(h + 4, RAFT_TCP_VERSION);
		fl_put_le16(h + 6, RAFT_TCP_FRAME_HEADER_BYTES);
		memcpy(h + 8, k_uuid, 16);
		if (flags & 2)
			h[8 + fuzz_u8(in) % 16] ^= 0x40;
		fl_put_le64(h + 24, from);
		fl_put_le64(h + 32, flags & 4 ? 2 : SELF);
		fl_put_le32(h + 40, flags & 16 ? MAX_FRAME + 1 + plen : plen);
		fuzz_fill(in, h + RAFT_TCP_FRAME_HEADER_BYTES, plen);
		uint32_t crc = ~fl_crc32c(fl_crc32c(~0u, h, 44), h + RAFT_TCP_FRAME_HEADER_BYTES, plen);
		fl_put_le32(h + 44, flags & 1 ? crc ^ 1 : crc);
		off += RAFT_TCP_FRAME_HEADER_BYTES + plen;
		if (flags & 0x80) {
			/* A truncated last frame. */
			off -= fuzz_u8(in) % (RAFT_TCP_FRAME_HEADER_BYTES + plen);
			break;
		}
	}
	return off;
}

static void setup(void)
{
	fuzz_quiet();
	g_el = fl_eloop_new();
	FUZZ_CHECK(g_el != NULL, "epoll loop failed");
	struct raft_tcp_config c = {.self_id = SELF, .listen_addr = "127.0.0.1", .listen_port = 0,
				    .max_frame_bytes = MAX_FRAME, .deliver = deliver};
	memcpy(c.cluster_uuid, k_uuid, sizeof(k_uuid));
	char err[256];
	FUZZ_CHECK(raft_tcp_new(g_el, &c, &g_t, err, sizeof(err)) == 0, "transport failed: %s", err);
	/* Peers whose frames are accepted; nobody listens on port 1, so the
	 * outbound connections only retry in the background. */
	FUZZ_CHECK(raft_tcp_add_peer(g_t, 2, "127.0.0.1", 1) == 0, "add peer failed");
	FUZZ_CHECK(raft_tcp_add_peer(g_t, 3, "127.0.0.1", 1) == 0, "add peer failed");
}

/* Sends s on a new connection, half-closes it and runs the loop until the
 * transport closed its side. */
static void send_stream(const uint8_t *s, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0, "socket failed");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(raft_tcp_port(g_t)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect failed: %s", strerror(errno));
	size_t sent = 0;
	bool closed = false;
	for (uint32_t round = 0; round < 100000 && !closed; round++) {
		if (sent < len) {
			ssize_t n = send(fd, s + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				closed = true; /* the transport dropped us mid-stream */
			if (sent == len)
				shutdown(fd, SHUT_WR);
		} else if (len == 0 && round == 0) {
			shutdown(fd, SHUT_WR);
		}
		fl_eloop_run_once(g_el, 200);
		char c;
		ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
		FUZZ_CHECK(r <= 0, "the transport wrote on an inbound connection");
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			closed = true;
	}
	FUZZ_CHECK(closed, "the transport never closed a finished connection");
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (g_el == NULL)
		setup();
	if (size == 0)
		return 0;
	static uint8_t stream[MAX_STREAM];
	size_t len;
	if (data[0] & 1) {
		struct fuzz_in in = {data + 1, size - 1};
		len = build_frames(&in, stream);
	} else {
		len = size - 1 < MAX_STREAM ? size - 1 : MAX_STREAM;
		memcpy(stream, data + 1, len);
	}
	g_stream = stream;
	expect_frames(stream, len);
	g_n_got = 0;
	uint64_t before = raft_tcp_get_stats(g_t)->frames_received;
	send_stream(stream, len);
	FUZZ_CHECK(g_n_got == g_n_exp, "delivered %u frames, the format accepts %u", g_n_got, g_n_exp);
	FUZZ_CHECK(raft_tcp_get_stats(g_t)->frames_received - before == g_n_got, "frames_received disagrees");
	return 0;
}
