/* statusd — TLS on the engine's sockets (src/event/tls.c, OpenSSL 3).
 *
 * TLS is one more ops table of hs_sock_t: once a TLS session is attached to a socket
 * (hs_tls_accept for a connection a listener accepted, hs_tls_connect for an outbound one made
 * with hs_sock_connect), s->ops read and write through it and s->ops_data holds the session.
 * hs_sock_close releases the session with the socket; nothing else has to be freed per socket.
 *
 * The handshake does not block: call hs_tls_handshake on every event of the socket until it
 * returns HS_OK (go on with hs_sock_read / hs_sock_writev as for TCP) or a failure. Time limits
 * are the owner's (hs_sock_set_deadline), as for connecting.
 *
 * Server contexts (hs_tls_server_t) are built once from files and shared by every worker: one
 * per listener, with a certificate per host chosen by SNI. A reload builds new ones; a socket
 * keeps the context it started with (a reference), so connections made before a reload go on
 * untouched while new ones get the new certificates.
 *
 * Defaults (Mozilla's "intermediate" profile): TLS 1.2 and 1.3, ECDHE/DHE with AES-GCM or
 * ChaCha20-Poly1305 for TLS 1.2, X25519/P-256/P-384, ALPN http/1.1 (RFC 7301), session tickets
 * under rotating keys, kTLS (and so SSL_sendfile) where the kernel offers it, and the TLS buffers
 * given back while a connection is idle (the idle op). One deliberate difference is
 * explained in tls.c: the server's TLS 1.2 cipher order is used, with ChaCha20 moved to the top
 * for clients that prefer it.
 *
 * Thread safety: contexts, ticket keys and client contexts may be used from any worker at once;
 * a socket's session only from the socket's loop. */
#ifndef HS_TLS_H
#define HS_TLS_H

#include "hs/sock.h"

/* ---- what a client sends first ----
 * The first bytes of a connection on a TLS port: a TLS record (a handshake record, byte 0x16),
 * plain HTTP (a method token and a space: "GET "), or neither. Reads nothing but data[0..len).
 * HS_TLS_SNIFF_AGAIN when the bytes so far could still be either (an empty buffer, "GE"). */
enum { HS_TLS_SNIFF_AGAIN, HS_TLS_SNIFF_TLS, HS_TLS_SNIFF_HTTP, HS_TLS_SNIFF_OTHER };
#define HS_TLS_SNIFF_MAX 24 /* more bytes than this never leave the answer at AGAIN */
int hs_tls_sniff(const void *data, size_t len);

/* ---- results of a handshake (besides HS_OK and HS_AGAIN) ---- */
enum {
    HS_TLS_HANDSHAKE_FAILED = -1000, /* the TLS handshake failed (no common protocol or cipher, an
                                        alert, the peer closed, not TLS at all …) */
    HS_TLS_CERT_INVALID = -1001,     /* outbound: the server's certificate could not be verified
                                        (unknown issuer, expired, not for that name …) */
};

/* ---- session ticket keys ----
 * A ring of keys shared by every context of a server and kept across reloads, so that tickets
 * issued before a certificate reload still resume after it. A key encrypts new tickets for
 * `rotate_ms`, then only decrypts for as long again, then is forgotten (and wiped): a stolen key
 * opens at most two periods of recorded sessions. */
typedef struct hs_tls_keys_s hs_tls_keys_t;
hs_tls_keys_t *hs_tls_keys_new(uint64_t rotate_ms);
/* A new period (a reload's tls.ticket_key_rotation), from the next rotation on; any thread. */
void hs_tls_keys_set_rotation(hs_tls_keys_t *k, uint64_t rotate_ms);
void hs_tls_keys_free(hs_tls_keys_t *k); /* after every context using it is gone */

/* ---- server contexts ---- */
enum { HS_TLS_VERIFY_OFF, HS_TLS_VERIFY_OPTIONAL, HS_TLS_VERIFY_REQUIRED };

