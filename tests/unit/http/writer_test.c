/* Unit tests for the output chain (src/http/writer.c): order, growth without a limit, owned
 * memory, partial writes against a full socket, file segments by sendfile and by
 * read-and-write (sockets whose ops have no sendfile), a file that shrank. */
#define _GNU_SOURCE
#include "hs/writer.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static hs_loop_t loop;

/* A socketpair: s[0] wrapped as the writer's socket (not registered on the loop), s[1] the peer. */
typedef struct {
    hs_sock_t sock;
    int peer;
} pair_t;

static void pair_open(pair_t *p, const hs_sock_ops_t *ops)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    memset(&p->sock, 0, sizeof(p->sock));
    p->sock.io.fd = sv[0];
    p->sock.loop = &loop;
    p->sock.ops = ops;
    p->peer = sv[1];
}

static void pair_close(pair_t *p)
{
    close(p->sock.io.fd);
    close(p->peer);
}

/* Everything the peer can read now. */
static size_t drain(pair_t *p, hs_buf_t *into)
{
    char buf[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = read(p->peer, buf, sizeof(buf))) > 0) {
        if (into)
            hs_buf_append(into, buf, (size_t)n);
        total += (size_t)n;
    }
    return total;
}

static void test_order_and_growth(void)
{
    pair_t p;
    pair_open(&p, &hs_sock_tcp);
    hs_writer_t w = {0};
    /* far more than the old fixed 40 segments: memory, owned memory and file ranges mixed */
    char path[] = "/tmp/statusd-writer-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    if (write(fd, "0123456789", 10) != 10)
        abort();
    hs_buf_t want = {0};
    for (int i = 0; i < 500; i++) {
        char tag[16];
        int n = snprintf(tag, sizeof(tag), "<%d>", i);
        if (i % 3 == 0) {
            char *own = hs_malloc((size_t)n);
            memcpy(own, tag, (size_t)n);
            hs_writer_own(&w, own, (size_t)n);
            hs_buf_append(&want, tag, (size_t)n);
        } else if (i % 3 == 1) {
            hs_writer_file(&w, fd, i % 10, (size_t)(10 - i % 10));
            hs_buf_append(&want, "0123456789" + i % 10, (size_t)(10 - i % 10));
        } else {
            static const char lit[] = "[literal]";
            hs_writer_mem(&w, lit, sizeof(lit) - 1);
            hs_buf_append(&want, lit, sizeof(lit) - 1);
        }
    }
    hs_writer_mem(&w, "", 0); /* empty: ignored */
    is_int(hs_writer_count(&w), 500, "500 segments queued, none refused");
    is_int(w.pending, want.len, "pending counts every byte");
    hs_buf_t got = {0};
    ssize_t n;
    int rounds = 0;
    while (w.pending > 0 && rounds++ < 10000) {
        n = hs_writer_flush(&w, &p.sock);
        if (n == HS_ERROR)
            break;
        drain(&p, &got);
    }
    drain(&p, &got);
    is_int(w.pending, 0, "everything written");
    ok(got.len == want.len && memcmp(got.base, want.base, want.len) == 0, "bytes arrive in order (%zu bytes)", got.len);
    is_int(hs_writer_flush(&w, &p.sock), 0, "flushing an empty chain writes nothing");
    hs_writer_reset(&w);
    hs_buf_free(&got);
    hs_buf_free(&want);
    close(fd);
    pair_close(&p);
}

static void test_full_socket_and_reset(void)
{
    pair_t p;
    pair_open(&p, &hs_sock_tcp);
    hs_writer_t w = {0};
    size_t big = 4 << 20; /* more than the socket pair buffers */
    char *blob = hs_malloc(big);
    memset(blob, 'x', big);
    hs_writer_own(&w, blob, big);
    ssize_t n = hs_writer_flush(&w, &p.sock);
    ok(n > 0 && w.pending == big - (size_t)n, "a partial write leaves the rest pending (%zd written)", n);
    is_int(hs_writer_flush(&w, &p.sock), HS_AGAIN, "nothing more fits: HS_AGAIN");
    size_t total = (size_t)n;
    for (int i = 0; i < 100000 && w.pending; i++) {
        drain(&p, NULL);
        n = hs_writer_flush(&w, &p.sock);
        if (n > 0)
            total += (size_t)n;
    }
    is_int(total, big, "the whole owned block went out, then was freed (LeakSanitizer)");
    /* owned memory dropped unwritten is freed by reset */
    char *again = hs_malloc(100);
    hs_writer_own(&w, again, 100);
    hs_writer_reset(&w);
    is_int(w.pending, 0, "reset empties the chain");
    pair_close(&p);
}

static void test_peer_gone(void)
{
    pair_t p;
    pair_open(&p, &hs_sock_tcp);
    close(p.peer);
    p.peer = -1;
    hs_writer_t w = {0};
    hs_writer_mem(&w, "hello", 5);
    errno = 0;
    ok(hs_writer_flush(&w, &p.sock) == HS_ERROR && errno == EPIPE, "a departed peer: HS_ERROR with EPIPE");
    hs_writer_reset(&w);
    close(p.sock.io.fd);
}

