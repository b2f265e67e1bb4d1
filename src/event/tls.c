/* statusd — TLS as an ops table of the engine's sockets (include/hs/tls.h), with OpenSSL 3.
 *
 * A socket with TLS keeps its descriptor and its loop registration; only s->ops changes (to
 * tls_ops, or ktls_ops once the kernel took over the record layer) and s->ops_data holds the
 * session (conn_t). The descriptor is handed to OpenSSL through its own socket BIO, which is what
 * lets OpenSSL switch a connection to kTLS by itself when the kernel offers it.
 *
 * Two ways to the socket. Where the kernel offers kTLS, OpenSSL gets the descriptor through its
 * own socket BIO, which is what lets it hand the record layer to the kernel (file bytes then
 * leave by SSL_sendfile). Everywhere else the session reads and writes through this file's BIO
 * (own_bio): reads are plain read(2) calls that note whether the kernel had less than asked for,
 * and the records SSL_write makes are gathered in the connection's output buffer and leave
 * together, so a 64 KiB piece of a file costs one write(2) rather than one per 16 KiB record.
 *
 * Reading. SSL_read hands out one record at a time, while the engine's sockets take "a read that
 * came back short" to mean that the kernel has nothing more, and then wait for the next
 * edge-triggered event. So tls_read keeps reading records until the kernel is drained — its last
 * read(2) came back short and OpenSSL holds nothing more (own_bio), or OpenSSL needed the socket
 * again (WANT_READ: EAGAIN) — or the caller's buffer is full: a short answer then means what it
 * means for TCP. Read-ahead is on, so a record costs no more than one read(2).
 *
 * Writing. The writer (src/http/writer.c) keeps its bytes queued until the socket reports them
 * written and then offers the same bytes again, which is what both ways need. Through own_bio,
 * SSL_write never waits: the records go to the output buffer, and when the socket does not take
 * all of them the call reports EAGAIN and remembers how much plaintext they hold (pending_plain);
 * the next call sends the rest first and only then reports those bytes written — never a byte
 * before it is on the wire. Through OpenSSL's socket BIO, a write that returned WANT_WRITE must
 * be repeated with at least as many bytes, starting with the same ones: tls_writev remembers how
 * many it offered (retry_len) and offers exactly that many again. Either way small segments (a
 * response head and a 12-byte body) are gathered into one record on the stack, and a large one is
 * handed to OpenSSL in place (ACCEPT_MOVING_WRITE_BUFFER lets a retry come from another address).
 *
 * Idle connections. The record buffers (about 34 KiB) are given back whenever the connection
 * waits for its peer with nothing buffered (the idle op, called by hs_sock_release_buffer: a
 * keep-alive connection between requests, an upstream in the gateway's pool), so an idle
 * connection keeps only the session state. This is SSL_MODE_RELEASE_BUFFERS at the pace of
 * requests rather than of records: a 100 KiB response allocates its write buffer once, not seven
 * times.
 *
 * Errors. OpenSSL reports through a per-thread error queue that must be empty before each call
 * whose outcome SSL_get_error interprets; every call below clears it first. */
#define _GNU_SOURCE
#include "hs/tls.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RECORD_MAX 16384       /* TLS plaintext record size (RFC 8446 §5.1) */
#define LARGE_WRITE 65536      /* a segment this large is written in place, several records per call */
#define EARLY_DATA_MAX 16384   /* 0-RTT bytes accepted: enough for a few GET heads */
#define OCSP_FILE_MAX 65536    /* an OCSP response is a few KiB */
#define OCSP_SKEW_SEC 300      /* clock skew allowed for an OCSP response's thisUpdate */
#define SESSION_CACHE_MAX 8192 /* server-side sessions (TLS 1.2 ids; single-use 0-RTT tickets) */

/* Mozilla's "intermediate" TLS 1.2 suites (server-side-tls guidelines 5.7), in its order: ECDHE
 * (and DHE with RFC 7919 groups) with AES-GCM or ChaCha20-Poly1305. TLS 1.3 keeps OpenSSL's three
 * suites, which are the profile's too. */
static const char MOZILLA_TLS12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
static const char MOZILLA_GROUPS[] = "X25519:P-256:P-384";

/* ---- sniffing ---- */

int hs_tls_sniff(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0)
        return HS_TLS_SNIFF_AGAIN;
    if (p[0] == 0x16) /* a TLS handshake record: ClientHello (RFC 8446 §5.1) */
        return HS_TLS_SNIFF_TLS;
    if (!hs_is_tchar(p[0]))
        return HS_TLS_SNIFF_OTHER;
    /* a request line starts with a method token and one space (RFC 9112 §3) */
    for (size_t i = 1; i < len && i < HS_TLS_SNIFF_MAX; i++) {
        if (p[i] == ' ')
            return HS_TLS_SNIFF_HTTP;
        if (!hs_is_tchar(p[i]))
            return HS_TLS_SNIFF_OTHER;
    }
    return len < HS_TLS_SNIFF_MAX ? HS_TLS_SNIFF_AGAIN : HS_TLS_SNIFF_OTHER;
}

/* ---- what a server context's callbacks need ---- */
typedef struct {
    unsigned char *der;
    size_t len;
    time_t next_update;
} ocsp_t;

/* One certificate's context and what its callbacks need (the SSL_CTX's app data). */
typedef struct {
    SSL_CTX *ctx; /* NULL: the listener's serves this host */
    ocsp_t *ocsp;
    hs_tls_keys_t *keys;
    int verify; /* HS_TLS_VERIFY_* */
} host_ctx_t;

/* ---- session ticket keys ---- */
typedef struct {
    unsigned char name[16], aes[32], hmac[32];
    uint64_t created; /* ms, monotonic */
    bool live;
} ticket_key_t;

struct hs_tls_keys_s {
    pthread_mutex_t mu;
    uint64_t rotate_ms;
    ticket_key_t keys[2]; /* [0] encrypts new tickets; [1] still decrypts (its successor's period) */
};

static void key_fill(ticket_key_t *k, uint64_t now)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        abort(); /* no randomness: nothing secure can be done */
    k->created = now;
    k->live = true;
}

