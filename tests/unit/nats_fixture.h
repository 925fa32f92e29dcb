/*
 * nats_fixture.h - a real nats-server per test, on a free loopback port,
 * for unit tests of the bus layer (test_bus.c, test_micro.c).  Header-only
 * because each test file is its own program; everything is static.
 */
#ifndef NT_NATS_FIXTURE_H
#define NT_NATS_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__((unused)) pid_t srv_pid = -1;
static __attribute__((unused)) int srv_port;
static __attribute__((unused)) int srv_mon_port;
static __attribute__((unused)) char srv_url[64];

static __attribute__((unused)) int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static __attribute__((unused)) int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static __attribute__((unused)) const char *server_bin(void)
{
    if (access("/usr/sbin/nats-server", X_OK) == 0)
        return "/usr/sbin/nats-server";
    if (access("/usr/bin/nats-server", X_OK) == 0)
        return "/usr/bin/nats-server";
    return "nats-server";
}

/* Start nats-server on port (user/pass optional) and wait until it listens. */
static __attribute__((unused)) void srv_start_on(int port, const char *user, const char *pass)
{
    char p[16], m[16];
    snprintf(p, sizeof p, "%d", port);
    srv_mon_port = free_port();
    snprintf(m, sizeof m, "%d", srv_mon_port);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        FILE *devnull = freopen("/dev/null", "w", stdout);
        devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        if (user)
            execlp(server_bin(), "nats-server", "-a", "127.0.0.1", "-p", p, "-m", m, "--user",
                   user, "--pass", pass, (char *)NULL);
        else
            execlp(server_bin(), "nats-server", "-a", "127.0.0.1", "-p", p, "-m", m, (char *)NULL);
        _exit(127);
    }
    srv_pid = pid;
    srv_port = port;
    snprintf(srv_url, sizeof srv_url, "nats://127.0.0.1:%d", port);
    for (int i = 0; i < 500; i++) {
        int fd = tcp_connect(port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(10000);
    }
    cr_assert_fail("nats-server did not start on port %d", port);
}

static __attribute__((unused)) void srv_stop(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = -1;
    }
}

#endif
