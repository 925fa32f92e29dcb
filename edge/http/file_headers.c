/*
 * file_headers.c - the header work of the file routes, kept apart from the
 * I/O so the unit tests and tests/fuzz/fuzz_file_headers.c can feed it every
 * odd input: the Range header of a download (one byte range, RFC 9110
 * 14.1-14.2), the file name a client gives an upload (?name=), and the Content-Disposition a download carries
 * (RFC 6266 with an RFC 5987 filename*).
 *
 * civetweb has range code of its own (mg_send_mime_file2), but it serves
 * "bytes=-n" as the whole file, answers a first byte past the end with a
 * negative length, and adds ETag/Last-Modified/304 and .gz lookups we do
 * not want on permission-checked files; so the edge parses ranges here.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Digits at *s into *v, saturating at LLONG_MAX (a huge position is still
 * a position); 0 if there is no digit. */
static int parse_pos(const char **s, long long *v)
{
    const char *p = *s;
    long long n = 0;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        n = n > (LLONG_MAX - d) / 10 ? LLONG_MAX : n * 10 + d;
    }
    *s = p;
    *v = n;
    return 1;
}

int http_range_parse(const char *hdr, long long size, long long *first, long long *last)
{
    long long a = -1, b = -1;
    if (!hdr)
        return HTTP_RANGE_NONE;
    const char *p = skip_ows(hdr);
    if (strncasecmp(p, "bytes", 5) != 0)
        return HTTP_RANGE_NONE;           /* another unit: ignore */
    p = skip_ows(p + 5);
    if (*p++ != '=')
        return HTTP_RANGE_NONE;
    p = skip_ows(p);
    if (*p == '-') {                      /* suffix: the last b bytes */
        p++;
        if (!parse_pos(&p, &b))
            return HTTP_RANGE_NONE;
    } else {
        if (!parse_pos(&p, &a) || *p++ != '-')
            return HTTP_RANGE_NONE;
        if (*p >= '0' && *p <= '9')
            parse_pos(&p, &b);
    }
    if (*skip_ows(p) != '\0')
        return HTTP_RANGE_NONE;           /* several ranges or junk: send it whole */
    if (a < 0) {                          /* suffix-range */
        if (b == 0 || size <= 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return HTTP_RANGE_PARTIAL;
    }
    if (b >= 0 && b < a)
        return HTTP_RANGE_NONE;           /* invalid range-spec: ignore the header */
    if (a >= size)
        return HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = (b < 0 || b >= size) ? size - 1 : b;
    return HTTP_RANGE_PARTIAL;
}

/* Decode one UTF-8 sequence at s (n bytes left); its length, or 0 if it is
 * not valid UTF-8 (overlong, surrogate, past U+10FFFF, cut short). */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
    size_t len;
    unsigned c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, c &= 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, c &= 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

int http_file_name_ok(const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)name;
    if (!name || len == 0 || len > 255)
        return 0;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t k = utf8_next(s + i, len - i, &cp);
        if (k == 0)
            return 0;
        /* C0, DEL and C1 controls; separators a file system would read */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == '/' || cp == '\\')
            return 0;
        i += k;
    }
    return 1;
}

int http_upload_name(const char *qs, char *name, size_t n)
{
    if (!qs)
        qs = "";
    int got = mg_get_var(qs, strlen(qs), "name", name, n);
    if (got == -1) {
        snprintf(name, n, "file");
        return NT_OK;
    }
    /* strlen: a %00 in the value would cut the name short in C. */
    if (got < 0 || !http_file_name_ok(name, (size_t)got) || strlen(name) != (size_t)got)
        return NT_EINVAL;
    return NT_OK;
}

/* RFC 5987 attr-char: sent as is in filename*; everything else is %XX. */
static int attr_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$&+-.^_`|~", c) != NULL);
}

int http_content_disposition(const char *name, int inline_, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    int w = snprintf(out, n, "%s; filename=\"", inline_ ? "inline" : "attachment");
    if (w < 0 || (size_t)w >= n)
        return NT_EINVAL;
    o = (size_t)w;
    /* The fallback for old clients: ASCII only, no quote or backslash;
     * one '_' per other character (UTF-8 continuation bytes add none). */
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if ((*s & 0xC0) == 0x80)
            continue;
        if (o + 1 >= n)
            return NT_EINVAL;
        out[o++] = (*s >= 0x20 && *s < 0x7F && *s != '"' && *s != '\\') ? (char)*s : '_';
    }
    w = snprintf(out + o, n - o, "\"; filename*=UTF-8''");
    if (w < 0 || (size_t)w >= n - o)
        return NT_EINVAL;
    o += (size_t)w;
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if (o + 4 >= n)
            return NT_EINVAL;
        if (attr_char(*s)) {
            out[o++] = (char)*s;
        } else {
            out[o++] = '%';
            out[o++] = hex[*s >> 4];
            out[o++] = hex[*s & 15];
        }
    }
    out[o] = '\0';
    return NT_OK;
}
