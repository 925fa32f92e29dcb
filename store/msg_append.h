/*
 * msg_append.h - the owner's group commit: append messages to
 * conversations whose state the caller already holds (docs/design.md
 * "Conversations and messages", DESIGN.md "A conversation actor owns its
 * state").
 *
 * The msg process that owns a conversation keeps its last_seq, members and
 * recent keys in memory (actors/msg_state.h), checked membership, mentions
 * and repeats itself and assigned the seqs.  What is left for the database
 * is the write, fenced so that a stale owner cannot do harm:
 *   1. UPDATE conversations SET last_seq = <new> ... WHERE (id = ? AND
 *      last_seq = <expected>) OR ...  -- one statement for every
 *      conversation of the batch; it takes their row locks (in id order,
 *      like the full path's SELECT ... FOR UPDATE) and fewer affected rows
 *      than conversations means another process wrote since we loaded.
 *   2. INSERT INTO messages ... VALUES (...), (...)  -- one statement (more
 *      only past 1 MB of bodies); the (conversation_id, sender_id,
 *      client_msg_id) key refusing a row means a retry we did not know of.
 *      Ids follow from the first one when the server numbers a statement's
 *      rows consecutively (db_conn_autoinc), else one SELECT reads them.
 *      Mentions add their message_mentions rows.
 *   3. COMMIT.
 * Both conflicts roll back and return NT_ECONFLICT: nothing was written,
 * the caller reloads the state from the store (msg_send_batch) and
 * answers from there.  So a batch in steady state is three prepared,
 * cached statements on the worker's own connection (db_conn_t).
 */
#ifndef NT_MSG_APPEND_H
#define NT_MSG_APPEND_H

#include "store/db.h"
#include "store/msg_store.h"

/* One conversation of the batch: its last_seq as the caller knows it and
 * the one the batch ends at. */
typedef struct msg_append_conv {
    int64_t cid;
    int64_t expect;
    int64_t last;
} msg_append_conv_t;

/* Write recs[0..n) (seq, conversation, sender, key, type, body, mentions
 * and created_at set; sorted by conversation, then seq) and advance the
 * nconvs conversations (ascending by cid) to their last, at time now,
 * then COMMIT.  NT_OK: committed, each record's id set.  NT_ECONFLICT:
 * another writer got there first (state stale or key stored): rolled back.
 * NT_EUNAVAIL: transient (lock wait, deadlock, lost connection, or a
 * COMMIT of unknown outcome): rolled back or unknown; the caller treats
 * the connection as broken and reloads from the store.  *statements gets
 * the number of statements sent (for the batch statistics). */
int msg_append(db_conn_t *c, msg_rec_t *const *recs, int n, const msg_append_conv_t *convs,
               int nconvs, int64_t now, int *statements);

#endif
