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
#include <stdint.h>

#define MSG_ID_MAX 24
#define MSG_CLIENT_ID_MAX 64     /* chars of [A-Za-z0-9_-] */
#define MSG_TYPE_MAX 16
#define MSG_PAGE_MAX 100         /* API.md: history limit <= 100 */

/* One message.  body is heap memory owned by the record (msg_rec_fini). */
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
} msg_rec_t;

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

/* INSERT the n records (conversation_id, seq, sender_id, client_msg_id,
 * type, body, created_at; sorted by conversation, then seq) in as few
 * statements as the packet size comfortably allows, then set each record's
 * id to the one the table gave it. */
int msg_insert_many(MYSQL *db, msg_rec_t *const *recs, int n);

#endif
