/* The syntax of the small values fencelock reads from people and peers:
 * host and cluster names, IPv4 addresses with a port, durations and plain
 * unsigned numbers. Shared by the config parser (config.c) and the control
 * protocol (ctl_proto.c); kept apart from the config parser so that
 * libfencelock, which validates control requests, needs neither libinih nor
 * the rest of the daemon's configuration. */
#ifndef FL_PLUGIN_CFG_SYNTAX_H
#define FL_PLUGIN_CFG_SYNTAX_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#define CFG_HOST_ID_MAX 2000u     /* host ids are 1..CFG_HOST_ID_MAX, as in sanlock */
#define CFG_NAME_MAX 47u          /* sanlock lockspace names are 48 bytes with NUL */

/* Parses a plain decimal number (no sign, no spaces, no suffix) into *out.
 * Returns 0, or -FL_EINVAL if malformed or above UINT32_MAX (*out untouched). */
int cfg_parse_u32(const char *s, uint32_t *out);

/* Parses "A.B.C.D:PORT" (port 1..65535) into *out. Returns 0 or -FL_EINVAL. */
int cfg_parse_ipv4_port(const char *s, struct sockaddr_in *out);

/* Parses a duration "N", "Ns" or "Nms" (N decimal, no sign) into
 * milliseconds. Returns 0, or -FL_EINVAL if malformed or above max_ms. */
int cfg_parse_duration_ms(const char *s, uint32_t max_ms, uint32_t *out_ms);

/* True if s is a valid host or cluster name: 1..CFG_NAME_MAX of [A-Za-z0-9._-],
 * not starting with '.' or '-'. */
bool cfg_name_valid(const char *s);

#endif
