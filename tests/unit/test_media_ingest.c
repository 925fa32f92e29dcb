/*
 * test_media_ingest.c - what becomes of an upload's bytes (media_ingest.c,
 * media_fs.c) in a real media root: kept at its content address with a
 * thumbnail for images, stored once for identical bytes, the type taken
 * from the bytes whatever the name, and a corrupt image, a wrong checksum
 * or a hostile tmp name refused with nothing kept.
 */
#include "media_fixture.h"

static media_pool_t p;

static void setup(void)
{
    mfx_start();
    cr_assert_eq(media_fs_init(mfx_dir), NT_OK);
    cr_assert_eq(media_sniff_new(&p.sniff), NT_OK);
    p.root = mfx_dir;
    p.thumb_px = 320;
    p.max_pixels = 100000000;
    p.max_bytes = 1 << 20;
}

static void teardown(void)
{
    media_sniff_free(p.sniff);
    mfx_stop();
}

TestSuite(media_ingest, .init = setup, .fini = teardown, .timeout = 60);

/* Put buf at tmp/<name> and ingest it as the edge would describe it. */
static int ingest(const char *name, const void *buf, size_t n, media_upload_t *u, char *sha)
{
    char rel[160];
    snprintf(rel, sizeof rel, "tmp/%s", name);
    mfx_write(rel, buf, n);
    mfx_sha(buf, n, sha);
    *u = (media_upload_t){.tmp_name = name, .sha256 = sha, .size = (int64_t)n};
    return media_ingest(&p, u);
}

static void png(int w, int h, void **buf, size_t *len)
{
    mfx_image("png", w, h, buf, len);
}

Test(media_ingest, image_kept_with_thumbnail)
{
    void *buf;
    size_t len;
    char sha[65], rel[160];
    media_upload_t u;
    png(800, 600, &buf, &len);
    cr_assert_eq(ingest("up-a1", buf, len, &u, sha), NT_OK);
    cr_expect_str_eq(u.mime, "image/png");
    cr_expect_eq(u.has_thumbnail, 1);
    cr_expect(!mfx_exists("tmp/up-a1"), "moved out of tmp");
    cr_assert_eq(media_path_file(rel, sizeof rel, sha), NT_OK);
    cr_expect(mfx_exists(rel), "at its content address");
    cr_expect_eq(strncmp(rel, sha, 2), 0);
    cr_assert_eq(media_path_thumb(rel, sizeof rel, sha), NT_OK);
    int w, h;
    mfx_size(rel, &w, &h);
    cr_expect(w == 320 && h == 240, "%dx%d", w, h);
    g_free(buf);
}

Test(media_ingest, identical_bytes_stored_once)
{
    void *buf;
    size_t len;
    char sha[65], sha2[65], rel[160];
    media_upload_t u;
    png(300, 200, &buf, &len);
    cr_assert_eq(ingest("up-b1", buf, len, &u, sha), NT_OK);
    cr_assert_eq(ingest("up-b2", buf, len, &u, sha2), NT_OK);
    cr_expect_str_eq(sha, sha2);
    cr_expect_str_eq(u.mime, "image/png");
    cr_expect(u.has_thumbnail);
    cr_expect(!mfx_exists("tmp/up-b2"), "the second copy is dropped");
    cr_assert_eq(media_path_file(rel, sizeof rel, sha), NT_OK);
    *strrchr(rel, '/') = '\0';
    cr_expect_eq(mfx_count(rel), 1, "one stored file");

    /* A known row short-cuts sniffing and decoding, not the checksum. */
    media_rec_t known = {.has_thumbnail = 1};
    strcpy(known.sha256, sha);
    strcpy(known.mime, "image/png");
    mfx_write("tmp/up-b3", buf, len);
    u = (media_upload_t){.tmp_name = "up-b3", .sha256 = sha, .size = (int64_t)len,
                         .known = &known};
    cr_expect_eq(media_ingest(&p, &u), NT_OK);
    cr_expect(!mfx_exists("tmp/up-b3"));
    g_free(buf);
}

Test(media_ingest, corrupt_image_refused_nothing_kept)
{
    unsigned char bad[5000];
    char sha[65], rel[160];
    media_upload_t u;
    mfx_corrupt_png(bad, sizeof bad);
    cr_expect_eq(ingest("up-c1", bad, sizeof bad, &u, sha), NT_EINVAL);
    cr_expect_str_eq(u.why, "image data is corrupt or not a supported image");
    cr_expect(!mfx_exists("tmp/up-c1"), "the pool removes a refused upload");
    cr_assert_eq(media_path_file(rel, sizeof rel, sha), NT_OK);
    cr_expect(!mfx_exists(rel));
    cr_assert_eq(media_path_thumb(rel, sizeof rel, sha), NT_OK);
    cr_expect(!mfx_exists(rel));
    *strrchr(rel, '/') = '\0';
    cr_expect(mfx_count(rel) <= 0, "no thumbnail, not even a temporary one");
}

