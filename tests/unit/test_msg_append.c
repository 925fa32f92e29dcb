/*
 * test_msg_append.c - the owner's fenced group commit (store/msg_append.h)
 * and the dedicated connection that keeps its statements (db_conn.c),
 * against a real mariadbd (db_fixture.h).
 *
 * What must hold: a batch commits in one round trip (its statements sent
 * as one text query); a stale expected last_seq or an already stored key
 * writes nothing and says NT_ECONFLICT, each fence on its own (the
 * ROW_COUNT() check in the INSERT, the (conversation_id, seq) key), and
 * the connection stays usable; bodies come back byte for byte whatever
 * they hold, also when the session has NO_BACKSLASH_ESCAPES; a batch past
 * one INSERT chunk takes a round trip per chunk and a refusal in a later
 * chunk still writes nothing; a connection killed under it says
 * NT_EUNAVAIL and the next use reconnects with multi-statements on.
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

/* --- the one-round-trip form ------------------------------------------ */

static int64_t round_trips(void)
{
    db_conn_stats_t st;
    db_conn_stats(conn, &st);
    return st.round_trips;
}

/* A fresh conversation of two new users; a is the sender. */
static int64_t fresh(const char *tag, char *a, char *b, char *cid)
{
    new_pair(tag, a, b, cid);
    return db_col_i64(cid);
}

static void sql(const char *q)
{
    OK(db_exec(db, q, NULL, 0, NULL, NULL));
}

Test(msg_append, two_conversations_with_mentions_in_one_round_trip)
{
    char a[24], b[24], c1[24], c2[24], x[24], y[24];
    int64_t i1 = fresh("r1", a, b, c1), i2 = fresh("r2", x, y, c2);
    msg_rec_t m[3];
    OK(append(c1, a, 0, 1, "warm", m)); /* the connection and its autoinc step */
    msg_rec_fini(&m[0]);
    rec(&m[0], c1, 2, a, "r-1");
    rec(&m[1], c1, 3, b, "r-2");
    rec(&m[2], c2, 1, x, "r-3");
    char *who[] = {b};
    OK(msg_mentions_set(&m[0], who, 1));
    msg_rec_t *recs[] = {&m[0], &m[1], &m[2]};
    msg_append_conv_t cv[] = {i1 < i2 ? (msg_append_conv_t){i1, 1, 3} : (msg_append_conv_t){i2, 0, 1},
                              i1 < i2 ? (msg_append_conv_t){i2, 0, 1} : (msg_append_conv_t){i1, 1, 3}};
    if (i2 < i1) { /* records sorted by conversation too */
        recs[0] = &m[2];
        recs[1] = &m[0];
        recs[2] = &m[1];
    }
    int64_t trips = round_trips();
    int stmts = 0;
    OK(msg_append(conn, recs, 3, cv, 2, db_now_ms(), &stmts));
    EQ(round_trips() - trips, 1);
    EQ(stmts, 4); /* UPDATE, INSERT, mentions, COMMIT */
    EQ(last_seq(c1), 3);
    EQ(last_seq(c2), 1);
    for (int i = 0; i < 3; i++) {
        msg_rec_t got;
        OK(msg_get_seq(db, db_col_i64(m[i].conversation_id), m[i].seq, &got));
        cr_assert_str_eq(got.id, m[i].id);
        cr_assert_str_eq(got.client_msg_id, m[i].client_msg_id);
        EQ(got.n_mentions, m[i].n_mentions);
        msg_rec_fini(&got);
    }
    int64_t cnt = 0;
    OK(msg_mention_count(db, i1, db_col_i64(b), 0, &cnt));
    EQ(cnt, 1);
    for (int i = 0; i < 3; i++)
        msg_rec_fini(&m[i]);
    /* no mention: three statements, still one round trip */
    trips = round_trips();
    OK(append(c2, x, 1, 2, "r-n", m));
    EQ(round_trips() - trips, 1);
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
}

/* last_seq moved, no message row behind it: only the ROW_COUNT() fence
 * can see it. */
