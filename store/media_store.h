/*
 * media_store.h - uploaded files in MariaDB (sql/006_media.sql): one row
 * per upload, the dedup lookup by content, who may read a file, and the
 * conversation_files rows that image and file messages leave behind.
 *
 * The bytes are not here: they live under the media root, named by their
 * sha256 (actors/media_pool.h).  This module only knows rows.  Read access
 * (docs/media.md): the uploader, and whoever is a member now of a
 * conversation in which the file was sent and not revoked.  A removed
 * member is not a member (docs/groups.md "Removed members"), so they lose
 * the files with the rest of the history.
 *
 * Ids are decimal strings at this boundary, as everywhere in store/; a
 * malformed file id is a file that does not exist (NT_ENOTFOUND).
 */
#ifndef NT_MEDIA_STORE_H
#define NT_MEDIA_STORE_H

#include "store/msg_store.h"

#include <mysql.h>
#include <stdint.h>

#define MEDIA_ID_MAX 24
#define MEDIA_SHA_HEX 64          /* lowercase hex digits of a sha256 */
#define MEDIA_MIME_MAX 128        /* files.mime is VARCHAR(127) ascii */
#define MEDIA_NAME_CHARS 255      /* files.name is VARCHAR(255) utf8mb4 */
#define MEDIA_NAME_MAX (MEDIA_NAME_CHARS * 4 + 1)
#define MEDIA_BODY_DIGITS 20      /* an image/file message body: a file id of <= 20 digits */

/* One upload. */
typedef struct media_rec {
    char id[MEDIA_ID_MAX];
    char uploader_id[MEDIA_ID_MAX];
    char sha256[MEDIA_SHA_HEX + 1];
    int64_t size;
    char mime[MEDIA_MIME_MAX];
    char name[MEDIA_NAME_MAX];
    int has_thumbnail;
    int64_t created_at;           /* ms */
} media_rec_t;

/* Insert r (uploader_id, sha256, size, mime, name, has_thumbnail); sets
 * r->id and r->created_at.  NT_EINVAL: malformed uploader or sha256. */
int media_insert(MYSQL *db, media_rec_t *r);

/* The newest upload of these bytes into *out; NT_ENOTFOUND if none. */
int media_find_sha(MYSQL *db, const char *sha256, media_rec_t *out);

/* File fid into *out, and *readable = whether uid may read it.
 * NT_ENOTFOUND: no such file (or fid malformed). */
int media_get(MYSQL *db, const char *fid, const char *uid, media_rec_t *out, int *readable);

/* 1 if s has the shape of an image/file message body: 1-20 decimal digits
 * (whether the file exists and whose it is, the send transaction checks). */
int media_body_ok(const char *s);

/* 1 for the message types whose body is a file id ("image", "file"). */
int media_msg_type(const char *type);

/* --- steps of the send group commit (msg_batch_store.c), inside its
 * transaction --------------------------------------------------------- */

/* One image or file message to check. */
typedef struct media_ref {
    const char *body;             /* the message body: the file id */
    int64_t sender;
    int image;                    /* 1: the file must be an image with a thumbnail */
    const char *err;              /* out: NULL if fine, else why (static text) */
} media_ref_t;

/* Check n refs, one statement per MEDIA_REFS_CHUNK: a ref is fine if its
 * body is the id of a file its sender uploaded, and for an image that file
 * has a thumbnail (a raster image the pool decoded; an SVG, say, does not).
 * Files rows never change, so nothing is locked. */
#define MEDIA_REFS_CHUNK 1024
int media_check_refs(MYSQL *db, media_ref_t *v, int n);

/* A conversation_files row for each image or file message of recs[0..n)
 * (the others are skipped); recs carry conversation_id, seq and body. */
int media_link_msgs(MYSQL *db, msg_rec_t *const *recs, int n);

/* Forget that message (cid, seq) sent a file (revoke).  NT_OK if it had
 * no row. */
int media_unlink_msg(MYSQL *db, int64_t cid, int64_t seq);

#endif
