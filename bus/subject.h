/*
 * subject.h - the only place natter builds NATS subjects (DESIGN.md
 * "Subjects").  Every token that comes from data (a pool, op, id) is checked:
 * it must be 1..64 chars of [A-Za-z0-9_-], so a client-supplied id can never
 * inject '.', '*', '>' or whitespace into an address.  Each builder writes a
 * NUL-terminated subject into buf and returns 0, or NT_EINVAL for a bad token
 * or NT_ETOOLARGE when buf is too small.
 */
#ifndef NT_SUBJECT_H
#define NT_SUBJECT_H

#include <stddef.h>

#define SUBJECT_MAX 256

/* 1 if tok is a valid subject token (see above). */
int subject_token_ok(const char *tok);

int subject_svc(char *buf, size_t n, const char *pool, const char *op);  /* im.svc.<pool>.<op> */
int subject_svc_all(char *buf, size_t n, const char *pool);              /* im.svc.<pool>.>   */
int subject_conv(char *buf, size_t n, const char *cid, const char *verb); /* im.conv.<cid>.<verb> */
int subject_call(char *buf, size_t n, const char *call_id, const char *verb); /* im.call.<id>.<verb> */
int subject_user_push(char *buf, size_t n, const char *uid);             /* im.user.<uid>.push */
int subject_user_ctl(char *buf, size_t n, const char *uid);              /* im.user.<uid>.ctl */
int subject_sess_ctl(char *buf, size_t n, const char *sid);              /* im.sess.<sid>.ctl */
int subject_evt(char *buf, size_t n, const char *kind, const char *id);  /* im.evt.<kind>.<id> */
int subject_evt_all(char *buf, size_t n, const char *kind);             /* im.evt.<kind>.>   */

/* 1 if subject (a literal subject as it arrives) matches pattern under NATS
 * rules: tokens split at '.', '*' matches exactly one token, a final '>'
 * one or more.  Empty tokens never match.  For routing messages that
 * arrive (bus_inline), not for building addresses. */
int subject_match(const char *pattern, const char *subject);

#endif
