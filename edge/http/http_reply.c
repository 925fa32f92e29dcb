/*
 * http_reply.c - writing responses in API.md's shapes: JSON bodies, the
 * {"error":{"code","message"}} error shape with the status its code implies,
 * and the 400 for a body that is not a JSON object.  A 400 on a route that
 * names an id first passes the access check (http_access.c).
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/jsonv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_reply_raw(http_req_t *r, int status, const char *ctype, const char *body, size_t len)
{
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", len);
    mg_response_header_start(r->conn, status);
    if (ctype)
        mg_response_header_add(r->conn, "Content-Type", ctype, -1);
    mg_response_header_add(r->conn, "Content-Length", clen, -1);
    mg_response_header_add(r->conn, "Cache-Control", "no-store", -1);
    /* A body we refused to read is still on the socket: do not reuse it.
     * The header alone does not make civetweb close; must_close does. */
    if (status == 413 || status == 408) {
        mg_disable_connection_keep_alive(r->conn);
        mg_response_header_add(r->conn, "Connection", "close", -1);
    }
    if (status == 405)
        mg_response_header_add(r->conn, "Allow", r->allow, -1);
    mg_response_header_send(r->conn);
    /* HEAD (file downloads) gets the headers of the answer, never a body:
     * the client would read it as the start of the next response. */
    if (len && strcmp(r->ri->request_method, "HEAD") != 0)
        mg_write(r->conn, body, len);
    r->status = status;
}

void http_reply_json(http_req_t *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}";
        http_reply_raw(r, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    http_reply_raw(r, status, "application/json", text, strlen(text));
    free(text);
}

static void reply_error(http_req_t *r, int status, int err, const char *message,
                        const char *detail)
{
    char why[160];
    /* Authorization before validation (http_access.c): a 400 on a route
     * that names an id goes out only to a caller who may see that id. */
    if (status == 400 && r->access != HTTP_ACCESS_NONE && !r->access_checked) {
        r->access_checked = 1;
        int rc = http_access_check(r, why, sizeof why);
        if (rc != NT_OK) {
            err = rc;
            status = api_status(api_code(rc));
            message = why;
            detail = NULL; /* it was about the request the caller may not make */
        }
    }
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", api_code(err), "message",
                             message && *message ? message : nt_strerror(err));
    json_t *extra = detail && *detail ? json_loads(detail, 0, NULL) : NULL;
    const char *key;
    json_t *v;
    /* code and message stay the edge's: a detail only adds members. */
    if (body && json_is_object(extra))
        json_object_foreach(extra, key, v)
            if (strcmp(key, "code") != 0 && strcmp(key, "message") != 0)
                json_object_set(json_object_get(body, "error"), key, v);
    json_decref(extra);
    http_reply_json(r, status, body);
}

void http_reply_error_at(http_req_t *r, int status, int err, const char *message)
{
    reply_error(r, status, err, message, NULL);
}

void http_reply_error_detail(http_req_t *r, int err, const char *message, const char *detail)
{
    reply_error(r, api_status(api_code(err)), err, message, detail);
}

void http_reply_error(http_req_t *r, int err, const char *message)
{
    http_reply_error_at(r, api_status(api_code(err)), err, message);
}

void http_reply_status(http_req_t *r, int status)
{
    http_reply_raw(r, status, NULL, "", 0);
}

json_t *http_body_object(http_req_t *r)
{
    json_t *obj = NULL;
    char err[160];
    if (jsonv_parse_object(r->body ? r->body : "", r->body_len, &obj, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        return NULL;
    }
    return obj;
}
