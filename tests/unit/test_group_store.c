/*
 * test_group_store.c - group conversations in the store (group_store.c)
 * against a real mariadbd (db_fixture.h): create, the permission rules of
 * every change, the system message each change appends (dense seqs), whole
 * member lists past the old 16-entry record, and a removed member's send
 * refused by the group commit.
 */
#include "db_fixture.h"

#include "store/conv_store.h"
#include "store/group_store.h"
#include "store/msg_batch_store.h"
#include "store/user_store.h"

#include <pthread.h>

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)
#define EQ(e, want) cr_assert_eq((e), (want), "%s", #e)

static db_pool_t *pool;
static MYSQL *db;
static int serial;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 3);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
}

static void teardown(void)
{
    db_release(pool, db, 0);
    db_pool_free(pool);
}

TestSuite(group_store, .init = setup, .fini = teardown, .timeout = 60);

static void new_user(char *id)
{
    char name[40];
    user_rec_t u;
    snprintf(name, sizeof name, "gs%d_%d", (int)getpid(), serial++);
    cr_assert_eq(user_create(db, name, NULL, "$argon2id$fake", &u), NT_OK, "create %s", name);
    strcpy(id, u.id);
}

/* owner and n members (ids[0..n)) in a new group; its id into cid. */
static void new_group(char *owner, char ids[][MSG_ID_MAX], int n, char *cid)
{
    const char *v[32];
    conv_rec_t c;
    msg_rec_t sys;
    char bad[MSG_ID_MAX] = "";
    new_user(owner);
    for (int i = 0; i < n; i++) {
        new_user(ids[i]);
        v[i] = ids[i];
    }
    OK(group_create(db, owner, "g", v, n, 100, &c, &sys, bad));
    strcpy(cid, c.id);
    conv_rec_fini(&c);
    msg_rec_fini(&sys);
}

/* Apply one change; the result is dropped. */
static int change(const char *cid, const char *op, const char *actor, const char *user,
                  const char *role)
{
    group_change_t ch = {.op = op, .actor = actor, .user_id = user, .role = role,
                         .name = "n", .max = 100};
    group_result_t r;
    char err[160];
    int rc = group_apply(db, cid, &ch, &r, err, sizeof err);
    if (rc == NT_OK)
        group_result_fini(&r);
    return rc;
}

Test(group_store, create_roles_and_system_message)
{
    char owner[MSG_ID_MAX], ids[2][MSG_ID_MAX], bad[MSG_ID_MAX] = "";
    const char *v[3];
    conv_rec_t c;
    msg_rec_t sys;
    new_user(owner);
    new_user(ids[0]);
    new_user(ids[1]);
    v[0] = ids[0];
    v[1] = ids[1];
    OK(group_create(db, owner, "team", v, 2, 100, &c, &sys, bad));
    cr_assert_str_eq(c.type, "group");
    cr_assert_str_eq(c.owner_id, owner);
    EQ(c.n_members, 3);
    cr_assert_str_eq(conv_member_role(&c, owner), "owner");
    cr_assert_str_eq(conv_member_role(&c, ids[1]), "member");
    EQ(c.last_seq, 1);
    EQ(sys.seq, 1);
    cr_assert_str_eq(sys.type, "system");
    cr_assert(strstr(sys.body, "\"event\":\"created\"") != NULL, "%s", sys.body);
    conv_rec_fini(&c);
    msg_rec_fini(&sys);
    v[2] = "999999999999";
    EQ(group_create(db, owner, "t", v, 3, 100, &c, &sys, bad), NT_ENOTFOUND);
    cr_assert_str_eq(bad, "999999999999");
    EQ(group_create(db, owner, "t", v, 2, 2, &c, &sys, bad), NT_EINVAL); /* 3 > max 2 */
}

