/*
 * ws_internal.h - the parts of the WebSocket edge that share state: the
 * inbox (bus messages -> loop), sessions and the per-user table,
 * pending pool requests, and message pushes waiting for their ack.
 * Everything here except ws_inbox_t's queue is owned by the loop thread
 * (the one libuv loop lws and the NATS socket share) and touched by no
 * other thread.
 */
#ifndef NT_WS_INTERNAL_H
#define NT_WS_INTERNAL_H

#include "edge/ws/ws_edge.h"
#include "common/prom.h"
#include "edge/ws/ws_frames.h"
#include "edge/ws/ws_render.h"
#include "proto/natter.pb-c.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

/* ---- inbox: bus messages -> the loop (ws_inbox.c) -------------------- */

/* WS_IN_IPRULES carries no message: the IP rules changed. */
typedef enum { WS_IN_REPLY = 1, WS_IN_PUSH, WS_IN_KICK, WS_IN_IPRULES, WS_IN_KINDS } ws_in_kind_t;

/* One message handed to the loop as nats.c delivered it (not copied). */
typedef struct ws_in {
    natsMsg *msg;
    ws_in_kind_t kind;
} ws_in_t;

typedef void (*ws_inbox_fn)(void *arg, ws_in_t *in);

typedef struct ws_inbox ws_inbox_t;

/* What bus_inline calls back with: the inbox and the kind its pattern is. */
typedef struct ws_inbox_route {
    ws_inbox_t *q;
    ws_in_kind_t kind;
} ws_inbox_route_t;

/* Producers append to v under mu and wake the loop only when v goes from
 * empty to non-empty, so a burst costs one wake-up (uv_async_send also
 * coalesces).  The loop swaps v with work and handles work in batches.
 * mu guards v, n, cap and open; work* belong to the loop thread. */
struct ws_inbox {
    pthread_mutex_t mu;
    ws_in_t *v;
    size_t n, cap;
    int open;                      /* 0 once closed: late messages are dropped */
    uv_async_t async;
    ws_in_t *work;
    size_t work_n, work_cap, work_i;
    ws_inbox_fn fn;
    void *arg;
    uint64_t wakeups, items;       /* loop thread: batches handled, messages handled */
    ws_inbox_route_t route[WS_IN_KINDS];  /* bus_inline's closures, by kind */
    uint64_t inline_items;         /* loop thread: messages handled as they were read */
};

/* On the loop thread; fn(arg, in) runs there for each message and must not
 * keep in->msg (the inbox destroys it). */
int ws_inbox_init(ws_inbox_t *q, uv_loop_t *loop, ws_inbox_fn fn, void *arg);
/* Loop thread, before the loop reads the bus: the messages of kind, whose
 * subjects pattern covers, go to fn on the loop thread as nats.c reads them
 * (bus_inline), not through the queue.  NT_EUNAVAIL: the bus has that
 * turned off (nats.inline = 0) or cannot; their subscription's handler
 * keeps pushing them here.  The pattern must be covered by no other
 * subscription of the process (bus.h). */
int ws_inbox_inline(ws_inbox_t *q, bus_t *bus, const char *pattern, ws_in_kind_t kind);
void ws_inbox_push(ws_inbox_t *q, ws_in_kind_t kind, natsMsg *msg);  /* takes msg; any thread */
void ws_inbox_close(ws_inbox_t *q);         /* loop thread: no more wake-ups; idempotent */
void ws_inbox_fini(ws_inbox_t *q);          /* after the loop ended: destroys what is left */

/* ---- sessions (loop thread) ------------------------------------------- */

typedef struct ws_out {
    struct ws_out *next;
    size_t len;
    unsigned char buf[];           /* LWS_PRE headroom + len bytes */
} ws_out_t;

typedef struct ws_user ws_user_t;
typedef struct ws_pending ws_pending_t;
typedef struct ws_unacked_ent ws_unacked_ent_t;
typedef struct ws_typing ws_typing_t;

/* The per-connection user data lws allocates (zeroed); loop thread only.
 * Kept lean: 100k idle sockets each hold one.  Everything a busy session
 * accumulates (requests, waiting sends, unacked pushes) hangs off pointers
 * that are NULL when idle. */
