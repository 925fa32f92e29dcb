/*
 * bench_conn.c - natter-bench's sockets: non-blocking connects in bounded
 * batches, the WebSocket upgrade, framing, and the epoll loop.
 *
 * Why not lws: lws on poll() scans every socket on each wake-up and writes
 * one frame per writeable callback; the client then cost about as much CPU
 * per message as the edge it measures.  Here frames queue in a per-session
 * buffer and bench_flush() writes each session's buffer with one write(),
 * and a readiness event costs one read() into a shared buffer (a partial
 * frame is kept per session, usually nothing).
 *
 * Frames out are masked as RFC 6455 requires of clients, with the key
 * 0 (a valid key; XOR with it is the identity, so no copy is needed).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_BATCH 200
#define MAX_FRAME (1 << 17)     /* larger frames from the edge are an error */
#define MAX_EVENTS 512

/* RFC 6455's example key and its accept value: the upgrade is checked
 * without hashing anything. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static int buf_append(bench_buf_t *bf, const void *p, size_t n)
{
    if (bf->len + n > bf->cap) {
        size_t cap = bf->cap ? bf->cap : 256;
        while (cap < bf->len + n)
            cap *= 2;
        char *np = realloc(bf->p, cap);
        if (!np)
            return -1;
        bf->p = np;
        bf->cap = cap;
    }
    memcpy(bf->p + bf->len, p, n);
    bf->len += n;
    return 0;
}

static void buf_free(bench_buf_t *bf)
{
    free(bf->p);
    bf->p = NULL;
    bf->len = bf->cap = 0;
}

int bench_init(bench_t *b)
{
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    b->flush = calloc(b->n ? b->n : 1, sizeof *b->flush);
    for (size_t i = 0; i < b->n; i++)
        b->sess[i].fd = -1;
    return b->ep >= 0 && b->flush ? 0 : -1;
}

static void sess_close(bench_t *b, bench_sess_t *s, int counted)
{
    if (s->state == BS_CLOSED)
        return;
    if (s->state == BS_CONNECTING || s->state == BS_HANDSHAKE) {
        b->connecting--;
        b->st.conn_fail++;
    } else if (s->state == BS_OPEN) {
        b->open--;
        if (counted)
            b->st.closes++;
    }
    if (s->fd >= 0)
        close(s->fd); /* also leaves the epoll set */
    s->fd = -1;
    s->state = BS_CLOSED;
    buf_free(&s->rx);
    buf_free(&s->tx);
    buf_free(&s->frag);
}

void bench_fini(bench_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        sess_close(b, &b->sess[i], 0);
    if (b->ep >= 0)
        close(b->ep);
    free(b->flush);
}

static void mark_dirty(bench_t *b, bench_sess_t *s)
{
    if (!s->dirty) {
        s->dirty = 1;
        b->flush[b->n_flush++] = (size_t)(s - b->sess);
    }
}

static int set_events(bench_t *b, bench_sess_t *s, int out)
{
    if (s->pollout == out)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                             .data.u64 = (uint64_t)(s - b->sess)};
    s->pollout = out;
    return epoll_ctl(b->ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static int connect_one(bench_t *b, bench_sess_t *s)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (b->src.s_addr) {
        /* Port chosen at connect(), per destination: one source address
         * then has the whole ephemeral range towards the edge. */
        struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr = b->src};
        setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(s->fd, (struct sockaddr *)&from, sizeof from) != 0)
            return -1;
    }
    if (connect(s->fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(s - b->sess)};
    s->pollout = 1;
    return epoll_ctl(b->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

void bench_connect_more(bench_t *b)
{
    while (b->connecting < CONNECT_BATCH && b->next_connect < b->n) {
        bench_sess_t *s = &b->sess[b->next_connect++];
        s->state = BS_CONNECTING;
        b->connecting++;
        if (connect_one(b, s) != 0)
            sess_close(b, s, 0);
    }
}

static int queue_upgrade(bench_t *b, bench_sess_t *s)
{
    char req[2600];
    int n = snprintf(req, sizeof req,
                     "GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nOrigin: http://127.0.0.1\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     s->token, b->port);
    if (n < 0 || (size_t)n >= sizeof req || buf_append(&s->tx, req, (size_t)n) != 0)
        return -1;
    mark_dirty(b, s);
    return 0;
}

int bench_queue_text(bench_t *b, bench_sess_t *s, const char *text, size_t len)
{
    unsigned char h[8 + 4];
    size_t hn;
    if (s->state != BS_OPEN)
        return -1;
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)(0x80 | len);
        hn = 2;
    } else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hn = 4;
    } else {
        return -1; /* the bench never sends more */
    }
    memset(h + hn, 0, 4); /* mask key 0 */
    if (buf_append(&s->tx, h, hn + 4) != 0 || buf_append(&s->tx, text, len) != 0)
        return -1;
    mark_dirty(b, s);
    return 0;
}

static void write_out(bench_t *b, bench_sess_t *s)
{
    if (s->state == BS_CLOSED || s->state == BS_CONNECTING || !s->tx.len)
        return;
    ssize_t w = write(s->fd, s->tx.p, s->tx.len);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
        sess_close(b, s, 1);
        return;
    }
    if (w > 0) {
        memmove(s->tx.p, s->tx.p + w, s->tx.len - (size_t)w);
        s->tx.len -= (size_t)w;
    }
    if (set_events(b, s, s->tx.len > 0) != 0)
        sess_close(b, s, 1);
}

