/*
 * jsonv.h - checks that turn client JSON into clear 400 messages.
 *
 * The REST and WebSocket edges parse every request body with
 * jsonv_parse_object, then read each field with jsonv_str / jsonv_int and
 * refuse unexpected ones with jsonv_unknown_keys.  Each function returns 0
 * or NT_EINVAL; on NT_EINVAL it writes a short human message into err
 * ("username is required", "body is not valid JSON") that can go straight
 * into API.md's {"error":{"code":"bad_request","message":...}}.  Messages
 * are always valid UTF-8 (truncated at a character boundary) so jansson will
 * accept them back; err may be NULL when errlen is 0.
 *
 * Strict on purpose: duplicate keys, a top level that is not an object,
 * numbers for strings, reals for integers and JSON null are all refused
 * rather than guessed at.  Borrowed pointers (*out of jsonv_str) live as long
 * as the object they came from.  Thread-safe (no state).
 */
#ifndef NT_JSONV_H
#define NT_JSONV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Parse len bytes (need not be NUL-terminated) as one JSON object.
 * Duplicate keys, trailing data, invalid UTF-8, NUL (raw or \u0000) and
 * nesting deeper than JSON_DEPTH_MAX (checked before jansson recurses,
 * common/json_depth.h) are refused.  On success *out is a new reference the caller
 * json_decref()s.  Messages: "body is not valid JSON",
 * "body has a duplicate field", "body must be a JSON object",
 * "body is nested more than 64 levels deep". */
int jsonv_parse_object(const char *buf, size_t len, json_t **out, char *err, size_t errlen);

/* A string field of obj.  Missing and !required: *out = NULL, return 0.
 * Messages: "<key> is required", "<key> must be a string" (null included),
 * "<key> must not contain NUL", "<key> must be <min>-<max> characters"
 * (counted in UTF-8 code points).  *out is borrowed from obj. */
int jsonv_str(json_t *obj, const char *key, int required, size_t min_chars, size_t max_chars,
              const char **out, char *err, size_t errlen);

/* An integer field (a JSON integer: not a real like 1.0, not "1").
 * Missing and !required: *out untouched (preset a default), return 0.
 * Messages: "<key> is required", "<key> must be an integer",
 * "<key> must be between <min> and <max>". */
int jsonv_int(json_t *obj, const char *key, int required, int64_t min, int64_t max,
              int64_t *out, char *err, size_t errlen);

/* Number of code points in s, which should be valid UTF-8 (jansson
 * guarantees it for parsed strings); for invalid input it counts every byte
 * that is not a continuation byte.  NULL counts 0. */
size_t utf8_chars(const char *s);

/* NT_EINVAL "unknown field <k>" (k truncated, control bytes shown as '?')
 * for the first key of obj not in the NULL-terminated list allowed. */
int jsonv_unknown_keys(json_t *obj, const char *const *allowed, char *err, size_t errlen);

#endif