typedef struct ws_session {
    struct lws *wsi;
    int64_t last_rx_us;            /* the client's last frame (idle timeout) */
    int64_t since_ms;              /* wall clock at the upgrade (admin sessions list) */
    int close_code;                /* != 0: close with this once the queue is sent */
    const char *close_why;         /* static text: the close reason, if not the code's */
    short http_status;             /* /healthz answer */
    unsigned char is_ws;           /* an upgraded socket (not /healthz) */
    unsigned char authed;
    unsigned char rx_over, rx_binary;
    unsigned char rx_paused;       /* not reading: too many sends waiting, or draining */
    unsigned char drain_told;      /* the edge drains: 1 not read again, closed 1012 once answered;
                                      2 its close frame is sent (ws_drain.c) */
    uint16_t n_pend;               /* at most WS_MAX_INFLIGHT */
    uint16_t n_wait;               /* at most WS_MAX_WAITING */
    token_claims_t who;
    ws_out_t *out_head, *out_tail;
    size_t out_n, out_bytes;
    char *rx;                      /* current client message, max_frame bytes */
    size_t rx_len;
    ws_user_t *user;
    struct ws_session *u_prev, *u_next;   /* the user's sessions */
    ws_pending_t *pend;            /* this session's requests in flight */
    ws_pending_t *wait;            /* sends waiting for their conversation's previous one, FIFO */
    ws_unacked_ent_t *ua_head, *ua_tail;  /* message pushes not acked yet, oldest first */
    uint32_t n_unacked, ua_bytes;  /* at most ws.max_unacked, ws.max_outq_bytes */
    ws_typing_t *typing;           /* typing limiter; NULL until it types (ws_presence.c) */
    struct ws_addr *addr;          /* counted against its address (ws_addrs.c); NULL: not */
    struct ws_session *d_prev, *d_next;   /* on the edge's flush list (ws_server.c) */
    unsigned char dirty;           /* frames queued since the last flush */
    uint16_t peer_close;           /* close code the client sent (ws_metrics.c); 0: none */
} ws_session_t;

struct ws_user {
    ws_user_t *next;               /* hash chain */
    char uid[TOKEN_ID_MAX];
    natsSubscription *sub;         /* im.user.<uid>.push */
    ws_session_t *sessions;
};

/* ---- pending requests (loop thread) ----------------------------------- */

/* A request in flight is in the hash, the deadline FIFO and its session's
 * list.  A send waiting behind its conversation's previous send is only on
 * the session's wait list (w_next) with its packed request, and has no
 * corr or deadline until it is issued. */
struct ws_pending {
    uint64_t corr;
    ws_pending_t *h_next;                  /* hash chain */
    ws_pending_t *f_prev, *f_next;         /* deadline order (FIFO) */
    ws_pending_t *s_prev, *s_next;         /* session list */
    ws_session_t *s;
    ws_op_t op;
    int64_t deadline_us;
    ws_pending_t *w_next;                  /* session's wait list */
    uint8_t *req;                          /* waiting only: the packed SendReq */
    size_t req_len;
    char *held;                            /* an access check: the bad_request frame to
                                              send if the caller may see cid; owned */
    unsigned char hello;                   /* the hello barrier (ws_request_hello) */
    char rid[WS_RID_MAX * 4 + 1];
    char cid[WS_ID_MAX * 4 + 1];
};

/* Requests one session may have in flight; more get rate_limited (a client
 * cannot pile up pending state faster than the pool answers). */
#define WS_MAX_INFLIGHT 64

/* Sends one session may have waiting behind the previous send of the same
 * conversation (per-session send order, docs/ws.md).  Each holds its packed
 * request (at most ws.max_frame bytes).  At this many the edge stops
 * reading the socket (TCP backpressure keeps the client's order, a refusal
 * would not) and reads again at half; rate_limited only if a frame still
 * arrives past it. */
#define WS_MAX_WAITING 32

_Static_assert(WS_MAX_INFLIGHT <= UINT16_MAX && WS_MAX_WAITING <= UINT16_MAX,
               "ws_session_t counts these in uint16_t");

/* ---- unacked message pushes (ws_unacked.c; pure, loop thread) --------- */

/* A rendered frame shared (refcounted) by every session it was pushed to. */
typedef struct ws_text {
    unsigned refs;
    size_t len;
    char data[];                   /* len bytes + NUL */
} ws_text_t;

