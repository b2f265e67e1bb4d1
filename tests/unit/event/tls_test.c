/* Unit tests for TLS on the engine's sockets (src/event/tls.c): what a first byte says (sniff),
 * the outbound client API the gateway uses (verification on, SNI, host names and IP addresses,
 * handshake failure vs unverifiable certificate as distinct results), a server session on the
 * other end of a socketpair (both driven by one loop), data both ways through the retry rules of
 * SSL_write (a full socket buffer, gathered small segments, large ones in place), client
 * certificates as the server sees them, SNI, close_notify. Certificates are made in-process. */
#define _GNU_SOURCE
#include "hs/tls.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/tlsgen.h"

static char dir[64];
static char ca_pem[128], other_ca_pem[128], leaf_pem[128], leaf_key[128], client_pem[128], client_key[128];
static char mallory_pem[128], mallory_key[128];

typedef struct {
    hs_sock_t sock;
    int events;
} end_t;

static void on_end(hs_io_t *io, int ev)
{
    end_t *e = (end_t *)io;
    if (ev == HS_EV_DISPOSE || ev == HS_EV_TIMEOUT)
        return;
    if (ev & HS_EV_READ)
        e->sock.readable = true;
    e->events++;
}

static void test_sniff(void)
{
    ok(hs_tls_sniff("", 0) == HS_TLS_SNIFF_AGAIN, "sniff: nothing yet");
    ok(hs_tls_sniff("\x16\x03\x01", 3) == HS_TLS_SNIFF_TLS, "sniff: a TLS handshake record");
    ok(hs_tls_sniff("\x16", 1) == HS_TLS_SNIFF_TLS, "sniff: its first byte is enough");
    ok(hs_tls_sniff("GET / HTTP/1.1\r\n", 16) == HS_TLS_SNIFF_HTTP, "sniff: a GET");
    ok(hs_tls_sniff("M-SEARCH * HTTP/1.1", 19) == HS_TLS_SNIFF_HTTP, "sniff: any token method");
    ok(hs_tls_sniff("GE", 2) == HS_TLS_SNIFF_AGAIN, "sniff: part of a method");
    ok(hs_tls_sniff("G\x01", 2) == HS_TLS_SNIFF_OTHER, "sniff: a control byte in the method");
    ok(hs_tls_sniff("\x80\x2e\x01", 3) == HS_TLS_SNIFF_OTHER, "sniff: an SSLv2-style hello is not plain HTTP");
    ok(hs_tls_sniff(" GET", 4) == HS_TLS_SNIFF_OTHER, "sniff: a leading space");
    ok(hs_tls_sniff("SSH-2.0-OpenSSH_9.2\r\n", 21) == HS_TLS_SNIFF_OTHER, "sniff: not HTTP (no space after a token)");
    char longm[HS_TLS_SNIFF_MAX + 4];
    memset(longm, 'A', sizeof(longm));
    ok(hs_tls_sniff(longm, sizeof(longm)) == HS_TLS_SNIFF_OTHER, "sniff: a method too long to be one decides");
    ok(hs_tls_sniff(longm, HS_TLS_SNIFF_MAX - 1) == HS_TLS_SNIFF_AGAIN, "sniff: shorter, still undecided");
}

/* A connected pair on one loop: s (server session of t, when t) and c (client of cl, when cl). */
typedef struct {
    hs_loop_t loop;
    end_t s, c;
    int rs, rc;
} pair_t;

static void pair_open(pair_t *p, hs_tls_server_t *t, hs_tls_client_t *cl, const char *name)
{
    memset(p, 0, sizeof(*p));
    if (hs_loop_init(&p->loop) != HS_OK)
        abort();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    hs_sock_open(&p->s.sock, &p->loop, sv[0], &hs_sock_tcp, on_end);
    hs_sock_open(&p->c.sock, &p->loop, sv[1], &hs_sock_tcp, on_end);
    if (t && hs_tls_accept(&p->s.sock, t, p->loop.now_ms) != HS_OK)
        abort();
    if (cl && hs_tls_connect(&p->c.sock, cl, name) != HS_OK)
        abort();
    p->rs = p->rc = HS_AGAIN;
}

