/*
 * test_msg_store.c - conversations and the group-commit send path
 * (conv_store, msg_batch_store, msg_store) against a real mariadbd
 * (db_fixture.h).
 *
 * What must hold whatever the batching: dense seqs per conversation, one
 * stored copy per (cid, sender, client_msg_id) across and within batches,
 * per-item failures that leave the rest of the batch alone, and dense
 * unique seqs when two connections (two msg processes) write one
 * conversation at once.
 */
#include "db_fixture.h"

#include "store/conv_store.h"
#include "store/msg_batch_store.h"
#include "store/msg_store.h"
#include "store/user_store.h"

#include <pthread.h>

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)

static db_pool_t *pool;
static MYSQL *db;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 4);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
}

static void teardown(void)
{
    db_release(pool, db, 0);
    db_pool_free(pool);
}

TestSuite(msg_store, .init = setup, .fini = teardown, .timeout = 60);

/* A user unique to this test process; its id into id. */
static void new_user(const char *tag, char *id)
{
    char name[40];
    user_rec_t u;
    snprintf(name, sizeof name, "%s%d", tag, (int)getpid());
    cr_assert_eq(user_create(db, name, NULL, "$argon2id$fake", &u), NT_OK, "create %s", name);
    strcpy(id, u.id);
}

/* A fresh direct conversation of two fresh users. */
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
    EQ(created, 1);
    strcpy(cid, c.id);
    conv_rec_fini(&c);
}

static msg_send_item_t item(const char *cid, const char *sender, const char *cmid, const char *body)
{
    return (msg_send_item_t){.cid = cid, .sender = sender, .client_msg_id = cmid,
                             .type = "text", .body = body};
}

/* Run one batch on db; the caller frees with done(). */
static conv_rec_t *send_batch(msg_send_item_t *v, int n, int *nconvs)
{
    conv_rec_t *convs = NULL;
    int rc = msg_send_batch(db, v, n, &convs, nconvs);
    cr_assert_eq(rc, NT_OK, "msg_send_batch: %s", nt_strerror(rc));
    return convs;
}

static void done(msg_send_item_t *v, int n, conv_rec_t *convs, int nconvs)
{
    msg_send_items_fini(v, n);
    conv_recs_free(convs, nconvs);
}

static int64_t last_seq(const char *cid)
{
    conv_rec_t c;
    OK(conv_get(db, cid, &c));
    int64_t s = c.last_seq;
    conv_rec_fini(&c);
    return s;
}

/* Messages 1..want of cid are stored with seqs 1..want, nothing more. */
static void assert_dense(const char *cid, int want)
{
    msg_rec_t *v = NULL;
    int n = 0, more = 0, seen = 0;
    int64_t after = 0;
    do {
        OK(msg_page(db, cid, after, 0, MSG_PAGE_MAX, 0, &v, &n, &more));
        for (int i = 0; i < n; i++)
            cr_assert_eq(v[i].seq, ++seen, "seq %lld at position %d", (long long)v[i].seq, seen);
        if (n > 0)
            after = v[n - 1].seq;
        msg_recs_free(v, n);
    } while (more);
    EQ(seen, want);
    EQ(last_seq(cid), want);
}

Test(msg_store, batch_assigns_dense_seqs_in_arrival_order)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX];
    new_pair("ds", a, b, cid);
    msg_send_item_t v[5] = {item(cid, a, "k1", "one"), item(cid, b, "k2", "two"),
                            item(cid, a, "k3", "three"), item(cid, a, "k4", "four"),
                            item(cid, b, "k5", "five")};
    int nconvs = 0;
    conv_rec_t *convs = send_batch(v, 5, &nconvs);
    EQ(nconvs, 1);
    EQ(convs[0].n_members, 2);
    EQ(convs[0].last_seq, 5);
    for (int i = 0; i < 5; i++) {
        EQ(v[i].rc, NT_OK);
        EQ(v[i].duplicate, 0);
        EQ(v[i].conv, 0);
        EQ(v[i].msg.seq, i + 1);
        cr_assert_str_eq(v[i].msg.conversation_id, cid);
        cr_assert_str_eq(v[i].msg.sender_id, v[i].sender);
        cr_assert_str_eq(v[i].msg.body, v[i].body);
        cr_assert(v[i].msg.id[0] && v[i].msg.created_at > 0);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(v[i].msg.id, v[j].msg.id);
        msg_rec_t m;
        OK(msg_get_seq(db, db_col_i64(cid), i + 1, &m));
        cr_assert_str_eq(m.id, v[i].msg.id, "the id read back is the stored one");
        cr_assert_str_eq(m.body, v[i].body);
        msg_rec_fini(&m);
    }
    done(v, 5, convs, nconvs);
    msg_send_item_t w[1] = {item(cid, b, "k6", "six")};
    convs = send_batch(w, 1, &nconvs);
    EQ(w[0].msg.seq, 6);
    done(w, 1, convs, nconvs);
    assert_dense(cid, 6);
}

