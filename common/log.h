/*
 * log.h - one line per event, logfmt style, to stderr:
 *
 *   ts=2026-11-23T09:40:01.123Z level=info svc=auth inst=host-4711 msg="login ok" uid=42 trace=...
 *
 * Every line names the service (the role), the process instance and a
 * trace id: the caller's own `trace=` pair if it wrote one, else the trace
 * of the request the thread is handling (log_trace_set; the bus sets it
 * around every handler), else `trace=-`.  So `grep <trace id>` follows one
 * request, and a message, through every process (docs/operations.md
 * "Logs").
 *
 * The caller formats its own key=value pairs; log never sees tokens or
 * passwords because callers never pass them (STYLE.md).  The macros test
 * the level before anything else: a debug line costs one compare when
 * debug is off (its arguments are not even evaluated).  Thread-safe: each
 * line is written with one write(2).
 */
#ifndef NT_LOG_H
#define NT_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Set once at start, before threads exist. */
void log_init(const char *role, int min_level);
/* The instance id every line carries (default "<hostname>-<pid>"); at
 * start, before threads exist.  Copied. */
void log_set_instance(const char *id);
const char *log_service(void);
const char *log_instance(void);

/* Parse "debug|info|warn|error"; -1 if unknown. */
int log_level_parse(const char *s);

/* The lowest level written (read by the macros; set by log_init). */
extern int log_min_level;

static inline int log_enabled(int level)
{
    return level >= log_min_level;
}

/* This thread's current trace id (32 hex, or NULL/"" to clear); copied. */
void log_trace_set(const char *trace_id);

/* msg is quoted; kv is a printf format of extra "key=value" pairs (may be NULL). */
void log_at(int level, const char *msg, const char *kv, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) do { if (log_enabled(LOG_DEBUG)) log_at(LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define log_info(msg, ...) do { if (log_enabled(LOG_INFO)) log_at(LOG_INFO, msg, __VA_ARGS__); } while (0)
#define log_warn(msg, ...) log_at(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_at(LOG_ERROR, msg, __VA_ARGS__)

#endif
