/*
 * fuzz_common.c - helpers of the fuzz targets (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIVETWEB_WORKER_STACK 102400

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s\n", file, line, what);
    abort();
}

void fuzz_quiet(void)
{
    static int done;
    if (!done) {
        log_init("fuzz", LOG_ERROR + 1);
        done = 1;
    }
}

char *fuzz_cstr(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

void fuzz_take_line(const uint8_t **data, size_t *n, const uint8_t **part, size_t *part_len)
{
    const uint8_t *nl = *n ? memchr(*data, '\n', *n) : NULL;
    *part = *data;
    if (!nl) {
        *part_len = *n;
        *data += *n;
        *n = 0;
        return;
    }
    *part_len = (size_t)(nl - *data);
    *n -= *part_len + 1;
    *data = nl + 1;
}

int fuzz_utf8_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i], cp, len, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (i + len > n)
            return 0;
        for (unsigned k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* One worker thread for the whole run, handed each input under a lock: a
 * thread per input cost ~1 ms under ASan, a hand-off a few microseconds. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(void *); /* the job; NULL when done */
    void *arg;
    int busy;
} w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&w.mu);
    for (;;) {
        while (!w.busy)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        w.fn(w.arg);
        pthread_mutex_lock(&w.mu);
        w.busy = 0;
        pthread_cond_broadcast(&w.cv);
    }
    return NULL;
}

void fuzz_on_worker_stack(void (*fn)(void *), void *arg)
{
    static long size = -1;
    if (size < 0) {
        const char *e = getenv("NATTER_FUZZ_WORKER_STACK");
        size = e ? strtol(e, NULL, 10) : CIVETWEB_WORKER_STACK;
        if (size < 0)
            size = CIVETWEB_WORKER_STACK;
        if (size > 0) {
            pthread_attr_t attr;
            pthread_t t;
            if (pthread_attr_init(&attr) != 0 ||
                pthread_attr_setstacksize(&attr, (size_t)size) != 0 ||
                pthread_create(&t, &attr, worker, NULL) != 0)
                abort();
            pthread_attr_destroy(&attr);
            pthread_detach(t);
        }
    }
    if (size == 0) {
        fn(arg);
        return;
    }
    pthread_mutex_lock(&w.mu);
    w.fn = fn;
    w.arg = arg;
    w.busy = 1;
    pthread_cond_broadcast(&w.cv);
    while (w.busy)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
}
