/* Logging with syslog levels and a pluggable sink.
 *
 * The daemon logs to stderr in the foreground or to syslog; the simulator
 * installs a sink that prefixes simulated time and host id, and tests can
 * capture messages. Messages say what failed, on what, and what to do. */
#ifndef FL_LOG_H
#define FL_LOG_H

#include <stdarg.h>
#include <syslog.h>

typedef void (*fl_log_sink_fn)(void *ctx, int level, const char *msg);

/* Installs a sink (NULL restores stderr) and the most verbose level emitted. */
void fl_log_set_sink(fl_log_sink_fn fn, void *ctx);
void fl_log_set_level(int max_level);
int fl_log_get_level(void);

void fl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fl_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define fl_err(...) fl_log(LOG_ERR, __VA_ARGS__)
#define fl_warn(...) fl_log(LOG_WARNING, __VA_ARGS__)
#define fl_notice(...) fl_log(LOG_NOTICE, __VA_ARGS__)
#define fl_info(...) fl_log(LOG_INFO, __VA_ARGS__)
#define fl_debug(...) fl_log(LOG_DEBUG, __VA_ARGS__)

#endif
