/*
 * admin_ops.c - the admin API's work, served by the auth pool on
 * im.svc.admin.<op> (docs/API.md "Admin"; ops listed in natter.proto).
 *
 * Not im.svc.auth.admin.*: nats-server.conf forbids edges to publish
 * im.svc.*.admin.> (operator-only subjects), and these requests come from
 * edge-http on behalf of a logged-in admin.  So the check that matters is
 * here: every request reads the caller's role (Natter-Uid, set by the edge
 * after the token check) from MariaDB.  No role in the token: a revoke by
 * `natter admin revoke` then takes effect on the admin's next request, not
 * when their access token expires.  The cost is one primary-key read per
 * admin request, which are rare.
 *
 * Every action that changes something (ban, unban, kick) is appended to
 * admin_audit after it committed, with the admin's client address the edge
 * passed in AdminReq.ip; reads are not logged.
 */
#include "actors/admin_ops.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/cidr.h"
#include "common/err.h"
#include "common/log.h"
#include "store/admin_store.h"
#include "store/presence_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50

/* The caller must be an admin: 401 without a uid, 403 for anyone else.
 * On success *db is held (caller releases) and name has the username. */
static int admin_take(auth_pool_t *p, bus_t *bus, natsMsg *msg, MYSQL **db, char *name)
{
    const char *uid = bus_header(msg, BUS_H_UID);
    int is_admin = 0, rc;
    if (!uid)
        return auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
    if ((rc = auth_db_take(p, bus, msg, db)) != NT_OK)
        return rc;
    rc = admin_role_of(*db, uid, name, &is_admin);
    if (rc == NT_OK && is_admin)
        return NT_OK;
    db_release(p->db, *db, db_is_broken(rc));
    *db = NULL;
    if (rc != NT_OK && rc != NT_ENOTFOUND)
        return auth_fail(bus, msg, rc, "");
    return auth_fail(bus, msg, NT_EFORBIDDEN, "admin only");
}

static void audit(MYSQL *db, natsMsg *msg, const char *name, const char *action,
                  const char *target, const char *detail, const char *ip)
{
    const char *uid = bus_header(msg, BUS_H_UID);
    int rc = admin_audit_add(db, uid, name, action, target, detail, ip, db_now_ms());
    if (rc != NT_OK)
        log_error("audit entry not written", "actor=%s action=%s target=%s err=\"%s\"", uid,
                  action, target, nt_strerror(rc));
    log_info("admin action", "actor=%s action=%s target=%s ip=%s", uid, action, target, ip);
}

static int limit_of(int32_t limit)
{
    return limit > 0 && limit <= ADMIN_LIST_MAX ? limit : LIST_DEFAULT;
}

static int reply_empty(bus_t *bus, natsMsg *msg)
{
    Natter__Empty empty = NATTER__EMPTY__INIT;
    return bus_reply_pb(bus, msg, &empty.base);
}

int admin_users(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1];
    int limit = limit_of(req->limit), n = 0, rc;
    admin_user_rec_t *found = calloc((size_t)limit, sizeof *found);
    Natter__AdminUser *pbs = calloc((size_t)limit, sizeof *pbs);
    Natter__AdminUser **ptrs = calloc((size_t)limit, sizeof *ptrs);
    MYSQL *db = NULL;
    if (!found || !pbs || !ptrs) {
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if (strlen(req->query) > USERNAME_MAX) {
        rc = auth_fail(bus, msg, NT_EINVAL, "query must be at most 32 characters");
        goto out;
    }
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    rc = admin_user_list(db, req->query, db_now_ms(), limit, found, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        Natter__AdminUser *u = &pbs[i];
        natter__admin_user__init(u);
        u->id = found[i].id;
        u->username = found[i].username;
        u->display_name = found[i].display_name;
        u->role = found[i].role;
        u->banned = found[i].banned;
        u->ban_reason = found[i].ban_reason;
        u->banned_until = found[i].banned_until;
        u->created_at = found[i].created_at;
        u->last_seen = found[i].last_seen;
        ptrs[i] = u;
    }
    Natter__AdminUserList list = NATTER__ADMIN_USER_LIST__INIT;
    list.n_users = (size_t)n;
    list.users = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(found);
    free(pbs);
    free(ptrs);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* Characters of UTF-8 text s (continuation bytes not counted). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int admin_ban_user(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1], trace[40], detail[640];
    char (*sids)[SESSION_ID_MAX] = NULL;
    int nsids = 0, rc;
    MYSQL *db = NULL;
    bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    if (utf8_chars(req->reason) > ADMIN_REASON_MAX || req->until < 0) {
        db_release(p->db, db, 0);
        rc = auth_fail(bus, msg, NT_EINVAL, req->until < 0 ? "until must be a time in ms or null"
                                                           : "reason is over 500 characters");
        goto out;
    }
    int64_t now = db_now_ms();
    rc = admin_ban(db, req->user_id, req->reason, req->until, now, &sids, &nsids);
    if (rc == NT_OK) {
        /* The audit column cuts a long reason (at a character boundary). */
        snprintf(detail, sizeof detail, "until=%lld sessions=%d reason=%s",
                 (long long)req->until, nsids, req->reason);
        audit(db, msg, name, "ban", req->user_id, detail, req->ip);
    }
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "user not found");
        goto out;
    }
    /* After the commit: every edge closes the sockets (4003 "banned") and
     * denies the access tokens of each session. */
    for (int i = 0; i < nsids; i++)
        auth_announce_revoked(p, sids[i], req->user_id, "banned", now, trace);
    rc = reply_empty(bus, msg);
