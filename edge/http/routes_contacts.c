/*
 * routes_contacts.c - REST routes of the contacts (API.md "Users and
 * contacts", docs/contacts.md): JSON in, protobuf to im.svc.auth.contact_<op>
 * over the bus, JSON out.
 *
 * As with the other routes, the edge checks JSON shape only (presence and
 * types, generous length caps so nothing huge crosses the bus); the rules
 * (no request to oneself, message length, who may handle what) live in the
 * pool.  Ids travel in payloads, never in subjects, so an odd id is simply
 * one the pool does not find (404).
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/jsonv.h"
#include "edge/msg_json.h"
#include "proto/natter.pb-c.h"

#include <stdlib.h>

#define ID_CAP 32         /* chars of an id field; the pool parses it */
#define FIELD_CAP 4096    /* chars of a message; the pool applies the real limit */

static int get_str(http_req_t *r, json_t *obj, const char *key, int required, size_t max,
                   const char **out)
{
    char err[160];
    if (jsonv_str(obj, key, required, 0, max, out, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        return NT_EINVAL;
    }
    return NT_OK;
}

/* {request} with 201 for a new request, else 200. */
static void reply_request(http_req_t *r, ProtobufCMessage *reply)
{
    Natter__ContactRequestReply *rep = (Natter__ContactRequestReply *)reply;
    static const Natter__ContactRequest none = NATTER__CONTACT_REQUEST__INIT;
    json_t *body = json_pack("{s:o}", "request",
                             contact_request_json(rep->request ? rep->request : &none));
    http_reply_json(r, rep->created ? 201 : 200, body);
    protobuf_c_message_free_unpacked(reply, NULL);
}

void route_contact_apply(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__ContactApplyReq req = NATTER__CONTACT_APPLY_REQ__INIT;
    const char *uid = NULL, *message = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "user_id", 1, ID_CAP, &uid) == NT_OK &&
        get_str(r, obj, "message", 0, FIELD_CAP, &message) == NT_OK) {
        req.user_id = (char *)uid;
        req.message = (char *)(message ? message : "");
        if (http_call(r, "auth", "contact_apply", &req.base,
                      &natter__contact_request_reply__descriptor, &reply) == NT_OK)
            reply_request(r, reply);
    }
    json_decref(obj);
}

void route_contact_handle(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__ContactHandleReq req = NATTER__CONTACT_HANDLE_REQ__INIT;
    const char *rid = NULL, *action = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "request_id", 1, ID_CAP, &rid) == NT_OK &&
        get_str(r, obj, "action", 1, 16, &action) == NT_OK) {
        req.request_id = (char *)rid;
        req.action = (char *)action;
        if (http_call(r, "auth", "contact_handle", &req.base,
                      &natter__contact_request_reply__descriptor, &reply) == NT_OK)
            reply_request(r, reply);
    }
    json_decref(obj);
}

void route_contact_requests(http_req_t *r)
{
    Natter__Empty req = NATTER__EMPTY__INIT;
    ProtobufCMessage *reply = NULL;
    if (http_call(r, "auth", "contact_requests", &req.base,
                  &natter__contact_request_list__descriptor, &reply) != NT_OK)
        return;
    Natter__ContactRequestList *list = (Natter__ContactRequestList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_requests; i++)
        json_array_append_new(arr, contact_request_json(list->requests[i]));
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "requests", arr));
}

void route_contact_list(http_req_t *r)
{
    Natter__Empty req = NATTER__EMPTY__INIT;
    ProtobufCMessage *reply = NULL;
    if (http_call(r, "auth", "contact_list", &req.base, &natter__contact_list__descriptor,
                  &reply) != NT_OK)
        return;
    Natter__ContactList *list = (Natter__ContactList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_contacts; i++)
        json_array_append_new(arr, contact_json(list->contacts[i]));
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "contacts", arr));
}

void route_contact_delete(http_req_t *r)
{
    Natter__ContactDeleteReq req = NATTER__CONTACT_DELETE_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.user_id = r->param;
    if (http_call(r, "auth", "contact_delete", &req.base, &natter__empty__descriptor, &reply) ==
        NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_status(r, 204);
    }
}
