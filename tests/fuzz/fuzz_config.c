/* Fuzz target: the daemon's configuration file (plugin/host/config.c):
 * cfg_load_string() on any text (the parser behind cfg_load), and the value
 * parsers it uses for durations and IPv4:port addresses.
 *
 * Checks: the loader returns 0 or -FL_EINVAL, with a one-line,
 * NUL-terminated message naming what is wrong on refusal; a configuration it
 * accepts satisfies every rule config.h states (host id 1..2000, names valid,
 * paths absolute, peers with distinct ids in range and our own id among them
 * with our listen address, the kill grace within the I/O timeout); the
 * duration and address parsers accept only what they can print back. */
#include <arpa/inet.h>
#include "fencelock/error.h"
#include "plugin/host/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct fl_config *c)
{
	FUZZ_CHECK(c->host_id >= 1, "accepted host id %u", c->host_id);
	FUZZ_CHECK(c->host_id <= CFG_HOST_ID_MAX, "accepted host id %u", c->host_id);
	FUZZ_CHECK(cfg_name_valid(c->cluster_name), "accepted cluster name '%s'", c->cluster_name);
	FUZZ_CHECK(cfg_name_valid(c->host_name), "accepted host name '%s'", c->host_name);
	FUZZ_CHECK(c->device[0] == '/', "accepted a relative device path '%s'", c->device);
	FUZZ_CHECK(c->control_socket[0] == '/', "accepted a relative control socket");
	FUZZ_CHECK(c->state_dir[0] == '/', "accepted a relative directory");
	FUZZ_CHECK(c->run_dir[0] == '/', "accepted a relative directory");
	FUZZ_CHECK(memchr(c->device, '\0', sizeof(c->device)) != NULL, "device path not terminated");
	FUZZ_CHECK(c->n_peers <= CFG_PEERS_MAX, "accepted %u peers", c->n_peers);
	FUZZ_CHECK(c->vm_kill_grace_ms <= c->io_timeout_ms, "kill grace %u ms above the I/O timeout %u ms",
		   c->vm_kill_grace_ms, c->io_timeout_ms);
	bool self = c->n_peers == 0;
	for (uint32_t i = 0; i < c->n_peers; i++) {
		const struct cfg_peer *p = &c->peers[i];
		FUZZ_CHECK(p->id >= 1, "accepted peer id %u", p->id);
		FUZZ_CHECK(p->id <= CFG_HOST_ID_MAX, "accepted peer id %u", p->id);
		for (uint32_t j = 0; j < i; j++)
			FUZZ_CHECK(c->peers[j].id != p->id, "accepted peer %u twice", p->id);
		FUZZ_CHECK(cfg_find_peer(c, p->id) == p, "cfg_find_peer does not find peer %u", p->id);
		if (p->id == c->host_id) {
			self = true;
			FUZZ_CHECK(p->addr.sin_addr.s_addr == c->listen.sin_addr.s_addr, "our own [peers] entry differs from [host] listen");
			FUZZ_CHECK(p->addr.sin_port == c->listen.sin_port, "our own [peers] entry differs from [host] listen");
		}
	}
	FUZZ_CHECK(self, "accepted [peers] without our own id %u", c->host_id);
}

/* The first line of the input through the value parsers. */
static void check_values(const char *text)
{
	char line[128];
	size_t n = strcspn(text, "\n");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, text, n);
	line[n] = '\0';
	uint32_t ms = 0;
	if (cfg_parse_duration_ms(line, 3600000u, &ms) == 0) {
		char back[32];
		snprintf(back, sizeof(back), "%ums", ms);
		uint32_t ms2 = 0;
		FUZZ_CHECK(cfg_parse_duration_ms(back, 3600000u, &ms2) == 0, "duration '%s' parsed as %u ms, which does not parse back", line, ms);
		FUZZ_CHECK(ms2 == ms, "duration '%s' parsed as %u ms, which does not parse back", line, ms);
		FUZZ_CHECK(ms <= 3600000u, "duration above its maximum");
	}
	struct sockaddr_in sa;
	if (cfg_parse_ipv4_port(line, &sa) == 0) {
		char ip[INET_ADDRSTRLEN], back[40];
		FUZZ_CHECK(inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip)) != NULL, "address does not print");
		FUZZ_CHECK(ntohs(sa.sin_port) != 0, "accepted port 0 in '%s'", line);
		snprintf(back, sizeof(back), "%s:%u", ip, ntohs(sa.sin_port));
		struct sockaddr_in sa2;
		FUZZ_CHECK(cfg_parse_ipv4_port(back, &sa2) == 0, "address '%s' does not parse back from '%s'", line, back);
		FUZZ_CHECK(sa2.sin_addr.s_addr == sa.sin_addr.s_addr, "address '%s' does not parse back from '%s'", line, back);
		FUZZ_CHECK(sa2.sin_port == sa.sin_port, "address '%s' does not parse back from '%s'", line, back);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	static struct fl_config cfg;
	char err[CFG_ERR_MAX];
	memset(err, 'x', sizeof(err));
	int rv = cfg_load_string("fuzz.conf", text, &cfg, err, sizeof(err));
	FUZZ_CHECK(rv == 0 || rv == -FL_EINVAL, "cfg_load_string returned %d", rv);
	if (rv == 0) {
		check_accepted(&cfg);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "error message not terminated");
		FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0, "error message does not name the file: %s", err);
		FUZZ_CHECK(strchr(err, '\n') == NULL, "error message spans lines: %s", err);
	}
	check_values(text);
	free(text);
	return 0;
}
