/*
 * auth_users.c - profiles: read one user, update one's own, search by
 * username prefix (API.md "Users and contacts").  The caller is the
 * Natter-Uid header, which only edges set after checking a token.
 */
#include "actors/auth_pool.h"
#include "actors/auth_rules.h"

#include "bus/pb.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#define SEARCH_DEFAULT 20
#define SEARCH_MAX 50

int auth_user_get(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__UserGetReq *req = auth_unpack(bus, msg, &natter__user_get_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *id = req->user_id[0] ? req->user_id : bus_header(msg, BUS_H_UID);
    MYSQL *db = NULL;
    user_rec_t u;
    int rc;
    if (!id) {
        rc = auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
        goto out;
    }
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = user_get(db, id, &u);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "user not found");
        goto out;
    }
    Natter__User pb;
    auth_user_pb(&u, &pb);
    rc = bus_reply_pb(bus, msg, &pb.base);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int auth_user_update(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__UserUpdateReq *req = auth_unpack(bus, msg, &natter__user_update_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = bus_header(msg, BUS_H_UID);
    const char *name = req->has_display_name ? req->display_name : NULL;
    const char *avatar = req->has_avatar_url ? req->avatar_url : NULL;
    const char *bio = req->has_bio ? req->bio : NULL;
    char err[128];
    MYSQL *db = NULL;
    user_rec_t u;
    int rc;
    if (!uid) {
        rc = auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
        goto out;
    }
    if ((name && rule_display_name(name, err, sizeof err) != NT_OK) ||
        (avatar && rule_avatar_url(avatar, err, sizeof err) != NT_OK) ||
        (bio && rule_bio(bio, err, sizeof err) != NT_OK)) {
        rc = auth_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = user_update(db, uid, name, avatar, bio, &u);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "user not found");
        goto out;
    }
    Natter__User pb;
    auth_user_pb(&u, &pb);
    rc = bus_reply_pb(bus, msg, &pb.base);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int auth_user_search(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__UserSearchReq *req = auth_unpack(bus, msg, &natter__user_search_req__descriptor);
    if (!req)
        return NT_EINVAL;
    int limit = req->limit > 0 && req->limit <= SEARCH_MAX ? req->limit : SEARCH_DEFAULT;
    user_rec_t *found = NULL;
    Natter__User *pbs = NULL;
    Natter__User **ptrs = NULL;
    MYSQL *db = NULL;
    int rc, n = 0;
    size_t qlen = strlen(req->q);
    if (qlen < 1 || qlen > USERNAME_MAX) {
        rc = auth_fail(bus, msg, NT_EINVAL, "q must be 1-32 characters");
        goto out;
    }
    found = calloc((size_t)limit, sizeof *found);
    pbs = calloc((size_t)limit, sizeof *pbs);
    ptrs = calloc((size_t)limit, sizeof *ptrs);
    if (!found || !pbs || !ptrs) {
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = user_search(db, req->q, limit, found, &n);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        auth_user_pb(&found[i], &pbs[i]);
        ptrs[i] = &pbs[i];
    }
    Natter__UserList list = NATTER__USER_LIST__INIT;
    list.n_users = (size_t)n;
    list.users = ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(found);
    free(pbs);
    free(ptrs);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
