/*
 * media_pool.c - the media service's two requests (media_pool.h):
 *
 * register: the edge has streamed an upload into tmp/; check what it says
 *   about it, keep the bytes (media_ingest: outside any database
 *   connection, it may hash 25 MiB and decode an image), then write the
 *   files row.  Bytes kept but no row (the database failed) are harmless:
 *   they are named by their hash and the next identical upload reuses them.
 * get: may the caller read this file, and which file under the root is
 *   it (the bytes, or the thumbnail, made again if it went missing).  The
 *   edge serves it; we only answer with a path relative to the root.
 */
#include "actors/media_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int media_pool_register(media_pool_t *p, micro_t *m, int workers)
{
    static const struct {
        const char *op;
        micro_handler_fn fn;
    } eps[] = {
        {"register", media_register_h},
        {"get", media_get_h},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        char subject[SUBJECT_MAX];
        int rc = subject_svc(subject, sizeof subject, "media", eps[i].op);
        if (rc == NT_OK)
            rc = micro_add_endpoint(m, eps[i].op, subject, workers, eps[i].fn, p);
        if (rc != NT_OK)
            return rc;
    }
    return NT_OK;
}

/* The caller (Natter-Uid), or NULL after answering unauthorized. */
static const char *caller(bus_t *bus, natsMsg *msg)
{
    const char *uid = bus_header(msg, BUS_H_UID);
    int64_t id;
    if (!uid || db_parse_id(uid, &id) != NT_OK) {
        pool_fail(bus, msg, NT_EUNAUTH, "not logged in");
        return NULL;
    }
    return uid;
}

/* The client's Content-Type, for the log only: what is not a MIME token
 * character becomes '?', so it cannot forge a log line. */
static void log_safe(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++)
        out[i] = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                         (s[i] >= '0' && s[i] <= '9') || strchr("/+.-_", s[i])
                     ? s[i]
                     : '?';
    out[i] = '\0';
    if (i == 0)
        snprintf(out, n, "-");
}

/* The MediaFile of r (pointers into r). */
static void file_pb(const media_rec_t *r, Natter__MediaFile *f)
{
    natter__media_file__init(f);
    f->id = (char *)r->id;
    f->name = (char *)r->name;
    f->mime = (char *)r->mime;
    f->size = r->size;
    f->sha256 = (char *)r->sha256;
    f->uploader_id = (char *)r->uploader_id;
    f->created_at = r->created_at;
    f->has_thumbnail = r->has_thumbnail != 0;
}

/* Checks that need neither disk nor database. */
static int register_rules(const media_pool_t *p, const Natter__MediaRegisterReq *req,
                          const char **why)
{
    *why = NULL;
    if (!media_tmp_name_ok(req->tmp_name))
        *why = "tmp_name must be a file name under the media tmp directory";
    else if (req->size == 0)
        *why = "the file is empty";
    else if (req->size < 0 || strlen(req->sha256) != MEDIA_SHA_HEX)
        *why = "size and sha256 must describe the upload";
    else if (!media_name_ok(req->name))
        *why = "name must be 1-255 characters of UTF-8 without control characters";
    if (*why)
        return NT_EINVAL;
    if (req->size > p->max_bytes) {
        *why = "the file is too large";
        return NT_ETOOLARGE;
    }
    return NT_OK;
}

/* media_find_sha on a connection of the pool; *found = 0 when unknown. */
static int lookup_sha(media_pool_t *p, const char *sha, media_rec_t *known, int *found)
{
    MYSQL *db;
    *found = 0;
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return NT_EUNAVAIL;
    int rc = media_find_sha(db, sha, known);
    db_release(p->db, db, db_is_broken(rc));
    *found = rc == NT_OK;
    return rc == NT_ENOTFOUND ? NT_OK : rc;
}