Test(msg_store, retry_across_batches_returns_the_original)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX];
    new_pair("ra", a, b, cid);
    msg_send_item_t v[1] = {item(cid, a, "same", "first")};
    int nconvs = 0;
    conv_rec_t *convs = send_batch(v, 1, &nconvs);
    char id[MSG_ID_MAX];
    strcpy(id, v[0].msg.id);
    done(v, 1, convs, nconvs);
    /* the retry carries another body: the original wins */
    msg_send_item_t w[2] = {item(cid, a, "same", "second"), item(cid, a, "next", "new")};
    convs = send_batch(w, 2, &nconvs);
    EQ(w[0].rc, NT_OK);
    EQ(w[0].duplicate, 1);
    EQ(w[0].msg.seq, 1);
    cr_assert_str_eq(w[0].msg.id, id);
    cr_assert_str_eq(w[0].msg.body, "first");
    EQ(w[0].conv, 0);
    EQ(w[1].duplicate, 0);
    EQ(w[1].msg.seq, 2);
    done(w, 2, convs, nconvs);
    assert_dense(cid, 2);
}

Test(msg_store, repeats_within_a_batch_are_stored_once)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX];
    new_pair("rw", a, b, cid);
    /* the same key three times; b's "x" is another key (another sender) */
    msg_send_item_t v[5] = {item(cid, a, "x", "a1"), item(cid, a, "y", "a2"),
                            item(cid, a, "x", "a3"), item(cid, b, "x", "b1"),
                            item(cid, a, "x", "a4")};
    int nconvs = 0;
    conv_rec_t *convs = send_batch(v, 5, &nconvs);
    int64_t want_seq[5] = {1, 2, 1, 3, 1};
    int want_dup[5] = {0, 0, 1, 0, 1};
    for (int i = 0; i < 5; i++) {
        EQ(v[i].rc, NT_OK);
        cr_assert_eq(v[i].msg.seq, want_seq[i], "item %d seq %lld", i, (long long)v[i].msg.seq);
        cr_assert_eq(v[i].duplicate, want_dup[i], "item %d", i);
    }
    cr_assert_str_eq(v[2].msg.id, v[0].msg.id);
    cr_assert_str_eq(v[4].msg.body, "a1");
    done(v, 5, convs, nconvs);
    assert_dense(cid, 3);
}

Test(msg_store, item_failures_leave_the_rest_of_the_batch_alone)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX], c[MSG_ID_MAX], d[MSG_ID_MAX],
        cid2[MSG_ID_MAX], outsider[MSG_ID_MAX];
    new_pair("f1", a, b, cid);
    new_pair("f2", c, d, cid2);
    new_user("fo", outsider);
    msg_send_item_t v[8] = {
        item(cid, a, "ok1", "m"),         item(cid, outsider, "no1", "m"), /* not a member */
        item("999999999999", a, "nf", "m"),                                /* no such conv */
        item("abc", a, "bad", "m"),       item(cid, "x1", "bad", "m"),     /* malformed ids */
        item(cid2, c, "ok2", "m"),        item(cid2, a, "no2", "m"),       /* a is not in cid2 */
        item(cid, b, "ok3", "m"),
    };
    int want[8] = {NT_OK,        NT_EFORBIDDEN, NT_ENOTFOUND, NT_ENOTFOUND,
                   NT_EFORBIDDEN, NT_OK,        NT_EFORBIDDEN, NT_OK};
    int nconvs = 0;
    conv_rec_t *convs = send_batch(v, 8, &nconvs);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(v[i].rc, want[i], "item %d: %s", i, nt_strerror(v[i].rc));
    EQ(v[0].msg.seq, 1);
    EQ(v[7].msg.seq, 2);
    EQ(v[5].msg.seq, 1);
    cr_assert_str_eq(convs[v[5].conv].id, cid2);
    cr_assert_str_eq(convs[v[0].conv].id, cid);
    done(v, 8, convs, nconvs);
    assert_dense(cid, 2);
    assert_dense(cid2, 1);
    /* a batch where nothing can be stored still succeeds, item by item */
    msg_send_item_t w[2] = {item("1x", a, "k", "m"), item(cid, outsider, "k", "m")};
    convs = send_batch(w, 2, &nconvs);
    EQ(w[0].rc, NT_ENOTFOUND);
    EQ(w[1].rc, NT_EFORBIDDEN);
    done(w, 2, convs, nconvs);
    assert_dense(cid, 2);
}

