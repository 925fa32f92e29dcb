/*
 * routes_auth.c - REST routes of the auth pool (API.md "Accounts and
 * tokens", "Users"): JSON in, protobuf over the bus, JSON out.
 *
 * The edge checks only JSON shape (presence and types, with generous length
 * caps so nothing huge crosses the bus); the account rules themselves
 * (username alphabet, password length, ...) live in the pool, in one place.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/jsonv.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_CAP 4096 /* chars; the pool applies the real limits */

static json_t *user_json(const Natter__User *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", u->id, "username", u->username,
                     "display_name", u->display_name, "avatar_url", u->avatar_url, "bio", u->bio,
                     "created_at", (json_int_t)u->created_at);
}

/* Fetch optional/required string fields; on failure answer 400. */
static int get_str(http_req_t *r, json_t *obj, const char *key, int required, const char **out)
{
    char err[160];
    if (jsonv_str(obj, key, required, 0, FIELD_CAP, out, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        return NT_EINVAL;
    }
    return NT_OK;
}

static void reply_user(http_req_t *r, int status, ProtobufCMessage *reply)
{
    Natter__User *u = (Natter__User *)reply;
    http_reply_json(r, status, json_pack("{s:o}", "user", user_json(u)));
    protobuf_c_message_free_unpacked(reply, NULL);
}

static void reply_tokens(http_req_t *r, ProtobufCMessage *reply)
{
    Natter__TokenReply *t = (Natter__TokenReply *)reply;
    static const Natter__User none = NATTER__USER__INIT;
    json_t *body = json_pack("{s:s,s:s,s:i,s:o}", "access_token", t->access_token,
                             "refresh_token", t->refresh_token, "expires_in", (int)t->expires_in,
                             "user", user_json(t->user ? t->user : &none));
    http_reply_json(r, 200, body);
    protobuf_c_message_free_unpacked(reply, NULL);
}

void route_register(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__RegisterReq req = NATTER__REGISTER_REQ__INIT;
    const char *user = NULL, *pw = NULL, *display = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "username", 1, &user) == NT_OK &&
        get_str(r, obj, "password", 1, &pw) == NT_OK &&
        get_str(r, obj, "display_name", 0, &display) == NT_OK) {
        req.username = (char *)user;
        req.password = (char *)pw;
        req.display_name = (char *)(display ? display : "");
        if (http_call(r, "auth", "register", &req.base, &natter__user__descriptor, &reply) ==
            NT_OK)
            reply_user(r, 201, reply);
    }
    json_decref(obj);
}

void route_login(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__LoginReq req = NATTER__LOGIN_REQ__INIT;
    const char *user = NULL, *pw = NULL, *device = NULL, *platform = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "username", 1, &user) == NT_OK &&
        get_str(r, obj, "password", 1, &pw) == NT_OK &&
        get_str(r, obj, "device_id", 0, &device) == NT_OK &&
        get_str(r, obj, "platform", 0, &platform) == NT_OK) {
        req.username = (char *)user;
        req.password = (char *)pw;
        req.device_id = (char *)(device ? device : "");
        req.platform = (char *)(platform ? platform : "");
        req.ip = r->client;
        if (http_call(r, "auth", "login", &req.base, &natter__token_reply__descriptor, &reply) ==
            NT_OK)
            reply_tokens(r, reply);
    }
    json_decref(obj);
}

void route_refresh(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__RefreshReq req = NATTER__REFRESH_REQ__INIT;
    const char *tok = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "refresh_token", 1, &tok) == NT_OK) {
        req.refresh_token = (char *)tok;
        if (http_call(r, "auth", "refresh", &req.base, &natter__token_reply__descriptor,
                      &reply) == NT_OK)
            reply_tokens(r, reply);
    }
    json_decref(obj);
}

void route_logout(http_req_t *r)
{
    Natter__LogoutReq req = NATTER__LOGOUT_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.session_id = r->who.sid;
    if (http_call(r, "auth", "logout", &req.base, &natter__empty__descriptor, &reply) == NT_OK) {
        protobuf_c_message_free_unpacked(reply, NULL);
        http_reply_status(r, 204);
    }
}

/* POST /api/auth/password {old_password, new_password} -> 204; the other
 * sessions of the user are revoked (docs/sessions.md). */
void route_password(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__PasswordReq req = NATTER__PASSWORD_REQ__INIT;
    const char *old_pw = NULL, *new_pw = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "old_password", 1, &old_pw) == NT_OK &&
        get_str(r, obj, "new_password", 1, &new_pw) == NT_OK) {
        req.session_id = r->who.sid;
        req.old_password = (char *)old_pw;
        req.new_password = (char *)new_pw;
        if (http_call(r, "auth", "password", &req.base, &natter__empty__descriptor, &reply) ==
            NT_OK) {
            protobuf_c_message_free_unpacked(reply, NULL);
            http_reply_status(r, 204);
        }
    }
    json_decref(obj);
}

static void user_get(http_req_t *r, const char *id)
{
    Natter__UserGetReq req = NATTER__USER_GET_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    req.user_id = (char *)id;
    if (http_call(r, "auth", "user_get", &req.base, &natter__user__descriptor, &reply) == NT_OK)
        reply_user(r, 200, reply);
}

void route_me_get(http_req_t *r)
{
    user_get(r, "");
}

void route_user_get(http_req_t *r)
{
    user_get(r, r->param);
}

void route_me_put(http_req_t *r)
{
    json_t *obj = http_body_object(r);
    Natter__UserUpdateReq req = NATTER__USER_UPDATE_REQ__INIT;
    const char *name = NULL, *avatar = NULL, *bio = NULL;
    ProtobufCMessage *reply = NULL;
    if (!obj)
        return;
    if (get_str(r, obj, "display_name", 0, &name) == NT_OK &&
        get_str(r, obj, "avatar_url", 0, &avatar) == NT_OK &&
        get_str(r, obj, "bio", 0, &bio) == NT_OK) {
        req.has_display_name = name != NULL;
        req.display_name = (char *)(name ? name : "");
        req.has_avatar_url = avatar != NULL;
        req.avatar_url = (char *)(avatar ? avatar : "");
        req.has_bio = bio != NULL;
        req.bio = (char *)(bio ? bio : "");
        if (http_call(r, "auth", "user_update", &req.base, &natter__user__descriptor, &reply) ==
            NT_OK)
            reply_user(r, 200, reply);
    }
    json_decref(obj);
}

void route_user_search(http_req_t *r)
{
    const char *qs = r->ri->query_string ? r->ri->query_string : "";
    char q[130], limit[16] = "";
    int qlen = mg_get_var(qs, strlen(qs), "q", q, sizeof q);
    if (qlen <= 0) {
        http_reply_error(r, NT_EINVAL, qlen == -2 ? "q is too long" : "q is required");
        return;
    }
    Natter__UserSearchReq req = NATTER__USER_SEARCH_REQ__INIT;
    req.q = q;
    if (mg_get_var(qs, strlen(qs), "limit", limit, sizeof limit) > 0) {
        char *end;
        long l = strtol(limit, &end, 10);
        if (*end || l < 1 || l > 50) {
            http_reply_error(r, NT_EINVAL, "limit must be 1-50");
            return;
        }
        req.limit = (int32_t)l;
    }
    ProtobufCMessage *reply = NULL;
    if (http_call(r, "auth", "user_search", &req.base, &natter__user_list__descriptor, &reply) !=
        NT_OK)
        return;
    Natter__UserList *list = (Natter__UserList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_users; i++)
        json_array_append_new(arr, user_json(list->users[i]));
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "users", arr));
}
