/*
 * msg_json.h - API.md's JSON shapes for conversation, message, user and
 * contact objects, shared by the REST edge and the WebSocket edge so both
 * speak the same contract.  Each returns a new reference (NULL only on allocation failure).
 */
#ifndef NT_MSG_JSON_H
#define NT_MSG_JSON_H

#include "proto/natter.pb-c.h"

#include <jansson.h>

/* A message object; "mentions" (user ids) when it has any, and
 * "mentioned": true in a push to a mentioned user (docs/messages.md). */
json_t *msg_json(const Natter__Message *m);

/* The optional "mentions" field of a send (REST body or WS frame): an array
 * of at most max strings of 1-32 characters.  ids[0..*n) borrow from obj.
 * 0, or NT_EINVAL with err set (the pool checks ids and membership). */
#define MSG_JSON_MENTIONS_MAX 50
int mentions_from_json(json_t *obj, const char **ids, size_t max, size_t *n, char *err,
                       size_t errlen);

/* with_list_fields adds "unread" and "last_message" (list views). */
json_t *conv_json(const Natter__Conversation *c, int with_list_fields);

/* A user object {id, username, display_name, avatar_url, bio, created_at}. */
json_t *user_json(const Natter__User *u);

/* A contact request {id, from_id, to_id, message, status, created_at}. */
json_t *contact_request_json(const Natter__ContactRequest *r);

/* A contact-list entry {user, since}. */
json_t *contact_json(const Natter__Contact *c);

/* The WebSocket frame of a contact event: {"op":"contact", "event",
 * "request" (when the event has one), "user_id" (the other party)}. */
json_t *contact_event_json(const Natter__ContactEvent *e);

/* A presence entry {user_id, online, last_seen?}, with "op" first when op
 * is not NULL (the WebSocket frame).  last_seen is left out when 0
 * (unknown, or not the caller's to see). */
json_t *presence_json(const Natter__Presence *p, const char *op);

/* The WebSocket frame of a group change: {"op":"member", "event",
 * "conversation_id", "user_id", "actor_id", "seq", "role"?, "user_ids"?}
 * (docs/groups.md). */
json_t *member_event_json(const Natter__MemberEvent *e);

#endif
