/*
 * msg_send.c - the conversation actor's verbs on messages: send, sync,
 * history, read (API.md "Messages", DESIGN.md "Messages: the invariants").
 *
 * send answers only after msg_send committed, then fans out: the reply to
 * the sender and the pushes to members both describe a durable message.
 * A retried client_msg_id gets the original (duplicate = true) and its push
 * again: delivery is at-least-once and clients dedup by seq, so a push lost
 * with a crashed process is repaired by the client's retry.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 50

/* Type, body and client_msg_id rules; NT_OK or NT_EINVAL with err set. */
static int send_rules(const msg_pool_t *p, const Natter__SendReq *req, char *err, size_t n)
{
    /* The subject token alphabet is exactly the client_msg_id one. */
    if (!subject_token_ok(req->client_msg_id)) {
        snprintf(err, n, "client_msg_id must be 1-%d characters of [A-Za-z0-9_-]",
                 MSG_CLIENT_ID_MAX);
        return NT_EINVAL;
    }
    if (strcmp(req->type, "text") != 0) {
        snprintf(err, n, "%s", strcmp(req->type, "image") == 0 || strcmp(req->type, "file") == 0
                                   ? "only text messages are supported yet"
                                   : "type must be text");
        return NT_EINVAL;
    }
    size_t chars = utf8_chars(req->body);
    if (chars == 0 || chars > (size_t)p->text_max) {
        snprintf(err, n, "body must be 1-%ld characters", p->text_max);
        return NT_EINVAL;
    }
    return NT_OK;
}

/* The members to push to.  The write is done and answered whatever
 * happens here: a failure only costs the pushes (clients catch up with
 * sync), so it is logged, not returned to the caller. */
static int members_of(MYSQL *db, const char *cid, conv_rec_t *c)
{
    int rc = conv_get(db, cid, c);
    if (rc != NT_OK) {
        log_warn("no members to push to", "cid=%s err=\"%s\"", cid, nt_strerror(rc));
        c->n_members = 0;
    }
    return rc;
}

/* After commit: reply to the sender, push to every member. */
static int send_done(msg_pool_t *p, bus_t *bus, natsMsg *msg, const msg_rec_t *m, int dup,
                     const conv_rec_t *c, const char *uid)
{
    Natter__Message pb;
    msg_pb(m, &pb);
    Natter__SendReply rep = NATTER__SEND_REPLY__INIT;
    rep.message = &pb;
    rep.duplicate = dup != 0;
    int rc = bus_reply_pb(bus, msg, &rep.base);
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "message";
    push.message = &pb;
    msg_push_members(p, c, NULL, &push, uid, bus_header(msg, BUS_H_TRACE));
    return rc;
}

int msg_send_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__SendReq *req = pool_unpack(bus, msg, &natter__send_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    char err[128];
    MYSQL *db = NULL;
    msg_rec_t m = {0};
    conv_rec_t c = {0};
    int rc, dup = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto out;
    if ((rc = send_rules(p, req, err, sizeof err)) != NT_OK) {
        rc = pool_fail(bus, msg, rc, err);
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = msg_send(db, req->conversation_id, uid, req->client_msg_id, req->type, req->body, &m,
                  &dup);
    int mrc = rc == NT_OK ? members_of(db, req->conversation_id, &c) : NT_OK;
    db_release(p->db, db, db_is_broken(rc) || db_is_broken(mrc));
    if (rc != NT_OK) {
        rc = msg_conv_fail(bus, msg, rc);
        goto out;
    }
    rc = send_done(p, bus, msg, &m, dup, &c, uid);
    log_debug("message", "cid=%s seq=%lld uid=%s duplicate=%s", m.conversation_id,
              (long long)m.seq, uid, dup ? "yes" : "no");
out:
    msg_rec_fini(&m);
    conv_rec_fini(&c);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* Reply with MessagePage of n records. */
static int reply_page(bus_t *bus, natsMsg *msg, const msg_rec_t *v, int n, int has_more)
{
    Natter__Message *pbs = calloc((size_t)n + 1, sizeof *pbs);
    Natter__Message **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    int rc;
    if (!pbs || !ptrs) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        msg_pb(&v[i], &pbs[i]);
        ptrs[i] = &pbs[i];
    }
    Natter__MessagePage page = NATTER__MESSAGE_PAGE__INIT;
    page.n_messages = (size_t)n;
    page.messages = ptrs;
    page.has_more = has_more != 0;
    rc = bus_reply_pb(bus, msg, &page.base);
out:
    free(pbs);
    free(ptrs);
    return rc;
}

/* sync (oldest first after after_seq) and history (newest first before
 * before_seq) differ only in direction. */
static int page_h(bus_t *bus, natsMsg *msg, void *arg, int newest_first)
{
    msg_pool_t *p = arg;
    Natter__PageReq *req = pool_unpack(bus, msg, &natter__page_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    msg_rec_t *v = NULL;
    MYSQL *db = NULL;
    int rc, n = 0, more = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto out;
    if (req->limit < 0 || req->limit > MSG_PAGE_MAX || req->after_seq < 0 || req->before_seq < 0) {
        rc = pool_fail(bus, msg, NT_EINVAL, "limit must be 1-100 and seqs >= 0");
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = conv_access(db, req->conversation_id, uid);
    if (rc == NT_OK)
        rc = msg_page(db, req->conversation_id, req->after_seq, req->before_seq,
                      req->limit ? req->limit : PAGE_DEFAULT, newest_first, &v, &n, &more);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = msg_conv_fail(bus, msg, rc);
        goto out;
    }
    rc = reply_page(bus, msg, v, n, more);
out:
    msg_recs_free(v, n);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int msg_sync_h(bus_t *bus, natsMsg *msg, void *arg)
{
    return page_h(bus, msg, arg, 0);
}

int msg_history_h(bus_t *bus, natsMsg *msg, void *arg)
{
    return page_h(bus, msg, arg, 1);
}

int msg_read_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__ReadReq *req = pool_unpack(bus, msg, &natter__read_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    MYSQL *db = NULL;
    conv_rec_t c = {0};
    int64_t pos = 0;
    int rc, moved = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto out;
    if (req->seq < 0) {
        rc = pool_fail(bus, msg, NT_EINVAL, "seq must be >= 0");
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = msg_read(db, req->conversation_id, uid, req->seq, &pos, &moved);
    int mrc = rc == NT_OK && moved ? members_of(db, req->conversation_id, &c) : NT_OK;
    db_release(p->db, db, db_is_broken(rc) || db_is_broken(mrc));
    if (rc != NT_OK) {
        rc = msg_conv_fail(bus, msg, rc);
        goto out;
    }
    Natter__Empty empty = NATTER__EMPTY__INIT;
    rc = bus_reply_pb(bus, msg, &empty.base);
    if (moved) {
        Natter__ReadReceipt rr = NATTER__READ_RECEIPT__INIT;
        rr.conversation_id = req->conversation_id;
        rr.user_id = (char *)uid;
        rr.seq = pos;
        Natter__Push push = NATTER__PUSH__INIT;
        push.kind = "read";
        push.read = &rr;
        msg_push_members(p, &c, uid, &push, uid, bus_header(msg, BUS_H_TRACE));
    }
out:
    conv_rec_fini(&c);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
