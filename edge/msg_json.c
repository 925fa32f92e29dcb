/*
 * msg_json.c - protobuf -> API.md JSON for messages, conversations, users
 * and contacts.
 */
#include "edge/msg_json.h"

json_t *msg_json(const Natter__Message *m)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:b}", "id", m->id, "conversation_id",
                     m->conversation_id, "seq", (json_int_t)m->seq, "sender_id", m->sender_id,
                     "client_msg_id", m->client_msg_id, "type", m->type, "body", m->body,
                     "created_at", (json_int_t)m->created_at, "revoked", (int)m->revoked);
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
    if (o && with_list_fields) {
        json_object_set_new(o, "unread", json_integer(c->unread));
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
