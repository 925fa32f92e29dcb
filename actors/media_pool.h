/*
 * media_pool.h - the media service: keeping uploaded files, thumbnails,
 * and saying who may download what (DESIGN.md "Processes", "Storage";
 * docs/media.md).
 *
 * File bytes never travel on the bus.  edge-http streams an upload into
 * <root>/tmp/ (hashing and counting it as it goes) and then asks us to keep
 * it; for a download it asks which file to serve and serves it itself.
 * Served in queue group "media" by `natter media`, any number of processes
 * on any machine that sees the same media root:
 *   im.svc.media.register  MediaRegisterReq -> MediaFile (path empty)
 *   im.svc.media.get       MediaGetReq -> MediaFile with path, path_mime,
 *                          path_size; forbidden / not_found
 * Natter-Uid is the caller on both.
 *
 * The media root (media_fs.c):
 *   tmp/<name>                  uploads in flight, written by the edge
 *   <sha[0:2]>/<sha[2:4]>/<sha> the bytes, once per content
 *   thumbs/<sha[0:2]>/<sha>.jpg a JPEG of at most thumb_px on its longest
 *                               side, for content that is an image
 * Everything is written under a temporary name in the target's directory
 * and renamed into place, so two processes keeping the same bytes at once
 * write the same content twice and nobody ever reads half a file.
 *
 * The MIME type comes from the content (libmagic, media_sniff.c), never
 * from the client's Content-Type or file name.  Content that sniffs as a
 * raster image type (media_thumb_type) must decode (libvips,
 * media_thumb.c) and gets a thumbnail; otherwise the upload is refused and
 * nothing is kept.  An image message needs such a file.
 */
#ifndef NT_MEDIA_POOL_H
#define NT_MEDIA_POOL_H

#include "bus/bus.h"
#include "bus/micro.h"
#include "proto/natter.pb-c.h"
#include "store/db.h"
#include "store/media_store.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes of a file's start that libmagic looks at. */
#define MEDIA_SNIFF_BYTES (1024 * 1024)

/* --- media_sniff.c: the MIME type of content (libmagic) --------------- */

/* One libmagic handle behind a mutex (a magic_t is not thread-safe). */
typedef struct media_sniff media_sniff_t;

/* Load the system magic database.  NT_ECONFIG if it cannot be loaded. */
int media_sniff_new(media_sniff_t **out);
void media_sniff_free(media_sniff_t *s);

/* The MIME type ("image/png", "text/plain", ...) of the n bytes at buf
 * into mime[cap]; "application/octet-stream" if libmagic cannot tell. */
int media_sniff_buf(media_sniff_t *s, const void *buf, size_t n, char *mime, size_t cap);

/* --- media_name.c: an upload's display name --------------------------- */

/* 1 if s is 1-MEDIA_NAME_CHARS characters of valid UTF-8 without control
 * characters (C0, DEL, C1). */
int media_name_ok(const char *s);

/* --- media_thumb.c: thumbnails (libvips) ------------------------------ */

/* Start libvips for the process (once, before any thumbnail): one worker
 * thread per operation, no operation cache, untrusted loaders blocked. */
int media_thumb_init(const char *argv0);
/* At exit, after every thread that made thumbnails is done. */
void media_thumb_shutdown(void);

/* 1 for the sniffed types that get a thumbnail (and so must decode):
 * raster formats whose libvips loaders are trusted.  Other image types
 * are kept as plain files, never decoded. */
int media_thumb_type(const char *mime);

/* Make the thumbnail of the image file src at dst (a JPEG, at most px on
 * its longest side, never enlarged), through a temporary file in dst's
 * directory and rename.  NT_EINVAL: src does not decode as an image, or
 * has more than max_pixels pixels (nothing is written); NT_EIO: dst could
 * not be written. */
int media_thumb_make(const char *src, const char *dst, int px, int64_t max_pixels);

/* --- media_fs.c: the media root --------------------------------------- */

/* 1 if name may be a tmp file name: 1-128 of [A-Za-z0-9._-], not starting
 * with '.' (so no "..", no '/', nothing hidden). */
int media_tmp_name_ok(const char *name);

/* Relative paths under the root of sha's bytes and thumbnail. */
int media_path_file(char *buf, size_t n, const char *sha);
int media_path_thumb(char *buf, size_t n, const char *sha);

/* Create root, root/tmp and root/thumbs if missing. */
int media_fs_init(const char *root);

/* Create the directories above rel (a path under root) if missing. */
int media_fs_mkdirs(const char *root, const char *rel);

/* Read tmp/<name>: it must be a regular file of size bytes whose sha256
 * is sha (else NT_EINVAL).  Its first bytes (up to MEDIA_SNIFF_BYTES) go
 * to a new buffer *head of *nhead bytes (caller frees). */
int media_fs_check(const char *root, const char *name, int64_t size, const char *sha,
                   unsigned char **head, size_t *nhead);

/* Move tmp/<name> to rel, or remove it if rel exists already (the same
 * bytes: it is named by their hash). */
int media_fs_keep(const char *root, const char *name, const char *rel);

/* --- media_ingest.c: what becomes of an upload's bytes ---------------- */

/* One upload to keep: the inputs are borrowed, the outputs are written by
 * media_ingest. */
typedef struct media_upload {
    const char *tmp_name;    /* under <root>/tmp/ */
    const char *sha256;      /* as the edge computed it (checked again) */
    int64_t size;
    const media_rec_t *known;  /* a stored upload of the same sha256, or NULL */
    char mime[MEDIA_MIME_MAX]; /* out: sniffed (or known's) */
    int has_thumbnail;         /* out */
    const char *why;           /* out, NT_EINVAL: for the client (static text) */
} media_upload_t;

struct media_pool;

/* Check the bytes, sniff them, make the thumbnail of an image, and move
 * them to their content address (or drop them: stored already).  NT_OK:
 * kept, outputs set.  NT_EINVAL: refused (u->why says why) and the tmp
 * file removed; NT_EIO and others: a server-side failure. */
int media_ingest(const struct media_pool *p, media_upload_t *u);

/* --- media_pool.c: the service ---------------------------------------- */

/* Read-only after media_pool_register; handlers run on bus delivery
 * threads and share it (sniff locks itself, db is a pool). */
typedef struct media_pool {
    bus_t *bus;
    db_pool_t *db;
    int db_wait_ms;          /* how long a request waits for a connection */
    const char *root;        /* media.root (borrowed from the config) */
    int64_t max_bytes;       /* media.max_upload_bytes */
    int thumb_px;            /* media.thumb_px */
    int64_t max_pixels;      /* media.max_pixels: bigger images are refused */
    media_sniff_t *sniff;
} media_pool_t;

/* Add the endpoints to m (queue group "media"), `workers` each. */
int media_pool_register(media_pool_t *p, micro_t *m, int workers);

int media_register_h(bus_t *bus, natsMsg *msg, void *arg);
int media_get_h(bus_t *bus, natsMsg *msg, void *arg);

#endif
