/*
 * http_route.c - the parts of routing that read the request line: a path
 * against a route pattern, and an integer from the query string.
 *
 * Pure functions (no civetweb connection, no bus), kept apart from the
 * dispatcher (http_server.c) and the handlers so the fuzz target
 * tests/fuzz/fuzz_http_route.c can feed them any bytes a client sends.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy one path segment [seg, seg + len) into dst (n bytes); 0 if it does
 * not fit or is empty. */
static int take_seg(char *dst, size_t n, const char *seg, size_t len)
{
    if (len == 0 || len >= n)
        return 0;
    memcpy(dst, seg, len);
    dst[len] = '\0';
    return 1;
}

int http_path_match(const char *pattern, const char *path, char *param, char *param2, size_t n)
{
    if (strcmp(pattern, "/**") == 0) /* any path outside /api/ (the web client) */
        return path[0] == '/' && strncmp(path, "/api/", 5) != 0;
    while (*pattern && *path) {
        size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
        if (pl == 4 && strncmp(pattern, "{id}", 4) == 0) {
            if (!take_seg(param, n, path, sl))
                return 0;
        } else if (pl == 5 && strncmp(pattern, "{uid}", 5) == 0) {
            if (!take_seg(param2, n, path, sl))
                return 0;
        } else if (pl != sl || strncmp(pattern, path, pl) != 0) {
            return 0;
        }
        pattern += pl;
        path += sl;
        if (*pattern != *path)
            return 0;            /* one has a '/' where the other ends */
        if (*pattern) {
            pattern++;
            path++;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

int http_query_int(const char *qs, const char *key, long long min, long long max,
                   long long *out, char *err, size_t errlen)
{
    char buf[32];
    if (!qs)
        qs = "";
    int n = mg_get_var(qs, strlen(qs), key, buf, sizeof buf);
    if (n == -1)
        return NT_OK;
    char *end = NULL;
    errno = 0;
    long long v = n > 0 ? strtoll(buf, &end, 10) : 0;
    if (n <= 0 || errno || *end || buf[0] == '+' || buf[0] == ' ' || v < min || v > max) {
        snprintf(err, errlen, "%s must be an integer between %lld and %lld", key, min, max);
        return NT_EINVAL;
    }
    *out = v;
    return NT_OK;
}
