/*
 * ws_frames.h - what a client text frame asks for (API.md "WebSocket").
 *
 * ws_frame_parse turns one text frame into a ws_frame_t or an API error
 * (code + human message) that the edge sends back as {"op":"error"} while
 * the socket stays open.  Pure: no lws, no bus, no state, so every bad-input
 * case is a unit test (tests/unit/test_ws_frames.c).  Strict like jsonv:
 * unknown fields, wrong types and missing fields are refused, not guessed.
 */
#ifndef NT_WS_FRAMES_H
#define NT_WS_FRAMES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WS_RID_MAX 64     /* code points in a client rid */
#define WS_ID_MAX 64      /* conversation ids, client_msg_ids */
#define WS_SYNC_LIMIT_MAX 100
#define WS_MENTIONS_MAX 50 /* user ids in a send's "mentions" */
#define WS_SDP_MAX 65536   /* bytes of a call's sdp (API.md "Calls") */
#define WS_CANDIDATE_MAX 4096 /* bytes of a call_ice candidate, as compact JSON */
#define WS_CALL_ID_MAX 64  /* characters of a call id ([A-Za-z0-9_-]) */

typedef enum ws_op {
    WS_OP_SEND = 1,
    WS_OP_ACK,
    WS_OP_SYNC,
    WS_OP_READ,
    WS_OP_TYPING,
    WS_OP_PING,
    WS_OP_CALL_OFFER,
    WS_OP_CALL_ANSWER,
    WS_OP_CALL_ICE,
    WS_OP_CALL_HANGUP,
} ws_op_t;

/* 1 for the call ops (they go to the call actor, not a conversation). */
#define WS_OP_IS_CALL(op) ((op) >= WS_OP_CALL_OFFER && (op) <= WS_OP_CALL_HANGUP)

/* String pointers borrow from root; the caller keeps root (json_decref)
 * until it is done with the frame. */
typedef struct ws_frame {
    json_t *root;
    ws_op_t op;
    const char *rid;             /* NULL when the client sent none */
    const char *conversation_id; /* send, ack, sync, read, typing */
    const char *client_msg_id;   /* send */
    const char *type;            /* send: text | image | file */
    const char *body;            /* send */
    const char *mentions[WS_MENTIONS_MAX]; /* send: optional user ids */
    size_t n_mentions;
    int64_t seq;                 /* ack, read */
    int64_t after_seq;           /* sync (default 0) */
    int64_t limit;               /* sync (default 50) */
    const char *call_id;         /* call_answer, call_ice, call_hangup */
    const char *media;           /* call_offer: audio | video */
    const char *sdp;             /* call_offer, call_answer: <= WS_SDP_MAX bytes */
    char *candidate;             /* call_ice: the candidate object as compact JSON
                                    (malloc'd; ws_frame_fini frees it) */
} ws_frame_t;

/* Parse len bytes.  0: *f filled, f->root owned by the caller.  NT_EINVAL:
 * f->root is NULL, *code is an API.md code ("bad_request"), msg holds the
 * message, and rid (>= WS_RID_MAX*4+1 bytes, may be NULL) holds the
 * frame's rid when it could be read, "" otherwise. */
int ws_frame_parse(const char *buf, size_t len, int64_t max_body_chars, ws_frame_t *f,
                   const char **code, char *msg, size_t msglen, char *rid, size_t ridlen);

/* For a frame ws_frame_parse refused: 1 and the frame's conversation_id
 * in cid (n bytes) when it has one that is a conversation id (1-19
 * digits, no leading zero), else 0.  Authorization before validation
 * (docs/ws.md): before the edge answers bad_request to such a frame it
 * asks the conversation whether the caller is a member, and answers its
 * forbidden / not_found instead when not. */
int ws_frame_conversation(const char *buf, size_t len, char *cid, size_t n);

/* Release f->root (NULL-safe). */
void ws_frame_fini(ws_frame_t *f);

/* The server's error frame text {"op":"error","rid"?,"code","message"};
 * malloc'd, caller frees; NULL on allocation failure. */
char *ws_frame_error(const char *rid, const char *code, const char *message);

#endif