out:
    free(sids);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int admin_unban_user(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1];
    MYSQL *db = NULL;
    int rc;
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    rc = admin_unban(db, req->user_id);
    if (rc == NT_OK)
        audit(db, msg, name, "unban", req->user_id, "", req->ip);
    db_release(p->db, db, db_is_broken(rc));
    rc = rc == NT_OK ? reply_empty(bus, msg) : auth_fail(bus, msg, rc, "user not found");
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int admin_audit_get(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1];
    int limit = limit_of(req->limit), n = 0, rc;
    admin_audit_rec_t *found = calloc((size_t)limit, sizeof *found);
    Natter__AuditEntry *pbs = calloc((size_t)limit, sizeof *pbs);
    Natter__AuditEntry **ptrs = calloc((size_t)limit, sizeof *ptrs);
    MYSQL *db = NULL;
    if (!found || !pbs || !ptrs) {
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    rc = admin_audit_list(db, req->before, limit, found, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        Natter__AuditEntry *e = &pbs[i];
        natter__audit_entry__init(e);
        e->id = found[i].id;
        e->actor_id = found[i].actor_id;
        e->actor_name = found[i].actor_name;
        e->action = found[i].action;
        e->target = found[i].target;
        e->detail = found[i].detail;
        e->address = found[i].address;
        e->created_at = found[i].created_at;
        ptrs[i] = e;
    }
    Natter__AuditList list = NATTER__AUDIT_LIST__INIT;
    list.n_entries = (size_t)n;
    list.entries = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(found);
    free(pbs);
    free(ptrs);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

#define EDGES_PER_SESSION 8

/* One socket of a session as presence has it: which edge, the client's
 * address as that edge saw it, since when. */
typedef struct sess_conn {
    char edge[PRESENCE_TOKEN_MAX + 1];
    char address[PRESENCE_ADDRESS_MAX];
    int64_t since;
} sess_conn_t;

/* Live sessions and the edges presence says they are connected to. */
typedef struct sess_edges {
    session_rec_t *found;
    int n;
    sess_conn_t (*conns)[EDGES_PER_SESSION];
    int *n_edges;
} sess_edges_t;

static void on_presence(void *arg, const char *sid, const char *edge, const char *address,
                        int64_t since)
{
    sess_edges_t *a = arg;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->found[i].sid, sid) == 0 && a->n_edges[i] < EDGES_PER_SESSION &&
            strlen(edge) <= PRESENCE_TOKEN_MAX) {
            sess_conn_t *c = &a->conns[i][a->n_edges[i]++];
            snprintf(c->edge, sizeof c->edge, "%s", edge);
            snprintf(c->address, sizeof c->address, "%s", address);
            c->since = since;
        }
}

