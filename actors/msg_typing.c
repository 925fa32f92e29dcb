/*
 * msg_typing.c - im.conv.<cid>.typing: "this member is typing", relayed
 * to the other members' sessions and never stored (API.md `typing`).
 *
 * The edge publishes it without a reply subject (fire-and-forget) after
 * its own per-session rate limit (docs/presence.md "Typing"); the
 * conversation actor is the one that knows the members, so it checks that
 * the caller is one and fans out natter.Push {kind:"typing"} to the
 * others.  Anything wrong (not a member, no such conversation, a payload
 * that does not match the subject) is dropped with a debug line: a typing
 * notice is not worth an error frame, and nobody waits for an answer.  A
 * caller who does send a reply subject gets Empty or the error.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"

#include <string.h>

/* Fail quietly unless someone waits for an answer. */
static int drop(bus_t *bus, natsMsg *msg, int err, const char *why)
{
    const char *reply = natsMsg_GetReply(msg);
    if (reply && *reply)
        return pool_fail(bus, msg, err, why);
    log_debug("typing dropped", "subject=%s why=\"%s\"", natsMsg_GetSubject(msg), why);
    return err;
}

/* "im.conv.<cid>.typing" names payload_cid. */
static int cid_matches(natsMsg *msg, const char *payload_cid)
{
    static const char prefix[] = "im.conv.";
    const char *s = natsMsg_GetSubject(msg);
    if (!payload_cid || strncmp(s, prefix, sizeof prefix - 1) != 0)
        return 0;
    s += sizeof prefix - 1;
    size_t n = strlen(payload_cid);
    return n > 0 && strncmp(s, payload_cid, n) == 0 && strcmp(s + n, ".typing") == 0;
}

int msg_typing_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    const char *uid = bus_header(msg, BUS_H_UID);
    MYSQL *db = NULL;
    conv_rec_t c = {0};
    int rc;
    if (!uid || !*uid)
        return drop(bus, msg, NT_EUNAUTH, "not logged in");
    int len = natsMsg_GetDataLength(msg);
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    Natter__TypingReq *req =
        natter__typing_req__unpack(NULL, (size_t)len, data ? data : (const uint8_t *)"");
    if (!req)
        return drop(bus, msg, NT_EINVAL, "malformed request");
    if (!cid_matches(msg, req->conversation_id)) {
        rc = drop(bus, msg, NT_EINVAL, "conversation_id does not match the subject");
        goto out;
    }
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK) {
        rc = drop(bus, msg, NT_EUNAVAIL, "database unavailable");
        goto out;
    }
    rc = conv_get(db, req->conversation_id, &c);
    db_release(p->db, db, db_is_broken(rc));
    int member = 0;
    for (int i = 0; rc == NT_OK && i < c.n_members; i++)
        member |= strcmp(c.members[i].user_id, uid) == 0;
    if (rc == NT_OK && !member)
        rc = NT_EFORBIDDEN;
    if (rc != NT_OK) {
        rc = drop(bus, msg, rc,
                  rc == NT_EFORBIDDEN   ? "not a member of this conversation"
                  : rc == NT_ENOTFOUND ? "conversation not found"
                                       : "internal error");
        goto out;
    }
    Natter__TypingEvent ev = NATTER__TYPING_EVENT__INIT;
    ev.conversation_id = c.id;
    ev.user_id = (char *)uid;
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = (char *)"typing";
    push.typing = &ev;
    msg_push_members(p, &c, uid, &push, uid, bus_header(msg, BUS_H_TRACE));
    conv_rec_fini(&c);
    const char *reply = natsMsg_GetReply(msg);
    if (reply && *reply) {
        Natter__Empty e = NATTER__EMPTY__INIT;
        bus_reply_pb(bus, msg, &e.base);
    }
out:
    conv_rec_fini(&c); /* the member list is heap memory; safe twice */
    natter__typing_req__free_unpacked(req, NULL);
    return rc;
}
