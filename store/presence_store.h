/*
 * presence_store.h - who is online, in Redis (DESIGN.md "Storage": user ->
 * sessions -> edge, refreshed by edge heartbeats; docs/presence.md).
 *
 * Keys (all rebuilt by the next round of heartbeats after a data loss):
 *   pr:u:<uid>   HASH  "<sid>@<edge>" -> "<seq>:<platform>": the user's
 *                      live sessions; the user is online while it exists
 *   pr:dl        ZSET  "<uid>|<sid>@<edge>" scored by its deadline (ms):
 *                      a session not refreshed by then has expired
 *   pr:off       ZSET  uid scored by last_seen (ms): users whose last
 *                      session ended and whose offline is not published
 *                      yet (the debounce window)
 *   pr:x:<uid>   HASH  "<sid>@<edge>" -> seq of its last `down`, kept for
 *                      2 TTLs: a report older than it is stale
 *   pr:epoch     STRING  when this Redis first saw presence data (ms)
 *
 * Every change is one Lua script, so any number of presence processes
 * agree on what is a transition (one of them sees "came online", one
 * claims "went offline"), and every time is Redis's own clock (TIME), so
 * their clocks need not agree.  The scripts compute key names from their
 * arguments, which is fine on one Redis (or Sentinel), not on Redis
 * Cluster.
 *
 * Functions return NT_OK, NT_EUNAVAIL (Redis down or slow), NT_EINVAL (a
 * token that cannot be part of a key) or NT_ENOMEM.  Thread-safe: each call
 * borrows a pooled connection.
 */
#ifndef NT_PRESENCE_STORE_H
#define NT_PRESENCE_STORE_H

#include "store/redis.h"

#include <stddef.h>
#include <stdint.h>

#define PRESENCE_UID_MAX 24       /* decimal user id + NUL */
#define PRESENCE_TOKEN_MAX 64     /* chars of a session or edge id */
#define PRESENCE_PLATFORM_MAX 16
#define PRESENCE_ADDRESS_MAX 48   /* chars of a client address, NUL included */
#define PRESENCE_META_MAX 72      /* "<address>|<since ms>" */

/* One session as an edge reports it.  Strings are borrowed. */
typedef struct presence_entry {
    const char *uid;
    const char *sid;
    const char *platform;         /* "" or NULL: keep what is stored */
    const char *address;          /* the client's address; "" or NULL: keep what is stored */
    int64_t since;                /* ms: its socket opened; 0: keep what is stored */
} presence_entry_t;

/* A user and a time (ms): who came online, or went offline and when they
 * were last seen. */
typedef struct presence_user {
    char uid[PRESENCE_UID_MAX];
    int64_t at;
} presence_user_t;

/* Timing shared by every call (read-only). */
typedef struct presence_times {
    int64_t ttl_ms;               /* a session not refreshed this long expired */
    int64_t debounce_ms;          /* offline published only after this long */
} presence_times_t;

/* 1 if s can be part of a key: 1..PRESENCE_TOKEN_MAX of [A-Za-z0-9_-]. */
int presence_token_ok(const char *s);

/* 1 if s is a canonical decimal user id (1-19 digits, no leading zero). */
int presence_uid_ok(const char *s);

/* The sessions e[0..n) of edge are live (an `up`, or a heartbeat when
 * heartbeat = 1), as of report seq.  Each gets the deadline now + ttl.
 * An entry older than a `down` already seen for it is skipped.  Users
 * who had no session and now have one are returned in *online (a new
 * array of *n_online, caller frees; at = now), except: a user whose
 * offline was still pending (debounce) is not returned, and neither is
 * any user of a heartbeat within one TTL after Redis lost its data (their
 * contacts never saw them go: re-announcing them is not news).  Entries
 * with a bad uid or token are skipped (counted in *skipped, may be NULL). */
int presence_store_touch(redis_pool_t *r, const presence_times_t *t, const char *edge,
                         uint64_t seq, int heartbeat, const presence_entry_t *e, int n,
                         presence_user_t **online, int *n_online, int *skipped);

/* Session e of edge ended (report seq).  When it was the user's last one,
 * the user's offline becomes pending (published by a later sweep, unless
 * a session comes back within debounce).  A down older than the stored
 * report of that session is ignored. */
int presence_store_down(redis_pool_t *r, const presence_times_t *t, const char *edge,
                        uint64_t seq, const presence_entry_t *e);

/* Expire sessions past their deadline (at most max; only when expire is
 * 1), then claim users whose offline is due (at most max): each is
 * returned to exactly one caller, in *off (new array of *n, caller frees;
 * at = last_seen).  An expired session's user was last seen at its last
 * refresh (deadline - ttl). */
int presence_store_sweep(redis_pool_t *r, const presence_times_t *t, int max, int expire,
                         presence_user_t **off, int *n);

/* Put a claimed offline back (publishing it failed): a later sweep
 * claims it again, unless the user came back meanwhile. */
int presence_store_requeue(redis_pool_t *r, const presence_user_t *u);

/* Sessions and distinct users with a live session, for /metrics.  One
 * script that walks pr:dl: O(sessions) inside Redis (a 100k-session
 * walk blocks Redis for tens of ms), so the caller limits how often. */
int presence_store_counts(redis_pool_t *r, int64_t *users, int64_t *sessions);

/* online[i] = 1 if uids[i] has a live session, else 0, for n <= 1000. */
int presence_store_online(redis_pool_t *r, const char *const *uids, int n, int *online);

/* Call fn(arg, sid, edge, address, since) for each live session of uid as
 * edges report them (one call per session per edge; at most
 * PRESENCE_LIST_MAX): the client's address ("" unknown) and when its
 * socket opened (ms, 0 unknown), as that edge reported them.  For the
 * admin's session list (actors/admin_ops.c). */
#define PRESENCE_LIST_MAX 1000
typedef void (*presence_session_fn)(void *arg, const char *sid, const char *edge,
                                    const char *address, int64_t since);
int presence_store_sessions(redis_pool_t *r, const char *uid, presence_session_fn fn, void *arg);

#endif
