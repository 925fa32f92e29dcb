/*
 * log.c - logfmt lines to stderr (see log.h).
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LOG_INFO;
static const char *log_role = "natter";
static char log_inst[64];
static _Thread_local char log_trace[40];
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *role, int min_level)
{
    log_role = role;
    log_min_level = min_level;
}

void log_set_instance(const char *id)
{
    snprintf(log_inst, sizeof log_inst, "%s", id ? id : "");
}

const char *log_service(void)
{
    return log_role;
}

const char *log_instance(void)
{
    if (!log_inst[0]) { /* first use, before threads (main calls log_set_instance) */
        char host[48] = "";
        if (gethostname(host, sizeof host) != 0 || !host[0])
            snprintf(host, sizeof host, "host");
        host[sizeof host - 1] = '\0';
        char *dot = strchr(host, '.');
        if (dot)
            *dot = '\0';
        snprintf(log_inst, sizeof log_inst, "%s-%ld", host, (long)getpid());
    }
    return log_inst;
}

void log_trace_set(const char *trace_id)
{
    if (!trace_id)
        log_trace[0] = '\0';
    else
        snprintf(log_trace, sizeof log_trace, "%s", trace_id);
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void log_at(int level, const char *msg, const char *kv, ...)
{
    if (level < log_min_level || level < 0 || level > LOG_ERROR)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s inst=%s msg=\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), level_names[level], log_role,
                     log_instance(), msg);
    if (n < 0)
        return;
    size_t kv_at = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if ((size_t)n < sizeof line - 2 && kv && *kv) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, kv);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, kv, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n] = '\0';
    /* The caller's own trace= wins; else this thread's, else "-". */
    int has = strncmp(line + kv_at, " trace=", 7) == 0 || strstr(line + kv_at, " trace=") != NULL;
    if (!has && (size_t)n + 8 + strlen(log_trace) < sizeof line - 2) {
        int m = snprintf(line + n, sizeof line - (size_t)n, " trace=%s",
                         log_trace[0] ? log_trace : "-");
        if (m > 0)
            n += m;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