void bench_flush(bench_t *b)
{
    for (size_t i = 0; i < b->n_flush; i++) {
        bench_sess_t *s = &b->sess[b->flush[i]];
        s->dirty = 0;
        write_out(b, s);
    }
    b->n_flush = 0;
}

/* One frame from the edge; returns -1 to close the session. */
static int on_ws_frame(bench_t *b, bench_sess_t *s, int fin, int opcode, const char *p,
                       size_t n)
{
    if (opcode == 0x8)
        return -1; /* close */
    if (opcode == 0x9) { /* ping: pong with the same payload */
        unsigned char h[6] = {0x8A, (unsigned char)(0x80 | (n & 0x7f)), 0, 0, 0, 0};
        if (n > 125 || buf_append(&s->tx, h, 6) != 0 || buf_append(&s->tx, p, n) != 0)
            return -1;
        mark_dirty(b, s);
        return 0;
    }
    if (opcode == 0xA)
        return 0;
    if (opcode != 0x1 && opcode != 0x0)
        return 0; /* binary: not natter's */
    if ((opcode == 0x1) == s->in_frag)
        return -1; /* text inside a fragmented message, or a stray continuation */
    if (opcode == 0x1 && fin) {
        bench_on_frame(b, s, p, n);
        return 0;
    }
    if (s->frag.len + n > MAX_FRAME || buf_append(&s->frag, p, n) != 0)
        return -1;
    s->in_frag = !fin;
    if (fin) {
        bench_on_frame(b, s, s->frag.p, s->frag.len);
        s->frag.len = 0;
    }
    return 0;
}

/* Whole frames from p; returns bytes used or -1. */
static long parse_frames(bench_t *b, bench_sess_t *s, char *p, size_t n)
{
    size_t off = 0;
    while (n - off >= 2 && s->state == BS_OPEN) {
        unsigned char *h = (unsigned char *)p + off;
        int masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7f;
        size_t hn = 2;
        if (len == 126) {
            if (n - off < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hn = 4;
        } else if (len == 127) {
            if (n - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hn = 10;
        }
        if (len > MAX_FRAME)
            return -1;
        size_t mk = masked ? 4 : 0;
        if (n - off < hn + mk + len)
            break;
        char *pl = p + off + hn + mk;
        if (masked) /* servers do not mask; tolerate it anyway */
            for (size_t i = 0; i < len; i++)
                pl[i] ^= (char)h[hn + (i & 3)];
        if (on_ws_frame(b, s, h[0] & 0x80, h[0] & 0x0f, pl, (size_t)len) != 0)
            return -1;
        off += hn + mk + (size_t)len;
    }
    return (long)off;
}

/* The upgrade reply; returns bytes used, 0 if incomplete, -1 on refusal. */
static long parse_upgrade(bench_t *b, bench_sess_t *s, char *p, size_t n)
{
    char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return n > 8192 ? -1 : 0;
    size_t hl = (size_t)(end - p) + 4;
    if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0 || !memmem(p, hl, WS_ACCEPT, strlen(WS_ACCEPT)))
        return -1;
    s->state = BS_OPEN;
    b->connecting--;
    b->open++;
    return (long)hl;
}

static void on_readable(bench_t *b, bench_sess_t *s)
{
    size_t have = s->rx.len;
    if (have)
        memcpy(b->rbuf, s->rx.p, have);
    ssize_t r = read(s->fd, b->rbuf + have, sizeof b->rbuf - have);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        sess_close(b, s, 1);
        return;
    }
    size_t n = have + (size_t)r, off = 0;
    if (s->state == BS_HANDSHAKE) {
        long u = parse_upgrade(b, s, b->rbuf, n);
        if (u < 0) {
            sess_close(b, s, 1);
            return;
        }
        off = (size_t)u;
    }
    if (s->state == BS_OPEN) {
        long used = parse_frames(b, s, b->rbuf + off, n - off);
        if (used < 0) {
            sess_close(b, s, 1);
            return;
        }
        off += (size_t)used;
    }
    if (s->state == BS_CLOSED)
        return;
    s->rx.len = 0;
    if (off < n && buf_append(&s->rx, b->rbuf + off, n - off) != 0)
        sess_close(b, s, 1);
}

static void on_connected(bench_t *b, bench_sess_t *s)
{
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
        sess_close(b, s, 0);
        return;
    }
    s->state = BS_HANDSHAKE;
    if (queue_upgrade(b, s) != 0)
        sess_close(b, s, 0);
}

int bench_poll(bench_t *b, int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(b->ep, ev, MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        bench_sess_t *s = &b->sess[ev[i].data.u64];
        if (s->state == BS_CLOSED)
            continue;
        if (s->state == BS_CONNECTING) {
            if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                on_connected(b, s);
            continue;
        }
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(b, s);
        if (s->state != BS_CLOSED && (ev[i].events & EPOLLOUT))
            write_out(b, s);
    }
    bench_flush(b);
    return n;
}
