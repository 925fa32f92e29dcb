/*
 * msg_json.c - protobuf -> API.md JSON for messages, conversations, users
 * and contacts.
 */
#include "edge/msg_json.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>

json_t *msg_json(const Natter__Message *m)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:b}", "id", m->id, "conversation_id",
                          m->conversation_id, "seq", (json_int_t)m->seq, "sender_id", m->sender_id,
                          "client_msg_id", m->client_msg_id, "type", m->type, "body", m->body,
                          "created_at", (json_int_t)m->created_at, "revoked", (int)m->revoked);
    if (o && m->n_mentions > 0) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < m->n_mentions; i++)
            json_array_append_new(arr, json_string(m->mentions[i] ? m->mentions[i] : ""));
        json_object_set_new(o, "mentions", arr ? arr : json_null());
    }
    if (o && m->mentioned)
        json_object_set_new(o, "mentioned", json_true());
    return o;
}

int mentions_from_json(json_t *obj, const char **ids, size_t max, size_t *n, char *err,
                       size_t errlen)
{
    json_t *arr = json_object_get(obj, "mentions");
    *n = 0;
    if (!arr)
        return NT_OK;
    if (!json_is_array(arr) || json_array_size(arr) > max) {
        snprintf(err, errlen, "mentions must be an array of at most %zu user ids", max);
        return NT_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !*s || strlen(s) > 32) {
            snprintf(err, errlen, "mentions must be an array of user ids");
            return NT_EINVAL;
        }
        ids[(*n)++] = s;
    }
    return NT_OK;
}

json_t *conv_json(const Natter__Conversation *c, int with_list_fields)
{
    json_t *members = json_array();
    for (size_t i = 0; members && i < c->n_members; i++)
        json_array_append_new(members, json_pack("{s:s,s:s}", "user_id", c->members[i]->user_id,
                                                 "role", c->members[i]->role));
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:I}", "id", c->id, "type", c->type, "name",
                          c->name, "owner_id", c->owner_id, "members", members, "last_seq",
                          (json_int_t)c->last_seq, "created_at", (json_int_t)c->created_at);
    if (o)
        json_object_set_new(o, "member_count",
                            json_integer(c->member_count > 0 ? (json_int_t)c->member_count
                                                             : (json_int_t)c->n_members));
    if (o && with_list_fields) {
        json_object_set_new(o, "unread", json_integer(c->unread));
        json_object_set_new(o, "mentions", json_integer(c->mentions));
        json_object_set_new(o, "last_message",
                            c->last_message ? msg_json(c->last_message) : json_null());
    }
    return o;
}

json_t *user_json(const Natter__User *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", u->id, "username", u->username,
                     "display_name", u->display_name, "avatar_url", u->avatar_url, "bio", u->bio,
                     "created_at", (json_int_t)u->created_at);
}

json_t *contact_request_json(const Natter__ContactRequest *r)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", r->id, "from_id", r->from_id, "to_id",
                     r->to_id, "message", r->message, "status", r->status, "created_at",
                     (json_int_t)r->created_at);
}

json_t *contact_json(const Natter__Contact *c)
{
    static const Natter__User none = NATTER__USER__INIT;
    return json_pack("{s:o,s:I}", "user", user_json(c->user ? c->user : &none), "since",
                     (json_int_t)c->since);
}

json_t *contact_event_json(const Natter__ContactEvent *e)
{
    json_t *o = json_pack("{s:s,s:s}", "op", "contact", "event", e->event ? e->event : "");
    if (o && e->request)
        json_object_set_new(o, "request", contact_request_json(e->request));
    if (o && e->user_id && *e->user_id)
        json_object_set_new(o, "user_id", json_string(e->user_id));
    return o;
}

json_t *presence_json(const Natter__Presence *p, const char *op)
{
    json_t *o = op ? json_pack("{s:s}", "op", op) : json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "user_id", json_string(p->user_id ? p->user_id : ""));
    json_object_set_new(o, "online", json_boolean(p->online));
    if (p->last_seen > 0)
        json_object_set_new(o, "last_seen", json_integer((json_int_t)p->last_seen));
    return o;
}

json_t *member_event_json(const Natter__MemberEvent *e)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "op", "member", "event",
                          e->event ? e->event : "", "conversation_id",
                          e->conversation_id ? e->conversation_id : "", "user_id",
                          e->user_id ? e->user_id : "", "actor_id", e->actor_id ? e->actor_id : "",
                          "seq", (json_int_t)e->seq);
    if (o && e->role && *e->role)
        json_object_set_new(o, "role", json_string(e->role));
    if (o && e->n_user_ids > 0) {
        json_t *ids = json_array();
        for (size_t i = 0; ids && i < e->n_user_ids; i++)
            json_array_append_new(ids, json_string(e->user_ids[i]));
        json_object_set_new(o, "user_ids", ids);
    }
    return o;
}
