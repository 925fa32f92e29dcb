/*
 * http_server.c - civetweb set-up and the request dispatcher: route table,
 * token check, body cap, metrics and one log line per request.
 *
 * Routing is a short table scanned in order: a dozen routes do not need a
 * trie, and the table is the list of what this edge serves.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/log.h"
#include "common/proc_stat.h"
#include "common/thread_stack.h"
#include "edge/authn.h"
#include "edge/revocations.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static void route_healthz(http_req_t *r);
static void route_metrics(http_req_t *r);

/* Route flags: AUTH needs a valid token; RAW means the handler reads the
 * body itself (uploads stream to disk, past the JSON body cap). */
#define AUTH 1
#define RAW 2

/* access: where the route's id is, for authorization before validation
 * (http_access.c); routes about one's own things, or public ones, have
 * none.  Files answer 403/404 from the media pool before any header is
 * looked at (routes_media_get.c), so they need none either. */
#define CONV_PATH HTTP_ACCESS_CONV_PATH
#define CONV_BODY HTTP_ACCESS_CONV_BODY
#define CONV_QUERY HTTP_ACCESS_CONV_QUERY
#define CONTACT_REQ HTTP_ACCESS_CONTACT_REQUEST
#define ADMIN HTTP_ACCESS_ADMIN

static const struct route {
    const char *method;
    const char *pattern; /* a trailing "{id}" matches one path segment */
    int flags;
    http_handler_fn fn;
    int access;
} routes[] = {
    {"POST", "/api/auth/register", 0, route_register, 0},
    {"POST", "/api/auth/login", 0, route_login, 0},
    {"POST", "/api/auth/refresh", 0, route_refresh, 0},
    {"POST", "/api/auth/logout", 1, route_logout, 0},
    {"POST", "/api/auth/password", 1, route_password, 0},
    {"GET", "/api/users/me", 1, route_me_get, 0},
    {"PUT", "/api/users/me", 1, route_me_put, 0},
    {"GET", "/api/users/{id}", 1, route_user_get, 0},
    {"GET", "/api/users", 1, route_user_search, 0},
    {"POST", "/api/conversations", 1, route_conv_create, 0},
    {"GET", "/api/conversations", 1, route_conv_list, 0},
    {"GET", "/api/conversations/{id}", 1, route_conv_get, CONV_PATH},
    {"PUT", "/api/conversations/{id}", 1, route_group_rename, CONV_PATH},
    {"POST", "/api/conversations/{id}/members", 1, route_group_add, CONV_PATH},
    {"DELETE", "/api/conversations/{id}/members/{uid}", 1, route_group_remove, CONV_PATH},
    {"PUT", "/api/conversations/{id}/members/{uid}", 1, route_group_role, CONV_PATH},
    {"POST", "/api/conversations/{id}/owner", 1, route_group_owner, CONV_PATH},
    {"POST", "/api/messages", 1, route_msg_send, CONV_BODY},
    {"GET", "/api/messages/history", 1, route_msg_history, CONV_QUERY},
    {"GET", "/api/messages/sync", 1, route_msg_sync, CONV_QUERY},
    {"POST", "/api/messages/read", 1, route_msg_read, CONV_BODY},
    {"POST", "/api/messages/{id}/revoke", 1, route_msg_revoke, 0},
    {"GET", "/api/contacts", 1, route_contact_list, 0},
    {"POST", "/api/contacts/apply", 1, route_contact_apply, 0},
    {"GET", "/api/contacts/requests", 1, route_contact_requests, 0},
    {"POST", "/api/contacts/handle", 1, route_contact_handle, CONTACT_REQ},
    {"DELETE", "/api/contacts/{id}", 1, route_contact_delete, 0},
    {"GET", "/api/presence", 1, route_presence, 0},
    {"GET", "/api/calls/ice_servers", 1, route_ice_servers, 0},
    {"GET", "/api/admin/users", AUTH, route_admin_users, ADMIN},
    {"POST", "/api/admin/users/{id}/ban", AUTH, route_admin_ban, ADMIN},
    {"POST", "/api/admin/users/{id}/unban", AUTH, route_admin_unban, ADMIN},
    {"GET", "/api/admin/audit", AUTH, route_admin_audit, ADMIN},
    {"GET", "/api/admin/sessions", AUTH, route_admin_sessions, ADMIN},
    {"DELETE", "/api/admin/sessions/{id}", AUTH, route_admin_kick, ADMIN},
    {"GET", "/api/admin/ip_rules", AUTH, route_admin_rules, ADMIN},
    {"POST", "/api/admin/ip_rules", AUTH, route_admin_rule_add, ADMIN},
    {"DELETE", "/api/admin/ip_rules/{id}", AUTH, route_admin_rule_delete, ADMIN},
    {"POST", "/api/files/upload", AUTH | RAW, route_file_upload, 0},
    {"GET", "/api/files/{id}", AUTH, route_file_get, 0},
    {"HEAD", "/api/files/{id}", AUTH, route_file_get, 0},
    {"GET", "/api/files/{id}/thumbnail", AUTH, route_file_thumbnail, 0},
    {"HEAD", "/api/files/{id}/thumbnail", AUTH, route_file_thumbnail, 0},
    {"GET", "/healthz", 0, route_healthz, 0},
    {"GET", "/metrics", 0, route_metrics, 0},
    {"GET", "/config.json", 0, route_web_config, 0},
    {"GET", "/**", 0, route_static, 0}, /* the web client (routes_static.c), last */
    {"HEAD", "/**", 0, route_static, 0},
};
#define NROUTES (sizeof routes / sizeof routes[0])

