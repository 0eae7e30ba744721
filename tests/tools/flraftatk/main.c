/* flraftatk: an attacker on fencelock's Raft port, for the integration suites
 * (tests/integration/t_attack_*.sh). It speaks the real protocol with the
 * project's own code: the handshake and sealed frames of raft/tcp_auth.c,
 * plain frames as raft/transport.h describes them, arbiter payloads ('A'
 * forwarded commands encoded by fsm_cmd_encode, 'W' disk-voter envelopes,
 * 'V' views) as plugin/arbiter builds them.
 *
 *   flraftatk forge PORT UUID FROM TO KIND MODE [KEYFILE [UID]]
 *       One connection to 127.0.0.1:PORT claiming to be host FROM, talking to
 *       host TO of cluster UUID (32 hex digits), carrying one forged payload:
 *       KIND register (an 'A' vm-register of UID, default "atk", whose spec
 *       runs /bin/sh as root), place (an 'A' vm-place of UID onto FROM),
 *       witness (a 'W' envelope as the disk voter), view (a 'V' view claiming
 *       FROM is quorate, leads and serves the disk voter), opfence (an 'O'
 *       operator's request, as a follower forwards it, to fence host UID),
 *       noop (a payload
 *       of a kind no host knows, dropped: to test the handshake alone).
 *       MODE plain: as a plain (insecure-mode) frame; wrongkey: after a
 *       handshake with a random key, sealed with what that gives; key: after
 *       the handshake with the key in KEYFILE (a member's view).
 *       Prints "accepted" (the connection stayed open 300 ms after the frame)
 *       or "refused at STEP" and exits 0 or 1.
 *   flraftatk hold PORT N SECONDS UUID
 *       Holds N connections to 127.0.0.1:PORT for SECONDS, reopening each one
 *       the host closes (at most every 10 ms): a third send a plain header of
 *       cluster UUID announcing a 17 MiB frame and then nothing, a third half
 *       a HELLO, a third nothing. Prints how many were opened and how many
 *       the host closed.
 *   flraftatk proxy LISTEN_PORT TARGET_PORT SECONDS
 *       A man in the middle between the hosts' outbound connections (the
 *       cluster's address of the target host names LISTEN_PORT) and the host
 *       at TARGET_PORT, for SECONDS; one process per connection. The first
 *       connection to carry 20 sealed frames gets its 20th sent twice
 *       (replay); the second has its 20th and 21st swapped (reorder), then
 *       the bytes the host sent on it (its HELLO, FINISH and first frames)
 *       are replayed on a fresh connection of the proxy's own; everything
 *       else passes untouched. Prints one line per
 *       attack and whether the target closed the connection.
 * Exit status: 0 as described, 1 refused (forge), 2 usage or local error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "common/crc32c.h"
#include "common/le.h"
#include "plugin/model/fsm.h"
#include "raft/tcp_auth.h"
#include "raft/transport.h"
#include "common/version.h"

#define WITNESS_ID 2000u
#define HOLD_MAX 1024u
#define BIG_FRAME (17u << 20)
#define PROXY_CAPTURE 65536u
#define PROXY_ATTACK_AT 20u

static uint8_t uuid[16];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int dial(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const uint8_t *b, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes within ms; -1 on close, error or timeout. */
static int recv_exact(int fd, uint8_t *b, size_t len, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (len > 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return -1;
		ssize_t n = recv(fd, b, len, 0);
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* True when the host closed fd within ms (EOF or reset). */
static int closed_within(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		if (now >= end)
			return 0;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			return 0;
		uint8_t junk[256];
		ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
}

static int parse_uuid(const char *s)
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		uuid[i] = (uint8_t)v;
	}
	return 0;
}

static int read_key(const char *path, uint8_t key[TA_KEY_BYTES])
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	size_t n = fread(key, 1, TA_KEY_BYTES, f);
	fclose(f);
	return n == TA_KEY_BYTES ? 0 : -1;
}

/* ---- forged payloads ---- */