hs_tls_keys_t *hs_tls_keys_new(uint64_t rotate_ms)
{
    hs_tls_keys_t *k = hs_calloc(1, sizeof(*k));
    pthread_mutex_init(&k->mu, NULL);
    k->rotate_ms = rotate_ms ? rotate_ms : 3600 * 1000;
    key_fill(&k->keys[0], hs_now_ms());
    return k;
}

void hs_tls_keys_set_rotation(hs_tls_keys_t *k, uint64_t rotate_ms)
{
    pthread_mutex_lock(&k->mu);
    k->rotate_ms = rotate_ms ? rotate_ms : 3600 * 1000;
    pthread_mutex_unlock(&k->mu);
}

void hs_tls_keys_free(hs_tls_keys_t *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->mu);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

/* Under k->mu: a new key once the current one has encrypted for a period; a key is forgotten
 * once it has also decrypted for a period. */
static void keys_rotate(hs_tls_keys_t *k, uint64_t now)
{
    if (now - k->keys[0].created >= k->rotate_ms) {
        k->keys[1] = k->keys[0];
        key_fill(&k->keys[0], now);
    }
    if (k->keys[1].live && now - k->keys[1].created >= 2 * k->rotate_ms)
        OPENSSL_cleanse(&k->keys[1], sizeof(k->keys[1]));
}

static int ticket_mac_key(EVP_MAC_CTX *hctx, unsigned char *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params);
}

/* RFC 5077 §4 tickets (TLS 1.2) and TLS 1.3 stateless tickets: AES-256-CBC + HMAC-SHA256 under
 * the ring's keys. Returns 1 (used the current key), 2 (an older key: OpenSSL issues a fresh
 * ticket), 0 (unknown key: a full handshake), -1 (error). */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx,
                     int enc)
{
    const host_ctx_t *hc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    hs_tls_keys_t *k = hc ? hc->keys : NULL;
    int ret = -1;
    if (!k)
        return 0;
    pthread_mutex_lock(&k->mu);
    keys_rotate(k, hs_now_ms());
    if (enc) {
        ticket_key_t *key = &k->keys[0];
        memcpy(name, key->name, 16);
        if (RAND_bytes(iv, 16) == 1 && EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, key->aes, iv) == 1 &&
            ticket_mac_key(hctx, key->hmac) == 1)
            ret = 1;
    } else {
        ret = 0;
        for (int i = 0; i < 2; i++) {
            ticket_key_t *key = &k->keys[i];
            if (!key->live || memcmp(name, key->name, 16) != 0)
                continue;
            ret = EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, key->aes, iv) == 1 &&
                          ticket_mac_key(hctx, key->hmac) == 1
                      ? (i == 0 ? 1 : 2)
                      : -1;
            break;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return ret;
}

/* ---- per connection ---- */
enum { PH_START, PH_EARLY, PH_HANDSHAKE, PH_DONE, PH_FAILED };

typedef struct conn_s {
    SSL *ssl;
    hs_tls_server_t *srv;   /* server side: the context it started with (a reference) */
    hs_tls_client_t *cli;   /* client side */
    uint64_t started;       /* ms */
    uint64_t nread;         /* application bytes read so far */
    uint64_t early_end;     /* bytes [0, early_end) of them came as 0-RTT data */
    uint32_t retry_len;     /* socket BIO: a write to repeat with exactly this many bytes (0: none) */
    uint32_t pending_plain; /* own_bio: plaintext bytes whose records are still in `out` */
    int fd;
    char *out; /* own_bio: records not yet written to the socket: out[out_off, out_len) */
    uint32_t out_len, out_off, out_cap;
    int16_t sni;      /* the host SNI selected, -1 none, -2 no SNI sent */
    int16_t alert_in; /* the fatal alert the peer sent (RFC 8446 §6: 0-255), -1 none */
    uint8_t phase;
    bool broken : 1; /* a fatal error: no close_notify, no more calls */
    bool failed_by_peer : 1;
    bool own_bio : 1;   /* reads and writes through own_bio (else OpenSSL's socket BIO) */
    bool drained : 1;   /* own_bio: the last read(2) came back short: the kernel had no more */
    bool out_error : 1; /* own_bio: writing to the socket failed (errno in out_errno) */
    int out_errno;
    const char *failure; /* static text */
} conn_t;

static const hs_sock_ops_t tls_ops, ktls_ops;
static int handshake_done(hs_sock_t *s, struct conn_s *c);

static inline conn_t *conn_of(const hs_sock_t *s)
{
    return s->ops_data;
}

bool hs_tls_is(const hs_sock_t *s)
{
    return s->ops == &tls_ops || s->ops == &ktls_ops;
}

/* Remember why the session failed, from the error queue (or errno when the socket failed). */
static void note_failure(conn_t *c, int sslerr)
{
    unsigned long e = ERR_peek_last_error();
    c->broken = true;
    if (c->failure)
        return;
    if (e) {
        int reason = ERR_GET_REASON(e);
        c->failure = ERR_reason_error_string(e);
        /* reasons from SSL_AD_REASON_OFFSET up are alerts the peer sent: OpenSSL files a fatal
         * alert it receives as SSL_AD_REASON_OFFSET + the alert's number
         * (SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE is 1040: handshake_failure, 40) */
        bool alert = ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET;
        if (alert && reason - SSL_AD_REASON_OFFSET <= 255)
            c->alert_in = (int16_t)(reason - SSL_AD_REASON_OFFSET);
        c->failed_by_peer = alert || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
        if (!c->failure)
            c->failure = "TLS error";
    } else if (sslerr == SSL_ERROR_SYSCALL && errno) {
        c->failed_by_peer = errno == ECONNRESET || errno == EPIPE;
        c->failure = errno == ECONNRESET ? "connection reset by the peer"
                     : errno == EPIPE    ? "the peer closed the connection"
                                         : "socket error";
    } else {
        c->failure = "the peer closed the connection";
        c->failed_by_peer = true;
    }
}

/* The outcome of a failed read or write as the engine's sockets report it: EAGAIN, or an error
 * with errno. */
static ssize_t io_failure(conn_t *c, int r)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0; /* close_notify: the end of the peer's stream */
    int saved = errno;
    note_failure(c, e);
    errno = e == SSL_ERROR_SYSCALL && saved ? saved : EPROTO;
    return -1;
}

