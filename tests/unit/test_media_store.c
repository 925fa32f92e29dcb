/*
 * test_media_store.c - uploaded files in the store (media_store.c) against
 * a real mariadbd (db_fixture.h): rows and the dedup lookup by sha256, the
 * read rules (uploader, member of a conversation the file was sent in,
 * stranger, after a revoke, after a removal), and the send group commit's
 * rules for image and file messages (msg_batch_store.c): forged, foreign,
 * non-image and malformed bodies fail their item alone.
 */
#include "db_fixture.h"

#include "store/conv_store.h"
#include "store/group_store.h"
#include "store/media_store.h"
#include "store/msg_batch_store.h"
#include "store/user_store.h"

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)

static db_pool_t *pool;
static MYSQL *db;
static int serial;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 1);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
}

static void teardown(void)
{
    db_release(pool, db, 0);
    db_pool_free(pool);
}

TestSuite(media_store, .init = setup, .fini = teardown, .timeout = 60);

static void new_user(char *id)
{
    char name[40];
    user_rec_t u;
    snprintf(name, sizeof name, "ms%d_%d", (int)getpid(), serial++);
    cr_assert_eq(user_create(db, name, NULL, "$argon2id$fake", &u), NT_OK, "create %s", name);
    strcpy(id, u.id);
}

/* A sha256-shaped hex string unique to this process and tag. */
static void fake_sha(char *out, int tag)
{
    snprintf(out, MEDIA_SHA_HEX + 1, "%08x%08x%048x", (unsigned)getpid(), (unsigned)tag, 0u);
}

static void new_file_thumb(const char *uploader, const char *mime, int tag, int thumb,
                           media_rec_t *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->uploader_id, uploader);
    fake_sha(r->sha256, tag);
    r->size = 1234;
    strcpy(r->mime, mime);
    strcpy(r->name, "photo \xc3\xa9.png");
    r->has_thumbnail = thumb;
    OK(media_insert(db, r));
    cr_assert(r->id[0] && r->created_at > 0);
}

static void new_file(const char *uploader, const char *mime, int tag, media_rec_t *r)
{
    new_file_thumb(uploader, mime, tag, strncmp(mime, "image/", 6) == 0, r);
}

static void direct(const char *a, const char *b, char *cid)
{
    conv_rec_t c;
    int created;
    OK(conv_create_direct(db, a, b, &c, &created));
    strcpy(cid, c.id);
    conv_rec_fini(&c);
}

/* Send one message through the group commit; its item's rc, and the
 * stored message's seq into *seq (when stored). */
static int send1(const char *cid, const char *sender, const char *type, const char *body,
                 int64_t *seq, const char **err)
{
    static int n;
    char key[40];
    snprintf(key, sizeof key, "k%d_%d", (int)getpid(), n++);
    msg_send_item_t v = {.cid = cid, .sender = sender, .client_msg_id = key, .type = type,
                         .body = body};
    conv_rec_t *convs = NULL;
    int nconvs = 0;
    OK(msg_send_batch(db, &v, 1, &convs, &nconvs));
    if (seq && v.rc == NT_OK)
        *seq = v.msg.seq;
    if (err)
        *err = v.err;
    int rc = v.rc;
    if (rc == NT_OK)
        cr_expect_str_eq(v.msg.body, body);
    msg_send_items_fini(&v, 1);
    conv_recs_free(convs, nconvs);
    return rc;
}

static int readable(const char *fid, const char *uid)
{
    media_rec_t r;
    int can = -1;
    OK(media_get(db, fid, uid, &r, &can));
    cr_assert_str_eq(r.id, fid);
    return can;
}

