/* The event history's times, --since, filters and text rows (evview.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/host/cfg_syntax.h"
#include "plugin/host/evview.h"

#define EV_US_PER_S 1000000ull
#define EV_YEAR_MAX 9999
#define EV_SINCE_MAX_S (100ull * 366u * 24u * 3600u) /* a duration of at most 100 years */

bool ev_time_format(uint64_t wall_us, char *buf, size_t len)
{
	FL_ASSERT(buf != NULL);
	FL_ASSERT(len >= EV_TIME_MAX);
	buf[0] = '\0';
	time_t t = (time_t)(wall_us / EV_US_PER_S);
	struct tm tm;
	if (wall_us == 0 || wall_us / EV_US_PER_S > (uint64_t)INT64_MAX || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year + 1900 > EV_YEAR_MAX)
		return false;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_us % EV_US_PER_S / 1000u));
	return true;
}

/* n decimal digits at *p into *out; advances *p. */
static bool take_digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool take_char(const char **p, const char *any)
{
	if (**p == '\0' || strchr(any, **p) == NULL)
		return false;
	(*p)++;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* The fraction of a second after '.', as microseconds (digits past 6 ignored). */
static bool take_fraction(const char **p, uint64_t *us)
{
	*us = 0;
	if (**p != '.')
		return true;
	(*p)++;
	uint64_t scale = 100000;
	int n = 0;
	while (**p >= '0' && **p <= '9') {
		if (++n > 9)
			return false;
		*us += (uint64_t)(**p - '0') * scale;
		scale /= 10;
		(*p)++;
	}
	return n > 0;
}

/* Z, or +HH:MM / -HH:MM as seconds east of UTC. */
static bool take_offset(const char **p, long *east_s)
{
	*east_s = 0;
	if (take_char(p, "Zz"))
		return true;
	char sign = **p;
	int hh, mm;
	if (!take_char(p, "+-") || !take_digits(p, 2, &hh) || !take_char(p, ":") || !take_digits(p, 2, &mm) ||
	    hh > 23 || mm > 59)
		return false;
	*east_s = (sign == '-' ? -1 : 1) * (long)(hh * 3600 + mm * 60);
	return true;
}

int ev_time_parse(const char *s, uint64_t *wall_us)
{
	FL_ASSERT(wall_us != NULL);
	const char *p = s;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int y, mo, d, h, mi, sec;
	uint64_t frac;
	long east;
	if (s == NULL || !take_digits(&p, 4, &y) || !take_char(&p, "-") || !take_digits(&p, 2, &mo) ||
	    !take_char(&p, "-") || !take_digits(&p, 2, &d) || !take_char(&p, "Tt ") || !take_digits(&p, 2, &h) ||
	    !take_char(&p, ":") || !take_digits(&p, 2, &mi) || !take_char(&p, ":") || !take_digits(&p, 2, &sec) ||
	    !take_fraction(&p, &frac) || !take_offset(&p, &east) || *p != '\0')
		return -FL_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -FL_EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec; /* a leap second counts as the next second's start */
	int64_t t = (int64_t)timegm(&tm) - east;
	if (t < 0)
		return -FL_EINVAL;
	*wall_us = (uint64_t)t * EV_US_PER_S + frac;
	return 0;
}

/* A whole number of at most 19 digits, nothing else. */
static bool parse_u64(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 19)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10u + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "30s", "10m", "2h", "1d": seconds in *out. */
static bool parse_duration(const char *s, uint64_t *out)
{
	char num[24];
	size_t n = strlen(s);
	if (n < 2 || n > sizeof(num))
		return false;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	static const struct {
		char unit;
		uint64_t s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	uint64_t v;
	if (!parse_u64(num, &v))
		return false;
	for (size_t i = 0; i < FL_ARRAY_SIZE(units); i++)
		if (s[n - 1] == units[i].unit) {
			if (v > EV_SINCE_MAX_S / units[i].s)
				return false;
			*out = v * units[i].s;
			return true;
		}
	return false;
}

int ev_since_parse(const char *s, uint64_t now_us, struct ev_since *out, char *err, size_t errlen)
{
	FL_ASSERT(out != NULL);
	FL_ASSERT(err != NULL);
	FL_ASSERT(errlen > 0);
	memset(out, 0, sizeof(*out));
	uint64_t v;
	if (s != NULL && s[0] == '@' && parse_u64(s + 1, &v)) {
		out->kind = EV_SINCE_INDEX;
		out->index = v;
		return 0;
	}
	if (s != NULL && parse_duration(s, &v)) {
		out->kind = EV_SINCE_TIME;
		out->wall_us = now_us > v * EV_US_PER_S ? now_us - v * EV_US_PER_S : 0;
		return 0;
	}
	if (s != NULL && ev_time_parse(s, &v) == 0) {
		out->kind = EV_SINCE_TIME;
		out->wall_us = v;
		return 0;
	}
	snprintf(err, errlen,
		 "--since '%.64s' is not a time: give an RFC 3339 time (2026-12-06T19:30:00Z, or with an offset "
		 "+01:00), a whole number of seconds, minutes, hours or days back from now (30s, 10m, 2h, 1d; at most "
		 "100 years), or @INDEX (a Raft index)",
		 s != NULL ? s : "");
	return -FL_EINVAL;
}

int ev_filter_host(const char *s, struct ev_filter *f, char *err, size_t errlen)
{
	FL_ASSERT(f != NULL);
	FL_ASSERT(err != NULL);
	uint64_t id;
	if (s != NULL && s[0] != '\0' && strspn(s, "0123456789") == strlen(s)) { /* digits only: an id */
		if (!parse_u64(s, &id) || id < 1 || id > CFG_HOST_ID_MAX) {
			snprintf(err, errlen, "--host %.32s: a host id is 1..%u", s, CFG_HOST_ID_MAX);
			return -FL_EINVAL;
		}
		f->host_id = (uint32_t)id;
		f->host_name = NULL;
		return 0;
	}
	if (s == NULL || !cfg_name_valid(s)) {
		snprintf(err, errlen, "--host '%.64s' is neither a host id (1..%u) nor a host name (1..%u of [A-Za-z0-9._-])",
			 s != NULL ? s : "", CFG_HOST_ID_MAX, CFG_NAME_MAX);
		return -FL_EINVAL;
	}
	f->host_id = 0;
	f->host_name = s;
	return 0;
}

static bool int_is(const json_t *ev, const char *key, uint64_t v)
{
	const json_t *j = json_object_get(ev, key);
	return json_is_integer(j) && json_integer_value(j) >= 0 && (uint64_t)json_integer_value(j) == v;
}

static bool str_is(const json_t *ev, const char *key, const char *v)
{
	const char *s = json_string_value(json_object_get(ev, key));
	return s != NULL && strcmp(s, v) == 0;
}

/* An integer field's value, false if it is null or not a non-negative integer. */
static bool int_of(const json_t *ev, const char *key, uint64_t *v)
{
	const json_t *j = json_object_get(ev, key);
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

bool ev_match(const json_t *ev, const struct ev_filter *f)
{
	FL_ASSERT(f != NULL);
	uint64_t v;
	if (f->since.kind == EV_SINCE_TIME && (!int_of(ev, "wall_us", &v) || v < f->since.wall_us))
		return false;
	if (f->since.kind == EV_SINCE_INDEX && (!int_of(ev, "index", &v) || v < f->since.index))
		return false;
	if (f->host_id != 0 && !int_is(ev, "host", f->host_id) && !int_is(ev, "from_host", f->host_id))
		return false;
	if (f->host_name != NULL && !str_is(ev, "host_name", f->host_name) && !str_is(ev, "from_host_name", f->host_name))
		return false;
	return f->vm == NULL || str_is(ev, "vm", f->vm);
}

const char *ev_col_header(enum ev_col c)
{
	static const char *const names[EV_COLS] = {
		[EV_COL_TIME] = "TIME (UTC)",
		[EV_COL_INDEX] = "INDEX",
		[EV_COL_TYPE] = "TYPE",
		[EV_COL_HOST] = "HOST",
		[EV_COL_VM] = "VM",
		[EV_COL_DETAIL] = "DETAIL",
		[EV_COL_CAUSE] = "CAUSE",
		[EV_COL_BY] = "ASKED BY",
	};
	FL_ASSERT(c < EV_COLS);
	return names[c];
}

/* "ID (NAME)", "ID" without a name; "" for no host. */
static void host_text(const json_t *ev, const char *id_key, const char *name_key, char *buf, size_t len)
{
	uint64_t id;
	const char *name = json_string_value(json_object_get(ev, name_key));
	if (!int_of(ev, id_key, &id))
		snprintf(buf, len, "%s", "");
	else if (name != NULL)
		snprintf(buf, len, "%" PRIu64 " (%s)", id, name);
	else
		snprintf(buf, len, "%" PRIu64, id);
}

/* Appends text to cell, ", "-separated (cut at EV_CELL_MAX). */
static void cell_add(char *cell, const char *text)
{
	size_t l = strlen(cell);
	snprintf(cell + l, EV_CELL_MAX - l, "%s%s", l > 0 ? ", " : "", text);
}

static void detail_text(const json_t *ev, char *cell)
{
	char host[EV_CELL_MAX], part[EV_CELL_MAX + 8];
	uint64_t v;
	cell[0] = '\0';
	const char *state = json_string_value(json_object_get(ev, "state"));
	if (state != NULL)
		cell_add(cell, state);
	host_text(ev, "from_host", "from_host_name", host, sizeof(host));
	if (host[0] != '\0') {
		snprintf(part, sizeof(part), "from %s", host);
		cell_add(cell, part);
	}
	if (int_of(ev, "incarnation", &v)) {
		snprintf(part, sizeof(part), "incarnation %" PRIu64, v);
		cell_add(cell, part);
	}
	if (int_of(ev, "fence_index", &v)) {
		snprintf(part, sizeof(part), "fence @%" PRIu64, v);
		cell_add(cell, part);
	}
	if (str_is(ev, "type", "leader") && int_of(ev, "term", &v)) {
		snprintf(part, sizeof(part), "term %" PRIu64, v);
		cell_add(cell, part);
	}
}

void ev_text_row(const json_t *ev, char cells[EV_COLS][EV_CELL_MAX])
{
	uint64_t v;
	const char *s = json_string_value(json_object_get(ev, "time"));
	snprintf(cells[EV_COL_TIME], EV_CELL_MAX, "%s", s != NULL ? s : "-");
	if (int_of(ev, "index", &v))
		snprintf(cells[EV_COL_INDEX], EV_CELL_MAX, "%" PRIu64, v);
	else
		snprintf(cells[EV_COL_INDEX], EV_CELL_MAX, "-");
	s = json_string_value(json_object_get(ev, "type"));
	snprintf(cells[EV_COL_TYPE], EV_CELL_MAX, "%s", s != NULL ? s : "?");
	host_text(ev, "host", "host_name", cells[EV_COL_HOST], EV_CELL_MAX);
	s = json_string_value(json_object_get(ev, "vm"));
	snprintf(cells[EV_COL_VM], EV_CELL_MAX, "%.64s", s != NULL ? s : "");
	detail_text(ev, cells[EV_COL_DETAIL]);
	s = json_string_value(json_object_get(ev, "cause"));
	snprintf(cells[EV_COL_CAUSE], EV_CELL_MAX, "%s", s != NULL ? s : "");
	char *by = cells[EV_COL_BY], h[EV_CELL_MAX];
	host_text(ev, "by_host", "by_host_name", h, sizeof(h));
	snprintf(by, EV_CELL_MAX, "%s%.100s", h[0] != '\0' ? "host " : "", h);
	if (int_of(ev, "by_uid", &v)) {
		char part[32];
		snprintf(part, sizeof(part), "uid %" PRIu64, v);
		cell_add(by, part);
	}
	for (int c = 0; c < EV_COLS; c++)
		if (cells[c][0] == '\0')
			snprintf(cells[c], EV_CELL_MAX, "-");
}