/* ---- own_bio: the socket without OpenSSL's socket BIO ---- */
#define OUT_MIN 16384

static int own_write(BIO *b, const char *data, size_t n, size_t *written)
{
    conn_t *c = BIO_get_data(b);
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if ((size_t)(c->out_cap - c->out_len) < n) {
        /* bounded: what one SSL call makes of at most LARGE_WRITE bytes, or a handshake flight */
        size_t cap = HS_MAX((size_t)OUT_MIN, (size_t)c->out_len + n + 1024);
        if (c->out_off > 0) { /* move the unwritten rest to the front first */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if ((size_t)(c->out_cap - c->out_len) < n) {
            c->out = hs_realloc(c->out, cap);
            c->out_cap = (uint32_t)cap;
        }
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += (uint32_t)n;
    *written = n;
    return 1;
}

static int own_read(BIO *b, char *buf, size_t n, size_t *got)
{
    conn_t *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r;
    do
        r = syscall(SYS_recvfrom, c->fd, buf, n, 0, NULL, NULL); /* socket call, no wrapper (sock.c) */
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        c->drained = (size_t)r < n;
        *got = (size_t)r;
        return 1;
    }
    c->drained = true;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    return 0; /* 0 with no retry flag: the end of the stream, or an error in errno */
}

static long own_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    HS_UNUSED(b);
    HS_UNUSED(num);
    HS_UNUSED(ptr);
    /* OpenSSL flushes after each handshake flight: the flight is in `out`, sent after the call */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* Room for about n more bytes in `out` before SSL_write fills it (one allocation, no realloc
 * copying records already made). */
static void out_reserve(conn_t *c, size_t n)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if ((size_t)(c->out_cap - c->out_len) >= n)
        return;
    size_t cap = HS_MAX((size_t)OUT_MIN, (size_t)c->out_len + n);
    c->out = hs_realloc(c->out, cap);
    c->out_cap = (uint32_t)cap;
}

static BIO_METHOD *own_method;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void own_method_init(void)
{
    own_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "statusd socket");
    if (!own_method || !BIO_meth_set_write_ex(own_method, own_write) || !BIO_meth_set_read_ex(own_method, own_read) ||
        !BIO_meth_set_ctrl(own_method, own_ctrl))
        abort();
}

/* Send what is in `out`. HS_OK (all of it: the buffer is given back), HS_AGAIN (the socket took
 * some or none), HS_ERROR (errno). */
static int out_flush(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = syscall(SYS_sendto, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL, NULL, 0);
        if (w > 0) {
            c->out_off += (uint32_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return HS_AGAIN;
        c->out_error = true;
        c->out_errno = w < 0 ? errno : EPIPE;
        errno = c->out_errno;
        return HS_ERROR;
    }
    free(c->out); /* an idle connection keeps no output buffer */
    c->out = NULL;
    c->out_len = c->out_off = c->out_cap = 0;
    return HS_OK;
}

static inline bool out_pending(const conn_t *c)
{
    return c->out_off < c->out_len;
}

static ssize_t tls_read(hs_sock_t *s, void *buf, size_t n)
{
    conn_t *c = conn_of(s);
    size_t total = 0;
    if (c->broken) {
        errno = EPROTO;
        return -1;
    }
    while (total < n) {
        size_t got = 0;
        int r;
        ERR_clear_error();
        if (c->phase == PH_EARLY) {
            r = SSL_read_early_data(c->ssl, (char *)buf + total, n - total, &got);
            if (r == SSL_READ_EARLY_DATA_SUCCESS) {
                total += got;
                continue;
            }
            if (r == SSL_READ_EARLY_DATA_FINISH) {
                /* no more 0-RTT data; what follows completes the handshake (RFC 8446 §4.2.10) */
                total += got;
                c->early_end = c->nread + total;
                c->phase = PH_HANDSHAKE; /* PH_DONE below once the handshake is complete */
                continue;
            }
            r = 0;
        } else {
            r = SSL_read_ex(c->ssl, (char *)buf + total, n - total, &got);
            if (r == 1) {
                total += got;
                if (c->drained && c->own_bio && !SSL_has_pending(c->ssl))
                    break; /* the kernel had no more and OpenSSL holds nothing: as a short TCP read */
                continue;
            }
        }
        ssize_t f = io_failure(c, r);
        if (total == 0) {
            if (f == 0)
                s->eof = true;
            return f;
        }
        if (f == 0 || !(f < 0 && errno == EAGAIN))
            s->rdhup = true; /* the end or an error is next: read again to meet it */
        break;
    }
    if (HS_UNLIKELY(c->phase == PH_HANDSHAKE) && SSL_is_init_finished(c->ssl))
        handshake_done(s, c); /* after 0-RTT data, the client's Finished came in with this read */
    if (HS_UNLIKELY(out_pending(c)))
        out_flush(c); /* what reading made OpenSSL write (tickets, a key update): the rest goes later */
    c->nread += total;
    return (ssize_t)total;
}

static ssize_t tls_writev(hs_sock_t *s, const struct iovec *iov, int iovcnt)
{
    conn_t *c = conn_of(s);
    if (c->broken || c->out_error) {
        errno = c->out_error ? c->out_errno : EPIPE;
        return -1;
    }
    if (out_pending(c)) {
        /* the records of an earlier call (or a flight, a ticket) first */
        int f = out_flush(c);
        if (f != HS_OK) {
            if (f == HS_AGAIN)
                errno = EAGAIN;
            return -1;
        }
        if (c->pending_plain) { /* those bytes are on the wire now: report them */
            ssize_t done = c->pending_plain;
            c->pending_plain = 0;
            return done;
        }
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    size_t want;
    if (c->retry_len) {
        want = c->retry_len; /* OpenSSL's rule: repeat the write that wanted the socket */
        if (total < want || (want > RECORD_MAX && iov[0].iov_len < want)) {
            errno = EIO; /* the writer lost bytes it had offered: cannot happen */
            return -1;
        }
    } else {
        want = iov[0].iov_len >= RECORD_MAX ? HS_MIN(iov[0].iov_len, (size_t)LARGE_WRITE)
                                            : HS_MIN(total, (size_t)RECORD_MAX);
    }
    char stack[RECORD_MAX];
    const void *p = iov[0].iov_base;
    if (iov[0].iov_len < want) {
        /* gather small segments into one record (want <= RECORD_MAX here: a segment of
         * RECORD_MAX bytes or more is always the one written in place) */
        size_t o = 0;
        for (int i = 0; i < iovcnt && o < want; i++) {
            size_t k = HS_MIN(iov[i].iov_len, want - o);
            memcpy(stack + o, iov[i].iov_base, k);
            o += k;
        }
        p = stack;
    }
    size_t written = 0;
    if (c->own_bio) /* each record adds a header, a tag (and TLS 1.3's type byte): 22 bytes at most */
        out_reserve(c, want + (want / RECORD_MAX + 1) * 32 + 64);
    ERR_clear_error();
    int r = c->phase == PH_EARLY ? SSL_write_early_data(c->ssl, p, want, &written) /* 0.5-RTT answer */
                                 : SSL_write_ex(c->ssl, p, want, &written);
    if (r == 1) {
        c->retry_len = 0;
        if (!c->own_bio)
            return (ssize_t)written;
        int f = out_flush(c);
        if (f == HS_OK)
            return (ssize_t)written;
        if (f == HS_AGAIN) {
            c->pending_plain = (uint32_t)written; /* reported once its records are out */
            errno = EAGAIN;
        }
        return -1;
    }
    ssize_t f = io_failure(c, r);
    if (f < 0 && errno == EAGAIN) {
        if (c->own_bio && out_pending(c) && out_flush(c) == HS_ERROR)
            return -1;
        c->retry_len = (uint32_t)want;
        errno = EAGAIN;
        return -1;
    }
    if (f == 0) {
        errno = EPIPE;
        c->broken = true;
    }
    return -1;
}

static ssize_t ktls_sendfile(hs_sock_t *s, int fd, off_t *off, size_t n)
{
    conn_t *c = conn_of(s);
    ERR_clear_error();
    ossl_ssize_t r = SSL_sendfile(c->ssl, fd, *off, n, 0);
    if (r > 0) {
        *off += r;
        return r;
    }
    if (r == 0)
        return 0;
    int e = SSL_get_error(c->ssl, (int)r);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        errno = EAGAIN;
        return -1;
    }
    note_failure(c, e);
    errno = EPIPE;
    return -1;
}

/* close_notify (RFC 8446 §6.1), then the TCP half-close. A session that failed sends nothing. */
static void send_close_notify(conn_t *c)
{
    if (c->broken || c->phase != PH_DONE)
        return;
    ERR_clear_error();
    SSL_shutdown(c->ssl); /* one record, written now or never: the socket is about to go */
    if (c->own_bio && !c->out_error)
        out_flush(c);
    c->broken = true; /* nothing more on this session */
}

static void tls_idle(hs_sock_t *s)
{
    conn_t *c = conn_of(s);
    if (c && !out_pending(c))
        SSL_free_buffers(c->ssl); /* refused (harmlessly) while a record is half read or written */
}

static int tls_shutdown(hs_sock_t *s)
{
    send_close_notify(conn_of(s));
    return shutdown(s->io.fd, SHUT_WR) == 0 ? HS_OK : -errno;
}

static void tls_release(hs_sock_t *s)
{
    conn_t *c = conn_of(s);
    if (!c)
        return;
    if (!s->reset_on_close && !s->eof)
        send_close_notify(c);
    SSL_free(c->ssl);
    free(c->out);
    if (c->srv)
        hs_tls_server_unref(c->srv);
    if (c->cli)
        hs_tls_client_free(c->cli);
    free(c);
    s->ops_data = NULL;
}

static const hs_sock_ops_t tls_ops = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .sendfile = NULL, /* the writer reads and writes file bytes */
    .shutdown = tls_shutdown,
    .release = tls_release,
    .idle = tls_idle,
};

