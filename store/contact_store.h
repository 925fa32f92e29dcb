/*
 * contact_store.h - contact requests and contacts in MariaDB
 * (sql/003_contacts.sql; API.md "Users and contacts").
 *
 * The three state changes (apply, handle, remove) are each one transaction
 * that first locks both users rows in id order, so everything that happens
 * to one pair is serialised across any number of auth processes, and a
 * missing user is found in the same statement.  What a state change does
 * given the pair's state is decided by the pure functions below
 * (contact_apply_decide, contact_handle_decide), unit-tested on their own.
 *
 * Ids are decimal strings at this boundary, as elsewhere in store/; a
 * malformed id is an absent row.  Functions take a connection the caller
 * acquired and return NT_* codes.
 */
#ifndef NT_CONTACT_STORE_H
#define NT_CONTACT_STORE_H

#include "store/user_store.h"

#include <mysql.h>
#include <stdint.h>

#define CONTACT_MESSAGE_MAX 200   /* UTF-8 code points of a request's message */
#define CONTACT_LIST_MAX 5000     /* rows one list may return */

typedef struct contact_req_rec {
    char id[USER_ID_MAX];
    char from_id[USER_ID_MAX];
    char to_id[USER_ID_MAX];
    char message[CONTACT_MESSAGE_MAX * 4 + 1];
    char status[16];              /* pending | accepted | rejected */
    int64_t created_at;           /* ms */
} contact_req_rec_t;

typedef struct contact_rec {
    user_rec_t user;
    int64_t since;                /* ms: when the request was accepted */
} contact_rec_t;

/* ---- decisions (pure) --------------------------------------------------- */

/* Where the pair's pending request (if any) points, seen from an apply. */
enum { CONTACT_PENDING_NONE = 0, CONTACT_PENDING_OUT = 1, CONTACT_PENDING_IN = 2 };

/* What apply does. */
enum {
    CONTACT_APPLY_CREATE = 1,     /* a new pending request */
    CONTACT_APPLY_EXISTING = 2,   /* ours is pending already: return it */
    CONTACT_APPLY_ACCEPT = 3,     /* they asked first: accept their request */
};

/* Apply from -> to, given self (from == to), linked (already contacts) and
 * pending (CONTACT_PENDING_*): a CONTACT_APPLY_* (> 0), or NT_EINVAL
 * (self) or NT_ECONFLICT (already contacts). */
int contact_apply_decide(int self, int linked, int pending);

/* Handle a request with status by the caller; is_target: the caller is the
 * request's to_id.  0 with *change = 1 (settle it now) or 0 (a retry of
 * what was already done: nothing to do); NT_EFORBIDDEN (not the target) or
 * NT_ECONFLICT (already handled the other way). */
int contact_handle_decide(int is_target, const char *status, int accept, int *change);

/* ---- state changes (one transaction each) ------------------------------- */

/* from asks to to be contacts.  *outcome gets the CONTACT_APPLY_* done and
 * *out the request it concerns (the new one, ours, or theirs now
 * accepted).  NT_EINVAL if from == to, NT_ENOTFOUND if to is not a user,
 * NT_EUNAUTH if from is not one, NT_ECONFLICT if they are contacts. */
int contact_apply(MYSQL *db, const char *from, const char *to, const char *message,
                  contact_req_rec_t *out, int *outcome);

/* uid accepts (accept = 1) or rejects request req_id.  *out is the request
 * after it; *changed 1 if this call settled it.  NT_ENOTFOUND for no such
 * request, and the errors of contact_handle_decide. */
int contact_handle(MYSQL *db, const char *uid, const char *req_id, int accept,
                   contact_req_rec_t *out, int *changed);

/* uid and other stop being contacts (both rows).  NT_ENOTFOUND if other is
 * not a user or not uid's contact. */
int contact_remove(MYSQL *db, const char *uid, const char *other);

/* ---- reads -------------------------------------------------------------- */

/* uid's pending requests, incoming and outgoing, newest first, at most max
 * (1..CONTACT_LIST_MAX).  *out is a new array of *n: the caller frees it. */
int contact_requests(MYSQL *db, const char *uid, int max, contact_req_rec_t **out, int *n);

/* uid's contacts by username, at most max (1..CONTACT_LIST_MAX).  *out is
 * a new array of *n: the caller frees it. */
int contact_list(MYSQL *db, const char *uid, int max, contact_rec_t **out, int *n);

#endif
