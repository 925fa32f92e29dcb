/*
 * msg_mentions.c - the mentions of a message (docs/messages.md "Revoke and
 * mentions"): the record's list, its column text, the message_mentions rows
 * written with a batch, and the unread-mention count of a conversation.
 *
 * A record keeps its mentions as one allocation: the pointer array followed
 * by the strings, so freeing is one free() and a copy is one malloc.  Who
 * may be mentioned (members only) is checked by the group commit
 * (msg_batch_store.c) under its locks; here ids are only stored.
 */
#include "store/msg_store.h"

#include "common/err.h"
#include "store/db.h"
#include "store/sqlb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MENTION_ROWS_MAX 8000 /* rows per INSERT: 3 params each, under 65535 */

int msg_mentions_set(msg_rec_t *m, char *const *ids, int n)
{
    free(m->mentions);
    m->mentions = NULL;
    m->n_mentions = 0;
    if (n <= 0)
        return NT_OK;
    if (n > MSG_MENTIONS_MAX)
        return NT_EINVAL;
    size_t bytes = (size_t)n * sizeof(char *);
    for (int i = 0; i < n; i++) {
        if (!ids[i] || strlen(ids[i]) >= MSG_ID_MAX)
            return NT_EINVAL;
        bytes += strlen(ids[i]) + 1;
    }
    char **v = malloc(bytes);
    if (!v)
        return NT_ENOMEM;
    char *w = (char *)(v + n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(ids[i]) + 1;
        memcpy(w, ids[i], len);
        v[i] = w;
        w += len;
    }
    m->mentions = v;
    m->n_mentions = n;
    return NT_OK;
}

int msg_rec_copy(msg_rec_t *dst, const msg_rec_t *src)
{
    *dst = *src;
    dst->mentions = NULL;
    dst->n_mentions = 0;
    if (!(dst->body = strdup(src->body ? src->body : "")))
        return NT_ENOMEM;
    return msg_mentions_set(dst, src->mentions, src->n_mentions);
}

int msg_mentions_parse(msg_rec_t *m, const char *csv)
{
    char buf[MSG_MENTIONS_CSV], *ids[MSG_MENTIONS_MAX], *save = NULL;
    int n = 0;
    if (!csv || !*csv)
        return msg_mentions_set(m, NULL, 0);
    db_copy(buf, sizeof buf, csv);
    for (char *t = strtok_r(buf, ",", &save); t && n < MSG_MENTIONS_MAX;
         t = strtok_r(NULL, ",", &save))
        if (*t && strlen(t) < MSG_ID_MAX)
            ids[n++] = t;
    return msg_mentions_set(m, ids, n);
}

int msg_mentions_csv(const msg_rec_t *m, char *out, size_t n)
{
    size_t used = 0;
    if (n == 0)
        return NT_EINVAL;
    out[0] = '\0';
    for (int i = 0; i < m->n_mentions; i++) {
        int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", m->mentions[i]);
        if (w < 0 || (size_t)w >= n - used)
            return NT_EINVAL;
        used += (size_t)w;
    }
    return NT_OK;
}

/* INSERT rows [from, from + count) of the flattened (record, mention) list. */
static int insert_chunk(MYSQL *db, msg_rec_t *const *recs, int n, int from, int count)
{
    db_param_t *p = calloc((size_t)count * 3, sizeof *p);
    char *sql = sqlb_list("INSERT IGNORE INTO message_mentions (conversation_id, user_id, seq)"
                          " VALUES ",
                          "(?, ?, ?)", ", ", count, "");
    int rc = p && sql ? NT_OK : NT_ENOMEM, k = 0, row = 0;
    for (int i = 0; rc == NT_OK && i < n && k < count; i++) {
        for (int j = 0; j < recs[i]->n_mentions && k < count; j++, row++) {
            int64_t uid = 0;
            if (row < from)
                continue;
            if (db_parse_id(recs[i]->mentions[j], &uid) != NT_OK) {
                rc = NT_EINVAL;
                break;
            }
            p[3 * k] = DB_P_I64(db_col_i64(recs[i]->conversation_id));
            p[3 * k + 1] = DB_P_I64(uid);
            p[3 * k + 2] = DB_P_I64(recs[i]->seq);
            k++;
        }
    }
    if (rc == NT_OK && k != count)
        rc = NT_EINTERNAL;
    if (rc == NT_OK)
        rc = db_exec(db, sql, p, 3 * count, NULL, NULL);
    free(sql);
    free(p);
    return rc;
}

int msg_mentions_insert(MYSQL *db, msg_rec_t *const *recs, int n)
{
    int total = 0, rc = NT_OK;
    for (int i = 0; i < n; i++)
        total += recs[i]->n_mentions;
    for (int from = 0; rc == NT_OK && from < total; from += MENTION_ROWS_MAX) {
        int count = total - from < MENTION_ROWS_MAX ? total - from : MENTION_ROWS_MAX;
        rc = insert_chunk(db, recs, n, from, count);
    }
    return rc;
}

static int one_count(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < 1)
        return NT_EINTERNAL;
    *(int64_t *)arg = db_col_i64(cols[0]);
    return 1;
}

int msg_mention_count(MYSQL *db, int64_t cid, int64_t uid, int64_t after_seq, int64_t *out)
{
    *out = 0;
    db_param_t p[] = {DB_P_I64(cid), DB_P_I64(uid), DB_P_I64(after_seq)};
    return db_query(db,
                    "SELECT COUNT(*) FROM message_mentions WHERE conversation_id = ?"
                    " AND user_id = ? AND seq > ?",
                    p, 3, one_count, out, 1, NULL);
}
