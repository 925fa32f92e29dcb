/*
 * routes_admin.c - /api/admin/... (docs/API.md "Admin"): ban, unban, kick,
 * list users, sessions and the audit log.
 *
 * The edge only checks shapes and forwards to im.svc.admin.<op>, which the
 * auth pool serves (actors/admin_ops.c); whether the caller is an admin is
 * decided there, on every request, from the role in MariaDB.  The token
 * check (401) is the dispatcher's, as on every route.  Every admin route
 * has access kind HTTP_ACCESS_ADMIN, so a 400 (malformed JSON, a bad
 * field) goes out only to an admin and a non-admin gets 403 whatever it
 * sends (http_access.c).  The client address (behind trusted proxies, the
 * X-Forwarded-For one: client_addr.h) goes along for the audit log.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/jsonv.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_LIMIT_MAX 200 /* store/admin_store.h ADMIN_LIST_MAX */

/* Query parameter key as an integer in [min, max] into *out (untouched if
 * absent); answers 400 and returns NT_EINVAL if malformed. */
static int query_int(http_req_t *r, const char *key, long long min, long long max,
                     long long *out)
{
    const char *qs = r->ri->query_string ? r->ri->query_string : "";
    char v[24], msg[96];
    int n = mg_get_var(qs, strlen(qs), key, v, sizeof v);
    if (n == -1)
        return NT_OK;
    char *end = NULL;
    long long x = n > 0 ? strtoll(v, &end, 10) : 0;
    if (n <= 0 || *end || x < min || x > max) {
        snprintf(msg, sizeof msg, "%s must be an integer %lld-%lld", key, min, max);
        http_reply_error(r, NT_EINVAL, msg);
        return NT_EINVAL;
    }
    *out = x;
    return NT_OK;
}

/* Send req to im.svc.admin.<op>; NT_OK with *reply of type d, or the
 * error has been answered. */
static int admin_call(http_req_t *r, const char *op, Natter__AdminReq *req,
                      const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply)
{
    req->ip = r->client;
    return http_call(r, "admin", op, &req->base, d, reply);
}

static json_t *opt_ms(int64_t v)
{
    return v ? json_integer(v) : json_null();
}

void route_admin_users(http_req_t *r)
{
    const char *qs = r->ri->query_string ? r->ri->query_string : "";
    char q[40] = "";
    long long limit = 50;
    if (mg_get_var(qs, strlen(qs), "query", q, sizeof q) == -2) {
        http_reply_error(r, NT_EINVAL, "query is too long");
        return;
    }
    if (query_int(r, "limit", 1, ADMIN_LIMIT_MAX, &limit) != NT_OK)
        return;
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.query = q;
    req.limit = (int32_t)limit;
    if (admin_call(r, "users", &req, &natter__admin_user_list__descriptor, &reply) != NT_OK)
        return;
    Natter__AdminUserList *list = (Natter__AdminUserList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_users; i++) {
        const Natter__AdminUser *u = list->users[i];
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:o,s:I,s:o}", "id", u->id, "username",
                           u->username, "display_name", u->display_name, "role", u->role,
                           "banned", u->banned, "ban_reason", u->ban_reason, "banned_until",
                           opt_ms(u->banned_until), "created_at", (json_int_t)u->created_at,
                           "last_seen", opt_ms(u->last_seen)));
    }
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "users", arr));
}

void route_admin_ban(http_req_t *r)
{
    char err[160];
    const char *reason = NULL;
    int64_t until = 0;
    json_t *obj = http_body_object(r);
    if (!obj)
        return;
    json_t *u = json_object_get(obj, "until");
    /* Unknown fields are ignored, as everywhere (API.md). */
    if (jsonv_str(obj, "reason", 0, 0, 500, &reason, err, sizeof err) != NT_OK ||
        (u && !json_is_null(u) &&
         jsonv_int(obj, "until", 0, 1, INT64_MAX, &until, err, sizeof err) != NT_OK)) {
        http_reply_error(r, NT_EINVAL, err);
        json_decref(obj);
        return;
    }
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.user_id = r->param;
    req.reason = (char *)(reason ? reason : "");
    req.until = until;
    if (admin_call(r, "ban", &req, &natter__empty__descriptor, &reply) == NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_json(r, 200, json_pack("{s:s,s:b}", "user_id", r->param, "banned", 1));
    }
    json_decref(obj);
}

void route_admin_unban(http_req_t *r)
{
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.user_id = r->param;
    if (admin_call(r, "unban", &req, &natter__empty__descriptor, &reply) == NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_json(r, 200, json_pack("{s:s,s:b}", "user_id", r->param, "banned", 0));
    }
}

