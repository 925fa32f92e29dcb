/*
 * routes_calls.c - GET /api/calls/ice_servers (API.md "Calls"): the ICE
 * servers a client gives its RTCPeerConnection.  STUN URLs as configured;
 * a TURN entry only when a shared secret is configured, with a credential
 * for the caller made locally the way coturn's use-auth-secret checks it
 * (common/turn_cred.h): no bus hop, nothing stored.  Authenticated, so
 * the relay is not open to anyone who finds the URL.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "common/turn_cred.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "a, b,c" -> ["a","b","c"] (empty items dropped). */
static json_t *url_list(const char *csv)
{
    json_t *arr = json_array();
    const char *p = csv ? csv : "";
    while (arr && *p) {
        size_t n = strcspn(p, ",");
        const char *a = p, *b = p + n;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a)
            json_array_append_new(arr, json_stringn(a, (size_t)(b - a)));
        p += n + (p[n] == ',');
    }
    return arr;
}

json_t *http_ice_servers(const http_edge_t *e, const char *uid, int64_t now_s)
{
    json_t *list = json_array(), *stun = url_list(e->stun_urls), *turn = url_list(e->turn_urls);
    int64_t ttl = e->turn_ttl_s > 0 ? e->turn_ttl_s : 86400;
    if (!list || !stun || !turn)
        goto fail;
    if (json_array_size(stun) > 0)
        json_array_append_new(list, json_pack("{s:O}", "urls", stun));
    if (e->turn_secret && *e->turn_secret && json_array_size(turn) > 0) {
        char user[TURN_USER_MAX], pass[TURN_PASS_MAX];
        if (turn_cred(e->turn_secret, uid, now_s + ttl, user, sizeof user, pass, sizeof pass) !=
            NT_OK)
            goto fail;
        json_array_append_new(list, json_pack("{s:O, s:s, s:s}", "urls", turn, "username", user,
                                              "credential", pass));
    }
    json_decref(stun);
    json_decref(turn);
    return json_pack("{s:o, s:I}", "ice_servers", list, "ttl", (json_int_t)ttl);
fail:
    json_decref(list);
    json_decref(stun);
    json_decref(turn);
    return NULL;
}

void route_ice_servers(http_req_t *r)
{
    json_t *o = http_ice_servers(r->edge, r->who.uid, (int64_t)time(NULL));
    if (!o) {
        http_reply_error(r, NT_EINTERNAL, "cannot make ICE credentials");
        return;
    }
    http_reply_json(r, 200, o);
}
