/*
 * redis_fixture.h - a real redis-server per test on a free loopback port
 * (no persistence, output discarded), for unit tests of store/ modules
 * that speak to Redis.  Header-only: each test file is its own program.
 */
#ifndef NT_REDIS_FIXTURE_H
#define NT_REDIS_FIXTURE_H

#include "common/err.h"
#include "store/redis.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__((unused)) pid_t redis_fx_pid = -1;
static __attribute__((unused)) int redis_fx_port;

/* Start redis-server on redis_fx_port (0: pick a free one first) and wait
 * until it answers. */
static __attribute__((unused)) void redis_fx_start(void)
{
    if (redis_fx_port == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                  getsockname(fd, (struct sockaddr *)&a, &len) == 0);
        close(fd);
        redis_fx_port = ntohs(a.sin_port);
    }
    char port[16];
    snprintf(port, sizeof port, "%d", redis_fx_port);
    redis_fx_pid = fork();
    cr_assert(redis_fx_pid >= 0);
    if (redis_fx_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", redis_fx_port);
        int ok = c && !c->err;
        redisFree(c);
        if (ok)
            return;
        usleep(20000);
    }
    cr_assert_fail("redis-server did not start");
}

/* Kill it (SIGKILL: data lost, as after a crash); the port is kept for a
 * restart with redis_fx_start. */
static __attribute__((unused)) void redis_fx_stop(void)
{
    if (redis_fx_pid > 0) {
        kill(redis_fx_pid, SIGKILL);
        waitpid(redis_fx_pid, NULL, 0);
        redis_fx_pid = -1;
    }
}

/* A pool of size connections to it. */
static __attribute__((unused)) redis_pool_t *redis_fx_pool(int size, int timeout_ms)
{
    redis_pool_t *p = NULL;
    redis_opts_t o = {.host = "127.0.0.1", .port = redis_fx_port, .size = size,
                      .timeout_ms = timeout_ms};
    cr_assert_eq(redis_pool_new(&o, &p), NT_OK);
    return p;
}

#endif
