/*
 * revocations.c - deny-list feed: events plus periodic reload (see
 * revocations.h).
 */
#include "edge/revocations.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "common/reloader.h"
#include "proto/natter.pb-c.h"

#include <stdlib.h>

struct revocations {
    bus_t *bus;
    denylist_t *deny;
    int timeout_ms;
    reloader_t *loader;
};

static void on_revoked(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    revocations_t *r = arg;
    Natter__SessionRevoked *ev = natter__session_revoked__unpack(
        NULL, (size_t)natsMsg_GetDataLength(msg), (const uint8_t *)natsMsg_GetData(msg));
    if (!ev) {
        log_warn("malformed SessionRevoked", "subject=%s", natsMsg_GetSubject(msg));
        return;
    }
    denylist_add(r->deny, ev->session_id, ev->expires_at);
    natter__session_revoked__free_unpacked(ev, NULL);
}

static int load_once(void *arg)
{
    revocations_t *r = arg;
    char subject[SUBJECT_MAX];
    char tp[64];
    natsMsg *req = NULL, *rep = NULL;
    Natter__Empty empty = NATTER__EMPTY__INIT;
    int rc = subject_svc(subject, sizeof subject, "auth", "revoked_list");
    bus_traceparent_new(tp, sizeof tp);
    if (rc == NT_OK)
        rc = bus_msg_new_pb(subject, &empty.base, NULL, tp, &req);
    if (rc == NT_OK)
        rc = bus_request(r->bus, req, r->timeout_ms, &rep);
    if (rc != NT_OK)
        return rc;
    char text[128];
    if ((rc = bus_reply_status(rep, text, sizeof text)) != NT_OK) {
        natsMsg_Destroy(rep);
        return rc;
    }
    Natter__SessionRevokedList *list = natter__session_revoked_list__unpack(
        NULL, (size_t)natsMsg_GetDataLength(rep), (const uint8_t *)natsMsg_GetData(rep));
    natsMsg_Destroy(rep);
    if (!list)
        return NT_EINVAL;
    for (size_t i = 0; i < list->n_sessions; i++)
        denylist_add(r->deny, list->sessions[i]->session_id, list->sessions[i]->expires_at);
    log_info("deny-list loaded", "sessions=%zu", list->n_sessions);
    natter__session_revoked_list__free_unpacked(list, NULL);
    return NT_OK;
}

int revocations_start(bus_t *bus, denylist_t *deny, int timeout_ms, int reload_s,
                      revocations_t **out)
{
    char subject[SUBJECT_MAX];
    revocations_t *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ENOMEM;
    r->bus = bus;
    r->deny = deny;
    r->timeout_ms = timeout_ms;
    /* The loader first: once subscribed, r belongs to the bus's callbacks
     * and can no longer be freed on a later failure. */
    int rc = reloader_start("deny-list", reload_s > 0 ? reload_s : 60, load_once, r, &r->loader);
    if (rc == NT_OK)
        rc = subject_evt_all(subject, sizeof subject, "session");
    if (rc == NT_OK)
        rc = bus_subscribe(bus, subject, NULL, on_revoked, r);
    if (rc != NT_OK) {
        reloader_stop(r->loader);
        free(r);
        return rc;
    }
    *out = r;
    return NT_OK;
}

int revocations_loaded(revocations_t *r)
{
    return reloader_loaded(r->loader);
}

void revocations_stop(revocations_t *r)
{
    if (!r)
        return;
    reloader_stop(r->loader);
    free(r);
}
