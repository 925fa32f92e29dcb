/*
 * admin_store.h - roles, bans and the admin audit log in MariaDB
 * (sql/007_admin.sql, docs/API.md "Admin").
 *
 * Used by `natter admin` (roles) and by the auth pool's admin handlers
 * (actors/admin_ops.c).  A ban and a login order against each other on the
 * user's row lock (store/session_revoke.c): the ban locks the row, writes
 * itself and revokes every live session in one transaction; a login that
 * takes the lock afterwards sees the ban and creates nothing.
 */
#ifndef NT_ADMIN_STORE_H
#define NT_ADMIN_STORE_H

#include "store/session_store.h"
#include "store/user_store.h"

#include <mysql.h>
#include <stdint.h>

#define ADMIN_ROLE_MAX 8
#define ADMIN_REASON_MAX 500       /* characters, users.ban_reason */
#define ADMIN_LIST_MAX 200         /* rows of one users / audit / sessions page */

/* Set username's role ("user" or "admin"); NT_ENOTFOUND if no such user,
 * NT_EINVAL for another role.  *changed (may be NULL): 0 if it already had
 * that role.  uid_out (USER_ID_MAX bytes, may be NULL) gets the user's id. */
int admin_set_role(MYSQL *db, const char *username, const char *role, int *changed,
                   char *uid_out);

/* uid's username (USERNAME_MAX + 1 bytes) and whether its role is admin.
 * NT_ENOTFOUND if there is no such user. */
int admin_role_of(MYSQL *db, const char *uid, char *username, int *is_admin);

typedef struct admin_user_rec {
    char id[USER_ID_MAX];
    char username[USERNAME_MAX + 1];
    char display_name[DISPLAY_NAME_MAX * 4 + 1];
    char role[ADMIN_ROLE_MAX + 1];
    int banned;                /* a ban in force at the time of the query */
    int64_t banned_until;      /* 0: for good */
    char ban_reason[SESSION_BAN_REASON_MAX];
    int64_t created_at, last_seen; /* ms; last_seen 0: never */
} admin_user_rec_t;

/* Users whose username starts with prefix ("" = all), by username, at most
 * max (<= ADMIN_LIST_MAX).  *n gets the count. */
int admin_user_list(MYSQL *db, const char *prefix, int64_t now, int max, admin_user_rec_t *out,
                    int *n);

/* Ban uid (reason, until ms or 0 = for good) and revoke every live session
 * with reason "banned" (refresh tokens spent), in one transaction under
 * the user's row lock.  *sids (heap, caller frees) gets the revoked
 * session ids, *nsids their count.  NT_ENOTFOUND: no such user. */
int admin_ban(MYSQL *db, const char *uid, const char *reason, int64_t until, int64_t now,
              char (**sids)[SESSION_ID_MAX], int *nsids);

/* Lift uid's ban (nothing if none).  NT_ENOTFOUND: no such user. */
int admin_unban(MYSQL *db, const char *uid);

/* Revoke session sid of any user (reason given); *uid_out (USER_ID_MAX)
 * gets its owner.  NT_ENOTFOUND if there is no such session or it is
 * already revoked. */
int admin_session_revoke(MYSQL *db, const char *sid, const char *reason, int64_t now,
                         char *uid_out);

/* Live sessions of uid, newest first, at most max. */
int admin_session_list(MYSQL *db, const char *uid, int max, session_rec_t *out, int *n);

typedef struct admin_audit_rec {
    char id[24];
    char actor_id[USER_ID_MAX];
    char actor_name[USERNAME_MAX + 1];
    char action[33];
    char target[129];
    char detail[601 * 4];
    char address[65];
    int64_t created_at;
} admin_audit_rec_t;

/* Append one entry (texts are cut to the column sizes).  actor_id "" is
 * the operator's `natter admin` (stored as 0). */
int admin_audit_add(MYSQL *db, const char *actor_id, const char *actor_name,
                    const char *action, const char *target, const char *detail,
                    const char *address, int64_t now);

/* Entries with id < before (0: from the newest), newest first, at most max. */
int admin_audit_list(MYSQL *db, int64_t before, int max, admin_audit_rec_t *out, int *n);

/* IP rules (sql/008_ip_rules.sql). */
#define ADMIN_IP_RULES_MAX 10000   /* rows an edge loads; more are ignored */

typedef struct admin_ip_rule {
    char id[24];
    char cidr[64];
    char action[9];
    int64_t created_at;
} admin_ip_rule_t;

/* Add a rule (cidr canonical, action "deny"); *out gets the row.
 * NT_ECONFLICT if that cidr has a rule already. */
int admin_ip_rule_add(MYSQL *db, const char *cidr, const char *action, const char *actor_id,
                      int64_t now, admin_ip_rule_t *out);

/* Delete rule id; *out (may be NULL) gets it.  NT_ENOTFOUND if absent. */
int admin_ip_rule_delete(MYSQL *db, const char *id, admin_ip_rule_t *out);

/* All rules, oldest first, at most max; *n gets the count. */
int admin_ip_rule_list(MYSQL *db, int max, admin_ip_rule_t *out, int *n);

#endif
