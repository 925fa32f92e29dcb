/*
 * routes_presence.c - GET /api/presence?user_ids=1,2,3 (API.md "Presence",
 * docs/presence.md): the list is checked here (ids only, at most
 * HTTP_PRESENCE_IDS_MAX, duplicates dropped), then asked of the presence
 * pool (im.svc.presence.query), which decides what the caller may see.
 */
#include "edge/http/http_edge.h"

#include "common/err.h"
#include "edge/msg_json.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <string.h>

/* Room for HTTP_PRESENCE_IDS_MAX ids of 19 digits and their commas; a
 * longer value is too many ids whatever it holds. */
#define CSV_CAP (HTTP_PRESENCE_IDS_MAX * 20 + 1)

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

int http_presence_ids(char *csv, int max, const char **ids, int *n, char *err, size_t errlen)
{
    int count = 0;
    *n = 0;
    if (!*csv) {
        snprintf(err, errlen, "user_ids is required");
        return NT_EINVAL;
    }
    for (char *tok = csv;; ) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        if (++count > max) {
            snprintf(err, errlen, "at most %d user_ids", max);
            return NT_EINVAL;
        }
        if (!id_ok(tok)) {
            snprintf(err, errlen, "user_ids must be a comma-separated list of user ids");
            return NT_EINVAL;
        }
        int seen = 0;
        for (int i = 0; i < *n && !seen; i++)
            seen = strcmp(ids[i], tok) == 0;
        if (!seen)
            ids[(*n)++] = tok;
        if (!comma)
            break;
        tok = comma + 1;
    }
    return NT_OK;
}

void route_presence(http_req_t *r)
{
    const char *qs = r->ri->query_string ? r->ri->query_string : "";
    char csv[CSV_CAP], err[96];
    const char *ids[HTTP_PRESENCE_IDS_MAX];
    int n = 0;
    int got = mg_get_var(qs, strlen(qs), "user_ids", csv, sizeof csv);
    if (got == -2) {
        snprintf(err, sizeof err, "at most %d user_ids", HTTP_PRESENCE_IDS_MAX);
        http_reply_error(r, NT_EINVAL, err);
        return;
    }
    if (got < 0)
        csv[0] = '\0';
    if (http_presence_ids(csv, HTTP_PRESENCE_IDS_MAX, ids, &n, err, sizeof err) != NT_OK) {
        http_reply_error(r, NT_EINVAL, err);
        return;
    }
    Natter__PresenceQuery req = NATTER__PRESENCE_QUERY__INIT;
    req.n_user_ids = (size_t)n;
    req.user_ids = (char **)ids;
    ProtobufCMessage *reply = NULL;
    if (http_call(r, "presence", "query", &req.base, &natter__presence_list__descriptor,
                  &reply) != NT_OK)
        return;
    Natter__PresenceList *list = (Natter__PresenceList *)reply;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < list->n_presence; i++)
        json_array_append_new(arr, presence_json(list->presence[i], NULL));
    protobuf_c_message_free_unpacked(reply, NULL);
    http_reply_json(r, 200, json_pack("{s:o}", "presence", arr));
}
