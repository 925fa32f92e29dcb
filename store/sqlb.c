/*
 * sqlb.c - SQL text with repeated placeholder groups and quoted values
 * (sqlb.h).
 */
#include "store/sqlb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sqlb_reserve(sqlb_t *b, size_t n)
{
    if (b->oom || b->len + n + 1 <= b->cap)
        return;
    if (n > SIZE_MAX / 4 || b->len > SIZE_MAX / 4) {
        b->oom = 1;
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return;
    }
    b->s = s;
    b->cap = cap;
}

void sqlb_add(sqlb_t *b, const char *text)
{
    size_t n = strlen(text);
    sqlb_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

void sqlb_repeat(sqlb_t *b, const char *group, const char *sep, int n)
{
    for (int i = 0; i < n && !b->oom; i++) {
        if (i > 0)
            sqlb_add(b, sep);
        sqlb_add(b, group);
    }
}

void sqlb_i64(sqlb_t *b, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    sqlb_add(b, num);
}

void sqlb_quote(sqlb_t *b, MYSQL *conn, const char *s, size_t len)
{
    if (!s)
        len = 0;
    if (len > (SIZE_MAX - 3) / 2) {
        b->oom = 1;
        return;
    }
    sqlb_reserve(b, 2 * len + 3);
    if (b->oom)
        return;
    char *w = b->s + b->len;
    *w++ = '\'';
    /* writes at most 2 * len bytes and a NUL; returns the length */
    unsigned long n = mysql_real_escape_string(conn, w, s ? s : "", (unsigned long)len);
    if (n == (unsigned long)-1) {
        b->oom = 1; /* cannot happen for a single quote; refuse the text */
        return;
    }
    w[n] = '\'';
    w[n + 1] = '\0';
    b->len += n + 2;
}

void sqlb_clear(sqlb_t *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

void sqlb_fini(sqlb_t *b)
{
    free(b->s);
    *b = (sqlb_t){0};
}

char *sqlb_done(sqlb_t *b)
{
    if (b->oom || !b->s) {
        free(b->s);
        b->s = NULL;
        return NULL;
    }
    char *s = b->s;
    b->s = NULL;
    return s;
}

char *sqlb_list(const char *head, const char *group, const char *sep, int n, const char *tail)
{
    sqlb_t b = {0};
    sqlb_add(&b, head);
    sqlb_repeat(&b, group, sep, n);
    sqlb_add(&b, tail);
    return sqlb_done(&b);
}
