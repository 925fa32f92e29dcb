/*
 * test_presence_store.c - the presence scripts (store/presence_store.c)
 * against a real redis-server on a free loopback port, with short TTL and
 * debounce so time can pass for real.
 *
 * What must hold: a user comes online once, with the first session, and
 * goes offline once, after the last one and the debounce; a session back
 * within the debounce cancels the offline; a session whose deadline passed
 * is expired by the sweep and its user claimed offline with last_seen at
 * its last refresh; reports handled out of order (a stale up after a down,
 * a stale down after an up) change nothing; after Redis lost its data,
 * heartbeats rebuild presence without announcing anyone for one TTL;
 * a requeued offline is claimed again unless the user came back; bad
 * entries are skipped, not stored.
 */
#include "common/err.h"
#include "redis_fixture.h"
#include "store/presence_store.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TTL_MS 400
#define DEBOUNCE_MS 200

static redis_pool_t *pool;
static const presence_times_t times = {.ttl_ms = TTL_MS, .debounce_ms = DEBOUNCE_MS};

static void setup(void)
{
    redis_fx_start();
    pool = redis_fx_pool(2, 500);
}

static void teardown(void)
{
    redis_pool_free(pool);
    redis_fx_stop();
}

TestSuite(presence_store, .init = setup, .fini = teardown);

static uint64_t seq;

/* up (hb = 0) or heartbeat of one session; the number of users that came
 * online, and the first of them into who (may be NULL). */
static int touch(const char *edge, const char *uid, const char *sid, int hb, uint64_t s,
                 char *who)
{
    presence_entry_t e = {.uid = uid, .sid = sid, .platform = "web"};
    presence_user_t *on = NULL;
    int n = -1;
    cr_assert_eq(presence_store_touch(pool, &times, edge, s ? s : ++seq, hb, &e, 1, &on, &n, NULL),
                 NT_OK);
    if (who)
        snprintf(who, PRESENCE_UID_MAX, "%s", n > 0 ? on[0].uid : "");
    if (n > 0)
        cr_expect_gt(on[0].at, 0);
    free(on);
    return n;
}

static void down(const char *edge, const char *uid, const char *sid, uint64_t s)
{
    presence_entry_t e = {.uid = uid, .sid = sid};
    cr_assert_eq(presence_store_down(pool, &times, edge, s ? s : ++seq, &e), NT_OK);
}

static int online(const char *uid)
{
    int on = -1;
    cr_assert_eq(presence_store_online(pool, &uid, 1, &on), NT_OK);
    return on;
}

/* Users claimed offline by one sweep; the first one's uid and last_seen. */
static int sweep(int expire, char *who, int64_t *at)
{
    presence_user_t *off = NULL;
    int n = -1;
    cr_assert_eq(presence_store_sweep(pool, &times, 100, expire, &off, &n), NT_OK);
    if (who)
        snprintf(who, PRESENCE_UID_MAX, "%s", n > 0 ? off[0].uid : "");
    if (at)
        *at = n > 0 ? off[0].at : 0;
    free(off);
    return n;
}

Test(presence_store, online_once_offline_once_after_debounce)
{
    char who[PRESENCE_UID_MAX];
    cr_expect_eq(touch("e1", "11", "s1", 0, 0, who), 1);
    cr_expect_str_eq(who, "11");
    cr_expect_eq(touch("e1", "11", "s2", 0, 0, NULL), 0, "a second session is not news");
    cr_expect_eq(touch("e2", "11", "s1", 0, 0, NULL), 0, "the same session on another edge");
    cr_expect_eq(online("11"), 1);
    down("e1", "11", "s1", 0);
    down("e1", "11", "s2", 0);
    cr_expect_eq(online("11"), 1, "still on e2");
    down("e2", "11", "s1", 0);
    cr_expect_eq(online("11"), 0);
    cr_expect_eq(sweep(1, NULL, NULL), 0, "not before the debounce");
    usleep((DEBOUNCE_MS + 50) * 1000);
    int64_t at = 0;
    cr_expect_eq(sweep(1, who, &at), 1);
    cr_expect_str_eq(who, "11");
    cr_expect_gt(at, 0);
    cr_expect_eq(sweep(1, NULL, NULL), 0, "claimed once");
    cr_expect_eq(touch("e1", "11", "s3", 0, 0, NULL), 1, "back online is news again");
}

