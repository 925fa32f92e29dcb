/* test_metrics.c - Prometheus text rendering. */
#include "common/err.h"
#include "common/metrics.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(metrics, counters_and_histograms_render)
{
    metrics_t *m = NULL;
    cr_assert_eq(metrics_new(&m), NT_OK);
    metrics_count(m, "req_total", "requests", "route=\"/a\",status=\"200\"", 1);
    metrics_count(m, "req_total", "requests", "route=\"/a\",status=\"200\"", 2);
    metrics_count(m, "req_total", "requests", "route=\"/b\",status=\"404\"", 1);
    metrics_observe(m, "lat_seconds", "latency", "route=\"/a\"", 0.003);
    metrics_observe(m, "lat_seconds", "latency", "route=\"/a\"", 20);
    metrics_gauge(m, "g", NULL, "", 5);
    size_t len = 0;
    char *t = metrics_render(m, &len);
    cr_assert_not_null(t);
    cr_assert_eq(strlen(t), len);
    cr_assert(strstr(t, "# TYPE req_total counter\n") != NULL);
    cr_assert(strstr(t, "req_total{route=\"/a\",status=\"200\"} 3\n") != NULL);
    cr_assert(strstr(t, "req_total{route=\"/b\",status=\"404\"} 1\n") != NULL);
    cr_assert(strstr(t, "# TYPE lat_seconds histogram\n") != NULL);
    cr_assert(strstr(t, "lat_seconds_bucket{route=\"/a\",le=\"0.0025\"} 0\n") != NULL);
    cr_assert(strstr(t, "lat_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n") != NULL);
    cr_assert(strstr(t, "lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n") != NULL);
    cr_assert(strstr(t, "lat_seconds_count{route=\"/a\"} 2\n") != NULL);
    cr_assert(strstr(t, "g 5\n") != NULL);
    /* one header per metric name */
    cr_assert_eq(strstr(strstr(t, "# TYPE req_total") + 1, "# TYPE req_total"), NULL);
    free(t);
    metrics_free(m);
}

Test(metrics, series_table_is_bounded)
{
    metrics_t *m = NULL;
    char labels[32];
    cr_assert_eq(metrics_new(&m), NT_OK);
    for (int i = 0; i < METRICS_MAX_SERIES + 50; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        metrics_count(m, "c", "c", labels, 1);
    }
    char *t = metrics_render(m, NULL);
    cr_assert_not_null(t);
    cr_assert(strstr(t, "c{i=\"0\"} 1") != NULL);
    cr_assert_eq(strstr(t, "c{i=\"600\"}"), NULL);
    free(t);
    metrics_free(m);
}