int admin_sessions(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1];
    int n = 0, rc;
    session_rec_t *found = calloc(ADMIN_LIST_MAX, sizeof *found);
    Natter__AdminSession *pbs = calloc(ADMIN_LIST_MAX, sizeof *pbs);
    Natter__AdminSession **ptrs = calloc(ADMIN_LIST_MAX, sizeof *ptrs);
    MYSQL *db = NULL;
    if (!found || !pbs || !ptrs) {
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    rc = admin_session_list(db, req->user_id, ADMIN_LIST_MAX, found, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    /* Presence (Redis) adds where each session is connected; without
     * Redis the list still answers, with no edges. */
    sess_edges_t se = {.found = found, .n = n, .conns = calloc(ADMIN_LIST_MAX, sizeof *se.conns),
                       .n_edges = calloc(ADMIN_LIST_MAX, sizeof *se.n_edges)};
    char *eptrs[ADMIN_LIST_MAX][EDGES_PER_SESSION];
    Natter__AdminConnection(*pconn)[EDGES_PER_SESSION] = calloc(ADMIN_LIST_MAX, sizeof *pconn);
    Natter__AdminConnection *cptrs[ADMIN_LIST_MAX][EDGES_PER_SESSION];
    if (!se.conns || !se.n_edges || !pconn) {
        free(se.conns);
        free(se.n_edges);
        free(pconn);
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if (n > 0 && presence_store_sessions(p->redis, req->user_id, on_presence, &se) != NT_OK)
        log_warn("session edges unknown", "uid=%s why=\"presence store unavailable\"",
                 req->user_id);
    for (int i = 0; i < n; i++) {
        Natter__AdminSession *s = &pbs[i];
        natter__admin_session__init(s);
        s->session_id = found[i].sid;
        s->user_id = found[i].uid;
        s->platform = found[i].platform;
        s->device_id = found[i].device_id;
        s->created_at = found[i].created_at;
        for (int k = 0; k < se.n_edges[i]; k++) {
            sess_conn_t *c = &se.conns[i][k];
            eptrs[i][k] = c->edge;
            natter__admin_connection__init(&pconn[i][k]);
            pconn[i][k].edge = c->edge;
            pconn[i][k].address = c->address;
            pconn[i][k].since = c->since;
            cptrs[i][k] = &pconn[i][k];
        }
        s->n_edges = s->n_connections = (size_t)se.n_edges[i];
        s->edges = eptrs[i];
        s->connections = cptrs[i];
        ptrs[i] = s;
    }
    Natter__AdminSessionList list = NATTER__ADMIN_SESSION_LIST__INIT;
    list.n_sessions = (size_t)n;
    list.sessions = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
    free(se.conns);
    free(se.n_edges);
    free(pconn);
out:
    free(found);
    free(pbs);
    free(ptrs);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int admin_kick(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1], trace[40], owner[USER_ID_MAX];
    MYSQL *db = NULL;
    int rc;
    bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    int64_t now = db_now_ms();
    rc = admin_session_revoke(db, req->session_id, "kicked_by_admin", now, owner);
    if (rc == NT_OK)
        audit(db, msg, name, "kick", req->session_id, owner, req->ip);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "no such live session");
        goto out;
    }
    auth_announce_revoked(p, req->session_id, owner, "kicked_by_admin", now, trace);
    rc = reply_empty(bus, msg);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* ---- IP rules ---- */

/* Reply with rules[0..n) as an IpRuleList. */
static int reply_rules(bus_t *bus, natsMsg *msg, const admin_ip_rule_t *rules, int n)
{
    Natter__IpRule *pbs = calloc((size_t)(n ? n : 1), sizeof *pbs);
    Natter__IpRule **ptrs = calloc((size_t)(n ? n : 1), sizeof *ptrs);
    int rc;
    if (!pbs || !ptrs) {
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        natter__ip_rule__init(&pbs[i]);
        pbs[i].id = (char *)rules[i].id;
        pbs[i].cidr = (char *)rules[i].cidr;
        pbs[i].action = (char *)rules[i].action;
        pbs[i].created_at = rules[i].created_at;
        ptrs[i] = &pbs[i];
    }
    Natter__IpRuleList list = NATTER__IP_RULE_LIST__INIT;
    list.n_rules = (size_t)n;
    list.rules = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(pbs);
    free(ptrs);
    return rc;
}

/* Every rule, for admins (admin) or for edges (no role check). */
static int rules_list(auth_pool_t *p, bus_t *bus, natsMsg *msg, int admin_only)
{
    char name[USERNAME_MAX + 1];
    int n = 0, rc;
    MYSQL *db = NULL;
    admin_ip_rule_t *rules = calloc(ADMIN_IP_RULES_MAX, sizeof *rules);
    if (!rules)
        return auth_fail(bus, msg, NT_ENOMEM, "");
    rc = admin_only ? admin_take(p, bus, msg, &db, name) : auth_db_take(p, bus, msg, &db);
    if (rc != NT_OK)
        goto out;
    rc = admin_ip_rule_list(db, ADMIN_IP_RULES_MAX, rules, &n);
    db_release(p->db, db, db_is_broken(rc));
    rc = rc == NT_OK ? reply_rules(bus, msg, rules, n) : auth_fail(bus, msg, rc, "");
out:
    free(rules);
    return rc;
}

int admin_ip_rules(bus_t *bus, natsMsg *msg, void *arg)
{
    return rules_list(arg, bus, msg, 1);
}

int auth_ip_rules(bus_t *bus, natsMsg *msg, void *arg)
{
    return rules_list(arg, bus, msg, 0);
}

/* Tell every edge to reload its rules. */
static void rules_changed(auth_pool_t *p, natsMsg *msg)
{
    char subject[SUBJECT_MAX], trace[40];
    Natter__Empty empty = NATTER__EMPTY__INIT;
    bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
    if (subject_evt(subject, sizeof subject, "ip_rules", "changed") != NT_OK ||
        bus_publish_pb(p->bus, subject, &empty.base, NULL, trace) != NT_OK)
        log_warn("ip rules change not announced", "trace=%s", trace);
}

int admin_ip_rule_add_op(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1], canon[CIDR_TEXT_MAX];
    admin_ip_rule_t rule;
    cidr_t c;
    MYSQL *db = NULL;
    int rc;
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    if (cidr_parse(req->cidr, &c) != NT_OK || cidr_format(&c, canon, sizeof canon) != NT_OK ||
        strcmp(req->action, "deny") != 0) {
        db_release(p->db, db, 0);
        rc = auth_fail(bus, msg, NT_EINVAL,
                       strcmp(req->action, "deny") != 0 ? "action must be \"deny\""
                                                        : "cidr is not an IPv4 or IPv6 block");
        goto out;
    }
    rc = admin_ip_rule_add(db, canon, req->action, bus_header(msg, BUS_H_UID), db_now_ms(),
                           &rule);
    if (rc == NT_OK)
        audit(db, msg, name, "ip_rule_add", rule.id, canon, req->ip);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "a rule for this cidr exists");
        goto out;
    }
    rules_changed(p, msg);
    rc = reply_rules(bus, msg, &rule, 1);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int admin_ip_rule_delete_op(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__AdminReq *req = auth_unpack(bus, msg, &natter__admin_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char name[USERNAME_MAX + 1];
    admin_ip_rule_t rule;
    MYSQL *db = NULL;
    int rc;
    if ((rc = admin_take(p, bus, msg, &db, name)) != NT_OK)
        goto out;
    rc = admin_ip_rule_delete(db, req->rule_id, &rule);
    if (rc == NT_OK)
        audit(db, msg, name, "ip_rule_delete", rule.id, rule.cidr, req->ip);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "no such rule");
        goto out;
    }
    rules_changed(p, msg);
    rc = reply_empty(bus, msg);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* Only the role check: the edge asks it before it answers an admin route
 * with 400, so a non-admin learns nothing from validation. */
