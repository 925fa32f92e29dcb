/*
 * routes_media_get.c - GET and HEAD /api/files/{id} and
 * /api/files/{id}/thumbnail (API.md "Presence and files", docs/media.md).
 *
 * The media pool decides (im.svc.media.get: 403 for a caller who may not
 * read the file, 404 for no such file or no thumbnail) and says which file
 * under the media root holds the bytes; the edge then serves them itself,
 * straight from disk with a bounded buffer, so bytes never cross the bus
 * and a large file never sits in memory.  One byte range per request
 * (file_headers.c); several ranges or a malformed header get the whole
 * file, as RFC 9110 allows.
 *
 * Downloads are attacker-chosen bytes served from the API's own origin, so
 * they go out with nosniff, a sandboxing CSP, and "attachment" unless they
 * are a raster image a browser may show inline.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BUF (64 * 1024)
/* Bytes behind an id never change, but access can be withdrawn (a revoked
 * message): a private cache may keep a download for an hour, no longer. */
#define CACHE_CONTROL "private, max-age=3600"
#define DISPOSITION_MAX 1400 /* 255-byte name: 255 fallback + 765 encoded + words */

/* A file id: 1-19 digits, no leading zero (so never a path or subject). */
static int id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

/* The pool's path: relative, no "..", no empty segment, sane characters. */
static int path_ok(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > 200 || p[0] == '/' || strstr(p, "//") || p[n - 1] == '/')
        return 0;
    if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") != n)
        return 0;
    for (const char *s = p; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
        if (s[0] == '.' && (s[1] == '/' || s[1] == '\0' || (s[1] == '.' && (s[2] == '/' || !s[2]))))
            return 0;
    return 1;
}

/* A MIME type fit for a header: "type/subtype" in token characters. */
static int mime_ok(const char *m)
{
    size_t n = m ? strlen(m) : 0;
    return n >= 3 && n <= 127 && strchr(m, '/') &&
           strspn(m, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/.+-_") == n;
}

/* Images a browser renders without running anything: these may be inline.
 * SVG is an image that runs scripts, so it is an attachment. */
static int inline_ok(const char *mime)
{
    static const char *const ok[] = {"image/png", "image/jpeg", "image/gif", "image/webp",
                                     "image/avif", "image/bmp"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(mime, ok[i]) == 0)
            return 1;
    return 0;
}

static int is_head(http_req_t *r)
{
    return strcmp(r->ri->request_method, "HEAD") == 0;
}

static void reply_416(http_req_t *r, long long size)
{
    static const char body[] =
        "{\"error\":{\"code\":\"bad_request\",\"message\":\"range not satisfiable\"}}";
    char cr[48], clen[16];
    snprintf(cr, sizeof cr, "bytes */%lld", size);
    snprintf(clen, sizeof clen, "%zu", sizeof body - 1);
    mg_response_header_start(r->conn, 416);
    mg_response_header_add(r->conn, "Content-Type", "application/json", -1);
    mg_response_header_add(r->conn, "Content-Length", clen, -1);
    mg_response_header_add(r->conn, "Content-Range", cr, -1);
    mg_response_header_add(r->conn, "Cache-Control", "no-store", -1);
    mg_response_header_send(r->conn);
    if (!is_head(r))
        mg_write(r->conn, body, sizeof body - 1);
    r->status = 416;
}

/* Bytes [first, last] of fd to the client; stops quietly if it goes away. */
static void send_bytes(http_req_t *r, int fd, long long first, long long last)
{
    char *buf = malloc(IO_BUF);
    long long off = first, sent = 0;
    while (buf && off <= last) {
        size_t want = (size_t)(last - off + 1 < IO_BUF ? last - off + 1 : IO_BUF);
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) { /* truncated under us: the length promised cannot be kept */
            log_error("media file read failed", "errno=%d off=%lld", errno, off);
            break;
        }
        if (mg_write(r->conn, buf, (size_t)got) != (int)got)
            break; /* client gone */
        off += got;
        sent += got;
    }
    free(buf);
    metrics_count(r->edge->metrics, "natter_media_download_bytes_total",
                  "bytes of files and thumbnails sent", "", (double)sent);
}

