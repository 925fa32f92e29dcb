/*
 * sqlb.h - SQL text with a variable number of placeholder groups, and the
 * one way data may enter SQL text: quoted by the client library.
 *
 * Batched statements (msg_batch_store.c) need "IN (?, ?, ...)" or
 * "VALUES (?, ...), (?, ...)" with as many groups as the batch has rows.
 * That text is made only of constant fragments and '?': data reaches the
 * server as bound parameters (db.h).
 *
 * The owner's group commit (msg_append.c) sends its statements as one text
 * query, to pay one round trip per batch instead of one per statement;
 * there values are written into the text, integers by sqlb_i64 and
 * strings only through sqlb_quote (mysql_real_escape_string for the
 * connection's character set and its NO_BACKSLASH_ESCAPES state).
 *
 * Usage: sqlb_t b = {0}; sqlb_add(&b, "..."); sqlb_repeat(&b, "?", ", ", n);
 * char *sql = sqlb_done(&b);  -- NULL if any step ran out of memory; the
 * caller frees sql.  Or keep b (b.s, b.len) and sqlb_clear / sqlb_fini it.
 */
#ifndef NT_SQLB_H
#define NT_SQLB_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sqlb {
    char *s;
    size_t len, cap;
    int oom;   /* an append failed: sqlb_done returns NULL */
} sqlb_t;

/* Append text. */
void sqlb_add(sqlb_t *b, const char *text);

/* Append group n times, separated by sep (n <= 0 appends nothing). */
void sqlb_repeat(sqlb_t *b, const char *group, const char *sep, int n);

/* Append v in decimal. */
void sqlb_i64(sqlb_t *b, int64_t v);

/* Append s[0..len) (any bytes, NUL included) as a quoted string literal,
 * escaped for conn (its character set, and quote doubling if the session
 * has NO_BACKSLASH_ESCAPES).  Needs up to 2 * len + 3 bytes. */
void sqlb_quote(sqlb_t *b, MYSQL *conn, const char *s, size_t len);

/* Make room for n more bytes now (fewer reallocations later). */
void sqlb_reserve(sqlb_t *b, size_t n);

/* Empty the text, keeping the buffer (and an out-of-memory mark). */
void sqlb_clear(sqlb_t *b);

/* Free the buffer; b is empty afterwards. */
void sqlb_fini(sqlb_t *b);

/* The finished text (caller frees), or NULL after an allocation failure
 * (then b's memory is already freed). */
char *sqlb_done(sqlb_t *b);

/* The common shape in one call: head, group n times joined by sep, tail.
 * Caller frees; NULL on ENOMEM. */
char *sqlb_list(const char *head, const char *group, const char *sep, int n, const char *tail);

#endif
