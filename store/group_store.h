/*
 * group_store.h - group conversations in MariaDB: create, and every change
 * of name, members and roles (docs/groups.md).
 *
 * A change is one transaction that first locks the conversation row
 * (SELECT ... FOR UPDATE, the same lock the send group commit takes), so a
 * membership change and a batch of sends to the group are serialized: a
 * send either commits before the change (and is pushed to the old member
 * list) or after it (the new list).  Each change is recorded as a message
 * of type "system" with the next seq, so it syncs like any message; its
 * body is a small JSON object, e.g. {"event":"added","actor_id":"1",
 * "user_ids":["2","3"]}.
 *
 * Permission rules live here, next to the data they read under the lock:
 * owner and admins add and remove (an admin removes plain members only),
 * only the owner transfers ownership and changes roles, the owner cannot
 * leave before transferring.  Ids are decimal strings; NT_* codes out.
 */
#ifndef NT_GROUP_STORE_H
#define NT_GROUP_STORE_H

#include "store/conv_store.h"
#include "store/msg_store.h"

#include <mysql.h>

/* A change asked of a group.  Pointers are the caller's. */
typedef struct group_change {
    const char *op;              /* rename | add | remove | owner | role */
    const char *actor;           /* the caller's uid */
    const char *name;            /* rename: already validated */
    const char *const *ids;      /* add: distinct ids, n of them */
    int n;
    const char *user_id;         /* remove (self = leave), owner, role */
    const char *role;            /* role: admin | member */
    int max;                     /* msg.group_max: members at most */
} group_change_t;

/* The outcome.  before: the conversation (and members) as locked, before
 * the change; after: as committed.  sys: the system message (sys.seq 0 if
 * the change was a no-op, e.g. adding members already there).  event and
 * subject say what the member event is about.  All owned by the result:
 * group_result_fini. */
typedef struct group_result {
    conv_rec_t before, after;
    msg_rec_t sys;
    char event[16];              /* added | removed | role | owner | renamed */
    char subject[MSG_ID_MAX];    /* the user it is about, "" for renamed */
    char role[16];
    char **added;                /* added: the ids that were new */
    int n_added;
} group_result_t;

void group_result_fini(group_result_t *r);

/* Create group name owned by owner with members ids[0..n) (distinct, the
 * owner not among them, 1 + n <= max).  NT_ENOTFOUND if an id is not a
 * user (*bad gets it, cap MSG_ID_MAX).  out: the conversation; sys: the
 * "created" system message (seq 1). */
int group_create(MYSQL *db, const char *owner, const char *name, const char *const *ids, int n,
                 int max, conv_rec_t *out, msg_rec_t *sys, char *bad);

/* Apply ch to group cid.  NT_ENOTFOUND: no such conversation, or the
 * target user / an added id is not a user (err says which); NT_EFORBIDDEN:
 * the actor is not a member or lacks the role; NT_EINVAL: not a group, the
 * group would exceed max, a bad target; NT_ECONFLICT: the owner tried to
 * leave.  err (errlen bytes) gets a message for the client. */
int group_apply(MYSQL *db, const char *cid, const group_change_t *ch, group_result_t *r,
                char *err, size_t errlen);

#endif
