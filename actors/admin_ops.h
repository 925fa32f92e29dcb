/*
 * admin_ops.h - the admin API's handlers, served by the auth pool on
 * im.svc.admin.<op> (admin_ops.c, docs/API.md "Admin").  Each checks that
 * Natter-Uid is an admin (403 forbidden otherwise) before anything else.
 */
#ifndef NT_ADMIN_OPS_H
#define NT_ADMIN_OPS_H

#include "actors/auth_pool.h"

/* Add the admin endpoints to m (auth_pool_register calls it). */
int admin_ops_register(auth_pool_t *p, micro_t *m, int workers);

int admin_users(bus_t *bus, natsMsg *msg, void *arg);
int admin_ban_user(bus_t *bus, natsMsg *msg, void *arg);
int admin_unban_user(bus_t *bus, natsMsg *msg, void *arg);
int admin_audit_get(bus_t *bus, natsMsg *msg, void *arg);
int admin_sessions(bus_t *bus, natsMsg *msg, void *arg);
int admin_kick(bus_t *bus, natsMsg *msg, void *arg);
int admin_check(bus_t *bus, natsMsg *msg, void *arg);
int admin_ip_rules(bus_t *bus, natsMsg *msg, void *arg);
int admin_ip_rule_add_op(bus_t *bus, natsMsg *msg, void *arg);
int admin_ip_rule_delete_op(bus_t *bus, natsMsg *msg, void *arg);
/* im.svc.auth.ip_rules: every rule, for edges (no role check). */
int auth_ip_rules(bus_t *bus, natsMsg *msg, void *arg);

#endif