const char *http_route_pattern(size_t i, const char **method)
{
    if (i >= NROUTES)
        return NULL;
    if (method)
        *method = routes[i].method;
    return routes[i].pattern;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void traceparent_take(http_req_t *r)
{
    const char *tp = mg_get_header(r->conn, "traceparent");
    char id[40];
    /* Keep a caller's well-formed trace context, so traces cross into us. */
    if (tp && strlen(tp) == 55) {
        bus_trace_id(tp, id, sizeof id);
        if (strcmp(id, "-") != 0) {
            memcpy(r->traceparent, tp, 56);
            return;
        }
    }
    bus_traceparent_new(r->traceparent, sizeof r->traceparent);
}

/* Read the body within the cap and the deadline; 0 or an error already
 * answered.  civetweb's request_timeout_ms only ends a read that got no
 * byte for that long, and then hands back what it has; a body that stalls
 * is then 408 (connection closed) rather than read on.  A body trickled
 * faster than that cannot be cut here: mg_read blocks until it has what it
 * was asked for (docs/operations.md "Slow clients"). */
static int body_read(http_req_t *r)
{
    size_t max = r->edge->max_body;
    double deadline = mono_s() + r->edge->request_timeout_ms / 1000.0;
    long long declared = r->ri->content_length;
    if (declared > (long long)max) {
        http_reply_error(r, NT_ETOOLARGE, "request body too large");
        return NT_ETOOLARGE;
    }
    size_t cap = declared >= 0 ? (size_t)declared : 4096;
    r->body = malloc(cap + 1);
    if (!r->body) {
        http_reply_error(r, NT_ENOMEM, "internal error");
        return NT_ENOMEM;
    }
    for (;;) {
        if (r->body_len == cap) {
            if (declared >= 0 || cap > max)
                break;
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(r->body, ncap + 1);
            if (!nb) {
                http_reply_error(r, NT_ENOMEM, "internal error");
                return NT_ENOMEM;
            }
            r->body = nb;
            cap = ncap;
        }
        int got = mg_read(r->conn, r->body + r->body_len, cap - r->body_len);
        if (got <= 0)
            break;
        r->body_len += (size_t)got;
        if (mono_s() > deadline && r->body_len < cap) {
            http_reply_error_at(r, 408, NT_EINVAL, "request body too slow");
            return NT_ETIMEDOUT;
        }
    }
    r->body[r->body_len] = '\0';
    if (r->body_len > max) { /* chunked body past the cap */
        http_reply_error(r, NT_ETOOLARGE, "request body too large");
        return NT_ETOOLARGE;
    }
    return NT_OK;
}

static void dispatch(http_req_t *r)
{
    const char *path = r->ri->local_uri ? r->ri->local_uri : "";
    const struct route *rt = NULL;
    int path_known = 0;
    /* IP rules (docs/API.md "Admin") before anything else, health and
     * metrics excepted (they are for the operator's probes, not clients).
     * The body is not read: close the connection after the answer. */
    client_addr(r->ri->remote_addr, mg_get_header(r->conn, "X-Forwarded-For"), r->edge->proxies,
                r->edge->nproxies, r->client, sizeof r->client);
    if (atomic_load(&r->edge->draining))
        mg_disable_connection_keep_alive(r->conn); /* the next request goes elsewhere */
    if (strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0 &&
        iprules_denied(r->edge->iprules, r->client)) {
        r->route = "ip_denied";
        mg_disable_connection_keep_alive(r->conn);
        http_reply_error(r, NT_EFORBIDDEN, "address denied");
        return;
    }
    for (size_t i = 0; i < NROUTES && !rt; i++) {
        if (!http_path_match(routes[i].pattern, path, r->param, r->param2, sizeof r->param))
            continue;
        path_known = 1;
        if (strcmp(routes[i].method, r->ri->request_method) == 0)
            rt = &routes[i];
        else if (!strstr(r->allow, routes[i].method)) /* for the Allow header */
            snprintf(r->allow + strlen(r->allow), sizeof r->allow - strlen(r->allow), "%s%s",
                     r->allow[0] ? ", " : "", routes[i].method);
    }
    if (!rt) {
        r->route = "unmatched";
        if (path_known)
            http_reply_error_at(r, 405, NT_EINVAL, "method not allowed");
        else
            http_reply_error(r, NT_ENOTFOUND, "no such route");
        return;
    }
    r->route = rt->pattern;
    if (rt->flags & AUTH) {
        if (authn_bearer(mg_get_header(r->conn, "Authorization"), r->edge->keys,
                         r->edge->deny, wall_ms(), &r->who) != NT_OK) {
            http_reply_error(r, NT_EUNAUTH, "missing, invalid or expired token");
            return;
        }
        r->authed = 1;
        r->access = rt->access; /* only an authenticated caller has an id to check */
    }
    if ((strcmp(rt->method, "POST") == 0 || strcmp(rt->method, "PUT") == 0) &&
        !(rt->flags & RAW) && body_read(r) != NT_OK)
        return;
    rt->fn(r);
}

static int on_request(struct mg_connection *conn, void *arg)
{
    http_req_t r = {.edge = arg, .conn = conn, .ri = mg_get_request_info(conn)};
    double t0 = mono_s();
    char trace[40];
    traceparent_take(&r);
    bus_trace_id(r.traceparent, trace, sizeof trace);
    log_trace_set(trace); /* every line of this request carries it */
    dispatch(&r);
    if (!r.status) /* a handler that forgot to answer is a bug; do not hang */
        http_reply_error(&r, NT_EINTERNAL, "internal error");
    double dt = mono_s() - t0;
    char labels[160];
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", r.route ? r.route : "unmatched",
             r.status);
    metrics_count(r.edge->metrics, "natter_http_requests_total", "HTTP requests by route and status",
                  labels, 1);
    snprintf(labels, sizeof labels, "route=\"%s\"", r.route ? r.route : "unmatched");
    metrics_observe(r.edge->metrics, "natter_http_request_duration_seconds",
                    "HTTP request latency", labels, dt);
    log_info("http", "method=%s route=%s status=%d ms=%.2f uid=%s sid=%s trace=%s",
             r.ri->request_method, r.route ? r.route : "unmatched", r.status, dt * 1000,
             r.authed ? r.who.uid : "-", r.authed ? r.who.sid : "-", trace);
    log_trace_set(NULL);
    free(r.body);
    return r.status;
}

