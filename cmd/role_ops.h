/*
 * role_ops.h - a pool's operator endpoints: GET /healthz and GET /metrics
 * on a small HTTP listener of its own (DESIGN.md: every role has them).
 *
 * Edges serve these on their client port; a pool has no HTTP port, so it
 * opens one only when ops.http_port is set (0, the default, opens none: a
 * second process of a role on one machine needs its own port, and the bus
 * already answers $SRV.PING / $SRV.STATS for every process).
 */
#ifndef NT_ROLE_OPS_H
#define NT_ROLE_OPS_H

#include "bus/micro.h"
#include "common/textbuf.h"
#include "cmd/roles.h"
#include "store/db.h"
#include "store/redis.h"

typedef struct role_ops role_ops_t;

/* What /healthz checks and /metrics reports.  Any of db and redis may be
 * NULL (not used by the role); redis counts for health only if
 * redis_required (presence lives in Redis; the rate limits of auth and msg
 * let requests through when Redis is down, so it does not make them
 * unhealthy). */
typedef struct role_ops_deps {
    micro_t *micro;
    bus_t *bus;
    db_pool_t *db;
    redis_pool_t *redis;
    int redis_required;
    /* More /metrics text from the role (NULL: none), e.g. the msg pool's
     * (actors/msg_metrics.h); runs on a civetweb worker thread. */
    void (*prom)(void *arg, textbuf_t *out);
    void *prom_arg;
} role_ops_deps_t;

/* Listen on ops.bind:ops.http_port if the port is not 0 (*out stays NULL
 * then).  NT_EINVAL for a bad config value, NT_EIO if it cannot listen. */
int role_ops_start(const role_ctx_t *ctx, const role_ops_deps_t *deps, role_ops_t **out);

/* Stop listening (waits for in-flight requests); NULL is fine. */
void role_ops_stop(role_ops_t *o);

#endif
