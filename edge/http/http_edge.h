/*
 * http_edge.h - the REST edge (civetweb).
 *
 * Each request runs on a civetweb worker thread: match a route, check the
 * bearer token locally (no bus hop), read the body within the cap, turn the
 * JSON into a protobuf request, send it to the pool over the bus with
 * Natter-Uid and traceparent, and turn the reply (or Natter-Error) back into
 * API.md JSON.  A pool that does not answer in nats.request_timeout_ms gives
 * 503 unavailable, never a hang.  The edge holds no user state besides the
 * deny-list.
 */
#ifndef NT_HTTP_EDGE_H
#define NT_HTTP_EDGE_H

#include "bus/bus.h"
#include "common/metrics.h"
#include "common/token.h"
#include "edge/denylist.h"
#include "edge/client_addr.h"
#include "edge/iprules.h"

#include <civetweb.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Defaults of the slow-client bounds (config [http], docs/operations.md). */
#define HTTP_REQUEST_TIMEOUT_MS 10000
#define HTTP_KEEP_ALIVE_MS 5000
#define HTTP_WORKER_STACK (512 * 1024)

typedef struct http_edge {
    bus_t *bus;
    const token_keys_t *keys;  /* public key only */
    denylist_t *deny;
    struct revocations *revs;  /* the deny-list feed; /healthz waits for its first load */
    iprules_t *iprules;        /* the admin's IP rules (NULL: none applied) */
    /* http.trusted_proxies: peers whose X-Forwarded-For names the client
     * (client_addr.h); read-only after start. */
    cidr_t proxies[CLIENT_ADDR_PROXIES_MAX];
    int nproxies;
    metrics_t *metrics;
    size_t max_body;           /* bytes */
    int timeout_ms;            /* bus request timeout */
    const char *media_root;    /* files live here (docs/media.md); NULL: no file routes */
    size_t max_upload;         /* bytes of one upload (media.max_upload_bytes) */
    /* Slow-client bounds (docs/operations.md "Slow clients").  A worker
     * thread serves one connection at a time, so these say how long one
     * client can hold one. */
    int request_timeout_ms;    /* headers, and the JSON body, of one request; 0: default */
    int keep_alive_ms;         /* idle wait for the next request; 0: no keep-alive */
    size_t worker_stack;       /* bytes; floor under civetweb's fixed 100 KiB; 0: default */
    /* Smallest stack a worker reported having (init_thread); written by
     * the workers as they start, read by /metrics and the tests. */
    _Atomic size_t worker_stack_seen;
    const char *web_root;      /* the web client's files (docs/web.md); NULL: none */
    const char *ws_url;        /* http.ws_url: the client's WebSocket URL; "": derived */
    int ws_port;               /* ws.port, for the derived URL */
    struct mg_context *mg;
    /* Set by http_edge_drain (SIGTERM): /healthz answers 503 "draining" so a
     * balancer stops sending here, and no connection is kept alive. */
    _Atomic int draining;
} http_edge_t;

/* One request in flight; lives on the worker's stack. */
typedef struct http_req {
    http_edge_t *edge;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    const char *route;         /* pattern, for metrics and logs */
    char param[72];            /* the {id} of the path, if any */
    char param2[72];           /* the {uid} of the path, if any */
    token_claims_t who;        /* valid when authed */
    int authed;
    char traceparent[64];
    char client[CIDR_TEXT_MAX]; /* the client's address (client_addr.h) */
    char *body;                /* NUL-terminated, owned by the dispatcher */
    size_t body_len;
    char allow[32];            /* methods for a 405's Allow header */
    int access;                /* HTTP_ACCESS_*: what a 400 must be checked against */
    int access_checked;        /* http_access_check ran (once per request) */
    int status;                /* what was answered */
} http_req_t;

typedef void (*http_handler_fn)(http_req_t *r);

/* Authorization before validation (http_access.c): on a route that names
 * an id, a 400 is only sent once the caller is known to have access to
 * that id; otherwise the access check's 403/404 goes out instead.  The
 * route table says where the id is. */
