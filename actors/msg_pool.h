/*
 * msg_pool.h - the msg service: conversations and their messages
 * (DESIGN.md "Messages: the invariants", API.md "Conversations",
 * "Messages").
 *
 * Served in queue group "msg", so any number of `natter msg` processes
 * share the load.  Two kinds of address:
 *   im.svc.msg.<op>        conv_create, conv_list (not about one conversation)
 *   im.conv.<cid>.<verb>   the conversation actor: get, send, sync, history,
 *                          read, typing, group (subscribed as im.conv.*.<verb>)
 * The cid is both in the subject and in the payload; a mismatch is refused
 * (bad_request), so what `nats sub 'im.conv.>'` shows is what is done.
 *
 * Handlers run on bus delivery threads and take a database connection for
 * one request, except send, which the msg loop's thread takes as it reads
 * it (msg_loop.h; a delivery thread with nats.inline = 0): a send for a
 * conversation another msg process owns is handed on to it
 * (msg_owner.h); the owner queues it for the send
 * worker of its conversation (hash(cid) % msg.send_workers, msg_batch.h),
 * which stores many sends in one transaction (group commit) from the
 * conversation state it keeps (msg_state.h, msg_commit.c) and then pushes
 * each message to the members and answers the sender (msg_deliver.c; a
 * group's pushes on the fan-out stage, msg_fanout.h).
 * Exactly-once storage and dense seqs are guaranteed by the store (the
 * fenced last_seq update, the unique keys, the full path's row locks),
 * so two msg processes that both think they own a conversation while
 * ownership moves cannot break them.  After a send commits,
 * a natter.Push {kind:"message"} goes to im.user.<uid>.push of every member
 * (the sender too: their other sessions); a read that moves the position
 * sends Push {kind:"read"} to the other members.
 *
 * The caller is the Natter-Uid header, set only by edges.
 */
#ifndef NT_MSG_POOL_H
#define NT_MSG_POOL_H

#include "actors/msg_batch.h"
#include "actors/msg_fanout.h"
#include "actors/msg_metrics.h"
#include "actors/msg_owner.h"
#include "actors/msg_state.h"
#include "bus/bus.h"
#include "bus/micro.h"
#include "proto/natter.pb-c.h"
#include "store/conv_store.h"
#include "store/db.h"
#include "store/msg_batch_store.h"
#include "store/msg_store.h"
#include "store/ratelimit.h"
#include "store/redis.h"

/* What one send worker owns (msg_commit.c): the conversations hashed to
 * it and its own database connection.  Used only by whoever runs the
 * worker's batches (one at a time, msg_batch.h), except state's
 * invalidation queue (msg_state.h).  The counters are that runner's too;
 * read them after the workers stopped. */
typedef struct msg_worker {
    msg_state_t *state;
    db_conn_t *conn;
    int64_t fast;        /* batches stored from the state */
    int64_t full;        /* batches stored the full way (msg_send_batch) */
    int64_t conflicts;   /* owner's attempts refused by the fence or a key */
    int64_t statements;  /* statements of the owner's path */
} msg_worker_t;

/* Read-only after msg_sends_start and msg_pool_register; shared by all
 * handler and worker threads (sends is thread-safe itself). */
typedef struct msg_pool {
    bus_t *bus;
    db_pool_t *db;
    int db_wait_ms;       /* how long a request waits for a connection */
    long text_max;        /* msg.text_max: characters of a text message */
    msg_batch_t *sends;   /* the send workers (msg_sends_start) */
    msg_worker_t *workers; /* nworkers, what each send worker owns */
    int nworkers;
    int conv_cache;       /* msg.conv_cache: conversations held in memory per process */
    msg_owner_t *owner;   /* who owns which conversation; NULL: this process, all */
    msg_fanout_t *fanout; /* pushes and replies of committed sends (msg_deliver_start) */
    redis_pool_t *redis;  /* rate-limit buckets; NULL: no limit */
    ratelimit_rule_t send_rate; /* msg.send_rate: sends per user */
    int group_max;        /* msg.group_max: members of a group at most */
    long revoke_window_s; /* msg.revoke_window_s: a sender may revoke this long */
    msg_metrics_t metrics; /* /metrics (msg_metrics.h): atomics, any thread */
    struct msg_loop *loop; /* the loop thread (msg_loop.h) for /metrics, or NULL */
} msg_pool_t;