static const hs_sock_ops_t ktls_ops = {
    .name = "ktls",
    .read = tls_read,
    .writev = tls_writev,
    .sendfile = ktls_sendfile,
    .shutdown = tls_shutdown,
    .release = tls_release,
    .idle = tls_idle,
};

/* ---- server contexts ---- */
struct hs_tls_server_s {
    _Atomic int refs;
    host_ctx_t def;
    host_ctx_t *hosts;
    size_t nhosts;
    int (*sni_host)(void *arg, const char *name, size_t len);
    void *sni_arg;
    void (*sni_free)(void *arg);
    bool early_data;
};

/* RFC 7301 §3.2: the server picks http/1.1 (or http/1.0) from the client's list; a client that
 * offers only protocols statusd does not speak gets the no_application_protocol alert. A client
 * that sends no ALPN at all is served HTTP/1.1 as usual (the callback is not called). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
    HS_UNUSED(ssl);
    HS_UNUSED(arg);
    static const unsigned char ours[] = "\x08http/1.1\x08http/1.0";
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* A client certificate that fails verification does not fail the handshake: the request on the
 * established session gets 495 with the reason (and a missing one 496), which a client can read,
 * where a handshake alert tells the user nothing. SSL_get_verify_result keeps the error. */
static int verify_keep_going(int ok, X509_STORE_CTX *x)
{
    HS_UNUSED(ok);
    HS_UNUSED(x);
    return 1;
}

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
    HS_UNUSED(alert);
    hs_tls_server_t *t = arg;
    hs_sock_t *s = SSL_get_app_data(ssl);
    conn_t *c = s ? conn_of(s) : NULL;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!c)
        return SSL_TLSEXT_ERR_OK;
    if (!name) {
        c->sni = -2;
        return SSL_TLSEXT_ERR_OK;
    }
    int h = t->sni_host ? t->sni_host(t->sni_arg, name, strlen(name)) : -1;
    c->sni = (int16_t)(h >= 0 && (size_t)h < t->nhosts ? h : -1);
    if (c->sni >= 0 && t->hosts[h].ctx) {
        /* the host's certificate; its client-certificate rule goes with it (SSL_set_SSL_CTX
         * leaves the verify mode the session started with) */
        SSL_CTX *hc = t->hosts[h].ctx;
        SSL_set_SSL_CTX(ssl, hc);
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(hc), SSL_CTX_get_verify_callback(hc));
    }
    return SSL_TLSEXT_ERR_OK;
}

