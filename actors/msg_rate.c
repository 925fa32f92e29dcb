/*
 * msg_rate.c - the per-user send rate limit of the msg pool (issue 5,
 * docs/sessions.md "Rate limits").
 *
 * One token bucket per sender in Redis ("rl:send:<uid>", rule
 * msg.send_rate), shared by every msg process, checked on the delivery
 * thread before a send is queued for its worker: a refused send costs no
 * queue slot and no transaction.  The edge keeps one send per session and
 * conversation in flight, so this is what stops one user from writing as
 * fast as the store can commit, across all their sessions and both edges.
 *
 * Choices:
 * - Redis down or slow (redis.timeout_ms): the send goes through, logged.
 *   A cache outage must not silence everyone.
 * - A retry of a message that is already stored (same client_msg_id) is
 *   not refused: it writes nothing and the client needs its answer (the
 *   original, duplicate = true) to stop retrying.  Telling it apart costs
 *   one key lookup, done only for a send the bucket refused, so a sender
 *   under the limit pays nothing for it.  A retry whose original is still
 *   queued (not stored yet) is refused like any other send.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

static int found(void *arg, const msg_rec_t *m)
{
    (void)m;
    *(int *)arg = 1;
    return 0;
}

/* 1 if (cid, uid, client_msg_id) is stored; 0 if not or if we cannot tell. */
static int already_stored(msg_pool_t *p, const char *uid, const Natter__SendReq *req)
{
    msg_key_t k = {.client_msg_id = req->client_msg_id};
    MYSQL *db = NULL;
    int hit = 0;
    if (db_parse_id(req->conversation_id, &k.cid) != NT_OK ||
        db_parse_id(uid, &k.sender) != NT_OK || db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return 0;
    int rc = msg_find_keys(db, &k, 1, found, &hit);
    db_release(p->db, db, db_is_broken(rc));
    return rc == NT_OK && hit;
}

int msg_send_limited(msg_pool_t *p, bus_t *bus, natsMsg *msg, const char *uid,
                     const Natter__SendReq *req)
{
    char key[64], text[96];
    int allowed;
    long retry_ms;
    if (!p->redis || p->send_rate.per_s <= 0)
        return NT_OK;
    snprintf(key, sizeof key, "send:%s", uid);
    if (ratelimit_take(p->redis, key, &p->send_rate, &allowed, &retry_ms) != NT_OK) {
        log_warn("rate limit unchecked", "what=send uid=%s", uid);
        return NT_OK;
    }
    if (allowed || already_stored(p, uid, req))
        return NT_OK;
    log_debug("send rate limited", "uid=%s retry_ms=%ld", uid, retry_ms);
    snprintf(text, sizeof text, "too many messages; retry in %ld s", (retry_ms + 999) / 1000);
    return pool_fail(bus, msg, NT_ERATELIMIT, text);
}