ws_text_t *ws_text_new(const char *s);     /* refs = 1; NULL on ENOMEM */
void ws_text_unref(ws_text_t *t);          /* NULL-safe */

/* One message push to one session, waiting for its ack. */
struct ws_unacked_ent {
    ws_unacked_ent_t *f_prev, *f_next;     /* edge-wide, by resend deadline */
    ws_unacked_ent_t *s_prev, *s_next;     /* the session's, oldest first */
    ws_session_t *s;
    ws_text_t *text;
    int64_t deadline_us;
    int64_t sent_us;                       /* first sent: send->ack latency */
    int64_t seq;
    uint32_t cid_hash;
    unsigned tries;                        /* resends done */
    char cid[];
};

/* Edge-wide: the resend FIFO and the limits (read-only after init). */
typedef struct ws_unacked {
    ws_unacked_ent_t *head, *tail;         /* deadline order */
    int64_t timeout_us;                    /* ws.ack_timeout_s */
    unsigned resend_max;                   /* ws.resend_max; 0: nothing is tracked */
    size_t max_n;                          /* ws.max_unacked per session; 0: same */
    size_t max_bytes;                      /* frame bytes per session */
    uint64_t resent, dropped;              /* resends done; entries given up (full, or resent
                                              resend_max times) */
    uint64_t timed_out;                    /* of dropped: resent resend_max times, no ack */
    uint64_t held;                         /* entries held now, all sessions */
    prom_hist_t ack_seconds;               /* first send -> ack, per acked entry */
} ws_unacked_t;

/* Called by the sweep for each due entry; must not free sessions. */
typedef void (*ws_resend_fn)(void *arg, ws_session_t *s, const ws_text_t *text);

void ws_unacked_init(ws_unacked_t *u, int64_t timeout_us, unsigned resend_max, size_t max_n,
                     size_t max_bytes);
/* Remember that text (message cid/seq) was queued to s at now_us; takes a
 * reference on text.  When s is at its bounds the oldest entries go first. */
int ws_unacked_track(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq,
                     ws_text_t *text, int64_t now_us);
/* Cumulative ack at now_us: forget s's entries of cid with seq <= seq,
 * observing each one's send->ack time. */
void ws_unacked_ack(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq,
                    int64_t now_us);
/* Forget s's entry of exactly (cid, seq): the message was revoked, and a
 * resend must not carry its old body again. */
void ws_unacked_forget(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq);
/* Resend what is due at now_us (at most max of them); an entry resent
 * resend_max times is dropped. */
void ws_unacked_sweep(ws_unacked_t *u, int64_t now_us, size_t max, ws_resend_fn fn, void *arg);
void ws_unacked_drop_session(ws_unacked_t *u, ws_session_t *s);

/* ---- metrics (ws_metrics.c; loop thread) ----------------------------- */

/* What /metrics shows beyond sessions and the unacked table.  Plain
 * counters: only the loop thread writes them, and /metrics is answered on
 * the loop too (the edge's own port, like /healthz), so no lock and no
 * atomic is added to the realtime path. */
#define WS_IN_OPS 12     /* ws_op_t values 1..10, 0: unparsable, 11: any other */
#define WS_OUT_OPS 19    /* ws_metrics.c's table of outgoing ops */
#define WS_CLOSE_KINDS 12
typedef struct ws_stats {
    uint64_t connects;             /* sessions authenticated and attached */
    uint64_t auth_failures;        /* upgrades refused for the token (4001) */
    uint64_t slow_closes;          /* 1008: the client did not read its queue */
    uint64_t closes[WS_CLOSE_KINDS][2];   /* by code (ws_metrics.c's table), [0] server [1] client */
    uint64_t frames_in[WS_IN_OPS];
    uint64_t frames_out[WS_OUT_OPS];
    uint64_t message_pushes;       /* message pushes queued to a session (first sends) */
    uint64_t push_memo_hits;       /* pushes queued with the last one's frame (ws_push.c) */
    uint64_t outq_frames, outq_bytes;     /* queued to clients now, all sessions */
} ws_stats_t;

/* ---- connections per client address (ws_addrs.c; pure, loop thread) -- */