static size_t payload_cmd(uint8_t *out, size_t cap, const struct fsm_cmd *c)
{
	size_t len = 0;
	out[0] = 'A';
	if (fsm_cmd_encode(c, out + 1, cap - 1, &len) != 0)
		return 0;
	return len + 1;
}

static size_t payload_make(const char *kind, uint64_t from, uint64_t to, const char *uid, uint8_t *out, size_t cap)
{
	static const char spec[] = "{\"argv\":[\"/bin/sh\",\"-c\",\"id > /tmp/fencelock-pwned\"]}";
	struct fsm_cmd c;
	memset(&c, 0, sizeof(c));
	snprintf(c.uid, sizeof(c.uid), "%s", uid);
	if (strcmp(kind, "register") == 0) {
		c.type = FSM_CMD_VM_REGISTER;
		c.restart = FSM_RESTART_ALWAYS;
		c.host_id = (uint32_t)from;
		c.spec = (const uint8_t *)spec;
		c.spec_len = (uint32_t)strlen(spec);
		return payload_cmd(out, cap, &c);
	}
	if (strcmp(kind, "place") == 0) {
		c.type = FSM_CMD_VM_PLACE;
		c.host_id = (uint32_t)from;
		return payload_cmd(out, cap, &c);
	}
	if (strcmp(kind, "witness") == 0) { /* 'W', from the voter, to TO, then a Raft message's bytes */
		memset(out, 0, 64);
		out[0] = 'W';
		fl_put_le64(out + 1, WITNESS_ID);
		fl_put_le64(out + 9, to);
		out[17] = 2; /* a vote-granted-looking first byte; the transport must not let it through */
		return 64;
	}
	if (strcmp(kind, "opfence") == 0) { /* 'O': an operator's host.fence of host UID, as if forwarded */
		int n = snprintf((char *)out + 22, cap - 22, "{\"v\":1,\"op\":\"host.fence\",\"id\":%s}", uid);
		out[0] = 'O';
		out[1] = 1;                 /* version */
		fl_put_le64(out + 2, 1);    /* request id */
		fl_put_le32(out + 10, 0);   /* uid root */
		fl_put_le32(out + 14, 0);   /* gid */
		fl_put_le32(out + 18, 1);   /* pid */
		return n > 0 && (size_t)n < cap - 22 ? 22 + (size_t)n : 0;
	}
	if (strcmp(kind, "noop") == 0) { /* a payload kind no host knows: dropped, no effect */
		out[0] = 'X';
		return 1;
	}
	if (strcmp(kind, "view") == 0) { /* 'V': term 1000, leader FROM, lease just seen, all flags */
		memset(out, 0, 33);
		out[0] = 'V';
		fl_put_le64(out + 1, 1000);
		fl_put_le64(out + 9, from);
		fl_put_le32(out + 25, 0xf);
		return 33;
	}
	return 0;
}

static size_t plain_frame(uint64_t from, uint64_t to, const uint8_t *p, size_t len, uint8_t *out)
{
	fl_put_le32(out, RAFT_TCP_MAGIC);
	fl_put_le16(out + 4, RAFT_TCP_VERSION);
	fl_put_le16(out + 6, RAFT_TCP_FRAME_HEADER_BYTES);
	memcpy(out + 8, uuid, 16);
	fl_put_le64(out + 24, from);
	fl_put_le64(out + 32, to);
	fl_put_le32(out + 40, (uint32_t)len);
	memcpy(out + RAFT_TCP_FRAME_HEADER_BYTES, p, len);
	uint32_t crc = fl_crc32c(~0u, out, 44);
	crc = ~fl_crc32c(crc, p, len);
	fl_put_le32(out + 44, crc);
	return RAFT_TCP_FRAME_HEADER_BYTES + len;
}

/* The initiator's handshake with keys (a random one for wrongkey). Returns
 * NULL or the step at which the host refused. */