Test(msg_append, fence_alone_refuses_and_the_connection_stays_usable)
{
    char a[24], b[24], c1[24], c2[24], x[24], y[24];
    int64_t i1 = fresh("fa", a, b, c1), i2 = fresh("fb", x, y, c2);
    msg_rec_t m[2];
    OK(append(c1, a, 0, 1, "x", m));
    msg_rec_fini(&m[0]);
    char q[128];
    snprintf(q, sizeof q, "UPDATE conversations SET last_seq = 5 WHERE id = %lld", (long long)i2);
    sql(q);
    db_conn_stats_t before, after;
    db_conn_stats(conn, &before);
    /* a batch over both: c1 is right, c2 moved behind our back */
    rec(&m[0], c1, 2, a, "f-1");
    rec(&m[1], c2, 1, x, "f-2");
    msg_rec_t *recs[] = {i1 < i2 ? &m[0] : &m[1], i1 < i2 ? &m[1] : &m[0]};
    msg_append_conv_t one = {i1, 1, 2}, two = {i2, 0, 1};
    msg_append_conv_t cv[] = {i1 < i2 ? one : two, i1 < i2 ? two : one};
    int stmts = 0;
    EQ(msg_append(conn, recs, 2, cv, 2, db_now_ms(), &stmts), NT_ECONFLICT);
    EQ(stmts, 3); /* UPDATE, the refused INSERT, ROLLBACK */
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
    EQ(last_seq(c1), 1); /* the UPDATE of c1 was rolled back */
    EQ(last_seq(c2), 5);
    EQ(count_msgs(c1), 1);
    EQ(count_msgs(c2), 0);
    OK(append(c1, a, 1, 1, "g", m)); /* same connection, right view */
    msg_rec_fini(&m[0]);
    OK(append(c2, x, 5, 1, "g", m));
    msg_rec_fini(&m[0]);
    db_conn_stats(conn, &after);
    EQ(after.reconnects, before.reconnects);
    EQ(after.round_trips - before.round_trips, 3);
    EQ(last_seq(c1), 2);
    EQ(last_seq(c2), 6);
}

/* A row at the next seq but last_seq not moved (never written so, but it
 * is what the key alone guards): the (conversation_id, seq) key refuses. */
Test(msg_append, seq_key_alone_refuses)
{
    char a[24], b[24], cid[24];
    int64_t id = fresh("sk", a, b, cid);
    char q[256];
    snprintf(q, sizeof q,
             "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, type, body,"
             " created_at) VALUES (%lld, 1, %s, 'other', 'text', 'x', 1)",
             (long long)id, a);
    sql(q);
    msg_rec_t m[1];
    EQ(append(cid, a, 0, 1, "s", m), NT_ECONFLICT);
    msg_rec_fini(&m[0]);
    EQ(last_seq(cid), 0);
    EQ(count_msgs(cid), 1);
}

Test(msg_append, key_twice_in_one_batch_writes_nothing)
{
    char a[24], b[24], cid[24];
    int64_t id = fresh("kt", a, b, cid);
    msg_rec_t m[2];
    rec(&m[0], cid, 1, a, "same");
    rec(&m[1], cid, 2, a, "same");
    msg_rec_t *recs[] = {&m[0], &m[1]};
    msg_append_conv_t c = {id, 0, 2};
    int stmts = 0;
    EQ(msg_append(conn, recs, 2, &c, 1, db_now_ms(), &stmts), NT_ECONFLICT);
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
    EQ(last_seq(cid), 0);
    EQ(count_msgs(cid), 0);
    OK(append(cid, a, 0, 1, "after", m));
    msg_rec_fini(&m[0]);
}

static const char *const odd_bodies[] = {
    "it's \"quoted\" `back`",
    "back\\slash \\' \\\\ \\0 \\n end\\",
    "'; DROP TABLE messages; -- ",
    "line\nfeed\r\ttab \x1a ctrl-z \x01\x7f",
    "emoji \xF0\x9F\x98\x80 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD, CJK \xE4\xB8\xAD\xE6\x96\x87, \xC3\xA9",
    "%s %n %% ?",
    "",
};
#define NODD ((int)(sizeof odd_bodies / sizeof odd_bodies[0]))

static void bodies_round_trip(const char *tag)
{
    char a[24], b[24], cid[24];
    int64_t id = fresh(tag, a, b, cid);
    msg_rec_t m[NODD];
    msg_rec_t *recs[NODD];
    for (int i = 0; i < NODD; i++) {
        char cm[16];
        snprintf(cm, sizeof cm, "%s-%d", tag, i);
        rec(&m[i], cid, i + 1, a, cm);
        free(m[i].body);
        m[i].body = strdup(odd_bodies[i]);
        recs[i] = &m[i];
    }
    msg_append_conv_t c = {id, 0, NODD};
    int stmts = 0;
    OK(msg_append(conn, recs, NODD, &c, 1, db_now_ms(), &stmts));
    for (int i = 0; i < NODD; i++) {
        msg_rec_t got;
        OK(msg_get_seq(db, id, i + 1, &got));
        cr_assert_str_eq(got.body, odd_bodies[i], "body %d", i);
        cr_assert_str_eq(got.id, m[i].id);
        msg_rec_fini(&got);
        msg_rec_fini(&m[i]);
    }
}

Test(msg_append, bodies_come_back_byte_exact)
{
    bodies_round_trip("be");
}

