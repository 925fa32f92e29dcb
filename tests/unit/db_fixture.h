/*
 * db_fixture.h - a private mariadbd for the store unit tests (test_store.c,
 * test_msg_store.c).  Header-only because each test file is its own program.
 *
 * Mocks would not tell whether the SQL is right or whether FOR UPDATE
 * serialises a race.  The criterion runner process starts its own mariadbd
 * (temp datadir, free port, loopback) in PRE_ALL, creates the natter user
 * and database, applies sql/ ($NATTER_SQL_DIR, else the source tree's) and
 * passes the port to the test processes in the environment
 * (NATTER_TEST_DB_PORT; db_fixture_port() reads it).  POST_ALL, run even
 * when tests fail or crash, kills it and removes the datadir;
 * PR_SET_PDEATHSIG covers a killed runner.  Tests run in parallel on one
 * database, so they name their rows with the pid.
 */
#ifndef NT_DB_FIXTURE_H
#define NT_DB_FIXTURE_H

#include "common/err.h"
#include "store/db.h"
#include "store/migrate.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DBFX_UNUSED __attribute__((unused))

static pid_t srv_pid;
static char srv_dir[64];
static int port;

static DBFX_UNUSED db_opts_t opts(const char *name, int size)
{
    return (db_opts_t){.host = "127.0.0.1", .port = port, .user = "natter",
                       .password = "natter", .name = name, .size = size};
}

static DBFX_UNUSED const char *sql_dir(void)
{
    const char *env = getenv("NATTER_SQL_DIR");
    return env && *env ? env : NATTER_SOURCE_DIR "/sql";
}

/* fork/exec argv with output to log; the child dies with the runner. */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || close(fd) < 0)
        _exit(126);
    execv(argv[0], argv);
    _exit(127);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a, p = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        p = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return p ? (int)p : -1;
}

/* Connect as root over the socket, retrying until the server answers. */
static MYSQL *root_connect(const char *sock)
{
    for (int i = 0; i < 300; i++) { /* 15 s */
        if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
            srv_pid = 0;
            return NULL;
        }
        MYSQL *c = mysql_init(NULL);
        if (c && mysql_real_connect(c, "localhost", "root", "", NULL, 0, sock, 0))
            return c;
        mysql_close(c);
        usleep(50 * 1000);
    }
    return NULL;
}

/* Create the natter user and database, then apply sql/ as natter. */
static int bootstrap(MYSQL *root)
{
    static const char *const boot[] = {
        "CREATE DATABASE natter CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "CREATE USER 'natter'@'%' IDENTIFIED BY 'natter'",
        "GRANT ALL ON `natter%`.* TO 'natter'@'%'",
    };
    for (size_t i = 0; i < sizeof boot / sizeof boot[0]; i++)
        if (mysql_query(root, boot[i]) != 0)
            return fprintf(stderr, "bootstrap: %s\n", mysql_error(root)), -1;
    db_opts_t o = opts("natter", 1);
    db_pool_t *pool;
    MYSQL *db;
    char buf[16];
    int applied = -1, rc = db_pool_new(&o, &pool);
    if (rc != NT_OK)
        return -1;
    if ((rc = db_acquire(pool, 1000, &db)) == NT_OK) {
        rc = migrate_run(db, sql_dir(), &applied);
        db_release(pool, db, 0);
    }
    db_pool_free(pool);
    snprintf(buf, sizeof buf, "%d", applied);
    setenv("NATTER_TEST_MIGRATED", buf, 1);
    snprintf(buf, sizeof buf, "%d", port);
    setenv("NATTER_TEST_DB_PORT", buf, 1);
    return rc == NT_OK ? 0 : -1;
}

static int start_server(void)
{
    char log[128], dd[160], sock[160], port_arg[32];
    snprintf(srv_dir, sizeof srv_dir, "/tmp/natter-db-XXXXXX");
    if (!mkdtemp(srv_dir))
        return -1;
    snprintf(log, sizeof log, "%s/mariadb.log", srv_dir);
    snprintf(dd, sizeof dd, "--datadir=%s/data", srv_dir);
    snprintf(sock, sizeof sock, "--socket=%s/sock", srv_dir);
    char *install[] = {"/usr/bin/mariadb-install-db", "--no-defaults", dd, "--user=root",
                       "--auth-root-authentication-method=normal", "--skip-test-db", NULL};
    int status;
    port = free_port();
    pid_t ip = spawn(install, log);
    if (ip < 0 || waitpid(ip, &status, 0) != ip || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || port < 0)
        return -1;
    snprintf(port_arg, sizeof port_arg, "--port=%d", port);
    char *server[] = {"/usr/sbin/mariadbd", "--no-defaults", dd, sock, port_arg,
                      "--bind-address=127.0.0.1", "--user=root", "--skip-log-bin",
                      "--skip-name-resolve", "--innodb-flush-log-at-trx-commit=0",
                      "--innodb-doublewrite=0", "--innodb-buffer-pool-size=64M", NULL};
    if ((srv_pid = spawn(server, log)) < 0)
        return -1;
    MYSQL *root = root_connect(sock + strlen("--socket="));
    int rc = root ? bootstrap(root) : -1;
    mysql_close(root);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void stop_server(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGKILL); /* the data is thrown away: no clean shutdown needed */
        waitpid(srv_pid, NULL, 0);
        srv_pid = 0;
    }
    if (srv_dir[0] && !getenv("NATTER_TEST_KEEP"))
        nftw(srv_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (start_server() != 0) {
        fprintf(stderr, "db_fixture: mariadbd did not start; see %s/mariadb.log\n", srv_dir);
        setenv("NATTER_TEST_KEEP", "1", 1);
        stop_server();
        unsetenv("NATTER_TEST_DB_PORT");
    }
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    stop_server();
}

/* In a test process: the runner's server port, or fail the test. */
static DBFX_UNUSED int db_fixture_port(void)
{
    const char *p = getenv("NATTER_TEST_DB_PORT");
    cr_assert(p && *p, "mariadbd is not running (see the runner's output)");
    port = atoi(p);
    return port;
}

#endif
