/*
 * msg_revoke.c - revoke a message (API.md "POST /api/messages/{id}/revoke",
 * docs/messages.md "Revoke and mentions").
 *
 * im.svc.msg.revoke {message_id}: the REST route names only the message, so
 * this is a service op; the conversation comes from the stored row.  Only
 * the sender, only within msg.revoke_window_s of sending, and only while
 * still a member.  The row is updated in place (body cleared, revoked set):
 * the message was committed by its group commit before anyone could know
 * its id, so a plain UPDATE by key cannot race that batch.  Afterwards
 * every member's sessions get Push {kind:"revoked"}; sync and history
 * return the message revoked with an empty body.  Revoking again succeeds
 * and pushes again (at-least-once, like a retried send).
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"
#include "store/db.h"

#include <stdio.h>
#include <string.h>

/* Answer a refused revoke with a message that says why. */
static int revoke_fail(msg_pool_t *p, bus_t *bus, natsMsg *msg, int rc, int expired)
{
    char err[128];
    if (rc == NT_ENOTFOUND)
        return pool_fail(bus, msg, rc, "message not found");
    if (rc == NT_EFORBIDDEN && expired) {
        snprintf(err, sizeof err, "a message can only be revoked within %ld seconds of sending",
                 p->revoke_window_s);
        return pool_fail(bus, msg, rc, err);
    }
    if (rc == NT_EFORBIDDEN)
        return pool_fail(bus, msg, rc, "only the sender, while a member, can revoke a message");
    return pool_fail(bus, msg, rc, "message not revoked, retry");
}

/* Store the revoke, then load the members to tell. */
static int revoke_store(msg_pool_t *p, MYSQL *db, const char *mid, const char *uid, msg_rec_t *m,
                        conv_rec_t *c, int *again, int *expired)
{
    int rc = msg_revoke(db, mid, uid, (int64_t)p->revoke_window_s * 1000, m, again, expired);
    if (rc != NT_OK)
        return rc;
    if (conv_get(db, m->conversation_id, c) != NT_OK) {
        log_warn("no members to push to", "cid=%s", m->conversation_id);
        c->n_members = 0;
    }
    return NT_OK;
}

int msg_revoke_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__RevokeReq *req = pool_unpack(bus, msg, &natter__revoke_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    MYSQL *db = NULL;
    msg_rec_t m = {0};
    conv_rec_t c = {0};
    int64_t id;
    int rc, again = 0, expired = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if (db_parse_id(req->message_id, &id) != NT_OK) {
        rc = pool_fail(bus, msg, NT_EINVAL, "message_id must be a message id");
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = revoke_store(p, db, req->message_id, uid, &m, &c, &again, &expired);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = revoke_fail(p, bus, msg, rc, expired);
        goto out;
    }
    Natter__RevokedEvent ev = NATTER__REVOKED_EVENT__INIT;
    ev.conversation_id = m.conversation_id;
    ev.message_id = m.id;
    ev.seq = m.seq;
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "revoked";
    push.revoked = &ev;
    msg_push_members(p, &c, NULL, &push, uid, bus_header(msg, BUS_H_TRACE));
    Natter__Message pb;
    msg_pb(&m, &pb);
    Natter__RevokeReply rep = NATTER__REVOKE_REPLY__INIT;
    rep.message = &pb;
    rc = bus_reply_pb(bus, msg, &rep.base);
    log_info("message revoked", "cid=%s seq=%lld uid=%s again=%s", m.conversation_id,
             (long long)m.seq, uid, again ? "yes" : "no");
out:
    msg_rec_fini(&m);
    conv_rec_fini(&c);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
