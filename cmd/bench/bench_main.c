/*
 * bench_main.c - `natter-bench`: arguments, the sessions file, phases
 * (connect, measure memory, send or hold, drain) and the report.
 *
 *   natter-bench --port 8081 --sessions FILE [--duration 30] [--rate 2000]
 *                [--window 1] [--idle --hold 5] [--edge-pid PID]
 *                [--senders K] [--start-at EPOCH_S]
 *
 * FILE has one "token conversation_id" per line.  --rate 0 sends as fast
 * as replies come back (each session keeps --window sends in flight).
 * --senders K: only the first K sessions send (default all); every session
 * receives and acks.  --start-at: start sending at that wall-clock time
 * (seconds since the epoch) if connected by then, so two runs share one
 * load phase.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_SESSIONS 20000

static long rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int load_sessions(bench_t *b, const char *path)
{
    FILE *f = fopen(path, "r");
    char tok[2048], conv[64];
    if (!f)
        return -1;
    b->run_id = (unsigned)getpid() ^ (unsigned)bench_now_us();
    b->sess = calloc(MAX_SESSIONS, sizeof *b->sess);
    while (b->sess && b->n < MAX_SESSIONS && fscanf(f, "%2047s %63s", tok, conv) == 2) {
        b->sess[b->n].token = strdup(tok);
        b->sess[b->n].conv = strdup(conv);
        b->n++;
    }
    fclose(f);
    return b->sess && b->n ? 0 : -1;
}

static void service_until(bench_t *b, int64_t deadline_us, int (*done)(bench_t *))
{
    while (bench_now_us() < deadline_us && !(done && done(b)) && !b->stopping)
        lws_service(b->ctx, 0);
}

static int all_connected(bench_t *b)
{
    size_t settled = 0;
    for (size_t i = 0; i < b->n; i++)
        settled += b->sess[i].ready || b->sess[i].closed;
    return settled == b->n;
}

int main(int argc, char **argv)
{
    bench_t b = {.port = 8081, .window = 1, .rate = 0};
    const char *file = NULL;
    double duration = 30, hold = 3, start_at = 0;
    long edge_pid = 0, senders = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--idle")) { b.idle = 1; continue; }
        if (!strcmp(a, "--port")) b.port = atoi(v);
        else if (!strcmp(a, "--sessions")) file = v;
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--rate")) b.rate = atof(v);
        else if (!strcmp(a, "--window")) b.window = atoi(v);
        else if (!strcmp(a, "--hold")) hold = atof(v);
        else if (!strcmp(a, "--edge-pid")) edge_pid = atol(v);
        else if (!strcmp(a, "--senders")) senders = atol(v);
        else if (!strcmp(a, "--start-at")) start_at = atof(v);
        else { fprintf(stderr, "natter-bench: unknown argument %s\n", a); return 2; }
        i++;
    }
    if (!file || load_sessions(&b, file) != 0 || duration <= 0 || duration > 600 ||
        b.window < 1 || senders < 0 || start_at < 0) {
        fprintf(stderr, "usage: natter-bench --sessions FILE [--port P] [--duration S<=600] "
                        "[--rate R] [--window W] [--idle --hold S] [--edge-pid PID] "
                        "[--senders K] [--start-at EPOCH_S]\n");
        return 2;
    }
    b.n_send = senders > 0 && (size_t)senders < b.n ? (size_t)senders : b.n;
    b.start_at_us = (int64_t)(start_at * 1e6);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    b.st.cap = 4000000;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = bench_protocols;
    info.user = &b;
    info.fd_limit_per_thread = (unsigned)b.n + 64;
    b.ctx = lws_create_context(&info);
    if (!b.ctx)
        return 1;

    long rss0 = rss_kb(edge_pid);
    int64_t t0 = bench_now_us();
    bench_connect_more(&b);
    service_until(&b, t0 + 120 * 1000000LL, all_connected);
    size_t ready = 0;
    for (size_t i = 0; i < b.n; i++)
        ready += b.sess[i].ready;
    long rss1 = rss_kb(edge_pid);
    printf("connected=%zu of %zu in %.1f s\n", ready, b.n, (double)(bench_now_us() - t0) / 1e6);
    if (edge_pid > 0 && rss0 > 0 && ready)
        printf("edge_rss_kb before=%ld after=%ld per_connection_bytes=%.0f\n", rss0, rss1,
               (double)(rss1 - rss0) * 1024.0 / (double)ready);
    if (b.idle) {
        lws_sul_schedule(b.ctx, 0, &b.tick, bench_tick, 1000); /* wakes lws_service */
        service_until(&b, bench_now_us() + (int64_t)(hold * 1e6), NULL);
        printf("after_hold closes=%llu edge_rss_kb=%ld\n", (unsigned long long)b.st.closes,
               rss_kb(edge_pid));
    } else {
        /* The tick runs from now on (lws_service sleeps up to 30 s without
         * a timer); it sends only from t_start_us. */
        int64_t now = bench_now_us();
        if (b.start_at_us > 0 && now > b.start_at_us)
            printf("start_late_ms=%.0f\n", (double)(now - b.start_at_us) / 1000.0);
        b.t_start_us = b.start_at_us > now ? b.start_at_us : now;
        b.t_end_us = b.t_start_us + (int64_t)(duration * 1e6);
        b.t_stop_us = b.t_end_us + 2000000; /* let replies in flight land */
        lws_sul_schedule(b.ctx, 0, &b.tick, bench_tick, 1000);
        service_until(&b, b.t_stop_us + 5000000, NULL);
        bench_stats_print(&b, duration);
    }
    b.stopping = 1;
    lws_context_destroy(b.ctx);
    for (size_t i = 0; i < b.n; i++) {
        free(b.sess[i].token);
        free(b.sess[i].conv);
        free(b.sess[i].rx);
    }
    free(b.sess);
    free(b.st.sent_lat);
    free(b.st.deliv_lat);
    return 0;
}