Test(group_store, rules_and_dense_seqs)
{
    char owner[MSG_ID_MAX], m[3][MSG_ID_MAX], cid[MSG_ID_MAX], out[MSG_ID_MAX];
    new_group(owner, m, 3, cid);
    new_user(out);
    EQ(change(cid, "rename", m[0], NULL, NULL), NT_EFORBIDDEN);
    EQ(change(cid, "rename", out, NULL, NULL), NT_EFORBIDDEN);
    EQ(change(cid, "remove", m[0], m[1], NULL), NT_EFORBIDDEN);
    EQ(change(cid, "owner", m[0], m[1], NULL), NT_EFORBIDDEN);
    EQ(change(cid, "role", m[0], m[1], "admin"), NT_EFORBIDDEN);
    EQ(change(cid, "remove", owner, owner, NULL), NT_ECONFLICT);
    EQ(change(cid, "remove", owner, out, NULL), NT_ENOTFOUND);
    EQ(change("999999999999", "rename", owner, NULL, NULL), NT_ENOTFOUND);
    OK(change(cid, "rename", owner, NULL, NULL));                 /* seq 2 */
    OK(change(cid, "role", owner, m[0], "admin"));                /* 3 */
    EQ(change(cid, "remove", m[0], owner, NULL), NT_EFORBIDDEN);  /* admin vs owner */
    OK(change(cid, "role", owner, m[1], "admin"));                /* 4 */
    EQ(change(cid, "remove", m[0], m[1], NULL), NT_EFORBIDDEN);   /* admin vs admin */
    OK(change(cid, "remove", m[0], m[2], NULL));                  /* 5 */
    OK(change(cid, "owner", owner, m[1], NULL));                  /* 6 */
    OK(change(cid, "remove", owner, owner, NULL));                /* 7: leaves */
    conv_rec_t c;
    OK(conv_get(db, cid, &c));
    EQ(c.last_seq, 7);
    cr_assert_str_eq(c.owner_id, m[1]);
    EQ(c.n_members, 2);
    cr_assert_null(conv_member_role(&c, owner));
    cr_assert_str_eq(conv_member_role(&c, m[1]), "owner");
    conv_rec_fini(&c);
    for (int64_t s = 1; s <= 7; s++) {
        msg_rec_t rec;
        OK(msg_get_seq(db, db_col_i64(cid), s, &rec));
        cr_assert_str_eq(rec.type, "system");
        msg_rec_fini(&rec);
    }
}

Test(group_store, add_limit_and_whole_member_list)
{
    char owner[MSG_ID_MAX], m[20][MSG_ID_MAX], cid[MSG_ID_MAX], extra[2][MSG_ID_MAX];
    new_group(owner, m, 20, cid);
    new_user(extra[0]);
    new_user(extra[1]);
    const char *ids[3] = {extra[0], extra[1], m[0]};
    group_change_t ch = {.op = "add", .actor = owner, .ids = ids, .n = 3, .max = 22};
    group_result_t r;
    char err[160];
    ch.max = 21; /* 21 now, two new would be 23 */
    EQ(group_apply(db, cid, &ch, &r, err, sizeof err), NT_EINVAL);
    ch.max = 23;
    OK(group_apply(db, cid, &ch, &r, err, sizeof err));
    EQ(r.n_added, 2); /* m[0] was a member already */
    EQ(r.after.n_members, 23);
    group_result_fini(&r);
    /* the group commit's lock loads every member, not the first 16 */
    int64_t id = db_col_i64(cid);
    conv_rec_t locked;
    int n = 0;
    OK(db_begin(db));
    OK(conv_lock_many(db, &id, 1, &locked, &n));
    db_rollback(db);
    EQ(n, 1);
    EQ(locked.n_members, 23);
    conv_rec_fini(&locked);
}

