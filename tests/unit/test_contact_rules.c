/*
 * test_contact_rules.c - the pure parts of contacts: what apply and handle
 * do for every state of a pair (store/contact_store.h), the field rules of
 * the pool (actors/contact_pool.h), and the JSON the edges send
 * (edge/msg_json.h: the REST request object and the WebSocket frame).
 */
#include "actors/contact_pool.h"
#include "common/err.h"
#include "edge/msg_json.h"
#include "store/contact_store.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char err[128];

Test(contact_apply, decision_table)
{
    /* self wins over everything, then "already contacts" */
    cr_expect_eq(contact_apply_decide(1, 0, CONTACT_PENDING_NONE), NT_EINVAL);
    cr_expect_eq(contact_apply_decide(1, 1, CONTACT_PENDING_IN), NT_EINVAL);
    cr_expect_eq(contact_apply_decide(0, 1, CONTACT_PENDING_NONE), NT_ECONFLICT);
    cr_expect_eq(contact_apply_decide(0, 1, CONTACT_PENDING_OUT), NT_ECONFLICT);
    /* otherwise the pending request decides */
    cr_expect_eq(contact_apply_decide(0, 0, CONTACT_PENDING_NONE), CONTACT_APPLY_CREATE);
    cr_expect_eq(contact_apply_decide(0, 0, CONTACT_PENDING_OUT), CONTACT_APPLY_EXISTING);
    cr_expect_eq(contact_apply_decide(0, 0, CONTACT_PENDING_IN), CONTACT_APPLY_ACCEPT);
}

Test(contact_handle, only_the_target)
{
    int change = 7;
    cr_expect_eq(contact_handle_decide(0, "pending", 1, &change), NT_EFORBIDDEN);
    cr_expect_eq(change, 0);
    /* even a handled request: a stranger learns nothing about its state */
    cr_expect_eq(contact_handle_decide(0, "accepted", 1, &change), NT_EFORBIDDEN);
    cr_expect_eq(contact_handle_decide(0, "rejected", 0, &change), NT_EFORBIDDEN);
}

Test(contact_handle, pending_changes)
{
    int change = 0;
    cr_expect_eq(contact_handle_decide(1, "pending", 1, &change), NT_OK);
    cr_expect_eq(change, 1);
    change = 0;
    cr_expect_eq(contact_handle_decide(1, "pending", 0, &change), NT_OK);
    cr_expect_eq(change, 1);
}

Test(contact_handle, retries_and_conflicts)
{
    int change = 7;
    cr_expect_eq(contact_handle_decide(1, "accepted", 1, &change), NT_OK);
    cr_expect_eq(change, 0, "a retried accept changes nothing");
    cr_expect_eq(contact_handle_decide(1, "rejected", 0, &change), NT_OK);
    cr_expect_eq(change, 0);
    cr_expect_eq(contact_handle_decide(1, "accepted", 0, &change), NT_ECONFLICT);
    cr_expect_eq(contact_handle_decide(1, "rejected", 1, &change), NT_ECONFLICT);
    cr_expect_eq(contact_handle_decide(1, "", 1, &change), NT_ECONFLICT);
    cr_expect_eq(contact_handle_decide(1, NULL, 1, &change), NT_ECONFLICT);
}

Test(contact_rules, message)
{
    char buf[CONTACT_MESSAGE_MAX * 4 + 8] = "";
    cr_expect_eq(contact_rule_message(NULL, err, sizeof err), NT_OK);
    cr_expect_eq(contact_rule_message("", err, sizeof err), NT_OK);
    cr_expect_eq(contact_rule_message("hello\nthere\tfriend", err, sizeof err), NT_OK);
    for (int i = 0; i < CONTACT_MESSAGE_MAX; i++)
        strcat(buf, "\xf0\x9f\x98\x80"); /* a 4-byte character */
    cr_expect_eq(contact_rule_message(buf, err, sizeof err), NT_OK, "counts characters");
    strcat(buf, "x");
    cr_expect_eq(contact_rule_message(buf, err, sizeof err), NT_EINVAL);
    cr_expect(strstr(err, "message") != NULL, "%s", err);
    cr_expect_eq(contact_rule_message("bell\a", err, sizeof err), NT_EINVAL);
    cr_expect_eq(contact_rule_message("cr\r", err, sizeof err), NT_EINVAL);
    cr_expect_eq(contact_rule_message("del\x7f", err, sizeof err), NT_EINVAL);
}