Test(msg_store, interleaved_conversations_and_large_bodies)
{
    enum { N = 300, CONVS = 3 };
    char a[CONVS][MSG_ID_MAX], b[CONVS][MSG_ID_MAX], cid[CONVS][MSG_ID_MAX], tag[8];
    static char keys[N][16];
    static msg_send_item_t v[N];
    char *body = malloc(4001);
    cr_assert_not_null(body);
    memset(body, 'z', 4000);
    body[4000] = '\0';
    for (int k = 0; k < CONVS; k++) {
        snprintf(tag, sizeof tag, "il%d", k);
        new_pair(tag, a[k], b[k], cid[k]);
    }
    /* > MSG_INSERT_BYTES of bodies: more than one INSERT in the batch */
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        v[i] = item(cid[(i * 7) % CONVS], a[(i * 7) % CONVS], keys[i], body);
    }
    int nconvs = 0, next[CONVS] = {0};
    conv_rec_t *convs = send_batch(v, N, &nconvs);
    EQ(nconvs, CONVS);
    for (int i = 0; i < N; i++) {
        int k = (i * 7) % CONVS;
        EQ(v[i].rc, NT_OK);
        cr_assert_eq(v[i].msg.seq, ++next[k], "arrival order is seq order per conversation");
        cr_assert_str_eq(convs[v[i].conv].id, cid[k]);
    }
    done(v, N, convs, nconvs);
    for (int k = 0; k < CONVS; k++)
        assert_dense(cid[k], next[k]);
    free(body);
}

/* Two connections (as two msg processes would) send batches to the same
 * two conversations at once, in opposite orders. */
typedef struct sender {
    const char *cid[2], *uid[2];
    int id, rc;
} sender_t;

#define ROUNDS 30
#define PER_ROUND 8

static void *sender_main(void *arg)
{
    sender_t *s = arg;
    MYSQL *c = NULL;
    char keys[PER_ROUND][32];
    msg_send_item_t v[PER_ROUND];
    if ((s->rc = db_acquire(pool, 2000, &c)) != NT_OK)
        return NULL;
    for (int r = 0; r < ROUNDS && s->rc == NT_OK; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            int k = (i + s->id) % 2; /* the two threads name the conversations in turn */
            snprintf(keys[i], sizeof keys[i], "t%d-r%d-i%d", s->id, r, i);
            v[i] = item(s->cid[k], s->uid[k], keys[i], "race");
        }
        conv_rec_t *convs = NULL;
        int nconvs = 0, attempt = 0;
        do /* a deadlock or lock timeout is the caller's to retry */
            s->rc = msg_send_batch(c, v, PER_ROUND, &convs, &nconvs);
        while (s->rc == NT_EUNAVAIL && ++attempt < 5);
        for (int i = 0; s->rc == NT_OK && i < PER_ROUND; i++)
            if (v[i].rc != NT_OK || v[i].duplicate)
                s->rc = NT_EINTERNAL;
        msg_send_items_fini(v, PER_ROUND);
        conv_recs_free(convs, nconvs);
    }
    db_release(pool, c, db_is_broken(s->rc));
    db_thread_end();
    return NULL;
}

