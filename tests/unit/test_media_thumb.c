/*
 * test_media_thumb.c - thumbnails (media_thumb.c) of real images made by
 * libvips: bounded by the longest side, never enlarged, written whole or
 * not at all; corrupt, truncated, oversized and non-image input is an
 * error that leaves no file behind.
 */
#include "media_fixture.h"

TestSuite(media_thumb, .init = mfx_start, .fini = mfx_stop, .timeout = 60);

#define BIG ((int64_t)100000000)

static void put_image(const char *rel, const char *fmt, int w, int h)
{
    void *buf;
    size_t len;
    mfx_image(fmt, w, h, &buf, &len);
    mfx_write(rel, buf, len);
    g_free(buf);
}

static int make(const char *src, const char *dst, int px, int64_t max)
{
    char s[512];
    snprintf(s, sizeof s, "%s", mfx_path(src));
    return media_thumb_make(s, mfx_path(dst), px, max);
}

Test(media_thumb, png_bounded_by_the_longest_side)
{
    int w, h;
    put_image("wide.png", "png", 640, 480);
    cr_assert_eq(make("wide.png", "wide.jpg", 320, BIG), NT_OK);
    mfx_size("wide.jpg", &w, &h);
    cr_expect_eq(w, 320);
    cr_expect_eq(h, 240);

    put_image("tall.jpg", "jpeg", 300, 900);
    cr_assert_eq(make("tall.jpg", "tall.thumb.jpg", 320, BIG), NT_OK);
    mfx_size("tall.thumb.jpg", &w, &h);
    cr_expect_eq(h, 320);
    cr_expect(w >= 106 && w <= 107, "w=%d", w);
    cr_expect_eq(mfx_count(""), 4, "no temporary file left behind");
}

Test(media_thumb, small_images_are_not_enlarged)
{
    int w, h;
    put_image("small.png", "png", 100, 50);
    cr_assert_eq(make("small.png", "small.jpg", 320, BIG), NT_OK);
    mfx_size("small.jpg", &w, &h);
    cr_expect_eq(w, 100);
    cr_expect_eq(h, 50);
}

Test(media_thumb, output_is_jpeg)
{
    put_image("a.png", "png", 64, 64);
    cr_assert_eq(make("a.png", "a.out", 32, BIG), NT_OK);
    FILE *f = fopen(mfx_path("a.out"), "rb");
    unsigned char sig[3] = {0};
    cr_assert_not_null(f);
    cr_assert_eq(fread(sig, 1, 3, f), 3);
    fclose(f);
    cr_expect(sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff, "JPEG SOI");
}

Test(media_thumb, corrupt_png_is_an_error_and_no_file)
{
    unsigned char bad[4000];
    mfx_corrupt_png(bad, sizeof bad);
    mfx_write("bad.png", bad, sizeof bad);
    cr_expect_eq(make("bad.png", "bad.jpg", 320, BIG), NT_EINVAL);
    cr_expect(!mfx_exists("bad.jpg"));
    cr_expect_eq(mfx_count(""), 1, "nothing but the input");
}

Test(media_thumb, truncated_jpeg_is_an_error)
{
    void *buf;
    size_t len;
    mfx_image("jpeg", 400, 400, &buf, &len);
    mfx_write("cut.jpg", buf, len / 2);
    g_free(buf);
    cr_expect_eq(make("cut.jpg", "cut.thumb.jpg", 320, BIG), NT_EINVAL);
    cr_expect(!mfx_exists("cut.thumb.jpg"));
}

Test(media_thumb, too_many_pixels_refused_before_decoding)
{
    put_image("big.png", "png", 640, 480);
    cr_expect_eq(make("big.png", "big.jpg", 320, 640 * 480 - 1), NT_EINVAL);
    cr_expect(!mfx_exists("big.jpg"));
    cr_expect_eq(make("big.png", "big.jpg", 320, 640 * 480), NT_OK, "the limit itself is fine");
}

Test(media_thumb, not_an_image)
{
    const char *t = "just some text, not pixels\n";
    mfx_write("t.png", t, strlen(t)); /* the name says png; the bytes do not */
    cr_expect_eq(make("t.png", "t.jpg", 320, BIG), NT_EINVAL);
    cr_expect(!mfx_exists("t.jpg"));
    cr_expect_eq(make("missing.png", "m.jpg", 320, BIG), NT_EINVAL);
}

Test(media_thumb, only_trusted_raster_types)
{
    cr_expect(media_thumb_type("image/png") && media_thumb_type("image/jpeg") &&
              media_thumb_type("image/gif") && media_thumb_type("image/webp"));
    cr_expect(!media_thumb_type("image/svg+xml"));
    cr_expect(!media_thumb_type("image/bmp"));
    cr_expect(!media_thumb_type("text/plain"));
    cr_expect(!media_thumb_type(NULL));
    /* And libvips itself refuses the untrusted loaders. */
    const char *svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"/>";
    mfx_write("a.svg", svg, strlen(svg));
    cr_expect_eq(make("a.svg", "a.jpg", 320, BIG), NT_EINVAL);
}

Test(media_thumb, unwritable_destination)
{
    put_image("ok.png", "png", 50, 50);
    cr_expect_eq(make("ok.png", "no/such/dir/ok.jpg", 320, BIG), NT_EIO);
}
