/*
 * media_store.c - the files and conversation_files tables (media_store.h).
 *
 * Reads are point lookups: a file by id (with the permission decided by the
 * same statement: the uploader, or an EXISTS over conversation_files joined
 * to members, both on primary or secondary keys), the newest upload of a
 * sha256 by its index.  The group commit's steps are one statement per
 * chunk of a batch: an IN-list of file ids, a multi-row INSERT.
 */
#include "store/media_store.h"

#include "common/err.h"
#include "store/db.h"
#include "store/sqlb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_COLS "id, uploader_id, sha256, size, mime, name, has_thumbnail, created_at"
#define FILE_NCOLS 8
#define LINK_ROWS_MAX 1000 /* conversation_files rows per INSERT: 3 params each */

static const char ERR_NOT_OWNED[] = "the body must be the id of a file the sender uploaded";
static const char ERR_NOT_IMAGE[] =
    "the file of an image message must be an image with a thumbnail";

int media_body_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (s[n] < '0' || s[n] > '9' || n >= MEDIA_BODY_DIGITS)
            return 0;
    return n > 0;
}

int media_msg_type(const char *type)
{
    return type && (strcmp(type, "image") == 0 || strcmp(type, "file") == 0);
}

static int sha_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == MEDIA_SHA_HEX;
}

int media_insert(MYSQL *db, media_rec_t *r)
{
    int64_t up;
    if (db_parse_id(r->uploader_id, &up) != NT_OK || !sha_ok(r->sha256) || r->size < 0)
        return NT_EINVAL;
    uint64_t id = 0;
    r->created_at = db_now_ms();
    db_param_t p[] = {DB_P_I64(up),         DB_P_STR(r->sha256), DB_P_I64(r->size),
                      DB_P_STR(r->mime),    DB_P_STR(r->name),   DB_P_I64(r->has_thumbnail != 0),
                      DB_P_I64(r->created_at)};
    int rc = db_exec(db,
                     "INSERT INTO files (uploader_id, sha256, size, mime, name, has_thumbnail,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     p, 7, NULL, &id);
    if (rc == NT_OK)
        snprintf(r->id, sizeof r->id, "%llu", (unsigned long long)id);
    return rc;
}

/* A FILE_COLS row into the media_rec_t at arg, then stop; a column past
 * FILE_NCOLS, if any, is the readable flag (media_get). */
typedef struct one_acc {
    media_rec_t *r;
    int *readable;
} one_acc_t;

static int one_file(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    one_acc_t *a = arg;
    media_rec_t *r = a->r;
    if (ncols < FILE_NCOLS)
        return NT_EINTERNAL;
    db_copy(r->id, sizeof r->id, cols[0]);
    db_copy(r->uploader_id, sizeof r->uploader_id, cols[1]);
    db_copy(r->sha256, sizeof r->sha256, cols[2]);
    r->size = db_col_i64(cols[3]);
    db_copy(r->mime, sizeof r->mime, cols[4]);
    db_copy(r->name, sizeof r->name, cols[5]);
    r->has_thumbnail = db_col_i64(cols[6]) != 0;
    r->created_at = db_col_i64(cols[7]);
    if (a->readable)
        *a->readable = ncols > FILE_NCOLS && db_col_i64(cols[FILE_NCOLS]) != 0;
    return 1;
}

int media_find_sha(MYSQL *db, const char *sha256, media_rec_t *out)
{
    memset(out, 0, sizeof *out);
    if (!sha_ok(sha256))
        return NT_ENOTFOUND;
    int rows = 0;
    one_acc_t a = {out, NULL};
    db_param_t p[] = {DB_P_STR(sha256)};
    int rc = db_query(db,
                      "SELECT " FILE_COLS " FROM files WHERE sha256 = ? ORDER BY id DESC LIMIT 1",
                      p, 1, one_file, &a, 1, &rows);
    return rc != NT_OK ? rc : rows == 1 ? NT_OK : NT_ENOTFOUND;
}

int media_get(MYSQL *db, const char *fid, const char *uid, media_rec_t *out, int *readable)
{
    int64_t id, u = 0;
    int rows = 0;
    memset(out, 0, sizeof *out);
    *readable = 0;
    if (db_parse_id(fid, &id) != NT_OK)
        return NT_ENOTFOUND;
    if (db_parse_id(uid, &u) != NT_OK)
        u = 0; /* nobody: ids start at 1 */
    one_acc_t a = {out, readable};
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(u), DB_P_I64(id)};
    int rc = db_query(db,
                      "SELECT " FILE_COLS ", uploader_id = ? OR EXISTS (SELECT 1"
                      " FROM conversation_files cf JOIN members m"
                      " ON m.conversation_id = cf.conversation_id AND m.user_id = ?"
                      " WHERE cf.file_id = files.id) FROM files WHERE id = ?",
                      p, 3, one_file, &a, 1, &rows);
    return rc != NT_OK ? rc : rows == 1 ? NT_OK : NT_ENOTFOUND;
}

