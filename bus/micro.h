/*
 * micro.h - the NATS micro services protocol, done by hand because nats.c
 * 3.4 has no micro API (STACK.md).
 *
 * A service has a name ("auth"), a version, a random id, and endpoints.
 * micro_add_endpoint subscribes the endpoint's subject in the queue group
 * named like the service, `workers` times (each subscription gets a delivery
 * thread from the bus pool, so slow handlers such as argon2 run in parallel),
 * and wraps the handler to count requests, errors and processing time.
 *
 * micro_start answers, as plain subscriptions (no queue group, every
 * instance replies):
 *   $SRV.PING, $SRV.PING.<name>, $SRV.PING.<name>.<id>   io.nats.micro.v1.ping_response
 *   $SRV.INFO, ...                                       io.nats.micro.v1.info_response
 *   $SRV.STATS, ...                                      io.nats.micro.v1.stats_response
 * so `nats micro ls`, `nats micro info auth` and `nats micro stats auth` work.
 */
#ifndef NT_MICRO_H
#define NT_MICRO_H

#include "bus/bus.h"
#include "common/textbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct micro micro_t;

/* Handler: return 0 if the request succeeded, <0 (NT_E*) if it was answered
 * with an error (counted in num_errors / last_error). */
typedef int (*micro_handler_fn)(bus_t *bus, natsMsg *msg, void *arg);

/* bus may be NULL to build the JSON documents only (tests); micro_start then
 * fails.  Caller frees with micro_free after bus_free, or after bus_drain
 * returned 0: the endpoint subscriptions belong to the bus and hold
 * pointers into the micro_t until then. */
int micro_new(bus_t *bus, const char *name, const char *version,
              const char *description, micro_t **out);

/* Add an endpoint before micro_start.  name is the endpoint name in INFO and
 * STATS ("login"); subject its NATS subject. */
int micro_add_endpoint(micro_t *m, const char *name, const char *subject,
                       int workers, micro_handler_fn fn, void *arg);

/* Subscribe endpoints and the $SRV subjects. */
int micro_start(micro_t *m);

const char *micro_id(const micro_t *m);

/* Run endpoint's handler on msg here, timed and counted as if its
 * subscription had delivered it: for a message the caller took off the
 * bus itself (bus_inline) so the endpoint's STATS and natter_requests_total
 * still count it.  msg stays the caller's.  NT_ENOTFOUND: no such endpoint. */
int micro_call(micro_t *m, const char *endpoint, bus_t *bus, natsMsg *msg);

/* The JSON documents (for tests and the handlers); caller frees the string. */
char *micro_ping_json(micro_t *m);
char *micro_info_json(micro_t *m);
char *micro_stats_json(micro_t *m);

/* One endpoint's counters, copied out under the service's lock. */
typedef struct micro_ep_stat {
    const char *name;      /* valid until micro_free */
    int64_t num_requests;
    int64_t num_errors;
    int64_t processing_ns;
} micro_ep_stat_t;

/* Copy the counters of up to max endpoints into out; returns how many. */
int micro_endpoint_stats(micro_t *m, micro_ep_stat_t *out, int max);

/* The service's name ("auth"); valid until micro_free. */
const char *micro_name(const micro_t *m);

/* Append the endpoint counters in the Prometheus text format
 * (bus/micro_prom.c): natter_requests_total, natter_request_errors_total
 * and natter_request_seconds_total, labelled service and endpoint. */
void micro_prometheus(micro_t *m, textbuf_t *out);

void micro_free(micro_t *m);

#endif
