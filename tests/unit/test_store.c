/*
 * test_store.c - the MariaDB store (db, migrations, users, sessions) against
 * a real mariadbd started by the runner (db_fixture.h).  Messages and
 * conversations are test_msg_store.c.
 */
#include "db_fixture.h"

#include "store/session_store.h"
#include "store/user_store.h"

#include <pthread.h>

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)

/* --- per test (each test is its own worker process) --------------------- */

static db_pool_t *pool;
static MYSQL *db;
/* scratch most tests need; private to the test's process */
static user_rec_t u;
static session_rec_t s;
static char sid[SESSION_ID_MAX];
static int reused;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 4);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
}

static void teardown(void)
{
    db_release(pool, db, 0); /* NULL-safe */
    db_pool_free(pool);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 30);

/* A username unique to this test process: tag + pid. */
#define test_name(buf, n, tag) snprintf((buf), (n), "%s%d", (tag), (int)getpid())

/* A 64-char "hash" unique to this process and tag. */
static void mkhash(char *buf, const char *tag)
{
    char t[65];
    snprintf(t, sizeof t, "%s.%d.", tag, (int)getpid());
    snprintf(buf, 65, "%-64s", t);
    for (char *c = buf; *c; c++)
        *c = *c == ' ' ? 'f' : *c;
}

static void new_user(const char *tag, user_rec_t *out)
{
    char name[40];
    test_name(name, sizeof name, tag);
    cr_assert_eq(user_create(db, name, NULL, "$argon2id$fake", out), NT_OK, "create %s", name);
}

