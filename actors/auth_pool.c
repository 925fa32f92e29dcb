/*
 * auth_pool.c - wiring of the auth service and what its handlers share:
 * error replies, database hand-out, revocation announcements.
 */
#include "actors/auth_pool.h"

#include "actors/admin_ops.h"
#include "actors/pool.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <string.h>

int auth_fail(bus_t *bus, natsMsg *msg, int err, const char *message)
{
    return pool_fail(bus, msg, err, message);
}

int auth_db_take(auth_pool_t *p, bus_t *bus, natsMsg *msg, MYSQL **db)
{
    int rc = db_acquire(p->db, p->db_wait_ms, db);
    if (rc != NT_OK)
        return auth_fail(bus, msg, NT_EUNAVAIL, "database unavailable");
    return NT_OK;
}

void auth_announce_revoked(auth_pool_t *p, const char *sid, const char *uid,
                           const char *reason, int64_t revoked_at_ms, const char *trace)
{
    char subject[SUBJECT_MAX];
    if (subject_evt(subject, sizeof subject, "session", sid) != NT_OK)
        return;
    Natter__SessionRevoked ev = NATTER__SESSION_REVOKED__INIT;
    ev.session_id = (char *)sid;
    ev.user_id = (char *)uid;
    ev.reason = (char *)reason;
    /* An access token issued just before the revocation lives at most
     * access_ttl longer; after that the deny-list entry is useless. */
    ev.expires_at = revoked_at_ms + p->access_ttl * 1000;
    int rc = bus_publish_pb(p->bus, subject, &ev.base, uid, trace);
    log_info("session revoked", "sid=%s uid=%s reason=%s published=%s", sid, uid, reason,
             rc == NT_OK ? "yes" : "no");
}

int auth_pool_register(auth_pool_t *p, micro_t *m, int workers)
{
    static const struct {
        const char *op;
        micro_handler_fn fn;
    } ops[] = {
        {"register", auth_register},       {"login", auth_login},
        {"refresh", auth_refresh},         {"logout", auth_logout},
        {"revoked_list", auth_revoked_list}, {"user_get", auth_user_get},
        {"user_update", auth_user_update}, {"user_search", auth_user_search},
        {"password", auth_password},
    };
    /* A real hash with the live parameters, so verifying a password for an
     * unknown username costs the same as for a known one (no user
     * enumeration by timing). */
    static const char dummy[] = "natter-dummy-password";
    int rc = password_hash(&p->argon2, dummy, sizeof dummy - 1, p->dummy_hash,
                           sizeof p->dummy_hash);
    if (rc != NT_OK)
        return rc;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char subject[SUBJECT_MAX];
        if ((rc = subject_svc(subject, sizeof subject, "auth", ops[i].op)) != NT_OK)
            return rc;
        if ((rc = micro_add_endpoint(m, ops[i].op, subject, workers, ops[i].fn, p)) != NT_OK)
            return rc;
    }
    return admin_ops_register(p, m, 1); /* rare requests: one worker each */
}

void *auth_unpack(bus_t *bus, natsMsg *msg, const ProtobufCMessageDescriptor *d)
{
    return pool_unpack(bus, msg, d);
}

void auth_user_pb(const user_rec_t *u, Natter__User *out)
{
    natter__user__init(out);
    out->id = (char *)u->id;
    out->username = (char *)u->username;
    out->display_name = (char *)u->display_name;
    out->avatar_url = (char *)u->avatar_url;
    out->bio = (char *)u->bio;
    out->created_at = u->created_at;
}
