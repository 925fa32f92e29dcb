/*
 * ws_edge.c - lifecycle of the WebSocket edge: the lws context (created and
 * destroyed on the service thread, so every lws call stays on it), the
 * reply subscription, the sweep timer (request timeouts, push resends), and
 * an orderly stop.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static const struct lws_protocols protocols[] = {
    {"natter", ws_server_callback, sizeof(ws_session_t), 4096, 0, NULL, 0},
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
    lws_sul_schedule(st->ctx, 0, &st->sweep, sweep_cb, 100 * 1000);
}

static void *service_main(void *arg)
{
    ws_state_t *st = arg;
    lws_sul_schedule(st->ctx, 0, &st->sweep, sweep_cb, 100 * 1000);
    while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE))
        if (lws_service(st->ctx, 0) < 0)
            break;
    /* Nats callbacks keep coming until ws_edge_stop unsubscribes: from now
     * on they are dropped instead of waking a dead loop. */
    ws_inbox_set_ctx(&st->inbox, NULL);
    lws_sul_cancel(&st->sweep);
    lws_context_destroy(st->ctx);  /* closes every socket: CLOSED detaches sessions */
    st->ctx = NULL;
    return NULL;
}

static int make_context(ws_state_t *st)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = st->e->port;
    info.iface = st->e->bind;
    info.protocols = protocols;
    info.user = st;
    info.timeout_secs = 10;        /* handshake */
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    st->ctx = lws_create_context(&info);
    if (!st->ctx) {
        log_error("cannot listen", "bind=%s port=%d", st->e->bind, st->e->port);
        return NT_EIO;
    }
    ws_inbox_set_ctx(&st->inbox, st->ctx);
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
    if ((rc = ws_inbox_init(&st->inbox)) != NT_OK)
        goto fail;
    if ((rc = make_context(st)) != NT_OK || (rc = ws_requests_start(st)) != NT_OK ||
        (rc = ws_kicks_start(st)) != NT_OK || (rc = ws_presence_start(st)) != NT_OK)
        goto fail;
    if (pthread_create(&st->thread, NULL, service_main, st) != 0) {
        rc = NT_EINTERNAL;
        goto fail;
    }
    st->thread_started = 1;
    log_info("websocket edge listening", "bind=%s port=%d", e->bind, e->port);
    return NT_OK;
fail:
    ws_requests_stop(st);
    ws_kicks_stop(st);
    if (st->ctx) {
        ws_inbox_set_ctx(&st->inbox, NULL);
        lws_context_destroy(st->ctx);
        st->ctx = NULL;
    }
    return rc;
}

void ws_edge_stop(ws_edge_t *e)
{
    ws_state_t *st = e ? e->st : NULL;
    if (!st)
        return;
    if (st->thread_started) {
        __atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
        pthread_mutex_lock(&st->inbox.mu);
        if (st->inbox.ctx)
            lws_cancel_service(st->inbox.ctx);
        pthread_mutex_unlock(&st->inbox.mu);
        pthread_join(st->thread, NULL);
        st->thread_started = 0;
    }
    ws_requests_stop(st);
    ws_kicks_stop(st);
    ws_users_unsubscribe_all(st);
}

void ws_edge_free(ws_edge_t *e)
{
    ws_state_t *st = e ? e->st : NULL;
    if (!st)
        return;
    ws_edge_stop(e);
    ws_inbox_fini(&st->inbox);
    for (size_t i = 0; i < WS_HASH_SIZE; i++)
        while (st->users[i]) {
            ws_user_t *u = st->users[i];
            st->users[i] = u->next;
            free(u);
        }
    free(st);
    e->st = NULL;
}