/* OCSP stapling (RFC 6066 §8): the response read from the operator's file, while it is fresh. */
static int status_cb(SSL *ssl, void *arg)
{
    ocsp_t *o = arg;
    if (!o || time(NULL) >= o->next_update)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *copy = OPENSSL_memdup(o->der, o->len);
    if (!copy || SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)o->len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* A message into err: "ORIGIN: what went wrong: OpenSSL's reason" (origin may be NULL). */
static int fail(char *err, size_t errlen, const char *origin, const char *fmt, ...) HS_FMT(4, 5);
static int fail(char *err, size_t errlen, const char *origin, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    bool at = origin && origin[0];
    snprintf(err, errlen, "%s%s%s%s%s", at ? origin : "", at ? ": " : "", msg, why ? ": " : "", why ? why : "");
    ERR_clear_error();
    return HS_ERROR;
}

/* Can the file be opened? (OpenSSL would only say "system lib".) HS_OK, or HS_ERROR with errno. */
static int openable(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return HS_ERROR;
    fclose(f);
    return HS_OK;
}

/* A file's bytes (at most max), or NULL with errno. */
static unsigned char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return NULL;
    unsigned char *b = hs_malloc(max + 1);
    size_t n = fread(b, 1, max + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        free(b);
        errno = bad ? EIO : EFBIG;
        return NULL;
    }
    *len = n;
    return b;
}

static time_t asn1_time_t(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* Load and check the OCSP response for the context's certificate: for this certificate (its
 * issuer must be in the chain file), from a responder the certificate names, signed by the
 * issuer or its delegate, status good. A response that is well formed but not fresh (yet) is
 * kept and simply not stapled until a reload brings a fresh one. */
static int ocsp_load(SSL_CTX *ctx, const hs_tls_cert_opts_t *o, ocsp_t **out, char *err, size_t errlen)
{
    int ret = HS_ERROR;
    size_t len = 0;
    unsigned char *der = NULL;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    OCSP_CERTID *id = NULL;
    X509_STORE *store = NULL;
    STACK_OF(OPENSSL_STRING) *urls = NULL;
    X509 *leaf = SSL_CTX_get0_certificate(ctx), *issuer = NULL;
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    urls = X509_get1_ocsp(leaf);
    if (!urls || sk_OPENSSL_STRING_num(urls) == 0) {
        fail(err, errlen, o->ocsp_origin,
             "tls.ocsp_response %s: the certificate %s names no OCSP responder, so statusd staples "
             "nothing for it (remove the option)",
             o->ocsp, o->cert);
        goto Exit;
    }
    for (int i = 0; chain && i < sk_X509_num(chain) && !issuer; i++)
        if (X509_check_issued(sk_X509_value(chain, i), leaf) == X509_V_OK)
            issuer = sk_X509_value(chain, i);
    if (!issuer) {
        fail(err, errlen, o->ocsp_origin,
             "tls.ocsp_response %s: the issuer of %s must follow it in that file (the chain) to check "
             "the OCSP response",
             o->ocsp, o->cert);
        goto Exit;
    }
    if (!(der = read_file(o->ocsp, OCSP_FILE_MAX, &len))) {
        fail(err, errlen, o->ocsp_origin, "tls.ocsp_response: cannot read %s: %s", o->ocsp, strerror(errno));
        goto Exit;
    }
    const unsigned char *p = der;
    int status, reason;
    ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
    if (!(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) ||
        OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL || !(bs = OCSP_response_get1_basic(resp))) {
        fail(err, errlen, o->ocsp_origin, "tls.ocsp_response %s: not a successful OCSP response (DER)", o->ocsp);
        goto Exit;
    }
    if (!(id = OCSP_cert_to_id(NULL, leaf, issuer)) ||
        OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd) != 1) {
        fail(err, errlen, o->ocsp_origin, "tls.ocsp_response %s: it is not about the certificate %s", o->ocsp, o->cert);
        goto Exit;
    }
    store = X509_STORE_new();
    X509_STORE_add_cert(store, issuer);
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN); /* the issuer is enough of a root here */
    if (OCSP_basic_verify(bs, chain, store, 0) != 1) {
        fail(err, errlen, o->ocsp_origin,
             "tls.ocsp_response %s: its signature does not verify against the issuer of %s", o->ocsp, o->cert);
        goto Exit;
    }
    if (status != V_OCSP_CERTSTATUS_GOOD) {
        fail(err, errlen, o->ocsp_origin, "tls.ocsp_response %s: the responder says the certificate is %s", o->ocsp,
             OCSP_cert_status_str(status));
        goto Exit;
    }
    if (!nextupd) {
        fail(err, errlen, o->ocsp_origin, "tls.ocsp_response %s: it has no nextUpdate, so its freshness cannot be told",
             o->ocsp);
        goto Exit;
    }
    ocsp_t *oc = hs_calloc(1, sizeof(*oc));
    oc->der = der;
    oc->len = len;
    oc->next_update = asn1_time_t(nextupd);
    der = NULL;
    if (OCSP_check_validity(thisupd, nextupd, OCSP_SKEW_SEC, -1) != 1) {
        bool at = o->ocsp_origin && o->ocsp_origin[0];
        hs_log_warn("%s%stls.ocsp_response %s is not fresh (outside thisUpdate..nextUpdate): not stapled until a "
                    "reload (SIGHUP) brings a fresh one",
                    at ? o->ocsp_origin : "", at ? ": " : "", o->ocsp);
        oc->next_update = 0;
        ERR_clear_error();
    }
    *out = oc;
    ret = HS_OK;
Exit:
    X509_email_free(urls);
    X509_STORE_free(store);
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    free(der);
    return ret;
}

static void ocsp_free(ocsp_t *o)
{
    if (o) {
        free(o->der);
        free(o);
    }
}

/* The session id context separates sessions made under different client-certificate rules, so
 * that a session verified under one CA is never resumed where another is required. */
static void set_sid_ctx(SSL_CTX *ctx, const hs_tls_cert_opts_t *o)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char id[1024];
    int n = snprintf(id, sizeof(id), "statusd|%d|%s", o->client_verify, o->client_ca ? o->client_ca : "");
    EVP_Digest(id, (size_t)HS_MIN(n, (int)sizeof(id) - 1), md, &mdlen, EVP_sha256(), NULL);
    SSL_CTX_set_session_id_context(ctx, md, HS_MIN(mdlen, (unsigned)SSL_MAX_SID_CTX_LENGTH));
}