int media_register_h(bus_t *bus, natsMsg *msg, void *arg)
{
    media_pool_t *p = arg;
    const char *uid = caller(bus, msg);
    if (!uid)
        return NT_EUNAUTH;
    Natter__MediaRegisterReq *req = pool_unpack(bus, msg, &natter__media_register_req__descriptor);
    if (!req)
        return NT_EINVAL;
    media_rec_t known, r = {0};
    media_upload_t u = {.tmp_name = req->tmp_name, .sha256 = req->sha256, .size = req->size};
    const char *why;
    int found = 0, rc = register_rules(p, req, &why);
    MYSQL *db = NULL;
    if (rc != NT_OK) {
        rc = pool_fail(bus, msg, rc, why);
        goto out;
    }
    if ((rc = lookup_sha(p, req->sha256, &known, &found)) != NT_OK) {
        rc = pool_fail(bus, msg, rc == NT_EUNAVAIL ? rc : NT_EDB, "database unavailable, retry");
        goto out;
    }
    u.known = found ? &known : NULL;
    if ((rc = media_ingest(p, &u)) != NT_OK) {
        rc = pool_fail(bus, msg, rc, u.why ? u.why : "");
        goto out;
    }
    db_copy(r.uploader_id, sizeof r.uploader_id, uid);
    db_copy(r.sha256, sizeof r.sha256, req->sha256);
    r.size = req->size;
    db_copy(r.mime, sizeof r.mime, u.mime);
    db_copy(r.name, sizeof r.name, req->name);
    r.has_thumbnail = u.has_thumbnail;
    if ((rc = db_acquire(p->db, p->db_wait_ms, &db)) == NT_OK) {
        rc = media_insert(db, &r);
        db_release(p->db, db, db_is_broken(rc));
    }
    if (rc != NT_OK) {
        rc = pool_fail(bus, msg, rc == NT_EUNAVAIL ? rc : NT_EDB, "file not stored, retry");
        goto out;
    }
    Natter__MediaFile f;
    file_pb(&r, &f);
    rc = bus_reply_pb(bus, msg, &f.base);
    char declared[64];
    log_safe(req->declared_mime, declared, sizeof declared);
    log_info("file stored", "id=%s uid=%s size=%lld mime=%s declared=%s thumbnail=%s dedup=%s",
             r.id, uid, (long long)r.size, r.mime, declared, r.has_thumbnail ? "yes" : "no",
             found ? "yes" : "no");
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* The size of root/rel if it is a non-empty regular file, else -1. */
static int64_t file_size(const char *root, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", root, rel) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return -1;
    return (int64_t)st.st_size;
}

/* Which file under the root to serve for r: its bytes, or its thumbnail
 * (made again from the bytes if it is gone).  NT_ENOTFOUND: r has no
 * thumbnail; NT_EIO: a file the row promises is not on disk. */
static int serve_path(const media_pool_t *p, const media_rec_t *r, int thumb, char *rel,
                      size_t n, int64_t *size)
{
    char orig[128], src[PATH_MAX], dst[PATH_MAX];
    int rc = media_path_file(orig, sizeof orig, r->sha256);
    if (rc != NT_OK)
        return NT_EINTERNAL;
    if (!thumb) {
        snprintf(rel, n, "%s", orig);
        return (*size = file_size(p->root, rel)) < 0 ? NT_EIO : NT_OK;
    }
    if (!r->has_thumbnail || media_path_thumb(rel, n, r->sha256) != NT_OK)
        return NT_ENOTFOUND;
    if ((*size = file_size(p->root, rel)) >= 0)
        return NT_OK;
    log_warn("thumbnail missing, making it again", "id=%s sha256=%s", r->id, r->sha256);
    if (snprintf(src, sizeof src, "%s/%s", p->root, orig) >= (int)sizeof src ||
        snprintf(dst, sizeof dst, "%s/%s", p->root, rel) >= (int)sizeof dst ||
        media_fs_mkdirs(p->root, rel) != NT_OK ||
        media_thumb_make(src, dst, p->thumb_px, p->max_pixels) != NT_OK)
        return NT_EIO;
    return (*size = file_size(p->root, rel)) < 0 ? NT_EIO : NT_OK;
}

int media_get_h(bus_t *bus, natsMsg *msg, void *arg)
{
    media_pool_t *p = arg;
    const char *uid = caller(bus, msg);
    if (!uid)
        return NT_EUNAUTH;
    Natter__MediaGetReq *req = pool_unpack(bus, msg, &natter__media_get_req__descriptor);
    if (!req)
        return NT_EINVAL;
    media_rec_t r;
    MYSQL *db = NULL;
    char rel[160];
    int64_t size = 0;
    int readable = 0, rc = db_acquire(p->db, p->db_wait_ms, &db);
    if (rc == NT_OK) {
        rc = media_get(db, req->file_id, uid, &r, &readable);
        db_release(p->db, db, db_is_broken(rc));
    }
    if (rc == NT_ENOTFOUND || rc == NT_EUNAVAIL) {
        rc = pool_fail(bus, msg, rc,
                       rc == NT_ENOTFOUND ? "file not found" : "database unavailable, retry");
        goto out;
    }
    if (rc != NT_OK) {
        rc = pool_fail(bus, msg, NT_EDB, "");
        goto out;
    }
    if (!readable) {
        rc = pool_fail(bus, msg, NT_EFORBIDDEN, "only the uploader and members of a conversation"
                                                " it was sent in may read a file");
        goto out;
    }
    if ((rc = serve_path(p, &r, req->thumbnail, rel, sizeof rel, &size)) != NT_OK) {
        if (rc != NT_ENOTFOUND) /* the row is there, the bytes are not: restore from backup */
            log_error("media file missing", "id=%s sha256=%s thumbnail=%d root=%s", r.id,
                      r.sha256, req->thumbnail != 0, p->root);
        rc = pool_fail(bus, msg, rc == NT_ENOTFOUND ? rc : NT_EINTERNAL,
                       "this file has no thumbnail");
        goto out;
    }
    Natter__MediaFile f;
    file_pb(&r, &f);
    f.path = rel;
    f.path_mime = req->thumbnail ? "image/jpeg" : r.mime;
    f.path_size = size;
    rc = bus_reply_pb(bus, msg, &f.base);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
