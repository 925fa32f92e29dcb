/*
 * presence_query.c - im.svc.presence.query: online and last_seen of a list
 * of users, as the caller may see them (GET /api/presence).
 *
 * Visibility first, from MariaDB (which of the ids are the caller's
 * contacts), then Redis only for the visible ids, then last_seen for them.
 * Someone who is not a contact reads exactly like a user who does not
 * exist or was never online: online false, no last_seen, so the answer
 * tells a stranger nothing.
 */
#include "actors/presence_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "store/presence_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void presence_view(int self, int contact, int online, int64_t seen, int64_t now,
                   Natter__Presence *out)
{
    int visible = self || contact;
    out->online = visible && online;
    out->last_seen = !visible ? 0 : online ? now : seen > 0 ? seen : 0;
}

/* Work arrays of one query, all of n entries. */
typedef struct qwork {
    int *is_contact, *online;
    int64_t *seen;
    const char **vis;          /* the visible ids, packed */
    int *vis_at;               /* their positions in the request */
    Natter__Presence *items;
    Natter__Presence **ptrs;
} qwork_t;

static int qwork_new(qwork_t *w, size_t n)
{
    size_t k = n ? n : 1;
    w->is_contact = calloc(k, sizeof *w->is_contact);
    w->online = calloc(k, sizeof *w->online);
    w->seen = calloc(k, sizeof *w->seen);
    w->vis = calloc(k, sizeof *w->vis);
    w->vis_at = calloc(k, sizeof *w->vis_at);
    w->items = calloc(k, sizeof *w->items);
    w->ptrs = calloc(k, sizeof *w->ptrs);
    return w->is_contact && w->online && w->seen && w->vis && w->vis_at && w->items && w->ptrs
               ? NT_OK
               : NT_ENOMEM;
}

static void qwork_free(qwork_t *w)
{
    free(w->is_contact);
    free(w->online);
    free(w->seen);
    free(w->vis);
    free(w->vis_at);
    free(w->items);
    free(w->ptrs);
}

/* Fill w->is_contact (the db part), then online and seen of the visible. */
static int look_up(presence_pool_t *p, const char *caller, char **ids, int n, qwork_t *w,
                   int *nvis)
{
    MYSQL *db;
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return NT_EUNAVAIL;
    int rc = presence_db_contacts_among(db, caller, (const char *const *)ids, n, w->is_contact);
    *nvis = 0;
    for (int i = 0; rc == NT_OK && i < n; i++)
        if (w->is_contact[i] || strcmp(ids[i], caller) == 0) {
            w->vis_at[*nvis] = i;
            w->vis[(*nvis)++] = ids[i];
        }
    int64_t *seen = calloc(*nvis ? (size_t)*nvis : 1, sizeof *seen);
    if (rc == NT_OK && !seen)
        rc = NT_ENOMEM;
    if (rc == NT_OK)
        rc = presence_db_seen_many(db, w->vis, *nvis, seen);
    db_release(p->db, db, db_is_broken(rc));
    int *on = rc == NT_OK ? calloc(*nvis ? (size_t)*nvis : 1, sizeof *on) : NULL;
    if (rc == NT_OK && !on)
        rc = NT_ENOMEM;
    if (rc == NT_OK)
        rc = presence_store_online(p->redis, w->vis, *nvis, on);
    for (int j = 0; rc == NT_OK && j < *nvis; j++) {
        w->online[w->vis_at[j]] = on[j];
        w->seen[w->vis_at[j]] = seen[j];
    }
    free(on);
    free(seen);
    return rc;
}

int presence_query_h(bus_t *bus, natsMsg *msg, void *arg)
{
    presence_pool_t *p = arg;
    const char *caller = bus_header(msg, BUS_H_UID);
    char err[96];
    qwork_t w = {0};
    int nvis = 0, rc;
    if (!caller || !presence_uid_ok(caller))
        return pool_fail(bus, msg, NT_EUNAUTH, "not logged in");
    Natter__PresenceQuery *q = pool_unpack(bus, msg, &natter__presence_query__descriptor);
    if (!q)
        return NT_EINVAL;
    int n = (int)q->n_user_ids;
    if (q->n_user_ids > (size_t)p->query_max) {
        snprintf(err, sizeof err, "at most %d user_ids", p->query_max);
        rc = pool_fail(bus, msg, NT_EINVAL, err);
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (!presence_uid_ok(q->user_ids[i])) {
            rc = pool_fail(bus, msg, NT_EINVAL, "user_ids must be user ids");
            goto done;
        }
    if ((rc = qwork_new(&w, (size_t)n)) != NT_OK ||
        (rc = look_up(p, caller, q->user_ids, n, &w, &nvis)) != NT_OK) {
        rc = pool_fail(bus, msg, rc == NT_ENOMEM ? rc : NT_EUNAVAIL, "presence unavailable");
        goto done;
    }
    int64_t now = db_now_ms();
    for (int i = 0; i < n; i++) {
        natter__presence__init(&w.items[i]);
        w.items[i].user_id = q->user_ids[i];
        presence_view(strcmp(q->user_ids[i], caller) == 0, w.is_contact[i], w.online[i],
                      w.seen[i], now, &w.items[i]);
        w.ptrs[i] = &w.items[i];
    }
    Natter__PresenceList list = NATTER__PRESENCE_LIST__INIT;
    list.n_presence = (size_t)n;
    list.presence = w.ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
done:
    qwork_free(&w);
    natter__presence_query__free_unpacked(q, NULL);
    return rc;
}
