/*
 * ws_frames.c - client frame validation for the WebSocket edge.
 *
 * One table row per op lists its allowed fields, then a small function per
 * op reads them with jsonv.  Anything that fails becomes bad_request with
 * the frame's rid (when it had a readable one), so a client can match the
 * error to the request that caused it.
 */
#include "edge/ws/ws_frames.h"

#include "common/err.h"
#include "common/json_depth.h"
#include "common/jsonv.h"
#include "edge/msg_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_send[] = {"op", "rid", "conversation_id", "client_msg_id", "type",
                                     "body", "mentions", NULL};
static const char *const k_ack[] = {"op", "rid", "conversation_id", "seq", NULL};
static const char *const k_sync[] = {"op", "rid", "conversation_id", "after_seq", "limit", NULL};
static const char *const k_read[] = {"op", "rid", "conversation_id", "seq", NULL};
static const char *const k_typing[] = {"op", "rid", "conversation_id", NULL};
static const char *const k_ping[] = {"op", "rid", NULL};
static const char *const k_call_offer[] = {"op", "rid", "conversation_id", "media", "sdp", NULL};
static const char *const k_call_answer[] = {"op", "rid", "call_id", "sdp", NULL};
static const char *const k_call_ice[] = {"op", "rid", "call_id", "candidate", NULL};
static const char *const k_call_hangup[] = {"op", "rid", "call_id", NULL};

static const struct {
    const char *name;
    ws_op_t op;
    const char *const *keys;
} k_ops[] = {
    {"send", WS_OP_SEND, k_send},   {"ack", WS_OP_ACK, k_ack},
    {"sync", WS_OP_SYNC, k_sync},   {"read", WS_OP_READ, k_read},
    {"typing", WS_OP_TYPING, k_typing}, {"ping", WS_OP_PING, k_ping},
    {"call_offer", WS_OP_CALL_OFFER, k_call_offer},
    {"call_answer", WS_OP_CALL_ANSWER, k_call_answer},
    {"call_ice", WS_OP_CALL_ICE, k_call_ice},
    {"call_hangup", WS_OP_CALL_HANGUP, k_call_hangup},
};

static int cid(ws_frame_t *f, char *msg, size_t n)
{
    return jsonv_str(f->root, "conversation_id", 1, 1, WS_ID_MAX, &f->conversation_id, msg, n);
}

static int parse_send(ws_frame_t *f, int64_t max_body, char *msg, size_t n)
{
    int rc = cid(f, msg, n);
    if (rc == NT_OK)
        rc = jsonv_str(f->root, "client_msg_id", 1, 1, WS_ID_MAX, &f->client_msg_id, msg, n);
    if (rc == NT_OK)
        rc = jsonv_str(f->root, "type", 1, 1, 16, &f->type, msg, n);
    if (rc == NT_OK && strcmp(f->type, "text") && strcmp(f->type, "image") &&
        strcmp(f->type, "file")) {
        snprintf(msg, n, "type must be text, image or file");
        rc = NT_EINVAL;
    }
    if (rc == NT_OK)
        rc = jsonv_str(f->root, "body", 1, 1, (size_t)max_body, &f->body, msg, n);
    if (rc == NT_OK)
        rc = mentions_from_json(f->root, f->mentions, WS_MENTIONS_MAX, &f->n_mentions, msg, n);
    return rc;
}

/* A call id: 1-WS_CALL_ID_MAX characters of [A-Za-z0-9_-] (a subject
 * token). */
static int call_id(ws_frame_t *f, char *msg, size_t n)
{
    int rc = jsonv_str(f->root, "call_id", 1, 1, WS_CALL_ID_MAX, &f->call_id, msg, n);
    if (rc == NT_OK && strspn(f->call_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_-") != strlen(f->call_id)) {
        snprintf(msg, n, "call_id is not a call id");
        rc = NT_EINVAL;
    }
    return rc;
}

/* sdp: a non-empty string of at most WS_SDP_MAX bytes (bytes, not
 * characters: it is ASCII in practice, and the bound is about memory). */
static int sdp(ws_frame_t *f, char *msg, size_t n)
{
    json_t *v = json_object_get(f->root, "sdp");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > WS_SDP_MAX) {
        snprintf(msg, n, "sdp must be a string of 1-%d bytes", WS_SDP_MAX);
        return NT_EINVAL;
    }
    f->sdp = json_string_value(v);
    return NT_OK;
}

/* candidate: an object, kept as compact JSON text, which is how it is
 * relayed (no process parses JSON from the bus). */
static int candidate(ws_frame_t *f, char *msg, size_t n)
{
    json_t *c = json_object_get(f->root, "candidate");
    if (!json_is_object(c)) {
        snprintf(msg, n, "candidate must be an object");
        return NT_EINVAL;
    }
    if (!(f->candidate = json_dumps(c, JSON_COMPACT))) {
        snprintf(msg, n, "candidate cannot be read");
        return NT_EINVAL;
    }
    if (strlen(f->candidate) > WS_CANDIDATE_MAX) {
        snprintf(msg, n, "candidate must be at most %d bytes", WS_CANDIDATE_MAX);
        return NT_EINVAL;
    }
    return NT_OK;
}

