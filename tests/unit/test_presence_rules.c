/*
 * test_presence_rules.c - the pure parts of presence and typing: what a
 * query may show (actors/presence_query.c presence_view), the id list of
 * GET /api/presence (edge/http/routes_presence.c http_presence_ids), the
 * key tokens (store/presence_store.c), and the per-session typing limiter
 * (edge/ws/ws_presence.c ws_typing_allow).
 */
#include "actors/presence_pool.h"
#include "common/err.h"
#include "edge/http/http_edge.h"
#include "edge/ws/ws_internal.h"
#include "store/presence_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NOW 1700000000000LL
#define SEC 1000000LL

Test(presence_view, only_self_and_contacts_see_anything)
{
    Natter__Presence p = NATTER__PRESENCE__INIT;
    presence_view(0, 0, 1, 5, NOW, &p);
    cr_expect(!p.online && p.last_seen == 0, "a stranger online reads offline, no last_seen");
    presence_view(0, 0, 0, 5, NOW, &p);
    cr_expect(!p.online && p.last_seen == 0);
    presence_view(0, 1, 1, 5, NOW, &p);
    cr_expect(p.online && p.last_seen == NOW, "a contact online: seen now");
    presence_view(0, 1, 0, 5, NOW, &p);
    cr_expect(!p.online && p.last_seen == 5, "a contact offline: stored last_seen");
    presence_view(0, 1, 0, 0, NOW, &p);
    cr_expect(!p.online && p.last_seen == 0, "never seen");
    presence_view(1, 0, 1, 0, NOW, &p);
    cr_expect(p.online && p.last_seen == NOW, "oneself");
}

static int ids(const char *in, int max, const char **out, char *err)
{
    static char buf[8192];
    int n = -1;
    snprintf(buf, sizeof buf, "%s", in);
    int rc = http_presence_ids(buf, max, out, &n, err, 96);
    return rc == NT_OK ? n : rc;
}

Test(presence_ids, parse)
{
    const char *v[HTTP_PRESENCE_IDS_MAX];
    char err[96];
    cr_expect_eq(ids("1", 200, v, err), 1);
    cr_expect_str_eq(v[0], "1");
    cr_expect_eq(ids("3,1,3,2,1", 200, v, err), 3, "duplicates dropped");
    cr_expect(strcmp(v[0], "3") == 0 && strcmp(v[1], "1") == 0 && strcmp(v[2], "2") == 0);
    cr_expect_eq(ids("9223372036854775807", 200, v, err), 1);
    static const char *const bad[] = {"", ",", "1,", ",1", "1,,2", "01", "0", "a", "1 ,2",
                                      "-1", "+1", "12345678901234567890", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(ids(bad[i], 200, v, err), NT_EINVAL, "\"%s\" accepted", bad[i]);
    cr_expect_eq(ids("", 200, v, err), NT_EINVAL);
    cr_expect_str_eq(err, "user_ids is required");
    cr_expect_eq(ids("1,2,3", 2, v, err), NT_EINVAL);
    cr_expect_str_eq(err, "at most 2 user_ids");
    cr_expect_eq(ids("1,1,1", 2, v, err), NT_EINVAL, "the limit counts what was sent");
    char many[4200] = "";
    for (int i = 1; i <= HTTP_PRESENCE_IDS_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i > 1 ? "," : "", i);
    cr_expect_eq(ids(many, HTTP_PRESENCE_IDS_MAX, v, err), HTTP_PRESENCE_IDS_MAX);
}

Test(presence_tokens, key_parts)
{
    cr_expect(presence_uid_ok("1") && presence_uid_ok("9223372036854775807"));
    cr_expect(!presence_uid_ok("") && !presence_uid_ok("0") && !presence_uid_ok("01") &&
              !presence_uid_ok("1|2") && !presence_uid_ok(NULL) &&
              !presence_uid_ok("12345678901234567890"));
    cr_expect(presence_token_ok("0b7c1c4e-1a2b-4c3d-8e9f-0123456789ab") &&
              presence_token_ok("edge_A1"));
    cr_expect(!presence_token_ok("") && !presence_token_ok("a@b") && !presence_token_ok("a|b") &&
              !presence_token_ok("a.b") && !presence_token_ok(NULL));
    char long_tok[PRESENCE_TOKEN_MAX + 2];
    memset(long_tok, 'a', sizeof long_tok - 1);
    long_tok[sizeof long_tok - 1] = '\0';
    cr_expect(!presence_token_ok(long_tok));
}

Test(ws_typing, one_per_conversation_per_gap)
{
    ws_typing_t *t = NULL;
    int64_t now = 100 * SEC;
    cr_expect_eq(ws_typing_allow(&t, "7", now), 1);
    cr_assert_not_null(t);
    cr_expect_eq(ws_typing_allow(&t, "7", now + 1), 0);
    cr_expect_eq(ws_typing_allow(&t, "7", now + WS_TYPING_GAP_US - 1), 0);
    cr_expect_eq(ws_typing_allow(&t, "8", now + 1), 1, "another conversation has its own");
    cr_expect_eq(ws_typing_allow(&t, "7", now + WS_TYPING_GAP_US), 1, "after the gap");
    cr_expect_eq(ws_typing_allow(&t, "7", now + WS_TYPING_GAP_US + 1), 0);
    ws_typing_free(t);
}

Test(ws_typing, bounded_conversations_at_once)
{
    ws_typing_t *t = NULL;
    char cid[16];
    int64_t now = 100 * SEC;
    for (int i = 0; i < WS_TYPING_SLOTS; i++) {
        snprintf(cid, sizeof cid, "%d", i + 1);
        cr_expect_eq(ws_typing_allow(&t, cid, now), 1);
    }
    cr_expect_eq(ws_typing_allow(&t, "99", now + 1), 0, "all slots busy: dropped");
    cr_expect_eq(ws_typing_allow(&t, "99", now + WS_TYPING_GAP_US), 1, "a slot came free");
    cr_expect_eq(ws_typing_allow(&t, "99", now + WS_TYPING_GAP_US + 1), 0);
    char long_cid[80];
    memset(long_cid, '1', sizeof long_cid - 1);
    long_cid[sizeof long_cid - 1] = '\0';
    cr_expect_eq(ws_typing_allow(&t, long_cid, now + 10 * SEC), 0);
    ws_typing_free(t);
    ws_typing_free(NULL);
}
