/* Names, addresses, durations and numbers as fencelock reads them (see
 * cfg_syntax.h). Pure string checks: no allocation, no global state, so both
 * the daemon's config parser and the client library can use them. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "fencelock/error.h"
#include "plugin/host/cfg_syntax.h"

bool cfg_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CFG_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

int cfg_parse_u32(const char *s, uint32_t *out)
{
	if (*s < '0' || *s > '9')
		return -FL_EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return -FL_EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int cfg_parse_duration_ms(const char *s, uint32_t max_ms, uint32_t *out_ms)
{
	char num[24];
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits >= sizeof(num))
		return -FL_EINVAL;
	memcpy(num, s, digits);
	num[digits] = '\0';
	uint32_t v;
	if (cfg_parse_u32(num, &v) != 0)
		return -FL_EINVAL;
	const char *unit = s + digits;
	uint64_t ms;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		ms = (uint64_t)v * 1000u;
	else if (strcmp(unit, "ms") == 0)
		ms = v;
	else
		return -FL_EINVAL;
	if (ms > max_ms)
		return -FL_EINVAL;
	*out_ms = (uint32_t)ms;
	return 0;
}

int cfg_parse_ipv4_port(const char *s, struct sockaddr_in *out)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || (size_t)(colon - s) >= INET_ADDRSTRLEN)
		return -FL_EINVAL;
	char ip[INET_ADDRSTRLEN];
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	uint32_t port;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1 || cfg_parse_u32(colon + 1, &port) != 0 ||
	    port == 0 || port > 65535)
		return -FL_EINVAL;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_addr = a;
	out->sin_port = htons((uint16_t)port);
	return 0;
}
