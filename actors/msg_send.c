/*
 * msg_send.c - the conversation actor's verbs on messages: send, sync,
 * history, read (API.md "Messages", DESIGN.md "Messages: the invariants").
 *
 * send is split in two.  On the thread that took it (the msg loop's,
 * msg_loop.h, or with nats.inline = 0 a bus delivery thread) msg_send_h
 * hands the request on to the conversation's owner if that is another msg
 * process (msg_owner.h), else decodes it, applies the rules that need no
 * database and queues it for the worker hash(cid) % N (msg_batch.h),
 * deferred; the end of the loop turn, or on a delivery thread the last
 * send of a burst (nothing more pending on its subscription), runs the
 * batch on that same thread if the worker is idle.  The runner stores
 * everything it took in one transaction (group commit, msg_commit.c),
 * retrying a transient failure a few times, and only then delivers each new message (msg_deliver.c),
 * which pushes it to the members and then answers the request: the reply and
 * the pushes both describe a durable message, and a request whose batch
 * could not be stored gets unavailable, never 'sent'.
 * A retried client_msg_id gets the original (duplicate = true) and its push
 * again: delivery is at-least-once and clients dedup by seq, so a push lost
 * with a crashed process is repaired by the client's retry.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "common/log.h"
#include "store/media_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_DEFAULT 50

/* Type, body, client_msg_id and mention rules; NT_OK or NT_EINVAL with err set. */
static int send_rules(const msg_pool_t *p, Natter__SendReq *req, char *err, size_t n)
{
    /* The subject token alphabet is exactly the client_msg_id one. */
    if (!subject_token_ok(req->client_msg_id)) {
        snprintf(err, n, "client_msg_id must be 1-%d characters of [A-Za-z0-9_-]",
                 MSG_CLIENT_ID_MAX);
        return NT_EINVAL;
    }
    if (media_msg_type(req->type)) { /* whose file it is, the group commit checks */
        if (!media_body_ok(req->body)) {
            snprintf(err, n, "the body of %s message must be a file id",
                     req->type[0] == 'i' ? "an image" : "a file");
            return NT_EINVAL;
        }
        return msg_mention_rules(req, err, n);
    }
    if (strcmp(req->type, "text") != 0) {
        snprintf(err, n, "type must be text, image or file");
        return NT_EINVAL;
    }
    size_t chars = utf8_chars(req->body);
    if (chars == 0 || chars > (size_t)p->text_max) {
        snprintf(err, n, "body must be 1-%ld characters", p->text_max);
        return NT_EINVAL;
    }
    return msg_mention_rules(req, err, n);
}

/* The members to push to.  The write is done and answered whatever
 * happens here: a failure only costs the pushes (clients catch up with
 * sync), so it is logged, not returned to the caller. */
static int members_of(MYSQL *db, const char *cid, conv_rec_t *c)
{
    int rc = conv_get(db, cid, c);
    if (rc != NT_OK) {
        log_warn("no members to push to", "cid=%s err=\"%s\"", cid, nt_strerror(rc));
        c->n_members = 0;
    }
    return rc;
}

/* One queued send, owned by the batcher and then by send_batch.  env is a
 * copy of the request's envelope (subject, reply subject, Natter-Uid,
 * traceparent): the bus destroys the request itself when the handler
 * returns, and bus_reply_pb / pool_fail need only those parts of it. */
typedef struct send_job {
    natsMsg *env;
    Natter__SendReq *req;
} send_job_t;

static void job_free(send_job_t *j)
{
    if (!j)
        return;
    bus_msg_free(j->env);
    if (j->req)
        protobuf_c_message_free_unpacked(&j->req->base, NULL);
    free(j);
}

static int envelope_copy(natsMsg *msg, natsMsg **out)
{
    const char *uid = bus_header(msg, BUS_H_UID), *tp = bus_header(msg, BUS_H_TRACE);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, natsMsg_GetSubject(msg), natsMsg_GetReply(msg), NULL, 0);
    if (s == NATS_OK && uid)
        s = natsMsgHeader_Set(m, BUS_H_UID, uid);
    if (s == NATS_OK && tp)
        s = natsMsgHeader_Set(m, BUS_H_TRACE, tp);
    if (s != NATS_OK) {
        bus_msg_free(m);
        return NT_ENOMEM;
    }
    *out = m;
    return NT_OK;
}

