/*
 * micro_prom.c - a service's endpoint counters as Prometheus text.
 *
 * The same numbers `$SRV.STATS` answers on the bus, for operators who
 * scrape HTTP instead (a pool's /metrics, cmd/role_ops.c).  Counters only:
 * the rates and averages are the scraper's business.  Names are fixed and
 * labels come from the service's own endpoint names, never from requests.
 */
#include "bus/micro.h"

#define EP_MAX 64

void micro_prometheus(micro_t *m, textbuf_t *out)
{
    micro_ep_stat_t eps[EP_MAX];
    int n = micro_endpoint_stats(m, eps, EP_MAX);
    const char *svc = micro_name(m);
    textbuf_printf(out, "# HELP natter_requests_total Requests an endpoint of this process handled.\n"
                        "# TYPE natter_requests_total counter\n");
    for (int i = 0; i < n; i++)
        textbuf_printf(out, "natter_requests_total{service=\"%s\",endpoint=\"%s\"} %lld\n", svc,
                       eps[i].name, (long long)eps[i].num_requests);
    textbuf_printf(out, "# HELP natter_request_errors_total Requests answered with an error.\n"
                        "# TYPE natter_request_errors_total counter\n");
    for (int i = 0; i < n; i++)
        textbuf_printf(out, "natter_request_errors_total{service=\"%s\",endpoint=\"%s\"} %lld\n",
                       svc, eps[i].name, (long long)eps[i].num_errors);
    textbuf_printf(out, "# HELP natter_request_seconds_total Time spent handling requests.\n"
                        "# TYPE natter_request_seconds_total counter\n");
    for (int i = 0; i < n; i++)
        textbuf_printf(out, "natter_request_seconds_total{service=\"%s\",endpoint=\"%s\"} %.6f\n",
                       svc, eps[i].name, (double)eps[i].processing_ns / 1e9);
}
