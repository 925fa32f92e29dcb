/*
 * msg_deliver.c - what happens to a send after its batch committed: push
 * the message to every member, then answer the sender (docs/messages.md
 * "Fan-out").  The work runs on the fan-out stage (msg_fanout.h), so the
 * send worker that committed the batch goes on to the next one at once,
 * and a big group's pushes take turns, a chunk of members at a time, with
 * every other conversation's.
 *
 * Pushes first, reply last, on purpose: the edge releases a session's next
 * send on this reply, and the next send may be stored by another msg
 * process; pushing first puts this message's pushes on the wire before the
 * next one can exist, so members see a conversation's messages in seq
 * order.  Within this process the stage keeps a conversation's jobs in
 * submit (= seq) order.
 *
 * Everything a job needs is packed on the worker when it is made (the push
 * once, or twice when the message mentions someone: with and without
 * "mentioned"; the reply once), so a member costs one publish of ready
 * bytes.  The member list is shared by every message of the batch that
 * went to the same conversation: the batch's conversations are held (a
 * reference count) until the last of its jobs is done.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct msg_deliver_hold {
    atomic_int refs;    /* the batch's own, plus one per job */
    conv_rec_t *convs;
    int n;
};

/* One committed message on its way out.  Owned by the stage, then by done. */
typedef struct deliver_job {
    msg_pool_t *p;
    msg_deliver_hold_t *hold;  /* keeps c alive; NULL when c is the caller's (inline) */
    const conv_rec_t *c;
    natsMsg *env;              /* the request's envelope: reply subject, Natter-Uid, traceparent */
    uint8_t *push, *push_m;    /* packed Push; push_m with mentioned = true, or NULL */
    size_t len, len_m;
    uint8_t *reply;            /* packed SendReply */
    size_t reply_len;
    char **mentions;           /* n_mentions ids, one allocation */
    int n_mentions;
    int64_t seq;
    int dup;
    char id[MSG_ID_MAX];       /* the message's id, for the log lines */
} deliver_job_t;

/* The trace id inside a traceparent header, for "%.32s" (log.h). */
static const char *trace_of(const char *tp)
{
    return tp && strlen(tp) > 35 ? tp + 3 : "-";
}

int msg_deliver_hold(conv_rec_t *convs, int n, msg_deliver_hold_t **out)
{
    msg_deliver_hold_t *h = calloc(1, sizeof *h);
    *out = h;
    if (!h)
        return NT_ENOMEM;
    atomic_init(&h->refs, 1);
    h->convs = convs;
    h->n = n;
    return NT_OK;
}

void msg_deliver_release(msg_deliver_hold_t *h)
{
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) {
        conv_recs_free(h->convs, h->n);
        free(h);
    }
}

static void job_free(deliver_job_t *j)
{
    if (!j)
        return;
    bus_msg_free(j->env);
    free(j->push);
    free(j->push_m);
    free(j->reply);
    free(j->mentions);
    msg_deliver_release(j->hold);
    free(j);
}

static int pack(const ProtobufCMessage *m, uint8_t **buf, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    if (*len > BUS_PB_MAX)
        return NT_ETOOLARGE;
    if (!(*buf = malloc(*len ? *len : 1)))
        return NT_ENOMEM;
    protobuf_c_message_pack(m, *buf);
    return NT_OK;
}

static int copy_mentions(deliver_job_t *j, const msg_rec_t *m)
{
    size_t bytes = (size_t)m->n_mentions * sizeof(char *);
    for (int i = 0; i < m->n_mentions; i++)
        bytes += strlen(m->mentions[i]) + 1;
    if (m->n_mentions == 0 || !(j->mentions = malloc(bytes)))
        return m->n_mentions == 0 ? NT_OK : NT_ENOMEM;
    char *s = (char *)(j->mentions + m->n_mentions);
    for (int i = 0; i < m->n_mentions; i++) {
        size_t n = strlen(m->mentions[i]) + 1;
        j->mentions[i] = memcpy(s, m->mentions[i], n);
        s += n;
    }
    j->n_mentions = m->n_mentions;
    return NT_OK;
}

