/*
 * log.h - one line per event, logfmt style, to stderr:
 *
 *   ts=2026-11-23T09:40:01.123Z level=info role=auth msg="login ok" uid=42 trace=...
 *
 * The caller formats its own key=value pairs; log never sees tokens or
 * passwords because callers never pass them (STYLE.md).  Thread-safe: each
 * line is written with one write(2).
 */
#ifndef NT_LOG_H
#define NT_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Set once at start, before threads exist. */
void log_init(const char *role, int min_level);

/* Parse "debug|info|warn|error"; -1 if unknown. */
int log_level_parse(const char *s);

/* msg is quoted; kv is a printf format of extra "key=value" pairs (may be NULL). */
void log_at(int level, const char *msg, const char *kv, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_at(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_at(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_at(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_at(LOG_ERROR, msg, __VA_ARGS__)

#endif