static void route_healthz(http_req_t *r)
{
    /* Not healthy before the deny-list's first load: until then a token
     * revoked before this edge started would pass here (DESIGN.md "Tokens"),
     * so a balancer (and ops/up, and the tests) must not send clients yet. */
    int loaded = (!r->edge->revs || revocations_loaded(r->edge->revs)) &&
                 (!r->edge->iprules || iprules_loaded(r->edge->iprules)); /* same for IP rules */
    int draining = atomic_load(&r->edge->draining);
    int ok = bus_connected(r->edge->bus) && loaded && !draining;
    json_t *body = json_pack("{s:s}", "status", ok         ? "ok"
                                                : draining ? "draining"
                                                : loaded   ? "unavailable"
                                                           : "starting");
    http_reply_json(r, ok ? 200 : 503, body);
}

static void route_metrics(http_req_t *r)
{
    size_t len = 0;
    metrics_gauge(r->edge->metrics, "natter_http_worker_stack_bytes",
                  "smallest stack a civetweb worker thread has", "",
                  (double)atomic_load(&r->edge->worker_stack_seen));
    metrics_gauge(r->edge->metrics, "natter_denylist_sessions", "revoked sessions held", "",
                  (double)denylist_size(r->edge->deny));
    char *reg = metrics_render(r->edge->metrics, &len);
    textbuf_t t = {0};
    if (reg)
        textbuf_printf(&t, "%s", reg);
    free(reg);
    bus_prometheus(r->edge->bus, &t);  /* reconnects, request timeouts */
    proc_stat_prometheus(&t);          /* memory, CPU, fds */
    char *text = reg ? textbuf_take(&t, &len) : NULL;
    if (!text) {
        free(textbuf_take(&t, &len));
        http_reply_error(r, NT_ENOMEM, "internal error");
        return;
    }
    http_reply_raw(r, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

/* Errors civetweb answers itself (a request line or headers it cannot
 * parse, a bad Content-Length, ...).  Its own answer to a request line with
 * an extra space echoes the rest of the request head into the status line
 * ("HTTP/y HTTP/1.1\r\nHost: ...\r 400 Bad Request"), so a client could
 * make the edge send header lines of its choosing (found by ops/fuzz-live).
 * This one sends fixed bytes: API.md's error shape, and the connection
 * closes. */
static int on_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    char head[256], body[128];
    (void)errmsg; /* may hold the client's bytes */
    if (status < 400 || status > 599)
        status = 400;
    int blen = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                        status >= 500 ? "internal" : status == 413 ? "too_large" : "bad_request",
                        status >= 500 ? "internal error" : "malformed request");
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nCache-Control: no-store\r\n"
                        "Connection: close\r\n\r\n",
                        status, mg_get_response_code_text(conn, status), blen);
    mg_disable_connection_keep_alive(conn);
    mg_write(conn, head, (size_t)hlen);
    mg_write(conn, body, (size_t)blen);
    return 0;
}

