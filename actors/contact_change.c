/*
 * contact_change.c - the three contact state changes: apply, handle
 * (accept / reject) and delete (contact_pool.h, docs/contacts.md).
 *
 * Each is one store transaction (store/contact_store.c decides what the
 * pair's state allows); only after COMMIT does the handler push a `contact`
 * event to both users and then answer.  A call that changes nothing (a
 * second apply finding its own pending request, a retried accept) pushes
 * nothing: events mean something happened.
 */
#include "actors/contact_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

/* The request's trace id, for the one log line per change. */
static const char *trace_of(natsMsg *msg, char *buf, size_t n)
{
    bus_trace_id(bus_header(msg, BUS_H_TRACE), buf, n);
    return buf;
}

/* ---- apply ---------------------------------------------------------------- */

typedef struct apply_tx {
    const char *from, *to, *message;
    contact_req_rec_t out;
    int outcome;
} apply_tx_t;

static int apply_tx(MYSQL *db, void *arg)
{
    apply_tx_t *a = arg;
    return contact_apply(db, a->from, a->to, a->message, &a->out, &a->outcome);
}

static const char *apply_error(int rc)
{
    switch (rc) {
    case NT_EINVAL: return "cannot send a contact request to yourself";
    case NT_ENOTFOUND: return "user not found";
    case NT_ECONFLICT: return "already contacts";
    case NT_EUNAUTH: return "not logged in";
    case NT_EUNAVAIL: return "database unavailable, try again";
    default: return "";
    }
}

/* Push event about request r to both of its users. */
static void push_pair(contact_pool_t *p, natsMsg *msg, const char *event,
                      const contact_req_rec_t *r)
{
    Natter__ContactRequest pb;
    contact_req_pb(r, &pb);
    contact_push(p, msg, r->to_id, event, &pb, r->from_id);
    contact_push(p, msg, r->from_id, event, &pb, r->to_id);
}

static int reply_request(bus_t *bus, natsMsg *msg, const contact_req_rec_t *r, int created)
{
    Natter__ContactRequest pb;
    Natter__ContactRequestReply rep = NATTER__CONTACT_REQUEST_REPLY__INIT;
    contact_req_pb(r, &pb);
    rep.request = &pb;
    rep.created = created != 0;
    return bus_reply_pb(bus, msg, &rep.base);
}

int contact_apply_h(bus_t *bus, natsMsg *msg, void *arg)
{
    contact_pool_t *p = arg;
    Natter__ContactApplyReq *req = pool_unpack(bus, msg, &natter__contact_apply_req__descriptor);
    if (!req)
        return NT_EINVAL;
    apply_tx_t a = {.to = req->user_id, .message = req->message};
    char err[128], trace[40];
    int rc;
    if (!(a.from = contact_caller(bus, msg))) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if (contact_rule_message(req->message, err, sizeof err) != NT_OK) {
        rc = pool_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    if ((rc = contact_run(p, apply_tx, &a)) != NT_OK) {
        rc = pool_fail(bus, msg, rc, apply_error(rc));
        goto out;
    }
    if (a.outcome == CONTACT_APPLY_CREATE)
        push_pair(p, msg, "request", &a.out);
    else if (a.outcome == CONTACT_APPLY_ACCEPT)
        push_pair(p, msg, "accepted", &a.out);
    log_info("contact apply", "from=%s to=%s request=%s outcome=%s trace=%s", a.from, a.to,
             a.out.id,
             a.outcome == CONTACT_APPLY_CREATE   ? "created"
             : a.outcome == CONTACT_APPLY_ACCEPT ? "accepted"
                                                 : "existing",
             trace_of(msg, trace, sizeof trace));
    rc = reply_request(bus, msg, &a.out, a.outcome == CONTACT_APPLY_CREATE);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* ---- handle --------------------------------------------------------------- */

typedef struct handle_tx {
    const char *uid, *rid;
    int accept, changed;
    contact_req_rec_t out;
} handle_tx_t;

static int handle_tx(MYSQL *db, void *arg)
{
    handle_tx_t *h = arg;
    memset(&h->out, 0, sizeof h->out);
    return contact_handle(db, h->uid, h->rid, h->accept, &h->out, &h->changed);
}

int contact_handle_h(bus_t *bus, natsMsg *msg, void *arg)
{
    contact_pool_t *p = arg;
    Natter__ContactHandleReq *req =
        pool_unpack(bus, msg, &natter__contact_handle_req__descriptor);
    if (!req)
        return NT_EINVAL;
    handle_tx_t h = {.rid = req->request_id};
    char err[128], trace[40];
    int rc;
    if (!(h.uid = contact_caller(bus, msg))) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if (contact_rule_action(req->action, &h.accept, err, sizeof err) != NT_OK) {
        rc = pool_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    if ((rc = contact_run(p, handle_tx, &h)) != NT_OK) {
        if (rc == NT_ENOTFOUND)
            snprintf(err, sizeof err, "contact request not found");
        else if (rc == NT_EFORBIDDEN)
            snprintf(err, sizeof err, "only the user it was sent to may handle this request");
        else if (rc == NT_ECONFLICT)
            snprintf(err, sizeof err, "request is already %s", h.out.status);
        else
            snprintf(err, sizeof err, "%s", rc == NT_EUNAVAIL ? "database unavailable, try again"
                                                             : "");
        rc = pool_fail(bus, msg, rc, err);
        goto out;
    }
    if (h.changed)
        push_pair(p, msg, h.accept ? "accepted" : "rejected", &h.out);
    log_info("contact handle", "uid=%s request=%s action=%s changed=%s trace=%s", h.uid,
             h.out.id, h.accept ? "accept" : "reject", h.changed ? "yes" : "no",
             trace_of(msg, trace, sizeof trace));
    rc = reply_request(bus, msg, &h.out, 0);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* ---- delete --------------------------------------------------------------- */

typedef struct delete_tx {
    const char *uid, *other;
} delete_tx_t;

static int delete_tx(MYSQL *db, void *arg)
{
    delete_tx_t *d = arg;
    return contact_remove(db, d->uid, d->other);
}

int contact_delete_h(bus_t *bus, natsMsg *msg, void *arg)
{
    contact_pool_t *p = arg;
    Natter__ContactDeleteReq *req =
        pool_unpack(bus, msg, &natter__contact_delete_req__descriptor);
    if (!req)
        return NT_EINVAL;
    delete_tx_t d = {.other = req->user_id};
    char trace[40];
    int rc;
    if (!(d.uid = contact_caller(bus, msg))) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = contact_run(p, delete_tx, &d)) != NT_OK) {
        rc = pool_fail(bus, msg, rc, rc == NT_ENOTFOUND   ? "not a contact"
                                     : rc == NT_EUNAVAIL ? "database unavailable, try again"
                                                         : "");
        goto out;
    }
    contact_push(p, msg, d.other, "removed", NULL, d.uid);
    contact_push(p, msg, d.uid, "removed", NULL, d.other);
    log_info("contact removed", "uid=%s other=%s trace=%s", d.uid, d.other,
             trace_of(msg, trace, sizeof trace));
    Natter__Empty empty = NATTER__EMPTY__INIT;
    rc = bus_reply_pb(bus, msg, &empty.base);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