/* Start the send workers into p->sends (msg_send.c); o's fn and arg are
 * set here, batch_max is capped at MSG_BATCH_MAX.  Before registering:
 * the send handler needs them.  The caller frees p->sends
 * (msg_batch_free) after the bus, which may still run handlers, then
 * msg_sends_free. */
int msg_sends_start(msg_pool_t *p, msg_batch_opts_t o);

/* Free what msg_sends_start made besides p->sends (the workers' state and
 * connections).  After msg_batch_free. */
void msg_sends_free(msg_pool_t *p);

/* How msg_commit stored a batch. */
typedef struct msg_commit_info {
    int fast;        /* 1: from the owner's state (msg_append) */
    int attempts;    /* of the full path, or 1 */
    int statements;  /* of the owner's path */
} msg_commit_info_t;

/* Store v[0..n) on worker `worker` (msg_commit.c), from its state if it
 * can, else the full way; the outputs as msg_send_batch's
 * (store/msg_batch_store.h). */
int msg_commit(msg_pool_t *p, int worker, msg_send_item_t *v, int n, conv_rec_t **convs,
               int *nconvs, msg_commit_info_t *info);

/* Start the fan-out stage into p->fanout (msg_deliver.c); o's step, done
 * and arg are set here.  Before msg_sends_start: the workers hand to it.
 * Stop it (msg_fanout_stop) after the send workers and before the bus
 * goes: it replies through the bus; then msg_fanout_free. */
int msg_deliver_start(msg_pool_t *p, msg_fanout_opts_t o);

/* The conversations of one committed batch, shared by its deliveries. */
typedef struct msg_deliver_hold msg_deliver_hold_t;

/* Take convs[0..n) (with their member lists) into a holder: NT_OK, and
 * they are freed once msg_deliver_release was called and the last
 * delivery using them is done.  NT_ENOMEM: the caller still owns convs. */
int msg_deliver_hold(conv_rec_t *convs, int n, msg_deliver_hold_t **out);

/* Drop the caller's reference.  NULL is fine. */
void msg_deliver_release(msg_deliver_hold_t *h);

/* After COMMIT: push committed message m to every member of c (an entry
 * of h), then reply SendReply {m, duplicate: dup} to *env, which is taken
 * (*env = NULL).  Queued on the fan-out stage behind c's earlier messages;
 * with h NULL (or the stage stopped) it is all done here before returning.
 * m is copied (packed): the caller may free it at once. */
void msg_deliver(msg_pool_t *p, msg_deliver_hold_t *h, natsMsg **env, const msg_rec_t *m,
                 int dup, const conv_rec_t *c);

/* Add the endpoints to m, `workers` subscriptions each, among them
 * send_owned: im.svc.msg.fwd.<this instance>.<cid>, the sends other msg
 * processes hand on to us as the owner (msg_send_h). */
int msg_pool_register(msg_pool_t *p, micro_t *m, int workers);

/* Watch im.evt.conv_members.<cid> (every instance): a group change drops
 * the conversation's state in whichever worker holds it. */
int msg_pool_watch(msg_pool_t *p);

/* Announce a group change of cid (msg_group.c), after its COMMIT. */
void msg_members_changed(msg_pool_t *p, const char *cid);

/* The cid token of a conversation subject: im.conv.<cid>.<verb> or
 * im.svc.msg.fwd.<instance>.<cid>.  1 and *cid, *len set, or 0. */
int msg_subject_cid(const char *subject, const char **cid, size_t *len);

/* Queue req (taken) for its conversation's send worker, which stores it
 * and answers msg like a client's send (SendReply): the rules are the
 * caller's to check first.  The request's Natter-Uid is the sender.
 * more: as msg_batch_submit_more (bus_more_pending only from a bus
 * handler that calls msg_batch_flush after; else NULL). */
int msg_send_queue(msg_pool_t *p, bus_t *bus, natsMsg *msg, Natter__SendReq *req,
                   msg_batch_more_fn more);

