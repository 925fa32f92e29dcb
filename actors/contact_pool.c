/*
 * contact_pool.c - wiring of the contact endpoints and what their handlers
 * share: the field rules, the caller, transactions with retry, record ->
 * protobuf, and the contact push (contact_pool.h).
 */
#include "actors/contact_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TX_ATTEMPTS 3
#define LIST_MAX_DEFAULT 1000

static int fail(char *err, size_t n, const char *text)
{
    if (err && n)
        snprintf(err, n, "%s", text);
    return NT_EINVAL;
}

int contact_rule_message(const char *s, char *err, size_t n)
{
    if (!s)
        return NT_OK;
    if (utf8_chars(s) > CONTACT_MESSAGE_MAX)
        return fail(err, n, "message must be at most 200 characters");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f)
            return fail(err, n, "message must not contain control characters");
    return NT_OK;
}

int contact_rule_action(const char *s, int *accept, char *err, size_t n)
{
    if (s && strcmp(s, "accept") == 0)
        *accept = 1;
    else if (s && strcmp(s, "reject") == 0)
        *accept = 0;
    else
        return fail(err, n, "action must be accept or reject");
    return NT_OK;
}

const char *contact_caller(bus_t *bus, natsMsg *msg)
{
    const char *uid = bus_header(msg, BUS_H_UID);
    if (!uid || !*uid) {
        pool_fail(bus, msg, NT_EUNAUTH, "not logged in");
        return NULL;
    }
    return uid;
}

int contact_run(contact_pool_t *p, contact_tx_fn fn, void *arg)
{
    int rc = NT_EUNAVAIL;
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        MYSQL *db = NULL;
        if (attempt > 0) { /* let the other transaction finish: 5, then 10 ms */
            struct timespec ts = {0, 5000000L * attempt};
            nanosleep(&ts, NULL);
        }
        if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
            return NT_EUNAVAIL;
        rc = fn(db, arg);
        db_release(p->db, db, db_is_broken(rc));
        if (rc != NT_EUNAVAIL)
            break;
    }
    return rc;
}

void contact_req_pb(const contact_req_rec_t *r, Natter__ContactRequest *out)
{
    natter__contact_request__init(out);
    out->id = (char *)r->id;
    out->from_id = (char *)r->from_id;
    out->to_id = (char *)r->to_id;
    out->message = (char *)r->message;
    out->status = (char *)r->status;
    out->created_at = r->created_at;
}

void contact_push(contact_pool_t *p, natsMsg *msg, const char *to, const char *event,
                  const Natter__ContactRequest *req, const char *other)
{
    char subject[SUBJECT_MAX];
    Natter__ContactEvent ev = NATTER__CONTACT_EVENT__INIT;
    Natter__Push push = NATTER__PUSH__INIT;
    ev.event = (char *)event;
    ev.request = (Natter__ContactRequest *)req;
    ev.user_id = (char *)other;
    push.kind = "contact";
    push.contact = &ev;
    int rc = subject_user_push(subject, sizeof subject, to);
    if (rc == NT_OK)
        rc = bus_publish_pb(p->bus, subject, &push.base, bus_header(msg, BUS_H_UID),
                            bus_header(msg, BUS_H_TRACE));
    if (rc != NT_OK)
        log_warn("contact push failed", "to=%s event=%s err=\"%s\"", to, event, nt_strerror(rc));
}

int contact_pool_register(contact_pool_t *p, bus_t *bus, db_pool_t *db, const config_t *cfg,
                          micro_t *m, int workers)
{
    static const struct {
        const char *op;
        micro_handler_fn fn;
    } ops[] = {
        {"contact_apply", contact_apply_h},       {"contact_handle", contact_handle_h},
        {"contact_delete", contact_delete_h},     {"contact_requests", contact_requests_h},
        {"contact_list", contact_list_h},
    };
    long list_max;
    int rc = config_int(cfg, "contacts.list_max", LIST_MAX_DEFAULT, 1, CONTACT_LIST_MAX, &list_max);
    if (rc != NT_OK)
        return rc;
    p->bus = bus;
    p->db = db;
    p->db_wait_ms = 2000;
    p->list_max = (int)list_max;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char subject[SUBJECT_MAX];
        if ((rc = subject_svc(subject, sizeof subject, "auth", ops[i].op)) != NT_OK)
            return rc;
        if ((rc = micro_add_endpoint(m, ops[i].op, subject, workers, ops[i].fn, p)) != NT_OK)
            return rc;
    }
    return NT_OK;
}
