/*
 * media_ingest.c - what becomes of the bytes of one upload (media_pool.h):
 *
 *   1. check them: tmp/<name> is a regular file of the announced size and
 *      sha256 (media_fs_check), and keep its first megabyte;
 *   2. their type: a stored upload of the same sha256 already says it (and
 *      whether there is a thumbnail); else libmagic on the first megabyte;
 *   3. a raster image type (media_thumb_type; not SVG, BMP, ...): a
 *      thumbnail must exist or be made now.  One that exists
 *      for this sha256 proves the bytes decoded before; one that cannot be
 *      made refuses the upload (corrupt, unsupported or too many pixels);
 *   4. move them to their content address, or drop them if it exists.
 * The thumbnail is made from the tmp file, before the move, so a refused
 * image never reaches the content store.  Nothing here touches the
 * database: the pool writes the row after.
 */
#include "actors/media_pool.h"

#include "common/err.h"
#include "common/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char WHY_MISMATCH[] = "upload does not match its size or checksum";
static const char WHY_CORRUPT[] = "image data is corrupt or not a supported image";

static int is_file(const char *root, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    return snprintf(path, sizeof path, "%s/%s", root, rel) < (int)sizeof path &&
           stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* Step 3: the thumbnail of an image, from the tmp file. */
static int thumbnail(const media_pool_t *p, const media_upload_t *u)
{
    char rel[128], src[PATH_MAX], dst[PATH_MAX];
    int rc = media_path_thumb(rel, sizeof rel, u->sha256);
    if (rc != NT_OK)
        return rc;
    if (is_file(p->root, rel))
        return NT_OK; /* these bytes decoded before */
    if (snprintf(src, sizeof src, "%s/tmp/%s", p->root, u->tmp_name) >= (int)sizeof src ||
        snprintf(dst, sizeof dst, "%s/%s", p->root, rel) >= (int)sizeof dst)
        return NT_EINVAL;
    if ((rc = media_fs_mkdirs(p->root, rel)) != NT_OK)
        return rc;
    return media_thumb_make(src, dst, p->thumb_px, p->max_pixels);
}

/* Refuse u: its tmp file goes (the edge's unlink then finds nothing). */
static int refuse(const media_pool_t *p, media_upload_t *u, const char *why)
{
    char path[PATH_MAX];
    if (media_tmp_name_ok(u->tmp_name) &&
        snprintf(path, sizeof path, "%s/tmp/%s", p->root, u->tmp_name) < (int)sizeof path)
        unlink(path);
    u->why = why;
    return NT_EINVAL;
}

int media_ingest(const media_pool_t *p, media_upload_t *u)
{
    unsigned char *head = NULL;
    size_t nhead = 0;
    char rel[128];
    u->mime[0] = '\0';
    u->has_thumbnail = 0;
    u->why = NULL;
    int rc = media_path_file(rel, sizeof rel, u->sha256);
    if (rc != NT_OK || !media_tmp_name_ok(u->tmp_name))
        return refuse(p, u, WHY_MISMATCH);
    rc = media_fs_check(p->root, u->tmp_name, u->size, u->sha256, &head, &nhead);
    if (rc != NT_OK) {
        free(head);
        return rc == NT_EINVAL ? refuse(p, u, WHY_MISMATCH) : rc;
    }
    if (u->known && strcmp(u->known->sha256, u->sha256) == 0 && is_file(p->root, rel)) {
        snprintf(u->mime, sizeof u->mime, "%s", u->known->mime);
        u->has_thumbnail = u->known->has_thumbnail;
    } else {
        rc = media_sniff_buf(p->sniff, head, nhead, u->mime, sizeof u->mime);
    }
    free(head);
    if (rc == NT_OK && media_thumb_type(u->mime) && !u->has_thumbnail) {
        rc = thumbnail(p, u);
        if (rc == NT_EINVAL)
            return refuse(p, u, WHY_CORRUPT);
        u->has_thumbnail = rc == NT_OK;
    }
    if (rc == NT_OK)
        rc = media_fs_keep(p->root, u->tmp_name, rel);
    return rc;
}