typedef struct ws_addr {
    struct ws_addr *next;          /* hash chain */
    unsigned n;                    /* sockets open from this address */
    char ip[48];
} ws_addr_t;

#define WS_ADDR_BUCKETS 4096

typedef struct ws_addrs {
    ws_addr_t *b[WS_ADDR_BUCKETS];
    unsigned max;                  /* per address; 0: no limit */
    uint64_t refused;
} ws_addrs_t;

/* Count one more socket from ip: NT_OK and *out (for ws_addrs_release),
 * NT_ERATELIMIT if ip is at max, NT_ENOMEM. */
int ws_addrs_take(ws_addrs_t *a, const char *ip, ws_addr_t **out);
void ws_addrs_release(ws_addrs_t *a, ws_addr_t *e);   /* NULL-safe */
void ws_addrs_fini(ws_addrs_t *a);

/* Different delay hints a drain hands out (ws_drain.c). */
#define WS_DRAIN_HINTS 32

#define WS_HASH_BITS 16
#define WS_HASH_SIZE (1u << WS_HASH_BITS)

/* Frames written to one socket in one send (ws_server.c): several queued
 * frames go out together. */
#define WS_WRITE_BATCH 65536

/* The last message push this edge rendered, by its natter.Push bytes
 * (ws_push.c): a group message arrives once per member on this edge with
 * the same bytes. */
typedef struct ws_push_memo {
    uint8_t *bytes;                /* the push it was rendered from; NULL: empty */
    size_t len;
    ws_text_t *text;               /* the frame (one reference held here) */
    char *cid;                     /* its conversation and seq, for the ack tracking */
    int64_t seq;
} ws_push_memo_t;

void ws_push_memo_clear(ws_push_memo_t *m);

/* The edge's private state.  Everything but the inbox's queue (own lock)
 * belongs to the loop thread. */
struct ws_state {
    ws_edge_t *e;
    ws_inbox_t inbox;
    int inbox_ok;                  /* ws_inbox_init done */
    int inline_on;                 /* replies and pushes skip the inbox queue (bus_inline) */
    struct lws_context *ctx;
    struct lws_context *ctx_dying; /* destroyed once, on a loop that was still running */
    int stopped;                   /* ws_edge_stop ran */
    ws_addrs_t addrs;
    unsigned char wbuf[WS_WRITE_BATCH];  /* several frames for one write */
    ws_buf_t rbuf;                 /* a message or sent frame being rendered (ws_render.c) */
    ws_push_memo_t memo;           /* the last message push rendered (ws_push.c) */
    uv_check_t flush;              /* end of each loop turn: write what was queued */
    int flush_ok;                  /* flush handle initialised */
    ws_session_t *dirty;           /* sessions with frames queued this turn */
    uint64_t writes, frames;       /* socket writes issued, frames in them */
    uint64_t ip_refused, ip_closed; /* upgrades refused, sockets closed by IP rules */
    char inbox_prefix[64];         /* _INBOX.<nuid> */
    natsSubscription *reply_sub;   /* _INBOX.<nuid>.* */
    natsSubscription *revoked_sub; /* im.evt.session.> (kicks) */
    uint64_t next_corr;
    ws_user_t *users[WS_HASH_SIZE];
    ws_pending_t *pend[WS_HASH_SIZE];
    ws_pending_t *fifo_head, *fifo_tail;
    lws_sorted_usec_list_t sweep;
    size_t n_sessions;
    ws_unacked_t unacked;
    ws_stats_t stats;              /* /metrics (ws_metrics.c) */
    char edge_id[32];              /* presence: this edge in reports (ws_presence.c) */
    uint64_t presence_seq;         /* last report's seq */
    int64_t presence_next_us;      /* next heartbeat */
    /* Drain (ws_drain.c): set once by ws_edge_drain. */
    int draining, drain_finished;
    int64_t drain_t0_us, drain_us;
    size_t drain_n0, drain_told, drain_closed;  /* sessions at the start, told, closed */
    uint64_t drain_refused;        /* sockets refused while draining */
    uint64_t drain_rand;           /* jitter of the delay hints */
    void (*drain_done)(void *arg);
    void *drain_arg;
    char drain_hints[WS_DRAIN_HINTS][40];  /* close reasons, "service_restart retry_ms=N" */
};