/* Drive both handshakes until neither waits (bounded). */
static void pair_handshake(pair_t *p)
{
    for (int i = 0; i < 400 && (p->rs == HS_AGAIN || p->rc == HS_AGAIN); i++) {
        if (p->rc == HS_AGAIN && hs_tls_is(&p->c.sock))
            p->rc = hs_tls_handshake(&p->c.sock, 0);
        if (p->rs == HS_AGAIN && hs_tls_is(&p->s.sock))
            p->rs = hs_tls_handshake(&p->s.sock, 65536);
        hs_loop_run_once(&p->loop, 2);
    }
}

static void pair_close(pair_t *p)
{
    hs_sock_close(&p->s.sock);
    hs_sock_close(&p->c.sock);
    hs_loop_destroy(&p->loop);
    hs_sock_pool_free(&p->loop);
}

/* Send n bytes from `from` to `to` as the writer would (the unwritten rest offered again), in
 * segments of `seg` bytes (several per writev), reading at the other end; true when every byte
 * arrived in order. */
static bool transfer(pair_t *p, hs_sock_t *from, hs_sock_t *to, size_t n, size_t seg)
{
    char *data = hs_malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 251);
    size_t sent = 0, got = 0;
    bool same = true;
    for (int round = 0; round < 20000 && got < n; round++) {
        while (sent < n) {
            struct iovec iov[8];
            int k = 0;
            for (size_t o = sent; o < n && k < 8; o += seg, k++) {
                iov[k].iov_base = data + o;
                iov[k].iov_len = HS_MIN(seg, n - o);
            }
            ssize_t w = hs_sock_writev(from, iov, k);
            if (w < 0)
                break;
            sent += (size_t)w;
        }
        for (;;) {
            to->readable = true;
            ssize_t r = hs_sock_read(to, 4096, 1 << 20);
            if (r <= 0)
                break;
            size_t avail = hs_sock_avail(to);
            if (got + avail > n || memcmp(hs_sock_data(to), data + got, avail) != 0)
                same = false;
            got += avail;
            hs_sock_consume(to, avail);
            hs_sock_release_buffer(to);
        }
        hs_loop_run_once(&p->loop, 1);
    }
    free(data);
    return same && got == n && sent == n;
}

static hs_tls_server_t *server(const char *client_ca, int verify, int (*sni)(void *, const char *, size_t))
{
    char err[512];
    int bad;
    hs_tls_cert_opts_t host = {.cert = leaf_pem, .key = leaf_key, .cert_origin = "host"};
    hs_tls_server_opts_t o = {
        .def = {.cert = leaf_pem, .key = leaf_key, .client_ca = client_ca, .client_verify = verify},
        .hosts = &host,
        .nhosts = sni ? 1 : 0,
        .sni_host = sni,
    };
    hs_tls_server_t *t = hs_tls_server_new(&o, &bad, err, sizeof(err));
    if (!t)
        printf("# server: %s\n", err);
    return t;
}

static hs_tls_client_t *client(const char *ca, bool insecure, const char *cert, const char *key)
{
    char err[512];
    hs_tls_client_opts_t o = {.ca_file = ca, .insecure = insecure, .cert = cert, .key = key};
    hs_tls_client_t *c = hs_tls_client_new(&o, err, sizeof(err));
    if (!c)
        printf("# client: %s\n", err);
    return c;
}

static int sni_localhost(void *arg, const char *name, size_t len)
{
    HS_UNUSED(arg);
    return len == 9 && !memcmp(name, "localhost", 9) ? 0 : -1;
}