/* The delivery thread's part: decode, check what needs no database, take
 * a token from the sender's bucket (msg_rate.c), queue for the worker of
 * this conversation.  The answer comes from send_batch. */
/* Not the owner of the conversation: hand the request on to the owner's
 * send_owned endpoint, which answers the edge directly (same reply
 * subject, same headers).  A request that was handed on once is never
 * handed on again: if the views of the live instances differ, the one it
 * reached stores it (the store's fence keeps that correct).  1 if it went. */
static int forward(msg_pool_t *p, natsMsg *msg)
{
    const char *cid, *subject = natsMsg_GetSubject(msg);
    size_t len;
    char inst[MSG_OWNER_ID_MAX], to[SUBJECT_MAX];
    if (!p->owner || strncmp(subject, "im.conv.", 8) != 0 ||
        !msg_subject_cid(subject, &cid, &len) || len > MSG_ID_MAX ||
        !msg_owner_other(p->owner, cid, len, inst, sizeof inst))
        return 0;
    snprintf(to, sizeof to, "im.svc.msg.fwd.%s.%.*s", inst, (int)len, cid);
    return bus_forward(p->bus, msg, to) == NT_OK;
}

/* The msg loop's thread (msg_loop.c): every send it takes is only queued
 * (deferred), and the end of its loop turn runs the batches. */
static _Thread_local int on_loop;

void msg_send_on_loop(void)
{
    on_loop = 1;
}

/* msg_batch_more_fn: more sends are coming to this thread before it runs
 * what it queued. */
static int more_sends(void)
{
    return on_loop || bus_more_pending();
}

