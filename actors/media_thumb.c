/*
 * media_thumb.c - thumbnails of uploaded images (libvips).
 *
 * An upload whose bytes sniff as a raster type libvips decodes here
 * (media_thumb_type: PNG, JPEG, GIF, WebP, TIFF, HEIF/AVIF) is decoded
 * once, into a small JPEG; one that does not decode is refused, so such a
 * type in the files table always comes with a thumbnail.  Other image
 * types (SVG, BMP, PSD, icons, ...) are never decoded: they are kept as
 * plain files.  Untrusted input meets a decoder here, so:
 *   - the header is read first and an image of more than max_pixels is
 *     refused before any pixel is decoded (decompression bombs);
 *   - loaders run with fail_on = error: a truncated or corrupt image is an
 *     error, not a half-grey thumbnail;
 *   - loaders libvips marks untrusted (ImageMagick, SVG, PDF, JPEG 2000,
 *     FITS, ...) are blocked for the process, and only the types above
 *     reach libvips at all;
 *   - vips_thumbnail opens the file itself so JPEG, WebP and friends
 *     shrink while loading instead of decoding at full size.
 * In a server libvips gets one worker thread per operation (our media
 * workers are the parallelism) and no operation cache (every upload is a
 * new file; the cache would only hold memory).
 */
#include "actors/media_pool.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#define THUMB_QUALITY 80

int media_thumb_type(const char *mime)
{
    static const char *const types[] = {"image/png",  "image/jpeg", "image/gif",
                                        "image/webp", "image/tiff", "image/heic",
                                        "image/heif", "image/avif"};
    for (size_t i = 0; mime && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(mime, types[i]) == 0)
            return 1;
    return 0;
}

/* text as one log value: no newlines, no quotes, "-" if empty. */
static void one_line(const char *text, char *line, size_t n)
{
    snprintf(line, n, "%s", text && *text ? text : "-");
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '"')
            *c = ' ';
}

/* Log libvips' error text and clear it. */
static void vips_fail(const char *what, const char *src)
{
    char line[256];
    one_line(vips_error_buffer(), line, sizeof line);
    log_info(what, "src=%s err=\"%s\"", src, line);
    vips_error_clear();
}

/* libvips (through GLib) warns about every oddity of a decoded file on
 * stderr; here they become debug lines of our log like everything else. */
static void vips_to_log(const gchar *domain, GLogLevelFlags level, const gchar *text, gpointer arg)
{
    (void)domain, (void)level, (void)arg;
    char line[256];
    one_line(text, line, sizeof line);
    log_debug("libvips", "text=\"%s\"", line);
}

int media_thumb_init(const char *argv0)
{
    if (VIPS_INIT(argv0 ? argv0 : "natter") != 0) {
        log_error("cannot start libvips", "err=\"%s\"", vips_error_buffer());
        vips_error_clear();
        return NT_ECONFIG;
    }
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_block_untrusted_set(TRUE);
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
                      vips_to_log, NULL);
    return NT_OK;
}

void media_thumb_shutdown(void)
{
    vips_shutdown();
}

/* Width times height from the header alone, or -1 if it is not an image. */
static int64_t header_pixels(const char *src)
{
    VipsImage *h = vips_image_new_from_file(src, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                            VIPS_FAIL_ON_ERROR, NULL);
    if (!h)
        return -1;
    int64_t px = (int64_t)vips_image_get_width(h) * vips_image_get_height(h);
    g_object_unref(h);
    return px;
}

/* Decode and shrink src into a JPEG in memory (*buf: g_free). */
static int render(const char *src, int px, void **buf, size_t *len)
{
    VipsImage *t = NULL, *flat = NULL;
    int rc = NT_EINVAL;
    if (vips_thumbnail(src, &t, px, "height", px, "size", VIPS_SIZE_DOWN, "fail_on",
                       VIPS_FAIL_ON_ERROR, NULL) != 0)
        goto out;
    if (vips_image_hasalpha(t)) { /* JPEG has no alpha: put it on white */
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int frc = vips_flatten(t, &flat, "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (frc != 0)
            goto out;
    }
    /* The pixels are decoded here: a corrupt body fails in this call. */
    if (vips_jpegsave_buffer(flat ? flat : t, buf, len, "Q", THUMB_QUALITY, "strip", TRUE,
                             NULL) == 0)
        rc = NT_OK;
out:
    if (rc != NT_OK)
        vips_fail("image does not decode", src);
    if (flat)
        g_object_unref(flat);
    if (t)
        g_object_unref(t);
    return rc;
}

/* Write len bytes to dst through dst.XXXXXX and rename. */
static int write_atomic(const char *dst, const void *buf, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", dst) >= (int)sizeof tmp)
        return NT_EINVAL;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        log_error("cannot create thumbnail", "path=%s err=\"%s\"", tmp, strerror(errno));
        return NT_EIO;
    }
    const char *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    int err = left > 0 ? errno : 0;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, dst) != 0)
        err = errno;
    if (err) {
        log_error("cannot write thumbnail", "path=%s err=\"%s\"", dst, strerror(err));
        unlink(tmp);
        return NT_EIO;
    }
    return NT_OK;
}

int media_thumb_make(const char *src, const char *dst, int px, int64_t max_pixels)
{
    void *buf = NULL;
    size_t len = 0;
    int rc;
    int64_t pixels = header_pixels(src);
    if (pixels <= 0) {
        vips_fail("not an image", src);
        rc = NT_EINVAL;
    } else if (pixels > max_pixels) {
        log_info("image too large to decode", "src=%s pixels=%lld max=%lld", src,
                 (long long)pixels, (long long)max_pixels);
        rc = NT_EINVAL;
    } else if ((rc = render(src, px, &buf, &len)) == NT_OK) {
        rc = write_atomic(dst, buf, len);
    }
    g_free(buf);
    /* Handlers run on bus delivery threads that libvips does not own:
     * give back what it keeps per thread now, not at thread exit. */
    vips_thread_shutdown();
    return rc;
}
