/* sanlock-style location strings.
 *
 * The CLI names a lockspace host_id as `LS:HOST_ID:PATH:OFFSET` (sanlock's -s)
 * and a resource lease as `LS:RES:PATH:OFFSET` (-r). Fields are separated by
 * ':'; a ':' inside a field (usually the path, e.g. /dev/disk/by-path/...) is
 * written '\:' and a backslash '\\', as sanlock escapes them. Names are 1..47
 * bytes (they must fit a NUL-padded 48-byte on-disk field with its NUL),
 * HOST_ID is decimal 0..2000 (0 means "no host": init, dump, host-status),
 * OFFSET is a decimal byte offset. Parsing never touches the path. */
#ifndef FL_SPEC_H
#define FL_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include "common/must_check.h"
#include "disklock/ondisk.h"

#define FL_SPEC_PATH_MAX 4096
#define FL_SPEC_HOST_ID_MAX 2000u

enum fl_spec_kind {
	FL_SPEC_LOCKSPACE = 0, /* LS:HOST_ID:PATH:OFFSET */
	FL_SPEC_RESOURCE = 1,  /* LS:RES:PATH:OFFSET */
};

struct fl_spec {
	enum fl_spec_kind kind;
	char space[FL_NAME_LEN + 1];
	char resource[FL_NAME_LEN + 1]; /* FL_SPEC_RESOURCE only; "" otherwise */
	uint64_t host_id;               /* FL_SPEC_LOCKSPACE only; 0 otherwise */
	char path[FL_SPEC_PATH_MAX];
	uint64_t offset;
};

/* Parses text as a spec of the given kind into *out. Returns 0, or -FL_EINVAL
 * with a one-line reason naming the bad field in err (errlen > 0). */
FL_MUST_CHECK int fl_spec_parse(const char *text, enum fl_spec_kind kind, struct fl_spec *out, char *err, size_t errlen);

/* Parses `PATH[:OFFSET]` (sanlock's dump argument): a trailing unescaped
 * ':' followed by decimal digits is the offset (0 if absent). Same escapes
 * and error convention as fl_spec_parse(). */
FL_MUST_CHECK int fl_spec_parse_path_offset(const char *text, char *path, size_t path_len, uint64_t *offset, char *err,
			      size_t errlen);

/* Writes spec back in its escaped text form; returns the length that
 * snprintf would have written. */
FL_MUST_CHECK int fl_spec_format(const struct fl_spec *spec, char *buf, size_t len);

#endif