static const char *handshake(int fd, uint64_t from, uint64_t to, const struct ta_keys *keys, struct ta_session *s)
{
	struct ta_hs hs;
	uint8_t hello[TA_HELLO_BYTES], reply[TA_REPLY_BYTES], fin[TA_FINISH_BYTES];
	ta_hello_make(&hs, uuid, from, to, hello);
	if (send_all(fd, hello, sizeof(hello)) != 0 || recv_exact(fd, reply, sizeof(reply), 2000) != 0)
		return "HELLO";
	if (ta_reply_check(&hs, keys, reply, fin, s) != 0) {
		/* We cannot check its MAC, nor make ours: send a guess. */
		memset(fin, 0, sizeof(fin));
		fl_put_le32(fin, TA_FINISH_MAGIC);
		fl_put_le16(fin + 4, TA_VERSION);
		fl_put_le16(fin + 6, TA_FINISH_BYTES);
		randombytes_buf(fin + 16, 32);
		randombytes_buf(s, sizeof(*s));
		s->tx_ctr = 0;
	}
	if (send_all(fd, fin, sizeof(fin)) != 0)
		return "FINISH";
	return NULL;
}

static int cmd_forge(int argc, char **argv)
{
	if (argc < 7 || parse_uuid(argv[3]) != 0)
		return 2;
	uint16_t port = (uint16_t)atoi(argv[2]);
	uint64_t from = strtoull(argv[4], NULL, 10), to = strtoull(argv[5], NULL, 10);
	const char *kind = argv[6], *mode = argc > 7 ? argv[7] : "plain";
	static uint8_t payload[FSM_CMD_MAX_BYTES + 1], frame[FSM_CMD_MAX_BYTES + 1 + 64];
	size_t plen = payload_make(kind, from, to, argc > 9 ? argv[9] : "atk", payload, sizeof(payload));
	if (plen == 0)
		return 2;
	int fd = dial(port);
	if (fd < 0) {
		printf("refused at connect\n");
		return 1;
	}
	const char *step = NULL;
	if (strcmp(mode, "plain") == 0) {
		size_t flen = plain_frame(from, to, payload, plen, frame);
		step = send_all(fd, frame, flen) != 0 ? "frame" : NULL;
	} else {
		struct ta_keys keys = {.n = 1};
		struct ta_session s;
		if (strcmp(mode, "key") == 0) {
			if (argc < 9 || read_key(argv[8], keys.key[0]) != 0)
				return 2;
		} else {
			randombytes_buf(keys.key[0], TA_KEY_BYTES);
		}
		step = handshake(fd, from, to, &keys, &s);
		if (step == NULL) {
			ta_seal(&s, payload, (uint32_t)plen, frame);
			step = send_all(fd, frame, ta_sealed_bytes((uint32_t)plen)) != 0 ? "frame" : NULL;
		}
	}
	if (step == NULL && closed_within(fd, 300))
		step = "frame";
	close(fd);
	if (step != NULL) {
		printf("refused at %s\n", step);
		return 1;
	}
	printf("accepted\n");
	return 0;
}

/* ---- hold: slot exhaustion ---- */

static int hold_open(uint16_t port, uint32_t i)
{
	int fd = dial(port);
	if (fd < 0)
		return -1;
	uint8_t b[RAFT_TCP_FRAME_HEADER_BYTES];
	memset(b, 0, sizeof(b));
	if (i % 3 == 0) {
		fl_put_le32(b, RAFT_TCP_MAGIC);
		fl_put_le16(b + 4, RAFT_TCP_VERSION);
		fl_put_le16(b + 6, RAFT_TCP_FRAME_HEADER_BYTES);
		memcpy(b + 8, uuid, 16);
		fl_put_le64(b + 24, 1);
		fl_put_le32(b + 40, BIG_FRAME);
		(void)send_all(fd, b, sizeof(b));
	} else if (i % 3 == 1) {
		fl_put_le32(b, TA_HELLO_MAGIC);
		fl_put_le16(b + 4, TA_VERSION);
		fl_put_le16(b + 6, TA_HELLO_BYTES);
		memcpy(b + 8, uuid, 16);
		(void)send_all(fd, b, 30);
	}
	return fd;
}