static void test_file_shrank(void)
{
    pair_t p;
    pair_open(&p, &hs_sock_tcp);
    char path[] = "/tmp/statusd-writer-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    if (write(fd, "abc", 3) != 3)
        abort();
    hs_writer_t w = {0};
    hs_writer_file(&w, fd, 0, 10); /* promised 10 bytes, the file has 3 */
    ssize_t n = hs_writer_flush(&w, &p.sock);
    if (n == 3)
        n = hs_writer_flush(&w, &p.sock);
    ok(n == HS_ERROR && errno == EIO, "a file that ended before its segment: HS_ERROR with EIO");
    hs_writer_reset(&w);
    close(fd);
    pair_close(&p);
}

/* ops without sendfile, as TLS will be without kTLS: file bytes are read and written */
static ssize_t plain_read(hs_sock_t *s, void *b, size_t n)
{
    return read(s->io.fd, b, n);
}
static ssize_t plain_writev(hs_sock_t *s, const struct iovec *iov, int n)
{
    return writev(s->io.fd, iov, n);
}
static const hs_sock_ops_t no_sendfile = {.name = "test", .read = plain_read, .writev = plain_writev};

static void test_read_and_write_fallback(void)
{
    pair_t p;
    pair_open(&p, &no_sendfile);
    char path[] = "/tmp/statusd-writer-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    size_t len = 100000;
    char *data = hs_malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)('a' + i % 26);
    if (write(fd, data, len) != (ssize_t)len)
        abort();
    hs_writer_t w = {0};
    hs_writer_mem(&w, "HEAD", 4);
    hs_writer_file(&w, fd, 7, len - 7);
    hs_buf_t got = {0};
    for (int i = 0; i < 10000 && w.pending; i++) {
        if (hs_writer_flush(&w, &p.sock) == HS_ERROR)
            break;
        drain(&p, &got);
    }
    drain(&p, &got);
    ok(got.len == 4 + len - 7 && memcmp(got.base, "HEAD", 4) == 0 && memcmp(got.base + 4, data + 7, len - 7) == 0,
       "without sendfile, file bytes are read and written (%zu bytes)", got.len);
    hs_buf_free(&got);
    free(data);
    hs_writer_reset(&w);
    close(fd);
    pair_close(&p);
}

static void test_append(void)
{
    hs_writer_t a = {0}, b = {0};
    hs_writer_mem(&a, "a", 1);
    for (int i = 0; i < 50; i++) {
        char *o = hs_malloc(2);
        memcpy(o, "bb", 2);
        hs_writer_own(&b, o, 2);
    }
    hs_writer_append(&a, &b);
    is_int(hs_writer_count(&a), 51, "append moves every segment");
    is_int(a.pending, 101, "append moves the byte count");
    is_int(b.pending, 0, "the source is left empty");
    hs_writer_reset(&b);
    hs_writer_reset(&a); /* the owned blocks are freed once, by their new chain */
}

static void test_copies_share_blocks(void)
{
    pair_t p;
    pair_open(&p, &hs_sock_tcp);
    hs_writer_t w = {0};
    hs_buf_t want = {0}, got = {0};
    /* 10,000 small copies: packed into a few blocks, not one allocation each */
    for (int i = 0; i < 10000; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        hs_writer_copy(&w, line, (size_t)n);
        hs_buf_append(&want, line, (size_t)n);
        if (i == 5000)
            hs_writer_mem(&w, "--referenced--", 14), hs_buf_append(&want, "--referenced--", 14);
    }
    ok(hs_writer_count(&w) < 12, "10,000 copies in %zu segments", hs_writer_count(&w));
    for (int i = 0; i < 10000 && w.pending; i++) {
        if (hs_writer_flush(&w, &p.sock) == HS_ERROR)
            break;
        drain(&p, &got);
    }
    drain(&p, &got);
    ok(got.len == want.len && memcmp(got.base, want.base, want.len) == 0, "copies arrive in order (%zu bytes)",
       got.len);
    ok(w.spare != NULL || (hs_writer_count(&w) == 1 && hs_writer_at(&w, 0)->own),
       "a written-out block is kept for reuse");
    /* steady state: write, flush, write, flush ... reuses the same memory */
    const char *first = NULL;
    bool same = true;
    for (int i = 0; i < 100; i++) {
        char *t = hs_writer_tail(&w, 100);
        memset(t, 'y', 100);
        hs_writer_commit(&w, 100);
        if (hs_writer_flush(&w, &p.sock) != 100)
            same = false;
        drain(&p, NULL);
        if (!first)
            first = t;
    }
    ok(same, "tail, commit and flush in a loop");
    hs_writer_reset(&w);
    hs_buf_free(&want);
    hs_buf_free(&got);
    pair_close(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the server does */
    if (hs_loop_init(&loop) != HS_OK)
        return 1;
    test_order_and_growth();
    test_full_socket_and_reset();
    test_peer_gone();
    test_file_shrank();
    test_read_and_write_fallback();
    test_append();
    test_copies_share_blocks();
    hs_loop_destroy(&loop);
    return tap_done();
}