/* ws_drain.c: the 100 ms share of a drain; refuse a socket opened while
 * draining (1012 with a delay hint). */
void ws_drain_tick(ws_state_t *st, int64_t now_us);
void ws_drain_refuse(ws_state_t *st, ws_session_t *s);
/* WRITEABLE with close_code 1012 and nothing queued: the close handshake
 * (our frame, then wait for the client's); -1: close now. */
int ws_drain_close(ws_state_t *st, ws_session_t *s);

/* ws_session.c */
void ws_session_send(ws_state_t *st, ws_session_t *s, const char *text);
void ws_session_close(ws_session_t *s, int code);        /* drops the queue */
void ws_session_close_after(ws_session_t *s, int code);  /* sends the queue first */
int ws_session_attach(ws_state_t *st, ws_session_t *s);   /* join the user's table */
void ws_session_detach(ws_state_t *st, ws_session_t *s);  /* leave it, free everything */
void ws_session_ack(ws_state_t *st, ws_session_t *s, const char *cid, int64_t seq);
/* Queue text to every session of uid; a message push (cid != NULL) is also
 * tracked for resend until acked. */
void ws_users_push(ws_state_t *st, const char *uid, ws_text_t *text, const char *cid,
                   int64_t seq);
/* Send text to uid's sessions with this sid, then close them with 4002. */
/* Close sid's sockets after text (NULL: none): 4002 "kicked", or 4003 with
 * reason "banned" / "kicked_by_admin" for those revocation reasons. */
void ws_users_kick(ws_state_t *st, const char *uid, const char *sid, const char *reason,
                   const char *text);
void ws_users_unsubscribe_all(ws_state_t *st);
/* Close (4003 "ip_denied") every session whose client address a deny rule
 * covers (ws_edge.h iprules) -> how many. */
int ws_users_close_denied(ws_state_t *st);
/* Stop resending (cid, seq) to uid's sessions (ws_unacked_forget). */
void ws_users_forget(ws_state_t *st, const char *uid, const char *cid, int64_t seq);

/* ws_requests.c */
int ws_requests_start(ws_state_t *st);      /* the reply subscription */
void ws_requests_stop(ws_state_t *st);
int ws_request(ws_state_t *st, ws_session_t *s, const ws_frame_t *f);
/* Authorization before validation (docs/ws.md): error_text, a bad_request
 * frame for a frame that names conversation cid, is sent only after the
 * conversation's "get" says s may see cid; otherwise its forbidden /
 * not_found goes instead.  Takes error_text (frees it). */
void ws_request_access(ws_state_t *st, ws_session_t *s, const char *rid, const char *cid,
                       char *error_text);
/* Send s its hello once nats-server has the session's push subscription:
 * a probe published to the edge's own reply inbox comes back only after
 * the server processed every SUB this connection sent before it (one
 * connection's protocol is handled in order).  A client that sends
 * right after hello then cannot miss a push (docs/ws.md "hello").  On a
 * deadline, hello goes anyway. */
void ws_request_hello(ws_state_t *st, ws_session_t *s);
void ws_requests_reply(ws_state_t *st, natsMsg *msg);
void ws_requests_sweep(ws_state_t *st, int64_t now_us);
void ws_requests_drop_session(ws_state_t *st, ws_session_t *s);

/* ws_server.c: the lws protocol callback, and the inbox's handler */
void ws_server_on_inbox(void *arg, ws_in_t *in);
int ws_server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
/* Stop / start reading s's socket (a paused session is never closed as
 * idle: the edge is the one not reading).  Idempotent. */
void ws_server_rx_pause(ws_session_t *s);
void ws_server_hello(ws_state_t *st, ws_session_t *s); /* the hello frame, now */
void ws_server_rx_resume(ws_state_t *st, ws_session_t *s);
/* s has frames queued: write them at the end of this loop turn. */
void ws_server_want_flush(ws_state_t *st, ws_session_t *s);
void ws_server_unflush(ws_state_t *st, ws_session_t *s);   /* s is going away */
int ws_server_flush_start(ws_state_t *st);                  /* the uv_check handle */
void ws_server_flush_stop(ws_state_t *st);