static int parse_call(ws_frame_t *f, char *msg, size_t n)
{
    int rc;
    switch (f->op) {
    case WS_OP_CALL_OFFER:
        rc = cid(f, msg, n);
        if (rc == NT_OK)
            rc = jsonv_str(f->root, "media", 1, 1, 16, &f->media, msg, n);
        if (rc == NT_OK && strcmp(f->media, "audio") && strcmp(f->media, "video")) {
            snprintf(msg, n, "media must be audio or video");
            rc = NT_EINVAL;
        }
        return rc == NT_OK ? sdp(f, msg, n) : rc;
    case WS_OP_CALL_ANSWER:
        rc = call_id(f, msg, n);
        return rc == NT_OK ? sdp(f, msg, n) : rc;
    case WS_OP_CALL_ICE:
        rc = call_id(f, msg, n);
        return rc == NT_OK ? candidate(f, msg, n) : rc;
    case WS_OP_CALL_HANGUP:
        return call_id(f, msg, n);
    default:
        return NT_EINVAL;
    }
}

static int parse_op(ws_frame_t *f, int64_t max_body, char *msg, size_t n)
{
    if (WS_OP_IS_CALL(f->op))
        return parse_call(f, msg, n);
    switch (f->op) {
    case WS_OP_SEND:
        return parse_send(f, max_body, msg, n);
    case WS_OP_ACK:
    case WS_OP_READ: {
        int rc = cid(f, msg, n);
        return rc ? rc : jsonv_int(f->root, "seq", 1, 0, INT64_MAX, &f->seq, msg, n);
    }
    case WS_OP_SYNC: {
        int rc = cid(f, msg, n);
        if (rc == NT_OK)
            rc = jsonv_int(f->root, "after_seq", 0, 0, INT64_MAX, &f->after_seq, msg, n);
        if (rc == NT_OK)
            rc = jsonv_int(f->root, "limit", 0, 1, WS_SYNC_LIMIT_MAX, &f->limit, msg, n);
        return rc;
    }
    case WS_OP_TYPING:
        return cid(f, msg, n);
    case WS_OP_PING:
        return NT_OK;
    default:
        break;
    }
    return NT_EINVAL;
}

static int find_op(ws_frame_t *f, const char *const **keys, char *msg, size_t n)
{
    const char *name;
    int rc = jsonv_str(f->root, "op", 1, 1, 32, &name, msg, n);
    if (rc != NT_OK)
        return rc;
    for (size_t i = 0; i < sizeof k_ops / sizeof k_ops[0]; i++)
        if (strcmp(name, k_ops[i].name) == 0) {
            f->op = k_ops[i].op;
            *keys = k_ops[i].keys;
            return NT_OK;
        }
    snprintf(msg, n, "unknown op");
    return NT_EINVAL;
}

int ws_frame_parse(const char *buf, size_t len, int64_t max_body_chars, ws_frame_t *f,
                   const char **code, char *msg, size_t msglen, char *rid, size_t ridlen)
{
    const char *const *keys = NULL;
    memset(f, 0, sizeof *f);
    f->limit = 50;
    *code = "bad_request";
    if (rid && ridlen)
        rid[0] = '\0';
    int rc = jsonv_parse_object(buf, len, &f->root, msg, msglen);
    if (rc != NT_OK) {
        /* jsonv speaks of a "body"; on a socket it is the frame. */
        if (strstr(msg, "not valid JSON"))
            snprintf(msg, msglen, "frame is not valid JSON");
        else if (strstr(msg, "JSON object"))
            snprintf(msg, msglen, "frame must be a JSON object");
        else if (strstr(msg, "duplicate"))
            snprintf(msg, msglen, "frame has a duplicate field");
        else if (strstr(msg, "nested"))
            snprintf(msg, msglen, "frame is nested more than %d levels deep", JSON_DEPTH_MAX);
        f->root = NULL;
        return NT_EINVAL;
    }
    rc = jsonv_str(f->root, "rid", 0, 1, WS_RID_MAX, &f->rid, msg, msglen);
    if (rc == NT_OK && f->rid && rid)
        snprintf(rid, ridlen, "%s", f->rid);
    if (rc == NT_OK)
        rc = find_op(f, &keys, msg, msglen);
    if (rc == NT_OK)
        rc = jsonv_unknown_keys(f->root, keys, msg, msglen);
    if (rc == NT_OK)
        rc = parse_op(f, max_body_chars, msg, msglen);
    if (rc != NT_OK)
        ws_frame_fini(f);
    return rc;
}

int ws_frame_conversation(const char *buf, size_t len, char *cid, size_t n)
{
    json_t *root = NULL;
    int found = 0;
    if (!cid || n == 0 || jsonv_parse_object(buf, len, &root, NULL, 0) != NT_OK)
        return 0;
    const char *v = json_string_value(json_object_get(root, "conversation_id"));
    size_t len_v = v ? strlen(v) : 0;
    if (len_v >= 1 && len_v <= 19 && len_v < n && v[0] != '0' &&
        strspn(v, "0123456789") == len_v) {
        memcpy(cid, v, len_v + 1);
        found = 1;
    }
    json_decref(root);
    return found;
}

void ws_frame_fini(ws_frame_t *f)
{
    if (!f)
        return;
    if (f->root) {
        json_decref(f->root);
        f->root = NULL;
    }
    free(f->candidate);
    f->candidate = NULL;
}

char *ws_frame_error(const char *rid, const char *code, const char *message)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "op", "error", "code", code, "message",
                          message ? message : code);
    if (!o) /* a pool's message that is not UTF-8: the code alone still helps */
        o = json_pack("{s:s, s:s, s:s}", "op", "error", "code", code, "message", code);
    if (!o)
        return NULL;
    if (rid && *rid)
        json_object_set_new(o, "rid", json_string(rid));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