Test(presence_store, back_within_debounce_is_silent)
{
    cr_expect_eq(touch("e1", "12", "s1", 0, 0, NULL), 1);
    down("e1", "12", "s1", 0);
    cr_expect_eq(touch("e1", "12", "s1", 0, 0, NULL), 0, "reconnect within the window");
    usleep((DEBOUNCE_MS + 50) * 1000);
    cr_expect_eq(sweep(1, NULL, NULL), 0, "no offline was pending any more");
    cr_expect_eq(online("12"), 1);
}

Test(presence_store, expired_session_goes_offline_with_last_refresh)
{
    char who[PRESENCE_UID_MAX];
    cr_expect_eq(touch("dead", "13", "s1", 0, 0, NULL), 1);
    cr_expect_eq(touch("live", "14", "s1", 0, 0, NULL), 1);
    usleep(TTL_MS / 2 * 1000);
    cr_expect_eq(touch("live", "14", "s1", 1, 0, NULL), 0, "heartbeat refreshes");
    usleep((TTL_MS / 2 + 100) * 1000);
    cr_expect_eq(sweep(0, NULL, NULL), 0, "expire = 0 expires nothing");
    cr_expect_eq(online("13"), 1);
    int64_t at = 0;
    cr_expect_eq(sweep(1, who, &at), 1, "only the edge that stopped refreshing");
    cr_expect_str_eq(who, "13");
    cr_expect_eq(online("13"), 0);
    cr_expect_eq(online("14"), 1);
    cr_expect_gt(at, 0);
}

Test(presence_store, stale_reports_change_nothing)
{
    /* A down handled before the up it follows: the up is stale. */
    down("e1", "15", "s1", 100);
    cr_expect_eq(touch("e1", "15", "s1", 0, 99, NULL), 0);
    cr_expect_eq(touch("e1", "15", "s1", 1, 98, NULL), 0, "an old heartbeat too");
    cr_expect_eq(online("15"), 0);
    cr_expect_eq(touch("e1", "15", "s1", 0, 101, NULL), 1, "the session opened again");
    /* A down older than the up it would undo. */
    down("e1", "15", "s1", 100);
    cr_expect_eq(online("15"), 1);
    usleep((DEBOUNCE_MS + 50) * 1000);
    cr_expect_eq(sweep(1, NULL, NULL), 0);
}

Test(presence_store, data_loss_heals_quietly)
{
    cr_expect_eq(touch("e1", "16", "s1", 0, 0, NULL), 1);
    redisReply *r = NULL;
    cr_assert_eq(redis_cmd(pool, &r, "FLUSHALL"), NT_OK);
    freeReplyObject(r);
    cr_expect_eq(online("16"), 0);
    cr_expect_eq(touch("e1", "16", "s1", 1, 0, NULL), 0, "heartbeat after the loss: not news");
    cr_expect_eq(online("16"), 1, "but rebuilt");
    cr_expect_eq(touch("e1", "17", "s1", 0, 0, NULL), 1, "an up is always news");
    usleep((TTL_MS + 50) * 1000);
    cr_expect_eq(sweep(1, NULL, NULL), 2, "both expired meanwhile");
    cr_expect_eq(touch("e1", "16", "s1", 1, 0, NULL), 1, "one TTL later a heartbeat is news");
}

Test(presence_store, requeue)
{
    char who[PRESENCE_UID_MAX];
    touch("e1", "18", "s1", 0, 0, NULL);
    down("e1", "18", "s1", 0);
    usleep((DEBOUNCE_MS + 50) * 1000);
    presence_user_t u = {.uid = "18", .at = 0};
    int64_t at = 0;
    cr_expect_eq(sweep(1, who, &at), 1);
    u.at = at;
    cr_expect_eq(presence_store_requeue(pool, &u), NT_OK);
    cr_expect_eq(sweep(1, who, NULL), 1, "claimed again");
    cr_expect_str_eq(who, "18");
    cr_expect_eq(presence_store_requeue(pool, &u), NT_OK);
    touch("e1", "18", "s1", 0, 0, NULL);
    cr_expect_eq(sweep(1, NULL, NULL), 0, "came back: nothing to claim");
}