static void test_handshake_and_data(const char *how)
{
    printf("# %s\n", how);
    hs_tls_server_t *t = server(NULL, HS_TLS_VERIFY_OFF, sni_localhost);
    hs_tls_client_t *cl = client(ca_pem, false, NULL, NULL);
    pair_t p;
    pair_open(&p, t, cl, "localhost");
    hs_tls_server_unref(t); /* the session keeps its own reference */
    hs_tls_client_free(cl);
    ok(!strcmp(hs_tls_version(&p.s.sock), "-"), "no version before the handshake");
    pair_handshake(&p);
    is_int(p.rc, HS_OK, "client: handshake done, certificate verified for localhost");
    is_int(p.rs, HS_OK, "server: handshake done");
    ok(!strcmp(hs_tls_version(&p.c.sock), "TLSv1.3") && !strcmp(hs_tls_version(&p.s.sock), "TLSv1.3"),
       "TLS 1.3 both ways");
    ok(!strncmp(hs_tls_cipher(&p.s.sock), "TLS_", 4), "a TLS 1.3 suite: %s", hs_tls_cipher(&p.s.sock));
    is_int(hs_tls_sni_host(&p.s.sock), 0, "the server saw SNI localhost: host 0");
    ok(hs_tls_failure(&p.s.sock, NULL) == NULL, "no failure");
    ok(!hs_tls_early(&p.s.sock, 0), "nothing came as early data");
    const char *why;
    is_int(hs_tls_client_cert(&p.s.sock, &why), HS_OK, "no client certificate asked for: fine");
    ok(transfer(&p, &p.c.sock, &p.s.sock, 1000, 13), "small segments gathered into records arrive in order");
    ok(transfer(&p, &p.s.sock, &p.c.sock, 3 << 20, 70000),
       "3 MiB in large segments through a full socket buffer (writes repeated as OpenSSL wants)");
    ok(transfer(&p, &p.c.sock, &p.s.sock, 700000, 5000), "700 kB in 5 kB segments");
    /* close_notify: the other end reads the end of the stream */
    is_int(hs_sock_shutdown(&p.c.sock), HS_OK, "shutdown sends close_notify and FIN");
    ssize_t r = HS_AGAIN;
    for (int i = 0; i < 100 && r == HS_AGAIN; i++) {
        hs_loop_run_once(&p.loop, 2);
        p.s.sock.readable = true;
        r = hs_sock_read(&p.s.sock, 4096, 65536);
    }
    ok(r == 0 && p.s.sock.eof, "the server sees the end of the client's stream");
    pair_close(&p);
}

static void test_client_results(void)
{
    hs_tls_server_t *t = server(NULL, HS_TLS_VERIFY_OFF, NULL);
    struct {
        const char *ca, *name;
        bool insecure;
        int want;
        const char *why;
    } cases[] = {
        {NULL, "localhost", false, HS_TLS_CERT_INVALID, "self-signed certificate in certificate chain"},
        {other_ca_pem, "localhost", false, HS_TLS_CERT_INVALID, "self-signed certificate in certificate chain"},
        {ca_pem, "other.example", false, HS_TLS_CERT_INVALID, "hostname mismatch"},
        {ca_pem, "127.0.0.1", false, HS_OK, NULL},
        {ca_pem, "127.0.0.2", false, HS_TLS_CERT_INVALID, "IP address mismatch"},
        {ca_pem, "::1", false, HS_TLS_CERT_INVALID, "IP address mismatch"},
        {other_ca_pem, "other.example", true, HS_OK, NULL},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(cases); i++) {
        hs_tls_client_t *cl = client(cases[i].ca, cases[i].insecure, NULL, NULL);
        pair_t p;
        pair_open(&p, t, cl, cases[i].name);
        hs_tls_client_free(cl);
        pair_handshake(&p);
        bool by_peer = true;
        const char *why = hs_tls_failure(&p.c.sock, &by_peer);
        if (!ok(p.rc == cases[i].want && (!cases[i].why || (why && strstr(why, cases[i].why))),
                "client to %s (%s%s): %d", cases[i].name, cases[i].ca ? "a CA file" : "the system's store",
                cases[i].insecure ? ", insecure" : "", cases[i].want))
            printf("#   got %d, '%s'\n", p.rc, why ? why : "");
        if (cases[i].want == HS_TLS_CERT_INVALID) {
            ok(!by_peer, "  an unverifiable certificate is the client's finding");
            hs_tls_failure(&p.s.sock, &by_peer);
            ok(p.rs == HS_TLS_HANDSHAKE_FAILED && by_peer, "  the server sees the client's alert");
        }
        if (cases[i].want == HS_OK)
            is_int(hs_tls_sni_host(&p.s.sock), -2, "  no SNI for an IP address or a server without hosts");
        pair_close(&p);
    }
    hs_tls_server_unref(t);
}

