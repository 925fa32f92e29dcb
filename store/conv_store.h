/*
 * conv_store.h - conversations and their members in MariaDB.
 *
 * A direct conversation is keyed by its pair ("<low uid>:<high uid>",
 * UNIQUE), so creating it twice, in either order or from two processes at
 * once, yields one conversation.  Listing returns the caller's
 * conversations, most recent activity first, with the caller's unread count
 * (last_seq - read_seq) and the last message.
 *
 * Ids are decimal strings at this boundary; a malformed id is an absent
 * row.  Functions take a connection the caller acquired and return NT_*.
 */
#ifndef NT_CONV_STORE_H
#define NT_CONV_STORE_H

#include "store/msg_store.h"

#include <mysql.h>
#include <stdint.h>

#define CONV_NAME_MAX 128        /* UTF-8 code points */
/* Hard cap on the members loaded into one record (the list is heap
 * memory).  The configured group size, msg.group_max (default 2000), is
 * checked against it at start and is what requests are held to. */
#define CONV_MEMBERS_MAX 10000
#define CONV_LIST_MAX 100

typedef struct conv_member {
    char user_id[MSG_ID_MAX];
    char role[16];               /* owner | admin | member */
} conv_member_t;

/* One conversation.  members and last (with has_last, conv_list only) are
 * heap memory owned by the record: conv_rec_fini.  Do not copy a record
 * by value and fini both copies. */
typedef struct conv_rec {
    char id[MSG_ID_MAX];
    char type[16];               /* direct | group */
    char name[CONV_NAME_MAX * 4 + 1];
    char owner_id[MSG_ID_MAX];   /* "" for direct */
    int64_t last_seq;
    int64_t created_at;          /* ms */
    int64_t last_activity;       /* ms */
    int64_t read_seq;            /* conv_list: the caller's */
    int64_t mentions;            /* conv_list: the caller's unread mentions */
    conv_member_t *members;      /* n_members of them, ordered by joined_at */
    int n_members;
    int cap_members;
    msg_rec_t last;
    int has_last;
} conv_rec_t;

void conv_rec_fini(conv_rec_t *c);

/* Append a member to c's list (conv_member.c; grown as needed, at most
 * CONV_MEMBERS_MAX);
 * NT_ENOMEM, or NT_EINVAL past the cap. */
int conv_member_add(conv_rec_t *c, const char *uid, const char *role);

/* dst = src with its own copy of the member list, without the last
 * message (dst's old contents are not freed).  On NT_ENOMEM dst has no
 * members. */
int conv_rec_copy(conv_rec_t *dst, const conv_rec_t *src);

/* The role of uid in c ("owner" | "admin" | "member"), or NULL if uid is
 * not a member. */
const char *conv_member_role(const conv_rec_t *c, const char *uid);

/* The direct conversation of a and b, created if it does not exist
 * (*created 1) or the existing one (*created 0), with its members.
 * NT_ENOTFOUND if b is not a user; NT_EINVAL if a == b. */
int conv_create_direct(MYSQL *db, const char *a, const char *b, conv_rec_t *out, int *created);

/* Conversation cid with its members; NT_ENOTFOUND if absent. */
int conv_get(MYSQL *db, const char *cid, conv_rec_t *out);

/* NT_OK if uid is a member of cid, NT_EFORBIDDEN if not, NT_ENOTFOUND if
 * there is no such conversation. */
int conv_access(MYSQL *db, const char *cid, const char *uid);

/* Inside a transaction: lock the rows of the distinct conversations
 * ids[0..n) with one SELECT ... FOR UPDATE and load their members.  InnoDB
 * takes the row locks of one such statement in id order, so two batches
 * locking overlapping sets (in any processes) queue instead of deadlocking.
 * out has room for n records; *nout gets those that exist, ascending by id
 * (absent ids are simply missing).  Records own nothing (no last message). */
int conv_lock_many(MYSQL *db, const int64_t *ids, int n, conv_rec_t *out, int *nout);

/* Group commit, inside its transaction: member[i] = 1 if uid[i] is a
 * member of cid[i], else 0, for n (>= 0) pairs in one statement. */
int conv_members_check(MYSQL *db, const int64_t *cid, const int64_t *uid, int n, int *member);

/* Group commit, under the row locks: set last_seq[i] of conversation cid[i]
 * for n (>= 0) conversations, and their last_activity to now, in one
 * statement. */
int conv_advance_many(MYSQL *db, const int64_t *cid, const int64_t *last_seq, int n, int64_t now);

/* uid's conversations, newest activity first, at most max (1..CONV_LIST_MAX),
 * with read_seq and last message.  *out is a new array of *n records: free
 * with conv_recs_free. */
int conv_list(MYSQL *db, const char *uid, int max, conv_rec_t **out, int *n);
void conv_recs_free(conv_rec_t *v, int n);

#endif
