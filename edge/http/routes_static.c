/*
 * routes_static.c - the web client's files (web/ at the repository root,
 * `http.web_root`) and GET /config.json, which tells the client where the
 * WebSocket edge is (docs/web.md).
 *
 * Why here and not civetweb's own document_root: we want the same log line,
 * metrics and error shape as every other route, our own cache and security
 * headers, and a file server that cannot be talked out of its folder.  The
 * path check is strict on purpose: a web client is a handful of files with
 * plain names, so anything else (dot segments, hidden files, backslashes,
 * unknown extensions) is 404, and realpath() of the result must still be
 * inside realpath() of the root (symlinks out of it are 404 too).
 *
 * Every answer carries a CSP that allows only what the client uses: its
 * own scripts and styles, images from its origin and blob: (thumbnails are
 * fetched with the bearer token and shown as blob URLs), and connections
 * to its origin (REST) and to the WebSocket edge's origin.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUF (32 * 1024)
#define PATH_MAX_REQ 200 /* longer request paths are not ours */

static const struct ext_type {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* 1 if path is "/" or "/seg/seg.ext" of plain names: no empty, dot or
 * hidden segment, only [A-Za-z0-9._-], at most PATH_MAX_REQ bytes. */
int http_static_path_ok(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n > PATH_MAX_REQ || path[0] != '/')
        return 0;
    if (n == 1)
        return 1;
    if (strspn(path, "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return 0;
    for (const char *s = path + 1; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
        if (s[0] == '/' || s[0] == '\0' || s[0] == '.')
            return 0; /* "//", trailing "/", ".", "..", ".hidden" */
    return 1;
}

/* The Host header's host part, if it is a plain name or address; else "". */
static void host_of(http_req_t *r, char *out, size_t n)
{
    const char *h = mg_get_header(r->conn, "Host");
    size_t len = h ? strlen(h) : 0;
    out[0] = '\0';
    if (len == 0 || len >= n)
        return;
    size_t hl = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":");
    if (hl > len || hl >= n)
        return;
    const char *ok = h[0] == '[' ? "[]0123456789abcdefABCDEF:." :
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
    if (strspn(h, ok) < hl)
        return;
    memcpy(out, h, hl);
    out[hl] = '\0';
}

/* The WebSocket URL the client should use: http.ws_url if set, else
 * ws://<the host the page came from>:<ws.port>/ws.  "" if unknown. */
static void ws_url_of(http_req_t *r, char *out, size_t n)
{
    char host[128];
    out[0] = '\0';
    if (r->edge->ws_url && r->edge->ws_url[0]) {
        snprintf(out, n, "%s", r->edge->ws_url);
        return;
    }
    host_of(r, host, sizeof host);
    if (host[0] && r->edge->ws_port > 0)
        snprintf(out, n, "ws://%s:%d/ws", host, r->edge->ws_port);
}

/* The origin (scheme://host[:port]) of a ws(s) URL, for connect-src; ""
 * if it is not one. */
static void origin_of(const char *url, char *out, size_t n)
{
    out[0] = '\0';
    size_t skip = strncmp(url, "ws://", 5) == 0 ? 5 : strncmp(url, "wss://", 6) == 0 ? 6 : 0;
    if (!skip)
        return;
    size_t len = skip + strcspn(url + skip, "/?#");
    if (len >= n || strcspn(url, " ;,'\"") < len)
        return;
    memcpy(out, url, len);
    out[len] = '\0';
}

static void add_security_headers(http_req_t *r)
{
    char url[300], origin[300], csp[700];
    ws_url_of(r, url, sizeof url);
    origin_of(url, origin, sizeof origin);
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; "
             "img-src 'self' blob:; connect-src 'self'%s%s; manifest-src 'self'; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             origin[0] ? " " : "", origin);
    mg_response_header_add(r->conn, "Content-Security-Policy", csp, -1);
    mg_response_header_add(r->conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(r->conn, "Referrer-Policy", "no-referrer", -1);
    mg_response_header_add(r->conn, "X-Frame-Options", "DENY", -1);
}

static int is_head(http_req_t *r)
{
    return strcmp(r->ri->request_method, "HEAD") == 0;
}

static void not_found(http_req_t *r)
{
    http_reply_error(r, NT_ENOTFOUND, "not found");
}

/* Open root + path as a regular file inside the root; -1 if not. */
static int open_inside(const char *root, const char *path, struct stat *st)
{
    char rroot[PATH_MAX], full[PATH_MAX], rfull[PATH_MAX];
    if (!realpath(root, rroot))
        return -1;
    int n = snprintf(full, sizeof full, "%s%s", rroot, path);
    if (n < 0 || (size_t)n >= sizeof full || !realpath(full, rfull))
        return -1;
    size_t rl = strlen(rroot);
    if (strncmp(rfull, rroot, rl) != 0 || rfull[rl] != '/')
        return -1; /* a symlink that leads out of the root */
    int fd = open(rfull, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_body(http_req_t *r, int fd, long long size)
{
    char *buf = malloc(IO_BUF);
    long long off = 0;
    while (buf && off < size) {
        ssize_t got = pread(fd, buf, IO_BUF, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || mg_write(r->conn, buf, (size_t)got) != (int)got)
            break; /* truncated under us, or the client went away */
        off += got;
    }
    free(buf);
}

void route_static(http_req_t *r)
{
    const char *path = r->ri->local_uri ? r->ri->local_uri : "";
    const char *raw = r->ri->local_uri_raw ? r->ri->local_uri_raw : path;
    const char *target = r->ri->request_uri ? r->ri->request_uri : "";
    char file[PATH_MAX_REQ + 16], etag[64], clen[24];
    struct stat st;
    /* Every form must be plain: the raw one catches what civetweb's
     * dot-segment cleaning would turn into a name, and our names need no
     * escapes, so any '%' in the request target (an encoded dot, slash,
     * backslash or NUL) is refused before decoding can hide it. */
    if (!r->edge->web_root || strchr(target, '%') || !http_static_path_ok(raw) ||
        !http_static_path_ok(path)) {
        not_found(r);
        return;
    }
    snprintf(file, sizeof file, "%s", strcmp(path, "/") == 0 ? "/index.html" : path);
    const char *type = type_of(file);
    int fd = type ? open_inside(r->edge->web_root, file, &st) : -1;
    if (fd < 0) {
        not_found(r);
        return;
    }
    snprintf(etag, sizeof etag, "\"%llx-%llx-%lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    const char *inm = mg_get_header(r->conn, "If-None-Match");
    int fresh = inm && strstr(inm, etag) != NULL;
    snprintf(clen, sizeof clen, "%lld", fresh ? 0LL : (long long)st.st_size);
    mg_response_header_start(r->conn, fresh ? 304 : 200);
    if (!fresh) {
        mg_response_header_add(r->conn, "Content-Type", type, -1);
        mg_response_header_add(r->conn, "Content-Length", clen, -1);
    }
    mg_response_header_add(r->conn, "ETag", etag, -1);
    /* The page always revalidates (it names the modules); modules and
     * styles may be reused for a minute (docs/web.md "Caching"). */
    mg_response_header_add(r->conn, "Cache-Control",
                           strcmp(type, types[0].type) == 0 ? "no-cache" : "max-age=60", -1);
    add_security_headers(r);
    mg_response_header_send(r->conn);
    r->status = fresh ? 304 : 200;
    if (!fresh && !is_head(r))
        send_body(r, fd, (long long)st.st_size);
    close(fd);
}

void route_web_config(http_req_t *r)
{
    char url[300];
    if (!r->edge->web_root) {
        not_found(r);
        return;
    }
    ws_url_of(r, url, sizeof url);
    json_t *body = json_pack("{s:s?}", "ws_url", url[0] ? url : NULL);
    http_reply_json(r, 200, body);
}
