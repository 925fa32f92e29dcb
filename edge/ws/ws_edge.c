/*
 * ws_edge.c - lifecycle of the WebSocket edge: the lws context on the
 * role's libuv loop (LWS_SERVER_OPTION_LIBUV with a foreign loop: lws loads
 * its libuv plugin, Debian's libwebsockets-evlib-uv, when the context is
 * made), the doors from the bus into the loop (ws_inbox.c), the reply
 * subscription, the sweep timer (request timeouts, push resends), and an
 * orderly stop.
 * Every function here runs on the loop thread.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* rx_buffer_size: lws mallocs this (+ LWS_PRE + 4) for every socket when
 * it upgrades and keeps it for the socket's life, so it is most of an idle
 * socket's memory.  A client frame larger than it reaches on_receive in
 * pieces, which ws_server.c joins; WS_RX_CHUNK holds an ordinary send
 * frame in one piece (docs/ws.md "Memory per socket").
 * tx_packet_size: lws sends at most this much per write, so a batch of
 * frames (WS_WRITE_BATCH) goes out in one send(). */
#define WS_RX_CHUNK 1024
static const struct lws_protocols protocols[] = {
    {"natter", ws_server_callback, sizeof(ws_session_t), WS_RX_CHUNK, 0, NULL, WS_WRITE_BATCH},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Resends one tick may do; a larger backlog waits for the next tick
 * rather than stall every socket. */
#define WS_RESEND_PER_TICK 4096

static void resend(void *arg, ws_session_t *s, const ws_text_t *text)
{
    ws_session_send(arg, s, text->data);
}

/* Every 100 ms: request timeouts and push resends, each from the head of
 * its own deadline-ordered FIFO (nothing scans the sessions). */
static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    ws_state_t *st = lws_container_of(sul, ws_state_t, sweep);
    int64_t now = lws_now_usecs();
    ws_requests_sweep(st, now);
    ws_presence_tick(st, now);
    ws_unacked_sweep(&st->unacked, now, WS_RESEND_PER_TICK, resend, st);
    ws_drain_tick(st, now);
    lws_sul_schedule(st->ctx, 0, &st->sweep, sweep_cb, 100 * 1000);
}

/* lws 4.1.6 logs a failed bind and still makes the context, so a second
 * edge on a taken port would say it listens and serve nothing.  Bind the
 * port ourselves first (SO_REUSEADDR like lws, no SO_REUSEPORT: lws sets
 * that only with several service threads, docs/operations.md "Scaling out").  An
 * address that is not an IPv4 literal is left to lws. */
static int port_free(const char *bind_addr, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (!bind_addr || inet_pton(AF_INET, bind_addr, &a.sin_addr) != 1)
        return 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0;
    close(fd);
    return ok;
}

static int make_context(ws_state_t *st)
{
    struct lws_context_creation_info info;
    void *foreign[1] = {st->e->loop};
    memset(&info, 0, sizeof info);
    info.port = st->e->port;
    info.iface = st->e->bind;
    info.protocols = protocols;
    info.user = st;
    info.timeout_secs = 10;        /* handshake */
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = foreign;
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    if (!port_free(st->e->bind, st->e->port)) {
        log_error("cannot listen: port in use", "bind=%s port=%d", st->e->bind, st->e->port);
        return NT_EIO;
    }
    st->ctx = lws_create_context(&info);
    if (!st->ctx) {
        log_error("cannot listen", "bind=%s port=%d", st->e->bind, st->e->port);
        return NT_EIO;
    }
    return NT_OK;
}

