/* statusd — synchronous Redis connections with a deadline, pooled (see redis.h).
 *
 * For the WebDAV lock store, whose interface is synchronous (its calls come from workers for one
 * resource and from helper threads for whole trees): a lock operation costs one round trip to
 * Redis on the calling thread. What keeps that acceptable is the deadline — connecting, writing
 * and reading together never take longer than the configured timeout (50 ms by default) — and
 * the back-off: once Redis failed, operations fail at once (and the caller's failure policy
 * answers) until the back-off has passed, instead of each paying the timeout.
 *
 * A connection is made with hiredis's blocking connect (bounded by the timeout), then switched to
 * non-blocking, so that every later wait is a poll(2) with what is left of the deadline. Replies
 * are read through hiredis's reader with the bounded reply functions, and the buffered bytes are
 * checked after every read: no reply can grow past HS__REDIS_REPLY_MAX. A connection that failed
 * in any way is closed, never returned to the pool (its stream may be half-read). */
#define _GNU_SOURCE
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_IDLE 16
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct hs__redis_pool_s {
    hs_redis_addr_t addr;
    char url[HS_REDIS_PATH_MAX + HS_REDIS_HOST_MAX + 16];
    uint32_t timeout_ms;
    hs__redis_counters_t *st;
    char *what, *note;
    pthread_mutex_t mu;
    redisContext *idle[MAX_IDLE];
    int nidle;
    _Atomic uint64_t down_until_ms; /* monotonic: no attempt before */
    _Atomic uint32_t backoff_ms;
    _Atomic bool down; /* an outage is under way (logged when it began) */
};

hs__redis_pool_t *hs__redis_pool_new(const hs_redis_addr_t *a, uint32_t timeout_ms, hs__redis_counters_t *stats,
                                     const char *what)
{
    hs__redis_pool_t *p = hs_calloc(1, sizeof(*p));
    p->addr = *a;
    hs_redis_addr_format(a, p->url, sizeof(p->url));
    p->timeout_ms = timeout_ms ? timeout_ms : 50;
    p->st = stats;
    p->what = hs_strdup(what ? what : "redis");
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void hs__redis_pool_free(hs__redis_pool_t *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nidle; i++)
        redisFree(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    free(p->what);
    free(p->note);
    free(p);
}

bool hs__redis_pool_up(hs__redis_pool_t *p)
{
    return !atomic_load(&p->down);
}

static uint64_t now_ms(void)
{
    return hs__redis_now_us() / 1000;
}

static void went_down(hs__redis_pool_t *p, int err)
{
    uint32_t b = atomic_load(&p->backoff_ms);
    b = b ? HS_MIN(b * 2, BACKOFF_MAX_MS) : BACKOFF_FIRST_MS;
    atomic_store(&p->backoff_ms, b);
    atomic_store(&p->down_until_ms, now_ms() + b);
    atomic_store_explicit(&p->st->up, false, memory_order_relaxed);
    if (!atomic_exchange(&p->down, true)) {
        HS__STAT_ADD(p->st, outages, 1);
        hs_log_warn("%s: Redis at %s %s: %s", p->what, p->url,
                    err == -ETIMEDOUT ? "did not answer in time" : "is unreachable",
                    p->note ? p->note : "operations fail meanwhile");
    }
}

static void went_up(hs__redis_pool_t *p)
{
    atomic_store(&p->backoff_ms, 0);
    atomic_store_explicit(&p->st->up, true, memory_order_relaxed);
    if (atomic_load(&p->down) && atomic_exchange(&p->down, false))
        hs_log_info("%s: Redis at %s is reachable again", p->what, p->url);
}

void hs__redis_pool_note(hs__redis_pool_t *p, const char *note)
{
    free(p->note);
    p->note = note ? hs_strdup(note) : NULL;
}

/* Wait for `events` on c's descriptor until deadline_us: HS_OK, -ETIMEDOUT, or -errno. */
static int wait_fd(redisContext *c, short events, uint64_t deadline_us)
{
    for (;;) {
        uint64_t now = hs__redis_now_us();
        if (now >= deadline_us)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int ms = (int)((deadline_us - now + 999) / 1000);
        int n = poll(&pfd, 1, ms);
        if (n > 0)
            return HS_OK;
        if (n == 0)
            continue; /* the deadline is checked above */
        if (errno != EINTR)
            return -errno;
    }
}

static redisContext *connect_one(hs__redis_pool_t *p, uint64_t deadline_us, int *err)
{
    uint64_t left = deadline_us - hs__redis_now_us();
    struct timeval tv = {.tv_sec = (time_t)(left / 1000000), .tv_usec = (suseconds_t)(left % 1000000)};
    redisContext *c = p->addr.unix_socket ? redisConnectUnixWithTimeout(p->addr.path, tv)
                                          : redisConnectWithTimeout(p->addr.ip, p->addr.port, tv);
    if (!c || c->err) {
        *err = c && c->err == REDIS_ERR_IO && (errno == ETIMEDOUT || errno == EINPROGRESS) ? -ETIMEDOUT : -ECONNREFUSED;
        if (c)
            redisFree(c);
        return NULL;
    }
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        redisFree(c);
        *err = -ECONNREFUSED;
        return NULL;
    }
    c->flags &= ~REDIS_BLOCK;
    c->reader->fn = &hs__redis_reply_functions;
    c->reader->privdata = NULL;
    HS__STAT_ADD(p->st, connects, 1);
    return c;
}

