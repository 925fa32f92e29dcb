/*
 * json_depth.c - the nesting scan in front of jansson (see json_depth.h).
 *
 * A state machine of two states (in a string or not) and one counter: no
 * recursion, no allocation, one pass over the bytes, stopping early once
 * the limit is passed.  It does not validate JSON; it only has to agree
 * with the parser about which brackets are structure, and in JSON a
 * bracket is structure exactly when it is outside a string.
 */
#include "common/json_depth.h"

#include <stdio.h>

size_t json_depth(const char *buf, size_t len, size_t stop_after)
{
    size_t depth = 0, deepest = 0;
    int in_str = 0;
    if (!buf)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\')
                i++; /* the escaped byte is never a quote that ends the string */
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > stop_after)
                    return deepest;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

json_t *json_depth_loadb(const char *buf, size_t len, size_t flags, size_t max_depth,
                         json_error_t *err)
{
    if (buf && json_depth(buf, len, max_depth) > max_depth) {
        if (err) {
            err->line = err->column = -1;
            err->position = 0;
            snprintf(err->source, sizeof err->source, "<buffer>");
            snprintf(err->text, sizeof err->text, "nested more than %zu levels deep", max_depth);
            err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_stack_overflow;
        }
        return NULL;
    }
    return json_loadb(buf, len, flags, err);
}
