/*
 * test_ws_render.c - edge/ws/ws_render.c writes the message and sent frames
 * byte for byte as the jansson tree it replaced did (json_pack of
 * msg_json, then "rid", then json_dumps JSON_COMPACT), refuses what
 * json_pack refused (strings that are not UTF-8), and skips what jansson
 * skipped (a mention that is not UTF-8, a rid that is not).
 */
#include "common/err.h"
#include "edge/ws/ws_render.h"
#include "tests/unit/ws_render_oracle.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void same(const char *op, const Natter__Message *m, const char *rid)
{
    ws_buf_t b = {0};
    char *want = ws_render_oracle(op, m, rid);
    int rc = ws_render_message(&b, op, m, rid);
    if (!want) {
        cr_expect_eq(rc, NT_EINVAL, "jansson refused, ws_render said %d: %s", rc, b.p);
    } else {
        cr_expect_eq(rc, NT_OK);
        cr_expect_str_eq(b.p, want);
        cr_expect_eq(b.len, strlen(want));
    }
    free(want);
    ws_buf_free(&b);
}

static Natter__Message msg(const char *body)
{
    Natter__Message m = NATTER__MESSAGE__INIT;
    m.id = "01HZX";
    m.conversation_id = "c-1";
    m.seq = 42;
    m.sender_id = "u1";
    m.client_msg_id = "cm-1";
    m.type = "text";
    m.body = (char *)body;
    m.created_at = 1700000000123;
    return m;
}

Test(ws_render, plain_message_and_sent_with_rid)
{
    Natter__Message m = msg("hello");
    same("message", &m, NULL);
    same("sent", &m, "r1");
    same("sent", &m, "");
}

Test(ws_render, escapes_like_jansson)
{
    const char *bodies[] = {"quote \" back \\ slash /", "\b\f\n\r\t", "\x01\x1f\x7f",
                            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xe2\x80\xa8", ""};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        Natter__Message m = msg(bodies[i]);
        same("message", &m, "rid \"x\"");
    }
}

Test(ws_render, numbers_flags_and_mentions)
{
    Natter__Message m = msg("b");
    m.seq = -1;
    m.created_at = INT64_MAX;
    m.revoked = 1;
    same("message", &m, NULL);
    char *mentions[] = {"u2", "u\"3", "\xff", "u4"};
    m.mentions = mentions;
    m.n_mentions = 4;       /* the one that is not UTF-8 is left out, as jansson did */
    m.mentioned = 1;
    same("sent", &m, "r");
    m.n_mentions = 1;
    m.seq = INT64_MIN;
    same("sent", &m, "r");
}

Test(ws_render, not_utf8_is_refused)
{
    const char *bad[] = {"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "abc\xc3", "\xc3(", "\xf0\x9f\x98"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Natter__Message m = msg(bad[i]);
        same("message", &m, NULL);
        m = msg("ok");
        m.sender_id = (char *)bad[i];
        same("message", &m, NULL);
    }
    Natter__Message m = msg("ok");
    same("sent", &m, "\xff");   /* a rid jansson would not take is left out */
}

Test(ws_render, random_bytes_agree_with_jansson)
{
    srand(12345);
    char body[64], rid[8];
    for (int n = 0; n < 20000; n++) {
        size_t len = (size_t)(rand() % 24);
        for (size_t i = 0; i < len; i++) {
            int r = rand() % 8;     /* mostly ASCII, some high bytes and controls */
            body[i] = (char)(r < 5 ? 0x20 + rand() % 95 : r == 5 ? 1 + rand() % 31
                                                                 : 0x80 + rand() % 128);
        }
        body[len] = '\0';
        for (size_t i = 0; i < sizeof rid - 1; i++)
            rid[i] = (char)(rand() % 4 ? 'a' + rand() % 26 : 0x80 + rand() % 128);
        rid[rand() % sizeof rid] = '\0';
        Natter__Message m = msg(body);
        same(n % 2 ? "message" : "sent", &m, rid);
    }
}

Test(ws_render, buffer_is_reused_and_grows)
{
    ws_buf_t b = {0};
    char *big = malloc(100000);
    cr_assert(big);
    memset(big, 'x', 99999);
    big[99999] = '\0';
    Natter__Message m = msg(big);
    cr_assert_eq(ws_render_message(&b, "message", &m, NULL), NT_OK);
    cr_expect_gt(b.len, 100000);
    m = msg("small");
    cr_assert_eq(ws_render_message(&b, "message", &m, NULL), NT_OK);
    char *want = ws_render_oracle("message", &m, NULL);
    cr_expect_str_eq(b.p, want);
    free(want);
    free(big);
    ws_buf_free(&b);
}
