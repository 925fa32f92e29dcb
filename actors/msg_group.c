/*
 * msg_group.c - group conversations (docs/groups.md): create, and the
 * conversation verb im.conv.<cid>.group (rename, add, remove/leave,
 * owner transfer, roles).
 *
 * The handler checks what needs no database (shapes, sizes against
 * msg.group_max, duplicates), the store applies the permission rules
 * under the conversation's row lock and records the change as a `system`
 * message.  After COMMIT: the system message is pushed like any message
 * to the members afterwards, and a Push {kind:"member"} goes to everyone
 * it concerns (a removed member gets it; they get nothing after); then
 * the request is answered (pushes first, as for sends: design.md).
 * A change that meets a deadlock or a lock wait timeout is run again, up to
 * GROUP_ATTEMPTS times in all, like a send batch (msg_send.c).
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "common/log.h"
#include "store/group_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROUP_ATTEMPTS 3 /* tries of one change; as many as a send batch gets */

/* 1 if a group transaction that failed with rc should run again (after
 * sleeping 5 ms, then 10 ms, as a send batch does): a deadlock or a lock
 * wait timeout rolled it back whole, so running it again cannot apply it
 * twice.  Not a lost connection: its COMMIT may have landed, and a group
 * change has no key to find it by.  Call on the thread that made the
 * database call (db_last_was_lock_conflict is per thread). */
static int retry_lock_conflict(int rc, int attempt, const char *op, const char *cid)
{
    if (rc != NT_EUNAVAIL || !db_last_was_lock_conflict() || attempt >= GROUP_ATTEMPTS)
        return 0;
    log_warn("group change retry", "op=%s cid=%s attempt=%d", op, cid, attempt + 1);
    struct timespec ts = {0, (long)attempt * 5000000L};
    nanosleep(&ts, NULL);
    return 1;
}

/* 1 if s is a canonical decimal id. */
static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Check ids[0..n) and put the distinct ones other than skip, sorted, into
 * out (room for n); NT_EINVAL with err on a malformed id.  Sorting keeps
 * this O(n log n) for the thousands of ids a client may send. */
static int distinct_ids(char **ids, size_t n, const char *skip, const char **out, int *nout,
                        char *err, size_t errlen)
{
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        if (!id_ok(ids[i])) {
            snprintf(err, errlen, "user ids must be user ids");
            return NT_EINVAL;
        }
        out[i] = ids[i];
    }
    qsort(out, n, sizeof *out, by_str);
    for (size_t i = 0; i < n; i++) {
        int dup = *nout > 0 && strcmp(out[*nout - 1], out[i]) == 0;
        if (dup || (skip && strcmp(out[i], skip) == 0))
            continue;
        out[(*nout)++] = out[i];
    }
    return NT_OK;
}

static int name_ok(const char *name, char *err, size_t errlen)
{
    size_t chars = name ? utf8_chars(name) : 0;
    if (chars == 0 || chars > CONV_NAME_MAX) {
        snprintf(err, errlen, "name must be 1-%d characters", CONV_NAME_MAX);
        return NT_EINVAL;
    }
    return NT_OK;
}

/* Reply ConvReply {c, created} (c's member list can be large: heap). */
static int reply_group(bus_t *bus, natsMsg *msg, const conv_rec_t *c, int created)
{
    Natter__Member *members = calloc((size_t)c->n_members + 1, sizeof *members);
    Natter__Member **mptrs = calloc((size_t)c->n_members + 1, sizeof *mptrs);
    int rc;
    if (!members || !mptrs) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
    } else {
        Natter__Conversation pb;
        conv_pb(c, &pb, members, mptrs, NULL);
        pb.unread = 0;
        Natter__ConvReply rep = NATTER__CONV_REPLY__INIT;
        rep.conversation = &pb;
        rep.created = created != 0;
        rc = bus_reply_pb(bus, msg, &rep.base);
    }
    free(members);
    free(mptrs);
    return rc;
}