static int cmd_hold(int argc, char **argv)
{
	if (argc < 6 || parse_uuid(argv[5]) != 0)
		return 2;
	uint16_t port = (uint16_t)atoi(argv[2]);
	uint32_t n = (uint32_t)atoi(argv[3]);
	uint64_t end = now_ms() + (uint64_t)atoi(argv[4]) * 1000u;
	static int fds[HOLD_MAX];
	static struct pollfd p[HOLD_MAX];
	uint64_t opened = 0, closed = 0;
	if (n == 0 || n > HOLD_MAX)
		return 2;
	for (uint32_t i = 0; i < n; i++) {
		fds[i] = hold_open(port, i);
		opened += fds[i] >= 0;
	}
	while (now_ms() < end) {
		for (uint32_t i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		(void)poll(p, n, 50);
		(void)usleep(10000);
		for (uint32_t i = 0; i < n; i++) {
			uint8_t junk[512];
			if (fds[i] >= 0 && !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (fds[i] >= 0 && recv(fds[i], junk, sizeof(junk), MSG_DONTWAIT) > 0)
				continue;
			if (fds[i] >= 0) {
				close(fds[i]);
				closed++;
			}
			fds[i] = hold_open(port, i);
			opened += fds[i] >= 0;
		}
	}
	printf("hold: %llu connections opened, %llu closed by the host\n", (unsigned long long)opened,
	       (unsigned long long)closed);
	return 0;
}

/* ---- proxy: replay and reorder of captured sealed frames ---- */

struct pstream {
	uint8_t buf[PROXY_CAPTURE]; /* the host's bytes of this connection (capture) */
	size_t len, parsed;         /* bytes held; bytes split into messages */
	uint32_t frames;            /* sealed frames seen */
	size_t last_off, last_len;  /* the previous frame */
	uint32_t attack;            /* 0 none yet, then 1 replay, 2 reorder, 3+ none */
};

static uint32_t *proxy_claims; /* shared by the connections' processes */

/* Splits newly received bytes into the handshake messages and sealed frames;
 * returns the length of the next complete unit at s->parsed, or 0. */
static size_t unit_len(const struct pstream *s)
{
	size_t off = s->parsed, have = s->len - off;
	if (off == 0)
		return have >= TA_HELLO_BYTES ? TA_HELLO_BYTES : 0;
	if (off == TA_HELLO_BYTES)
		return have >= TA_FINISH_BYTES ? TA_FINISH_BYTES : 0;
	if (have < TA_FRAME_HDR_BYTES)
		return 0;
	size_t l = TA_FRAME_HDR_BYTES + fl_get_le32(s->buf + off);
	return have >= l ? l : 0;
}

static const char *proxy_attack(struct pstream *s, int up, size_t off, size_t len)
{
	if (s->frames == PROXY_ATTACK_AT && s->attack == 0)
		s->attack = __atomic_add_fetch(proxy_claims, 1, __ATOMIC_SEQ_CST);
	if (s->attack == 1 && s->frames == PROXY_ATTACK_AT) {
		if (send_all(up, s->buf + off, len) != 0 || send_all(up, s->buf + off, len) != 0)
			return "replay: the target closed before the duplicate was written";
		return "replay: frame 20 sent twice";
	}
	if (s->attack == 2 && s->frames == PROXY_ATTACK_AT) {
		s->last_off = off;
		s->last_len = len;
		return ""; /* held back: sent after the next one */
	}
	if (s->attack == 2 && s->frames == PROXY_ATTACK_AT + 1) {
		if (send_all(up, s->buf + off, len) != 0 || send_all(up, s->buf + s->last_off, s->last_len) != 0)
			return "reorder: the target closed before the swap was written";
		return "reorder: frames 21 and 20 sent in that order";
	}
	return NULL;
}

/* Relays what the host sent; the attacks happen here. Returns -1 at the end. */
static int proxy_down(struct pstream *s, int down, int up)
{
	uint8_t tmp[8192];
	ssize_t n = recv(down, tmp, sizeof(tmp), 0);
	if (n <= 0)
		return -1;
	if (s->len + (size_t)n > sizeof(s->buf)) { /* capture full: plain relay */
		s->len = s->parsed = sizeof(s->buf);
		return send_all(up, tmp, (size_t)n);
	}
	memcpy(s->buf + s->len, tmp, (size_t)n);
	s->len += (size_t)n;
	for (size_t l; (l = unit_len(s)) > 0; s->parsed += l) {
		size_t off = s->parsed;
		s->frames += off > TA_HELLO_BYTES;
		const char *what = proxy_attack(s, up, off, l);
		if (what == NULL && send_all(up, s->buf + off, l) != 0)
			return -1;
		if (what != NULL && what[0] != '\0') {
			printf("%s; target %s\n", what, closed_within(up, 1000) ? "closed the connection" : "kept it open");
			fflush(stdout);
			return -1;
		}
	}
	return 0;
}

/* Replays the host's captured bytes (HELLO, FINISH, frames) on a fresh connection. */
static void proxy_replay_session(uint16_t target, const struct pstream *s)
{
	uint8_t reply[TA_REPLY_BYTES];
	int fd = dial(target);
	const char *res = "closed the connection";
	if (fd < 0 || s->parsed <= TA_HELLO_BYTES + TA_FINISH_BYTES)
		res = "could not be tried";
	else if (send_all(fd, s->buf, TA_HELLO_BYTES) != 0 || recv_exact(fd, reply, sizeof(reply), 2000) != 0)
		res = "refused the HELLO";
	else if (send_all(fd, s->buf + TA_HELLO_BYTES, s->parsed - TA_HELLO_BYTES) != 0)
		res = "closed the connection";
	else if (!closed_within(fd, 1000))
		res = "kept it open";
	printf("session replay: the host's HELLO, FINISH and %u frames on a new connection; target %s\n",
	       s->frames, res);
	fflush(stdout);
	if (fd >= 0)
		close(fd);
}

static void proxy_conn(int down, int up, uint16_t target, uint64_t end)
{
	static struct pstream s;
	memset(&s, 0, sizeof(s));
	while (up >= 0 && now_ms() < end) {
		struct pollfd p[2] = {{.fd = down, .events = POLLIN}, {.fd = up, .events = POLLIN}};
		if (poll(p, 2, 100) < 0)
			break;
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && proxy_down(&s, down, up) != 0)
			break;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t tmp[8192];
			ssize_t n = recv(up, tmp, sizeof(tmp), 0);
			if (n <= 0 || send_all(down, tmp, (size_t)n) != 0)
				break;
		}
	}
	if (up >= 0)
		close(up);
	close(down);
	if (s.attack == 2)
		proxy_replay_session(target, &s);
}

