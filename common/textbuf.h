/*
 * textbuf.h - a growing text buffer for rendered documents (Prometheus
 * text for /metrics), so renderers print into it without counting sizes.
 *
 * Start from textbuf_t t = {0}.  An allocation failure is remembered: later
 * prints do nothing and textbuf_take returns NULL, so a renderer checks
 * once at the end instead of after every line.
 */
#ifndef NT_TEXTBUF_H
#define NT_TEXTBUF_H

#include <stddef.h>

typedef struct textbuf {
    char *buf;
    size_t len, cap;
    int failed;
} textbuf_t;

void textbuf_printf(textbuf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text (NUL-terminated, "" if nothing was printed; the caller frees)
 * and its length, or NULL if an allocation failed.  t is empty afterwards. */
char *textbuf_take(textbuf_t *t, size_t *len);

#endif
