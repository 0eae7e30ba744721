/* Logging: level filter and sink dispatch (see log.h). */
#include <stdio.h>
#include "common/log.h"

static fl_log_sink_fn log_sink;
static void *log_ctx;
static int log_level = LOG_NOTICE;

void fl_log_set_sink(fl_log_sink_fn fn, void *ctx)
{
	log_sink = fn;
	log_ctx = ctx;
}

void fl_log_set_level(int max_level) { log_level = max_level; }
int fl_log_get_level(void) { return log_level; }

void fl_vlog(int level, const char *fmt, va_list ap)
{
	char buf[1024];
	static const char *const names[] = {"emerg", "alert", "crit", "error",
					    "warning", "notice", "info", "debug"};
	if (level > log_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_sink) {
		log_sink(log_ctx, level, buf);
		return;
	}
	fprintf(stderr, "fencelock %s: %s\n", names[level & 7], buf);
}

void fl_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fl_vlog(level, fmt, ap);
	va_end(ap);
}
