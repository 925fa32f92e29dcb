/*
 * msg_append.c - the owner's fenced group commit in one round trip
 * (msg_append.h).
 *
 * Why text and not the prepared statements of the full path: a prepared
 * statement is one round trip per execution, and the three a batch needs
 * (UPDATE, INSERT, COMMIT) made the msg process wait and wake three times
 * per batch and mariadbd switch in and out as often; at moderate load a
 * batch is one or two messages, so that was per message, and a context
 * switch is dear on these VMs.  One multi-statement text query costs one
 * round trip and a parse of two short statements instead.
 *
 * The text holds client data (keys, bodies), so every string goes through
 * sqlb_quote (mysql_real_escape_string) and every number through
 * sqlb_i64; nothing else is ever pasted in.  The connection's sql_mode
 * (db.c, set on every session) is strict, which the fence needs.
 */
#include "store/msg_append.h"

#include "common/err.h"
#include "common/log.h"
#include "store/sqlb.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPEND_INSERT_BYTES (1024 * 1024) /* body bytes per INSERT, as msg_store.c */
#define TRIP_STMTS 4 /* at most: UPDATE or nothing, INSERT, mentions, COMMIT */

/* The statements of one round trip and where their results go. */
typedef struct trip {
    sqlb_t q;
    int n;          /* statements in q */
    int advance;    /* index of the UPDATE, or -1 */
    int insert;     /* index of the INSERT */
} trip_t;

static void trip_next(trip_t *t)
{
    if (t->n > 0)
        sqlb_add(&t->q, "; ");
    t->n++;
}

/* The fenced advance: every conversation's row lock, in id order. */
static void add_advance(trip_t *t, const msg_append_conv_t *v, int n, int64_t now)
{
    trip_next(t);
    t->advance = t->n - 1;
    sqlb_add(&t->q, "UPDATE conversations SET last_seq = CASE id");
    for (int i = 0; i < n; i++) {
        sqlb_add(&t->q, " WHEN ");
        sqlb_i64(&t->q, v[i].cid);
        sqlb_add(&t->q, " THEN ");
        sqlb_i64(&t->q, v[i].last);
    }
    sqlb_add(&t->q, " END, last_activity = ");
    sqlb_i64(&t->q, now);
    sqlb_add(&t->q, " WHERE ");
    for (int i = 0; i < n; i++) {
        sqlb_add(&t->q, i ? " OR (id = " : "(id = ");
        sqlb_i64(&t->q, v[i].cid);
        sqlb_add(&t->q, " AND last_seq = ");
        sqlb_i64(&t->q, v[i].expect);
        sqlb_add(&t->q, ")");
    }
}

/* INSERT recs[0..n).  fence > 0: the first row's conversation_id is NULL
 * (an error: NOT NULL, strict mode) unless the UPDATE just before changed
 * exactly fence rows, so the INSERT, and the COMMIT after it, never run
 * for a conversation that moved. */
static int add_insert(trip_t *t, MYSQL *m, msg_rec_t *const *recs, int n, int fence)
{
    char csv[MSG_MENTIONS_CSV];
    trip_next(t);
    t->insert = t->n - 1;
    sqlb_add(&t->q, "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id,"
                    " type, body, created_at, mentions) VALUES ");
    for (int i = 0; i < n; i++) {
        const msg_rec_t *r = recs[i];
        int64_t cid = 0, sender = 0;
        if (db_parse_id(r->conversation_id, &cid) != NT_OK ||
            db_parse_id(r->sender_id, &sender) != NT_OK || !r->body ||
            msg_mentions_csv(r, csv, sizeof csv) != NT_OK)
            return NT_EINVAL;
        sqlb_add(&t->q, i ? ", (" : "(");
        if (i == 0 && fence > 0) {
            sqlb_add(&t->q, "IF(ROW_COUNT() = ");
            sqlb_i64(&t->q, fence);
            sqlb_add(&t->q, ", ");
            sqlb_i64(&t->q, cid);
            sqlb_add(&t->q, ", NULL)");
        } else {
            sqlb_i64(&t->q, cid);
        }
        sqlb_add(&t->q, ", ");
        sqlb_i64(&t->q, r->seq);
        sqlb_add(&t->q, ", ");
        sqlb_i64(&t->q, sender);
        sqlb_add(&t->q, ", ");
        sqlb_quote(&t->q, m, r->client_msg_id, strlen(r->client_msg_id));
        sqlb_add(&t->q, ", ");
        sqlb_quote(&t->q, m, r->type, strlen(r->type));
        sqlb_add(&t->q, ", ");
        sqlb_quote(&t->q, m, r->body, strlen(r->body));
        sqlb_add(&t->q, ", ");
        sqlb_i64(&t->q, r->created_at);
        sqlb_add(&t->q, ", ");
        sqlb_quote(&t->q, m, csv, strlen(csv));
        sqlb_add(&t->q, ")");
    }
    return NT_OK;
}

/* One message_mentions row per mention of recs[0..n), as
 * msg_mentions_insert writes them (INSERT IGNORE: a revoke may race). */
