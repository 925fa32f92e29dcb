/*
 * http_access.c - authorization before validation on routes that take an
 * id (issue 11; docs/API.md "Errors").
 *
 * A 400 tells the caller that the id it named got as far as body checks,
 * so it exists and it was allowed; a pool's 400 can say more ("not a group
 * conversation").  A caller who may not see the thing must learn nothing
 * but 403/404.  Rather than reorder every check in every handler and pool,
 * the edge does it at the one place every error leaves through:
 * http_reply_error_at calls http_access_check before it sends a 400 on a
 * route whose table row names an access kind, and sends the check's
 * 403/404 (or 503 when it cannot tell) instead.  The check is one bus
 * request that only asks "may uid see this id", made on the error path
 * only: a valid request costs nothing extra, and a member still gets the
 * real 400.
 *
 * Where the id cannot be read (no body, no such field, not an id) the 400
 * stands: it is about the caller's own request and names nothing of
 * anyone's.
 */
#include "edge/http/http_edge.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <string.h>

/* 1 if s is a canonical decimal id (what conversation, message and
 * request ids are). */
static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

/* Ask subject with m for r's user; the reply's error code, NT_OK, or the
 * transport's failure.  Answers nothing to the client. */
static int ask(http_req_t *r, const char *subject, const ProtobufCMessage *m,
               const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply, char *why,
               size_t n)
{
    natsMsg *req = NULL, *rep = NULL;
    int rc = bus_msg_new_pb(subject, m, r->who.uid, r->traceparent, &req);
    if (rc == NT_OK)
        rc = bus_request(r->edge->bus, req, r->edge->timeout_ms, &rep);
    if (rc != NT_OK) {
        snprintf(why, n, "service unavailable, try again");
        return NT_EUNAVAIL;
    }
    rc = bus_reply_status(rep, why, n);
    if (rc == NT_OK && reply) {
        *reply = protobuf_c_message_unpack(d, NULL, (size_t)natsMsg_GetDataLength(rep),
                                           (const uint8_t *)natsMsg_GetData(rep));
        if (!*reply) {
            snprintf(why, n, "internal error");
            rc = NT_EINTERNAL;
        }
    }
    natsMsg_Destroy(rep);
    return rc;
}

/* May r's user see conversation cid?  The conversation actor's "get"
 * applies the membership rule every other verb applies. */
static int conv_access(http_req_t *r, const char *cid, char *why, size_t n)
{
    char subject[SUBJECT_MAX];
    Natter__ConvGetReq req = NATTER__CONV_GET_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    if (!id_ok(cid) || subject_conv(subject, sizeof subject, cid, "get") != NT_OK) {
        snprintf(why, n, "conversation not found");
        return NT_ENOTFOUND;
    }
    req.conversation_id = (char *)cid;
    int rc = ask(r, subject, &req.base, &natter__conv_reply__descriptor, &reply, why, n);
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    return rc;
}

/* Is request_id one of r's user's pending contact requests (either way)? */
static int contact_request_access(http_req_t *r, const char *request_id, char *why, size_t n)
{
    char subject[SUBJECT_MAX];
    Natter__Empty req = NATTER__EMPTY__INIT;
    ProtobufCMessage *reply = NULL;
    if (subject_svc(subject, sizeof subject, "auth", "contact_requests") != NT_OK)
        return NT_EINTERNAL;
    int rc = ask(r, subject, &req.base, &natter__contact_request_list__descriptor, &reply, why,
                 n);
    if (rc != NT_OK)
        return rc;
    Natter__ContactRequestList *list = (Natter__ContactRequestList *)reply;
    rc = NT_ENOTFOUND;
    for (size_t i = 0; i < list->n_requests; i++)
        if (list->requests[i]->id && strcmp(list->requests[i]->id, request_id) == 0)
            rc = NT_OK;
    protobuf_c_message_free_unpacked(reply, NULL);
    if (rc == NT_ENOTFOUND)
        snprintf(why, n, "contact request not found");
    return rc;
}

/* A string field of the JSON body, copied into out; 0 if there is none. */
static int body_field(http_req_t *r, const char *key, char *out, size_t n)
{
    json_t *obj = NULL;
    const char *v = NULL;
    int ok = 0;
    if (!r->body || jsonv_parse_object(r->body, r->body_len, &obj, NULL, 0) != NT_OK)
        return 0;
    v = json_string_value(json_object_get(obj, key));
    if (v && strlen(v) < n) {
        memcpy(out, v, strlen(v) + 1);
        ok = 1;
    }
    json_decref(obj);
    return ok;
}

/* Is r's user an admin?  im.svc.admin.check answers Empty or 403. */
static int admin_access(http_req_t *r, char *why, size_t n)
{
    char subject[SUBJECT_MAX];
    Natter__AdminReq req = NATTER__ADMIN_REQ__INIT;
    if (subject_svc(subject, sizeof subject, "admin", "check") != NT_OK)
        return NT_EINTERNAL;
    return ask(r, subject, &req.base, NULL, NULL, why, n);
}

int http_access_check(http_req_t *r, char *why, size_t n)
{
    char id[72];
    if (!r->authed)
        return NT_OK;
    switch (r->access) {
    case HTTP_ACCESS_CONV_PATH:
        return conv_access(r, r->param, why, n);
    case HTTP_ACCESS_CONV_BODY:
        if (!body_field(r, "conversation_id", id, sizeof id) || !id_ok(id))
            return NT_OK;
        return conv_access(r, id, why, n);
    case HTTP_ACCESS_CONV_QUERY: {
        const char *qs = r->ri->query_string ? r->ri->query_string : "";
        if (mg_get_var(qs, strlen(qs), "conversation_id", id, sizeof id) <= 0 || !id_ok(id))
            return NT_OK;
        return conv_access(r, id, why, n);
    }
    case HTTP_ACCESS_CONTACT_REQUEST:
        if (!body_field(r, "request_id", id, sizeof id))
            return NT_OK;
        return contact_request_access(r, id, why, n);
    case HTTP_ACCESS_ADMIN:
        return admin_access(r, why, n);
    default:
        return NT_OK;
    }
}