/* Pack everything j needs from m. */
static int job_fill(deliver_job_t *j, const msg_rec_t *m)
{
    Natter__Message pb;
    msg_pb(m, &pb);
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "message";
    push.message = &pb;
    int rc = pack(&push.base, &j->push, &j->len);
    if (rc == NT_OK && m->n_mentions > 0) {
        pb.mentioned = 1;
        rc = pack(&push.base, &j->push_m, &j->len_m);
        pb.mentioned = 0;
    }
    Natter__SendReply rep = NATTER__SEND_REPLY__INIT;
    rep.message = &pb;
    rep.duplicate = j->dup != 0;
    if (rc == NT_OK)
        rc = pack(&rep.base, &j->reply, &j->reply_len);
    return rc == NT_OK ? copy_mentions(j, m) : rc;
}

/* msg_fanout_step_fn: push to members [from, to). */
static void step(void *arg, void *job, int from, int to)
{
    (void)arg;
    deliver_job_t *j = job;
    const char *uid = bus_header(j->env, BUS_H_UID), *trace = bus_header(j->env, BUS_H_TRACE);
    for (int i = from; i < to; i++) {
        const char *member = j->c->members[i].user_id;
        int mentioned = 0;
        for (int k = 0; k < j->n_mentions && !mentioned; k++)
            mentioned = strcmp(j->mentions[k], member) == 0;
        msg_push_packed(j->p, j->c->id, member, "message", mentioned ? j->push_m : j->push,
                        mentioned ? j->len_m : j->len, uid, trace);
        log_debug("message pushed", "to=%s msg_id=%s cid=%s seq=%lld trace=%.32s", member, j->id,
                  j->c->id, (long long)j->seq, trace_of(trace));
    }
}

/* msg_fanout_done_fn: every member has it; answer the sender. */
static void done(void *arg, void *job)
{
    (void)arg;
    deliver_job_t *j = job;
    const char *uid = bus_header(j->env, BUS_H_UID);
    int rc = bus_reply(j->p->bus, j->env, natter__send_reply__descriptor.name, j->reply,
                       (int)j->reply_len);
    if (rc != NT_OK)
        log_warn("send reply failed", "cid=%s seq=%lld err=\"%s\"", j->c->id, (long long)j->seq,
                 nt_strerror(rc));
    const char *tp = bus_header(j->env, BUS_H_TRACE);
    log_debug("message answered", "uid=%s msg_id=%s cid=%s seq=%lld duplicate=%s trace=%.32s",
              uid ? uid : "", j->id, j->c->id, (long long)j->seq, j->dup ? "yes" : "no",
              trace_of(tp));
    job_free(j);
}

void msg_deliver(msg_pool_t *p, msg_deliver_hold_t *h, natsMsg **env, const msg_rec_t *m,
                 int dup, const conv_rec_t *c)
{
    deliver_job_t *j = calloc(1, sizeof *j);
    if (j) {
        j->p = p;
        j->c = c;
        j->seq = m->seq;
        j->dup = dup;
        snprintf(j->id, sizeof j->id, "%s", m->id);
    }
    if (log_enabled(LOG_DEBUG)) {
        const char *tp = *env ? bus_header(*env, BUS_H_TRACE) : NULL;
        log_debug("message stored", "uid=%s msg_id=%s cid=%s seq=%lld cmid=%s duplicate=%s trace=%.32s",
                  m->sender_id, m->id, c->id, (long long)m->seq, m->client_msg_id,
                  dup ? "yes" : "no", trace_of(tp));
    }
    if (!j || job_fill(j, m) != NT_OK) {
        /* Stored, but we cannot say so: the client retries and gets it as
         * a duplicate, pushes included. */
        pool_fail(p->bus, *env, NT_ENOMEM, "");
        bus_msg_free(*env);
        *env = NULL;
        job_free(j);
        return;
    }
    j->env = *env;
    *env = NULL;
    /* A direct conversation's pushes (two members) are cheaper to publish
     * here than to hand to a fan-out thread: the hand-off (a wake-up, a
     * context switch) costs more than two buffered publishes.  By type,
     * which never changes, so a conversation always takes one road and its
     * pushes keep their order. */
    if (h && p->fanout && strcmp(c->type, "direct") != 0) {
        atomic_fetch_add(&h->refs, 1);
        j->hold = h;
        if (msg_fanout_submit(p->fanout, c->id, j, c->n_members) == NT_OK)
            return;
        /* The stage is stopped or out of memory: do it here, with the
         * batch's own reference keeping c alive. */
        msg_deliver_release(h);
        j->hold = NULL;
    }
    step(p, j, 0, c->n_members);
    done(p, j);
}

int msg_deliver_start(msg_pool_t *p, msg_fanout_opts_t o)
{
    o.step = step;
    o.done = done;
    o.arg = p;
    return msg_fanout_new(&o, &p->fanout);
}
