/*
 * routes_msg.c - REST routes of the msg pool (API.md "Conversations",
 * "Messages"): JSON in, protobuf over the bus, JSON out.
 *
 * Requests about one conversation go to its actor's address,
 * im.conv.<cid>.<verb>; the rest to im.svc.msg.<op>.  The edge checks JSON
 * shape and that a conversation id is an id (so it can never inject into a
 * subject); the message rules (type, body length, client_msg_id alphabet)
 * live in the pool, shared with the WebSocket edge.
 */
#include "edge/http/http_edge.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "edge/msg_json.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_CAP 4096    /* chars of short fields; the pool applies the real limits */
#define BODY_CAP 1000000  /* chars of a message body: the http body cap comes first */

/* 1 if s is a canonical decimal id (1-19 digits, no leading zero). */
static int cid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 19 || s[0] == '0')
        return 0;
    return strspn(s, "0123456789") == n;
}

static int get_str(http_req_t *r, json_t *obj, const char *key, size_t max, const char **out)
{
    char err[160];
    if (jsonv_str(obj, key, 1, 0, max, out, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        return NT_EINVAL;
    }
    return NT_OK;
}

/* The body's conversation_id: present, a string, an id; else 400. */
static int get_cid(http_req_t *r, json_t *obj, const char **out)
{
    if (get_str(r, obj, "conversation_id", 32, out) != NT_OK)
        return NT_EINVAL;
    if (!cid_ok(*out)) {
        http_reply_error(r, NT_EINVAL, "conversation_id must be a conversation id");
        return NT_EINVAL;
    }
    return NT_OK;
}

/* Call the actor of conversation cid with verb. */
static int conv_call(http_req_t *r, const char *cid, const char *verb, const ProtobufCMessage *m,
                     const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply)
{
    char subject[SUBJECT_MAX];
    if (subject_conv(subject, sizeof subject, cid, verb) != NT_OK) {
        http_reply_error(r, NT_ENOTFOUND, "conversation not found");
        return NT_ENOTFOUND;
    }
    return http_call_subject(r, subject, m, d, reply);
}

static void reply_conv(http_req_t *r, ProtobufCMessage *reply, int status_new)
{
    Natter__ConvReply *c = (Natter__ConvReply *)reply;
    static const Natter__Conversation none = NATTER__CONVERSATION__INIT;
    json_t *body = json_pack("{s:o}", "conversation",
                             conv_json(c->conversation ? c->conversation : &none, 0));
    http_reply_json(r, c->created ? status_new : 200, body);
    protobuf_c_message_free_unpacked(reply, NULL);
}

void route_conv_create(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__ConvCreateReq req = NATTER__CONV_CREATE_REQ__INIT;
    const char *type = NULL, *peer = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "type", 16, &type) != NT_OK)
        goto out;
    if (strcmp(type, "group") == 0) {
        route_group_create(r, obj); /* routes_group.c */
        goto out;
    }
    if (strcmp(type, "direct") == 0 && get_str(r, obj, "peer_id", 32, &peer) != NT_OK)
        goto out;
    req.type = (char *)type;
    req.peer_id = (char *)(peer ? peer : "");
    if (http_call(r, "msg", "conv_create", &req.base, &natter__conv_reply__descriptor, &reply) ==
        NT_OK)
        reply_conv(r, reply, 201);
out:
    json_decref(obj);
}

void route_conv_list(http_req_t *r)
{
    Natter__ConvListReq req = NATTER__CONV_LIST_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    if (http_call(r, "msg", "conv_list", &req.base, &natter__conv_list__descriptor, &reply) !=
        NT_OK)
        return;
    Natter__ConvList *list = (Natter__ConvList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_conversations; i++)
        json_array_append_new(arr, conv_json(list->conversations[i], 1));
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "conversations", arr));
}

void route_conv_get(http_req_t *r)
{
    Natter__ConvGetReq req = NATTER__CONV_GET_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    if (!cid_ok(r->param)) {
        http_reply_error(r, NT_ENOTFOUND, "conversation not found");
        return;
    }
    req.conversation_id = r->param;
    if (conv_call(r, r->param, "get", &req.base, &natter__conv_reply__descriptor, &reply) == NT_OK)
        reply_conv(r, reply, 200);
}