static void test_handshake_failed(void)
{
    /* the upstream answers in plain HTTP: a failed handshake, not a certificate problem */
    hs_tls_client_t *cl = client(ca_pem, false, NULL, NULL);
    pair_t p;
    pair_open(&p, NULL, cl, "localhost");
    hs_tls_client_free(cl);
    const char *plain = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    for (int i = 0; i < 50 && p.rc == HS_AGAIN; i++) {
        p.rc = hs_tls_handshake(&p.c.sock, 0);
        if (i == 2 && write(p.s.sock.io.fd, plain, strlen(plain)) < 0)
            break;
        hs_loop_run_once(&p.loop, 2);
    }
    bool by_peer;
    const char *why = hs_tls_failure(&p.c.sock, &by_peer);
    ok(p.rc == HS_TLS_HANDSHAKE_FAILED, "a peer that does not speak TLS: handshake failed (%s)", why ? why : "");
    pair_close(&p);
    /* the upstream closes at once */
    cl = client(ca_pem, false, NULL, NULL);
    pair_open(&p, NULL, cl, "localhost");
    hs_tls_client_free(cl);
    shutdown(p.s.sock.io.fd, SHUT_RDWR);
    for (int i = 0; i < 50 && p.rc == HS_AGAIN; i++) {
        p.rc = hs_tls_handshake(&p.c.sock, 0);
        hs_loop_run_once(&p.loop, 2);
    }
    why = hs_tls_failure(&p.c.sock, &by_peer);
    ok(p.rc == HS_TLS_HANDSHAKE_FAILED && by_peer, "a peer that closes: handshake failed, by the peer (%s)",
       why ? why : "");
    pair_close(&p);
}

static void test_client_certificates(void)
{
    hs_tls_server_t *t = server(ca_pem, HS_TLS_VERIFY_REQUIRED, NULL);
    hs_tls_client_t *without = client(ca_pem, false, NULL, NULL);
    hs_tls_client_t *with = client(ca_pem, false, client_pem, client_key);
    hs_tls_client_t *stranger = client(ca_pem, false, mallory_pem, mallory_key); /* from another CA */
    const char *why;
    pair_t p;
    pair_open(&p, t, without, "localhost");
    pair_handshake(&p);
    ok(p.rs == HS_OK && p.rc == HS_OK, "required client certificate missing: the handshake still completes");
    is_int(hs_tls_client_cert(&p.s.sock, &why), HS_TLS_CERT_MISSING, "  and the server finds none (496)");
    pair_close(&p);
    pair_open(&p, t, with, "localhost");
    pair_handshake(&p);
    is_int(hs_tls_client_cert(&p.s.sock, &why), HS_OK, "a client certificate from the CA: verified");
    pair_close(&p);
    pair_open(&p, t, stranger, "localhost");
    pair_handshake(&p);
    ok(hs_tls_client_cert(&p.s.sock, &why) == HS_TLS_CERT_BAD && why && strstr(why, "unable to"),
       "a client certificate from another CA: the handshake completes, verification failed (495): %s", why ? why : "");
    pair_close(&p);
    hs_tls_client_free(without);
    hs_tls_client_free(with);
    hs_tls_client_free(stranger);
    hs_tls_server_unref(t);
    /* optional: none is fine */
    t = server(ca_pem, HS_TLS_VERIFY_OPTIONAL, NULL);
    without = client(ca_pem, false, NULL, NULL);
    pair_open(&p, t, without, "localhost");
    pair_handshake(&p);
    is_int(hs_tls_client_cert(&p.s.sock, &why), HS_OK, "optional client certificate: none given is fine");
    pair_close(&p);
    hs_tls_client_free(without);
    hs_tls_server_unref(t);
}