static int send_one(msg_pool_t *p, bus_t *bus, natsMsg *msg)
{
    if (forward(p, msg))
        return NT_OK;
    Natter__SendReq *req = pool_unpack(bus, msg, &natter__send_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char err[128];
    const char *uid = msg_caller(bus, msg);
    int rc;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto fail;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto fail;
    if ((rc = send_rules(p, req, err, sizeof err)) != NT_OK) {
        rc = pool_fail(bus, msg, rc, err);
        goto fail;
    }
    if ((rc = msg_send_limited(p, bus, msg, uid, req)) != NT_OK)
        goto fail;
    return msg_send_queue(p, bus, msg, req, more_sends);
fail:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int msg_send_queue(msg_pool_t *p, bus_t *bus, natsMsg *msg, Natter__SendReq *req,
                   msg_batch_more_fn more)
{
    send_job_t *job = NULL;
    int rc;
    if (!(job = calloc(1, sizeof *job)) || envelope_copy(msg, &job->env) != NT_OK) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto fail;
    }
    job->req = req;
    msg_batch_ticket_t t;
    if (msg_batch_submit_more(p->sends, req->conversation_id, job, more, &t) != NT_OK) {
        job->req = NULL; /* still ours: freed below */
        rc = pool_fail(bus, msg, NT_EUNAVAIL, "too many messages in flight, retry");
        goto fail;
    }
    /* Draining: do not let this subscription finish its drain (and the bus
     * stop publishing) before the reply is out. */
    if (t.draining)
        msg_batch_wait(p->sends, &t);
    return NT_OK;
fail:
    job_free(job);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* Batching on the thread that receives (msg_batch.h): while this
 * subscription has more sends waiting for this delivery thread, a send is
 * only queued; the last of a burst runs the batch here, so a send crosses
 * no thread between nats.c's delivery thread and its commit. */
int msg_send_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    int rc = send_one(p, bus, msg);
    if (!on_loop) /* the loop flushes at the end of its turn */
        msg_batch_flush(p->sends, bus_more_pending);
    return rc;
}

/* The worker's part (msg_batch_fn): store the batch, then answer every
 * failed request and hand the rest to the fan-out stage; a request is
 * answered 'sent' only if committed. */
static void send_batch(void *arg, int worker, void **items, int n)
{
    msg_pool_t *p = arg;
    msg_send_item_t *v = calloc((size_t)n, sizeof *v);
    conv_rec_t *convs = NULL;
    int nconvs = 0, stored = 0, rc = NT_ENOMEM;
    msg_commit_info_t info = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; v && i < n; i++) {
        send_job_t *j = items[i];
        v[i].cid = j->req->conversation_id;
        v[i].sender = bus_header(j->env, BUS_H_UID);
        v[i].client_msg_id = j->req->client_msg_id;
        v[i].type = j->req->type;
        v[i].body = j->req->body;
        v[i].mentions = j->req->mentions;
        v[i].n_mentions = (int)j->req->n_mentions;
    }
    if (v)
        rc = msg_commit(p, worker, v, n, &convs, &nconvs, &info);
    /* A failing store (down, or hanging until its timeouts) is waited out
     * on the worker threads, not on the thread that receives sends. */
    msg_batch_inline_pause(p->sends, rc != NT_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    prom_hist_observe(&p->metrics.batch_size, n);
    prom_hist_observe(&p->metrics.commit_seconds, (double)(t1.tv_sec - t0.tv_sec) +
                                                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (!info.fast && v)
        prom_inc(&p->metrics.batches_full, 1);
    if (info.attempts > 1)
        prom_inc(&p->metrics.retries, (uint64_t)(info.attempts - 1));
    int dups = 0;
    int answer = rc == NT_ECONFLICT ? NT_EUNAVAIL : rc; /* a conflict that retries did not cure */
    msg_deliver_hold_t *hold = NULL; /* NULL: deliver here, not on the fan-out stage */
    if (rc == NT_OK && msg_deliver_hold(convs, nconvs, &hold) != NT_OK)
        hold = NULL;
    for (int i = 0; i < n; i++) {
        send_job_t *j = items[i];
        if (rc != NT_OK)
            pool_fail(p->bus, j->env, answer, "message not stored, retry");
        else if (v[i].rc == NT_EINVAL)
            pool_fail(p->bus, j->env, NT_EINVAL, v[i].err ? v[i].err : "invalid message");
        else if (v[i].rc != NT_OK)
            msg_conv_fail(p->bus, j->env, v[i].rc);
        else {
            msg_deliver(p, hold, &j->env, &v[i].msg, v[i].duplicate, &convs[v[i].conv]);
            stored++;
            dups += v[i].duplicate != 0;
        }
        job_free(j);
    }
    prom_inc(&p->metrics.writes, (uint64_t)(stored - dups));
    prom_inc(&p->metrics.duplicates, (uint64_t)dups);
    if (rc != NT_OK)
        prom_inc(&p->metrics.write_failures, (uint64_t)n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    log_debug("send batch",
              "worker=%d size=%d ok=%d convs=%d path=%s attempts=%d ms=%.2f err=\"%s\"", worker,
              n, stored, nconvs, info.fast ? "owner" : "full", info.attempts, ms,
              rc == NT_OK ? "" : nt_strerror(rc));
    if (v)
        msg_send_items_fini(v, n);
    free(v);
    if (hold)
        msg_deliver_release(hold); /* convs go when their last delivery is done */
    else
        conv_recs_free(convs, nconvs);
    if (msg_batch_draining(p->sends)) /* msg_batch_wait promises the replies are out */
        msg_fanout_wait_idle(p->fanout);
}

int msg_sends_start(msg_pool_t *p, msg_batch_opts_t o)
{
    if (!(p->workers = calloc((size_t)o.workers, sizeof *p->workers)))
        return NT_ENOMEM;
    p->nworkers = o.workers;
    int per = (p->conv_cache > 0 ? p->conv_cache : 20000) / o.workers;
    for (int i = 0; i < o.workers; i++)
        if (msg_state_new(per, &p->workers[i].state) != NT_OK ||
            db_conn_new(p->db, &p->workers[i].conn) != NT_OK)
            return NT_ENOMEM; /* msg_sends_free cleans up */
    o.fn = send_batch;
    o.arg = p;
    o.thread_end = db_thread_end;
    if (o.batch_max > MSG_BATCH_MAX)
        o.batch_max = MSG_BATCH_MAX;
    return msg_batch_new(&o, &p->sends);
}

void msg_sends_free(msg_pool_t *p)
{
    for (int i = 0; p->workers && i < p->nworkers; i++) {
        msg_state_free(p->workers[i].state);
        db_conn_free(p->workers[i].conn);
    }
    free(p->workers);
    p->workers = NULL;
    p->nworkers = 0;
}

/* Reply with MessagePage of n records. */
static int reply_page(bus_t *bus, natsMsg *msg, const msg_rec_t *v, int n, int has_more)
{
    Natter__Message *pbs = calloc((size_t)n + 1, sizeof *pbs);
    Natter__Message **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    int rc;
    if (!pbs || !ptrs) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        msg_pb(&v[i], &pbs[i]);
        ptrs[i] = &pbs[i];
    }
    Natter__MessagePage page = NATTER__MESSAGE_PAGE__INIT;
    page.n_messages = (size_t)n;
    page.messages = ptrs;
    page.has_more = has_more != 0;
    rc = bus_reply_pb(bus, msg, &page.base);
out:
    free(pbs);
    free(ptrs);
    return rc;
}

/* sync (oldest first after after_seq) and history (newest first before
 * before_seq) differ only in direction. */
static int page_h(bus_t *bus, natsMsg *msg, void *arg, int newest_first)
{
    msg_pool_t *p = arg;
    Natter__PageReq *req = pool_unpack(bus, msg, &natter__page_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    msg_rec_t *v = NULL;
    MYSQL *db = NULL;
    int rc, n = 0, more = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto out;
    if (req->limit < 0 || req->limit > MSG_PAGE_MAX || req->after_seq < 0 || req->before_seq < 0) {
        rc = pool_fail(bus, msg, NT_EINVAL, "limit must be 1-100 and seqs >= 0");
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = conv_access(db, req->conversation_id, uid);
    if (rc == NT_OK)
        rc = msg_page(db, req->conversation_id, req->after_seq, req->before_seq,
                      req->limit ? req->limit : PAGE_DEFAULT, newest_first, &v, &n, &more);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = msg_conv_fail(bus, msg, rc);
        goto out;
    }
    rc = reply_page(bus, msg, v, n, more);
out:
    msg_recs_free(v, n);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int msg_sync_h(bus_t *bus, natsMsg *msg, void *arg)
{
    return page_h(bus, msg, arg, 0);
}

int msg_history_h(bus_t *bus, natsMsg *msg, void *arg)
{
    return page_h(bus, msg, arg, 1);
}

int msg_read_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    Natter__ReadReq *req = pool_unpack(bus, msg, &natter__read_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = msg_caller(bus, msg);
    MYSQL *db = NULL;
    conv_rec_t c = {0};
    int64_t pos = 0;
    int rc, moved = 0;
    if (!uid) {
        rc = NT_EUNAUTH;
        goto out;
    }
    if ((rc = msg_check_cid(bus, msg, req->conversation_id)) != NT_OK)
        goto out;
    if (req->seq < 0) {
        rc = pool_fail(bus, msg, NT_EINVAL, "seq must be >= 0");
        goto out;
    }
    if ((rc = msg_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = msg_read(db, req->conversation_id, uid, req->seq, &pos, &moved);
    int mrc = rc == NT_OK && moved ? members_of(db, req->conversation_id, &c) : NT_OK;
    db_release(p->db, db, db_is_broken(rc) || db_is_broken(mrc));
    if (rc != NT_OK) {
        rc = msg_conv_fail(bus, msg, rc);
        goto out;
    }
    Natter__Empty empty = NATTER__EMPTY__INIT;
    rc = bus_reply_pb(bus, msg, &empty.base);
    if (moved) {
        Natter__ReadReceipt rr = NATTER__READ_RECEIPT__INIT;
        rr.conversation_id = req->conversation_id;
        rr.user_id = (char *)uid;
        rr.seq = pos;
        Natter__Push push = NATTER__PUSH__INIT;
        push.kind = "read";
        push.read = &rr;
        msg_push_members(p, &c, uid, &push, uid, bus_header(msg, BUS_H_TRACE));
    }
out:
    conv_rec_fini(&c);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
