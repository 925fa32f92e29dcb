/*
 * msg_pool.c - wiring of the msg service and what its handlers share:
 * caller and cid checks, database hand-out, record -> protobuf, fan-out.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONV_PREFIX "im.conv."
#define FWD_PREFIX "im.svc.msg.fwd."

int msg_pool_register(msg_pool_t *p, micro_t *m, int workers)
{
    static const struct {
        const char *name;
        const char *op;     /* im.svc.msg.<op>, or NULL for a conversation verb */
        const char *verb;   /* im.conv.*.<verb> */
        micro_handler_fn fn;
    } eps[] = {
        {"conv_create", "conv_create", NULL, msg_conv_create},
        {"conv_list", "conv_list", NULL, msg_conv_list},
        {"conv_get", NULL, "get", msg_conv_get},
        {"send", NULL, "send", msg_send_h},
        {"sync", NULL, "sync", msg_sync_h},
        {"history", NULL, "history", msg_history_h},
        {"read", NULL, "read", msg_read_h},
        {"typing", NULL, "typing", msg_typing_h},
        {"group", NULL, "group", msg_group_h},
        {"revoke", "revoke", NULL, msg_revoke_h}, /* by message id: no cid in the request */
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        char subject[SUBJECT_MAX];
        int rc = NT_OK;
        if (eps[i].op)
            rc = subject_svc(subject, sizeof subject, "msg", eps[i].op);
        else /* subject_conv refuses '*' (rightly): this wildcard is ours, constant */
            snprintf(subject, sizeof subject, CONV_PREFIX "*.%s", eps[i].verb);
        if (rc != NT_OK)
            return rc;
        if ((rc = micro_add_endpoint(m, eps[i].name, subject, workers, eps[i].fn, p)) != NT_OK)
            return rc;
    }
    /* Pool to pool: edges may not publish im.svc.*.internal.> */
    int rc = micro_add_endpoint(m, "call_log", "im.svc.msg.internal.call_log", workers,
                                msg_call_log_h, p);
    if (rc != NT_OK)
        return rc;
    char subject[SUBJECT_MAX];
    snprintf(subject, sizeof subject, FWD_PREFIX "%s.*", micro_id(m));
    return micro_add_endpoint(m, "send_owned", subject, workers, msg_send_h, p);
}

int msg_subject_cid(const char *subject, const char **cid, size_t *len)
{
    const char *c = NULL;
    if (strncmp(subject, CONV_PREFIX, strlen(CONV_PREFIX)) == 0) {
        c = subject + strlen(CONV_PREFIX);
        const char *dot = strchr(c, '.');
        *len = dot ? (size_t)(dot - c) : 0;
    } else if (strncmp(subject, FWD_PREFIX, strlen(FWD_PREFIX)) == 0) {
        const char *dot = strchr(subject + strlen(FWD_PREFIX), '.');
        c = dot ? dot + 1 : "";
        *len = strchr(c, '.') ? 0 : strlen(c);
    }
    *cid = c;
    return c && *len > 0;
}

/* im.evt.conv_members.<cid>: drop that conversation's state. */
static void on_members_changed(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    msg_pool_t *p = arg;
    const char *cid = strrchr(natsMsg_GetSubject(msg), '.');
    int64_t id;
    if (!cid || db_parse_id(cid + 1, &id) != NT_OK || !p->sends)
        return;
    msg_state_invalidate(p->workers[msg_batch_worker_of(p->sends, cid + 1)].state, id);
}

int msg_pool_watch(msg_pool_t *p)
{
    char subject[SUBJECT_MAX];
    int rc = subject_evt_all(subject, sizeof subject, "conv_members");
    return rc == NT_OK ? bus_subscribe(p->bus, subject, NULL, on_members_changed, p) : rc;
}

void msg_members_changed(msg_pool_t *p, const char *cid)
{
    char subject[SUBJECT_MAX];
    natsMsg *m = NULL;
    int rc = subject_evt(subject, sizeof subject, "conv_members", cid);
    if (rc == NT_OK)
        rc = bus_msg_new(subject, NULL, NULL, NULL, NULL, 0, &m);
    if (rc == NT_OK)
        rc = bus_publish(p->bus, m);
    if (rc != NT_OK) /* the owner's fence still catches the change (msg_commit.c) */
        log_warn("member change event failed", "cid=%s err=\"%s\"", cid, nt_strerror(rc));
}

const char *msg_caller(bus_t *bus, natsMsg *msg)
{
    const char *uid = bus_header(msg, BUS_H_UID);
    if (!uid || !*uid) {
        pool_fail(bus, msg, NT_EUNAUTH, "not logged in");
        return NULL;
    }
    return uid;
}

