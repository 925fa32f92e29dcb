/* test_prom.c - lock-free counters and histograms (common/prom.c), the
 * process metrics (common/proc_stat.c) and the log line's fixed fields
 * (common/log.c). */
#include "common/log.h"
#include "common/proc_stat.h"
#include "common/prom.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *render_hist(prom_hist_t *h, const char *labels)
{
    textbuf_t t = {0};
    size_t len;
    prom_hist_render(&t, "x_seconds", labels, h);
    return textbuf_take(&t, &len);
}

Test(prom, histogram_is_cumulative_with_inf_sum_and_count)
{
    prom_hist_t h;
    prom_hist_init(&h, prom_le_latency, prom_le_latency_n);
    prom_hist_observe(&h, 0.0005);   /* <= 0.001 */
    prom_hist_observe(&h, 0.001);    /* le is inclusive */
    prom_hist_observe(&h, 0.3);      /* <= 0.5 */
    prom_hist_observe(&h, 99);       /* +Inf only */
    char *t = render_hist(&h, "");
    cr_assert_not_null(t);
    cr_assert(strstr(t, "x_seconds_bucket{le=\"0.001\"} 2\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_bucket{le=\"0.25\"} 2\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_bucket{le=\"0.5\"} 3\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_bucket{le=\"10\"} 3\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_bucket{le=\"+Inf\"} 4\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_count 4\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_sum 99.3015\n"), "%s", t);
    free(t);
}

Test(prom, labels_come_before_le)
{
    prom_hist_t h;
    prom_hist_init(&h, prom_le_size, prom_le_size_n);
    prom_hist_observe(&h, 3);
    char *t = render_hist(&h, "worker=\"1\"");
    cr_assert(strstr(t, "x_seconds_bucket{worker=\"1\",le=\"2\"} 0\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_bucket{worker=\"1\",le=\"4\"} 1\n"), "%s", t);
    cr_assert(strstr(t, "x_seconds_count{worker=\"1\"} 1\n"), "%s", t);
    free(t);
}

static prom_counter_t shared;
static prom_hist_t shared_h;

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        prom_inc(&shared, 1);
        prom_hist_observe(&shared_h, 1);
    }
    return NULL;
}

Test(prom, counters_lose_nothing_across_threads)
{
    pthread_t t[4];
    prom_hist_init(&shared_h, prom_le_size, prom_le_size_n);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(prom_get(&shared), 400000);
    char *r = render_hist(&shared_h, NULL);
    cr_assert(strstr(r, "x_seconds_count 400000\n"), "%s", r);
    cr_assert(strstr(r, "x_seconds_sum 400000\n"), "%s", r);
    free(r);
}

Test(prom, process_metrics_follow_the_process)
{
    textbuf_t t = {0};
    size_t len;
    long before = proc_stat_open_fds();
    int fd = open("/dev/null", O_RDONLY);
    cr_assert_eq(proc_stat_open_fds(), before + 1);
    close(fd);
    proc_stat_prometheus(&t);
    char *s = textbuf_take(&t, &len);
    cr_assert(strstr(s, "# TYPE process_cpu_seconds_total counter\n"), "%s", s);
    cr_assert(strstr(s, "# TYPE process_resident_memory_bytes gauge\n"), "%s", s);
    cr_assert(strstr(s, "# TYPE process_max_fds gauge\n"), "%s", s);
    char want[64];
    snprintf(want, sizeof want, "process_open_fds %ld\n", before);
    cr_assert(strstr(s, want), "%s", s);
    cr_assert(strstr(s, "natter_info{role=\"natter\",instance_id=\""), "%s", s);
    free(s);
}

/* ---- log lines: service, instance, trace ---- */

static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/test_prom_log_XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    static char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static int evaluated;
static const char *side_effect(void)
{
    evaluated++;
    return "x";
}

static void lines(void)
{
    log_init("msg", LOG_INFO);
    log_set_instance("node-7");
    log_info("plain", "k=%d", 1);
    log_trace_set("0123456789abcdef0123456789abcdef");
    log_info("in a request", NULL);
    log_info("own trace", "trace=%s x=1", "ffffffffffffffffffffffffffffffff");
    log_trace_set(NULL);
    log_debug("off", "v=%s", side_effect());
}

Test(log, every_line_has_service_instance_and_trace)
{
    evaluated = 0;
    char *out = capture(lines);
    cr_assert(strstr(out, " level=info svc=msg inst=node-7 msg=\"plain\" k=1 trace=-\n"), "%s", out);
    cr_assert(strstr(out, "msg=\"in a request\" trace=0123456789abcdef0123456789abcdef\n"), "%s",
              out);
    /* the caller's own trace wins, and is not written twice */
    cr_assert(strstr(out, "msg=\"own trace\" trace=ffffffffffffffffffffffffffffffff x=1\n"), "%s",
              out);
    cr_assert_null(strstr(out, "off"), "%s", out);
    cr_assert_eq(evaluated, 0, "a debug line's arguments were evaluated with debug off");
}
