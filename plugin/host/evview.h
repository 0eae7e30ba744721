/* The cluster's event history as people and scripts read it: the pure
 * parts of `fencelock events` (plugin/cli/cmd_events.c) and of the
 * daemon's `events` reply (plugin/daemon/status.c). No I/O, no clock:
 * the caller passes the time "now" where a relative time needs it.
 *
 * An event, as the `events` op carries it (docs/control-protocol.md), is a
 * JSON object with seq, index, term, time (RFC 3339, UTC, or null when the
 * proposer's wall clock is unknown), wall_us (or null), type, host and
 * host_name, vm, from_host and from_host_name, state, incarnation,
 * fence_index, cause, leader and leader_name, by_host and by_host_name,
 * by_uid; anything unknown or not relevant to the type is null. */
#ifndef FL_PLUGIN_EVVIEW_H
#define FL_PLUGIN_EVVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"

#define EV_TIME_MAX 32u /* "2026-12-06T19:30:02.123Z" and its NUL, with room */

/* Formats wall_us (microseconds since the epoch) as RFC 3339 in UTC with
 * milliseconds, "2026-12-06T19:30:02.123Z", into buf (len >= EV_TIME_MAX).
 * Returns false, with buf "", for 0 (unknown) or a time past year 9999. */
bool ev_time_format(uint64_t wall_us, char *buf, size_t len);

/* Parses an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, optional fraction of
 * a second (up to 9 digits), then Z or +HH:MM / -HH:MM ('t', 'z' and a
 * space for 'T' accepted). Returns 0 and *wall_us, or -FL_EINVAL for
 * anything else (a field out of range, a date before 1970 or past 9999,
 * trailing text). */
FL_MUST_CHECK int ev_time_parse(const char *s, uint64_t *wall_us);

enum ev_since_kind {
	EV_SINCE_ALL = 0, /* no --since */
	EV_SINCE_TIME,	  /* events whose wall clock is known and >= wall_us */
	EV_SINCE_INDEX,	  /* events from Raft entries >= index */
};

struct ev_since {
	enum ev_since_kind kind;
	uint64_t wall_us;
	uint64_t index;
};

/* Parses --since: an RFC 3339 time, a duration back from now_us ("30s",
 * "10m", "2h", "1d": a whole number and one unit, at most 100 years), or
 * "@INDEX" (a Raft index). Returns 0, or -FL_EINVAL with a sentence in err
 * naming the accepted forms. */
FL_MUST_CHECK int ev_since_parse(const char *s, uint64_t now_us, struct ev_since *out, char *err, size_t errlen);

/* Which events to show. host_id 0 and host_name NULL: any host; vm NULL: any VM. */
struct ev_filter {
	struct ev_since since;
	uint32_t host_id;      /* --host as a number */
	const char *host_name; /* --host as a name */
	const char *vm;
};

/* Parses --host: an id (1..2000) or a host name. Returns 0, or -FL_EINVAL
 * with a sentence in err. */
FL_MUST_CHECK int ev_filter_host(const char *s, struct ev_filter *f, char *err, size_t errlen);

/* True if event ev passes f: --host matches the host it is about or the one
 * a VM moved from; --vm its VM. */
bool ev_match(const json_t *ev, const struct ev_filter *f);

/* The text table's columns. */
enum ev_col {
	EV_COL_TIME,
	EV_COL_INDEX,
	EV_COL_TYPE,
	EV_COL_HOST,
	EV_COL_VM,
	EV_COL_DETAIL,
	EV_COL_CAUSE,
	EV_COL_BY,
	EV_COLS
};
#define EV_CELL_MAX 128u

/* The column headers. */
const char *ev_col_header(enum ev_col c);

/* Fills one row of the text table from ev: the time ("-" unknown), the
 * index, the type, the host as "ID (NAME)", the VM, the details (state,
 * where a VM came from, incarnation, term, fence request), the cause and
 * who asked ("host ID (NAME)", ", uid N" for an operator). */
void ev_text_row(const json_t *ev, char cells[EV_COLS][EV_CELL_MAX]);

#endif
