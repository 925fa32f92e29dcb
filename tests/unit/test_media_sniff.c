/*
 * test_media_sniff.c - MIME types from content (media_sniff.c): images by
 * their signatures, text as text/plain, unknown bytes as
 * application/octet-stream, and one handle shared by threads at once.
 */
#include "actors/media_pool.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

static media_sniff_t *s;

static void setup(void)
{
    cr_assert_eq(media_sniff_new(&s), NT_OK);
}

static void teardown(void)
{
    media_sniff_free(s);
}

TestSuite(media_sniff, .init = setup, .fini = teardown, .timeout = 30);

/* A PNG as far as the first chunk: signature and IHDR (1x1, RGB). */
static const unsigned char png_head[] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
    0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde};

static const unsigned char jpeg_head[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};

static const char *sniff(const void *buf, size_t n)
{
    static char mime[MEDIA_MIME_MAX];
    cr_assert_eq(media_sniff_buf(s, buf, n, mime, sizeof mime), NT_OK);
    return mime;
}

Test(media_sniff, images_by_signature)
{
    cr_expect_str_eq(sniff(png_head, sizeof png_head), "image/png");
    cr_expect_str_eq(sniff(jpeg_head, sizeof jpeg_head), "image/jpeg");
    cr_expect_str_eq(sniff("GIF89a\x01\x00\x01\x00\x00\x00\x00", 13), "image/gif");
}

Test(media_sniff, text_and_unknown)
{
    const char *t = "hello, this is a plain text file\nwith two lines\n";
    cr_expect_str_eq(sniff(t, strlen(t)), "text/plain");
    unsigned char junk[256];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 151 + 7);
    cr_expect_str_eq(sniff(junk, sizeof junk), "application/octet-stream");
    cr_expect_str_eq(sniff("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15), "application/pdf");
}

Test(media_sniff, the_content_decides_not_a_claim_in_it)
{
    /* Text that talks about PNGs is still text. */
    const char *t = "image/png\nContent-Type: image/png\n";
    cr_expect_str_eq(sniff(t, strlen(t)), "text/plain");
}

Test(media_sniff, small_buffer_refused)
{
    char tiny[8];
    cr_expect_eq(media_sniff_buf(s, "x", 1, tiny, sizeof tiny), NT_EINVAL);
}

static void *sniff_many(void *arg)
{
    (void)arg;
    char mime[MEDIA_MIME_MAX];
    for (int i = 0; i < 200; i++) {
        int png = i % 2 == 0;
        if (media_sniff_buf(s, png ? (const void *)png_head : (const void *)"plain words\n",
                            png ? sizeof png_head : 12, mime, sizeof mime) != NT_OK ||
            strcmp(mime, png ? "image/png" : "text/plain") != 0)
            return (void *)1;
    }
    return NULL;
}

Test(media_sniff, shared_by_threads)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, sniff_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        cr_expect_null(bad, "thread %d saw a wrong type", i);
    }
}