/* Build hc's context from o (hc lives as long as the context: it is the context's app data). */
static int server_ctx(host_ctx_t *hc, const hs_tls_cert_opts_t *o, const hs_tls_server_opts_t *so, char *err,
                      size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return fail(err, errlen, o->cert_origin, "cannot make a TLS context");
    hc->keys = so->keys;
    hc->verify = o->client_verify;
    SSL_CTX_set_app_data(ctx, hc);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Mozilla's intermediate profile leaves the choice of TLS 1.2 suite to the client ("server
     * preference off") so that a phone without AES instructions can pick ChaCha20. The server's
     * order with PRIORITIZE_CHACHA gives that phone ChaCha20 all the same (it is moved up when the
     * client lists it first) while every other client gets the profile's order; and a scanner
     * such as testssl.sh, which counts "no server cipher order" against a server, finds one.
     * Every suite in the list is AEAD with forward secrecy either way. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_PRIORITIZE_CHACHA | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_ENABLE_KTLS |
                                 (so->keys ? 0 : SSL_OP_NO_TICKET));
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER); /* buffers: the idle op */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_set_cipher_list(ctx, MOZILLA_TLS12) != 1 || SSL_CTX_set1_groups_list(ctx, MOZILLA_GROUPS) != 1) {
        fail(err, errlen, o->cert_origin, "the TLS library refuses the intermediate profile");
        goto Fail;
    }
    SSL_CTX_set_dh_auto(ctx, 1); /* RFC 7919 groups sized to the certificate's key */
    const char *key = o->key ? o->key : o->cert;
    if (openable(o->cert) != HS_OK) {
        fail(err, errlen, o->cert_origin, "tls.cert: cannot read %s: %s", o->cert, strerror(errno));
        goto Fail;
    }
    if (openable(key) != HS_OK) {
        fail(err, errlen, o->key ? o->key_origin : o->cert_origin, "tls.key: cannot read %s: %s", key, strerror(errno));
        goto Fail;
    }
    if (o->client_ca && openable(o->client_ca) != HS_OK) {
        fail(err, errlen, o->ca_origin, "tls.client_certs.ca: cannot read %s: %s", o->client_ca, strerror(errno));
        goto Fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
        fail(err, errlen, o->cert_origin, "tls.cert: cannot load the certificate chain %s", o->cert);
        goto Fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fail(err, errlen, o->key ? o->key_origin : o->cert_origin, "tls.key: cannot load the private key %s", key);
        goto Fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        fail(err, errlen, o->key ? o->key_origin : o->cert_origin, "tls.key: %s is not the key of the certificate %s",
             key, o->cert);
        goto Fail;
    }
    if (o->client_verify != HS_TLS_VERIFY_OFF) {
        STACK_OF(X509_NAME) * names;
        if (!o->client_ca) {
            fail(err, errlen, o->ca_origin, "tls.client_certs: verify needs a ca file");
            goto Fail;
        }
        if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1 ||
            !(names = SSL_load_client_CA_file(o->client_ca))) {
            fail(err, errlen, o->ca_origin, "tls.client_certs.ca: cannot load certificates from %s", o->client_ca);
            goto Fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* named in CertificateRequest (RFC 8446 §4.3.2) */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_keep_going);
    }
    set_sid_ctx(ctx, o);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE_MAX);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    if (so->keys) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
        /* a ticket's session lives no longer than its key may decrypt it */
        SSL_CTX_set_timeout(ctx, (long)HS_MAX(so->keys->rotate_ms / 1000, 1));
    }
    if (so->early_data) {
        /* TLS 1.3 0-RTT. OpenSSL's replay protection is on with it: tickets become single-use
         * entries of the session cache, so a replayed ClientHello with early data finds its
         * ticket gone and falls back to a full handshake, its early data ignored (RFC 8446 §8). */
        SSL_CTX_set_max_early_data(ctx, EARLY_DATA_MAX);
        SSL_CTX_set_recv_max_early_data(ctx, EARLY_DATA_MAX);
    }
    if (o->ocsp) {
        if (ocsp_load(ctx, o, &hc->ocsp, err, errlen) != HS_OK)
            goto Fail;
        SSL_CTX_set_tlsext_status_cb(ctx, status_cb);
        SSL_CTX_set_tlsext_status_arg(ctx, hc->ocsp);
    }
    hc->ctx = ctx;
    return HS_OK;
Fail:
    SSL_CTX_free(ctx);
    return HS_ERROR;
}

static void server_free(hs_tls_server_t *t)
{
    if (t->sni_free)
        t->sni_free(t->sni_arg);
    SSL_CTX_free(t->def.ctx);
    ocsp_free(t->def.ocsp);
    for (size_t i = 0; i < t->nhosts; i++) {
        SSL_CTX_free(t->hosts[i].ctx);
        ocsp_free(t->hosts[i].ocsp);
    }
    free(t->hosts);
    free(t);
}

hs_tls_server_t *hs_tls_server_new(const hs_tls_server_opts_t *o, int *bad, char *err, size_t errlen)
{
    hs_tls_server_t *t = hs_calloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->sni_host = o->sni_host;
    t->sni_arg = o->sni_arg;
    t->sni_free = o->sni_free;
    t->early_data = o->early_data;
    *bad = -1;
    for (size_t i = 0; o->early_data && i <= o->nhosts; i++) {
        const hs_tls_cert_opts_t *co = i < o->nhosts ? &o->hosts[i] : &o->def;
        if ((co->cert || i == o->nhosts) && co->client_verify != HS_TLS_VERIFY_OFF) {
            /* a client certificate comes after the client's 0-RTT data, which would be answered
             * before anyone knows who sent it */
            *bad = i < o->nhosts ? (int)i : -1;
            fail(err, errlen, co->ca_origin,
                 "tls.early_data cannot be combined with tls.client_certs: a request in early data "
                 "would be answered before the client certificate arrives");
            goto Fail;
        }
    }
    t->nhosts = o->nhosts;
    t->hosts = hs_calloc(o->nhosts ? o->nhosts : 1, sizeof(*t->hosts));
    if (server_ctx(&t->def, &o->def, o, err, errlen) != HS_OK)
        goto Fail;
    if (o->sni_host || o->nhosts) {
        SSL_CTX_set_tlsext_servername_callback(t->def.ctx, sni_cb);
        SSL_CTX_set_tlsext_servername_arg(t->def.ctx, t);
    }
    for (size_t i = 0; i < o->nhosts; i++) {
        if (!o->hosts[i].cert)
            continue;
        *bad = (int)i;
        if (server_ctx(&t->hosts[i], &o->hosts[i], o, err, errlen) != HS_OK)
            goto Fail;
    }
    *bad = -1;
    return t;
Fail:
    server_free(t);
    return NULL;
}

