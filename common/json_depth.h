/*
 * json_depth.h - bound JSON nesting before a recursive parser sees it.
 *
 * jansson's parser recurses once per array or object level.  On a small
 * thread stack (civetweb's workers: 100 KiB in Debian's build) a client's
 * 1,000-deep "[[[...]]]" overflowed the stack and killed the process
 * (issue 11).  Every JSON that comes from outside therefore goes through
 * json_depth_loadb: one linear, non-recursive pass that counts '[' and '{'
 * outside strings (escapes honoured), refuses anything deeper than the
 * limit, and only then calls json_loadb.  The natter API never nests
 * deeper than 3, so JSON_DEPTH_MAX (64) is plenty and keeps jansson's
 * recursion to a few KiB of stack.
 *
 * Thread-safe (no state).
 */
#ifndef NT_JSON_DEPTH_H
#define NT_JSON_DEPTH_H

#include <jansson.h>
#include <stddef.h>

#define JSON_DEPTH_MAX 64

/* The deepest nesting of arrays and objects in buf[0..len): 0 for a
 * scalar, 1 for [] or {}, ...  Brackets inside strings do not count; a
 * backslash escapes the next byte.  The scan stops as soon as the depth
 * passes stop_after (then stop_after + 1 is returned), so a hostile
 * megabyte of '[' costs one short pass.  Malformed JSON is not this
 * function's business (unbalanced closers never take the depth below 0);
 * the parser refuses it afterwards. */
size_t json_depth(const char *buf, size_t len, size_t stop_after);

/* json_loadb with the nesting bounded to max_depth first.  Too deep: NULL,
 * and err (may be NULL) says "nested more than N levels deep" with
 * json_error_code(err) == json_error_stack_overflow, the code jansson uses
 * for its own (much higher) limit.  Otherwise exactly json_loadb(buf, len,
 * flags, err).  A new reference, or NULL. */
json_t *json_depth_loadb(const char *buf, size_t len, size_t flags, size_t max_depth,
                         json_error_t *err);

#endif
