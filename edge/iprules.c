/*
 * iprules.c - IP rules feed and matching (iprules.h).
 */
#include "edge/iprules.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/cidr.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct iprules {
    bus_t *bus;
    int timeout_ms;
    int reload_s;
    pthread_t thread;
    pthread_rwlock_t rules_lock; /* guards rules, n */
    cidr_t *rules;
    int n;
    pthread_mutex_t lock;        /* guards stop and dirty, with cond */
    pthread_cond_t cond;
    int stop, dirty;
    atomic_int loaded;
    void (*changed)(void *arg);  /* set at start, read-only */
    void *changed_arg;
};

static void on_changed(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    (void)msg;
    iprules_t *r = arg;
    pthread_mutex_lock(&r->lock);
    r->dirty = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static int load_once(iprules_t *r)
{
    char subject[SUBJECT_MAX], tp[64], text[128];
    natsMsg *req = NULL, *rep = NULL;
    Natter__Empty empty = NATTER__EMPTY__INIT;
    int rc = subject_svc(subject, sizeof subject, "auth", "ip_rules");
    bus_traceparent_new(tp, sizeof tp);
    if (rc == NT_OK)
        rc = bus_msg_new_pb(subject, &empty.base, NULL, tp, &req);
    if (rc == NT_OK)
        rc = bus_request(r->bus, req, r->timeout_ms, &rep);
    if (rc != NT_OK)
        return rc;
    if ((rc = bus_reply_status(rep, text, sizeof text)) != NT_OK) {
        natsMsg_Destroy(rep);
        return rc;
    }
    Natter__IpRuleList *list = natter__ip_rule_list__unpack(
        NULL, (size_t)natsMsg_GetDataLength(rep), (const uint8_t *)natsMsg_GetData(rep));
    natsMsg_Destroy(rep);
    if (!list)
        return NT_EINVAL;
    cidr_t *rules = calloc(list->n_rules ? list->n_rules : 1, sizeof *rules);
    int n = 0;
    for (size_t i = 0; rules && i < list->n_rules; i++) {
        if (strcmp(list->rules[i]->action, "deny") != 0)
            continue; /* an action this edge does not know: ignore, never deny by mistake */
        if (cidr_parse(list->rules[i]->cidr, &rules[n]) == NT_OK)
            n++;
        else
            log_warn("bad ip rule ignored", "id=%s", list->rules[i]->id);
    }
    natter__ip_rule_list__free_unpacked(list, NULL);
    if (!rules)
        return NT_ENOMEM;
    pthread_rwlock_wrlock(&r->rules_lock);
    cidr_t *old = r->rules;
    int changed = n != r->n || (n > 0 && memcmp(rules, old, (size_t)n * sizeof *rules) != 0);
    r->rules = rules;
    r->n = n;
    pthread_rwlock_unlock(&r->rules_lock);
    free(old);
    if (changed) {
        log_info("ip rules loaded", "rules=%d", n);
        if (r->changed)
            r->changed(r->changed_arg);
    }
    return NT_OK;
}

/* Wait up to s seconds or until a change event; 1 if asked to stop. */
static int pause_or_stop(iprules_t *r, int s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s;
    pthread_mutex_lock(&r->lock);
    while (!r->stop && !r->dirty && pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
        ;
    r->dirty = 0;
    int stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    return stop;
}

static void *loader(void *arg)
{
    iprules_t *r = arg;
    int warned = 0;
    for (;;) {
        int rc = load_once(r);
        if (rc == NT_OK) {
            atomic_store(&r->loaded, 1);
            warned = 0;
        }
        else if (!warned++)
            log_warn("ip rules load failed, retrying", "err=\"%s\"", nt_strerror(rc));
        if (pause_or_stop(r, rc == NT_OK ? r->reload_s : 1))
            return NULL;
    }
}

int iprules_start(bus_t *bus, int timeout_ms, int reload_s, void (*changed)(void *arg), void *arg,
                  iprules_t **out)
{
    char subject[SUBJECT_MAX];
    iprules_t *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ENOMEM;
    r->bus = bus;
    r->timeout_ms = timeout_ms;
    r->reload_s = reload_s > 0 ? reload_s : 60;
    r->changed = changed;
    r->changed_arg = arg;
    pthread_rwlock_init(&r->rules_lock, NULL);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    int rc = subject_evt_all(subject, sizeof subject, "ip_rules");
    if (rc == NT_OK)
        rc = bus_subscribe(bus, subject, NULL, on_changed, r);
    if (rc == NT_OK && pthread_create(&r->thread, NULL, loader, r) != 0)
        rc = NT_ENOMEM;
    if (rc != NT_OK) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        pthread_rwlock_destroy(&r->rules_lock);
        free(r);
        return rc;
    }
    *out = r;
    return NT_OK;
}

int iprules_denied(iprules_t *r, const char *addr)
{
    int hit = 0;
    if (!r || !addr)
        return 0;
    pthread_rwlock_rdlock(&r->rules_lock);
    for (int i = 0; !hit && i < r->n; i++)
        hit = cidr_contains(&r->rules[i], addr);
    pthread_rwlock_unlock(&r->rules_lock);
    return hit;
}

int iprules_loaded(iprules_t *r)
{
    return atomic_load(&r->loaded);
}

void iprules_stop(iprules_t *r)
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
    pthread_rwlock_destroy(&r->rules_lock);
    free(r->rules);
    free(r);
}