/* One certificate and what goes with it. Strings are read during hs_tls_server_new only. */
typedef struct hs_tls_cert_opts_s {
    const char *cert;      /* PEM file: the certificate, then its chain */
    const char *key;       /* PEM file: the private key (NULL: it is in the cert file) */
    const char *ocsp;      /* DER file: an OCSP response for the certificate, stapled while valid;
                              NULL: no stapling */
    const char *client_ca; /* PEM file: the authorities client certificates must chain to */
    int client_verify;     /* HS_TLS_VERIFY_*: with OPTIONAL or REQUIRED, client_ca is needed */
    /* where each was configured, prefixed to messages about it ("file.yaml:3"); NULL or "": none */
    const char *cert_origin, *key_origin, *ocsp_origin, *ca_origin;
} hs_tls_cert_opts_t;

typedef struct hs_tls_server_opts_s {
    hs_tls_cert_opts_t def; /* the listener's: for clients without SNI or naming no host */
    /* Per host (index = what sni_host returns): an entry whose cert is NULL is served by def. */
    const hs_tls_cert_opts_t *hosts;
    size_t nhosts;
    /* The host a server name selects (its index), or -1: called on workers during handshakes,
     * so it must only read shared data. NULL: SNI selects nothing. */
    int (*sni_host)(void *arg, const char *name, size_t len);
    void *sni_arg;
    /* called with sni_arg when the contexts are freed, and by hs_tls_server_new when it fails
     * (sni_arg belongs to the contexts from the call on); NULL: none */
    void (*sni_free)(void *arg);
    bool early_data;     /* accept TLS 1.3 0-RTT data (single-use tickets: see tls.c) */
    hs_tls_keys_t *keys; /* session tickets under these keys; NULL: no tickets */
} hs_tls_server_opts_t;

typedef struct hs_tls_server_s hs_tls_server_t;
/* Read every file and check it (the key matches the certificate, the OCSP response is for it and
 * signed by its issuer, the CA file holds certificates …). The new context has one reference.
 * NULL on error: a message in err (with the file at fault), *bad = -1 for def or the host index. */
hs_tls_server_t *hs_tls_server_new(const hs_tls_server_opts_t *o, int *bad, char *err, size_t errlen);
void hs_tls_server_ref(hs_tls_server_t *t);
void hs_tls_server_unref(hs_tls_server_t *t); /* freed with its last reference */

/* ---- a connection ----
 * Attach a server session of t to s, an accepted TCP socket that has not been read from (the
 * socket takes a reference of t). `now_ms` is when the connection started (for the log). HS_OK,
 * or HS_ERROR when OpenSSL cannot make a session (out of memory). */
int hs_tls_accept(hs_sock_t *s, hs_tls_server_t *t, uint64_t now_ms);
/* Advance the handshake. HS_OK: application data may flow — the handshake is complete, or TLS 1.3
 * early data was accepted and sits in the input buffer (hs_sock_avail; the handshake then ends as
 * reading goes on: hs_tls_early tells early bytes from the rest). HS_AGAIN: wait for the socket.
 * HS_TLS_HANDSHAKE_FAILED / HS_TLS_CERT_INVALID: hs_tls_failure says why; the owner closes s.
 * `limit`: the most the input buffer may hold (early data is read into it). */
int hs_tls_handshake(hs_sock_t *s, size_t limit);

/* Is s a TLS socket (ops attached)? */
bool hs_tls_is(const hs_sock_t *s);
/* The negotiated protocol ("TLSv1.3") and cipher (OpenSSL's name, "TLS_AES_128_GCM_SHA256"):
 * static strings, "-" before the handshake chose them. */
const char *hs_tls_version(const hs_sock_t *s);
const char *hs_tls_cipher(const hs_sock_t *s);
/* Why the handshake failed (a static string), or why the session ended when the peer ended it
 * with a fatal alert after the handshake; NULL when neither. *by_peer (may be NULL) is set when
 * the peer ended it (an alert from it, or it closed). */
