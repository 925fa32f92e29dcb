/*
 * bench_main.c - `natter-bench`: arguments, the sessions file, phases
 * (connect, measure memory, send or hold, drain) and the report.
 *
 *   natter-bench --port 8081 --sessions FILE [--duration 30] [--rate 2000]
 *                [--window 1] [--idle --hold 5 [--ping 30]] [--edge-pid PID]
 *                [--senders K] [--start-at EPOCH_S] [--src 127.0.0.2]
 *                [--connect-timeout 120]
 *
 * FILE has one "token conversation_id" per line.  --rate 0 sends as fast
 * as replies come back (each session keeps --window sends in flight).
 * --senders K: only the first K sessions send (default all); every session
 * receives and acks.  --start-at: start sending at that wall-clock time
 * (seconds since the epoch) if connected by then, so two runs share one
 * load phase.  --idle holds the sessions for --hold seconds (or until
 * SIGTERM), each pinging every --ping seconds; the "connected=" line is
 * flushed at once so a driver can start measuring.  Connecting gives up
 * after --connect-timeout seconds (sessions not ready by then do not count).  --src connects from
 * that loopback address (more ephemeral ports: one client per address).
 */
#include "bench.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_SESSIONS 20000
#define TICK_US 5000

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    (void)sig;
    stop_signal = 1;
}

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
        if (!b->sess[b->n].token || !b->sess[b->n].conv)
            break;
        b->n++;
    }
    fclose(f);
    return b->sess && b->n ? 0 : -1;
}

/* Run the loop until deadline (or done, or a signal); ticks every TICK_US. */
static void run_until(bench_t *b, int64_t deadline_us, int (*done)(bench_t *))
{
    int64_t next_tick = bench_now_us();
    while (!stop_signal && !(done && done(b))) {
        int64_t now = bench_now_us();
        if (now >= deadline_us)
            break;
        if (now >= next_tick) {
            bench_tick(b, now);
            next_tick = now + TICK_US;
        }
        int64_t wait = (next_tick < deadline_us ? next_tick : deadline_us) - now;
        if (bench_poll(b, (int)((wait + 999) / 1000)) < 0)
            break;
    }
}

static int all_connected(bench_t *b)
{
    size_t closed = 0;
    if (b->next_connect < b->n || b->connecting || b->n_ready < b->open)
        return 0;
    for (size_t i = 0; i < b->n; i++)
        closed += b->sess[i].state == BS_CLOSED;
    return b->n_ready + closed >= b->n;
}

static void free_all(bench_t *b)
{
    bench_fini(b);
    for (size_t i = 0; i < b->n; i++) {
        free(b->sess[i].token);
        free(b->sess[i].conv);
    }
    free(b->sess);
    free(b->st.sent_lat);
    free(b->st.deliv_lat);
    free(b);
}

static int usage(void)
{
    fprintf(stderr, "usage: natter-bench --sessions FILE [--port P] [--duration S<=600] "
                    "[--rate R] [--window W] [--idle --hold S<=3600 [--ping S]] [--edge-pid PID] "
                    "[--senders K] [--start-at EPOCH_S] [--src A.B.C.D] "
                    "[--connect-timeout S<=900]\n");
    return 2;
}

int main(int argc, char **argv)
{
    bench_t *b = calloc(1, sizeof *b); /* its read buffer is too big for the stack */
    const char *file = NULL;
    double duration = 30, hold = 3, start_at = 0, connect_s = 120;
    long edge_pid = 0, senders = 0;
    if (!b)
        return 1;
    b->port = 8081;
    b->window = 1;
    b->ep = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--idle")) { b->idle = 1; continue; }
        if (!strcmp(a, "--port")) b->port = atoi(v);
        else if (!strcmp(a, "--sessions")) file = v;
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--rate")) b->rate = atof(v);
        else if (!strcmp(a, "--window")) b->window = atoi(v);
        else if (!strcmp(a, "--hold")) hold = atof(v);
        else if (!strcmp(a, "--connect-timeout")) connect_s = atof(v);
        else if (!strcmp(a, "--ping")) b->ping_s = atof(v);
        else if (!strcmp(a, "--edge-pid")) edge_pid = atol(v);
        else if (!strcmp(a, "--senders")) senders = atol(v);
        else if (!strcmp(a, "--start-at")) start_at = atof(v);
        else if (!strcmp(a, "--src")) {
            if (inet_pton(AF_INET, v, &b->src) != 1) return usage();
        } else { fprintf(stderr, "natter-bench: unknown argument %s\n", a); return usage(); }
        i++;
    }
    if (!file || load_sessions(b, file) != 0 || duration <= 0 || duration > 600 || hold < 0 ||
        hold > 3600 || connect_s <= 0 || connect_s > 900 || b->ping_s < 0 || b->window < 1 || senders < 0 || start_at < 0)
        return usage();
    b->n_send = senders > 0 && (size_t)senders < b->n ? (size_t)senders : b->n;
    b->start_at_us = (int64_t)(start_at * 1e6);
    b->st.cap = 4000000;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (bench_init(b) != 0) {
        free_all(b);
        return 1;
    }

    long rss0 = rss_kb(edge_pid);
    int64_t t0 = bench_now_us();
    run_until(b, t0 + (int64_t)(connect_s * 1e6), all_connected);
    size_t ready = 0;
    for (size_t i = 0; i < b->n; i++)
        ready += b->sess[i].ready;
    long rss1 = rss_kb(edge_pid);
    printf("connected=%zu of %zu in %.1f s (connect_failures=%llu closes=%llu)\n", ready, b->n,
           (double)(bench_now_us() - t0) / 1e6, (unsigned long long)b->st.conn_fail,
           (unsigned long long)b->st.closes);
    if (edge_pid > 0 && rss0 > 0 && ready)
        printf("edge_rss_kb before=%ld after=%ld per_connection_bytes=%.0f\n", rss0, rss1,
               (double)(rss1 - rss0) * 1024.0 / (double)ready);
    fflush(stdout);
    if (b->idle) {
        b->t_hold_us = bench_now_us();
        run_until(b, b->t_hold_us + (int64_t)(hold * 1e6), NULL);
        printf("after_hold seconds=%.1f closes=%llu pings=%llu pongs=%llu errors=%llu "
               "edge_rss_kb=%ld\n",
               (double)(bench_now_us() - b->t_hold_us) / 1e6, (unsigned long long)b->st.closes,
               (unsigned long long)b->st.pings, (unsigned long long)b->st.pongs,
               (unsigned long long)b->st.errors, rss_kb(edge_pid));
    } else {
        int64_t now = bench_now_us();
        if (b->start_at_us > 0 && now > b->start_at_us)
            printf("start_late_ms=%.0f\n", (double)(now - b->start_at_us) / 1000.0);
        b->t_start_us = b->start_at_us > now ? b->start_at_us : now;
        b->t_end_us = b->t_start_us + (int64_t)(duration * 1e6);
        b->t_stop_us = b->t_end_us + 2000000; /* let replies in flight land */
        run_until(b, b->t_stop_us, NULL);
        bench_stats_print(b, duration);
    }
    free_all(b);
    return 0;
}
