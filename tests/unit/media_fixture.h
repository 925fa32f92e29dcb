/*
 * media_fixture.h - what the media tests share (test_media_thumb.c,
 * test_media_ingest.c): libvips started per test process, a private
 * directory removed afterwards, real images made by libvips itself, and
 * the corrupt ones made from them.  Header-only: each test is a program.
 */
#ifndef NT_MEDIA_FIXTURE_H
#define NT_MEDIA_FIXTURE_H

#include "actors/media_pool.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#define MFX_UNUSED __attribute__((unused))

static char mfx_dir[64];

static int mfx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static MFX_UNUSED void mfx_start(void)
{
    cr_assert_eq(media_thumb_init("test"), NT_OK);
    snprintf(mfx_dir, sizeof mfx_dir, "/tmp/natter-media-XXXXXX");
    cr_assert_not_null(mkdtemp(mfx_dir));
}

static MFX_UNUSED void mfx_stop(void)
{
    if (mfx_dir[0])
        nftw(mfx_dir, mfx_rm, 16, FTW_DEPTH | FTW_PHYS);
    media_thumb_shutdown();
}

/* dir/rel as a path in a static buffer (one at a time). */
static MFX_UNUSED const char *mfx_path(const char *rel)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", mfx_dir, rel);
    return p;
}

static MFX_UNUSED int mfx_exists(const char *rel)
{
    struct stat st;
    return stat(mfx_path(rel), &st) == 0;
}

/* Entries in dir/rel, "." and ".." not counted; -1 if it cannot be read. */
static MFX_UNUSED int mfx_count(const char *rel)
{
    DIR *d = opendir(mfx_path(rel));
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static MFX_UNUSED void mfx_write(const char *rel, const void *buf, size_t n)
{
    FILE *f = fopen(mfx_path(rel), "wb");
    cr_assert_not_null(f, "open %s", rel);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* A w x h image with noise in it (so it does not compress to nothing),
 * encoded as "png" or "jpeg" into *buf (g_free). */
static MFX_UNUSED void mfx_image(const char *fmt, int w, int h, void **buf, size_t *len)
{
    VipsImage *noise = NULL, *u8 = NULL, *rgb = NULL;
    cr_assert_eq(vips_gaussnoise(&noise, w, h, "mean", 128.0, "sigma", 40.0, NULL), 0);
    cr_assert_eq(vips_cast_uchar(noise, &u8, NULL), 0);
    VipsImage *bands[3] = {u8, u8, u8};
    cr_assert_eq(vips_bandjoin(bands, &rgb, 3, NULL), 0);
    int rc = strcmp(fmt, "png") == 0 ? vips_pngsave_buffer(rgb, buf, len, NULL)
                                     : vips_jpegsave_buffer(rgb, buf, len, NULL);
    cr_assert_eq(rc, 0, "%s", vips_error_buffer());
    g_object_unref(rgb);
    g_object_unref(u8);
    g_object_unref(noise);
}

/* Width and height of the image file at dir/rel (decoded in full). */
static MFX_UNUSED void mfx_size(const char *rel, int *w, int *h)
{
    VipsImage *im = vips_image_new_from_file(mfx_path(rel), NULL);
    cr_assert_not_null(im, "%s: %s", rel, vips_error_buffer());
    *w = vips_image_get_width(im);
    *h = vips_image_get_height(im);
    double avg;
    cr_assert_eq(vips_avg(im, &avg, NULL), 0, "%s decodes", rel);
    g_object_unref(im);
}

/* A PNG whose signature and header chunk are real and everything after
 * is garbage: it sniffs as image/png and its header reads, its pixels
 * cannot decode. */
static MFX_UNUSED void mfx_corrupt_png(unsigned char *out, size_t n)
{
    void *buf;
    size_t len;
    mfx_image("png", 200, 200, &buf, &len);
    cr_assert(len > 33 && n > 33);
    memcpy(out, buf, 33); /* 8 signature + 25 IHDR */
    for (size_t i = 33; i < n; i++)
        out[i] = (unsigned char)(i * 2654435761u >> 13);
    g_free(buf);
}

/* Lowercase hex sha256 of buf into out[65]. */
static MFX_UNUSED void mfx_sha(const void *buf, size_t n, char *out)
{
    unsigned char md[32];
    unsigned len = 0;
    cr_assert_eq(EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

#endif