/* ws_calls.c: call frames to bus requests, call events to frames (pure) */
/* The subject of call frame f: im.svc.call.offer or im.call.<id>.<verb>. */
int ws_call_subject(const ws_frame_t *f, char *subj, size_t n);
int ws_call_pack(const ws_frame_t *f, uint8_t **buf, size_t *len);   /* natter.CallReq */
/* The frame answering a call request that succeeded: {"op":"ok","call_id"}
 * for an offer, {"op":"ok"} for the others when they had a rid, else NULL
 * (nothing to send). */
json_t *ws_call_ok(ws_op_t op, const char *rid, natsMsg *reply);
/* The frame text of a call event (malloc'd), or NULL if malformed. */
char *ws_call_event_text(const Natter__CallEvent *e);
/* Queue text to uid's sessions whose sid is sid ("" = all) and not skip
 * ("" = none). */
void ws_users_push_sid(ws_state_t *st, const char *uid, const char *text, const char *sid,
                       const char *skip);
/* 1 if a socket of uid's session sid ("" = any session) is open here. */
int ws_users_has(ws_state_t *st, const char *uid, const char *sid);

/* ws_push.c */
/* Pushes handled on the loop as they are read (ws_inbox_inline); after
 * ws_requests_start. */
int ws_push_start(ws_state_t *st);
void ws_push_deliver(ws_state_t *st, natsMsg *msg);
void ws_push_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
int ws_kicks_start(ws_state_t *st);     /* subscribe to session revocations */
void ws_kicks_stop(ws_state_t *st);
void ws_kick_deliver(ws_state_t *st, natsMsg *msg);

/* ws_presence.c: presence reports and the typing relay */

/* Sessions one heartbeat message carries (natter.PresenceReport); the
 * pool takes up to PRESENCE_REPORT_MAX. */
#define WS_PRESENCE_PART 2000
/* Typing: one relay per conversation per gap, per session, in at most
 * this many conversations at once. */
#define WS_TYPING_GAP_US 2000000
#define WS_TYPING_SLOTS 8

struct ws_typing {
    struct {
        int64_t at_us;             /* last relay */
        char cid[65];              /* "" = free; a subject token (<= 64 chars) */
    } slot[WS_TYPING_SLOTS];
};

/* Pure: 1 if a typing notice for cid at now_us may be relayed (and note
 * it), 0 to drop it.  Allocates *t on first use; 0 also on ENOMEM. */
int ws_typing_allow(ws_typing_t **t, const char *cid, int64_t now_us);
void ws_typing_free(ws_typing_t *t);   /* NULL-safe */
/* A typing frame of s: NT_EINVAL if cid cannot be a conversation id,
 * else NT_OK (relayed, or dropped by the limiter). */
int ws_typing(ws_state_t *st, ws_session_t *s, const char *cid);

int ws_presence_start(ws_state_t *st);        /* the edge id; after ws_requests_start */
void ws_presence_attach(ws_state_t *st, ws_session_t *s);   /* s has joined its user */
/* s has left u's session list (u not freed yet); frees s's typing state. */
void ws_presence_detach(ws_state_t *st, ws_user_t *u, ws_session_t *s);
void ws_presence_tick(ws_state_t *st, int64_t now_us);      /* heartbeat when due */

/* ws_metrics.c (the counters: ws_stats_t above) */
void ws_metrics_frame_in(ws_state_t *st, int op);       /* op 0: unparsable */
void ws_metrics_frame_out(ws_state_t *st, const char *text);
void ws_metrics_closed(ws_state_t *st, ws_session_t *s); /* LWS_CALLBACK_CLOSED of a ws */
/* The peer's close frame (LWS_CALLBACK_WS_PEER_INITIATED_CLOSE payload). */
void ws_metrics_peer_close(ws_session_t *s, const void *in, size_t len);
/* The /metrics text (caller frees), or NULL. */
char *ws_metrics_render(ws_state_t *st, size_t *len);
/* GET /metrics on the edge's port: LWS_CALLBACK_HTTP's answer (headers;
 * the body waits in s->rx) and HTTP_WRITEABLE's (the body). */
int ws_metrics_http_answer(ws_state_t *st, ws_session_t *s, struct lws *wsi);
int ws_metrics_http_body(ws_session_t *s, struct lws *wsi);

#endif