/* Headers and body of a file the pool allowed: whole, one range, or 416. */
static void send_file(http_req_t *r, int fd, long long size, const Natter__MediaFile *f,
                      int thumb)
{
    char etag[80] = "", clen[24], crange[80], disp[DISPOSITION_MAX];
    long long first = 0, last = size - 1;
    const char *range = mg_get_header(r->conn, "Range");
    const char *if_range = mg_get_header(r->conn, "If-Range");
    const char *mime = mime_ok(f->path_mime) ? f->path_mime : "application/octet-stream";
    int kind = HTTP_RANGE_NONE;
    /* Content-addressed, so the sha256 is a strong validator. */
    if (strlen(f->sha256) == 64 && strspn(f->sha256, "0123456789abcdef") == 64)
        snprintf(etag, sizeof etag, "\"%s%s\"", f->sha256, thumb ? "-thumb" : "");
    if (range && (!if_range || (etag[0] && strcmp(if_range, etag) == 0)))
        kind = http_range_parse(range, size, &first, &last);
    if (kind == HTTP_RANGE_UNSATISFIABLE) {
        reply_416(r, size);
        return;
    }
    if (thumb)
        snprintf(disp, sizeof disp, "inline; filename=\"thumbnail.jpg\"");
    else if (http_content_disposition(f->name, inline_ok(mime), disp, sizeof disp) != NT_OK)
        snprintf(disp, sizeof disp, "attachment");
    int status = kind == HTTP_RANGE_PARTIAL ? 206 : 200;
    snprintf(clen, sizeof clen, "%lld", last - first + 1);
    mg_response_header_start(r->conn, status);
    mg_response_header_add(r->conn, "Content-Type", mime, -1);
    mg_response_header_add(r->conn, "Content-Length", clen, -1);
    if (status == 206) {
        snprintf(crange, sizeof crange, "bytes %lld-%lld/%lld", first, last, size);
        mg_response_header_add(r->conn, "Content-Range", crange, -1);
    }
    mg_response_header_add(r->conn, "Accept-Ranges", "bytes", -1);
    if (etag[0])
        mg_response_header_add(r->conn, "ETag", etag, -1);
    mg_response_header_add(r->conn, "Cache-Control", CACHE_CONTROL, -1);
    mg_response_header_add(r->conn, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_add(r->conn, "Content-Security-Policy", "default-src 'none'; sandbox", -1);
    mg_response_header_add(r->conn, "Content-Disposition", disp, -1);
    mg_response_header_send(r->conn);
    r->status = status;
    if (!is_head(r))
        send_bytes(r, fd, first, last);
}

static void file_serve(http_req_t *r, int thumb)
{
    Natter__MediaGetReq req = NATTER__MEDIA_GET_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    char full[PATH_MAX];
    struct stat st;
    int fd = -1;
    if (!r->edge->media_root) {
        http_reply_error(r, NT_EUNAVAIL, "file storage is not configured");
        return;
    }
    if (!id_ok(r->param)) {
        http_reply_error(r, NT_ENOTFOUND, "file not found");
        return;
    }
    req.file_id = r->param;
    req.thumbnail = thumb;
    if (http_call(r, "media", "get", &req.base, &natter__media_file__descriptor, &reply) != NT_OK)
        return;
    Natter__MediaFile *f = (Natter__MediaFile *)reply;
    int n = snprintf(full, sizeof full, "%s/%s", r->edge->media_root, f->path);
    if (!path_ok(f->path) || n < 0 || (size_t)n >= sizeof full) {
        log_error("media pool gave a bad path", "id=%s", r->param);
        http_reply_error(r, NT_EINTERNAL, "internal error");
        goto out;
    }
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* The row says the bytes exist: a missing file is ours to fix (or
         * a media root this edge does not share with the pool). */
        log_error("media file missing", "id=%s path=%s errno=%d", r->param, f->path, errno);
        http_reply_error(r, NT_EINTERNAL, "internal error");
        goto out;
    }
    if (f->path_size && f->path_size != (int64_t)st.st_size)
        log_warn("media file size differs from its row", "id=%s row=%lld disk=%lld", r->param,
                 (long long)f->path_size, (long long)st.st_size);
    send_file(r, fd, (long long)st.st_size, f, thumb);
out:
    if (fd >= 0)
        close(fd);
    protobuf_c_message_free_unpacked(reply, NULL);
}

void route_file_get(http_req_t *r)
{
    file_serve(r, 0);
}

void route_file_thumbnail(http_req_t *r)
{
    file_serve(r, 1);
}
