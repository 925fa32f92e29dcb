/*
 * msg_batch_store.h - group commit: many sends, to any number of
 * conversations, stored in one transaction (DESIGN.md "Throughput comes
 * from batching").
 *
 * One COMMIT (one fsync of the redo log) for the whole batch instead of one
 * per message; the invariants of a single send still hold for every item:
 *   - seqs are dense per conversation and never reused: the conversation
 *     rows are locked (SELECT ... FOR UPDATE, in id order) before last_seq
 *     is read, so any number of msg processes may write one conversation;
 *   - (cid, sender, client_msg_id) is unique: an item whose key is stored
 *     already, or appears earlier in the same batch, gets the original
 *     (duplicate = 1) and no new seq;
 *   - nothing is acknowledged before COMMIT returned.
 * Items fail one by one (no such conversation, sender not a member, a
 * mention of a non-member, an image or file message whose body is not a
 * file the sender uploaded: store/media_store.h) without touching the
 * others.  A stored image or file message gets its conversation_files row
 * in the same transaction.
 *
 * Ids are decimal strings at this boundary, as everywhere in store/.
 */
#ifndef NT_MSG_BATCH_STORE_H
#define NT_MSG_BATCH_STORE_H

#include "store/conv_store.h"
#include "store/msg_store.h"

#include <mysql.h>

/* Items of one msg_send_batch call, at most this many (the statements bind
 * 7 parameters per row and MariaDB allows 65535). */
#define MSG_BATCH_MAX 1024

/* One send of a batch.  The inputs are borrowed for the duration of the
 * call (the caller validated type, body and client_msg_id); the outputs
 * are written by msg_send_batch and freed with msg_send_items_fini. */
typedef struct msg_send_item {
    const char *cid;
    const char *sender;
    const char *client_msg_id;
    const char *type;
    const char *body;
    char *const *mentions;  /* n_mentions distinct user ids (<= MSG_MENTIONS_MAX) */
    int n_mentions;
    /* outputs, meaningful when msg_send_batch returned NT_OK */
    int rc;          /* NT_OK, NT_ENOTFOUND (no such conversation),
                        NT_EFORBIDDEN (sender is not a member) or
                        NT_EINVAL (a mentioned user is not a member, or an
                        image/file body that is not the sender's file) */
    const char *err; /* rc == NT_EINVAL: why, for the client (static text) */
    int duplicate;   /* rc == NT_OK: msg is the original of a retried key */
    msg_rec_t msg;   /* rc == NT_OK: the stored message (owns its body) */
    int conv;        /* rc == NT_OK: index of its conversation in *convs */
} msg_send_item_t;

/* Store the n (1..MSG_BATCH_MAX) sends of v in one transaction.  NT_OK:
 * committed (or nothing to write); each item's outputs say what became of
 * it, and *convs is a new array of the *nconvs conversations the stored
 * items belong to, with their members as of the commit (for fan-out; free
 * with conv_recs_free).  Any other return: nothing was committed by this
 * call and every item is to be retried or failed; NT_EUNAVAIL means a
 * transient failure (deadlock, lock wait timeout, lost connection), which
 * includes a COMMIT whose outcome is unknown: a retry then finds the
 * committed items by their keys and answers them as duplicates. */
int msg_send_batch(MYSQL *db, msg_send_item_t *v, int n, conv_rec_t **convs, int *nconvs);

/* Free the outputs of v[0..n) (the inputs are the caller's).  Safe twice. */
void msg_send_items_fini(msg_send_item_t *v, int n);

#endif
