/*
 * test_admin_store.c - store/admin_store.c against a real mariadbd
 * (db_fixture.h): roles, a ban revoking every live session and refusing
 * the next login under the row lock (with reason and end), a ban whose end
 * has passed, unban, an admin kick of one session, and audit paging.
 */
#include "db_fixture.h"

#include "store/admin_store.h"
#include "store/session_store.h"
#include "store/user_store.h"

#include <stdlib.h>

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

TestSuite(admin_store, .init = setup, .fini = teardown, .timeout = 30);

static void mkhash(char *buf, const char *tag)
{
    char t[65];
    snprintf(t, sizeof t, "%s.%d.", tag, (int)getpid());
    snprintf(buf, 65, "%-64s", t);
    for (char *c = buf; *c; c++)
        *c = *c == ' ' ? 'a' : *c;
}

/* session_login as "<tag>-<pid>"; returns its status, out filled. */
static int login(const user_rec_t *u, const char *tag, const char *platform, char *sid,
                 session_login_out_t *out)
{
    char rh[65];
    snprintf(sid, SESSION_ID_MAX, "%s-%d", tag, (int)getpid());
    mkhash(rh, tag);
    session_login_t in = {.sid = sid, .uid = u->id, .platform = platform, .device_id = "",
                          .refresh_hash = rh, .pw_hash = "$h", .refresh_expires_at = LATER,
                          .now = db_now_ms()};
    return session_login(db, &in, out);
}

Test(admin_store, roles)
{
    char name[40], uid[USER_ID_MAX], who[USERNAME_MAX + 1];
    int changed = -1, is_admin = -1;
    user_rec_t u;
    snprintf(name, sizeof name, "ro%d", (int)getpid());
    OK(user_create(db, name, NULL, "$h", &u));
    OK(admin_role_of(db, u.id, who, &is_admin));
    EQ(is_admin, 0);
    cr_assert_str_eq(who, name);
    OK(admin_set_role(db, name, "admin", &changed, uid));
    EQ(changed, 1);
    cr_assert_str_eq(uid, u.id);
    OK(admin_role_of(db, u.id, who, &is_admin));
    EQ(is_admin, 1);
    OK(admin_set_role(db, name, "admin", &changed, NULL));
    EQ(changed, 0);
    OK(admin_set_role(db, name, "user", &changed, NULL));
    EQ(changed, 1);
    OK(admin_role_of(db, u.id, who, &is_admin));
    EQ(is_admin, 0);
    EQ(admin_set_role(db, name, "root", NULL, NULL), NT_EINVAL);
    EQ(admin_set_role(db, "nobody-here", "admin", NULL, NULL), NT_ENOTFOUND);
    EQ(admin_role_of(db, "987654321987", who, &is_admin), NT_ENOTFOUND);
    EQ(admin_role_of(db, "x", who, &is_admin), NT_ENOTFOUND);
}

Test(admin_store, ban_revokes_and_refuses_login_until_unban)
{
    char name[40], web[SESSION_ID_MAX], mob[SESSION_ID_MAX], again[SESSION_ID_MAX];
    char (*sids)[SESSION_ID_MAX] = NULL;
    int n = -1;
    user_rec_t u;
    session_login_out_t out;
    snprintf(name, sizeof name, "ba%d", (int)getpid());
    OK(user_create(db, name, NULL, "$h", &u));
    OK(login(&u, "bweb", "web", web, &out));
    OK(login(&u, "bmob", "mobile", mob, &out));
    int64_t until = LATER;
    OK(admin_ban(db, u.id, "spam", until, db_now_ms(), &sids, &n));
    EQ(n, 2);
    cr_assert_str_eq(sids[0], mob); /* newest first */
    cr_assert_str_eq(sids[1], web);
    free(sids);
    session_rec_t live[4];
    int nlive = -1;
    OK(admin_session_list(db, u.id, 4, live, &nlive));
    EQ(nlive, 0);
    EQ(login(&u, "bagain", "web", again, &out), NT_EBANNED);
    cr_assert_str_eq(out.ban_reason, "spam");
    EQ(out.ban_until, until);
    admin_user_rec_t list[2];
    OK(admin_user_list(db, name, db_now_ms(), 2, list, &n));
    EQ(n, 1);
    EQ(list[0].banned, 1);
    EQ(list[0].banned_until, until);
    cr_assert_str_eq(list[0].ban_reason, "spam");
    /* Seen from after the end, the same ban is over. */
    OK(admin_user_list(db, name, until + 1, 2, list, &n));
    EQ(list[0].banned, 0);
    OK(admin_unban(db, u.id));
    OK(login(&u, "bagain", "web", again, &out));
    EQ(admin_unban(db, "987654321987"), NT_ENOTFOUND);
    EQ(admin_ban(db, "987654321987", "", 0, db_now_ms(), &sids, &n), NT_ENOTFOUND);
    cr_assert_null(sids);
}

