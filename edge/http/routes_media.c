/*
 * routes_media.c - POST /api/files/upload (API.md "Presence and files",
 * docs/media.md).
 *
 * File bytes never travel on the bus.  The edge streams the raw body into
 * <media root>/tmp/up-XXXXXX, hashing it (SHA-256) and counting it as it
 * goes, with a bounded buffer whatever the size; then it asks the media
 * pool (im.svc.media.register) to keep the file: the pool sniffs the type,
 * moves the bytes to their content address (or drops them, if that sha256
 * is stored already), makes a thumbnail and writes the row.  Whatever the
 * answer, the edge unlinks its tmp name afterwards (ENOENT: the pool moved
 * it), and on every path that fails before, so tmp/ only holds uploads in
 * flight.
 *
 * The size limit (media.max_upload_bytes) is checked before reading when
 * the client declares a Content-Length, and while reading when it does not
 * (chunked): 413, and the connection closes, as for the JSON body cap.
 *
 * "Expect: 100-continue" gets no interim 100: civetweb 1.15 sends none for
 * request handlers, and once a handler writes one itself it sends no
 * headers for the final answer.  Clients send the body after their own
 * wait (curl: 1 s); a refusal (413, 401, a bad name) comes before it.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_BUF (64 * 1024)
#define STALE_TMP_S 3600 /* a tmp file this old belongs to no request in flight */

/* mkdir -p path (mode 0750 for what it creates). */
static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return NT_EINVAL;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return NT_EIO;
        *p = c;
        if (!c)
            break;
    }
    return NT_OK;
}

/* Remove up-* files older than STALE_TMP_S: what a crashed edge left.
 * Several edges may share the directory, hence the age, not "all". */
static void tmp_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    time_t now = time(NULL);
    int removed = 0;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (strncmp(de->d_name, "up-", 3) != 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            now - st.st_mtime < STALE_TMP_S)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed)
        log_info("removed stale upload files", "dir=%s count=%d", dir, removed);
}

int http_media_init(http_edge_t *e)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s/tmp", e->media_root);
    if (n < 0 || (size_t)n >= sizeof tmp || mkdir_p(tmp) != NT_OK) {
        log_error("cannot create the media tmp directory", "path=%s errno=%d", tmp, errno);
        return NT_EIO;
    }
    tmp_sweep(tmp);
    log_info("media root", "root=%s max_upload=%zu", e->media_root, e->max_upload);
    return NT_OK;
}

static void count(http_req_t *r, const char *result, long long bytes)
{
    char labels[48];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    metrics_count(r->edge->metrics, "natter_media_uploads_total", "uploads by result", labels, 1);
    if (bytes > 0)
        metrics_count(r->edge->metrics, "natter_media_upload_bytes_total",
                      "bytes of uploads the pool kept", "", (double)bytes);
}

static void too_large(http_req_t *r)
{
    char msg[96];
    snprintf(msg, sizeof msg, "file larger than %zu bytes", r->edge->max_upload);
    http_reply_error(r, NT_ETOOLARGE, msg);
}

/* ?name= (file_headers.c); 0, or 400 answered. */
static int upload_name(http_req_t *r, char *name, size_t n)
{
    if (http_upload_name(r->ri->query_string, name, n) != NT_OK) {
        http_reply_error(r, NT_EINVAL, "name must be 1-255 bytes of UTF-8 without control "
                                       "characters, '/' or '\\'");
        return NT_EINVAL;
    }
    return NT_OK;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return NT_EIO;
        p += w;
        n -= (size_t)w;
    }
    return NT_OK;
}

/* A failed write: a full disk is the operator's to fix and the client's to
 * retry (503); anything else is ours (500). */
static int disk_error(http_req_t *r, const char *what)
{
    int e = errno;
    log_error("media tmp write failed", "what=%s errno=%d", what, e);
    if (e == ENOSPC || e == EDQUOT) {
        http_reply_error(r, NT_EUNAVAIL, "file storage is full, try again later");
        return NT_EUNAVAIL;
    }
    http_reply_error(r, NT_EINTERNAL, "internal error");
    return NT_EIO;
}

/* Body -> fd, hashing and counting; *size bytes, hex the SHA-256.  0, or an
 * error answered. */