void hs_tls_server_ref(hs_tls_server_t *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void hs_tls_server_unref(hs_tls_server_t *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1)
        server_free(t);
}

/* ---- connections ---- */
/* Does the kernel do TLS (its tls module loaded)? Then OpenSSL's socket BIO, which can hand the
 * record layer over to it; else own_bio. */
static int ktls_mode = HS_TLS_KTLS_AUTO;
static bool kernel_tls;
static pthread_once_t ktls_once = PTHREAD_ONCE_INIT;

static void ktls_probe(void)
{
#ifndef OPENSSL_NO_KTLS
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
    char line[256] = "";
    if (f) {
        if (!fgets(line, sizeof(line), f))
            line[0] = '\0';
        fclose(f);
    }
    for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
        kernel_tls |= !strcmp(t, "tls");
#endif
}

void hs_tls_set_ktls(int mode)
{
    ktls_mode = mode;
}

static conn_t *conn_new(hs_sock_t *s, SSL_CTX *ctx)
{
    pthread_once(&ktls_once, ktls_probe);
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    conn_t *c = hs_calloc(1, sizeof(*c));
    c->ssl = ssl;
    c->fd = s->io.fd;
    c->sni = -2;
    c->alert_in = -1;
    c->own_bio = ktls_mode == HS_TLS_KTLS_OFF || (ktls_mode == HS_TLS_KTLS_AUTO && !kernel_tls);
    if (c->own_bio) {
        pthread_once(&own_once, own_method_init);
        BIO *b = BIO_new(own_method);
        if (!b)
            goto Fail;
        BIO_set_data(b, c);
        BIO_set_init(b, 1);
        BIO_up_ref(b); /* one BIO both ways: each set0 takes one reference, SSL_free drops both */
        SSL_set0_rbio(ssl, b);
        SSL_set0_wbio(ssl, b);
    } else if (SSL_set_fd(ssl, s->io.fd) != 1) {
        goto Fail;
    }
    SSL_set_app_data(ssl, s);
    s->ops = &tls_ops;
    s->ops_data = c;
    return c;
Fail:
    SSL_free(ssl);
    free(c);
    return NULL;
}

int hs_tls_accept(hs_sock_t *s, hs_tls_server_t *t, uint64_t now_ms)
{
    conn_t *c = conn_new(s, t->def.ctx);
    if (!c) {
        ERR_clear_error();
        return HS_ERROR;
    }
    hs_tls_server_ref(t);
    c->srv = t;
    c->started = now_ms;
    SSL_set_accept_state(c->ssl);
    return HS_OK;
}

/* The handshake is complete: kTLS may have taken the record layer over (then file bytes leave by
 * SSL_sendfile), and the peer may have sent application data right behind its Finished. */
static int handshake_done(hs_sock_t *s, conn_t *c)
{
    c->phase = PH_DONE;
    if (BIO_get_ktls_send(SSL_get_wbio(c->ssl)))
        s->ops = &ktls_ops;
    s->readable = true;
    return HS_OK;
}

static int handshake_failed(conn_t *c)
{
    c->phase = PH_FAILED;
    if (c->cli && SSL_get_verify_result(c->ssl) != X509_V_OK) {
        c->failure = X509_verify_cert_error_string(SSL_get_verify_result(c->ssl));
        c->failed_by_peer = false;
        return HS_TLS_CERT_INVALID;
    }
    if (!c->failure)
        c->failure = "handshake failed";
    return HS_TLS_HANDSHAKE_FAILED;
}

/* own_bio: send what OpenSSL wrote (a flight, an alert). HS_OK, HS_AGAIN, or HS_ERROR (noted). */
static int flush_noting(conn_t *c)
{
    if (!out_pending(c))
        return HS_OK;
    int f = out_flush(c);
    if (f == HS_ERROR)
        note_failure(c, SSL_ERROR_SYSCALL);
    return f;
}

int hs_tls_handshake(hs_sock_t *s, size_t limit)
{
    conn_t *c = conn_of(s);
    if (c->phase == PH_DONE)
        return HS_OK;
    if (c->phase == PH_FAILED)
        return HS_TLS_HANDSHAKE_FAILED;
    int f = flush_noting(c); /* a flight the socket did not take at once goes first */
    if (f == HS_AGAIN)
        return HS_AGAIN;
    if (f == HS_ERROR)
        return handshake_failed(c);
    if (c->phase == PH_START && c->srv && c->srv->early_data) {
        /* SSL_read_early_data must be the first I/O on the session; tls_read calls it while the
         * phase is PH_EARLY and falls back to the normal handshake once it says FINISH */
        c->phase = PH_EARLY;
        c->early_end = UINT64_MAX;
    }
    if (c->phase == PH_EARLY) {
        /* 0-RTT data read by an earlier call, which waited for its flight to leave */
        ssize_t n = hs_sock_avail(s) > 0 ? 1 : hs_sock_read(s, 4096, HS_MAX(limit, (size_t)HS_SOCK_BUF_SIZE));
        if (n > 0) {
            if (out_pending(c))
                return HS_AGAIN; /* the server's flight reaches the client before any answer */
            if (SSL_is_init_finished(c->ssl))
                return handshake_done(s, c);
            return HS_OK; /* 0-RTT data to serve: the handshake ends as reading goes on */
        }
        if (n != HS_AGAIN) {
            flush_noting(c); /* an alert, if OpenSSL wrote one */
            if (!c->failure) {
                c->failure = "the peer closed the connection";
                c->failed_by_peer = true;
            }
            return handshake_failed(c);
        }
        if (c->phase == PH_EARLY)
            return HS_AGAIN;
    }
    if (c->phase == PH_START)
        c->phase = PH_HANDSHAKE;
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        note_failure(c, e); /* before the alert is sent: the error queue is OpenSSL's word for it */
        flush_noting(c);
        return handshake_failed(c);
    }
    if (flush_noting(c) == HS_ERROR)
        return handshake_failed(c);
    /* done, even if the last of our flight (a Finished, tickets) still waits: it leaves before
     * anything else is written, and reading sends it too */
    return r == 1 ? handshake_done(s, c) : HS_AGAIN;
}

