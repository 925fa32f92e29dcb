/*
 * proc_stat.c - process_* metrics from /proc/self (see proc_stat.h).
 */
#include "common/proc_stat.h"

#include "common/log.h"
#include "common/prom.h"
#include "common/version.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

long proc_stat_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : n; /* not the descriptor opendir holds */
}

/* utime + stime (clock ticks) and starttime (ticks after boot) from
 * /proc/self/stat; the command name may hold spaces, so parse after ')'. */
static int read_stat(double *cpu_s, double *start_s)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st, start;
    /* fields after ")": state(3) ... utime(14) stime(15) ... starttime(22) */
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu",
                     &ut, &st, &start) != 3)
        return -1;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(ut + st) / hz;
    *start_s = (double)start / hz;
    return 0;
}

static double boot_time_s(void)
{
    struct timespec now, up;
    clock_gettime(CLOCK_REALTIME, &now);
    clock_gettime(CLOCK_BOOTTIME, &up);
    return (double)(now.tv_sec - up.tv_sec) + (double)(now.tv_nsec - up.tv_nsec) / 1e9;
}

void proc_stat_prometheus(textbuf_t *o)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    prom_header(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    prom_sample(o, "process_resident_memory_bytes", NULL, (double)rss * (double)sysconf(_SC_PAGESIZE));
    double cpu = 0, start = 0;
    if (read_stat(&cpu, &start) == 0) {
        prom_header(o, "process_cpu_seconds_total", "counter",
                    "Total user and system CPU time spent in seconds.");
        prom_sample(o, "process_cpu_seconds_total", NULL, cpu);
        prom_header(o, "process_start_time_seconds", "gauge",
                    "Start time of the process since unix epoch in seconds.");
        prom_sample(o, "process_start_time_seconds", NULL, (double)(long long)(boot_time_s() + start));
    }
    long fds = proc_stat_open_fds();
    if (fds >= 0) {
        prom_header(o, "process_open_fds", "gauge", "Number of open file descriptors.");
        prom_sample(o, "process_open_fds", NULL, (double)fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        prom_header(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        prom_sample(o, "process_max_fds", NULL,
                    rl.rlim_cur == RLIM_INFINITY ? 1e9 : (double)rl.rlim_cur);
    }
    prom_header(o, "natter_info", "gauge", "1 per natter process: its role, instance id, version.");
    textbuf_printf(o, "natter_info{role=\"%s\",instance_id=\"%s\",version=\"%s\"} 1\n",
                   log_service(), log_instance(), NATTER_VERSION);
}