int ws_edge_start(ws_edge_t *e)
{
    ws_state_t *st = calloc(1, sizeof *st);
    int rc = NT_ENOMEM;
    if (!st)
        return rc;
    st->e = e;
    e->st = st;
    int ack_s = e->ack_timeout_s > 0 ? e->ack_timeout_s : 10;   /* a caller that left it 0 */
    ws_unacked_init(&st->unacked, (int64_t)ack_s * 1000000,
                    e->resend_max > 0 ? (unsigned)e->resend_max : 0, e->max_unacked,
                    e->max_outq_bytes);
    st->addrs.max = e->max_conns_per_addr > 0 ? (unsigned)e->max_conns_per_addr : 0;
    if (!e->loop || !e->bus) {
        rc = NT_EINVAL;
        goto fail;
    }
    if ((rc = ws_inbox_init(&st->inbox, e->loop, ws_server_on_inbox, st)) != NT_OK)
        goto fail;
    st->inbox_ok = 1;
    if ((rc = ws_server_flush_start(st)) != NT_OK)
        goto fail;
    if ((rc = make_context(st)) != NT_OK || (rc = ws_requests_start(st)) != NT_OK ||
        (rc = ws_push_start(st)) != NT_OK || (rc = ws_kicks_start(st)) != NT_OK ||
        (rc = ws_presence_start(st)) != NT_OK)
        goto fail;
    lws_sul_schedule(st->ctx, 0, &st->sweep, sweep_cb, 100 * 1000);
    log_info("websocket edge listening",
             "bind=%s port=%d loop=uv max_conns_per_addr=%u bus_inline=%s", e->bind, e->port,
             st->addrs.max, st->inline_on ? "on" : "off");
    return NT_OK;
fail:
    ws_edge_stop(e);
    return rc;
}

void ws_edge_stop(ws_edge_t *e)
{
    ws_state_t *st = e ? e->st : NULL;
    if (!st || st->stopped)
        return;
    st->stopped = 1;
    if (st->ctx) {
        lws_sul_cancel(&st->sweep);
        /* Closes every socket: CLOSED detaches each session (its user's
         * subscription goes with the last one, presence hears `down`). */
        lws_context_destroy(st->ctx);
        st->ctx_dying = st->ctx;   /* lws frees it on a second call, ws_edge_free */
        st->ctx = NULL;
    }
    ws_requests_stop(st);
    ws_kicks_stop(st);
    ws_users_unsubscribe_all(st);
    ws_server_flush_stop(st);
    if (st->inbox_ok)
        ws_inbox_close(&st->inbox);   /* nats callbacks from now on are dropped */
}

void ws_edge_iprules_changed(void *arg)
{
    ws_edge_t *e = arg;
    if (e && e->st && e->st->inbox_ok)
        ws_inbox_push(&e->st->inbox, WS_IN_IPRULES, NULL); /* dropped once closed */
}

void ws_edge_log_stats(ws_edge_t *e)
{
    ws_state_t *st = e ? e->st : NULL;
    if (!st)
        return;
    log_info("websocket edge counters",
             "inline_msgs=%llu inbox_wakeups=%llu inbox_msgs=%llu writes=%llu frames=%llu "
             "addr_refused=%llu ip_refused=%llu ip_closed=%llu",
             (unsigned long long)st->inbox.inline_items, (unsigned long long)st->inbox.wakeups,
             (unsigned long long)st->inbox.items,
             (unsigned long long)st->writes, (unsigned long long)st->frames,
             (unsigned long long)st->addrs.refused, (unsigned long long)st->ip_refused,
             (unsigned long long)st->ip_closed);
}

void ws_edge_free(ws_edge_t *e)
{
    ws_state_t *st = e ? e->st : NULL;
    if (!st)
        return;
    /* On a foreign loop lws's first destroy only closes its handles; once
     * the loop has run them out, this call frees the context. */
    if (st->ctx_dying)
        lws_context_destroy(st->ctx_dying);
    st->ctx_dying = NULL;
    if (st->inbox_ok)
        ws_inbox_fini(&st->inbox);
    for (size_t i = 0; i < WS_HASH_SIZE; i++)
        while (st->users[i]) {
            ws_user_t *u = st->users[i];
            st->users[i] = u->next;
            free(u);
        }
    ws_addrs_fini(&st->addrs);
    ws_buf_free(&st->rbuf);
    ws_push_memo_clear(&st->memo);
    free(st);
    e->st = NULL;
}
