/* statusd — hiredis's async API on our event loop (see redis.h), the way hiredis's own adapters
 * put it on libev or libuv: hiredis says when it wants to read or write (addRead, addWrite …)
 * and the adapter turns that into interest in the descriptor; the loop calls back, and the
 * adapter hands the event to redisAsyncHandleRead / redisAsyncHandleWrite.
 *
 * Two choices differ from the usual adapters:
 *   - Writes are batched. hiredis asks to write after every command; the adapter posts one task
 *     for the end of the loop's batch instead (hs_loop_post) and writes then, so that the steps
 *     of every request handled in one wake-up leave in one write(2) and arrive together — the
 *     pipelining that makes a shared store cheap. Only when the socket does not take everything
 *     does the descriptor wait for writability.
 *   - Replies are built by our own functions, bounded: an array of more than MAX_ELEMENTS, or a
 *     reply nobody asked for, is refused (the reader reports an error and the connection is
 *     dropped) instead of reaching hiredis 0.14, which asserts on a reply without a pending
 *     callback. A reply that would buffer beyond HS__REDIS_REPLY_MAX bytes drops the connection
 *     too: a misbehaving server costs a reconnection, never the process's memory.
 * Reads are level-triggered: hiredis reads 16 KiB per call and the loop tells it again while
 * more is waiting, so nothing needs to be drained in one go. */
#define _GNU_SOURCE
#include "redis.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_ELEMENTS 100000

struct hs__redis_adapter_s {
    hs_io_t io; /* first: the loop hands us &io */
    hs_loop_t *loop;
    redisAsyncContext *ac; /* NULL once hiredis cleaned up */
    int events;            /* the interest registered now */
    bool registered, flushing;
    hs_task_t flush;
    void (*on_gone)(void *arg, const redisAsyncContext *gone);
    void *arg;
};

/* ---- bounded reply objects ---- */

static redisReply *reply_new(const redisReadTask *task, int type)
{
    if (!task->parent) {
        /* a top-level reply: some command must be waiting for it */
        const redisAsyncContext *ac = task->privdata;
        if (ac && !ac->replies.head)
            return NULL;
    }
    redisReply *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        if (!parent || parent->type != REDIS_REPLY_ARRAY || task->idx < 0 || (size_t)task->idx >= parent->elements) {
            free(r);
            return NULL;
        }
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    if (len > HS__REDIS_REPLY_MAX)
        return NULL;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    redisReply *r = reply_new(task, task->type);
    if (!r) {
        free(copy);
        return NULL;
    }
    memcpy(copy, str, len);
    copy[len] = '\0';
    r->str = copy;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    if (elements < 0 || elements > MAX_ELEMENTS)
        return NULL;
    redisReply **el = NULL;
    if (elements > 0 && !(el = calloc((size_t)elements, sizeof(*el))))
        return NULL;
    redisReply *r = reply_new(task, REDIS_REPLY_ARRAY);
    if (!r) {
        free(el);
        return NULL;
    }
    r->element = el;
    r->elements = (size_t)elements;
    return r;
}

static void *create_integer(const redisReadTask *task, long long v)
{
    redisReply *r = reply_new(task, REDIS_REPLY_INTEGER);
    if (r)
        r->integer = v;
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return reply_new(task, REDIS_REPLY_NIL);
}

redisReplyObjectFunctions hs__redis_reply_functions = {create_string, create_array, create_integer, create_nil,
                                                       freeReplyObject};

/* ---- interest ---- */

static void apply(hs__redis_adapter_t *a, int events)
{
    if (a->registered && events == a->events)
        return;
    if (hs_io_set_events(a->loop, &a->io, events) == HS_OK) {
        a->registered = true;
        a->events = events;
    }
}

static void add_read(void *p)
{
    hs__redis_adapter_t *a = p;
    apply(a, a->events | HS_EV_READ);
}

static void del_read(void *p)
{
    hs__redis_adapter_t *a = p;
    apply(a, a->events & ~HS_EV_READ);
}

static void add_write(void *p)
{
    hs__redis_adapter_t *a = p;
    /* connecting (writability says the connection is made), or a write that did not finish:
     * wait for the socket; else write at the end of the batch, with everything else queued */
    if (!(a->ac->c.flags & REDIS_CONNECTED) || a->flushing)
        apply(a, a->events | HS_EV_WRITE);
    else
        hs_loop_post(a->loop, &a->flush);
}

static void del_write(void *p)
{
    hs__redis_adapter_t *a = p;
    apply(a, a->events & ~HS_EV_WRITE);
}

static void cleanup(void *p)
{
    hs__redis_adapter_t *a = p;
    const redisAsyncContext *ac = a->ac;
    hs_loop_unpost(a->loop, &a->flush);
    a->ac = NULL;
    hs_io_close(a->loop, &a->io); /* hiredis closes the descriptor right after */
    if (a->on_gone)
        a->on_gone(a->arg, ac);
}

static void flush(hs_task_t *t)
{
    hs__redis_adapter_t *a = (hs__redis_adapter_t *)((char *)t - offsetof(hs__redis_adapter_t, flush));
    if (!a->ac)
        return;
    a->flushing = true;
    redisAsyncHandleWrite(a->ac); /* may end the context (cleanup): a stays until dispose */
    a->flushing = false;
}

static void on_event(hs_io_t *io, int events)
{
    hs__redis_adapter_t *a = (hs__redis_adapter_t *)io;
    if (events == HS_EV_DISPOSE) {
        free(a);
        return;
    }
    if (a->ac && (events & (HS_EV_READ | HS_EV_HUP | HS_EV_ERROR))) {
        redisAsyncHandleRead(a->ac);
        if (a->ac) {
            const redisReader *r = a->ac->c.reader;
            if (r && r->len - r->pos > HS__REDIS_REPLY_MAX) {
                hs_log_warn("redis: a reply of more than %u bytes: connection dropped", HS__REDIS_REPLY_MAX);
                redisAsyncFree(a->ac); /* outside hiredis's callbacks: at once */
            }
        }
    }
    if (a->ac && (events & HS_EV_WRITE)) {
        a->flushing = true;
        redisAsyncHandleWrite(a->ac);
        a->flushing = false;
    }
}

int hs__redis_attach(redisAsyncContext *ac, hs_loop_t *loop, void (*on_gone)(void *arg, const redisAsyncContext *gone),
                     void *arg)
{
    if (ac->ev.data)
        return -EEXIST;
    hs__redis_adapter_t *a = hs_calloc(1, sizeof(*a));
    a->io.fd = ac->c.fd;
    a->io.cb = on_event;
    a->loop = loop;
    a->ac = ac;
    a->flush.cb = flush;
    a->on_gone = on_gone;
    a->arg = arg;
    int r = hs_io_set_events(loop, &a->io, 0);
    if (r != HS_OK) {
        free(a);
        return r;
    }
    a->registered = true;
    ac->c.reader->fn = &hs__redis_reply_functions;
    ac->c.reader->privdata = ac;
    ac->ev.data = a;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return HS_OK;
}