Test(media_ingest, type_from_bytes_not_name)
{
    const char *text = "dear diary,\ntoday I uploaded a file named like a picture\n";
    char sha[65];
    media_upload_t u;
    cr_assert_eq(ingest("holiday.png", text, strlen(text), &u, sha), NT_OK);
    cr_expect_str_eq(u.mime, "text/plain");
    cr_expect_eq(u.has_thumbnail, 0);

    void *buf;
    size_t len;
    png(40, 40, &buf, &len);
    cr_assert_eq(ingest("notes.txt", buf, len, &u, sha), NT_OK);
    cr_expect_str_eq(u.mime, "image/png");
    cr_expect_eq(u.has_thumbnail, 1);
    g_free(buf);
}

Test(media_ingest, other_image_types_kept_as_plain_files)
{
    /* SVG can carry script and references; libvips would need an untrusted
     * loader for it.  It is kept, typed, and never decoded. */
    const char *svg = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""
                      " width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>\n";
    char sha[65], rel[160];
    media_upload_t u;
    cr_assert_eq(ingest("up-s1", svg, strlen(svg), &u, sha), NT_OK);
    cr_expect_str_eq(u.mime, "image/svg+xml");
    cr_expect_eq(u.has_thumbnail, 0);
    cr_assert_eq(media_path_file(rel, sizeof rel, sha), NT_OK);
    cr_expect(mfx_exists(rel));
    cr_expect_eq(mfx_count("thumbs"), 0);
}

Test(media_ingest, description_must_match_the_bytes)
{
    const char *data = "some bytes";
    char sha[65], wrong[65];
    media_upload_t u;
    mfx_sha("other bytes", 11, wrong);
    mfx_write("tmp/up-d1", data, strlen(data));
    u = (media_upload_t){.tmp_name = "up-d1", .sha256 = wrong, .size = 10};
    cr_expect_eq(media_ingest(&p, &u), NT_EINVAL);
    cr_expect_str_eq(u.why, "upload does not match its size or checksum");
    cr_expect(!mfx_exists("tmp/up-d1"));

    mfx_sha(data, strlen(data), sha);
    mfx_write("tmp/up-d2", data, strlen(data));
    u = (media_upload_t){.tmp_name = "up-d2", .sha256 = sha, .size = 11};
    cr_expect_eq(media_ingest(&p, &u), NT_EINVAL, "size off by one");

    u = (media_upload_t){.tmp_name = "up-none", .sha256 = sha, .size = 10};
    cr_expect_eq(media_ingest(&p, &u), NT_EINVAL, "no such tmp file");
}

Test(media_ingest, hostile_tmp_names)
{
    const char *data = "x";
    char sha[65];
    mfx_sha(data, 1, sha);
    mfx_write("victim", data, 1); /* a file outside tmp/ that must survive */
    const char *names[] = {"../victim", "..", ".hidden", "a/b", "", "up x", "up-\n"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        media_upload_t u = {.tmp_name = names[i], .sha256 = sha, .size = 1};
        cr_expect_eq(media_ingest(&p, &u), NT_EINVAL, "name %zu", i);
    }
    cr_expect(mfx_exists("victim"));
    cr_expect(media_tmp_name_ok("up-Ab3_x.9"));
    char long_name[200];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_expect(!media_tmp_name_ok(long_name));
}

Test(media_ingest, paths)
{
    char rel[160];
    const char *sha = "ab12cdef00000000000000000000000000000000000000000000000000000000";
    cr_assert_eq(media_path_file(rel, sizeof rel, sha), NT_OK);
    cr_expect_str_eq(rel, "ab/12/ab12cdef00000000000000000000000000000000000000000000000000000000");
    cr_assert_eq(media_path_thumb(rel, sizeof rel, sha), NT_OK);
    cr_expect_str_eq(rel, "thumbs/ab/ab12cdef0000000000000000000000000000000000000000000000000000"
                          "0000.jpg");
    cr_expect_eq(media_path_file(rel, sizeof rel, "AB12"), NT_EINVAL);
    cr_expect_eq(media_path_file(rel, sizeof rel, "../../etc/passwd"), NT_EINVAL);
    cr_expect_eq(media_path_file(rel, 10, sha), NT_ETOOLARGE);
}
