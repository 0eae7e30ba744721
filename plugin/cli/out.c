/* CLI output helpers (see out.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "fencelock/error.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/out.h"

int fl_out_parse_format(const char *s, enum fl_out_format *out)
{
	FL_ASSERT(s != NULL);
	FL_ASSERT(out != NULL);
	if (strcmp(s, "text") == 0)
		*out = FL_OUT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = FL_OUT_JSON;
	else
		return -FL_EINVAL;
	return 0;
}

void fl_out_err(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fencelock direct %s: %s\n", cmd, msg);
}

int fl_out_json_print(json_t *obj)
{
	if (obj == NULL)
		return -FL_ENOMEM;
	if (json_is_object(obj) && json_object_get(obj, "schema_version") == NULL) {
		/* first, so that a reader sees it before the rest */
		json_t *o = json_pack("{s:i}", "schema_version", FL_CLI_SCHEMA_VERSION);
		json_object_update(o, obj);
		json_decref(obj);
		obj = o;
	}
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (s == NULL)
		return -FL_ENOMEM;
	printf("%s\n", s);
	free(s);
	return 0;
}

json_t *fl_out_leader_json(const struct fl_leader *l)
{
	char space[FL_NAME_LEN + 1], name[FL_NAME_LEN + 1];
	FL_ASSERT(l != NULL);
	fl_name_get(l->space_name, space);
	fl_name_get(l->resource_name, name);
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "host_id", json_integer((json_int_t)l->owner_id));
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "generation", json_integer((json_int_t)l->owner_generation));
	json_object_set_new(o, "timestamp", json_integer((json_int_t)l->timestamp));
	json_object_set_new(o, "io_timeout", json_integer(l->io_timeout));
	json_object_set_new(o, "valid", json_true());
	json_object_set_new(o, "marked", json_boolean(fl_mark_valid(l)));
	json_object_set_new(o, "lockspace", json_string(space));
	json_object_set_new(o, "magic", json_integer(l->magic));
	json_object_set_new(o, "version", json_integer(l->version));
	json_object_set_new(o, "flags", json_integer(l->flags));
	json_object_set_new(o, "sector_size", json_integer(l->sector_size));
	json_object_set_new(o, "checksum", json_integer(l->checksum));
	return o;
}

void fl_out_leader_text(FILE *f, const struct fl_leader *l)
{
	char space[FL_NAME_LEN + 1], name[FL_NAME_LEN + 1];
	FL_ASSERT(f != NULL);
	FL_ASSERT(l != NULL);
	fl_name_get(l->space_name, space);
	fl_name_get(l->resource_name, name);
	fprintf(f,
		"magic 0x%08x\nversion 0x%x\nflags 0x%x\nsector_size %u\nnum_hosts %llu\nmax_hosts %llu\n"
		"owner_id %llu\nowner_generation %llu\nlver %llu\nspace_name %s\nresource_name %s\n"
		"timestamp %llu\nchecksum 0x%08x\nio_timeout %u\nmarked %s\n",
		l->magic, l->version, l->flags, l->sector_size, (unsigned long long)l->num_hosts,
		(unsigned long long)l->max_hosts, (unsigned long long)l->owner_id,
		(unsigned long long)l->owner_generation, (unsigned long long)l->lver, space, name,
		(unsigned long long)l->timestamp, l->checksum, l->io_timeout, fl_mark_valid(l) ? "yes" : "no");
}

int fl_out_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	FL_ASSERT(s != NULL);
	FL_ASSERT(out != NULL);
	uint64_t v = 0;
	if (*s == '\0' || strlen(s) > 20)
		return -FL_EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -FL_EINVAL;
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -FL_EINVAL;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -FL_EINVAL;
	*out = v;
	return 0;
}

int fl_out_parse_align(const char *s, uint64_t *align_bytes)
{
	static const struct { const char *name; uint64_t bytes; } sizes[] = {
		{"1M", 1ull << 20}, {"2M", 2ull << 20}, {"4M", 4ull << 20}, {"8M", 8ull << 20},
	};
	FL_ASSERT(s != NULL);
	FL_ASSERT(align_bytes != NULL);
	for (size_t i = 0; i < FL_ARRAY_SIZE(sizes); i++) {
		uint64_t v;
		if (strcmp(s, sizes[i].name) == 0 ||
		    (fl_out_parse_uint(s, 1, UINT64_MAX, &v) == 0 && v == sizes[i].bytes)) {
			*align_bytes = sizes[i].bytes;
			return 0;
		}
	}
	return -FL_EINVAL;
}
