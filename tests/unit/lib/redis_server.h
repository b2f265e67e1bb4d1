/* statusd unit tests — a real redis-server (Debian's) on a unix socket in a temporary directory,
 * started and stopped by PID, for the Redis stores' tests. Header-only.
 *
 *   redis_srv_t r;
 *   if (redis_srv_start(&r) != 0) skip…          (no redis-server: the tests say so and fail)
 *   … r.url is "unix:/tmp/statusd-redis-XXXXXX/redis.sock" …
 *   redis_srv_kill(&r);  redis_srv_restart(&r);  (the same socket: an outage and its end)
 *   redis_srv_stop(&r);                          (SIGTERM, wait, remove the directory)
 *
 * No persistence (--save '' --appendonly no), no TCP (--port 0). */
#ifndef HS_TEST_REDIS_SERVER_H
#define HS_TEST_REDIS_SERVER_H

#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    char dir[64];
    char sock[96];
    char url[112];
} redis_srv_t;

static inline long long redis_srv_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A synchronous connection for the test's own commands (NULL when Redis does not answer). */
static inline redisContext *redis_srv_connect(const redis_srv_t *r)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* Run one command; the reply is freed; returns its integer (or -1; for a string, its length). */
static inline long long redis_srv_cmd(const redis_srv_t *r, const char *fmt, ...)
{
    redisContext *c = redis_srv_connect(r);
    if (!c)
        return -2;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = -1;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    else if (rep && rep->type == REDIS_REPLY_STRING)
        v = (long long)rep->len;
    else if (rep && rep->type == REDIS_REPLY_STATUS)
        v = 0;
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return v;
}

static inline int redis_srv_spawn(redis_srv_t *r)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char log[128];
        snprintf(log, sizeof(log), "%s/redis.log", r->dir);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->sock, "--unixsocketperm", "700",
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", r->dir, "--logfile", log,
               (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    /* ready when it answers PING (bounded: 5 s) */
    for (long long end = redis_srv_ms() + 5000; redis_srv_ms() < end;) {
        if (redis_srv_cmd(r, "PING") == 0)
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

static inline int redis_srv_start(redis_srv_t *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "/tmp/statusd-redis-XXXXXX");
    if (!mkdtemp(r->dir))
        return -1;
    snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    snprintf(r->url, sizeof(r->url), "unix:%s", r->sock);
    return redis_srv_spawn(r);
}

/* Gone at once (SIGKILL), as a crash would; the socket file stays behind, refusing connections. */
static inline void redis_srv_kill(redis_srv_t *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

static inline int redis_srv_restart(redis_srv_t *r)
{
    unlink(r->sock);
    return redis_srv_spawn(r);
}

static inline void redis_srv_stop(redis_srv_t *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/redis.log", r->dir);
    unlink(path);
    unlink(r->sock);
    rmdir(r->dir);
}

#endif
