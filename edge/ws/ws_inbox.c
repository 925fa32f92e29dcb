/*
 * ws_inbox.c - the one door from nats.c threads into the lws thread.
 *
 * nats delivery threads append (reply or push payloads, already copied out
 * of the natsMsg) under a mutex and call lws_cancel_service(), the only lws
 * call that is safe from another thread (STACK.md); the loop then gets
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED and takes the whole list at once.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"

#include <stdlib.h>

int ws_inbox_init(ws_inbox_t *q)
{
    q->head = q->tail = NULL;
    q->ctx = NULL;
    return pthread_mutex_init(&q->mu, NULL) == 0 ? NT_OK : NT_EINTERNAL;
}

static void free_list(ws_in_t *it)
{
    while (it) {
        ws_in_t *next = it->next;
        free(it);
        it = next;
    }
}

void ws_inbox_fini(ws_inbox_t *q)
{
    free_list(ws_inbox_take_all(q));
    pthread_mutex_destroy(&q->mu);
}

void ws_inbox_push(ws_inbox_t *q, ws_in_t *item)
{
    item->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (!q->ctx) {                 /* the loop is gone: nobody will read it */
        pthread_mutex_unlock(&q->mu);
        free(item);
        return;
    }
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    lws_cancel_service(q->ctx);    /* under mu: ctx cannot be destroyed meanwhile */
    pthread_mutex_unlock(&q->mu);
}

ws_in_t *ws_inbox_take_all(ws_inbox_t *q)
{
    pthread_mutex_lock(&q->mu);
    ws_in_t *all = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    return all;
}

void ws_inbox_set_ctx(ws_inbox_t *q, struct lws_context *ctx)
{
    pthread_mutex_lock(&q->mu);
    q->ctx = ctx;
    pthread_mutex_unlock(&q->mu);
}