void route_msg_send(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__SendReq req = NATTER__SEND_REQ__INIT;
    const char *cid = NULL, *cmid = NULL, *type = NULL, *body = NULL;
    const char *mentions[MSG_JSON_MENTIONS_MAX];
    char err[160];
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_cid(r, obj, &cid) != NT_OK || get_str(r, obj, "client_msg_id", 64, &cmid) != NT_OK ||
        get_str(r, obj, "type", 16, &type) != NT_OK || get_str(r, obj, "body", BODY_CAP, &body) != NT_OK)
        goto out;
    if (mentions_from_json(obj, mentions, MSG_JSON_MENTIONS_MAX, &req.n_mentions, err,
                           sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        goto out;
    }
    req.mentions = (char **)mentions;
    req.conversation_id = (char *)cid;
    req.client_msg_id = (char *)cmid;
    req.type = (char *)type;
    req.body = (char *)body;
    if (conv_call(r, cid, "send", &req.base, &natter__send_reply__descriptor, &reply) != NT_OK)
        goto out;
    Natter__SendReply *rep = (Natter__SendReply *)reply;
    static const Natter__Message none = NATTER__MESSAGE__INIT;
    http_reply_json(r, rep->duplicate ? 200 : 201,
                    json_pack("{s:o}", "message", msg_json(rep->message ? rep->message : &none)));
    protobuf_c_message_free_unpacked(reply, NULL);
out:
    json_decref(obj);
}

/* Query integer key in [min, max]; absent leaves *out.  0, or 400 answered. */
static int query_int(http_req_t *r, const char *key, long long min, long long max, long long *out)
{
    char err[96];
    int rc = http_query_int(r->ri->query_string, key, min, max, out, err, sizeof err);
    if (rc != NT_OK)
        http_reply_error(r, NT_EINVAL, err);
    return rc;
}

/* GET history / sync: verb "history" (before_seq) or "sync" (after_seq). */
static void page_route(http_req_t *r, const char *verb, const char *seq_key)
{
    const char *qs = r->ri->query_string ? r->ri->query_string : "";
    char cid[32];
    long long seq = 0, limit = 50;
    int n = mg_get_var(qs, strlen(qs), "conversation_id", cid, sizeof cid);
    if (n <= 0 || !cid_ok(cid)) {
        http_reply_error(r, NT_EINVAL, n == -1 ? "conversation_id is required"
                                               : "conversation_id must be a conversation id");
        return;
    }
    if (query_int(r, seq_key, 0, INT64_MAX, &seq) != NT_OK ||
        query_int(r, "limit", 1, 100, &limit) != NT_OK)
        return;
    Natter__PageReq req = NATTER__PAGE_REQ__INIT;
    req.conversation_id = cid;
    req.limit = (int32_t)limit;
    if (strcmp(verb, "sync") == 0)
        req.after_seq = seq;
    else
        req.before_seq = seq;
    ProtobufCMessage *reply = NULL;
    if (conv_call(r, cid, verb, &req.base, &natter__message_page__descriptor, &reply) != NT_OK)
        return;
    Natter__MessagePage *page = (Natter__MessagePage *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < page->n_messages; i++)
        json_array_append_new(arr, msg_json(page->messages[i]));
    json_t *body = json_pack("{s:o,s:b}", "messages", arr, "has_more", (int)page->has_more);
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, body);
}

void route_msg_history(http_req_t *r)
{
    page_route(r, "history", "before_seq");
}

void route_msg_sync(http_req_t *r)
{
    page_route(r, "sync", "after_seq");
}

void route_msg_read(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__ReadReq req = NATTER__READ_REQ__INIT;
    const char *cid = NULL;
    int64_t seq = 0;
    char err[160];
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_cid(r, obj, &cid) != NT_OK)
        goto out;
    if (jsonv_int(obj, "seq", 1, 0, INT64_MAX, &seq, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        goto out;
    }
    req.conversation_id = (char *)cid;
    req.seq = seq;
    if (conv_call(r, cid, "read", &req.base, &natter__empty__descriptor, &reply) == NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_status(r, 204);
    }
out:
    json_decref(obj);
}

/* POST /api/messages/{id}/revoke (docs/messages.md "Revoke and mentions"). */
void route_msg_revoke(http_req_t *r)
{
    Natter__RevokeReq req = NATTER__REVOKE_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    if (!cid_ok(r->param)) { /* same id shape as a conversation's */
        http_reply_error(r, NT_EINVAL, "message id must be a message id");
        return;
    }
    req.message_id = r->param;
    if (http_call(r, "msg", "revoke", &req.base, &natter__revoke_reply__descriptor, &reply) != NT_OK)
        return;
    Natter__RevokeReply *rep = (Natter__RevokeReply *)reply;
    static const Natter__Message none = NATTER__MESSAGE__INIT;
    http_reply_json(r, 200,
                    json_pack("{s:o}", "message", msg_json(rep->message ? rep->message : &none)));
    protobuf_c_message_free_unpacked(reply, NULL);
}