int msg_check_cid(bus_t *bus, natsMsg *msg, const char *payload_cid)
{
    const char *cid;
    size_t n;
    if (!msg_subject_cid(natsMsg_GetSubject(msg), &cid, &n))
        n = 0;
    if (!payload_cid || n == 0 || strlen(payload_cid) != n || strncmp(cid, payload_cid, n) != 0)
        return pool_fail(bus, msg, NT_EINVAL, "conversation_id does not match the subject");
    return NT_OK;
}

int msg_conv_fail(bus_t *bus, natsMsg *msg, int err)
{
    return pool_fail(bus, msg, err,
                     err == NT_EFORBIDDEN   ? "not a member of this conversation"
                     : err == NT_ENOTFOUND ? "conversation not found"
                                           : "");
}

int msg_db_take(msg_pool_t *p, bus_t *bus, natsMsg *msg, MYSQL **db)
{
    if (db_acquire(p->db, p->db_wait_ms, db) != NT_OK)
        return pool_fail(bus, msg, NT_EUNAVAIL, "database unavailable");
    return NT_OK;
}

void msg_pb(const msg_rec_t *m, Natter__Message *out)
{
    natter__message__init(out);
    out->id = (char *)m->id;
    out->conversation_id = (char *)m->conversation_id;
    out->seq = m->seq;
    out->sender_id = (char *)m->sender_id;
    out->client_msg_id = (char *)m->client_msg_id;
    out->type = (char *)m->type;
    out->body = m->body ? m->body : (char *)"";
    out->created_at = m->created_at;
    out->revoked = m->revoked != 0;
    out->n_mentions = (size_t)m->n_mentions;
    out->mentions = m->mentions;
}

void conv_pb(const conv_rec_t *c, Natter__Conversation *out, Natter__Member *members,
             Natter__Member **mptrs, Natter__Message *last)
{
    natter__conversation__init(out);
    out->id = (char *)c->id;
    out->type = (char *)c->type;
    out->name = (char *)c->name;
    out->owner_id = (char *)c->owner_id;
    out->last_seq = c->last_seq;
    out->created_at = c->created_at;
    for (int i = 0; i < c->n_members; i++) {
        natter__member__init(&members[i]);
        members[i].user_id = (char *)c->members[i].user_id;
        members[i].role = (char *)c->members[i].role;
        mptrs[i] = &members[i];
    }
    out->n_members = (size_t)c->n_members;
    out->member_count = c->n_members;
    out->members = mptrs;
    out->unread = c->last_seq > c->read_seq ? c->last_seq - c->read_seq : 0;
    out->mentions = c->mentions;
    if (c->has_last && last) {
        msg_pb(&c->last, last);
        out->last_message = last;
    }
}

void msg_push_members(msg_pool_t *p, const conv_rec_t *c, const char *skip_uid,
                      const Natter__Push *push, const char *uid, const char *trace)
{
    /* Packed once: a group of thousands costs one encoding, then a
     * buffered publish per member. */
    size_t len = protobuf_c_message_get_packed_size(&push->base);
    uint8_t *buf = len <= BUS_PB_MAX ? malloc(len ? len : 1) : NULL;
    if (!buf) {
        log_warn("push failed", "cid=%s kind=%s err=\"%s\"", c->id, push->kind,
                 nt_strerror(len > BUS_PB_MAX ? NT_ETOOLARGE : NT_ENOMEM));
        return;
    }
    protobuf_c_message_pack(&push->base, buf);
    for (int i = 0; i < c->n_members; i++) {
        const char *to = c->members[i].user_id;
        if (!skip_uid || strcmp(to, skip_uid) != 0)
            msg_push_packed(p, c->id, to, push->kind, buf, len, uid, trace);
    }
    free(buf);
}

void msg_push_packed(msg_pool_t *p, const char *cid, const char *to, const char *kind,
                     const uint8_t *buf, size_t len, const char *uid, const char *trace)
{
    char subject[SUBJECT_MAX];
    natsMsg *m = NULL;
    int rc = subject_user_push(subject, sizeof subject, to);
    if (rc == NT_OK)
        rc = bus_msg_new(subject, natter__push__descriptor.name, uid, trace, buf, (int)len, &m);
    if (rc == NT_OK)
        rc = bus_publish(p->bus, m);
    if (rc != NT_OK)
        log_warn("push failed", "cid=%s to=%s kind=%s err=\"%s\"", cid, to, kind,
                 nt_strerror(rc));
}