Test(store, pool_timeout_broken_and_ping)
{
    db_opts_t o = opts("natter", 1);
    db_pool_t *p1;
    MYSQL *a, *b;
    int n = 0;
    OK(db_pool_new(&o, &p1));
    OK(db_acquire(p1, 100, &a));
    int64_t t0 = db_now_ms();
    EQ(db_acquire(p1, 150, &b), NT_EUNAVAIL);
    cr_assert_geq(db_now_ms() - t0, 120);
    db_release(p1, a, 1); /* broken: closed, reopened by the next acquire */
    OK(db_acquire(p1, 100, &b));
    OK(db_query(b, "SELECT 1", NULL, 0, NULL, NULL, 0, &n));
    EQ(n, 1);
    db_release(p1, b, 0);
    OK(db_ping(p1));
    db_pool_free(p1);
    o.port = free_port(); /* nobody listens there */
    EQ(db_pool_new(&o, &p1), NT_EUNAVAIL);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static int64_t query_i64(MYSQL *c, const char *sql)
{
    cr_assert_eq(mysql_query(c, sql), 0, "%s", mysql_error(c));
    MYSQL_RES *r = mysql_store_result(c);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    int64_t v = row && row[0] ? db_col_i64(row[0]) : -1;
    mysql_free_result(r);
    return v;
}

Test(store, migrate_order_split_and_failure)
{
    char dir[] = "/tmp/natter-mig-XXXXXX", dbname[32], sql[96];
    const char *first = getenv("NATTER_TEST_MIGRATED");
    int applied = -1;
    cr_assert(first && atoi(first) >= 1, "the first run applied %s", first ? first : "?");
    OK(migrate_run(db, sql_dir(), &applied));
    cr_assert_eq(applied, 0, "sql/ again applies nothing");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbname, sizeof dbname, "natter_mig_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    cr_assert_eq(mysql_query(db, sql), 0, "%s", mysql_error(db));
    /* 010 needs 002's table and 002 needs 001's: readdir order would break;
     * the last three names do not match and must be ignored */
    const char *files[][2] = {
        {"010_later.sql", "INSERT INTO t2 (a) SELECT a FROM t1;\n"},
        {"002_second.sql", "-- a comment; with a semicolon;\nCREATE TABLE IF NOT EXISTS t2 (\n"
                           "  a INT\n);\n  -- indented comment\n\n"},
        {"001_first.sql", "CREATE TABLE IF NOT EXISTS t1 (a INT);\n"
                          "INSERT INTO t1 VALUES (1), (2);\nINSERT INTO t1 VALUES (3)"},
        {"readme.txt", "x"}, {"3_bad.sql", "x;\n"}, {"004_Upper.sql", "x;\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        put_file(dir, files[i][0], files[i][1]);
    db_opts_t o = opts(dbname, 1);
    db_pool_t *p2;
    MYSQL *m;
    OK(db_pool_new(&o, &p2));
    OK(db_acquire(p2, 100, &m));
    OK(migrate_run(m, dir, &applied));
    EQ(applied, 3);
    EQ(query_i64(m, "SELECT COUNT(*) FROM t2"), 3);
    OK(migrate_run(m, dir, &applied));
    EQ(applied, 0);
    put_file(dir, "011_more.sql", "CREATE TABLE IF NOT EXISTS t3 (a INT);\n");
    put_file(dir, "012_broken.sql", "CREATE TABLE IF NOT EXISTS t4 (a INT);\nNOT SQL AT ALL;\n");
    cr_assert_neq(migrate_run(m, dir, &applied), NT_OK);
    EQ(applied, 1);
    cr_assert_eq(query_i64(m, "SELECT MAX(version) FROM schema_migrations"), 11,
                 "the broken migration must not be recorded");
    put_file(dir, "012_dup.sql", "SELECT 1;\n");
    EQ(migrate_run(m, dir, &applied), NT_ECONFIG);
    db_release(p2, m, 0);
    db_pool_free(p2);
    snprintf(sql, sizeof sql, "DROP DATABASE %s", dbname);
    mysql_query(db, sql);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- users -------------------------------------------------------------- */

Test(store, user_create_get_and_taken)
{
    char name[40], hash[256];
    user_rec_t g;
    test_name(name, sizeof name, "uc");
    OK(user_create(db, name, "Ann \xc3\xa9", "$argon2id$x", &u));
    cr_assert(strlen(u.id) > 0 && strcmp(u.username, name) == 0);
    cr_assert_str_eq(u.display_name, "Ann \xc3\xa9");
    EQ(user_create(db, name, "other", "$argon2id$y", &g), NT_ETAKEN);
    OK(user_get(db, u.id, &g));
    cr_assert(strcmp(g.username, name) == 0 && strcmp(g.display_name, u.display_name) == 0);
    cr_assert(g.avatar_url[0] == '\0' && g.created_at == u.created_at);
    OK(user_get_login(db, name, &g, hash, sizeof hash));
    cr_assert(strcmp(hash, "$argon2id$x") == 0 && strcmp(g.id, u.id) == 0);
    EQ(user_get_login(db, name, &g, hash, 4), NT_EINTERNAL); /* never cut a hash */
    EQ(user_get_login(db, "nobody_here", &g, hash, sizeof hash), NT_ENOTFOUND);
    test_name(name, sizeof name, "ud");
    OK(user_create(db, name, "", "h", &u));
    cr_assert_str_eq(u.display_name, name, "empty display_name defaults to the username");
    const char *ids[] = {"987654321987", "abc", "", "-1", "+1", "1 ", "12abc", "0", "0042",
                         "9223372036854775808", "99999999999999999999", "1; DROP", NULL};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        cr_assert_eq(user_get(db, ids[i], &g), NT_ENOTFOUND, "id %s", ids[i] ? ids[i] : "-");
}

/* How many users user_search finds for base + suffix. */
static int search_n(const char *base, const char *suffix, int max, user_rec_t *found)
{
    char q[64];
    int n = -1;
    snprintf(q, sizeof q, "%s%s", base, suffix);
    OK(user_search(db, q, max, found, &n));
    return n;
}

Test(store, user_search_escapes_wildcards)
{
    char base[24], name[40];
    const char *suffixes[] = {"_a1", "xa2", "_b"};
    user_rec_t found[8];
    test_name(base, sizeof base, "s");
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", base, suffixes[i]);
        OK(user_create(db, name, NULL, "h", &u));
    }
    EQ(search_n(base, "", 8, found), 3);
    EQ(search_n(base, "_", 8, found), 2); /* '_' is literal: "sNNNxa2" is out */
    snprintf(name, sizeof name, "%s_a1", base);
    cr_assert_str_eq(found[0].username, name, "ordered by username");
    EQ(search_n(base, "%", 8, found), 0); /* so is '%' */
    EQ(search_n(base, "\\", 8, found), 0);
    EQ(search_n("%", "", 8, found), 0);
    EQ(search_n(base, "", 1, found), 1);
    EQ(search_n("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", 8, found), 0); /* > 32 */
    /* usernames are ASCII: a prefix that is not finds nobody (it was a
     * MariaDB collation error, found by ops/fuzz-live) */
    EQ(search_n(base, "\xc3\xa9", 8, found), 0);
    EQ(search_n("\xc3\xa9", "", 8, found), 0);
    EQ(search_n("\xff", "", 8, found), 0);
}

Test(store, user_update_partial)
{
    user_rec_t g;
    char name[64 * 4 + 8] = "", bio[500 * 2 + 1] = "";
    new_user("up", &u);
    OK(user_update(db, u.id, NULL, NULL, "hello", &g));
    cr_assert(strcmp(g.bio, "hello") == 0 && strcmp(g.display_name, u.display_name) == 0);
    OK(user_update(db, u.id, "New", "https://x/a.png", NULL, &g));
    cr_assert(strcmp(g.display_name, "New") == 0 && strcmp(g.bio, "hello") == 0);
    cr_assert_str_eq(g.avatar_url, "https://x/a.png");
    OK(user_update(db, u.id, "", "", NULL, &g));
    cr_assert(strcmp(g.display_name, u.username) == 0 && g.avatar_url[0] == '\0');
    OK(user_update(db, u.id, NULL, NULL, NULL, &g)); /* a plain read */
    for (int i = 0; i < 64; i++)
        strcat(name, "\xf0\x9f\x98\x80"); /* 64 four-byte characters fit exactly */
    for (int i = 0; i < 500; i++)
        strcat(bio, "\xc3\xa9");
    OK(user_update(db, u.id, name, NULL, bio, &g));
    cr_assert(strcmp(g.display_name, name) == 0 && strcmp(g.bio, bio) == 0);
    strcat(name, "x"); /* 65 characters: strict mode refuses */
    EQ(user_update(db, u.id, name, NULL, NULL, &g), NT_EINVAL);
    EQ(user_update(db, "987654321987", "x", NULL, NULL, &g), NT_ENOTFOUND);
    EQ(user_update(db, "x1", "x", NULL, NULL, &g), NT_ENOTFOUND);
    db_copy(name, 5, "ab\xc3\xa9z"); /* how fields are filled: 5 bytes into 4 fit */
    cr_assert_str_eq(name, "ab\xc3\xa9");
    db_copy(name, 4, "ab\xc3\xa9"); /* 4 into 3: the 2-byte char is not cut in half */
    cr_assert_str_eq(name, "ab");
}

/* --- sessions ----------------------------------------------------------- */

#define LATER (db_now_ms() + 3600 * 1000)

static void new_session(const char *tag, const char *platform, const char *device,
                        const char *hash, int64_t expires, char *out)
{
    snprintf(out, SESSION_ID_MAX, "%s-%d", tag, (int)getpid());
    cr_assert_eq(session_create(db, out, u.id, platform, device, hash, expires, db_now_ms()),
                 NT_OK, "session %s", out);
}

/* session_refresh of h to nh at time now, into s and reused. */
static int refresh(const char *h, const char *nh, int64_t now)
{
    reused = -1;
    return session_refresh(db, h, nh, LATER, now, &s, &reused);
}

/* session_refresh that must be refused; returns the reused flag. */
static int denied(const char *h, const char *nh, int64_t now)
{
    EQ(refresh(h, nh, now), NT_EUNAUTH);
    return reused;
}

static int revoke_n(const char *uid, const char *platform, const char *device, int max,
                    char (*out)[SESSION_ID_MAX])
{
    int n = -1;
    OK(session_revoke_platform(db, uid, platform, device, db_now_ms(), out, max, &n));
    return n;
}

static int find_sid(void *arg, const session_rec_t *r)
{
    if (strcmp(r->sid, sid) == 0)
        *(int64_t *)arg = r->revoked_at;
    return 0;
}

/* revoked_at of sid in session_revoked_since(since); -1 if not listed. */
static int64_t revoked_at(int64_t since)
{
    int64_t at = -1;
    OK(session_revoked_since(db, since, find_sid, &at));
    return at;
}

Test(store, refresh_rotates_reuse_revokes_prune)
{
    char h1[65], h2[65], h3[65], h4[65], unknown[65];
    int64_t now = db_now_ms();
    new_user("rf", &u);
    mkhash(h1, "r1"), mkhash(h2, "r2"), mkhash(h3, "r3"), mkhash(h4, "r4"), mkhash(unknown, "?");
    new_session("rf", "web", "dev1", h1, LATER, sid);
    EQ(session_create(db, sid, u.id, "web", "", h4, LATER, now), NT_ECONFLICT);
    EQ(session_create(db, "x-orphan", "987654321987", "web", "", h4, LATER, now), NT_ENOTFOUND);
    OK(refresh(h1, h2, now));
    EQ(reused, 0);
    cr_assert(strcmp(s.sid, sid) == 0 && strcmp(s.uid, u.id) == 0 && s.revoked_at == 0);
    cr_assert(strcmp(s.platform, "web") == 0 && strcmp(s.device_id, "dev1") == 0);
    OK(refresh(h2, h3, now));
    /* h1 again: a copy exists somewhere; the whole family dies */
    EQ(denied(h1, h4, now + 1), 1);
    cr_assert(strcmp(s.sid, sid) == 0 && strcmp(s.uid, u.id) == 0 && s.revoked_at == now + 1);
    EQ(denied(h3, h4, now + 2), 1); /* the family's live token */
    cr_assert_eq(s.revoked_at, now + 1, "the first revocation stands");
    EQ(revoked_at(now), now + 1);
    EQ(denied(unknown, h4, now), 0);
    /* expired is refused but is not reuse: the session stays */
    mkhash(h1, "e1"), mkhash(h2, "e2");
    new_session("ex", "mobile", "", h1, now - 1, sid);
    EQ(denied(h1, h2, now), 0);
    EQ(revoked_at(0), -1);
    /* prune: a token that expired in 1970 is deleted, then just unknown */
    uint64_t deleted = 0;
    mkhash(h1, "p0");
    new_session("pr", "web", "", h1, 500, sid);
    OK(session_prune(db, 1000, 0, &deleted));
    cr_assert_geq(deleted, 1);
    EQ(denied(h1, h2, now), 0);
}

Test(store, revoke_checks_owner_and_kills_tokens)
{
    user_rec_t other;
    char h1[65], h2[65];
    int64_t now = db_now_ms();
    new_user("ro", &other);
    new_user("rv", &u);
    mkhash(h1, "v1"), mkhash(h2, "v2");
    new_session("rv", "web", "", h1, LATER, sid);
    EQ(session_revoke(db, sid, other.id, now), NT_ENOTFOUND);
    EQ(session_revoke(db, sid, "abc", now), NT_ENOTFOUND);
    EQ(session_revoke(db, "no-such-session", u.id, now), NT_ENOTFOUND);
    OK(refresh(h1, h2, now)); /* the failed revokes left it alive */
    OK(session_revoke(db, sid, u.id, now + 5));
    cr_assert_eq(session_revoke(db, sid, u.id, now + 9), NT_OK, "logout is idempotent");
    EQ(refresh(h2, h1, now + 10), NT_EUNAUTH);
    EQ(s.revoked_at, now + 5);
    EQ(revoked_at(now + 5), now + 5);
    EQ(revoked_at(now + 6), -1);
}

Test(store, revoke_platform_by_device_and_all)
{
    char a[SESSION_ID_MAX], b[SESSION_ID_MAX], out[4][SESSION_ID_MAX];
    char ha[65], hb[65], hc[65], hn[65], hd[3][65], tag[8];
    new_user("rp", &u);
    mkhash(ha, "pa"), mkhash(hb, "pb"), mkhash(hc, "pc"), mkhash(hn, "pn");
    new_session("pa", "web", "devA", ha, LATER, a);
    new_session("pb", "web", "devB", hb, LATER, b);
    new_session("pc", "mobile", "devA", hc, LATER, sid);
    EQ(revoke_n(u.id, "web", "devA", 4, out), 1);
    cr_assert_str_eq(out[0], a);
    EQ(denied(ha, hn, db_now_ms()), 1);
    cr_assert_eq(revoke_n(u.id, "web", NULL, 4, out), 1, "A is gone; only B is live on web");
    cr_assert_str_eq(out[0], b);
    EQ(revoke_n(u.id, "web", NULL, 4, out), 0);
    EQ(revoke_n("nope", "web", NULL, 4, out), 0);
    mkhash(hb, "pc2");
    cr_assert_eq(refresh(hc, hb, db_now_ms()), NT_OK, "mobile is untouched");
    /* more live sessions than the caller has room for: all go, max reported */
    for (int i = 0; i < 3; i++) {
        snprintf(tag, sizeof tag, "pd%d", i);
        mkhash(hd[i], tag);
        new_session(tag, "desktop", "", hd[i], LATER, sid);
    }
    EQ(revoke_n(u.id, "desktop", NULL, 2, out), 2);
    for (int i = 0; i < 3; i++)
        EQ(refresh(hd[i], hn, db_now_ms()), NT_EUNAUTH);
}

typedef struct racer {
    char *hash, new_hash[65];
    int rc, reused;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    MYSQL *c;
    session_rec_t rs;
    if ((r->rc = db_acquire(pool, 2000, &c)) == NT_OK) {
        r->rc = session_refresh(c, r->hash, r->new_hash, LATER, db_now_ms(), &rs, &r->reused);
        db_release(pool, c, db_is_broken(r->rc));
    }
    db_thread_end();
    return NULL;
}

/* Without the FOR UPDATE in session_refresh two of these win. */
Test(store, concurrent_refresh_has_one_winner)
{
    char h[65], tag[8];
    racer_t r[3];
    pthread_t th[3];
    int ok = 0, reuse = 0;
    new_user("cr", &u);
    mkhash(h, "c0");
    new_session("cr", "web", "", h, LATER, sid);
    for (int i = 0; i < 3; i++) {
        r[i] = (racer_t){.hash = h};
        snprintf(tag, sizeof tag, "c%d", i + 1);
        mkhash(r[i].new_hash, tag);
        EQ(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].rc == NT_OK;
        reuse += r[i].rc == NT_EUNAUTH && r[i].reused;
    }
    EQ(ok, 1);
    EQ(reuse, 2);
}
