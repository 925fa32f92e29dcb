/*
 * iprules.c - IP rules feed and matching (iprules.h).
 */
#include "edge/iprules.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/cidr.h"
#include "common/err.h"
#include "common/log.h"
#include "common/reloader.h"
#include "proto/natter.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct iprules {
    bus_t *bus;
    int timeout_ms;
    reloader_t *loader;          /* set before the subscription exists */
    pthread_rwlock_t rules_lock; /* guards rules, n */
    cidr_t *rules;
    int n;
    void (*changed)(void *arg);  /* set at start, read-only */
    void *changed_arg;
};

static void on_changed(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    (void)msg;
    iprules_t *r = arg;
    reloader_poke(r->loader);
}

static int load_once(void *arg)
{
    iprules_t *r = arg;
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

int iprules_start(bus_t *bus, int timeout_ms, int reload_s, void (*changed)(void *arg), void *arg,
                  iprules_t **out)
{
    char subject[SUBJECT_MAX];
    iprules_t *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ENOMEM;
    r->bus = bus;
    r->timeout_ms = timeout_ms;
    r->changed = changed;
    r->changed_arg = arg;
    pthread_rwlock_init(&r->rules_lock, NULL);
    int rc = reloader_start("ip rules", reload_s > 0 ? reload_s : 60, load_once, r, &r->loader);
    if (rc == NT_OK)
        rc = subject_evt_all(subject, sizeof subject, "ip_rules");
    if (rc == NT_OK)
        rc = bus_subscribe(bus, subject, NULL, on_changed, r);
    if (rc != NT_OK) {
        reloader_stop(r->loader);
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
    return reloader_loaded(r->loader);
}

void iprules_stop(iprules_t *r)
{
    if (!r)
        return;
    reloader_stop(r->loader);
    pthread_rwlock_destroy(&r->rules_lock);
    free(r->rules);
    free(r);
}