Test(group_store, removed_member_cannot_send)
{
    char owner[MSG_ID_MAX], m[2][MSG_ID_MAX], cid[MSG_ID_MAX];
    new_group(owner, m, 2, cid);
    OK(change(cid, "remove", owner, m[0], NULL));
    msg_send_item_t v[2] = {
        {.cid = cid, .sender = m[0], .client_msg_id = "x1", .type = "text", .body = "a"},
        {.cid = cid, .sender = m[1], .client_msg_id = "x2", .type = "text", .body = "b"},
    };
    conv_rec_t *convs = NULL;
    int nconvs = 0;
    OK(msg_send_batch(db, v, 2, &convs, &nconvs));
    EQ(v[0].rc, NT_EFORBIDDEN);
    EQ(v[1].rc, NT_OK);
    EQ(v[1].msg.seq, 3); /* created, removed, then this */
    EQ(convs[v[1].conv].n_members, 2);
    cr_assert_null(conv_member_role(&convs[v[1].conv], m[0]));
    msg_send_items_fini(v, 2);
    conv_recs_free(convs, nconvs);
}

/* Sends of one member, batch after batch on its own connection, while the
 * test removes that member: every send that was stored must have a seq
 * below the removal's system message (the row lock orders them), every
 * later one is refused, and the pushes of a stored one went to a list that
 * still held the sender. */
typedef struct racer {
    const char *cid, *uid;
    int rc, stored, refused, bad;
    int64_t max_seq;
} racer_t;

static void *racer_main(void *arg)
{
    racer_t *s = arg;
    MYSQL *c = NULL;
    if ((s->rc = db_acquire(pool, 2000, &c)) != NT_OK)
        return NULL;
    for (int r = 0; r < 400 && s->rc == NT_OK && s->refused == 0; r++) {
        char key[32];
        snprintf(key, sizeof key, "race-%d", r);
        msg_send_item_t v = {.cid = s->cid, .sender = s->uid, .client_msg_id = key,
                             .type = "text", .body = "x"};
        conv_rec_t *convs = NULL;
        int nconvs = 0, attempt = 0;
        do
            s->rc = msg_send_batch(c, &v, 1, &convs, &nconvs);
        while (s->rc == NT_EUNAVAIL && ++attempt < 5);
        if (s->rc == NT_OK && v.rc == NT_OK) {
            s->stored++;
            s->max_seq = v.msg.seq;
            s->bad += conv_member_role(&convs[v.conv], s->uid) == NULL;
        } else if (s->rc == NT_OK) {
            s->refused += v.rc == NT_EFORBIDDEN;
            s->bad += v.rc != NT_EFORBIDDEN;
        }
        if (s->rc == NT_OK)
            msg_send_items_fini(&v, 1);
        conv_recs_free(convs, nconvs);
    }
    db_release(pool, c, db_is_broken(s->rc));
    db_thread_end();
    return NULL;
}

Test(group_store, removal_races_sends)
{
    char owner[MSG_ID_MAX], m[2][MSG_ID_MAX], cid[MSG_ID_MAX];
    new_group(owner, m, 2, cid);
    racer_t s = {.cid = cid, .uid = m[0]};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, racer_main, &s), 0);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    group_change_t ch = {.op = "remove", .actor = owner, .user_id = m[0], .max = 100};
    group_result_t r;
    char err[160];
    int rc;
    int attempt = 0;
    do
        rc = group_apply(db, cid, &ch, &r, err, sizeof err);
    while (rc == NT_EUNAVAIL && ++attempt < 5);
    OK(rc);
    int64_t removal = r.sys.seq;
    group_result_fini(&r);
    pthread_join(t, NULL);
    OK(s.rc);
    EQ(s.bad, 0);
    EQ(s.refused, 1); /* the racer stops at its first refusal */
    cr_log_info("stored %d sends before the removal at seq %lld", s.stored, (long long)removal);
    cr_assert(s.max_seq < removal, "stored seq %lld after removal %lld", (long long)s.max_seq,
              (long long)removal);
    conv_rec_t c;
    OK(conv_get(db, cid, &c));
    EQ(c.last_seq, 1 + s.stored + 1); /* created, the stored sends, removed: dense */
    conv_rec_fini(&c);
}