static int stream_body(http_req_t *r, int fd, long long declared, long long *size, char *hex)
{
    unsigned char *buf = malloc(IO_BUF), md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = NT_OK;
    *size = 0;
    if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        http_reply_error(r, NT_ENOMEM, "internal error");
        rc = NT_ENOMEM;
        goto out;
    }
    for (;;) {
        int got = mg_read(r->conn, buf, IO_BUF);
        if (got == 0)
            break;
        if (got < 0) { /* the client went away or broke the framing */
            http_reply_error(r, NT_EINVAL, "upload interrupted");
            rc = NT_EINVAL;
            goto out;
        }
        *size += got;
        if (*size > (long long)r->edge->max_upload) { /* chunked, past the limit */
            too_large(r);
            rc = NT_ETOOLARGE;
            goto out;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1) {
            http_reply_error(r, NT_ECRYPTO, "internal error");
            rc = NT_ECRYPTO;
            goto out;
        }
        if (write_all(fd, buf, (size_t)got) != NT_OK) {
            rc = disk_error(r, "write");
            goto out;
        }
    }
    if (declared >= 0 && *size < declared) {
        http_reply_error(r, NT_EINVAL, "upload interrupted: body shorter than Content-Length");
        rc = NT_EINVAL;
    } else if (*size == 0) {
        http_reply_error(r, NT_EINVAL, "empty file: the body has no bytes");
        rc = NT_EINVAL;
    } else if (fdatasync(fd) != 0) {
        rc = disk_error(r, "fdatasync");
    } else if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        http_reply_error(r, NT_ECRYPTO, "internal error");
        rc = NT_ECRYPTO;
    } else {
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
out:
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The request's Content-Type, for the pool's log only: printable ASCII of
 * a sane length, else "". */
static const char *declared_mime(http_req_t *r)
{
    const char *ct = mg_get_header(r->conn, "Content-Type");
    size_t n = ct ? strlen(ct) : 0;
    if (n == 0 || n > 255)
        return "";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] >= 0x7F)
            return "";
    return ct;
}

static json_t *file_json(const Natter__MediaFile *f)
{
    char url[96], turl[112];
    snprintf(url, sizeof url, "/api/files/%s", f->id);
    snprintf(turl, sizeof turl, "/api/files/%s/thumbnail", f->id);
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:o}", "id", f->id, "name", f->name, "mime",
                     f->mime, "size", (json_int_t)f->size, "sha256", f->sha256, "url", url,
                     "thumbnail_url", f->has_thumbnail ? json_string(turl) : json_null());
}

static void tmp_unlink(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        log_warn("cannot remove an upload file", "path=%s errno=%d", path, errno);
}

/* Ask the pool to keep tmp file path; answer the client.  On success the
 * tmp name is gone before the 201 leaves, so a client never sees its own
 * finished upload in tmp/. */
static void register_file(http_req_t *r, const char *path, const char *hex, long long size,
                          const char *name)
{
    Natter__MediaRegisterReq req = NATTER__MEDIA_REGISTER_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.tmp_name = (char *)(strrchr(path, '/') + 1);
    req.sha256 = (char *)hex;
    req.size = size;
    req.name = (char *)name;
    req.declared_mime = (char *)declared_mime(r);
    if (http_call(r, "media", "register", &req.base, &natter__media_file__descriptor, &reply) !=
        NT_OK) {
        count(r, "refused", 0);
        return;
    }
    tmp_unlink(path); /* ENOENT: the pool moved it, as it should */
    json_t *file = file_json((Natter__MediaFile *)reply);
    protobuf_c_message_free_unpacked(reply, NULL);
    count(r, "stored", size);
    http_reply_json(r, 201, file ? json_pack("{s:o}", "file", file) : NULL);
}

void route_file_upload(http_req_t *r)
{
    http_edge_t *e = r->edge;
    long long declared = r->ri->content_length, size = 0;
    char name[1024], path[PATH_MAX], hex[65];
    if (!e->media_root) {
        http_reply_error(r, NT_EUNAVAIL, "file storage is not configured");
        return;
    }
    if (declared > (long long)e->max_upload) { /* refused before reading a byte */
        count(r, "too_large", 0);
        too_large(r);
        return;
    }
    if (declared == 0) {
        count(r, "bad_request", 0);
        http_reply_error(r, NT_EINVAL, "empty file: the body has no bytes");
        return;
    }
    if (upload_name(r, name, sizeof name) != NT_OK) {
        count(r, "bad_request", 0);
        return;
    }
    int n = snprintf(path, sizeof path, "%s/tmp/up-XXXXXX", e->media_root);
    int fd = (n > 0 && (size_t)n < sizeof path) ? mkostemp(path, O_CLOEXEC) : -1;
    /* mkostemp makes it 0600; the pool (maybe another user of the group,
     * on another machine) reads it, and downloads read the moved file. */
    if (fd >= 0 && fchmod(fd, 0640) != 0) {
        close(fd);
        tmp_unlink(path);
        fd = -1;
    }
    if (fd < 0) {
        log_error("cannot create an upload file", "dir=%s/tmp errno=%d", e->media_root, errno);
        http_reply_error(r, NT_EINTERNAL, "internal error");
        return;
    }
    int rc = stream_body(r, fd, declared, &size, hex);
    if (close(fd) != 0 && rc == NT_OK)
        rc = disk_error(r, "close");
    if (rc == NT_OK)
        register_file(r, path, hex, size, name);
    else
        count(r, rc == NT_ETOOLARGE ? "too_large" : rc == NT_EINVAL ? "bad_request" : "failed", 0);
    tmp_unlink(path); /* every other path: whatever happened, tmp/ keeps nothing */
}