Test(media_store, row_round_trip_and_dedup_lookup)
{
    char u[MSG_ID_MAX], v[MSG_ID_MAX];
    media_rec_t a, b, got;
    new_user(u);
    new_user(v);
    new_file(u, "image/png", 1, &a);
    int can = 0;
    OK(media_get(db, a.id, u, &got, &can));
    cr_expect_str_eq(got.uploader_id, u);
    cr_expect_str_eq(got.sha256, a.sha256);
    cr_expect_str_eq(got.mime, "image/png");
    cr_expect_str_eq(got.name, "photo \xc3\xa9.png");
    cr_expect_eq(got.size, 1234);
    cr_expect_eq(got.has_thumbnail, 1);
    cr_expect_eq(got.created_at, a.created_at);
    cr_expect_eq(can, 1);

    /* The same bytes uploaded again, by someone else: a row of its own. */
    memcpy(&b, &a, sizeof b);
    strcpy(b.uploader_id, v);
    strcpy(b.name, "other.png");
    OK(media_insert(db, &b));
    cr_expect_str_neq(a.id, b.id);
    OK(media_find_sha(db, a.sha256, &got));
    cr_expect_str_eq(got.id, b.id, "the newest upload of those bytes");
    cr_expect_str_eq(got.mime, "image/png");

    char other[MEDIA_SHA_HEX + 1];
    fake_sha(other, 999);
    EQ(media_find_sha(db, other, &got), NT_ENOTFOUND);
    EQ(media_find_sha(db, "ABC", &got), NT_ENOTFOUND);
    EQ(media_get(db, "99999999999", u, &got, &can), NT_ENOTFOUND);
    EQ(media_get(db, "x1", u, &got, &can), NT_ENOTFOUND);
    EQ(media_get(db, "01", u, &got, &can), NT_ENOTFOUND);

    media_rec_t bad = a;
    strcpy(bad.sha256, "not-hex");
    EQ(media_insert(db, &bad), NT_EINVAL);
}

Test(media_store, uploader_member_stranger_revoke)
{
    char u[MSG_ID_MAX], m[MSG_ID_MAX], s[MSG_ID_MAX], cid[MSG_ID_MAX];
    media_rec_t f;
    new_user(u);
    new_user(m);
    new_user(s);
    new_file(u, "application/pdf", 2, &f);
    direct(u, m, cid);
    cr_expect_eq(readable(f.id, u), 1);
    cr_expect_eq(readable(f.id, m), 0, "not sent yet");
    cr_expect_eq(readable(f.id, s), 0);
    cr_expect_eq(readable(f.id, "garbage"), 0);

    int64_t seq = 0;
    EQ(send1(cid, u, "file", f.id, &seq, NULL), NT_OK);
    cr_expect_eq(readable(f.id, m), 1, "sent in a conversation m is in");
    cr_expect_eq(readable(f.id, s), 0, "a stranger still may not");

    /* Revoking the message takes the access with it. */
    msg_rec_t out;
    int again, expired;
    char mid[MSG_ID_MAX];
    OK(msg_get_seq(db, db_col_i64(cid), seq, &out));
    strcpy(mid, out.id);
    msg_rec_fini(&out);
    OK(msg_revoke(db, mid, u, 60000, &out, &again, &expired));
    msg_rec_fini(&out);
    cr_expect_eq(readable(f.id, m), 0, "revoked");
    cr_expect_eq(readable(f.id, u), 1, "the uploader keeps it");
}

Test(media_store, removed_member_loses_access)
{
    char o[MSG_ID_MAX], a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX], bad[MSG_ID_MAX] = "";
    media_rec_t f;
    conv_rec_t c;
    msg_rec_t sys;
    new_user(o);
    new_user(a);
    new_user(b);
    const char *ids[] = {a, b};
    OK(group_create(db, o, "g", ids, 2, 100, &c, &sys, bad));
    strcpy(cid, c.id);
    conv_rec_fini(&c);
    msg_rec_fini(&sys);
    new_file(a, "image/jpeg", 3, &f);
    EQ(send1(cid, a, "image", f.id, NULL, NULL), NT_OK);
    cr_expect_eq(readable(f.id, b), 1);
    cr_expect_eq(readable(f.id, o), 1);

    group_change_t ch = {.op = "remove", .actor = o, .user_id = b, .max = 100};
    group_result_t r;
    char err[160];
    OK(group_apply(db, cid, &ch, &r, err, sizeof err));
    group_result_fini(&r);
    cr_expect_eq(readable(f.id, b), 0, "removed members lose the history, files included");
    cr_expect_eq(readable(f.id, o), 1);
}

