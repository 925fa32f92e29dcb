/*
 * textbuf.c - a growing text buffer (textbuf.h).
 */
#include "common/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXTBUF_FIRST 4096

void textbuf_printf(textbuf_t *t, const char *fmt, ...)
{
    while (!t->failed) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->cap ? vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap)
                       : vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->cap && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 + (size_t)n : TEXTBUF_FIRST + (size_t)n;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->failed = 1;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

char *textbuf_take(textbuf_t *t, size_t *len)
{
    char *out = t->failed ? NULL : t->buf ? t->buf : strdup("");
    if (t->failed)
        free(t->buf);
    if (out && len)
        *len = t->buf ? t->len : 0;
    memset(t, 0, sizeof *t);
    return out;
}
