/*
 * contact_pool.h - contacts: requests between users, accepting and
 * rejecting them, the contact list, removing a contact (API.md "Users and
 * contacts", docs/contacts.md).
 *
 * Served by the `natter auth` process (DESIGN.md puts contacts in the auth
 * pool): cmd/role_auth.c adds these endpoints to its "auth" micro service,
 * so they answer on im.svc.auth.contact_<op> in queue group "auth" under
 * the auth NATS user, which may already publish pushes.  The module keeps
 * its own state and files, so it could move to a role of its own by
 * registering it on another service.
 *
 * Ops (request -> reply, natter.* protobuf; Natter-Uid is the caller):
 *   contact_apply     ContactApplyReq  -> ContactRequestReply
 *   contact_handle    ContactHandleReq -> ContactRequestReply
 *   contact_delete    ContactDeleteReq -> Empty
 *   contact_requests  Empty            -> ContactRequestList
 *   contact_list      Empty            -> ContactList
 *
 * Every state change publishes natter.Push {kind:"contact"} on
 * im.user.<uid>.push of both users of the pair after COMMIT, each with
 * user_id = the other party, so every live session of either user, on any
 * edge, hears of it at once.  Delivery is best effort (a failed publish is
 * logged); the lists are the truth a client reloads.
 *
 * Handlers run on bus delivery threads and take a database connection for
 * one transaction.  State changes that hit a deadlock, a lock wait timeout
 * or a lost connection are retried on a fresh connection, three attempts
 * in all, then answer 503 unavailable.
 */
#ifndef NT_CONTACT_POOL_H
#define NT_CONTACT_POOL_H

#include "bus/bus.h"
#include "bus/micro.h"
#include "common/config.h"
#include "proto/natter.pb-c.h"
#include "store/contact_store.h"
#include "store/db.h"

#include <stddef.h>

/* Read-only after contact_pool_register; shared by all handler threads. */
typedef struct contact_pool {
    bus_t *bus;
    db_pool_t *db;
    int db_wait_ms;     /* how long a request waits for a connection */
    int list_max;       /* contacts.list_max: rows one list returns */
} contact_pool_t;

/* Set p up (bus and db are the caller's and must outlive the service),
 * read [contacts] from cfg, and add the endpoints to m, `workers`
 * subscriptions each.  m is the auth service (queue group "auth"). */
int contact_pool_register(contact_pool_t *p, bus_t *bus, db_pool_t *db, const config_t *cfg,
                          micro_t *m, int workers);

/* Handlers (contact_change.c, contact_list.c). */
int contact_apply_h(bus_t *bus, natsMsg *msg, void *arg);
int contact_handle_h(bus_t *bus, natsMsg *msg, void *arg);
int contact_delete_h(bus_t *bus, natsMsg *msg, void *arg);
int contact_requests_h(bus_t *bus, natsMsg *msg, void *arg);
int contact_list_h(bus_t *bus, natsMsg *msg, void *arg);

/* ---- rules (pure, contact_pool.c) ---- */

/* A request's message: at most CONTACT_MESSAGE_MAX characters, no control
 * characters but newline and tab.  NULL is "".  0 or NT_EINVAL + err. */
int contact_rule_message(const char *s, char *err, size_t n);

/* "accept" -> *accept 1, "reject" -> 0; else NT_EINVAL + err. */
int contact_rule_action(const char *s, int *accept, char *err, size_t n);

/* ---- shared by the handlers (contact_pool.c) ---- */

/* The caller's uid, or answer unauthorized and return NULL. */
const char *contact_caller(bus_t *bus, natsMsg *msg);

/* Run one store transaction fn(db, arg) with a pooled connection, retrying
 * NT_EUNAVAIL (deadlock, lock timeout, lost connection) on a fresh one, up
 * to three attempts.  Returns fn's result, or NT_EUNAVAIL when no
 * connection came free.  Answers nothing. */
typedef int (*contact_tx_fn)(MYSQL *db, void *arg);
int contact_run(contact_pool_t *p, contact_tx_fn fn, void *arg);

/* Point out's fields at r's (no copies: r must outlive out). */
void contact_req_pb(const contact_req_rec_t *r, Natter__ContactRequest *out);

/* Publish Push {kind:"contact", contact:{event, request, user_id: other}}
 * on im.user.<to>.push.  req may be NULL (removed).  msg is the request
 * being served (for Natter-Uid and the trace).  Failures are logged. */
void contact_push(contact_pool_t *p, natsMsg *msg, const char *to, const char *event,
                  const Natter__ContactRequest *req, const char *other);

#endif
