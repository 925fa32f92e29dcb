/*
 * bus_prom.c - the NATS connection's counters for /metrics (bus.h).
 *
 * nats.c counts messages, bytes and reconnects per connection
 * (natsConnection_GetStats); the bus adds requests that timed out.  Read
 * when scraped, so nothing is added to any publish or delivery.
 */
#include "bus/bus.h"

#include "common/prom.h"

void bus_prometheus(bus_t *bus, textbuf_t *o)
{
    uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0, reconnects = 0;
    natsStatistics *st = NULL;
    if (bus && bus_conn(bus) && natsStatistics_Create(&st) == NATS_OK &&
        natsConnection_GetStats(bus_conn(bus), st) == NATS_OK)
        natsStatistics_GetCounts(st, &in_msgs, &in_bytes, &out_msgs, &out_bytes, &reconnects);
    natsStatistics_Destroy(st);
    prom_header(o, "natter_nats_connected", "gauge", "1 while the NATS connection is up.");
    prom_sample(o, "natter_nats_connected", NULL, bus && bus_connected(bus) ? 1 : 0);
    prom_header(o, "natter_nats_reconnects_total", "counter",
                "Times the NATS connection was re-established.");
    prom_sample(o, "natter_nats_reconnects_total", NULL, (double)reconnects);
    prom_header(o, "natter_nats_request_timeouts_total", "counter",
                "Bus requests of this process that got no answer in time.");
    prom_sample(o, "natter_nats_request_timeouts_total", NULL, (double)bus_timeouts(bus));
    prom_header(o, "natter_nats_messages_in_total", "counter", "Messages received from NATS.");
    prom_sample(o, "natter_nats_messages_in_total", NULL, (double)in_msgs);
    prom_header(o, "natter_nats_messages_out_total", "counter", "Messages published to NATS.");
    prom_sample(o, "natter_nats_messages_out_total", NULL, (double)out_msgs);
    prom_header(o, "natter_nats_bytes_in_total", "counter", "Payload bytes received from NATS.");
    prom_sample(o, "natter_nats_bytes_in_total", NULL, (double)in_bytes);
    prom_header(o, "natter_nats_bytes_out_total", "counter", "Payload bytes published to NATS.");
    prom_sample(o, "natter_nats_bytes_out_total", NULL, (double)out_bytes);
}