Test(admin_store, ban_with_a_past_end_blocks_nothing)
{
    char name[40], sid[SESSION_ID_MAX];
    char (*sids)[SESSION_ID_MAX] = NULL;
    int n = -1;
    user_rec_t u;
    session_login_out_t out;
    snprintf(name, sizeof name, "bp%d", (int)getpid());
    OK(user_create(db, name, NULL, "$h", &u));
    OK(admin_ban(db, u.id, "old", db_now_ms() - 1000, db_now_ms(), &sids, &n));
    free(sids);
    OK(login(&u, "bpast", "web", sid, &out));
    /* For good (until 0). */
    OK(admin_ban(db, u.id, "", 0, db_now_ms(), &sids, &n));
    EQ(n, 1);
    free(sids);
    EQ(login(&u, "bgood", "web", sid, &out), NT_EBANNED);
    EQ(out.ban_until, 0);
}

Test(admin_store, kick_one_session)
{
    char name[40], web[SESSION_ID_MAX], mob[SESSION_ID_MAX], owner[USER_ID_MAX];
    user_rec_t u;
    session_login_out_t out;
    snprintf(name, sizeof name, "ki%d", (int)getpid());
    OK(user_create(db, name, NULL, "$h", &u));
    OK(login(&u, "kweb", "web", web, &out));
    OK(login(&u, "kmob", "mobile", mob, &out));
    OK(admin_session_revoke(db, web, "kicked_by_admin", db_now_ms(), owner));
    cr_assert_str_eq(owner, u.id);
    EQ(admin_session_revoke(db, web, "kicked_by_admin", db_now_ms(), owner), NT_ENOTFOUND);
    EQ(admin_session_revoke(db, "nope", "kicked_by_admin", db_now_ms(), owner), NT_ENOTFOUND);
    session_rec_t live[4];
    int n = -1;
    OK(admin_session_list(db, u.id, 4, live, &n));
    EQ(n, 1);
    cr_assert_str_eq(live[0].sid, mob);
    cr_assert_str_eq(live[0].platform, "mobile");
}

Test(admin_store, audit_newest_first_and_paged)
{
    admin_audit_rec_t e[3];
    int n = -1;
    char target[32];
    snprintf(target, sizeof target, "t%d", (int)getpid());
    for (int i = 0; i < 3; i++)
        OK(admin_audit_add(db, "", "operator", i == 2 ? "kick" : "ban", target, "d", "::1",
                           db_now_ms()));
    EQ(admin_audit_add(db, "x", "a", "ban", "", "", "", 0), NT_EINVAL);
    OK(admin_audit_list(db, 0, 2, e, &n));
    EQ(n, 2);
    cr_assert_str_eq(e[0].action, "kick");
    cr_assert_str_eq(e[0].target, target);
    cr_assert_str_eq(e[0].actor_id, "0");
    cr_assert_str_eq(e[0].address, "::1");
    cr_assert_gt(atoll(e[0].id), atoll(e[1].id));
    int64_t before = atoll(e[1].id);
    OK(admin_audit_list(db, before, 1, e, &n));
    EQ(n, 1);
    cr_assert_lt(atoll(e[0].id), before);
    /* A detail longer than the column is cut, not refused. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    OK(admin_audit_add(db, "", "operator", "ban", target, big, "", db_now_ms()));
}