int admin_check(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    char name[USERNAME_MAX + 1];
    MYSQL *db = NULL;
    int rc = admin_take(p, bus, msg, &db, name);
    if (rc != NT_OK)
        return rc;
    db_release(p->db, db, 0);
    return reply_empty(bus, msg);
}

int admin_ops_register(auth_pool_t *p, micro_t *m, int workers)
{
    static const struct {
        const char *op;
        micro_handler_fn fn;
    } ops[] = {
        {"users", admin_users},       {"ban", admin_ban_user}, {"unban", admin_unban_user},
        {"audit", admin_audit_get},   {"sessions", admin_sessions}, {"kick", admin_kick},
        {"check", admin_check},       {"ip_rules", admin_ip_rules},
        {"ip_rule_add", admin_ip_rule_add_op}, {"ip_rule_delete", admin_ip_rule_delete_op},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char subject[SUBJECT_MAX], name[32];
        int rc = subject_svc(subject, sizeof subject, "admin", ops[i].op);
        if (rc != NT_OK)
            return rc;
        snprintf(name, sizeof name, "admin_%s", ops[i].op);
        if ((rc = micro_add_endpoint(m, name, subject, workers, ops[i].fn, p)) != NT_OK)
            return rc;
    }
    /* The edges' load of the rules: on im.svc.auth (no role, no Natter-Uid). */
    char subject[SUBJECT_MAX];
    int rc = subject_svc(subject, sizeof subject, "auth", "ip_rules");
    return rc == NT_OK ? micro_add_endpoint(m, "ip_rules", subject, workers, auth_ip_rules, p)
                       : rc;
}