enum {
    HTTP_ACCESS_NONE = 0,
    HTTP_ACCESS_CONV_PATH,       /* conversation id in the path ({id}) */
    HTTP_ACCESS_CONV_BODY,       /* "conversation_id" of the JSON body */
    HTTP_ACCESS_CONV_QUERY,      /* conversation_id= in the query */
    HTTP_ACCESS_CONTACT_REQUEST, /* "request_id" of the JSON body */
    HTTP_ACCESS_ADMIN,           /* the admin routes: the caller must be an admin */
};
/* NT_OK if r's caller may see the id of r's route (or there is no id to
 * check), else NT_EFORBIDDEN / NT_ENOTFOUND / NT_EUNAVAIL with the message
 * in why.  Makes one bus request; answers nothing itself. */
int http_access_check(http_req_t *r, char *why, size_t n);

/* Start listening on bind:port with threads workers.  Sets the process's
 * thread stack floor (common/thread_stack.h) to e->worker_stack first. */
int http_edge_start(http_edge_t *e, const char *bind, int port, int threads);
/* The first step of a drain (docs/operations.md "Rolling restart"): keep
 * serving, but /healthz says 503 "draining" and every answer closes its
 * connection, so a balancer and keep-alive clients move to another edge
 * before http_edge_stop closes the listener (a connection still in the
 * listen queue then would be reset). */
void http_edge_drain(http_edge_t *e);
/* Stop accepting, finish in-flight requests, free civetweb. */
void http_edge_stop(http_edge_t *e);

/* Routing (http_route.c), pure functions.  http_path_match: 1 if path
 * matches pattern segment by segment; "{id}" matches one non-empty segment
 * into param, "{uid}" into param2 (each n bytes).  http_query_int: the
 * query string's integer key in [min, max] (decimal, no sign '+', no
 * spaces); absent leaves *out and returns 0; otherwise NT_EINVAL with a
 * message for the client in err.  qs may be NULL. */
int http_path_match(const char *pattern, const char *path, char *param, char *param2, size_t n);
int http_query_int(const char *qs, const char *key, long long min, long long max,
                   long long *out, char *err, size_t errlen);
/* The i-th route's pattern and method (http_server.c's table), NULL past
 * the end: what the router fuzz target matches paths against. */
const char *http_route_pattern(size_t i, const char **method);

/* Responses (http_reply.c).  Each answers once; r->status records it. */
void http_reply_json(http_req_t *r, int status, json_t *body);  /* steals body */
void http_reply_error(http_req_t *r, int err, const char *message); /* NT_E* code */
/* The same with the members of detail (a JSON object text from the pool,
 * natter.Error.detail; "" or anything else: none) added to the error object. */
void http_reply_error_detail(http_req_t *r, int err, const char *message, const char *detail);
/* Same with an explicit status (405, which has no API code of its own). */
void http_reply_error_at(http_req_t *r, int status, int err, const char *message);
void http_reply_status(http_req_t *r, int status);              /* no body (204) */
void http_reply_raw(http_req_t *r, int status, const char *ctype, const char *body, size_t len);

/* Parse r->body as a JSON object; on failure answers 400 and returns NULL. */
json_t *http_body_object(http_req_t *r);

/* Call pool op with m (http_call.c).  On success returns 0 and *reply is the
 * unpacked reply of type d (free with protobuf_c_message_free_unpacked); on
 * failure the error response has been sent and a negative code returns. */
int http_call(http_req_t *r, const char *pool, const char *op, const ProtobufCMessage *m,
              const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply);
/* The same on a full subject (a conversation actor, im.conv.<cid>.<verb>). */
int http_call_subject(http_req_t *r, const char *subject, const ProtobufCMessage *m,
                      const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply);

/* Auth and user routes (routes_auth.c). */
void route_register(http_req_t *r);
void route_login(http_req_t *r);
void route_refresh(http_req_t *r);
void route_logout(http_req_t *r);
void route_password(http_req_t *r);
void route_me_get(http_req_t *r);
void route_me_put(http_req_t *r);
void route_user_get(http_req_t *r);
void route_user_search(http_req_t *r);

