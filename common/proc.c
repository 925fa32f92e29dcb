/*
 * proc.c - rlimits and shutdown signals (see proc.h).
 */
#include "common/proc.h"

#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

void proc_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = old;
    log_info("file limit", "nofile_soft=%llu nofile_hard=%llu", (unsigned long long)rl.rlim_cur,
             (unsigned long long)rl.rlim_max);
}

static void stop_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

void proc_signals_block(void)
{
    sigset_t set;
    stop_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int proc_wait_stop(void)
{
    sigset_t set;
    int sig = 0;
    stop_set(&set);
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

int proc_wait_stop_for(int ms)
{
    sigset_t set;
    stop_set(&set);
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ns = (long)(end.tv_sec - now.tv_sec) * 1000000000L + (end.tv_nsec - now.tv_nsec);
        if (left_ns < 0)
            left_ns = 0;
        struct timespec ts = {.tv_sec = left_ns / 1000000000L, .tv_nsec = left_ns % 1000000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0)
            return sig;
        /* EINTR (a sanitizer's stop-the-world at exit, a debugger): wait on
         * for what is left; EAGAIN is the timeout. */
        if (errno != EINTR || left_ns == 0)
            return 0;
    }
}
