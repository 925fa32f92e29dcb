/*
 * sqlb.c - SQL text with repeated placeholder groups (sqlb.h).
 */
#include "store/sqlb.h"

#include <stdlib.h>
#include <string.h>

void sqlb_add(sqlb_t *b, const char *text)
{
    size_t n = strlen(text);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
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