Test(msg_append, bodies_come_back_byte_exact_without_backslash_escapes)
{
    MYSQL *h;
    OK(db_conn_handle(conn, &h));
    static const char q[] = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')";
    cr_assert_eq(mysql_real_query(h, q, sizeof q - 1), 0, "%s", mysql_error(h));
    cr_assert(h->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES);
    bodies_round_trip("nb");
}

#define BIG (600 * 1024) /* two of them pass one INSERT chunk (1 MB) */

static void big_batch(const char *tag, char *a, char *b, char *cid, int64_t *id, msg_rec_t *m,
                      msg_rec_t **recs, int k)
{
    static const char pat[] = "a'\\\"z";
    static const char emoji[] = "\xF0\x9F\x98\x80";
    *id = fresh(tag, a, b, cid);
    char *who[] = {b};
    for (int i = 0; i < k; i++) {
        char cm[16];
        snprintf(cm, sizeof cm, "%s-%d", tag, i);
        rec(&m[i], cid, i + 1, a, cm);
        free(m[i].body);
        cr_assert((m[i].body = malloc(BIG + 1)));
        memcpy(m[i].body, emoji, 4);
        for (int j = 4; j < BIG; j++)
            m[i].body[j] = pat[(i + j) % 5];
        m[i].body[BIG] = '\0';
        OK(msg_mentions_set(&m[i], who, 1));
        recs[i] = &m[i];
    }
}

Test(msg_append, batch_past_one_chunk_takes_a_round_trip_per_chunk)
{
    char a[24], b[24], cid[24];
    int64_t id;
    msg_rec_t m[3], *recs[3];
    big_batch("bg", a, b, cid, &id, m, recs, 3);
    msg_append_conv_t c = {id, 0, 3};
    int64_t trips = round_trips();
    int stmts = 0;
    OK(msg_append(conn, recs, 3, &c, 1, db_now_ms(), &stmts));
    EQ(round_trips() - trips, 2); /* UPDATE + INSERT of two; INSERT of one, mentions, COMMIT */
    EQ(stmts, 5);
    EQ(last_seq(cid), 3);
    for (int i = 0; i < 3; i++) {
        msg_rec_t got;
        OK(msg_get_seq(db, id, i + 1, &got));
        cr_assert(strcmp(got.body, m[i].body) == 0, "body %d differs", i);
        cr_assert_str_eq(got.id, m[i].id);
        msg_rec_fini(&got);
        msg_rec_fini(&m[i]);
    }
    int64_t cnt = 0;
    OK(msg_mention_count(db, id, db_col_i64(b), 0, &cnt));
    EQ(cnt, 3);
}

/* The last chunk's key is taken: the first round trip's UPDATE and INSERT
 * must not survive. */
Test(msg_append, refusal_in_a_later_chunk_writes_nothing)
{
    char a[24], b[24], cid[24];
    int64_t id;
    msg_rec_t m[3], *recs[3];
    big_batch("bl", a, b, cid, &id, m, recs, 3);
    char q[256];
    snprintf(q, sizeof q,
             "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, type, body,"
             " created_at) VALUES (%lld, 9, %s, 'bl-2', 'text', 'x', 1)",
             (long long)id, a); /* not a seq of ours, but the last record's key */
    sql(q);
    msg_append_conv_t c = {id, 0, 3};
    int stmts = 0;
    EQ(msg_append(conn, recs, 3, &c, 1, db_now_ms(), &stmts), NT_ECONFLICT);
    for (int i = 0; i < 3; i++)
        msg_rec_fini(&m[i]);
    EQ(last_seq(cid), 0);
    EQ(count_msgs(cid), 1);
}

Test(msg_append, killed_between_batches_reconnects_with_multi_statements)
{
    char a[24], b[24], cid[24];
    fresh("kb", a, b, cid);
    msg_rec_t m[2];
    OK(append(cid, a, 0, 2, "x", m));
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
    MYSQL *h;
    OK(db_conn_handle(conn, &h));
    char q[64];
    snprintf(q, sizeof q, "KILL CONNECTION %lu", mysql_thread_id(h));
    sql(q);
    EQ(append(cid, a, 2, 2, "y", m), NT_EUNAVAIL);
    msg_rec_fini(&m[0]);
    msg_rec_fini(&m[1]);
    EQ(last_seq(cid), 2);
    db_conn_broken(conn); /* what msg_commit does */
    int64_t trips = round_trips();
    OK(append(cid, a, 2, 2, "z", m)); /* a syntax error if multi-statements were off */
    EQ(round_trips() - trips, 1);
    for (int i = 0; i < 2; i++) {
        msg_rec_t got;
        OK(msg_get_seq(db, db_col_i64(cid), 3 + i, &got));
        cr_assert_str_eq(got.id, m[i].id);
        msg_rec_fini(&got);
        msg_rec_fini(&m[i]);
    }
    EQ(last_seq(cid), 4);
    EQ(count_msgs(cid), 4);
}
