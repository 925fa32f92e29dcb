/*
 * fuzz_file_headers.c - the header work of the file routes
 * (file_headers.c): Range against a file size, the If-Range condition of
 * send_file, an upload's file name, and the Content-Disposition built from
 * a stored name.
 *
 * Input lines: Range, If-Range, the file size (decimal), the size of the
 * Content-Disposition buffer (decimal, 0 = the route's 1400), then the file
 * name (the rest, any bytes).
 * Properties: a partial range lies inside the file; a name the upload
 * route keeps always fits the route's buffer; a Content-Disposition is
 * printable ASCII (no CR/LF to split the response), fits its buffer, and
 * its filename* decodes back to the name.
 */
#include "fuzz_common.h"

#include "common/err.h"
#include "edge/http/http_edge.h"

#include <stdlib.h>
#include <string.h>

#define DISPOSITION_MAX 1400 /* routes_media_get.c */

static long long num(const uint8_t *p, size_t n)
{
    long long v = 0;
    for (size_t i = 0; i < n && i < 18 && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void disposition(const char *name, size_t name_len, size_t cap, int inline_)
{
    char *out = malloc(cap);
    FUZZ_CHECK(out != NULL);
    int rc = http_content_disposition(name, inline_, out, cap);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL);
    if (cap == DISPOSITION_MAX && http_file_name_ok(name, name_len))
        FUZZ_CHECK(rc == NT_OK); /* every name we keep gets its header */
    if (rc != NT_OK) {
        free(out);
        return;
    }
    size_t len = strnlen(out, cap);
    FUZZ_CHECK(len < cap);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7F);
    const char *start = inline_ ? "inline; filename=\"" : "attachment; filename=\"";
    FUZZ_CHECK(strncmp(out, start, strlen(start)) == 0);
    /* The fallback holds no quote, so the first one after it ends it. */
    const char *endq = strchr(out + strlen(start), '"');
    FUZZ_CHECK(endq && strncmp(endq, "\"; filename*=UTF-8''", 20) == 0);
    /* filename* decodes back to the name (up to the first NUL: C's view). */
    const char *e = endq + 20;
    size_t o = 0, want = strlen(name);
    char *back = malloc(want + 1);
    FUZZ_CHECK(back != NULL);
    while (*e) {
        FUZZ_CHECK(o < want);
        if (*e == '%') {
            int hi = hexval(e[1]), lo = hi < 0 ? -1 : hexval(e[2]);
            FUZZ_CHECK(hi >= 0 && lo >= 0);
            back[o++] = (char)(hi * 16 + lo);
            e += 3;
        } else {
            FUZZ_CHECK(!strchr(" \";\\,", *e));
            back[o++] = *e++;
        }
    }
    FUZZ_CHECK(o == want && memcmp(back, name, want) == 0);
    free(back);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const uint8_t *range_p, *ifr_p, *size_p, *cap_p, *name_p;
    size_t range_n, ifr_n, size_n, cap_n, name_n;
    fuzz_quiet();
    fuzz_take_line(&data, &n, &range_p, &range_n);
    fuzz_take_line(&data, &n, &ifr_p, &ifr_n);
    fuzz_take_line(&data, &n, &size_p, &size_n);
    fuzz_take_line(&data, &n, &cap_p, &cap_n);
    name_p = data;
    name_n = n;

    char *range = fuzz_cstr(range_p, range_n), *if_range = fuzz_cstr(ifr_p, ifr_n);
    long long size = num(size_p, size_n), first = -1, last = -1;
    /* send_file: a Range counts only if there is no If-Range or it names
     * the current ETag exactly. */
    const char *etag = "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"";
    int use = !ifr_n || strcmp(if_range, etag) == 0;
    int kind = use ? http_range_parse(range_n ? range : NULL, size, &first, &last)
                   : HTTP_RANGE_NONE;
    FUZZ_CHECK(kind == HTTP_RANGE_NONE || kind == HTTP_RANGE_PARTIAL ||
               kind == HTTP_RANGE_UNSATISFIABLE);
    if (kind == HTTP_RANGE_PARTIAL)
        FUZZ_CHECK(first >= 0 && first <= last && last < size);

    char *name = fuzz_cstr(name_p, name_n);
    size_t cap = (size_t)num(cap_p, cap_n) % 2048;
    int inline_ = size & 1;
    disposition(name, strlen(name), cap ? cap : DISPOSITION_MAX, inline_);
    if (cap)
        disposition(name, strlen(name), DISPOSITION_MAX, inline_);
    /* http_file_name_ok gets the byte length: a NUL inside is refused. */
    if (memchr(name_p, '\0', name_n))
        FUZZ_CHECK(!http_file_name_ok((const char *)name_p, name_n));
    free(name);
    free(range);
    free(if_range);
    return 0;
}