static int cmd_proxy(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	uint16_t lport = (uint16_t)atoi(argv[2]), target = (uint16_t)atoi(argv[3]);
	uint64_t end = now_ms() + (uint64_t)atoi(argv[4]) * 1000u;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(lport)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 8) != 0) {
		perror("proxy: listen");
		return 2;
	}
	printf("proxy: listening\n");
	fflush(stdout);
	signal(SIGCHLD, SIG_IGN);
	proxy_claims = mmap(NULL, sizeof(*proxy_claims), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (proxy_claims == MAP_FAILED)
		return 2;
	*proxy_claims = 0;
	while (now_ms() < end) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int down = poll(&p, 1, 100) > 0 ? accept(lfd, NULL, NULL) : -1;
		int up = down >= 0 ? dial(target) : -1;
		pid_t pid = up >= 0 ? fork() : -1;
		if (pid == 0) { /* one process per connection, gone with the proxy */
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(lfd);
			proxy_conn(down, up, target, end);
			_exit(0);
		}
		if (down >= 0)
			close(down);
		if (up >= 0)
			close(up);
	}
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	fl_version_flag(argc, argv, "flraftatk");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0)
		return 2;
	int rv = 2;
	if (argc >= 2 && strcmp(argv[1], "forge") == 0)
		rv = cmd_forge(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "hold") == 0)
		rv = cmd_hold(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "proxy") == 0)
		rv = cmd_proxy(argc, argv);
	if (rv == 2)
		fprintf(stderr, "usage: flraftatk forge PORT UUID FROM TO KIND [MODE [KEYFILE [UID]]] | hold PORT N SECONDS "
				"UUID | proxy LISTEN_PORT TARGET_PORT SECONDS\n");
	return rv;
}
