/*
 * sqlb.h - SQL text with a variable number of placeholder groups.
 *
 * Batched statements (msg_batch_store.c) need "IN (?, ?, ...)" or
 * "VALUES (?, ...), (?, ...)" with as many groups as the batch has rows.
 * The text is made only of constant fragments and '?': data still reaches
 * the server as bound parameters (db.h), never inside the SQL.
 *
 * Usage: sqlb_t b = {0}; sqlb_add(&b, "..."); sqlb_repeat(&b, "?", ", ", n);
 * char *sql = sqlb_done(&b);  -- NULL if any step ran out of memory; the
 * caller frees sql.
 */
#ifndef NT_SQLB_H
#define NT_SQLB_H

#include <stddef.h>

typedef struct sqlb {
    char *s;
    size_t len, cap;
    int oom;   /* an append failed: sqlb_done returns NULL */
} sqlb_t;

/* Append text. */
void sqlb_add(sqlb_t *b, const char *text);

/* Append group n times, separated by sep (n <= 0 appends nothing). */
void sqlb_repeat(sqlb_t *b, const char *group, const char *sep, int n);

/* The finished text (caller frees), or NULL after an allocation failure
 * (then b's memory is already freed). */
char *sqlb_done(sqlb_t *b);

/* The common shape in one call: head, group n times joined by sep, tail.
 * Caller frees; NULL on ENOMEM. */
char *sqlb_list(const char *head, const char *group, const char *sep, int n, const char *tail);

#endif