typedef struct {
    int n;
    char sid[4][PRESENCE_TOKEN_MAX + 1], edge[4][PRESENCE_TOKEN_MAX + 1];
    char addr[4][PRESENCE_ADDRESS_MAX];
    int64_t since[4];
} seen_t;

static void on_session(void *arg, const char *sid, const char *edge, const char *address,
                       int64_t since)
{
    seen_t *s = arg;
    if (s->n >= 4)
        return;
    snprintf(s->sid[s->n], sizeof s->sid[0], "%s", sid);
    snprintf(s->edge[s->n], sizeof s->edge[0], "%s", edge);
    snprintf(s->addr[s->n], sizeof s->addr[0], "%s", address);
    s->since[s->n++] = since;
}

Test(presence_store, sessions_carry_address_and_since)
{
    presence_entry_t e = {.uid = "31", .sid = "s1", .platform = "web", .address = "2001:db8::7",
                          .since = 1700000000123};
    presence_user_t *on = NULL;
    int n = -1;
    cr_assert_eq(presence_store_touch(pool, &times, "e1", ++seq, 0, &e, 1, &on, &n, NULL), NT_OK);
    free(on);
    seen_t s = {0};
    cr_assert_eq(presence_store_sessions(pool, "31", on_session, &s), NT_OK);
    cr_assert_eq(s.n, 1);
    cr_expect_str_eq(s.sid[0], "s1");
    cr_expect_str_eq(s.edge[0], "e1");
    cr_expect_str_eq(s.addr[0], "2001:db8::7");
    cr_expect_eq(s.since[0], 1700000000123);
    /* A heartbeat without them keeps them; a bad address is not stored. */
    touch("e1", "31", "s1", 1, 0, NULL);
    presence_entry_t bad = {.uid = "31", .sid = "s2", .address = "1.2.3.4|99", .since = 5};
    cr_assert_eq(presence_store_touch(pool, &times, "e2", ++seq, 0, &bad, 1, &on, &n, NULL), NT_OK);
    free(on);
    memset(&s, 0, sizeof s);
    cr_assert_eq(presence_store_sessions(pool, "31", on_session, &s), NT_OK);
    cr_assert_eq(s.n, 2);
    for (int i = 0; i < 2; i++) {
        if (strcmp(s.sid[i], "s1") == 0) {
            cr_expect_str_eq(s.addr[i], "2001:db8::7");
            cr_expect_eq(s.since[i], 1700000000123);
        } else {
            cr_expect_str_eq(s.addr[i], "");
            cr_expect_eq(s.since[i], 0);
        }
    }
}

Test(presence_store, bad_entries_are_skipped)
{
    presence_entry_t e[] = {
        {.uid = "0", .sid = "s1", .platform = ""},   {.uid = "1a", .sid = "s1", .platform = ""},
        {.uid = "19", .sid = "s.1", .platform = ""}, {.uid = "19", .sid = "s1", .platform = "WEB"},
        {.uid = "19", .sid = "s1"},
    };
    presence_user_t *on = NULL;
    int n = -1, skipped = -1;
    cr_assert_eq(presence_store_touch(pool, &times, "e1", ++seq, 0, e, 5, &on, &n, &skipped),
                 NT_OK);
    cr_expect_eq(skipped, 4);
    cr_expect_eq(n, 1);
    free(on);
    cr_expect_eq(presence_store_touch(pool, &times, "bad edge", ++seq, 0, e, 5, &on, &n, NULL),
                 NT_EINVAL);
    const char *bad = "x";
    int flag;
    cr_expect_eq(presence_store_online(pool, &bad, 1, &flag), NT_EINVAL);
}
