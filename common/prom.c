/*
 * prom.c - lock-free counters and histograms and their text (see prom.h).
 */
#include "common/prom.h"

#include <string.h>

const double prom_le_latency[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25,  0.5,    1,     2.5,  5,     10};
const size_t prom_le_latency_n = sizeof prom_le_latency / sizeof prom_le_latency[0];
const double prom_le_size[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
const size_t prom_le_size_n = sizeof prom_le_size / sizeof prom_le_size[0];

void prom_hist_init(prom_hist_t *h, const double *le, size_t n)
{
    memset(h, 0, sizeof *h);
    h->le = le;
    h->n = n > PROM_HIST_MAX ? PROM_HIST_MAX : n;
}

void prom_hist_observe(prom_hist_t *h, double v)
{
    size_t i = 0;
    while (i < h->n && v > h->le[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    if (v > 0)
        atomic_fetch_add_explicit(&h->sum_u, (uint64_t)(v * 1e6 + 0.5), memory_order_relaxed);
}

void prom_header(textbuf_t *o, const char *name, const char *type, const char *help)
{
    textbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(textbuf_t *o, const char *name, const char *labels, double v)
{
    int l = labels && *labels;
    textbuf_printf(o, "%s%s%s%s %.15g\n", name, l ? "{" : "", l ? labels : "", l ? "}" : "", v);
}

void prom_hist_render(textbuf_t *o, const char *name, const char *labels, prom_hist_t *h)
{
    int l = labels && *labels;
    const char *lab = l ? labels : "", *sep = l ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->n; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < h->n)
            textbuf_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lab, sep, h->le[i],
                           (unsigned long long)cum);
        else
            textbuf_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep,
                           (unsigned long long)cum);
    }
    double sum = (double)atomic_load_explicit(&h->sum_u, memory_order_relaxed) / 1e6;
    textbuf_printf(o, "%s_sum%s%s%s %.15g\n", name, l ? "{" : "", lab, l ? "}" : "", sum);
    textbuf_printf(o, "%s_count%s%s%s %llu\n", name, l ? "{" : "", lab, l ? "}" : "",
                   (unsigned long long)cum);
}
