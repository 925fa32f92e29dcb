/*
 * conv_member.c - the heap member list of a conversation record
 * (conv_store.h).  Groups have up to msg.group_max members (default 2000),
 * so the list grows by doubling as rows arrive instead of living in a
 * fixed array; conv_rec_fini frees it.
 */
#include "store/conv_store.h"

#include "common/err.h"
#include "store/db.h"

#include <stdlib.h>
#include <string.h>

int conv_member_add(conv_rec_t *c, const char *uid, const char *role)
{
    if (c->n_members >= CONV_MEMBERS_MAX)
        return NT_EINVAL;
    if (c->n_members == c->cap_members) {
        int cap = c->cap_members ? c->cap_members * 2 : 4;
        if (cap > CONV_MEMBERS_MAX)
            cap = CONV_MEMBERS_MAX;
        conv_member_t *v = realloc(c->members, (size_t)cap * sizeof *v);
        if (!v)
            return NT_ENOMEM;
        c->members = v;
        c->cap_members = cap;
    }
    conv_member_t *m = &c->members[c->n_members++];
    db_copy(m->user_id, sizeof m->user_id, uid);
    db_copy(m->role, sizeof m->role, role);
    return NT_OK;
}

const char *conv_member_role(const conv_rec_t *c, const char *uid)
{
    for (int i = 0; uid && i < c->n_members; i++)
        if (strcmp(c->members[i].user_id, uid) == 0)
            return c->members[i].role;
    return NULL;
}

int conv_rec_copy(conv_rec_t *dst, const conv_rec_t *src)
{
    *dst = *src;
    dst->members = NULL;
    dst->n_members = dst->cap_members = 0;
    dst->has_last = 0;
    memset(&dst->last, 0, sizeof dst->last);
    if (src->n_members == 0)
        return NT_OK;
    if (!(dst->members = malloc((size_t)src->n_members * sizeof *dst->members)))
        return NT_ENOMEM;
    memcpy(dst->members, src->members, (size_t)src->n_members * sizeof *dst->members);
    dst->n_members = dst->cap_members = src->n_members;
    return NT_OK;
}
