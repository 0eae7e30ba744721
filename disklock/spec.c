/* Parser of sanlock-style location strings (see spec.h). Splits on unescaped
 * ':' with bounded loops over the input and unescapes '\:' and '\\'. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "common/assert.h"
#include "disklock/spec.h"
#include "fencelock/error.h"

#define SPEC_FIELDS 4
#define SPEC_TEXT_MAX (FL_SPEC_PATH_MAX + 3 * 64)

__attribute__((format(printf, 3, 4))) static int spec_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -FL_EINVAL;
}

/* Copies text[start..end) into out (cap bytes with NUL), unescaping.
 * Returns the unescaped length, or -1 if it does not fit. */
static int unescape(const char *text, size_t start, size_t end, char *out, size_t cap)
{
	size_t n = 0;
	FL_ASSERT(start <= end);
	FL_ASSERT(cap > 0);
	for (size_t i = start; i < end; i++) {
		char c = text[i];
		if (c == '\\' && i + 1 < end && (text[i + 1] == ':' || text[i + 1] == '\\'))
			c = text[++i];
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return (int)n;
}

/* Finds the unescaped ':' separators; returns how many fields there are
 * (at most max_fields; more than that returns max_fields + 1). */
static int split(const char *text, size_t len, size_t starts[], size_t ends[], int max_fields)
{
	int nf = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (i == len || text[i] == ':') {
			if (nf == max_fields)
				return max_fields + 1;
			starts[nf] = start;
			ends[nf] = i;
			nf++;
			start = i + 1;
		}
	}
	return nf;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0')
		return false;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 20)
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int parse_name(const char *text, size_t s, size_t e, char out[FL_NAME_LEN + 1], const char *what,
		      char *err, size_t errlen)
{
	int n = unescape(text, s, e, out, FL_NAME_LEN + 1);
	if (n == 0)
		return spec_err(err, errlen, "empty %s name in '%s'", what, text);
	if (n < 0 || n >= FL_NAME_LEN)
		return spec_err(err, errlen, "%s name in '%s' is longer than %d bytes", what, text, FL_NAME_LEN - 1);
	return 0;
}

static int parse_path(const char *text, size_t s, size_t e, char *path, size_t cap, char *err, size_t errlen)
{
	int n = unescape(text, s, e, path, cap);
	if (n == 0)
		return spec_err(err, errlen, "missing path in '%s'", text);
	if (n < 0)
		return spec_err(err, errlen, "path in '%s' is longer than %zu bytes", text, cap - 1);
	return 0;
}

static int parse_offset(const char *text, size_t s, size_t e, uint64_t *offset, char *err, size_t errlen)
{
	char buf[32];
	if (e - s >= sizeof(buf) || unescape(text, s, e, buf, sizeof(buf)) < 0 || !parse_u64(buf, UINT64_MAX, offset))
		return spec_err(err, errlen, "offset '%.*s' in '%s' is not a decimal byte offset", (int)FL_MIN(e - s, 32u),
				text + s, text);
	return 0;
}

int fl_spec_parse(const char *text, enum fl_spec_kind kind, struct fl_spec *out, char *err, size_t errlen)
{
	size_t st[SPEC_FIELDS], en[SPEC_FIELDS];
	FL_ASSERT(text != NULL);
	FL_ASSERT(out != NULL);
	FL_ASSERT(kind == FL_SPEC_LOCKSPACE || kind == FL_SPEC_RESOURCE);
	const char *form = kind == FL_SPEC_LOCKSPACE ? "LOCKSPACE:HOST_ID:PATH:OFFSET" : "LOCKSPACE:RESOURCE:PATH:OFFSET";
	size_t len = strnlen(text, SPEC_TEXT_MAX + 1);
	if (len > SPEC_TEXT_MAX)
		return spec_err(err, errlen, "spec string is too long (%zu bytes max)", (size_t)SPEC_TEXT_MAX);
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	int nf = split(text, len, st, en, SPEC_FIELDS);
	if (nf != SPEC_FIELDS)
		return spec_err(err, errlen, "spec '%s' has %s fields: expected %s (write ':' in a path as '\\:')", text,
				nf < SPEC_FIELDS ? "too few" : "too many", form);
	int rv = parse_name(text, st[0], en[0], out->space, "lockspace", err, errlen);
	if (rv == 0 && kind == FL_SPEC_RESOURCE)
		rv = parse_name(text, st[1], en[1], out->resource, "resource", err, errlen);
	if (rv == 0 && kind == FL_SPEC_LOCKSPACE) {
		char buf[16];
		if (en[1] - st[1] >= sizeof(buf) || unescape(text, st[1], en[1], buf, sizeof(buf)) < 0 ||
		    !parse_u64(buf, FL_SPEC_HOST_ID_MAX, &out->host_id))
			rv = spec_err(err, errlen, "host_id '%.*s' in '%s' is not a number 0..%u", (int)FL_MIN(en[1] - st[1], 16u),
				      text + st[1], text, FL_SPEC_HOST_ID_MAX);
	}
	if (rv == 0)
		rv = parse_path(text, st[2], en[2], out->path, sizeof(out->path), err, errlen);
	if (rv == 0)
		rv = parse_offset(text, st[3], en[3], &out->offset, err, errlen);
	return rv;
}

int fl_spec_parse_path_offset(const char *text, char *path, size_t path_len, uint64_t *offset, char *err,
			      size_t errlen)
{
	FL_ASSERT(text != NULL);
	FL_ASSERT(path != NULL);
	FL_ASSERT(offset != NULL);
	FL_ASSERT(path_len > 1);
	size_t len = strnlen(text, SPEC_TEXT_MAX + 1);
	if (len > SPEC_TEXT_MAX)
		return spec_err(err, errlen, "path argument is too long (%zu bytes max)", (size_t)SPEC_TEXT_MAX);
	/* The last unescaped ':' (bounded scan). */
	size_t colon = len;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\\' && i + 1 < len)
			i++;
		else if (text[i] == ':')
			colon = i;
	}
	*offset = 0;
	if (colon == len)
		return parse_path(text, 0, len, path, path_len, err, errlen);
	int rv = parse_path(text, 0, colon, path, path_len, err, errlen);
	if (rv == 0)
		rv = parse_offset(text, colon + 1, len, offset, err, errlen);
	return rv;
}

static size_t escape(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; in[i] != '\0' && n + 2 < cap; i++) {
		if (in[i] == ':' || in[i] == '\\')
			out[n++] = '\\';
		out[n++] = in[i];
	}
	out[n] = '\0';
	return n;
}

int fl_spec_format(const struct fl_spec *spec, char *buf, size_t len)
{
	char path[2 * FL_SPEC_PATH_MAX + 1];
	char space[2 * FL_NAME_LEN + 1], res[2 * FL_NAME_LEN + 1];
	FL_ASSERT(spec != NULL);
	FL_ASSERT(buf != NULL);
	escape(spec->path, path, sizeof(path));
	escape(spec->space, space, sizeof(space));
	if (spec->kind == FL_SPEC_RESOURCE) {
		escape(spec->resource, res, sizeof(res));
		return snprintf(buf, len, "%s:%s:%s:%llu", space, res, path, (unsigned long long)spec->offset);
	}
	return snprintf(buf, len, "%s:%llu:%s:%llu", space, (unsigned long long)spec->host_id, path,
			(unsigned long long)spec->offset);
}
