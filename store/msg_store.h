/*
 * msg_store.h - messages of a conversation in MariaDB: the durable half of
 * DESIGN.md "Messages: the invariants".
 *
 * Messages are written by msg_send_batch (msg_batch_store.h), many in
 * one transaction; this module reads them back and keeps read positions.
 *
 * Ids are decimal strings at this boundary (API.md); a malformed
 * conversation id is a conversation that does not exist (NT_ENOTFOUND).
 * Functions take a connection the caller acquired and return NT_* codes.
 */
#ifndef NT_MSG_STORE_H
#define NT_MSG_STORE_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_ID_MAX 24
#define MSG_CLIENT_ID_MAX 64     /* chars of [A-Za-z0-9_-] */
#define MSG_TYPE_MAX 16
#define MSG_PAGE_MAX 100         /* API.md: history limit <= 100 */
#define MSG_MENTIONS_MAX 50      /* user ids one message may mention */

/* One message.  body and mentions are heap memory owned by the record
 * (msg_rec_fini); copy a record with msg_rec_copy, never by assignment. */
typedef struct msg_rec {
    char id[MSG_ID_MAX];
    char conversation_id[MSG_ID_MAX];
    int64_t seq;
    char sender_id[MSG_ID_MAX];
    char client_msg_id[MSG_CLIENT_ID_MAX + 1];
    char type[MSG_TYPE_MAX];
    char *body;
    int64_t created_at;  /* ms */
    int revoked;
    char **mentions;     /* n_mentions user ids, one allocation (msg_mentions_set) */
    int n_mentions;
} msg_rec_t;

/* Set m's mentions to a copy of ids[0..n) (n <= MSG_MENTIONS_MAX, each id
 * shorter than MSG_ID_MAX), replacing any it had. */
int msg_mentions_set(msg_rec_t *m, char *const *ids, int n);

/* dst = a deep copy of src (dst's old contents are not freed). */
int msg_rec_copy(msg_rec_t *dst, const msg_rec_t *src);

/* Free what m owns (body); m itself is the caller's.  Safe twice. */
void msg_rec_fini(msg_rec_t *m);
/* msg_rec_fini each of n records, then free(v).  NULL is fine. */
void msg_recs_free(msg_rec_t *v, int n);

/* A page of messages (membership is the caller's check).  newest_first = 0:
 * seq > after_seq, oldest first (sync); newest_first = 1: seq < before_seq
 * (before_seq <= 0: from the newest), newest first (history).  limit is
 * 1..MSG_PAGE_MAX.  *out is a new array of *n records (msg_recs_free);
 * *has_more is 1 if more messages lie beyond the page. */
int msg_page(MYSQL *db, const char *cid, int64_t after_seq, int64_t before_seq, int limit,
             int newest_first, msg_rec_t **out, int *n, int *has_more);

/* Message seq of cid into *out; NT_ENOTFOUND if absent. */
int msg_get_seq(MYSQL *db, int64_t cid, int64_t seq, msg_rec_t *out);

/* Move uid's read position in cid forward to seq, clamped to last_seq
 * (never backwards).  *read_seq gets the position afterwards and *moved 1
 * if it changed.  NT_ENOTFOUND: no such conversation; NT_EFORBIDDEN: uid is not a member. */
int msg_read(MYSQL *db, const char *cid, const char *uid, int64_t seq, int64_t *read_seq,
             int *moved);

/* Revoke message mid on behalf of uid (docs/messages.md): only its sender,
 * only within window_ms of created_at.  The body and mentions are cleared
 * and revoked set, by one UPDATE of the row (the message is committed, so
 * this cannot race its group commit); the message's conversation_files row
 * goes too (media_store.h).  Revoking a revoked message again is
 * NT_OK with *again = 1 (idempotent: a client retrying after a lost reply
 * gets success).  *out gets the message as stored afterwards (msg_rec_fini).
 * NT_ENOTFOUND: no such message (or mid malformed); NT_EFORBIDDEN: uid is
 * not the sender or no longer a member (*expired 0), or the window has
 * passed (*expired 1). */
int msg_revoke(MYSQL *db, const char *mid, const char *uid, int64_t window_ms, msg_rec_t *out,
               int *again, int *expired);

/* How many messages of conversation cid after after_seq mention uid. */
int msg_mention_count(MYSQL *db, int64_t cid, int64_t uid, int64_t after_seq, int64_t *out);

/* --- bulk steps of the group commit (msg_batch_store.c), inside its
 * transaction, while it holds the conversation row locks --------------- */

/* A message's idempotency key. */
typedef struct msg_key {
    int64_t cid;
    int64_t sender;
    const char *client_msg_id;
} msg_key_t;

/* Called for each stored message that matches a key; a negative return
 * stops the lookup and is returned by msg_find_keys. */
typedef int (*msg_found_fn)(void *arg, const msg_rec_t *m);

/* Look the n (>= 0) keys up in one statement. */
int msg_find_keys(MYSQL *db, const msg_key_t *keys, int n, msg_found_fn fn, void *arg);

/* The mentions column: up to 50 ids of at most 20 digits, comma-separated. */
#define MSG_MENTIONS_CSV 1100

/* m's mentions from / to that column's text (msg_mentions.c). */
int msg_mentions_parse(msg_rec_t *m, const char *csv);
int msg_mentions_csv(const msg_rec_t *m, char *out, size_t n);

/* One message_mentions row per mention of recs[0..n) (ids set). */
int msg_mentions_insert(MYSQL *db, msg_rec_t *const *recs, int n);

/* INSERT the n records (conversation_id, seq, sender_id, client_msg_id,
 * type, body, created_at, mentions; sorted by conversation, then seq) in as
 * few statements as the packet size comfortably allows, set each record's
 * id to the one the table gave it, and add their message_mentions rows. */
int msg_insert_many(MYSQL *db, msg_rec_t *const *recs, int n);

/* Set the ids of the n inserted records (sorted by conversation, then
 * seq) from the table, in one statement. */
int msg_read_ids(MYSQL *db, msg_rec_t *const *recs, int n);

#endif
