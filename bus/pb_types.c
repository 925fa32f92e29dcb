/*
 * pb_types.c - every message of proto/natter.proto by its full name, for
 * pb_type (pb_json.h).  tests/unit/test_pb_json.c reads the .proto and
 * fails if a message is missing here, so a new payload cannot go untraced.
 */
#include "bus/pb_json.h"

#include "proto/natter.pb-c.h"

#include <string.h>

static const ProtobufCMessageDescriptor *const types[] = {
    &natter__error__descriptor,
    &natter__empty__descriptor,
    &natter__user__descriptor,
    &natter__register_req__descriptor,
    &natter__login_req__descriptor,
    &natter__token_reply__descriptor,
    &natter__refresh_req__descriptor,
    &natter__logout_req__descriptor,
    &natter__user_get_req__descriptor,
    &natter__user_update_req__descriptor,
    &natter__user_search_req__descriptor,
    &natter__user_list__descriptor,
    &natter__session_revoked__descriptor,
    &natter__session_revoked_list__descriptor,
    &natter__message__descriptor,
    &natter__member__descriptor,
    &natter__conversation__descriptor,
    &natter__conv_create_req__descriptor,
    &natter__conv_reply__descriptor,
    &natter__conv_list_req__descriptor,
    &natter__conv_list__descriptor,
    &natter__conv_get_req__descriptor,
    &natter__send_req__descriptor,
    &natter__send_reply__descriptor,
    &natter__page_req__descriptor,
    &natter__message_page__descriptor,
    &natter__read_req__descriptor,
    &natter__read_receipt__descriptor,
    &natter__push__descriptor,
    &natter__contact_request__descriptor,
    &natter__contact_apply_req__descriptor,
    &natter__contact_handle_req__descriptor,
    &natter__contact_request_reply__descriptor,
    &natter__contact_request_list__descriptor,
    &natter__contact__descriptor,
    &natter__contact_list__descriptor,
    &natter__contact_delete_req__descriptor,
    &natter__contact_event__descriptor,
    &natter__presence_session__descriptor,
    &natter__presence_report__descriptor,
    &natter__presence_query__descriptor,
    &natter__presence__descriptor,
    &natter__presence_list__descriptor,
    &natter__typing_req__descriptor,
    &natter__typing_event__descriptor,
    &natter__password_req__descriptor,
    &natter__group_req__descriptor,
    &natter__member_event__descriptor,
    &natter__revoke_req__descriptor,
    &natter__revoke_reply__descriptor,
    &natter__revoked_event__descriptor,
    &natter__media_register_req__descriptor,
    &natter__media_file__descriptor,
    &natter__media_get_req__descriptor,
    &natter__admin_req__descriptor,
    &natter__ip_rule__descriptor,
    &natter__ip_rule_list__descriptor,
    &natter__admin_user__descriptor,
    &natter__admin_user_list__descriptor,
    &natter__audit_entry__descriptor,
    &natter__audit_list__descriptor,
    &natter__admin_connection__descriptor,
    &natter__admin_session__descriptor,
    &natter__admin_session_list__descriptor,
    &natter__call_req__descriptor,
    &natter__call_reply__descriptor,
    &natter__call_event__descriptor,
    &natter__call_log_req__descriptor,
};

const ProtobufCMessageDescriptor *const *pb_types(size_t *n)
{
    *n = sizeof types / sizeof types[0];
    return types;
}

const ProtobufCMessageDescriptor *pb_type(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i]->name, name) == 0)
            return types[i];
    return NULL;
}