const char *hs_tls_failure(const hs_sock_t *s, bool *by_peer);
/* The fatal alert the peer sent (its number, 0-255: RFC 8446 §6), -1 when none came: a failure
 * with one is the peer's refusal, not something this side found wrong. */
int hs_tls_alert_received(const hs_sock_t *s);
/* An alert's name in the IANA TLS Alerts registry ("handshake_failure" for 40), NULL for a number
 * the registry does not name. */
const char *hs_tls_alert_name(int alert);
/* When the connection started (hs_tls_accept's now_ms). */
uint64_t hs_tls_started(const hs_sock_t *s);
/* Server side: the host index the client's SNI selected (sni_host), -1 when it named none, -2
 * when the client sent no server name. */
int hs_tls_sni_host(const hs_sock_t *s);
/* Server side: the server name the client sent (SNI), or NULL. Valid while the socket is. */
const char *hs_tls_sni_name(const hs_sock_t *s);
/* Server side, after the handshake: the client certificate, as the host's rule wants it. HS_OK
 * (verified, or not asked for, or optional and not given); HS_TLS_CERT_MISSING (required, none
 * given: 496); HS_TLS_CERT_BAD (given, failed verification: 495) with *why (static text such
 * as "certificate has expired"). */
enum { HS_TLS_CERT_MISSING = -1002, HS_TLS_CERT_BAD = -1003 };
int hs_tls_client_cert(const hs_sock_t *s, const char **why);
/* Was the byte `unread` bytes before the end of what has been read from s sent as TLS 1.3 early
 * data? (A request starting there was received in early data: RFC 8470 §5.2.) */
bool hs_tls_early(const hs_sock_t *s, size_t unread);

/* How sessions reach their socket: AUTO (the default) uses OpenSSL's socket BIO, and so kTLS,
 * where the kernel's tls module is loaded, else statusd's own BIO, which sends the records of a
 * write together; ON and OFF force one or the other (for tests). Set before any session starts. */
enum { HS_TLS_KTLS_AUTO, HS_TLS_KTLS_ON, HS_TLS_KTLS_OFF };
void hs_tls_set_ktls(int mode);

/* ---- outbound (the gateway's upstreams) ----
 * A client context: certificate verification on unless `insecure`, against ca_file or, without
 * one, the system's store (/etc/ssl/certs); TLS 1.2 and 1.3; ALPN http/1.1; an optional client
 * certificate. Shared by any number of sockets and workers. */
typedef struct hs_tls_client_opts_s {
    const char *ca_file;    /* PEM file of trusted authorities; NULL: the system's default store */
    bool insecure;          /* do not verify the server's certificate (tests, private networks) */
    const char *cert, *key; /* a client certificate to present, or NULL */
} hs_tls_client_opts_t;
typedef struct hs_tls_client_s hs_tls_client_t;
/* NULL with a message in err when a file cannot be used. */
hs_tls_client_t *hs_tls_client_new(const hs_tls_client_opts_t *o, char *err, size_t errlen);
/* Drop the caller's reference: freed once no socket uses it either. */
void hs_tls_client_free(hs_tls_client_t *c);
/* Take another reference (dropped with hs_tls_client_free): for an owner, such as an outbound
 * exchange, that may outlive the one that made the context. Any thread. */
void hs_tls_client_ref(hs_tls_client_t *c);
/* Start TLS on s once hs_sock_connect_result said the TCP connection is made. `name` is the
 * upstream's host name or IP address: sent as SNI (host names only, RFC 6066 §3) and the name
 * the certificate must be for (RFC 6125; an IP address must be in its subjectAltName). Then call
 * hs_tls_handshake(s, 0) on the socket's events: HS_OK, HS_AGAIN, HS_TLS_HANDSHAKE_FAILED
 * (→ 502 / 525) or HS_TLS_CERT_INVALID (→ 502 / 526), with hs_tls_failure for the log.
 * HS_OK, or HS_ERROR (no memory, a name OpenSSL refuses). The socket holds a reference of c. */
int hs_tls_connect(hs_sock_t *s, hs_tls_client_t *c, const char *name);

#endif
