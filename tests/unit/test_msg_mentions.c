/*
 * test_msg_mentions.c - revoke and mentions in the store (store/msg_store.c
 * msg_revoke, store/msg_mentions.c, the mention check of
 * store/msg_batch_store.c) against a real mariadbd (db_fixture.h).
 *
 * What must hold: a mention of a non-member fails that item only; mentions
 * come back with the message and count as unread until read past; revoke
 * is the sender's only, within the window, idempotent, and clears body and
 * mentions (so the count drops).
 */
#include "db_fixture.h"

#include "store/conv_store.h"
#include "store/msg_batch_store.h"
#include "store/msg_store.h"
#include "store/user_store.h"

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)

static db_pool_t *pool;
static MYSQL *db;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 2);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
}

static void teardown(void)
{
    db_release(pool, db, 0);
    db_pool_free(pool);
}

TestSuite(msg_mentions, .init = setup, .fini = teardown, .timeout = 60);

static void new_user(const char *tag, char *id)
{
    char name[40];
    user_rec_t u;
    snprintf(name, sizeof name, "%s%d", tag, (int)getpid());
    cr_assert_eq(user_create(db, name, NULL, "$argon2id$fake", &u), NT_OK, "create %s", name);
    strcpy(id, u.id);
}

static void new_pair(const char *tag, char *a, char *b, char *cid)
{
    char ta[16], tb[16];
    conv_rec_t c;
    int created = 0;
    snprintf(ta, sizeof ta, "%sa", tag);
    snprintf(tb, sizeof tb, "%sb", tag);
    new_user(ta, a);
    new_user(tb, b);
    OK(conv_create_direct(db, a, b, &c, &created));
    strcpy(cid, c.id);
    conv_rec_fini(&c);
}

static int64_t count(const char *cid, const char *uid, int64_t after)
{
    int64_t n = -1;
    OK(msg_mention_count(db, db_col_i64(cid), db_col_i64(uid), after, &n));
    return n;
}

Test(msg_mentions, csv_round_trip)
{
    msg_rec_t m = {0}, c = {0};
    char *ids[] = {"12", "345"};
    char csv[MSG_MENTIONS_CSV];
    OK(msg_mentions_set(&m, ids, 2));
    OK(msg_mentions_csv(&m, csv, sizeof csv));
    cr_assert_str_eq(csv, "12,345");
    OK(msg_mentions_parse(&c, csv));
    EQ(c.n_mentions, 2);
    cr_assert_str_eq(c.mentions[1], "345");
    OK(msg_mentions_parse(&c, ""));
    EQ(c.n_mentions, 0);
    msg_rec_fini(&m);
    msg_rec_fini(&c);
}

Test(msg_mentions, members_only_and_counted)
{
    char a[24], b[24], cid[24], x[24];
    new_pair("mm", a, b, cid);
    new_user("mmx", x);
    char *good[] = {b}, *stranger[] = {b, x};
    msg_send_item_t v[] = {
        {.cid = cid, .sender = a, .client_msg_id = "k1", .type = "text", .body = "hi",
         .mentions = good, .n_mentions = 1},
        {.cid = cid, .sender = a, .client_msg_id = "k2", .type = "text", .body = "no",
         .mentions = stranger, .n_mentions = 2},
        {.cid = cid, .sender = a, .client_msg_id = "k3", .type = "text", .body = "plain"},
    };
    conv_rec_t *convs = NULL;
    int nconvs = 0;
    OK(msg_send_batch(db, v, 3, &convs, &nconvs));
    EQ(v[0].rc, NT_OK);
    EQ(v[1].rc, NT_EINVAL);
    EQ(v[2].rc, NT_OK);
    EQ(v[0].msg.n_mentions, 1);
    EQ(v[2].msg.seq, 2); /* the refused item took no seq */
    EQ(count(cid, b, 0), 1);
    EQ(count(cid, a, 0), 0);
    EQ(count(cid, b, 1), 0);
    msg_rec_t got;
    OK(msg_get_seq(db, db_col_i64(cid), 1, &got));
    EQ(got.n_mentions, 1);
    cr_assert_str_eq(got.mentions[0], b);
    msg_rec_fini(&got);

    /* Revoke: not the sender, then the sender, then again. */
    msg_rec_t r;
    int again = 0, expired = 0;
    EQ(msg_revoke(db, v[0].msg.id, b, 120000, &r, &again, &expired), NT_EFORBIDDEN);
    EQ(expired, 0);
    EQ(msg_revoke(db, "999999999999", a, 120000, &r, &again, &expired), NT_ENOTFOUND);
    EQ(msg_revoke(db, "x", a, 120000, &r, &again, &expired), NT_ENOTFOUND);
    OK(msg_revoke(db, v[0].msg.id, a, 120000, &r, &again, &expired));
    EQ(again, 0);
    EQ(r.revoked, 1);
    cr_assert_str_eq(r.body, "");
    EQ(r.n_mentions, 0);
    msg_rec_fini(&r);
    EQ(count(cid, b, 0), 0);
    OK(msg_revoke(db, v[0].msg.id, a, 120000, &r, &again, &expired));
    EQ(again, 1);
    msg_rec_fini(&r);
    OK(msg_get_seq(db, db_col_i64(cid), 1, &got));
    EQ(got.revoked, 1);
    cr_assert_str_eq(got.body, "");
    EQ(got.n_mentions, 0);
    msg_rec_fini(&got);

    /* Past the window (here: a window of -1 ms). */
    EQ(msg_revoke(db, v[2].msg.id, a, -1, &r, &again, &expired), NT_EFORBIDDEN);
    EQ(expired, 1);
    msg_send_items_fini(v, 3);
    conv_recs_free(convs, nconvs);

    /* A retry of a stored key answers the original, mentions unchecked. */
    msg_send_item_t retry = {.cid = cid, .sender = a, .client_msg_id = "k3", .type = "text",
                             .body = "plain", .mentions = stranger, .n_mentions = 2};
    OK(msg_send_batch(db, &retry, 1, &convs, &nconvs));
    EQ(retry.rc, NT_OK);
    EQ(retry.duplicate, 1);
    EQ(retry.msg.seq, 2);
    msg_send_items_fini(&retry, 1);
    conv_recs_free(convs, nconvs);
}
