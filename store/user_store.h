/*
 * user_store.h - users and their credentials in MariaDB.
 *
 * Ids are BIGINT AUTO_INCREMENT in the table and decimal strings everywhere
 * else (API.md: all ids are strings).  Functions take a connection the
 * caller acquired from the pool and return NT_* codes.
 */
#ifndef NT_USER_STORE_H
#define NT_USER_STORE_H

#include <mysql.h>
#include <stdint.h>

#define USER_ID_MAX 24
#define USERNAME_MAX 32          /* chars of [a-z0-9_.] (API.md) */
#define DISPLAY_NAME_MAX 64      /* UTF-8 code points */
#define AVATAR_URL_MAX 512       /* bytes */
#define BIO_MAX 500              /* UTF-8 code points */

typedef struct user_rec {
    char id[USER_ID_MAX];
    char username[USERNAME_MAX + 1];
    char display_name[DISPLAY_NAME_MAX * 4 + 1];
    char avatar_url[AVATAR_URL_MAX + 1];
    char bio[BIO_MAX * 4 + 1];
    int64_t created_at;  /* ms */
} user_rec_t;

/* Insert a user; NT_ETAKEN if the username exists.  Fills *out. */
int user_create(MYSQL *db, const char *username, const char *display_name,
                const char *pw_hash, user_rec_t *out);

/* NT_ENOTFOUND if absent (or id is not a number). */
int user_get(MYSQL *db, const char *id, user_rec_t *out);

/* For login: the user and the stored password hash (pw_hash >= 256 bytes). */
int user_get_login(MYSQL *db, const char *username, user_rec_t *out,
                   char *pw_hash, size_t pw_hash_len);

/* The stored password hash of user id (pw_hash >= 256 bytes), for a
 * password change.  NT_ENOTFOUND if absent. */
int user_get_hash(MYSQL *db, const char *id, char *pw_hash, size_t pw_hash_len);

/* Update the non-NULL fields, then read the user back into *out. */
int user_update(MYSQL *db, const char *id, const char *display_name,
                const char *avatar_url, const char *bio, user_rec_t *out);

/* Users whose username starts with prefix (LIKE with % and _ escaped),
 * ordered by username, at most max.  *n gets the count. */
int user_search(MYSQL *db, const char *prefix, int max, user_rec_t *out, int *n);

#endif
