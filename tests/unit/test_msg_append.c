/*
 * test_msg_append.c - the owner's fenced group commit (store/msg_append.h)
 * and the dedicated connection that keeps its statements (db_conn.c),
 * against a real mariadbd (db_fixture.h).
 *
 * What must hold: a batch commits with its statements prepared once per
 * shape; a stale expected last_seq or an already stored key writes
 * nothing and says NT_ECONFLICT; a connection killed under it says
 * NT_EUNAVAIL and the next use reconnects.
 */
#include "db_fixture.h"

#include "store/conv_store.h"
#include "store/msg_append.h"
#include "store/msg_batch_store.h"
#include "store/msg_store.h"
#include "store/user_store.h"

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)

static db_pool_t *pool;
static MYSQL *db;
static db_conn_t *conn;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 2);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
    OK(db_conn_new(pool, &conn));
}

static void teardown(void)
{
    db_conn_free(conn);
    db_release(pool, db, 0);
    db_pool_free(pool);
}

TestSuite(msg_append, .init = setup, .fini = teardown, .timeout = 60);

static void new_pair(const char *tag, char *a, char *b, char *cid)
{
    char name[40];
    user_rec_t u;
    snprintf(name, sizeof name, "%sa%d", tag, (int)getpid());
    OK(user_create(db, name, NULL, "$argon2id$fake", &u));
    strcpy(a, u.id);
    snprintf(name, sizeof name, "%sb%d", tag, (int)getpid());
    OK(user_create(db, name, NULL, "$argon2id$fake", &u));
    strcpy(b, u.id);
    conv_rec_t c;
    int created = 0;
    OK(conv_create_direct(db, a, b, &c, &created));
    strcpy(cid, c.id);
    conv_rec_fini(&c);
}

static void rec(msg_rec_t *m, const char *cid, int64_t seq, const char *sender, const char *cm)
{
    memset(m, 0, sizeof *m);
    strcpy(m->conversation_id, cid);
    m->seq = seq;
    strcpy(m->sender_id, sender);
    strcpy(m->client_msg_id, cm);
    strcpy(m->type, "text");
    m->body = strdup("hello");
    m->created_at = db_now_ms();
}

static int64_t last_seq(const char *cid)
{
    conv_rec_t c;
    OK(conv_get(db, cid, &c));
    int64_t s = c.last_seq;
    conv_rec_fini(&c);
    return s;
}

static int count_msgs(const char *cid)
{
    msg_rec_t *v = NULL;
    int n = 0, more = 0;
    OK(msg_page(db, cid, 0, 0, MSG_PAGE_MAX, 0, &v, &n, &more));
    msg_recs_free(v, n);
    return n;
}

/* Append k messages to cid from sender, seqs from+1.., keys tag-<seq>. */
static int append(const char *cid, const char *sender, int64_t expect, int k, const char *tag,
                  msg_rec_t *out)
{
    msg_rec_t *recs[8];
    for (int i = 0; i < k; i++) {
        char cm[32];
        snprintf(cm, sizeof cm, "%s-%lld", tag, (long long)(expect + 1 + i));
        rec(&out[i], cid, expect + 1 + i, sender, cm);
        recs[i] = &out[i];
    }
    msg_append_conv_t c = {0, expect, expect + k};
    db_parse_id(cid, &c.cid);
    int stmts = 0;
    return msg_append(conn, recs, k, &c, 1, db_now_ms(), &stmts);
}

Test(msg_append, commits_and_reuses_its_statements)
{
    char a[24], b[24], cid[24];
    new_pair("ap", a, b, cid);
    msg_rec_t m[8];
    OK(append(cid, a, 0, 3, "x", m));
    db_conn_stats_t st;
    db_conn_stats(conn, &st);
    int64_t prepared = st.prepared;
    for (int i = 0; i < 3; i++) {
        msg_rec_t got;
        OK(msg_get_seq(db, db_col_i64(cid), i + 1, &got));
        cr_assert_str_eq(got.id, m[i].id, "id of seq %d", i + 1);
        cr_assert_str_eq(got.client_msg_id, m[i].client_msg_id);
        msg_rec_fini(&got);
        msg_rec_fini(&m[i]);
    }
    OK(append(cid, b, 3, 3, "y", m)); /* same shapes: nothing prepared again */
    for (int i = 0; i < 3; i++)
        msg_rec_fini(&m[i]);
    db_conn_stats(conn, &st);
    EQ(st.prepared, prepared);
    EQ(last_seq(cid), 6);
    EQ(count_msgs(cid), 6);
}

Test(msg_append, stale_last_seq_writes_nothing)
{
    char a[24], b[24], cid[24];
    new_pair("st", a, b, cid);
    msg_rec_t m[8];
    OK(append(cid, a, 0, 2, "x", m));
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
    /* Another writer's view: it thinks last_seq is still 0 (seqs 1, 2
     * would clash) and 1 (seq 2 clashes, and the fence) */
    EQ(append(cid, b, 0, 2, "s", m), NT_ECONFLICT);
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
    EQ(append(cid, b, 1, 1, "t", m), NT_ECONFLICT);
    msg_rec_fini(&m[0]);
    EQ(last_seq(cid), 2);
    EQ(count_msgs(cid), 2);
    OK(append(cid, b, 2, 1, "u", m)); /* the right view still works */
    msg_rec_fini(&m[0]);
    EQ(last_seq(cid), 3);
}

Test(msg_append, stored_key_writes_nothing)
{
    char a[24], b[24], cid[24];
    new_pair("dk", a, b, cid);
    msg_send_item_t v = {.cid = cid, .sender = a, .client_msg_id = "k-1", .type = "text",
                         .body = "first"};
    conv_rec_t *convs = NULL;
    int nconvs = 0;
    OK(msg_send_batch(db, &v, 1, &convs, &nconvs));
    msg_send_items_fini(&v, 1);
    conv_recs_free(convs, nconvs);
    msg_rec_t m[2];
    /* The owner did not know of it: last_seq right, key taken. */
    EQ(append(cid, a, 1, 1, "k", m), NT_OK); /* key k-2: fine */
    msg_rec_fini(&m[0]);
    msg_rec_t r;
    rec(&r, cid, 3, a, "k-1");
    msg_rec_t *recs[] = {&r};
    msg_append_conv_t c = {db_col_i64(cid), 2, 3};
    int stmts = 0;
    EQ(msg_append(conn, recs, 1, &c, 1, db_now_ms(), &stmts), NT_ECONFLICT);
    msg_rec_fini(&r);
    EQ(last_seq(cid), 2);
    EQ(count_msgs(cid), 2);
}

Test(msg_append, killed_connection_is_unavailable_then_reconnects)
{
    char a[24], b[24], cid[24];
    new_pair("kc", a, b, cid);
    msg_rec_t m[2];
    OK(append(cid, a, 0, 1, "x", m));
    msg_rec_fini(&m[0]);
    MYSQL *h;
    OK(db_conn_handle(conn, &h));
    char q[64];
    snprintf(q, sizeof q, "KILL CONNECTION %lu", mysql_thread_id(h));
    OK(db_exec(db, q, NULL, 0, NULL, NULL));
    EQ(append(cid, a, 1, 1, "y", m), NT_EUNAVAIL);
    msg_rec_fini(&m[0]);
    db_conn_broken(conn);
    OK(append(cid, a, 1, 1, "z", m));
    msg_rec_fini(&m[0]);
    EQ(last_seq(cid), 2);
    db_conn_stats_t st;
    db_conn_stats(conn, &st);
    EQ(st.reconnects, 2);
}
