/*
 * msg_conv.c - conversations: create a direct one, list the caller's, get
 * one (API.md "Conversations").  A group create is handed to
 * msg_group.c.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
/* Members per conversation in a list: 100 groups of 2000 would not fit
 * one NATS message (docs/groups.md). */
#define CONV_LIST_MEMBERS 100

/* Reply with ConvReply {c, created}. */
static int reply_conv(bus_t *bus, natsMsg *msg, const conv_rec_t *c, int created)
{
    Natter__Member *members = calloc((size_t)c->n_members + 1, sizeof *members);
    Natter__Member **mptrs = calloc((size_t)c->n_members + 1, sizeof *mptrs);
    int rc;
    if (!members || !mptrs) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    Natter__Conversation pb;
    conv_pb(c, &pb, members, mptrs, NULL);
    pb.unread = 0; /* only list views carry the caller's unread count */
    Natter__ConvReply rep = NATTER__CONV_REPLY__INIT;
    rep.conversation = &pb;
    rep.created = created != 0;
    rc = bus_reply_pb(bus, msg, &rep.base);
out:
    free(members);
    free(mptrs);
    return rc;
}

int msg_conv_create(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__ConvCreateReq *req = pool_unpack(bus, msg, &natter__conv_create_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    MYSQL *db = NULL;
    conv_rec_t c;
    int rc, created = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if (strcmp(req->type, "group") == 0) {
        rc = msg_group_create(p, bus, msg, req, uid); /* msg_group.c */
        goto out;
    }
    if (strcmp(req->type, "direct") != 0) {
        rc = pool_fail(bus, msg, NT_EINVAL, "type must be direct or group");
        goto out;
    }
    if (!req->peer_id[0]) {
        rc = pool_fail(bus, msg, NT_EINVAL, "peer_id is required");
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = conv_create_direct(db, uid, req->peer_id, &c, &created);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = pool_fail(bus, msg, rc,
                       rc == NT_EINVAL ? "cannot start a conversation with yourself"
                       : rc == NT_ENOTFOUND ? "peer not found" : "");
        goto out;
    }
    rc = reply_conv(bus, msg, &c, created);
    if (created)
        log_info("conversation created", "cid=%s type=direct uid=%s peer=%s", c.id, uid,
                 req->peer_id);
    conv_rec_fini(&c);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int msg_conv_get(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__ConvGetReq *req = pool_unpack(bus, msg, &natter__conv_get_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    MYSQL *db = NULL;
    conv_rec_t c;
    int rc;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK ||
        (rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = conv_access(db, req->conversation_id, uid);
    if (rc == NT_OK)
        rc = conv_get(db, req->conversation_id, &c);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = msg_conv_fail(bus, msg, rc);
        goto out;
    }
    rc = reply_conv(bus, msg, &c, 0);
    conv_rec_fini(&c);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* Build ConvList from n records and reply. */
static int reply_list(bus_t *bus, natsMsg *msg, const conv_rec_t *v, int n)
{
    Natter__Conversation *pbs = calloc((size_t)n + 1, sizeof *pbs);
    Natter__Conversation **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total += (size_t)v[i].n_members;
    Natter__Member *members = calloc(total, sizeof *members);
    Natter__Member **mptrs = calloc(total, sizeof *mptrs);
    Natter__Message *lasts = calloc((size_t)n + 1, sizeof *lasts);
    int rc;
    if (!pbs || !ptrs || !members || !mptrs || !lasts) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    for (int i = 0, at = 0; i < n; at += v[i].n_members, i++) {
        conv_pb(&v[i], &pbs[i], &members[at], &mptrs[at], &lasts[i]);
        if (pbs[i].n_members > CONV_LIST_MEMBERS)
            pbs[i].n_members = CONV_LIST_MEMBERS; /* member_count tells; GET has them all */
        ptrs[i] = &pbs[i];
    }
    Natter__ConvList list = NATTER__CONV_LIST__INIT;
    list.n_conversations = (size_t)n;
    list.conversations = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(pbs);
    free(ptrs);
    free(members);
    free(mptrs);
    free(lasts);
    return rc;
}

int msg_conv_list(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__ConvListReq *req = pool_unpack(bus, msg, &natter__conv_list_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    int limit = req->limit > 0 && req->limit <= CONV_LIST_MAX ? req->limit : LIST_DEFAULT;
    conv_rec_t *v = NULL;
    MYSQL *db = NULL;
    int rc, n = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = conv_list(db, uid, limit, &v, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = pool_fail(bus, msg, rc, "");
        goto out;
    }
    rc = reply_list(bus, msg, v, n);
out:
    conv_recs_free(v, n);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