/* --- group commit steps --------------------------------------------- */

typedef struct refs_acc {
    media_ref_t *v;
    const int64_t *fid;   /* parsed bodies; 0 for a malformed one */
    int n;
} refs_acc_t;

/* A files row (id, uploader_id, has_thumbnail): judge every ref naming it. */
static int ref_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    refs_acc_t *a = arg;
    if (ncols < 3)
        return NT_EINTERNAL;
    int64_t id = db_col_i64(cols[0]), up = db_col_i64(cols[1]);
    int image = db_col_i64(cols[2]) != 0; /* an image we decoded, so one clients can show */
    for (int i = 0; i < a->n; i++) {
        if (a->fid[i] != id || a->v[i].sender != up)
            continue;
        a->v[i].err = a->v[i].image && !image ? ERR_NOT_IMAGE : NULL;
    }
    return 0;
}

static int check_chunk(MYSQL *db, media_ref_t *v, int n, int64_t *fid, db_param_t *p)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        v[i].err = ERR_NOT_OWNED; /* until its row says otherwise */
        if (db_parse_id(v[i].body, &fid[i]) != NT_OK)
            fid[i] = 0;
        else
            p[m++] = DB_P_I64(fid[i]);
    }
    if (m == 0)
        return NT_OK;
    char *sql = sqlb_list("SELECT id, uploader_id, has_thumbnail FROM files WHERE id IN (", "?",
                          ", ", m, ")");
    if (!sql)
        return NT_ENOMEM;
    refs_acc_t a = {v, fid, n};
    int rc = db_query(db, sql, p, m, ref_row, &a, 0, NULL);
    free(sql);
    return rc;
}

int media_check_refs(MYSQL *db, media_ref_t *v, int n)
{
    if (n <= 0)
        return NT_OK;
    int chunk = n < MEDIA_REFS_CHUNK ? n : MEDIA_REFS_CHUNK;
    int64_t *fid = calloc((size_t)chunk, sizeof *fid);
    db_param_t *p = calloc((size_t)chunk, sizeof *p);
    int rc = fid && p ? NT_OK : NT_ENOMEM;
    for (int from = 0; rc == NT_OK && from < n; from += chunk)
        rc = check_chunk(db, v + from, n - from < chunk ? n - from : chunk, fid, p);
    free(fid);
    free(p);
    return rc;
}

static int link_chunk(MYSQL *db, msg_rec_t *const *recs, int n)
{
    char *sql = sqlb_list("INSERT INTO conversation_files (conversation_id, seq, file_id) VALUES ",
                          "(?, ?, ?)", ", ", n, "");
    db_param_t *p = calloc((size_t)n * 3, sizeof *p);
    int rc = sql && p ? NT_OK : NT_ENOMEM;
    for (int i = 0; rc == NT_OK && i < n; i++) {
        int64_t cid, fid;
        if (db_parse_id(recs[i]->conversation_id, &cid) != NT_OK ||
            db_parse_id(recs[i]->body, &fid) != NT_OK) {
            rc = NT_EINTERNAL; /* checked by media_check_refs before the insert */
            break;
        }
        p[3 * i] = DB_P_I64(cid);
        p[3 * i + 1] = DB_P_I64(recs[i]->seq);
        p[3 * i + 2] = DB_P_I64(fid);
    }
    if (rc == NT_OK)
        rc = db_exec(db, sql, p, 3 * n, NULL, NULL);
    free(sql);
    free(p);
    return rc;
}

int media_link_msgs(MYSQL *db, msg_rec_t *const *recs, int n)
{
    msg_rec_t **pick = n > 0 ? calloc((size_t)n, sizeof *pick) : NULL;
    int m = 0, rc = NT_OK;
    if (n > 0 && !pick)
        return NT_ENOMEM;
    for (int i = 0; i < n; i++)
        if (media_msg_type(recs[i]->type))
            pick[m++] = recs[i];
    for (int from = 0; rc == NT_OK && from < m; from += LINK_ROWS_MAX)
        rc = link_chunk(db, pick + from, m - from < LINK_ROWS_MAX ? m - from : LINK_ROWS_MAX);
    free(pick);
    return rc;
}

int media_unlink_msg(MYSQL *db, int64_t cid, int64_t seq)
{
    db_param_t p[] = {DB_P_I64(cid), DB_P_I64(seq)};
    return db_exec(db, "DELETE FROM conversation_files WHERE conversation_id = ? AND seq = ?", p,
                   2, NULL, NULL);
}
