/*
 * msg_json.c - protobuf -> API.md JSON for messages and conversations.
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