Test(contact_rules, action)
{
    int accept = -1;
    cr_expect_eq(contact_rule_action("accept", &accept, err, sizeof err), NT_OK);
    cr_expect_eq(accept, 1);
    cr_expect_eq(contact_rule_action("reject", &accept, err, sizeof err), NT_OK);
    cr_expect_eq(accept, 0);
    accept = -1;
    cr_expect_eq(contact_rule_action("Accept", &accept, err, sizeof err), NT_EINVAL);
    cr_expect_eq(contact_rule_action("", &accept, err, sizeof err), NT_EINVAL);
    cr_expect_eq(contact_rule_action(NULL, &accept, err, sizeof err), NT_EINVAL);
    cr_expect_eq(contact_rule_action("accepted", &accept, err, sizeof err), NT_EINVAL);
    cr_expect_eq(accept, -1, "untouched on failure");
    cr_expect(strstr(err, "action") != NULL, "%s", err);
}

static char *dump(json_t *o)
{
    cr_assert_not_null(o);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    cr_assert_not_null(s);
    return s;
}

static Natter__ContactRequest sample_request(void)
{
    Natter__ContactRequest r = NATTER__CONTACT_REQUEST__INIT;
    r.id = "9";
    r.from_id = "1";
    r.to_id = "2";
    r.message = "hi";
    r.status = "pending";
    r.created_at = 1700000000000;
    return r;
}

Test(contact_json, request_object)
{
    Natter__ContactRequest r = sample_request();
    char *s = dump(contact_request_json(&r));
    cr_expect_str_eq(s, "{\"created_at\":1700000000000,\"from_id\":\"1\",\"id\":\"9\","
                        "\"message\":\"hi\",\"status\":\"pending\",\"to_id\":\"2\"}");
    free(s);
}

Test(contact_json, event_frames)
{
    Natter__ContactRequest r = sample_request();
    Natter__ContactEvent e = NATTER__CONTACT_EVENT__INIT;
    e.event = "request";
    e.request = &r;
    e.user_id = "1";
    char *s = dump(contact_event_json(&e));
    static const char head[] = "{\"event\":\"request\",\"op\":\"contact\",\"request\":{";
    cr_expect(strncmp(s, head, sizeof head - 1) == 0, "%s", s);
    cr_expect(strstr(s, "\"user_id\":\"1\"}") != NULL, "%s", s);
    free(s);

    Natter__ContactEvent rm = NATTER__CONTACT_EVENT__INIT;
    rm.event = "removed";
    rm.user_id = "2";
    s = dump(contact_event_json(&rm));
    cr_expect_str_eq(s, "{\"event\":\"removed\",\"op\":\"contact\",\"user_id\":\"2\"}");
    free(s);
}

Test(contact_json, list_entry)
{
    Natter__User u = NATTER__USER__INIT;
    u.id = "3";
    u.username = "bob";
    u.display_name = "Bob";
    u.created_at = 5;
    Natter__Contact c = NATTER__CONTACT__INIT;
    c.user = &u;
    c.since = 42;
    char *s = dump(contact_json(&c));
    cr_expect_str_eq(s, "{\"since\":42,\"user\":{\"avatar_url\":\"\",\"bio\":\"\","
                        "\"created_at\":5,\"display_name\":\"Bob\",\"id\":\"3\","
                        "\"username\":\"bob\"}}");
    free(s);
}