/* Conversation and message routes (routes_msg.c). */
void route_conv_create(http_req_t *r);
void route_conv_list(http_req_t *r);
void route_conv_get(http_req_t *r);
void route_msg_send(http_req_t *r);
void route_msg_history(http_req_t *r);
void route_msg_sync(http_req_t *r);
void route_msg_read(http_req_t *r);

/* Groups (routes_group.c).  route_group_create is route_conv_create's
 * part for type "group"; obj stays the caller's. */
void route_group_create(http_req_t *r, json_t *obj);
void route_group_rename(http_req_t *r);
void route_group_add(http_req_t *r);
void route_group_remove(http_req_t *r);
void route_group_role(http_req_t *r);
void route_group_owner(http_req_t *r);
void route_msg_revoke(http_req_t *r);

/* Admin routes (routes_admin.c, docs/API.md "Admin"). */
void route_admin_users(http_req_t *r);
void route_admin_ban(http_req_t *r);
void route_admin_unban(http_req_t *r);
void route_admin_audit(http_req_t *r);
void route_admin_sessions(http_req_t *r);
void route_admin_kick(http_req_t *r);
void route_admin_rules(http_req_t *r);
void route_admin_rule_add(http_req_t *r);
void route_admin_rule_delete(http_req_t *r);

/* Contact routes (routes_contacts.c). */
void route_contact_apply(http_req_t *r);
void route_contact_handle(http_req_t *r);
void route_contact_requests(http_req_t *r);
void route_contact_list(http_req_t *r);
void route_contact_delete(http_req_t *r);

/* Presence (routes_presence.c).  http_presence_ids splits csv in place
 * into at most max distinct user ids (ids[] borrows from csv, first
 * occurrence order); NT_EINVAL with a message for an empty list, a bad id
 * or more than max entries. */
#define HTTP_PRESENCE_IDS_MAX 200
void route_presence(http_req_t *r);
int http_presence_ids(char *csv, int max, const char **ids, int *n, char *err, size_t errlen);

/* Files (routes_media.c, docs/media.md).  The upload route reads its own
 * body (streamed to <media root>/tmp/, never held in memory); downloads are
 * served from the media root after im.svc.media.get said yes.
 * http_media_init creates <media root>/tmp/ at start. */
int http_media_init(http_edge_t *e);
void route_file_upload(http_req_t *r);
void route_file_get(http_req_t *r);
void route_file_thumbnail(http_req_t *r);

/* Header helpers of the file routes (file_headers.c), pure functions.
 * http_range_parse: a Range header against a representation of size bytes
 * (RFC 9110 14.2): HTTP_RANGE_NONE to send it whole (no header, another
 * unit, several ranges, a malformed one: all may be ignored),
 * HTTP_RANGE_PARTIAL with [*first, *last] inside it, or
 * HTTP_RANGE_UNSATISFIABLE (416). */
enum { HTTP_RANGE_NONE = 0, HTTP_RANGE_PARTIAL = 1, HTTP_RANGE_UNSATISFIABLE = 2 };
int http_range_parse(const char *hdr, long long size, long long *first, long long *last);
/* 1 if name (len bytes) is a file name we keep: 1-255 bytes of UTF-8, no
 * control characters, no '/' or '\\', not "." or "..". */
int http_file_name_ok(const char *name, size_t len);
/* An upload's ?name= from the query string qs (may be NULL), URL-decoded
 * into name (n bytes): "file" when absent; NT_EINVAL when it is not a name
 * http_file_name_ok keeps (or holds a %00, or does not fit). */
int http_upload_name(const char *qs, char *name, size_t n);
/* Content-Disposition for name: "inline" or "attachment", an ASCII
 * filename= fallback and filename*=UTF-8''... (RFC 6266, RFC 5987).
 * NT_EINVAL if out (n bytes) is too small. */
int http_content_disposition(const char *name, int inline_, char *out, size_t n);

/* The web client (routes_static.c, docs/web.md): files under web_root for
 * GET and HEAD of any path outside /api/, and GET /config.json.
 * http_static_path_ok: 1 if a request path is one we would look up ("/" or
 * plain segments of [A-Za-z0-9._-], none empty or starting with '.'). */
void route_static(http_req_t *r);
void route_web_config(http_req_t *r);
int http_static_path_ok(const char *path);

#endif