/* One request on c: write cmd, read one reply. HS_OK with *out, or an error (c must go). */
static int exchange(redisContext *c, const char *cmd, size_t len, uint64_t deadline_us, redisReply **out)
{
    if (redisAppendFormattedCommand(c, cmd, len) != REDIS_OK)
        return -EIO;
    int done = 0;
    while (!done) {
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -ECONNREFUSED;
        if (!done) {
            int r = wait_fd(c, POLLOUT, deadline_us);
            if (r)
                return r;
        }
    }
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
            return -EPROTO;
        if (reply) {
            *out = reply;
            return HS_OK;
        }
        int r = wait_fd(c, POLLIN, deadline_us);
        if (r)
            return r;
        if (redisBufferRead(c) != REDIS_OK)
            return c->err == REDIS_ERR_PROTOCOL || c->err == REDIS_ERR_OOM ? -EPROTO : -ECONNREFUSED;
        if (c->reader->len - c->reader->pos > HS__REDIS_REPLY_MAX)
            return -EPROTO;
    }
}

static int run(hs__redis_pool_t *p, const char *cmd, size_t len, redisReply **out)
{
    *out = NULL;
    uint64_t start = hs__redis_now_us(), deadline = start + (uint64_t)p->timeout_ms * 1000;
    if (start / 1000 < atomic_load(&p->down_until_ms)) {
        HS__STAT_ADD(p->st, unreachable, 1);
        return -ECONNREFUSED; /* in back-off: the caller's policy answers at once */
    }
    redisContext *c = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nidle)
        c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    int r = HS_OK;
    bool reused = c != NULL;
    if (!c)
        c = connect_one(p, deadline, &r);
    if (c)
        r = exchange(c, cmd, len, deadline, out);
    if (r != HS_OK && r != -ETIMEDOUT && reused) {
        /* an idle connection that Redis closed meanwhile (it restarted, or timed it out): one
         * more try on a new connection within the same deadline, before calling it an outage */
        redisFree(c);
        if (*out) {
            freeReplyObject(*out);
            *out = NULL;
        }
        r = HS_OK;
        if ((c = connect_one(p, deadline, &r)))
            r = exchange(c, cmd, len, deadline, out);
    }
    if (r != HS_OK) {
        if (c)
            redisFree(c);
        if (*out) {
            freeReplyObject(*out);
            *out = NULL;
        }
        if (r == -ETIMEDOUT)
            HS__STAT_ADD(p->st, timeouts, 1);
        else if (r == -EPROTO)
            HS__STAT_ADD(p->st, bad_replies, 1);
        else
            HS__STAT_ADD(p->st, unreachable, 1);
        went_down(p, r);
        return r;
    }
    hs__redis_latency(p->st, hs__redis_now_us() - start, false);
    HS__STAT_ADD(p->st, answered, 1);
    went_up(p);
    pthread_mutex_lock(&p->mu);
    if (p->nidle < MAX_IDLE) {
        p->idle[p->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (c)
        redisFree(c);
    return HS_OK;
}

int hs__redis_pool_eval(hs__redis_pool_t *p, hs__redis_script_t *s, int nkeys, int nargs, const hs_iovec_t *args,
                        redisReply **out)
{
    hs__redis_script_init(s);
    hs_buf_t b = {0};
    hs__redis_format_eval(&b, s, false, nkeys, nargs, args);
    int r = run(p, b.base, b.len, out);
    if (r == HS_OK && hs__redis_noscript(*out)) {
        /* Redis restarted, or SCRIPT FLUSH: send the body once; it stays cached after */
        freeReplyObject(*out);
        b.len = 0;
        hs__redis_format_eval(&b, s, true, nkeys, nargs, args);
        r = run(p, b.base, b.len, out);
    }
    hs_buf_free(&b);
    return r;
}

int hs__redis_pool_command(hs__redis_pool_t *p, int argc, const hs_iovec_t *argv, redisReply **out)
{
    const char *av[16];
    size_t al[16];
    if (argc > 16)
        return -EINVAL;
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i].base ? argv[i].base : "";
        al[i] = argv[i].len;
    }
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, av, al);
    if (len < 0)
        return -ENOMEM;
    int r = run(p, cmd, (size_t)len, out);
    redisFreeCommand(cmd);
    return r;
}
