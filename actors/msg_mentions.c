/*
 * msg_mentions.c - the send rules for mentions that need no database
 * (docs/messages.md "Revoke and mentions"): a bounded list of user ids,
 * repeats dropped.  Membership of the mentioned users is checked by the
 * group commit under its conversation locks (store/msg_batch_store.c).
 */
#include "actors/msg_pool.h"

#include "common/err.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mentions: at most MSG_MENTIONS_MAX user ids; repeats are dropped here
 * (req is ours), membership is checked by the group commit. */
int msg_mention_rules(Natter__SendReq *req, char *err, size_t n)
{
    size_t kept = 0;
    if (req->n_mentions > MSG_MENTIONS_MAX) {
        snprintf(err, n, "mentions: at most %d user ids", MSG_MENTIONS_MAX);
        return NT_EINVAL;
    }
    for (size_t i = 0; i < req->n_mentions; i++) {
        int64_t id;
        if (db_parse_id(req->mentions[i], &id) != NT_OK) {
            snprintf(err, n, "mentions must be user ids");
            return NT_EINVAL;
        }
        size_t j = 0;
        while (j < kept && strcmp(req->mentions[j], req->mentions[i]) != 0)
            j++;
        if (j == kept) { /* swap, so every string stays owned by the array */
            char *t = req->mentions[kept];
            req->mentions[kept++] = req->mentions[i];
            req->mentions[i] = t;
        }
    }
    /* free_unpacked frees only n_mentions strings: the repeats are freed
     * now (req was unpacked with the NULL allocator, i.e. malloc/free). */
    for (size_t i = kept; i < req->n_mentions; i++) {
        free(req->mentions[i]);
        req->mentions[i] = NULL;
    }
    req->n_mentions = kept;
    return NT_OK;
}