static int on_log(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("civetweb", "detail=\"%.200s\"", message);
    return 1;
}

/* Each worker says what stack it got: the choice made in http_edge_start
 * is checked, not assumed (the gauge natter_http_worker_stack_bytes). */
static void *on_thread(const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL;
    http_edge_t *e = mg_get_user_data(ctx);
    size_t got = thread_stack_self(), seen = atomic_load(&e->worker_stack_seen);
    while ((seen == 0 || got < seen) &&
           !atomic_compare_exchange_weak(&e->worker_stack_seen, &seen, got))
        ;
    return NULL;
}

int http_edge_start(http_edge_t *e, const char *bind, int port, int threads)
{
    char listen[128], nthreads[16], req_ms[16], ka_ms[16];
    if (e->request_timeout_ms <= 0)
        e->request_timeout_ms = HTTP_REQUEST_TIMEOUT_MS;
    if (e->worker_stack == 0)
        e->worker_stack = HTTP_WORKER_STACK;
    snprintf(listen, sizeof listen, "%s:%d", bind, port);
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    snprintf(req_ms, sizeof req_ms, "%d", e->request_timeout_ms);
    snprintf(ka_ms, sizeof ka_ms, "%d", e->keep_alive_ms);
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", nthreads,
        /* The whole header block must arrive within this (civetweb counts
         * from the first read, not per byte): a slowloris connection holds
         * a worker this long at most, then is closed. */
        "request_timeout_ms", req_ms,
        /* An idle kept-alive connection holds a worker too: keep it short. */
        "enable_keep_alive", e->keep_alive_ms > 0 ? "yes" : "no",
        "keep_alive_timeout_ms", ka_ms,
        /* Headers and body leave in two writes; with Nagle on, the body
         * waits for the client's delayed ACK (40 ms per request). */
        "tcp_nodelay", "1",
        NULL,
    };
    if (e->media_root && http_media_init(e) != NT_OK)
        return NT_EIO;
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = on_log;
    cb.init_thread = on_thread;
    cb.http_error = on_http_error;
    /* Before mg_start: the workers are created there. */
    thread_stack_floor_set(e->worker_stack);
    mg_init_library(0);
    e->mg = mg_start(&cb, e, options);
    if (!e->mg) {
        log_error("cannot listen", "addr=%s", listen);
        mg_exit_library();
        return NT_EIO;
    }
    mg_set_request_handler(e->mg, "**", on_request, e);
    log_info("http edge listening",
             "addr=%s threads=%d max_body=%zu request_timeout_ms=%d keep_alive_ms=%d "
             "worker_stack=%zu",
             listen, threads, e->max_body, e->request_timeout_ms, e->keep_alive_ms,
             e->worker_stack);
    return NT_OK;
}

void http_edge_drain(http_edge_t *e)
{
    atomic_store(&e->draining, 1);
}

void http_edge_stop(http_edge_t *e)
{
    if (!e->mg)
        return;
    mg_stop(e->mg); /* joins the workers: in-flight requests finish first */
    e->mg = NULL;
    mg_exit_library();
}
