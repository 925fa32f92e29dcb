/*
 * presence_pool.c - wiring of the presence service, the edges' reports
 * (up, down, heartbeat) and the fan-out of transitions to contacts.
 *
 * Reports are published, not requested: a handler answers nothing, it
 * only updates Redis and publishes what changed.  Every report carries the
 * edge's seq, so the store can tell a stale report (handled after a newer
 * one by another thread or process) from news.  Which users came online
 * is decided by the store in one script; this file only fans that out.
 */
#include "actors/presence_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "store/presence_db.h"

#include <stdlib.h>
#include <string.h>

int presence_pool_register(presence_pool_t *p, micro_t *m, int workers)
{
    static const struct {
        const char *op;
        micro_handler_fn fn;
    } eps[] = {
        {"up", presence_up_h},
        {"down", presence_down_h},
        {"heartbeat", presence_heartbeat_h},
        {"query", presence_query_h},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        char subject[SUBJECT_MAX];
        int rc = subject_svc(subject, sizeof subject, "presence", eps[i].op);
        if (rc == NT_OK)
            rc = micro_add_endpoint(m, eps[i].op, subject, workers, eps[i].fn, p);
        if (rc != NT_OK)
            return rc;
    }
    return NT_OK;
}

int presence_notify(presence_pool_t *p, const presence_user_t *u, int online, const char *trace)
{
    MYSQL *db = NULL;
    presence_uid_t *to = NULL;
    int n = 0, rc;
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return NT_EUNAVAIL;
    if (!online && (rc = presence_db_seen(db, u->uid, u->at)) != NT_OK && rc != NT_ENOTFOUND)
        log_warn("cannot store last_seen", "uid=%s err=\"%s\"", u->uid, nt_strerror(rc));
    rc = presence_db_contacts(db, u->uid, p->contacts_max, &to, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK)
        return rc == NT_EDB ? NT_EUNAVAIL : rc;
    if (!online) {
        /* Came back while we read the contacts: they never saw it go. */
        const char *uid = u->uid;
        int now_on = 0;
        if (presence_store_online(p->redis, &uid, 1, &now_on) == NT_OK && now_on) {
            free(to);
            return NT_OK;
        }
    }
    Natter__Presence pr = NATTER__PRESENCE__INIT;
    pr.user_id = (char *)u->uid;
    pr.online = online != 0;
    pr.last_seen = u->at;
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = (char *)"presence";
    push.presence = &pr;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char subject[SUBJECT_MAX];
        int prc = subject_user_push(subject, sizeof subject, to[i]);
        if (prc == NT_OK)
            prc = bus_publish_pb(p->bus, subject, &push.base, NULL, trace);
        failed += prc != NT_OK;
    }
    if (failed)
        log_warn("presence push failed", "uid=%s contacts=%d failed=%d", u->uid, n, failed);
    log_debug("presence", "uid=%s online=%d contacts=%d", u->uid, online, n);
    free(to);
    return NT_OK;
}

static int unpack_report(bus_t *bus, natsMsg *msg, Natter__PresenceReport **out)
{
    *out = pool_unpack(bus, msg, &natter__presence_report__descriptor);
    if (!*out)
        return NT_EINVAL;
    if (!presence_token_ok((*out)->edge_id) || (*out)->n_sessions > PRESENCE_REPORT_MAX) {
        log_warn("bad presence report", "subject=%s sessions=%zu", natsMsg_GetSubject(msg),
                 (*out)->n_sessions);
        natter__presence_report__free_unpacked(*out, NULL);
        *out = NULL;
        return NT_EINVAL;
    }
    return NT_OK;
}

/* The platform of an `up`'s session (the edge does not know it: the token
 * carries none).  Best effort: "" when the database does not answer. */
static void lookup_platform(presence_pool_t *p, const char *sid, char *out, size_t n)
{
    MYSQL *db;
    out[0] = '\0';
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return;
    int rc = presence_db_platform(db, sid, out, n);
    db_release(p->db, db, db_is_broken(rc));
}

/* up (heartbeat = 0) or heartbeat: store, then announce who came online. */
static int report_live(presence_pool_t *p, natsMsg *msg, int heartbeat)
{
    Natter__PresenceReport *r;
    int rc = unpack_report(p->bus, msg, &r);
    if (rc != NT_OK)
        return rc;
    presence_entry_t *e = calloc(r->n_sessions ? r->n_sessions : 1, sizeof *e);
    char platform[PRESENCE_PLATFORM_MAX] = "";
    presence_user_t *on = NULL;
    int n_on = 0, skipped = 0;
    if (!e) {
        rc = NT_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < r->n_sessions; i++) {
        const Natter__PresenceSession *s = r->sessions[i];
        e[i].uid = s->user_id;
        e[i].sid = s->session_id;
        e[i].platform = s->platform;
        e[i].address = s->address;
        e[i].since = s->since;
    }
    if (!heartbeat && r->n_sessions == 1 && !*e[0].platform && presence_token_ok(e[0].sid)) {
        lookup_platform(p, e[0].sid, platform, sizeof platform);
        e[0].platform = platform;
    }
    rc = presence_store_touch(p->redis, &p->times, r->edge_id, r->seq, heartbeat, e,
                              (int)r->n_sessions, &on, &n_on, &skipped);
    if (rc != NT_OK) {
        log_warn("presence not stored", "edge=%s seq=%llu sessions=%zu err=\"%s\"", r->edge_id,
                 (unsigned long long)r->seq, r->n_sessions, nt_strerror(rc));
        goto done;
    }
    if (skipped)
        log_warn("presence entries skipped", "edge=%s skipped=%d", r->edge_id, skipped);
    const char *trace = bus_header(msg, BUS_H_TRACE);
    for (int i = 0; i < n_on; i++)
        if (presence_notify(p, &on[i], 1, trace) != NT_OK)
            log_warn("online not announced", "uid=%s", on[i].uid);
done:
    free(on);
    free(e);
    natter__presence_report__free_unpacked(r, NULL);
    return rc;
}

int presence_up_h(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    return report_live(arg, msg, 0);
}

int presence_heartbeat_h(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    return report_live(arg, msg, 1);
}

int presence_down_h(bus_t *bus, natsMsg *msg, void *arg)
{
    presence_pool_t *p = arg;
    Natter__PresenceReport *r;
    int rc = unpack_report(bus, msg, &r);
    for (size_t i = 0; rc == NT_OK && i < r->n_sessions; i++) {
        presence_entry_t e = {.uid = r->sessions[i]->user_id, .sid = r->sessions[i]->session_id};
        rc = presence_store_down(p->redis, &p->times, r->edge_id, r->seq, &e);
        if (rc != NT_OK)
            log_warn("presence down not stored", "edge=%s uid=%s err=\"%s\"", r->edge_id,
                     e.uid ? e.uid : "", nt_strerror(rc));
    }
    if (r)
        natter__presence_report__free_unpacked(r, NULL);
    return rc;
}
