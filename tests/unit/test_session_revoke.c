/*
 * test_session_revoke.c - store/session_revoke.c against a real mariadbd
 * (db_fixture.h): a password change revokes every other session and keeps
 * the caller's, refuses a stale old hash (a concurrent change won) and a
 * revoked caller; a login whose checked hash is no longer the user's
 * creates nothing (a password change came in between).
 */
#include "db_fixture.h"

#include "store/session_store.h"
#include "store/user_store.h"

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)
#define LATER (db_now_ms() + 3600 * 1000)

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

TestSuite(session_revoke, .init = setup, .fini = teardown, .timeout = 30);

/* A 64-char refresh "hash" unique to this process and tag. */
static void mkhash(char *buf, const char *tag)
{
    char t[65];
    snprintf(t, sizeof t, "%s.%d.", tag, (int)getpid());
    snprintf(buf, 65, "%-64s", t);
    for (char *c = buf; *c; c++)
        *c = *c == ' ' ? 'e' : *c;
}

/* Log uid in on platform as session "<tag>-<pid>" with refresh hash of tag. */
static void login(const user_rec_t *u, const char *tag, const char *platform, const char *pw,
                  char *sid)
{
    char rh[65];
    session_login_out_t out;
    snprintf(sid, SESSION_ID_MAX, "%s-%d", tag, (int)getpid());
    mkhash(rh, tag);
    session_login_t in = {.sid = sid, .uid = u->id, .platform = platform, .device_id = "",
                          .refresh_hash = rh, .pw_hash = pw, .refresh_expires_at = LATER,
                          .now = db_now_ms()};
    OK(session_login(db, &in, &out));
}

static int64_t revoked_at(const char *sid, char *reason)
{
    int64_t at = -1;
    MYSQL_RES *res;
    char q[160];
    snprintf(q, sizeof q, "SELECT COALESCE(revoked_at, 0), COALESCE(revoke_reason, '')"
                          " FROM sessions WHERE id = '%s'", sid);
    cr_assert_eq(mysql_query(db, q), 0, "%s", mysql_error(db));
    res = mysql_store_result(db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row) {
        at = atoll(row[0]);
        strcpy(reason, row[1]);
    }
    mysql_free_result(res);
    return at;
}

static int refresh_reused(const char *tag)
{
    char h[65], nh[65];
    session_rec_t s;
    int reused = -1;
    mkhash(h, tag);
    snprintf(nh, sizeof nh, "%064d", (int)getpid());
    EQ(session_refresh(db, h, nh, LATER, db_now_ms(), &s, &reused), NT_EUNAUTH);
    return reused;
}

Test(session_revoke, password_change_keeps_caller_revokes_others)
{
    char name[40], web[SESSION_ID_MAX], mob[SESSION_ID_MAX], desk[SESSION_ID_MAX];
    char hash[256], reason[20];
    user_rec_t u;
    snprintf(name, sizeof name, "pw%d", (int)getpid());
    OK(user_create(db, name, NULL, "$h1", &u));
    login(&u, "pweb", "web", "$h1", web);
    login(&u, "pmob", "mobile", NULL, mob);
    login(&u, "pdesk", "desktop", "$h1", desk);

    session_password_out_t out;
    session_password_t in = {.uid = u.id, .sid = web, .old_hash = "$h1", .new_hash = "$h2",
                             .now = db_now_ms()};
    OK(session_password(db, &in, &out));
    EQ(out.n_revoked, 2);
    cr_assert_str_eq(out.revoked[0], desk); /* newest first */
    cr_assert_str_eq(out.revoked[1], mob);
    OK(user_get_hash(db, u.id, hash, sizeof hash));
    cr_assert_str_eq(hash, "$h2");
    EQ(revoked_at(web, reason), 0);
    cr_assert_gt(revoked_at(mob, reason), 0);
    cr_assert_str_eq(reason, "password");
    cr_assert_gt(revoked_at(desk, reason), 0);
    /* Their refresh tokens are spent: presenting one is reuse. */
    EQ(refresh_reused("pmob"), 1);

    /* A second change with the old hash lost the race. */
    in.new_hash = "$h3";
    EQ(session_password(db, &in, &out), NT_ECONFLICT);
    OK(user_get_hash(db, u.id, hash, sizeof hash));
    cr_assert_str_eq(hash, "$h2");
    /* A revoked or foreign session cannot change it. */
    in.old_hash = "$h2";
    in.sid = mob;
    EQ(session_password(db, &in, &out), NT_EUNAUTH);
    in.sid = "no-such-session";
    EQ(session_password(db, &in, &out), NT_EUNAUTH);
    in.uid = "987654321987";
    EQ(session_password(db, &in, &out), NT_ENOTFOUND);
    in.uid = "x1";
    EQ(session_password(db, &in, &out), NT_ENOTFOUND);
    OK(user_get_hash(db, u.id, hash, sizeof hash));
    cr_assert_str_eq(hash, "$h2");
}

Test(session_revoke, login_with_a_stale_hash_creates_nothing)
{
    char name[40], rh[65], sid[SESSION_ID_MAX], reason[20];
    user_rec_t u;
    session_login_out_t out;
    snprintf(name, sizeof name, "ps%d", (int)getpid());
    OK(user_create(db, name, NULL, "$new", &u));
    snprintf(sid, sizeof sid, "stale-%d", (int)getpid());
    mkhash(rh, "stale");
    session_login_t in = {.sid = sid, .uid = u.id, .platform = "web", .refresh_hash = rh,
                          .pw_hash = "$old", .refresh_expires_at = LATER, .now = db_now_ms()};
    EQ(session_login(db, &in, &out), NT_EUNAUTH);
    EQ(revoked_at(sid, reason), -1); /* no row */
    in.pw_hash = "$new";
    OK(session_login(db, &in, &out));
    EQ(revoked_at(sid, reason), 0);
}

Test(session_revoke, bad_arguments)
{
    session_password_out_t out;
    session_password_t in = {.uid = "1", .sid = "", .old_hash = "a", .new_hash = "b"};
    EQ(session_password(db, &in, &out), NT_EINVAL);
    in.sid = "s";
    in.new_hash = "";
    EQ(session_password(db, &in, &out), NT_EINVAL);
    in.new_hash = NULL;
    EQ(session_password(db, &in, &out), NT_EINVAL);
    EQ(out.n_revoked, 0);
}