Test(media_store, send_rules_for_files)
{
    char u[MSG_ID_MAX], v[MSG_ID_MAX], cid[MSG_ID_MAX];
    media_rec_t mine_img, mine_pdf, theirs;
    new_user(u);
    new_user(v);
    direct(u, v, cid);
    new_file(u, "image/webp", 4, &mine_img);
    new_file(u, "application/zip", 5, &mine_pdf);
    new_file(v, "image/png", 6, &theirs);
    const char *err = NULL;

    EQ(send1(cid, u, "image", mine_img.id, NULL, &err), NT_OK);
    cr_expect_null(err);
    EQ(send1(cid, u, "file", mine_img.id, NULL, NULL), NT_OK); /* an image may go as a file */
    EQ(send1(cid, u, "file", mine_pdf.id, NULL, NULL), NT_OK);

    EQ(send1(cid, u, "image", mine_pdf.id, NULL, &err), NT_EINVAL);
    cr_expect_str_eq(err, "the file of an image message must be an image with a thumbnail");
    media_rec_t svg;
    new_file_thumb(u, "image/svg+xml", 9, 0, &svg);
    EQ(send1(cid, u, "image", svg.id, NULL, &err), NT_EINVAL); /* an image type, never decoded */
    EQ(send1(cid, u, "file", svg.id, NULL, NULL), NT_OK);
    EQ(send1(cid, u, "image", theirs.id, NULL, &err), NT_EINVAL);
    cr_expect_str_eq(err, "the body must be the id of a file the sender uploaded");
    EQ(send1(cid, u, "file", "99999999999999", NULL, &err), NT_EINVAL);
    cr_expect_str_eq(err, "the body must be the id of a file the sender uploaded");
    EQ(send1(cid, u, "file", "99999999999999999999", NULL, &err), NT_EINVAL); /* > int64 */
    EQ(send1(cid, u, "file", "0", NULL, &err), NT_EINVAL);
    cr_expect_eq(readable(theirs.id, u), 0, "a refused send grants nothing");
}

Test(media_store, one_bad_item_does_not_fail_the_batch)
{
    char u[MSG_ID_MAX], v[MSG_ID_MAX], cid[MSG_ID_MAX], key[3][40];
    media_rec_t mine, theirs;
    new_user(u);
    new_user(v);
    direct(u, v, cid);
    new_file(u, "image/gif", 7, &mine);
    new_file(v, "image/gif", 8, &theirs);
    for (int i = 0; i < 3; i++)
        snprintf(key[i], sizeof key[i], "b%d_%d", (int)getpid(), i);
    msg_send_item_t it[3] = {
        {.cid = cid, .sender = u, .client_msg_id = key[0], .type = "image", .body = mine.id},
        {.cid = cid, .sender = u, .client_msg_id = key[1], .type = "image", .body = theirs.id},
        {.cid = cid, .sender = u, .client_msg_id = key[2], .type = "text", .body = "hi"},
    };
    conv_rec_t *convs = NULL;
    int nconvs = 0;
    OK(msg_send_batch(db, it, 3, &convs, &nconvs));
    EQ(it[0].rc, NT_OK);
    EQ(it[1].rc, NT_EINVAL);
    EQ(it[2].rc, NT_OK);
    cr_expect_eq(it[2].msg.seq, it[0].msg.seq + 1, "seqs stay dense");
    msg_send_items_fini(it, 3);
    conv_recs_free(convs, nconvs);
    cr_expect_eq(readable(mine.id, v), 1);
    cr_expect_eq(readable(theirs.id, u), 0);
}

Test(media_store, body_shape)
{
    cr_expect(media_body_ok("1"));
    cr_expect(media_body_ok("12345678901234567890"));
    cr_expect(!media_body_ok("123456789012345678901"));
    cr_expect(!media_body_ok(""));
    cr_expect(!media_body_ok(NULL));
    cr_expect(!media_body_ok("12a"));
    cr_expect(!media_body_ok("-1"));
    cr_expect(!media_body_ok(" 1"));
    cr_expect(media_msg_type("image") && media_msg_type("file"));
    cr_expect(!media_msg_type("text") && !media_msg_type("images") && !media_msg_type(NULL));
}
