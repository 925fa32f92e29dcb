/*
 * ws_calls.c - the WebSocket edge's side of calls (API.md "Calls",
 * docs/calls.md): what a call frame becomes on the bus, and what a call
 * event from the bus becomes on the socket.
 *
 * The call actor (hosted by the presence pool) keeps every rule; the edge
 * only translates.  call_offer is a request to im.svc.call.offer, the
 * other frames to the call's own address im.call.<call_id>.<verb>, which
 * exists only while the call does: a frame for an unknown or finished
 * call finds no responder and gets not_found at once.  Every call request
 * carries Natter-Uid and Natter-Sid, so the actor knows which session of
 * a party spoke.
 *
 * An ICE candidate travels as the JSON text this edge made of the client's
 * object and is spliced unchanged into the frame the other edge sends: no
 * process parses JSON from the bus (docs/design.md).
 */
#include "edge/ws/ws_internal.h"

#include "bus/subject.h"
#include "common/err.h"
#include "proto/natter.pb-c.h"

#include <stdlib.h>
#include <string.h>

static const char *verb_of(ws_op_t op)
{
    switch (op) {
    case WS_OP_CALL_ANSWER: return "answer";
    case WS_OP_CALL_ICE: return "ice";
    case WS_OP_CALL_HANGUP: return "hangup";
    default: return NULL;
    }
}

int ws_call_subject(const ws_frame_t *f, char *subj, size_t n)
{
    if (f->op == WS_OP_CALL_OFFER)
        return subject_svc(subj, n, "call", "offer");
    const char *verb = verb_of(f->op);
    if (!verb)
        return NT_EINVAL;
    return subject_call(subj, n, f->call_id, verb) == NT_OK ? NT_OK : NT_ENOTFOUND;
}

int ws_call_pack(const ws_frame_t *f, uint8_t **buf, size_t *len)
{
    Natter__CallReq r = NATTER__CALL_REQ__INIT;
    r.call_id = (char *)(f->call_id ? f->call_id : "");
    r.conversation_id = (char *)(f->conversation_id ? f->conversation_id : "");
    r.media = (char *)(f->media ? f->media : "");
    r.sdp = (char *)(f->sdp ? f->sdp : "");
    r.candidate = f->candidate ? f->candidate : "";
    *len = protobuf_c_message_get_packed_size(&r.base);
    if (!(*buf = malloc(*len ? *len : 1)))
        return NT_ENOMEM;
    protobuf_c_message_pack(&r.base, *buf);
    return NT_OK;
}

json_t *ws_call_ok(ws_op_t op, const char *rid, natsMsg *reply)
{
    if (op != WS_OP_CALL_OFFER)
        return rid && *rid ? json_pack("{s:s}", "op", "ok") : NULL;
    int n = natsMsg_GetDataLength(reply);
    Natter__CallReply *r = natter__call_reply__unpack(NULL, (size_t)(n > 0 ? n : 0),
                                                      (const uint8_t *)natsMsg_GetData(reply));
    json_t *o = r && r->call_id && *r->call_id
                    ? json_pack("{s:s, s:s}", "op", "ok", "call_id", r->call_id)
                    : NULL;
    if (r)
        natter__call_reply__free_unpacked(r, NULL);
    return o;
}

/* "{...}" and nothing that could end the frame early: the candidate came
 * from an edge's json_dumps, this only refuses what is plainly not that. */
static int object_text(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 2 && n <= WS_CANDIDATE_MAX && s[0] == '{' && s[n - 1] == '}';
}

char *ws_call_event_text(const Natter__CallEvent *e)
{
    json_t *o = NULL;
    const char *op = e->op ? e->op : "";
    if (!e->call_id || !*e->call_id)
        return NULL;
    if (strcmp(op, "call_offer") == 0)
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", op, "call_id", e->call_id,
                      "conversation_id", e->conversation_id, "from", e->from, "media", e->media,
                      "sdp", e->sdp);
    else if (strcmp(op, "call_answer") == 0)
        o = json_pack("{s:s, s:s, s:s}", "op", op, "call_id", e->call_id, "sdp", e->sdp);
    else if (strcmp(op, "call_hangup") == 0)
        o = json_pack("{s:s, s:s, s:s}", "op", op, "call_id", e->call_id, "reason", e->reason);
    else if (strcmp(op, "call_ice") == 0 && object_text(e->candidate))
        o = json_pack("{s:s, s:s}", "op", op, "call_id", e->call_id);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text || strcmp(op, "call_ice") != 0)
        return text;
    /* {"op":"call_ice","call_id":"X"} + ,"candidate":<text> before the brace */
    size_t head = strlen(text) - 1, cand = strlen(e->candidate);
    static const char key[] = ",\"candidate\":";
    char *out = malloc(head + sizeof key - 1 + cand + 2);
    if (out) {
        memcpy(out, text, head);
        memcpy(out + head, key, sizeof key - 1);
        memcpy(out + head + sizeof key - 1, e->candidate, cand);
        memcpy(out + head + sizeof key - 1 + cand, "}", 2);
    }
    free(text);
    return out;
}
