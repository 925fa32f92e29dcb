/*
 * routes_group.c - REST routes of group conversations (API.md
 * "Conversations", docs/groups.md): create (route_conv_create hands type
 * "group" here), rename, add, remove or leave, roles, owner transfer.
 *
 * All but create go to the conversation's actor as one verb,
 * im.conv.<cid>.group, with GroupReq.op saying which change; the pool
 * applies the permission rules and the group size limit.  The edge checks
 * JSON shape and that ids are ids (they end up in subjects and in SQL
 * parameters), nothing more.
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

#define IDS_CAP 20000     /* ids in one request; the pool's msg.group_max is the real limit */
#define NAME_CAP 1024     /* chars; the pool applies CONV_NAME_MAX */

/* 1 if s is a canonical decimal id (1-19 digits, no leading zero). */
static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

/* The array of ids obj[key] as borrowed strings: *ids a new array (free
 * it) of *n.  0, or 400 answered. */
static int get_ids(http_req_t *r, json_t *obj, const char *key, char ***ids, size_t *n)
{
    char err[96];
    json_t *arr = json_object_get(obj, key);
    *ids = NULL;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) > IDS_CAP) {
        snprintf(err, sizeof err, "%s must be an array of at most %d user ids", key, IDS_CAP);
        http_reply_error(r, NT_EINVAL, err);
        return NT_EINVAL;
    }
    *ids = calloc(json_array_size(arr) + 1, sizeof **ids);
    if (!*ids) {
        http_reply_error(r, NT_ENOMEM, NULL);
        return NT_ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!id_ok(s)) {
            snprintf(err, sizeof err, "%s must hold user ids (strings)", key);
            http_reply_error(r, NT_EINVAL, err);
            free(*ids);
            *ids = NULL;
            return NT_EINVAL;
        }
        (*ids)[(*n)++] = (char *)s;
    }
    return NT_OK;
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

static void reply_conv(http_req_t *r, ProtobufCMessage *reply, int status)
{
    Natter__ConvReply *c = (Natter__ConvReply *)reply;
    static const Natter__Conversation none = NATTER__CONVERSATION__INIT;
    if (status == 204)
        http_reply_status(r, 204);
    else
        http_reply_json(r, status,
                        json_pack("{s:o}", "conversation",
                                  conv_json(c->conversation ? c->conversation : &none, 0)));
    protobuf_c_message_free_unpacked(reply, NULL);
}

void route_group_create(http_req_t *r, json_t *obj)
{
    Natter__ConvCreateReq req = NATTER__CONV_CREATE_REQ__INIT;
    const char *name = NULL;
    char **ids = NULL;
    size_t n = 0;
    ProtobufCMessage *reply = NULL;
    if (get_str(r, obj, "name", NAME_CAP, &name) != NT_OK ||
        get_ids(r, obj, "member_ids", &ids, &n) != NT_OK)
        return;
    req.type = "group";
    req.name = (char *)name;
    req.member_ids = ids;
    req.n_member_ids = n;
    if (http_call(r, "msg", "conv_create", &req.base, &natter__conv_reply__descriptor, &reply) ==
        NT_OK)
        reply_conv(r, reply, 201);
    free(ids);
}

/* Send req (op and fields set) to the group actor of r->param. */
static void group_call(http_req_t *r, Natter__GroupReq *req, int status)
{
    ProtobufCMessage *reply = NULL;
    char subject[SUBJECT_MAX];
    if (!id_ok(r->param) || subject_conv(subject, sizeof subject, r->param, "group") != NT_OK) {
        http_reply_error(r, NT_ENOTFOUND, "conversation not found");
        return;
    }
    req->conversation_id = r->param;
    if (http_call_subject(r, subject, &req->base, &natter__conv_reply__descriptor, &reply) ==
        NT_OK)
        reply_conv(r, reply, status);
}

/* The {uid} of the path: a user id, else 404 (like /api/users/{id}). */
static int path_uid(http_req_t *r)
{
    if (id_ok(r->param2))
        return NT_OK;
    http_reply_error(r, NT_ENOTFOUND, "user not found");
    return NT_ENOTFOUND;
}

void route_group_rename(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__GroupReq req = NATTER__GROUP_REQ__INIT;
    const char *name = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "name", NAME_CAP, &name) == NT_OK) {
        req.op = "rename";
        req.name = (char *)name;
        group_call(r, &req, 200);
    }
    json_decref(obj);
}

void route_group_add(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__GroupReq req = NATTER__GROUP_REQ__INIT;
    char **ids = NULL;
    size_t n = 0;
    if (!obj)
        return;
    if (get_ids(r, obj, "user_ids", &ids, &n) == NT_OK) {
        req.op = "add";
        req.user_ids = ids;
        req.n_user_ids = n;
        group_call(r, &req, 200);
    }
    free(ids);
    json_decref(obj);
}

void route_group_remove(http_req_t *r)
{
    Natter__GroupReq req = NATTER__GROUP_REQ__INIT;
    if (path_uid(r) != NT_OK)
        return;
    req.op = "remove";
    req.user_id = r->param2;
    group_call(r, &req, 204);
}

void route_group_role(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__GroupReq req = NATTER__GROUP_REQ__INIT;
    const char *role = NULL;
    if (!obj)
        return;
    if (path_uid(r) == NT_OK && get_str(r, obj, "role", 16, &role) == NT_OK) {
        req.op = "role";
        req.user_id = r->param2;
        req.role = (char *)role;
        group_call(r, &req, 200);
    }
    json_decref(obj);
}

void route_group_owner(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__GroupReq req = NATTER__GROUP_REQ__INIT;
    const char *uid = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "user_id", 32, &uid) == NT_OK) {
        if (!id_ok(uid)) {
            http_reply_error(r, NT_EINVAL, "user_id must be a user id");
        } else {
            req.op = "owner";
            req.user_id = (char *)uid;
            group_call(r, &req, 200);
        }
    }
    json_decref(obj);
}
