/*
 * ws_render.c - the message frames without a jansson tree (ws_render.h).
 *
 * Why: at 2,000 msg/s, once the thread hand-offs were gone, building a
 * jansson object per push and per send reply (json_pack, msg_json, every
 * key and string malloc'd), dumping it (json_dumps: another buffer grown
 * by realloc) and freeing the tree was the largest user-space item in
 * edge-ws's profile.  These two frames have a fixed shape, so they are
 * written directly, with jansson's escaping rules (compact: '"', '\\' and
 * control characters escaped, the rest of UTF-8 as is) and its refusal of
 * strings that are not UTF-8, into one buffer the edge keeps.
 */
#include "edge/ws/ws_render.h"

#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ws_buf_free(ws_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int reserve(ws_buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return NT_OK;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return NT_ENOMEM;
    b->p = p;
    b->cap = cap;
    return NT_OK;
}

static int put(ws_buf_t *b, const char *s, size_t n)
{
    if (reserve(b, n) != NT_OK)
        return NT_ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return NT_OK;
}

static int put_lit(ws_buf_t *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* Length of the UTF-8 sequence at s (1..4), 0 if it is not one (jansson's
 * rules: no overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* s as a JSON string; NT_EINVAL if s is not UTF-8 (b is then unchanged
 * in meaning: the caller drops the whole frame). */
static int put_str(ws_buf_t *b, const char *str)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001B */
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    /* worst case: every byte a \u00XX escape */
    if (reserve(b, 6 * n + 2) != NT_OK)
        return NT_ENOMEM;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = utf8_len(s + i);
            if (k == 0)
                return NT_EINVAL;
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        } else {
            *o++ = (char)c;
        }
        i++;
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->p);
    return NT_OK;
}

static int put_int(ws_buf_t *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    return put(b, num, (size_t)n);
}

static int put_message(ws_buf_t *b, const Natter__Message *m)
{
    int rc = NT_OK;
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != NT_OK)                                                                   \
            return rc;                                                                             \
    } while (0)
    TRY(put_lit(b, "{\"id\":"));
    TRY(put_str(b, m->id));
    TRY(put_lit(b, ",\"conversation_id\":"));
    TRY(put_str(b, m->conversation_id));
    TRY(put_lit(b, ",\"seq\":"));
    TRY(put_int(b, m->seq));
    TRY(put_lit(b, ",\"sender_id\":"));
    TRY(put_str(b, m->sender_id));
    TRY(put_lit(b, ",\"client_msg_id\":"));
    TRY(put_str(b, m->client_msg_id));
    TRY(put_lit(b, ",\"type\":"));
    TRY(put_str(b, m->type));
    TRY(put_lit(b, ",\"body\":"));
    TRY(put_str(b, m->body));
    TRY(put_lit(b, ",\"created_at\":"));
    TRY(put_int(b, m->created_at));
    TRY(put_lit(b, m->revoked ? ",\"revoked\":true" : ",\"revoked\":false"));
    if (m->n_mentions > 0) {
        TRY(put_lit(b, ",\"mentions\":["));
        int first = 1;
        for (size_t i = 0; i < m->n_mentions; i++) {
            size_t mark = b->len;
            if (!first)
                TRY(put_lit(b, ","));
            rc = put_str(b, m->mentions[i]);
            if (rc == NT_EINVAL) {      /* jansson's array skips a string it refused */
                b->len = mark;
                b->p[mark] = '\0';
                continue;
            }
            TRY(rc);
            first = 0;
        }
        TRY(put_lit(b, "]"));
    }
    if (m->mentioned)
        TRY(put_lit(b, ",\"mentioned\":true"));
    return put_lit(b, "}");
#undef TRY
}

int ws_render_message(ws_buf_t *b, const char *op, const Natter__Message *m, const char *rid)
{
    b->len = 0;
    int rc = put_lit(b, "{\"op\":");
    if (rc == NT_OK)
        rc = put_str(b, op);
    if (rc == NT_OK)
        rc = put_lit(b, ",\"message\":");
    if (rc == NT_OK)
        rc = put_message(b, m);
    if (rc == NT_OK && rid && *rid) {
        size_t mark = b->len;
        rc = put_lit(b, ",\"rid\":");
        if (rc == NT_OK)
            rc = put_str(b, rid);
        if (rc == NT_EINVAL) {          /* json_object_set_new left it out */
            b->len = mark;
            b->p[mark] = '\0';
            rc = NT_OK;
        }
    }
    if (rc == NT_OK)
        rc = put_lit(b, "}");
    return rc;
}
