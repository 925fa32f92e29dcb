/*
 * presence_db.h - what presence needs from MariaDB: last_seen, kept
 * durably (sql/004_presence.sql), and who may see whom (the contacts
 * table of sql/003_contacts.sql, read here by id only: fan-out and
 * visibility need ids, not the user rows store/contact_store.h joins).
 *
 * Ids are decimal strings at this boundary; a malformed id is an absent
 * row.  Functions take a connection the caller acquired and return NT_*.
 */
#ifndef NT_PRESENCE_DB_H
#define NT_PRESENCE_DB_H

#include "store/presence_store.h"

#include <mysql.h>
#include <stdint.h>

typedef char presence_uid_t[PRESENCE_UID_MAX];

/* uid was last seen at (ms); an older time than the stored one is ignored. */
int presence_db_seen(MYSQL *db, const char *uid, int64_t at);

/* at[i] = last_seen of uids[i], 0 when unknown, for n (<= 1000) ids. */
int presence_db_seen_many(MYSQL *db, const char *const *uids, int n, int64_t *at);

/* uid's contact ids, at most max.  *out is a new array of *n (caller
 * frees; NULL when there are none). */
int presence_db_contacts(MYSQL *db, const char *uid, int max, presence_uid_t **out, int *n);

/* is[i] = 1 if ids[i] is a contact of uid, else 0, for n (<= 1000) ids. */
int presence_db_contacts_among(MYSQL *db, const char *uid, const char *const *ids, int n,
                               int *is);

/* The platform of session sid into out ("" if there is no such session). */
int presence_db_platform(MYSQL *db, const char *sid, char *out, size_t n);

#endif