Test(msg_store, two_connections_one_conversation_dense_unique_seqs)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX], c[MSG_ID_MAX], d[MSG_ID_MAX],
        cid2[MSG_ID_MAX];
    new_pair("ca", a, b, cid);
    new_pair("cb", c, d, cid2);
    sender_t s[2] = {{.cid = {cid, cid2}, .uid = {a, c}, .id = 0},
                     {.cid = {cid, cid2}, .uid = {b, d}, .id = 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        EQ(pthread_create(&th[i], NULL, sender_main, &s[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(s[i].rc, NT_OK, "sender %d: %s", i, nt_strerror(s[i].rc));
    }
    /* each conversation got half of each thread's items */
    assert_dense(cid, ROUNDS * PER_ROUND);
    assert_dense(cid2, ROUNDS * PER_ROUND);
}

Test(msg_store, direct_create_is_idempotent_per_pair)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], c[MSG_ID_MAX];
    conv_rec_t x, y;
    int created = 0;
    new_user("pa", a);
    new_user("pb", b);
    new_user("pc", c);
    OK(conv_create_direct(db, a, b, &x, &created));
    EQ(created, 1);
    cr_assert_str_eq(x.type, "direct");
    EQ(x.n_members, 2);
    OK(conv_create_direct(db, b, a, &y, &created)); /* either order: the same pair */
    EQ(created, 0);
    cr_assert_str_eq(y.id, x.id);
    conv_rec_fini(&y);
    OK(conv_create_direct(db, a, c, &y, &created));
    EQ(created, 1);
    cr_assert_str_neq(y.id, x.id);
    conv_rec_fini(&y);
    conv_rec_fini(&x);
    EQ(conv_create_direct(db, a, a, &x, &created), NT_EINVAL);
    EQ(conv_create_direct(db, a, "999999999999", &x, &created), NT_ENOTFOUND);
    EQ(conv_create_direct(db, a, "zz", &x, &created), NT_ENOTFOUND);
}

Test(msg_store, access_checks_and_list)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX], c[MSG_ID_MAX], cid2[MSG_ID_MAX];
    conv_rec_t x, *list = NULL;
    int created = 0, n = 0;
    new_pair("ac", a, b, cid);
    new_user("acc", c);
    OK(conv_create_direct(db, a, c, &x, &created));
    strcpy(cid2, x.id);
    conv_rec_fini(&x);
    EQ(conv_access(db, cid, a), NT_OK);
    EQ(conv_access(db, cid, b), NT_OK);
    EQ(conv_access(db, cid, c), NT_EFORBIDDEN);
    EQ(conv_access(db, "999999999999", a), NT_ENOTFOUND);
    EQ(conv_access(db, "nope", a), NT_ENOTFOUND);
    EQ(conv_access(db, cid, "nope"), NT_EFORBIDDEN);
    /* two messages in cid, then b reads one of them */
    msg_send_item_t v[2] = {item(cid, a, "l1", "hello"), item(cid, a, "l2", "again")};
    int nconvs = 0;
    conv_rec_t *convs = send_batch(v, 2, &nconvs);
    done(v, 2, convs, nconvs);
    int64_t pos = 0;
    int moved = 0;
    OK(msg_read(db, cid, b, 1, &pos, &moved));
    EQ(pos, 1);
    EQ(moved, 1);
    OK(conv_list(db, b, 10, &list, &n));
    EQ(n, 1);
    cr_assert_str_eq(list[0].id, cid);
    EQ(list[0].last_seq, 2);
    EQ(list[0].read_seq, 1);
    cr_assert(list[0].has_last);
    cr_assert_str_eq(list[0].last.body, "again");
    conv_recs_free(list, n);
    OK(conv_list(db, a, 10, &list, &n)); /* newest activity first */
    EQ(n, 2);
    cr_assert_str_eq(list[0].id, cid);
    cr_assert_str_eq(list[1].id, cid2);
    EQ(list[1].has_last, 0);
    conv_recs_free(list, n);
}

Test(msg_store, lock_many_skips_absent_and_sorts)
{
    char a[MSG_ID_MAX], b[MSG_ID_MAX], cid[MSG_ID_MAX], c[MSG_ID_MAX], d[MSG_ID_MAX],
        cid2[MSG_ID_MAX];
    new_pair("lk", a, b, cid);
    new_pair("lm", c, d, cid2);
    int64_t ids[3] = {db_col_i64(cid2), 999999999999LL, db_col_i64(cid)};
    conv_rec_t out[3];
    int n = 0;
    OK(db_begin(db));
    OK(conv_lock_many(db, ids, 3, out, &n));
    db_rollback(db);
    EQ(n, 2);
    cr_assert_str_eq(out[0].id, db_col_i64(cid) < db_col_i64(cid2) ? cid : cid2);
    EQ(out[0].n_members, 2);
    EQ(out[1].n_members, 2);
    conv_rec_fini(&out[0]); /* member lists are heap memory */
    conv_rec_fini(&out[1]);
}