/* Mark the calling thread as the msg loop's (msg_loop.h): the sends its
 * handler runs are only queued, and the caller runs them with
 * msg_batch_flush at the end of its loop turn. */
void msg_send_on_loop(void);

/* im.svc.msg.internal.call_log (msg_call.c): the call actor records an
 * ended call as a system message through the send path. */
int msg_call_log_h(bus_t *bus, natsMsg *msg, void *arg);

/* Handlers (msg_conv.c, msg_send.c). */
int msg_conv_create(bus_t *bus, natsMsg *msg, void *arg);
int msg_conv_list(bus_t *bus, natsMsg *msg, void *arg);
int msg_conv_get(bus_t *bus, natsMsg *msg, void *arg);
int msg_send_h(bus_t *bus, natsMsg *msg, void *arg);
int msg_sync_h(bus_t *bus, natsMsg *msg, void *arg);
int msg_history_h(bus_t *bus, natsMsg *msg, void *arg);
int msg_read_h(bus_t *bus, natsMsg *msg, void *arg);
int msg_typing_h(bus_t *bus, natsMsg *msg, void *arg);   /* msg_typing.c */
int msg_group_h(bus_t *bus, natsMsg *msg, void *arg);    /* msg_group.c */

/* Create a group for msg_conv_create (msg_group.c): answers the request. */
int msg_group_create(msg_pool_t *p, bus_t *bus, natsMsg *msg, const Natter__ConvCreateReq *req,
                     const char *uid);
int msg_revoke_h(bus_t *bus, natsMsg *msg, void *arg);   /* msg_revoke.c */

/* The per-user send bucket (msg_rate.c): NT_OK to go on, else the
 * request was answered rate_limited and that code is returned.  A retry of
 * an already stored client_msg_id is never refused; Redis down lets the
 * send through. */
int msg_send_limited(msg_pool_t *p, bus_t *bus, natsMsg *msg, const char *uid,
                     const Natter__SendReq *req);

/* Mention rules of a send (msg_mentions.c): at most MSG_MENTIONS_MAX
 * decimal ids, repeats dropped from req in place.  NT_OK, or NT_EINVAL
 * with err set. */
int msg_mention_rules(Natter__SendReq *req, char *err, size_t n);

/* Shared by the handlers (msg_pool.c). */

/* The caller's uid, or answer unauthorized and return NULL. */
const char *msg_caller(bus_t *bus, natsMsg *msg);

/* Check that payload_cid equals the <cid> of the subject im.conv.<cid>.<verb>;
 * otherwise answer bad_request and return NT_EINVAL. */
int msg_check_cid(bus_t *bus, natsMsg *msg, const char *payload_cid);

/* Fail a request about one conversation with err, worded for the client
 * (forbidden: not a member; not_found: no such conversation). */
int msg_conv_fail(bus_t *bus, natsMsg *msg, int err);

/* Take a db connection or answer unavailable; 0 on success. */
int msg_db_take(msg_pool_t *p, bus_t *bus, natsMsg *msg, MYSQL **db);

/* Point out's fields at m's (no copies: m must outlive out). */
void msg_pb(const msg_rec_t *m, Natter__Message *out);

/* Point out's fields at c's; members/mptrs hold c->n_members entries,
 * last is used when c has a last message.  c must outlive out. */
void conv_pb(const conv_rec_t *c, Natter__Conversation *out, Natter__Member *members,
             Natter__Member **mptrs, Natter__Message *last);

/* Publish a Push, already packed (buf, len), to im.user.<to>.push.
 * Failures are logged: delivery is at-least-once and a client catches up
 * with sync. */
void msg_push_packed(msg_pool_t *p, const char *cid, const char *to, const char *kind,
                     const uint8_t *buf, size_t len, const char *uid, const char *trace);

/* Publish push to im.user.<uid>.push of every member of c except skip_uid
 * (NULL: everyone); failures are logged (as above). */
void msg_push_members(msg_pool_t *p, const conv_rec_t *c, const char *skip_uid,
                      const Natter__Push *push, const char *uid, const char *trace);

#endif