static int add_mentions(trip_t *t, msg_rec_t *const *recs, int n)
{
    int rows = 0;
    trip_next(t);
    sqlb_add(&t->q, "INSERT IGNORE INTO message_mentions (conversation_id, user_id, seq) VALUES ");
    for (int i = 0; i < n; i++) {
        int64_t cid = 0, uid = 0;
        for (int j = 0; j < recs[i]->n_mentions; j++) {
            if (db_parse_id(recs[i]->conversation_id, &cid) != NT_OK ||
                db_parse_id(recs[i]->mentions[j], &uid) != NT_OK)
                return NT_EINVAL;
            sqlb_add(&t->q, rows++ ? ", (" : "(");
            sqlb_i64(&t->q, cid);
            sqlb_add(&t->q, ", ");
            sqlb_i64(&t->q, uid);
            sqlb_add(&t->q, ", ");
            sqlb_i64(&t->q, recs[i]->seq);
            sqlb_add(&t->q, ")");
        }
    }
    return NT_OK;
}

/* Send t; set the ids of its INSERT's rows recs[0..n) when they follow
 * from the first (step > 0).  Maps a failed statement: the fence's NULL
 * and a duplicate key to NT_ECONFLICT, the rest as db_error does. */
static int trip_send(db_conn_t *c, MYSQL *m, trip_t *t, msg_rec_t *const *recs, int n,
                     int64_t step, int nconvs, int *stmts)
{
    db_result_t res[TRIP_STMTS];
    int failed = 0;
    if (t->q.oom)
        return NT_ENOMEM;
    int rc = db_conn_multi(c, t->q.s, t->q.len, res, t->n, &failed);
    *stmts += rc == NT_OK ? t->n : failed + 1;
    if (rc == NT_EDB) {
        if (failed == t->insert && t->advance >= 0 && mysql_errno(m) == ER_BAD_NULL_ERROR) {
            log_debug("owner append fenced", "convs=%d", nconvs);
            return NT_ECONFLICT;
        }
        return db_error(m, "owner append");
    }
    if (rc != NT_OK)
        return rc;
    if (t->advance >= 0 && res[t->advance].affected != (uint64_t)nconvs) {
        /* The fence above makes this impossible unless sql_mode lost
         * its strictness.  If this trip held the COMMIT it is too late
         * to undo; the caller's full path then finds the rows by their
         * keys and answers them as duplicates. */
        log_error("owner append fence did not hold", "convs=%d affected=%llu", nconvs,
                  (unsigned long long)res[t->advance].affected);
        return NT_EDB;
    }
    uint64_t first = res[t->insert].insert_id;
    if (step > 0 && first > 0)
        for (int i = 0; i < n; i++)
            snprintf(recs[i]->id, MSG_ID_MAX, "%llu",
                     (unsigned long long)(first + (uint64_t)i * (uint64_t)step));
    return NT_OK;
}

/* The end of the INSERT chunk that starts at from. */
static int chunk_end(msg_rec_t *const *recs, int n, int from, size_t *bytes)
{
    int to = from;
    *bytes = 0;
    while (to < n && (to == from || *bytes < APPEND_INSERT_BYTES))
        *bytes += strlen(recs[to++]->body);
    return to;
}

/* Every trip: the first with the UPDATE, the last with the mentions and,
 * if the ids need no SELECT, the COMMIT.  *committed: the COMMIT ran. */
static int send_all(db_conn_t *c, MYSQL *m, msg_rec_t *const *recs, int n,
                    const msg_append_conv_t *convs, int nconvs, int64_t now, int64_t step,
                    int *stmts, int *committed)
{
    trip_t t = {0};
    int rc = NT_OK, mentions = 0;
    for (int i = 0; i < n; i++)
        mentions += recs[i]->n_mentions;
    for (int from = 0; rc == NT_OK && from < n;) {
        size_t bytes;
        int to = chunk_end(recs, n, from, &bytes);
        sqlb_clear(&t.q);
        t.n = 0;
        t.advance = -1;
        sqlb_reserve(&t.q, bytes + (size_t)(to - from) * 200 + (size_t)nconvs * 64 + 256);
        if (from == 0)
            add_advance(&t, convs, nconvs, now);
        rc = add_insert(&t, m, recs + from, to - from, from == 0 ? nconvs : 0);
        if (rc == NT_OK && to == n && mentions > 0)
            rc = add_mentions(&t, recs, n);
        if (rc == NT_OK && to == n && step > 0) {
            trip_next(&t);
            sqlb_add(&t.q, "COMMIT");
        }
        if (rc == NT_OK)
            rc = trip_send(c, m, &t, recs + from, to - from, step, nconvs, stmts);
        if (rc == NT_OK && to == n && step > 0)
            *committed = 1;
        from = to;
    }
    sqlb_fini(&t.q);
    return rc;
}

int msg_append(db_conn_t *c, msg_rec_t *const *recs, int n, const msg_append_conv_t *convs,
               int nconvs, int64_t now, int *statements)
{
    *statements = 0;
    if (n < 1 || nconvs < 1)
        return NT_EINVAL;
    MYSQL *m;
    int64_t step = 0;
    int rc = db_conn_handle(c, &m), committed = 0;
    if (rc == NT_OK)
        rc = db_conn_autoinc(c, &step); /* asks the server once per connection */
    if (rc != NT_OK)
        return rc;
    rc = send_all(c, m, recs, n, convs, nconvs, now, step, statements, &committed);
    if (rc == NT_OK && !committed) {
        /* innodb_autoinc_lock_mode 2: the ids are read, then COMMIT */
        *statements += 2;
        rc = msg_read_ids(m, recs, n);
        if (rc == NT_OK)
            return db_commit(m); /* failure: outcome unknown, NT_EUNAVAIL or NT_EDB */
    }
    if (rc == NT_OK || rc == NT_EUNAVAIL)
        return rc; /* a lost connection rolls back by itself (or committed: unknown) */
    (*statements)++;
    db_rollback(m); /* the server stopped at the failed statement: COMMIT never ran */
    return rc;
}
