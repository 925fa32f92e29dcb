/*
 * test_pb_json.c - bus payloads rendered for `natter trace`: fields,
 * nesting, repeated fields, defaults left out, secrets masked, and the type
 * table complete against proto/natter.proto.
 */
#include "bus/pb_json.h"
#include "proto/natter.pb-c.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(const ProtobufCMessage *m)
{
    /* Through the wire format, as trace sees it. */
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    protobuf_c_message_pack(m, buf);
    json_t *o = pb_json_decode(m->descriptor->name, buf, len);
    free(buf);
    cr_assert_not_null(o, "%s did not decode", m->descriptor->name);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

Test(pb_json, fields_nesting_and_defaults)
{
    Natter__Message msg = NATTER__MESSAGE__INIT;
    msg.id = "9";
    msg.conversation_id = "7";
    msg.seq = 42;
    msg.body = "hi \xc3\xa9";
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "message";
    push.message = &msg;
    char *s = render(&push.base);
    cr_expect_str_eq(s, "{\"kind\":\"message\",\"message\":{\"body\":\"hi \xc3\xa9\","
                        "\"conversation_id\":\"7\",\"id\":\"9\",\"seq\":42}}");
    free(s);
}

Test(pb_json, repeated_fields)
{
    Natter__Member m1 = NATTER__MEMBER__INIT, m2 = NATTER__MEMBER__INIT;
    m1.user_id = "1";
    m2.user_id = "2";
    Natter__Member *ms[] = {&m1, &m2};
    Natter__Conversation c = NATTER__CONVERSATION__INIT;
    c.id = "5";
    c.n_members = 2;
    c.members = ms;
    char *s = render(&c.base);
    cr_expect(strstr(s, "\"members\":[{") != NULL, "%s", s);
    cr_expect(strstr(s, "\"user_id\":\"2\"") != NULL, "%s", s);
    free(s);

    char *ids[] = {"3", "4"};
    Natter__ConvCreateReq r = NATTER__CONV_CREATE_REQ__INIT;
    r.type = "group";
    r.n_member_ids = 2;
    r.member_ids = ids;
    s = render(&r.base);
    cr_expect(strstr(s, "\"member_ids\":[\"3\",\"4\"]") != NULL, "%s", s);
    free(s);
}

Test(pb_json, secrets_masked)
{
    Natter__LoginReq l = NATTER__LOGIN_REQ__INIT;
    l.username = "alice";
    l.password = "correct horse";
    char *s = render(&l.base);
    cr_expect(strstr(s, "correct horse") == NULL, "%s", s);
    cr_expect(strstr(s, "\"password\":\"***\"") != NULL, "%s", s);
    cr_expect(strstr(s, "\"username\":\"alice\"") != NULL, "%s", s);
    free(s);

    Natter__TokenReply t = NATTER__TOKEN_REPLY__INIT;
    t.access_token = "eyJ.secret.sig";
    t.refresh_token = "r-secret";
    s = render(&t.base);
    cr_expect(strstr(s, "secret") == NULL, "%s", s);
    free(s);
}

Test(pb_json, unknown_type_and_garbage)
{
    cr_expect_null(pb_json_decode("natter.NoSuchThing", "", 0));
    cr_expect_null(pb_json_decode(NULL, "", 0));
    /* A field tag with a truncated varint: not a SendReq. */
    const uint8_t bad[] = {0x0a, 0xff};
    cr_expect_null(pb_json_decode("natter.SendReq", bad, sizeof bad));
}

/* Every `message X` of proto/natter.proto is in the table. */
Test(pb_json, table_covers_the_proto)
{
    FILE *f = fopen(NATTER_SOURCE_DIR "/proto/natter.proto", "r");
    cr_assert_not_null(f);
    char line[512], name[200], full[256];
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "message %199[A-Za-z0-9_]", name) != 1)
            continue;
        snprintf(full, sizeof full, "natter.%s", name);
        cr_expect_not_null(pb_type(full), "%s is missing from bus/pb_types.c", full);
        seen++;
    }
    fclose(f);
    size_t n = 0;
    pb_types(&n);
    cr_expect_eq((size_t)seen, n, "proto has %d messages, table %zu", seen, n);
}
