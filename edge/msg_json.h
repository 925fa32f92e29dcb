/*
 * msg_json.h - API.md's JSON shapes for conversation and message objects,
 * shared by the REST edge and the WebSocket edge so both speak the same
 * contract.  Each returns a new reference (NULL only on allocation failure).
 */
#ifndef NT_MSG_JSON_H
#define NT_MSG_JSON_H

#include "proto/natter.pb-c.h"

#include <jansson.h>

json_t *msg_json(const Natter__Message *m);

/* with_list_fields adds "unread" and "last_message" (list views). */
json_t *conv_json(const Natter__Conversation *c, int with_list_fields);

#endif
