/*
 * fuzz_pb.c - bus payloads: any bytes as any message type of
 * proto/natter.proto, the way the processes that receive them treat them.
 *
 * The first byte picks the type (pb_types(), every message), the rest is
 * the payload.  Then:
 *  - unpack (what pool_unpack, the edges' reply and push handlers and
 *    edge/revocations.c do), render with pb_json and dump (natter trace),
 *    and pb_json_decode by the Natter-Type name;
 *  - for the types an edge turns into client JSON, the edge's renderer
 *    (edge/msg_json.c; for natter.Push each sub-message as ws_push.c's
 *    render does); revoked sessions into a deny-list (edge/revocations.c);
 *  - pack the decoded message again and decode that: it must render the
 *    same (if it decodes: see the note on unknown fields below).
 * The same bytes also go through bus_trace_id as a traceparent header.
 */
#include "fuzz_common.h"

#include "bus/bus.h"
#include "bus/pb_json.h"
#include "edge/denylist.h"
#include "edge/msg_json.h"
#include "proto/natter.pb-c.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *dump(const ProtobufCMessage *m)
{
    json_t *o = pb_json(m);
    FUZZ_CHECK(o != NULL);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    FUZZ_CHECK(s != NULL); /* a trace line for every payload */
    json_decref(o);
    return s;
}

/* A renderer's result: NULL is allowed (strings that are not UTF-8 cannot
 * go to a client), anything else must serialise. */
static void client_json(json_t *o)
{
    if (!o)
        return;
    char *s = json_dumps(o, JSON_COMPACT);
    FUZZ_CHECK(s != NULL);
    free(s);
    json_decref(o);
}

static void push(const Natter__Push *p)
{
    if (p->message)
        client_json(msg_json(p->message));
    if (p->contact)
        client_json(contact_event_json(p->contact));
    if (p->presence)
        client_json(presence_json(p->presence, "presence"));
    if (p->member)
        client_json(member_event_json(p->member));
    if (p->read)
        client_json(json_pack("{s:s, s:s, s:s, s:I}", "op", "read", "conversation_id",
                              p->read->conversation_id, "user_id", p->read->user_id, "seq",
                              (json_int_t)p->read->seq));
    if (p->revoked)
        client_json(json_pack("{s:s, s:s, s:s, s:I}", "op", "revoked", "conversation_id",
                              p->revoked->conversation_id, "message_id",
                              p->revoked->message_id, "seq", (json_int_t)p->revoked->seq));
}

/* edge/revocations.c: revoked sessions go into the edge's deny-list. */
static void revoked(const Natter__SessionRevoked *const *ev, size_t n)
{
    denylist_t *dl = NULL;
    FUZZ_CHECK(denylist_new(&dl) == 0);
    for (size_t i = 0; i < n; i++) {
        int rc = denylist_add(dl, ev[i]->session_id, ev[i]->expires_at);
        /* Every 512th add sweeps what expired by the clock: only a future
         * expiry must be found again. */
        if (rc == 0 && ev[i]->expires_at > (int64_t)time(NULL) * 1000 + 3600 * 1000)
            FUZZ_CHECK(denylist_has(dl, ev[i]->session_id, ev[i]->expires_at - 1));
    }
    FUZZ_CHECK(denylist_size(dl) <= n);
    denylist_free(dl);
}

static void edge_render(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &natter__session_revoked__descriptor) {
        const Natter__SessionRevoked *ev = (const Natter__SessionRevoked *)m;
        revoked(&ev, 1);
    } else if (d == &natter__session_revoked_list__descriptor) {
        const Natter__SessionRevokedList *l = (const Natter__SessionRevokedList *)m;
        revoked((const Natter__SessionRevoked *const *)l->sessions, l->n_sessions);
    } else if (d == &natter__message__descriptor)
        client_json(msg_json((const Natter__Message *)m));
    else if (d == &natter__conversation__descriptor)
        client_json(conv_json((const Natter__Conversation *)m, 1));
    else if (d == &natter__user__descriptor)
        client_json(user_json((const Natter__User *)m));
    else if (d == &natter__contact_request__descriptor)
        client_json(contact_request_json((const Natter__ContactRequest *)m));
    else if (d == &natter__contact__descriptor)
        client_json(contact_json((const Natter__Contact *)m));
    else if (d == &natter__contact_event__descriptor)
        client_json(contact_event_json((const Natter__ContactEvent *)m));
    else if (d == &natter__presence__descriptor)
        client_json(presence_json((const Natter__Presence *)m, NULL));
    else if (d == &natter__member_event__descriptor)
        client_json(member_event_json((const Natter__MemberEvent *)m));
    else if (d == &natter__push__descriptor)
        push((const Natter__Push *)m);
    else if (d == &natter__message_page__descriptor) {
        const Natter__MessagePage *pg = (const Natter__MessagePage *)m;
        for (size_t i = 0; i < pg->n_messages; i++)
            client_json(msg_json(pg->messages[i]));
    } else if (d == &natter__conv_list__descriptor) {
        const Natter__ConvList *l = (const Natter__ConvList *)m;
        for (size_t i = 0; i < l->n_conversations; i++)
            client_json(conv_json(l->conversations[i], 1));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    size_t ntypes;
    const ProtobufCMessageDescriptor *const *types = pb_types(&ntypes);
    char trace[40];
    fuzz_quiet();
    char *tp = fuzz_cstr(data, n);
    bus_trace_id(tp, trace, sizeof trace);
    FUZZ_CHECK(strcmp(trace, "-") == 0 || strlen(trace) == 32);
    free(tp);
    if (n == 0)
        return 0;
    const ProtobufCMessageDescriptor *d = types[data[0] % ntypes];
    FUZZ_CHECK(pb_type(d->name) == d);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n - 1, data + 1);
    json_t *j = pb_json_decode(d->name, data + 1, n - 1);
    FUZZ_CHECK((m == NULL) == (j == NULL));
    json_decref(j);
    if (!m)
        return 0;
    char *first = dump(m);
    edge_render(m);
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    FUZZ_CHECK(buf != NULL);
    FUZZ_CHECK(protobuf_c_message_pack(m, buf) == len);
    /* protobuf-c keeps unknown fields and packs them again; one with field
     * number 0 (a non-minimal varint tag) is accepted on the way in but its
     * repacked form is refused.  No pool repacks what it received, so only
     * a second decode that succeeds must agree. */
    ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, len, buf);
    if (again) {
        char *second = dump(again);
        FUZZ_CHECK(strcmp(first, second) == 0);
        free(second);
        protobuf_c_message_free_unpacked(again, NULL);
    }
    free(first);
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
