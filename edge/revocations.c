/*
 * revocations.c - deny-list feed: events plus periodic reload (see
 * revocations.h).
 */
#include "edge/revocations.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct revocations {
    bus_t *bus;
    denylist_t *deny;
    int timeout_ms;
    int reload_s;
    atomic_int loaded;
    pthread_t thread;
    pthread_mutex_t lock; /* guards stop, with cond */
    pthread_cond_t cond;
    int stop;
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

static int load_once(revocations_t *r)
{
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

/* Sleep up to s seconds; 1 if asked to stop. */
static int pause_or_stop(revocations_t *r, int s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s;
    pthread_mutex_lock(&r->lock);
    while (!r->stop && pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
        ;
    int stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

static void *loader(void *arg)
{
    revocations_t *r = arg;
    int warned = 0;
    for (;;) {
        int rc = load_once(r);
        if (rc == NT_OK) {
            atomic_store(&r->loaded, 1);
            warned = 0;
        } else if (!warned++) {
            log_warn("deny-list load failed, retrying", "err=\"%s\"", nt_strerror(rc));
        }
        if (pause_or_stop(r, rc == NT_OK ? r->reload_s : 1))
            return NULL;
    }
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
    r->reload_s = reload_s > 0 ? reload_s : 60;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    int rc = subject_evt_all(subject, sizeof subject, "session");
    if (rc == NT_OK)
        rc = bus_subscribe(bus, subject, NULL, on_revoked, r);
    if (rc == NT_OK && pthread_create(&r->thread, NULL, loader, r) != 0)
        rc = NT_ENOMEM;
    if (rc != NT_OK) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return rc;
    }
    *out = r;
    return NT_OK;
}

int revocations_loaded(revocations_t *r)
{
    return atomic_load(&r->loaded);
}

void revocations_stop(revocations_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
