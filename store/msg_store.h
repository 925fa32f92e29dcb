/*
 * msg_store.h - messages of a conversation in MariaDB: the durable half of
 * DESIGN.md "Messages: the invariants".
 *
 * msg_send stores one message in one transaction that locks the
 * conversation row, so seqs are dense and unique across any number of msg
 * processes, and a retried client_msg_id returns the stored original.  It
 * returns only after COMMIT: the caller may acknowledge at once.
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

/* Store a message from sender in conversation cid (see top).  NT_ENOTFOUND:
 * no such conversation; NT_EFORBIDDEN: sender is not a member.  *duplicate
 * is 1 when client_msg_id was seen before and *out is the original.  The
 * caller validates type, body and client_msg_id. */
int msg_send(MYSQL *db, const char *cid, const char *sender, const char *client_msg_id,
             const char *type, const char *body, msg_rec_t *out, int *duplicate);

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
 * if it changed.  NT_ENOTFOUND / NT_EFORBIDDEN as msg_send. */
int msg_read(MYSQL *db, const char *cid, const char *uid, int64_t seq, int64_t *read_seq,
             int *moved);

#endif
