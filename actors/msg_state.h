/*
 * msg_state.h - what a conversation actor keeps in memory while its msg
 * process owns the conversation (DESIGN.md "A conversation actor owns its
 * state"; docs/design.md "Conversations and messages").
 *
 * Per conversation: last_seq as committed, the members with their roles,
 * and a window of the latest MSG_STATE_KEYS (sender, client_msg_id) keys
 * (hashes).  With it a send worker checks membership, mentions and repeats
 * and assigns seqs without reading anything, then writes with
 * msg_append (store/msg_append.h), whose fence and unique keys catch
 * any state that went stale behind our back (another process wrote
 * while ownership moved, a group change elsewhere): the worker then drops
 * the entry and reloads it through the full group commit.  So this is a
 * cache in the strict sense: losing or dropping it costs a reload, never
 * correctness.
 *
 * One msg_state_t per send worker, holding the conversations hashed to it.
 * Threads: everything but msg_state_invalidate belongs to whoever runs
 * the worker's batches (one at a time, msg_batch.h); msg_state_invalidate
 * may be called from any thread (a bus event about a group change): it
 * queues the cid under a small lock and the owner drops it at the start
 * of its next batch (msg_state_apply).
 */
#ifndef NT_MSG_STATE_H
#define NT_MSG_STATE_H

#include "store/conv_store.h"

#include <stdint.h>

#define MSG_STATE_KEYS 128   /* recent keys remembered per conversation */

typedef struct msg_conv_state {
    int64_t cid;
    conv_rec_t conv;         /* members and roles; conv.last_seq = committed */
    uint64_t keys[MSG_STATE_KEYS];
    int nkeys, kpos;         /* ring of the latest keys */
    struct msg_conv_state *next;
} msg_conv_state_t;

typedef struct msg_state msg_state_t;

/* Remember up to cap conversations (beyond, everything is dropped and
 * reloaded as needed: simple, and correct since it is only a cache). */
int msg_state_new(int cap, msg_state_t **out);
void msg_state_free(msg_state_t *s);

/* The state of cid, or NULL. */
msg_conv_state_t *msg_state_get(msg_state_t *s, int64_t cid);

/* Set cid's state from c (members copied, last_seq), keeping its key
 * window if it had one.  *out (may be NULL) gets the entry. */
int msg_state_put(msg_state_t *s, int64_t cid, const conv_rec_t *c, msg_conv_state_t **out);

/* Forget cid (0: everything). */
void msg_state_drop(msg_state_t *s, int64_t cid);

/* Any thread: forget cid (0: everything) before the next batch. */
void msg_state_invalidate(msg_state_t *s, int64_t cid);

/* Owner: apply the invalidations queued so far. */
void msg_state_apply(msg_state_t *s);

/* The hash of a message key. */
uint64_t msg_state_key(int64_t sender, const char *client_msg_id);

/* 1 if h is in st's window. */
int msg_state_key_seen(const msg_conv_state_t *st, uint64_t h);

void msg_state_key_add(msg_conv_state_t *st, uint64_t h);

/* How many conversations are held now. */
int msg_state_count(const msg_state_t *s);

#endif
