/*
 * metrics.c - a tiny Prometheus registry (see metrics.h).
 *
 * Series are kept in insertion order in one array; rendering groups them by
 * metric name so each name gets one # HELP / # TYPE header, as the text
 * format requires.
 */
#include "common/metrics.h"

#include "common/err.h"
#include "common/textbuf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_COUNTER, M_GAUGE, M_HISTOGRAM };

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct series {
    char name[64];
    char labels[160];
    const char *help; /* static string from the caller */
    int kind;
    double value;                  /* counter/gauge value, histogram sum */
    unsigned long long count;      /* histogram */
    unsigned long long bucket[NBUCKETS];
} series_t;

struct metrics {
    pthread_mutex_t lock; /* guards n and series[] */
    size_t n;
    series_t series[METRICS_MAX_SERIES];
};

int metrics_new(metrics_t **out)
{
    metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NT_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return NT_OK;
}

void metrics_free(metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Find or create; called with the lock held.  NULL when the table is full
 * or the name/labels do not fit (then the sample is dropped). */
static series_t *series_get(metrics_t *m, const char *name, const char *help,
                            const char *labels, int kind)
{
    for (size_t i = 0; i < m->n; i++) {
        series_t *s = &m->series[i];
        if (s->kind == kind && strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s;
    }
    if (m->n == METRICS_MAX_SERIES || strlen(name) >= sizeof m->series[0].name ||
        strlen(labels) >= sizeof m->series[0].labels)
        return NULL;
    series_t *s = &m->series[m->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->labels, sizeof s->labels, "%s", labels);
    s->help = help;
    s->kind = kind;
    return s;
}

void metrics_count(metrics_t *m, const char *name, const char *help, const char *labels,
                   double delta)
{
    pthread_mutex_lock(&m->lock);
    series_t *s = series_get(m, name, help, labels ? labels : "", M_COUNTER);
    if (s)
        s->value += delta;
    pthread_mutex_unlock(&m->lock);
}

void metrics_gauge(metrics_t *m, const char *name, const char *help, const char *labels,
                   double value)
{
    pthread_mutex_lock(&m->lock);
    series_t *s = series_get(m, name, help, labels ? labels : "", M_GAUGE);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe(metrics_t *m, const char *name, const char *help, const char *labels,
                     double value)
{
    pthread_mutex_lock(&m->lock);
    series_t *s = series_get(m, name, help, labels ? labels : "", M_HISTOGRAM);
    if (s) {
        s->value += value;
        s->count++;
        for (size_t i = 0; i < NBUCKETS; i++)
            if (value <= buckets[i])
                s->bucket[i]++;
    }
    pthread_mutex_unlock(&m->lock);
}

/* "{labels}" or "" and the separator to append one more label. */
static void render_series(textbuf_t *o, const series_t *s)
{
    const char *l = s->labels;
    if (s->kind != M_HISTOGRAM) {
        textbuf_printf(o, "%s%s%s%s %.17g\n", s->name, *l ? "{" : "", l, *l ? "}" : "", s->value);
        return;
    }
    const char *sep = *l ? "," : "";
    for (size_t i = 0; i < NBUCKETS; i++)
        textbuf_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, l, sep, buckets[i],
                   s->bucket[i]);
    textbuf_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, l, sep, s->count);
    textbuf_printf(o, "%s_sum%s%s%s %.17g\n", s->name, *l ? "{" : "", l, *l ? "}" : "", s->value);
    textbuf_printf(o, "%s_count%s%s%s %llu\n", s->name, *l ? "{" : "", l, *l ? "}" : "", s->count);
}

char *metrics_render(metrics_t *m, size_t *len)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    textbuf_t o = {0};
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        int first = 1; /* print each name once, with all its series */
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->series[j].name, m->series[i].name) == 0)
                first = 0;
        if (!first)
            continue;
        textbuf_printf(&o, "# HELP %s %s\n# TYPE %s %s\n", m->series[i].name,
                   m->series[i].help ? m->series[i].help : m->series[i].name, m->series[i].name,
                   kinds[m->series[i].kind]);
        for (size_t j = i; j < m->n; j++)
            if (strcmp(m->series[j].name, m->series[i].name) == 0)
                render_series(&o, &m->series[j]);
    }
    pthread_mutex_unlock(&m->lock);
    return textbuf_take(&o, len);
}
