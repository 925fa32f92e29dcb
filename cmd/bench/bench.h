/*
 * bench.h - natter-bench, the WebSocket load generator behind ops/bench.
 *
 * It is its own program (not a natter role): one thread, one epoll set,
 * N sessions against one edge-ws on 127.0.0.1.  It speaks just enough
 * WebSocket itself (RFC 6455 client: upgrade, masked text frames out,
 * unmasked frames in) so that the load client stays cheap next to the
 * server it measures on the same two cores: epoll instead of poll(), one
 * write() per session per tick carrying every frame due (send and the
 * cumulative ack together), one read() per readiness event, and no JSON
 * library on the receive path (the few fields it needs are scanned).
 *
 * Sessions come from a file prepared by ops/bench (one "token
 * conversation_id" per line), so the expensive parts (registration,
 * argon2, conversation creation) are not part of what is measured.
 * Everything is bounded: session count by the file, run time by
 * --duration or --hold, then it stops by itself (or on SIGTERM).
 *
 * Two runs can measure one load together (ops/bench scenario g: a group
 * and 1:1 pairs): --start-at gives both the same start, --senders makes
 * only the first sessions of a file send while all of them receive and
 * ack, and deliveries count only pushes of a session's own conversation.
 *
 * Ownership: bench_t owns the sessions array and every buffer in it; the
 * whole program is one thread, so nothing is locked.
 */
#ifndef NT_BENCH_H
#define NT_BENCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

enum { BS_NEW, BS_CONNECTING, BS_HANDSHAKE, BS_OPEN, BS_CLOSED };

typedef struct bench_buf {
    char *p;
    size_t len, cap;
} bench_buf_t;

typedef struct bench_sess {
    int fd;
    int state;                 /* BS_* */
    int ready;                 /* hello received */
    int pollout;               /* EPOLLOUT is in the epoll set */
    int dirty;                 /* on the flush list */
    int in_frag;               /* inside a fragmented text message */
    int inflight;              /* sends without a "sent" yet */
    char *token;
    char *conv;                /* conversation to send to */
    char uid[40];              /* from hello */
    int64_t ack_seq, acked_seq;/* highest delivered seq / last acked */
    uint64_t seq_no;           /* client_msg_id counter */
    bench_buf_t rx;            /* bytes read but not yet a whole frame */
    bench_buf_t tx;            /* frames not yet written */
    bench_buf_t frag;          /* a fragmented message being reassembled */
} bench_sess_t;

typedef struct bench_stats {
    double *sent_lat, *deliv_lat; /* ms samples */
    size_t n_sent, n_deliv, cap;
    uint64_t sends, errors, closes, conn_fail, pings, pongs;
} bench_stats_t;

typedef struct bench {
    int ep;                    /* epoll fd */
    bench_sess_t *sess;
    size_t n;
    size_t n_send;             /* only sess[0..n_send) send (--senders); the rest receive */
    int port;
    struct in_addr src;        /* --src: local address to connect from (0: any) */
    int window;                /* max in flight per session in flat-out mode */
    double rate;               /* total msgs/s; 0 = as fast as replies come */
    int idle;                  /* only connect and hold (and ping) */
    double ping_s;             /* --ping: each session pings every ping_s seconds; 0: never */
    int64_t start_at_us;       /* --start-at: do not send before (wall clock); 0: at once */
    int64_t t_start_us, t_end_us, t_stop_us;
    int64_t t_hold_us;         /* idle: when holding began */
    size_t connecting, next_connect, open, n_ready;
    uint64_t due;              /* sends the rate schedule wants so far */
    uint64_t pinged;           /* pings the idle schedule has sent so far */
    size_t rr, ping_rr;        /* round-robin cursors */
    size_t *flush;             /* sessions with frames to write */
    size_t n_flush;
    int64_t next_ack_us;
    bench_stats_t st;
    unsigned run_id;           /* in every client_msg_id: runs never collide */
    char rbuf[1 << 18];        /* one read buffer for every socket */
} bench_t;

int64_t bench_now_us(void);
void bench_stats_add(bench_stats_t *s, int deliv, double ms);
void bench_stats_print(bench_t *b, double seconds);

/* Sockets and frames (bench_conn.c).  Errors are negative. */
int bench_init(bench_t *b);
void bench_fini(bench_t *b);
void bench_connect_more(bench_t *b);
int bench_queue_text(bench_t *b, bench_sess_t *s, const char *text, size_t len);
void bench_flush(bench_t *b);
int bench_poll(bench_t *b, int timeout_ms);

/* The load itself (bench_load.c). */
void bench_on_frame(bench_t *b, bench_sess_t *s, const char *text, size_t len);
void bench_tick(bench_t *b, int64_t now);

#endif
