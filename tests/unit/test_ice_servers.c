/*
 * test_ice_servers.c - GET /api/calls/ice_servers's document
 * (edge/http/routes_calls.c, API.md "Calls"): STUN as configured, a TURN
 * entry only with a secret and URLs, credentials as coturn checks them.
 */
#include "edge/http/http_edge.h"

#include <criterion/criterion.h>
#include <string.h>

static char *doc(const char *stun, const char *turn, const char *secret, long ttl)
{
    http_edge_t e;
    memset(&e, 0, sizeof e);
    e.stun_urls = stun;
    e.turn_urls = turn;
    e.turn_secret = secret;
    e.turn_ttl_s = ttl;
    json_t *o = http_ice_servers(&e, "42", 1700000000 - 3600);
    cr_assert_not_null(o);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

Test(ice_servers, stun_and_turn)
{
    char *s = doc(" stun:a:3478 ,stun:b ", "turn:t:3478?transport=udp,,turns:t:5349", "north", 3600);
    /* base64(HMAC-SHA1("north", "1700000000:42")), as test_turn_cred.c */
    cr_expect_str_eq(s, "{\"ice_servers\":[{\"urls\":[\"stun:a:3478\",\"stun:b\"]},"
                        "{\"credential\":\"DWX3FI7DiPIpadEYQAZsnZBAagI=\","
                        "\"urls\":[\"turn:t:3478?transport=udp\",\"turns:t:5349\"],"
                        "\"username\":\"1700000000:42\"}],\"ttl\":3600}");
    free(s);
}

Test(ice_servers, no_secret_no_turn)
{
    char *s = doc("stun:a", "turn:t", "", 3600);
    cr_expect_str_eq(s, "{\"ice_servers\":[{\"urls\":[\"stun:a\"]}],\"ttl\":3600}");
    free(s);
    s = doc("stun:a", "", "north", 60);
    cr_expect_str_eq(s, "{\"ice_servers\":[{\"urls\":[\"stun:a\"]}],\"ttl\":60}");
    free(s);
    s = doc("", NULL, NULL, 0);
    cr_expect_str_eq(s, "{\"ice_servers\":[],\"ttl\":86400}");
    free(s);
}