/* Push the system message to c's members, then the member event ev to
 * every member of to. */
static void fan_out(msg_pool_t *p, natsMsg *msg, const char *uid, const conv_rec_t *c,
                    const msg_rec_t *sys, const conv_rec_t *to, Natter__MemberEvent *ev)
{
    const char *trace = bus_header(msg, BUS_H_TRACE);
    Natter__Message pb;
    msg_pb(sys, &pb);
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "message";
    push.message = &pb;
    msg_push_members(p, c, NULL, &push, uid, trace);
    Natter__Push mp = NATTER__PUSH__INIT;
    mp.kind = "member";
    mp.member = ev;
    msg_push_members(p, to, NULL, &mp, uid, trace);
}

int msg_group_create(msg_pool_t *p, bus_t *bus, natsMsg *msg, const Natter__ConvCreateReq *req,
                     const char *uid)
{
    char err[160], bad[MSG_ID_MAX] = "";
    const char **ids = NULL;
    int n = 0, rc;
    MYSQL *db = NULL;
    conv_rec_t c;
    msg_rec_t sys;
    if (name_ok(req->name, err, sizeof err) != NT_OK)
        return pool_fail(bus, msg, NT_EINVAL, err);
    if (req->n_member_ids + 1 > (size_t)p->group_max * 2) /* bound the dedupe work first */
        goto too_big;
    if (!(ids = calloc(req->n_member_ids + 1, sizeof *ids)))
        return pool_fail(bus, msg, NT_ENOMEM, "");
    if (distinct_ids(req->member_ids, req->n_member_ids, uid, ids, &n, err, sizeof err) != NT_OK) {
        rc = pool_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    if (n == 0) { /* like WhatsApp and Telegram: a group starts with someone else */
        rc = pool_fail(bus, msg, NT_EINVAL, "member_ids must name at least one other user");
        goto out;
    }
    if (1 + n > p->group_max)
        goto too_big;
    for (int attempt = 1;; attempt++) {
        if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
            goto out;
        rc = group_create(db, uid, req->name, ids, n, p->group_max, &c, &sys, bad);
        db_release(p->db, db, db_is_broken(rc));
        if (!retry_lock_conflict(rc, attempt, "create", "-"))
            break;
    }
    if (rc != NT_OK) {
        snprintf(err, sizeof err, "user %s not found", bad);
        rc = pool_fail(bus, msg, rc, rc == NT_ENOTFOUND ? err : "");
        goto out;
    }
    /* Each member learns they were added (one push each), then everyone
     * gets the "created" system message. */
    Natter__MemberEvent ev = NATTER__MEMBER_EVENT__INIT;
    ev.conversation_id = c.id;
    ev.event = "added";
    ev.actor_id = (char *)uid;
    ev.seq = sys.seq;
    Natter__Push mp = NATTER__PUSH__INIT;
    mp.kind = "member";
    mp.member = &ev;
    for (int i = 0; i < c.n_members; i++) {
        conv_rec_t one = {.members = &c.members[i], .n_members = 1}; /* borrows, no fini */
        snprintf(one.id, sizeof one.id, "%s", c.id);
        ev.user_id = c.members[i].user_id;
        msg_push_members(p, &one, NULL, &mp, uid, bus_header(msg, BUS_H_TRACE));
    }
    Natter__Message pb;
    msg_pb(&sys, &pb);
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "message";
    push.message = &pb;
    msg_push_members(p, &c, NULL, &push, uid, bus_header(msg, BUS_H_TRACE));
    rc = reply_group(bus, msg, &c, 1); /* after the pushes, as for sends (design.md) */
    log_info("conversation created", "cid=%s type=group uid=%s members=%d", c.id, uid,
             c.n_members);
    msg_rec_fini(&sys);
    conv_rec_fini(&c);
out:
    free(ids);
    return rc;
too_big:
    snprintf(err, sizeof err, "a group has at most %d members", p->group_max);
    rc = pool_fail(bus, msg, NT_EINVAL, err);
    goto out;
}

/* Op-specific shape checks of req into ch; NT_EINVAL with err. */
static int change_of(msg_pool_t *p, const Natter__GroupReq *req, const char *uid,
                     group_change_t *ch, const char **ids, char *err, size_t errlen)
{
    const char *op = req->op;
    memset(ch, 0, sizeof *ch);
    ch->op = op;
    ch->actor = uid;
    ch->max = p->group_max;
    if (strcmp(op, "rename") == 0) {
        ch->name = req->name;
        return name_ok(req->name, err, errlen);
    }
    if (strcmp(op, "add") == 0) {
        if (req->n_user_ids == 0 || req->n_user_ids > (size_t)p->group_max) {
            snprintf(err, errlen, "user_ids must hold 1-%d ids", p->group_max);
            return NT_EINVAL;
        }
        ch->ids = ids;
        return distinct_ids(req->user_ids, req->n_user_ids, NULL, ids, &ch->n, err, errlen);
    }
    ch->user_id = req->user_id;
    if (strcmp(op, "remove") != 0 && strcmp(op, "owner") != 0 && strcmp(op, "role") != 0) {
        snprintf(err, errlen, "op must be rename, add, remove, owner or role");
        return NT_EINVAL;
    }
    if (!id_ok(req->user_id)) {
        snprintf(err, errlen, "user_id must be a user id");
        return NT_EINVAL;
    }
    if (strcmp(op, "role") == 0) {
        ch->role = req->role;
        if (strcmp(req->role, "admin") != 0 && strcmp(req->role, "member") != 0) {
            snprintf(err, errlen, "role must be admin or member");
            return NT_EINVAL;
        }
    }
    return NT_OK;
}

int msg_group_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__GroupReq *req = pool_unpack(bus, msg, &natter__group_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    const char **ids = calloc(req->n_user_ids + 1, sizeof *ids);
    MYSQL *db = NULL;
    group_change_t ch;
    group_result_t r;
    char err[160] = "";
    int rc;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if (!ids) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto out;
    if (change_of(p, req, uid, &ch, ids, err, sizeof err) != NT_OK) {
        rc = pool_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    for (int attempt = 1;; attempt++) {
        if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
            goto out;
        rc = group_apply(db, req->conversation_id, &ch, &r, err, sizeof err);
        db_release(p->db, db, db_is_broken(rc));
        if (!retry_lock_conflict(rc, attempt, ch.op, req->conversation_id))
            break;
    }
    if (rc != NT_OK) {
        rc = err[0] ? pool_fail(bus, msg, rc, err) : msg_conv_fail(bus, msg, rc);
        goto out;
    }
    if (r.sys.seq > 0) {
        Natter__MemberEvent ev = NATTER__MEMBER_EVENT__INIT;
        ev.conversation_id = r.after.id;
        ev.event = r.event;
        ev.user_id = r.n_added > 0 ? r.added[0] : r.subject;
        ev.actor_id = (char *)uid;
        ev.role = r.role;
        ev.seq = r.sys.seq;
        ev.n_user_ids = (size_t)r.n_added;
        ev.user_ids = r.added;
        /* a removed member hears of it from the list as it was */
        const conv_rec_t *to = strcmp(r.event, "removed") == 0 ? &r.before : &r.after;
        msg_members_changed(p, r.after.id); /* owners drop their member lists */
        fan_out(p, msg, uid, &r.after, &r.sys, to, &ev);
        log_info("group changed", "cid=%s op=%s uid=%s user=%s seq=%lld", r.after.id, ch.op,
                 uid, ev.user_id, (long long)r.sys.seq);
    }
    rc = reply_group(bus, msg, &r.after, 0); /* after the pushes, as for sends */
    group_result_fini(&r);
out:
    free(ids);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
