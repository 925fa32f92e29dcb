/*
 * contact_list.c - the two contact reads: the caller's pending requests
 * (incoming and outgoing) and the caller's contacts (contact_pool.h).
 *
 * A list is capped by contacts.list_max rows and, because a reply is one
 * NATS message, by BUS_PB_MAX bytes: entries are added while the packed
 * reply still fits, and a cut is logged.  Profiles are bounded (bio 500
 * characters, avatar_url 512 bytes), so the byte cap only bites for
 * thousands of contacts with long profiles; paging is the answer then.
 */
#include "actors/contact_pool.h"

#include "actors/auth_pool.h"
#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>

/* One more repeated entry of `size` packed bytes: tag (1 byte for our
 * small field numbers), length varint, body.  0 if it does not fit. */
static int fits(size_t *total, size_t size)
{
    size_t need = 1 + (size < 128 ? 1 : size < 16384 ? 2 : 3) + size;
    if (*total + need > BUS_PB_MAX - 1024) /* room for the rest of the reply */
        return 0;
    *total += need;
    return 1;
}

int contact_requests_h(bus_t *bus, natsMsg *msg, void *arg)
{
    contact_pool_t *p = arg;
    const char *uid = contact_caller(bus, msg);
    contact_req_rec_t *recs = NULL;
    Natter__ContactRequest *pbs = NULL;
    Natter__ContactRequest **ptrs = NULL;
    MYSQL *db = NULL;
    int n = 0, rc;
    size_t total = 0, k = 0;
    if (!uid)
        return NT_EUNAUTH;
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return pool_fail(bus, msg, NT_EUNAVAIL, "database unavailable, try again");
    rc = contact_requests(db, uid, p->list_max, &recs, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK)
        return pool_fail(bus, msg, rc, "");
    if (n > 0) {
        pbs = calloc((size_t)n, sizeof *pbs);
        ptrs = calloc((size_t)n, sizeof *ptrs);
        if (!pbs || !ptrs) {
            rc = pool_fail(bus, msg, NT_ENOMEM, "");
            goto out;
        }
    }
    for (; k < (size_t)n; k++) {
        contact_req_pb(&recs[k], &pbs[k]);
        if (!fits(&total, protobuf_c_message_get_packed_size(&pbs[k].base)))
            break;
        ptrs[k] = &pbs[k];
    }
    if (k < (size_t)n)
        log_warn("contact requests cut to fit one reply", "uid=%s rows=%d sent=%zu", uid, n, k);
    Natter__ContactRequestList list = NATTER__CONTACT_REQUEST_LIST__INIT;
    list.n_requests = k;
    list.requests = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(recs);
    free(pbs);
    free(ptrs);
    return rc;
}

int contact_list_h(bus_t *bus, natsMsg *msg, void *arg)
{
    contact_pool_t *p = arg;
    const char *uid = contact_caller(bus, msg);
    contact_rec_t *recs = NULL;
    Natter__Contact *pbs = NULL;
    Natter__User *users = NULL;
    Natter__Contact **ptrs = NULL;
    MYSQL *db = NULL;
    int n = 0, rc;
    size_t total = 0, k = 0;
    if (!uid)
        return NT_EUNAUTH;
    if (db_acquire(p->db, p->db_wait_ms, &db) != NT_OK)
        return pool_fail(bus, msg, NT_EUNAVAIL, "database unavailable, try again");
    rc = contact_list(db, uid, p->list_max, &recs, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK)
        return pool_fail(bus, msg, rc, "");
    if (n > 0) {
        pbs = calloc((size_t)n, sizeof *pbs);
        users = calloc((size_t)n, sizeof *users);
        ptrs = calloc((size_t)n, sizeof *ptrs);
        if (!pbs || !users || !ptrs) {
            rc = pool_fail(bus, msg, NT_ENOMEM, "");
            goto out;
        }
    }
    for (; k < (size_t)n; k++) {
        natter__contact__init(&pbs[k]);
        auth_user_pb(&recs[k].user, &users[k]);
        pbs[k].user = &users[k];
        pbs[k].since = recs[k].since;
        if (!fits(&total, protobuf_c_message_get_packed_size(&pbs[k].base)))
            break;
        ptrs[k] = &pbs[k];
    }
    if (k < (size_t)n)
        log_warn("contact list cut to fit one reply", "uid=%s rows=%d sent=%zu", uid, n, k);
    Natter__ContactList list = NATTER__CONTACT_LIST__INIT;
    list.n_contacts = k;
    list.contacts = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(recs);
    free(pbs);
    free(users);
    free(ptrs);
    return rc;
}
