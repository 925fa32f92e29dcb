/*
 * bench.h - natter-bench, the WebSocket load generator behind ops/bench.
 *
 * It is its own program (not a natter role): one lws client context on one
 * thread drives N sessions against one edge-ws on 127.0.0.1.  Sessions come
 * from a file prepared by ops/bench (one "token conversation_id" per line),
 * so the expensive parts (registration, argon2, conversation creation) are
 * not part of what is measured.  Everything is bounded: session count by
 * the file, run time by --duration, then it stops by itself.
 *
 * Two runs can measure one load together (ops/bench scenario g: a group
 * and 1:1 pairs): --start-at gives both the same start, --senders makes
 * only the first sessions of a file send while all of them receive and
 * ack, and deliveries count only pushes of a session's own conversation.
 */
#ifndef NT_BENCH_H
#define NT_BENCH_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_RID 64

typedef struct bench_sess {
    struct lws *wsi;
    char *token;
    char *conv;                /* conversation to send to */
    char uid[32];              /* from hello */
    int ready;                 /* hello received */
    int closed;
    int inflight;              /* sends without a "sent" yet */
    int want_send;             /* one frame queued for the writeable callback */
    int64_t ack_seq, acked_seq;/* highest delivered seq / last acked */
    uint64_t seq_no;           /* client_msg_id counter */
    char *rx;                  /* fragment reassembly */
    size_t rx_len, rx_cap;
} bench_sess_t;

typedef struct bench_stats {
    double *sent_lat, *deliv_lat; /* ms samples */
    size_t n_sent, n_deliv, cap;
    uint64_t sends, errors, closes, conn_fail;
} bench_stats_t;

typedef struct bench {
    struct lws_context *ctx;
    bench_sess_t *sess;
    size_t n;
    size_t n_send;             /* only sess[0..n_send) send (--senders); the rest receive */
    int port;
    int window;                /* max in flight per session in flat-out mode */
    double rate;               /* total msgs/s; 0 = as fast as replies come */
    int idle;                  /* only connect and hold */
    int64_t start_at_us;       /* --start-at: do not send before (wall clock); 0: at once */
    int64_t t_start_us, t_end_us, t_stop_us;
    size_t connecting, next_connect;
    uint64_t due;              /* sends the rate schedule wants so far */
    size_t rr;                 /* round-robin cursor */
    bench_stats_t st;
    lws_sorted_usec_list_t tick;
    int stopping;
    unsigned run_id;           /* in every client_msg_id: runs never collide */
} bench_t;

int64_t bench_now_us(void);
void bench_stats_add(bench_stats_t *s, int deliv, double ms);
void bench_stats_print(bench_t *b, double seconds);

/* lws side (bench_ws.c) */
extern const struct lws_protocols bench_protocols[];
void bench_connect_more(bench_t *b);
void bench_tick(lws_sorted_usec_list_t *sul);

#endif
