/* Output helpers shared by the CLI's commands: one-line error messages,
 * the -o text|json switch, and the text and JSON forms of on-disk records.
 * JSON goes through jansson; text output is for people and keeps sanlock's
 * key=value style for single records so existing scripts read it. */
#ifndef FL_CLI_OUT_H
#define FL_CLI_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "disklock/ondisk.h"

enum fl_out_format { FL_OUT_TEXT = 0, FL_OUT_JSON = 1 };

/* Parses "text" or "json"; returns 0 or -FL_EINVAL. */
int fl_out_parse_format(const char *s, enum fl_out_format *out);

/* Prints "fencelock direct CMD: MESSAGE" on one line to stderr. */
void fl_out_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints obj (steals the reference) as indented JSON plus a newline to
 * stdout. Returns 0, or -FL_ENOMEM if obj is NULL or cannot be dumped. */
int fl_out_json_print(json_t *obj);

/* Record l as a JSON object: every field, names as strings, plus "valid"
 * (true) and "marked" (a valid fencelock mark). Returns a new reference. */
json_t *fl_out_leader_json(const struct fl_leader *l);
/* Record l as key=value lines (sanlock read_leader style) on f. */
void fl_out_leader_text(FILE *f, const struct fl_leader *l);

/* Parses a size "1M", "2M", "4M", "8M" (or the byte count); returns 0 and
 * the byte count, or -FL_EINVAL. */
int fl_out_parse_align(const char *s, uint64_t *align_bytes);
/* Parses a decimal unsigned number in [min, max]; returns 0 or -FL_EINVAL. */
int fl_out_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
