/* Logging that never blocks its caller: the daemon's log sink.
 *
 * syslog() sends on the /dev/log socket and blocks when journald or rsyslog
 * stops reading; a write to stderr blocks when the journal's pipe is full.
 * Either would stall the lease loop on its next log line. fl_alog_sink()
 * instead copies the message (with its time and level) into a bounded ring
 * under a mutex held for one copy, and a thread of its own writes the ring
 * out through the sink given at start. When the ring is full the message is
 * dropped and counted, and the next message written says how many were lost:
 * a stalled log loses lines, never a renewal. */
#ifndef FL_PLUGIN_ASYNCLOG_H
#define FL_PLUGIN_ASYNCLOG_H

#include <stdint.h>
#include <time.h>

#define FL_ALOG_RING 512u      /* messages waiting to be written */
#define FL_ALOG_MSG_MAX 1024u  /* = common/log.c's message buffer */

/* Writes one message (on the log thread): ts is when it was logged. */
typedef void (*fl_alog_out_fn)(void *ctx, int level, const struct timespec *ts, const char *msg);

/* Starts the log thread writing through out(ctx, ...). Call it with the
 * signals the caller handles blocked (the thread inherits the mask).
 * Returns 0 or a -FL_E code. */
int fl_alog_start(fl_alog_out_fn out, void *ctx);

/* The sink for fl_log_set_sink(): callable from any thread; never blocks
 * beyond one copy under the ring's mutex. Writes synchronously through out
 * when the thread is not running (before start, after stop). */
void fl_alog_sink(void *ctx, int level, const char *msg);

/* Writes out what the ring holds (waiting at most wait_ms for a writer that
 * is stuck) and stops the thread. */
void fl_alog_stop(unsigned wait_ms);

/* Messages dropped because the ring was full. */
uint64_t fl_alog_dropped(void);

#endif