static void test_server_errors(void)
{
    char err[512];
    int bad;
    hs_tls_cert_opts_t hosts[2] = {{.cert = NULL}, {.cert = "/nonexistent.pem", .cert_origin = "f.yaml:9"}};
    hs_tls_server_opts_t o = {.def = {.cert = leaf_pem, .key = leaf_key}, .hosts = hosts, .nhosts = 2};
    ok(!hs_tls_server_new(&o, &bad, err, sizeof(err)) && bad == 1 && strstr(err, "f.yaml:9: tls.cert: cannot read"),
       "a host's certificate that cannot be read: its index and origin (%s)", err);
    o = (hs_tls_server_opts_t){.def = {.cert = leaf_pem, .key = client_key, .key_origin = "k:1"}};
    ok(!hs_tls_server_new(&o, &bad, err, sizeof(err)) && bad == -1 && strstr(err, "k:1: tls.key"),
       "a key that is not the certificate's (%s)", err);
    o = (hs_tls_server_opts_t){
        .def = {.cert = leaf_pem, .key = leaf_key, .client_ca = ca_pem, .client_verify = HS_TLS_VERIFY_REQUIRED},
        .early_data = true};
    ok(!hs_tls_server_new(&o, &bad, err, sizeof(err)) && strstr(err, "cannot be combined"),
       "early data with client certificates is refused (%s)", err);
    hs_tls_client_opts_t co = {.ca_file = "/nonexistent-ca.pem"};
    ok(!hs_tls_client_new(&co, err, sizeof(err)) && strstr(err, "/nonexistent-ca.pem"),
       "a client CA file that "
       "cannot be read (%s)",
       err);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "%s", tlsgen_dir());
    tlsgen_id_t ca = tlsgen_make("test CA", NULL, NULL, -1, 30);
    tlsgen_id_t other = tlsgen_make("other CA", NULL, NULL, -1, 30);
    tlsgen_id_t leaf = tlsgen_make("localhost", "DNS:localhost,IP:127.0.0.1", &ca, -1, 30);
    tlsgen_id_t cli = tlsgen_make("alice", NULL, &ca, -1, 30);
    tlsgen_id_t mallory = tlsgen_make("mallory", NULL, &other, -1, 30);
    tlsgen_write(dir, "ca", &ca, NULL);
    tlsgen_write(dir, "other", &other, NULL);
    tlsgen_write(dir, "leaf", &leaf, &ca);
    tlsgen_write(dir, "client", &cli, NULL);
    tlsgen_write(dir, "mallory", &mallory, NULL);
    snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
    snprintf(other_ca_pem, sizeof(other_ca_pem), "%s/other.pem", dir);
    snprintf(leaf_pem, sizeof(leaf_pem), "%s/leaf.pem", dir);
    snprintf(leaf_key, sizeof(leaf_key), "%s/leaf.key", dir);
    snprintf(client_pem, sizeof(client_pem), "%s/client.pem", dir);
    snprintf(client_key, sizeof(client_key), "%s/client.key", dir);
    snprintf(mallory_pem, sizeof(mallory_pem), "%s/mallory.pem", dir);
    snprintf(mallory_key, sizeof(mallory_key), "%s/mallory.key", dir);

    test_sniff();
    hs_tls_set_ktls(HS_TLS_KTLS_OFF);
    test_handshake_and_data("statusd's own BIO: records gathered, one write(2) for several");
    hs_tls_set_ktls(HS_TLS_KTLS_ON);
    test_handshake_and_data("OpenSSL's socket BIO (as with kTLS): OpenSSL's write retry rule");
    test_client_results();
    hs_tls_set_ktls(HS_TLS_KTLS_AUTO);
    test_client_results();
    test_handshake_failed();
    test_client_certificates();
    test_server_errors();

    tlsgen_free(&ca);
    tlsgen_free(&other);
    tlsgen_free(&leaf);
    tlsgen_free(&cli);
    tlsgen_free(&mallory);
    tlsgen_cleanup(dir);
    return tap_done();
}