const char *hs_tls_version(const hs_sock_t *s)
{
    const conn_t *c = conn_of(s);
    if (!c || c->phase == PH_START)
        return "-";
    const char *v = SSL_get_version(c->ssl);
    return v && SSL_get_current_cipher(c->ssl) ? v : "-";
}

const char *hs_tls_cipher(const hs_sock_t *s)
{
    const conn_t *c = conn_of(s);
    const SSL_CIPHER *ci = c ? SSL_get_current_cipher(c->ssl) : NULL;
    return ci ? SSL_CIPHER_get_name(ci) : "-";
}

const char *hs_tls_failure(const hs_sock_t *s, bool *by_peer)
{
    const conn_t *c = conn_of(s);
    if (by_peer)
        *by_peer = c && c->failed_by_peer;
    return c && (c->phase == PH_FAILED || c->alert_in >= 0) ? c->failure : NULL;
}

int hs_tls_alert_received(const hs_sock_t *s)
{
    const conn_t *c = conn_of(s);
    return c ? c->alert_in : -1;
}

/* The IANA "TLS Alerts" registry (RFC 8447 §10; RFC 8446 §6, RFC 5246 §7.2, RFC 6066 §9,
 * RFC 7301 §3.2, RFC 7507 §4, RFC 9146 §11): the names its Description column gives. */
const char *hs_tls_alert_name(int alert)
{
    switch (alert) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 21: return "decryption_failed";
    case 22: return "record_overflow";
    case 30: return "decompression_failure";
    case 40: return "handshake_failure";
    case 41: return "no_certificate";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 52: return "too_many_cids_requested";
    case 60: return "export_restriction";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 111: return "certificate_unobtainable";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 114: return "bad_certificate_hash_value";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return NULL;
    }
}

uint64_t hs_tls_started(const hs_sock_t *s)
{
    const conn_t *c = conn_of(s);
    return c ? c->started : 0;
}

int hs_tls_sni_host(const hs_sock_t *s)
{
    const conn_t *c = conn_of(s);
    return c ? c->sni : -2;
}

const char *hs_tls_sni_name(const hs_sock_t *s)
{
    const conn_t *c = conn_of(s);
    return c && c->srv ? SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

int hs_tls_client_cert(const hs_sock_t *s, const char **why)
{
    const conn_t *c = conn_of(s);
    *why = NULL;
    if (!c || !(SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER))
        return HS_OK;
    /* the rule of the context the session ended up with (the host's, after SNI) */
    const host_ctx_t *hc = c->srv ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(c->ssl)) : NULL;
    bool required = !hc || hc->verify == HS_TLS_VERIFY_REQUIRED;
    if (!SSL_get0_peer_certificate(c->ssl))
        return required ? HS_TLS_CERT_MISSING : HS_OK;
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK) {
        *why = X509_verify_cert_error_string(v);
        return HS_TLS_CERT_BAD;
    }
    return HS_OK;
}

bool hs_tls_early(const hs_sock_t *s, size_t unread)
{
    const conn_t *c = conn_of(s);
    return c && c->early_end && unread <= c->nread && c->nread - unread < c->early_end;
}

/* ---- outbound ---- */
struct hs_tls_client_s {
    _Atomic int refs;
    SSL_CTX *ctx;
    bool verify;
};

hs_tls_client_t *hs_tls_client_new(const hs_tls_client_opts_t *o, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        fail(err, errlen, NULL, "cannot make a TLS client context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_ENABLE_KTLS);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER); /* buffers: the idle op */
    SSL_CTX_set_read_ahead(ctx, 1);
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_cipher_list(ctx, MOZILLA_TLS12) != 1 || SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1)) {
        fail(err, errlen, NULL, "the TLS library refuses the client profile");
        goto Fail;
    }
    if (o->ca_file ? SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        fail(err, errlen, NULL, "cannot load trusted certificates from %s", o->ca_file ? o->ca_file : "the system");
        goto Fail;
    }
    if (o->cert) {
        const char *key = o->key ? o->key : o->cert;
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
            fail(err, errlen, NULL, "cannot use the client certificate %s with the key %s", o->cert, key);
            goto Fail;
        }
    }
    SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    hs_tls_client_t *c = hs_calloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    c->ctx = ctx;
    c->verify = !o->insecure;
    return c;
Fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void hs_tls_client_free(hs_tls_client_t *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        SSL_CTX_free(c->ctx);
        free(c);
    }
}

void hs_tls_client_ref(hs_tls_client_t *c)
{
    atomic_fetch_add(&c->refs, 1);
}

int hs_tls_connect(hs_sock_t *s, hs_tls_client_t *cl, const char *name)
{
    conn_t *c = conn_new(s, cl->ctx);
    if (!c) {
        ERR_clear_error();
        return HS_ERROR;
    }
    atomic_fetch_add(&cl->refs, 1);
    c->cli = cl;
    c->started = s->loop ? s->loop->now_ms : 0;
    SSL_set_connect_state(c->ssl);
    if (name && name[0]) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
        int ok;
        if (ip) {
            /* an IP address: no SNI (RFC 6066 §3 forbids literals), matched against iPAddress */
            ASN1_OCTET_STRING_free(ip);
            ok = !cl->verify || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name) == 1;
        } else {
            ok = SSL_set_tlsext_host_name(c->ssl, name) == 1 && (!cl->verify || SSL_set1_host(c->ssl, name) == 1);
        }
        if (!ok) {
            ERR_clear_error();
            return HS_ERROR; /* the socket's close releases the session */
        }
    }
    return HS_OK;
}