void route_admin_audit(http_req_t *r)
{
    long long limit = 50, before = 0;
    if (query_int(r, "limit", 1, ADMIN_LIMIT_MAX, &limit) != NT_OK ||
        query_int(r, "before", 1, INT64_MAX, &before) != NT_OK)
        return;
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.limit = (int32_t)limit;
    req.before = before;
    if (admin_call(r, "audit", &req, &natter__audit_list__descriptor, &reply) != NT_OK)
        return;
    Natter__AuditList *list = (Natter__AuditList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_entries; i++) {
        const Natter__AuditEntry *e = list->entries[i];
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "id", e->id, "actor_id",
                           e->actor_id, "actor_name", e->actor_name, "action", e->action,
                           "target", e->target, "detail", e->detail, "address", e->address,
                           "created_at", (json_int_t)e->created_at));
    }
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "entries", arr));
}

void route_admin_sessions(http_req_t *r)
{
    const char *qs = r->ri->query_string ? r->ri->query_string : "";
    char uid[24];
    int n = mg_get_var(qs, strlen(qs), "user_id", uid, sizeof uid);
    if (n <= 0) {
        http_reply_error(r, NT_EINVAL, n == -2 ? "user_id is too long" : "user_id is required");
        return;
    }
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.user_id = uid;
    if (admin_call(r, "sessions", &req, &natter__admin_session_list__descriptor, &reply) !=
        NT_OK)
        return;
    Natter__AdminSessionList *list = (Natter__AdminSessionList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_sessions; i++) {
        const Natter__AdminSession *s = list->sessions[i];
        json_t *edges = json_array(), *conns = json_array();
        const Natter__AdminConnection *first = NULL;   /* the earliest socket */
        for (size_t k = 0; edges && k < s->n_edges; k++)
            json_array_append_new(edges, json_string(s->edges[k]));
        for (size_t k = 0; conns && k < s->n_connections; k++) {
            const Natter__AdminConnection *c = s->connections[k];
            json_array_append_new(conns, json_pack("{s:s,s:s?,s:o}", "edge", c->edge, "address",
                                                   *c->address ? c->address : NULL,
                                                   "connected_since",
                                                   c->since > 0 ? json_integer(c->since)
                                                                : json_null()));
            if (c->since > 0 && (!first || c->since < first->since))
                first = c;
        }
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:I,s:b,s:o,s:o,s:s?,s:o}", "session_id",
                           s->session_id, "user_id", s->user_id, "platform", s->platform,
                           "device_id", s->device_id, "created_at", (json_int_t)s->created_at,
                           "connected", s->n_edges > 0, "edges", edges ? edges : json_array(),
                           "connections", conns ? conns : json_array(), "address",
                           first && *first->address ? first->address : NULL, "connected_since",
                           first ? json_integer(first->since) : json_null()));
    }
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "sessions", arr));
}

void route_admin_kick(http_req_t *r)
{
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.session_id = r->param;
    if (admin_call(r, "kick", &req, &natter__empty__descriptor, &reply) == NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_status(r, 204);
    }
}

/* ---- IP rules ---- */

static json_t *rule_json(const Natter__IpRule *x)
{
    return json_pack("{s:s,s:s,s:s,s:I}", "id", x->id, "cidr", x->cidr, "action", x->action,
                     "created_at", (json_int_t)x->created_at);
}

void route_admin_rules(http_req_t *r)
{
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    if (admin_call(r, "ip_rules", &req, &natter__ip_rule_list__descriptor, &reply) != NT_OK)
        return;
    Natter__IpRuleList *list = (Natter__IpRuleList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_rules; i++)
        json_array_append_new(arr, rule_json(list->rules[i]));
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "rules", arr));
}

void route_admin_rule_add(http_req_t *r)
{
    char err[160];
    const char *cidr = NULL, *action = NULL;
    json_t *obj = http_body_object(r);
    if (!obj)
        return;
    /* Shapes only; whether cidr is a block is the pool's call (one place). */
    if (jsonv_str(obj, "cidr", 1, 1, 64, &cidr, err, sizeof err) != NT_OK ||
        jsonv_str(obj, "action", 1, 1, 16, &action, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        json_decref(obj);
        return;
    }
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.cidr = (char *)cidr;
    req.action = (char *)action;
    if (admin_call(r, "ip_rule_add", &req, &natter__ip_rule_list__descriptor, &reply) == NT_OK) {
        Natter__IpRuleList *list = (Natter__IpRuleList *)reply;
        if (list->n_rules == 1)
            http_reply_json(r, 201, json_pack("{s:o}", "rule", rule_json(list->rules[0])));
        else
            http_reply_error(r, NT_EINTERNAL, "internal error");
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    json_decref(obj);
}

void route_admin_rule_delete(http_req_t *r)
{
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.rule_id = r->param;
    if (admin_call(r, "ip_rule_delete", &req, &natter__empty__descriptor, &reply) == NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_status(r, 204);
    }
}
