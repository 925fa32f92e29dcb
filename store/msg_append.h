/*
 * msg_append.h - the owner's group commit: append messages to
 * conversations whose state the caller already holds (docs/design.md
 * "Conversations and messages", DESIGN.md "A conversation actor owns its
 * state").
 *
 * The msg process that owns a conversation keeps its last_seq, members and
 * recent keys in memory (actors/msg_state.h), checked membership, mentions
 * and repeats itself and assigned the seqs.  What is left for the database
 * is the write, fenced so that a stale owner cannot do harm, sent as ONE
 * text query of several statements (one round trip per batch; the
 * dedicated connection has multi-statements on, db_conn_multi):
 *   UPDATE conversations SET last_seq = CASE id ... END, last_activity = ..
 *     WHERE (id = c AND last_seq = <expected>) OR ...;
 *       -- every conversation of the batch: their row locks, in id order
 *   INSERT INTO messages ... VALUES (IF(ROW_COUNT() = <nconvs>, c, NULL),
 *     ...), (...);
 *       -- the fence: unless the UPDATE changed every conversation, the
 *          first row's conversation_id is NULL, which strict mode refuses
 *          (error 1048), so nothing after it runs; the (conversation_id,
 *          seq) key refuses a seq that exists (a second fence that needs
 *          no sql_mode), the (conversation_id, sender_id, client_msg_id)
 *          key a retry we did not know of; ids follow from the INSERT's
 *          first id (db_conn_autoinc)
 *   [INSERT IGNORE INTO message_mentions ...;]   -- when someone is mentioned
 *   COMMIT
 * On a refused statement MariaDB runs none after it, so COMMIT never runs:
 * a second round trip sends ROLLBACK (only then), and NT_ECONFLICT says
 * nothing was written; the caller reloads the state from the store
 * (msg_send_batch) and answers from there.  A batch past 1 MB of bodies
 * takes one round trip per further 1 MB INSERT (the COMMIT with the last);
 * with innodb_autoinc_lock_mode 2 the ids are read back (msg_read_ids) and
 * COMMIT is a round trip of its own.
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
 * the connection as broken and reloads from the store.  NT_EDB: another
 * refusal, rolled back.  *statements gets the number of statements the
 * server ran, ROLLBACK included (for the batch statistics; the round
 * trips are in db_conn_stats). */
int msg_append(db_conn_t *c, msg_rec_t *const *recs, int n, const msg_append_conv_t *convs,
               int nconvs, int64_t now, int *statements);

#endif
