/* statusd — HTTPS listeners: the TLS contexts of a configuration generation's listeners, made
 * from its configuration, and the https:// URLs of the 497/308/426 answers, and a TLS
 * connection's log fields.
 *
 * Each tls:// listen value gets its own contexts (src/event/tls.c): the listener's certificate —
 * its own cert=/key= or the top's tls.cert/tls.key — and one per host that sets a certificate or a
 * client-certificate rule of its own, chosen by SNI. What a host "sets" is told by the copy and
 * replay of settings (src/config/scopes.c): a host's value is the top's very string unless the
 * host gave one. A name that selects no host, or a client that sends none, gets the listener's.
 *
 * Reload. The contexts belong to a generation (hs_gen_t): a reload (SIGHUP) reads the
 * configuration again and so every certificate, key, OCSP response and CA file (as --user: they
 * must be readable by it), and a configuration whose files do not load is refused as a whole.
 * A connection takes its listener's contexts of the generation current when it is accepted, with
 * a reference, and keeps them to its end; they are freed with their last reference, so a reload
 * neither drops a connection nor fails a handshake in progress. The SNI names are copied into the
 * contexts, which therefore never look at a configuration that may be gone. Session ticket keys
 * belong to the server and outlive generations: tickets issued before a reload still resume. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/logfmt.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

/* SNI: the hosts' names, copied (the contexts may outlive the configuration), and which host a
 * server name selects, as a Host field naming it would (hs_config_match_host). */
typedef struct {
    size_t n;
    char **names;
} sni_map_t;

static int sni_host(void *arg, const char *name, size_t len)
{
    const sni_map_t *m = arg;
    return hs_config_match_host((const char *const *)m->names, m->n, hs_iov(name, len));
}

static void sni_free(void *arg)
{
    sni_map_t *m = arg;
    for (size_t i = 0; i < m->n; i++)
        free(m->names[i]);
    free(m->names);
    free(m);
}

static sni_map_t *sni_map(const hs_hostconf_t *hosts, size_t n)
{
    sni_map_t *m = hs_calloc(1, sizeof(*m));
    m->n = n;
    m->names = hs_calloc(n ? n : 1, sizeof(*m->names));
    for (size_t i = 0; i < n; i++)
        m->names[i] = hs_strdup(hosts[i].name);
    return m;
}

static int verify_of(const char *word, const char *ca)
{
    int v = word ? hs_listen_verify_word(word) : -1;
    return v >= 0 ? v : ca ? HS_TLS_VERIFY_REQUIRED : HS_TLS_VERIFY_OFF;
}

/* Where the settings of one certificate were written, for messages. */
typedef struct {
    char cert[300], key[300], ocsp[300], ca[300], verify[300];
} origins_t;

/* The origin of directive `name` on `host` (NULL: top) into buf, or `fallback` when it has none. */
static const char *origin_or(const hs_config_t *cfg, const hs_hostconf_t *host, const char *name, char *buf,
                             const char *fallback)
{
    hs_config_origin(cfg, host, name, 0, buf, sizeof(((origins_t *)0)->cert));
    return buf[0] || !fallback ? buf : fallback;
}

/* One listener's contexts from the configuration. */
static hs_tls_server_t *build(hs_gen_t *g, size_t li, char *err, size_t errlen)
{
    hs_config_t *cfg = g->cfg;
    const hs_listen_t *it = cfg->listen_items[li];
    char where[300];
    origins_t def;
    hs_config_origin(cfg, NULL, "listen", li, where, sizeof(where));
    /* a setting given on the listen value is reported there, else where the tls.* directive is */
    const char *w = where;
    hs_tls_server_opts_t o = {
        .def =
            {
                .cert = it->cert ? it->cert : cfg->tls_cert,
                .key = it->cert || it->key ? it->key : cfg->tls_key,
                .ocsp = it->cert || it->ocsp ? it->ocsp : cfg->tls_ocsp,
                .client_ca = it->client_ca ? it->client_ca : cfg->tls_client_ca,
                .cert_origin = it->cert ? w : origin_or(cfg, NULL, "tls.cert", def.cert, w),
                .key_origin = it->cert || it->key ? w : origin_or(cfg, NULL, "tls.key", def.key, w),
                .ocsp_origin = it->cert || it->ocsp ? w : origin_or(cfg, NULL, "tls.ocsp_response", def.ocsp, w),
                .ca_origin = it->client_ca || it->client_verify
                                 ? w
                                 : origin_or(cfg, NULL, "tls.client_certs.ca", def.ca,
                                             origin_or(cfg, NULL, "tls.client_certs.verify", def.verify, w)),
            },
        .sni_host = sni_host,
        .sni_free = sni_free,
        .early_data = it->early_data >= 0 ? it->early_data == 1 : cfg->tls_early_data,
        .keys = cfg->tls_session_tickets ? g->srv->tls_keys : NULL,
    };
    o.def.client_verify = verify_of(it->client_verify ? it->client_verify : cfg->tls_client_verify, o.def.client_ca);
    if (!o.def.cert) {
        snprintf(err, errlen,
                 "%s%slisten '%s': a TLS listener needs a certificate: tls.cert and tls.key (--tls-cert, --tls-key), "
                 "or cert= and key= on the listener",
                 where, where[0] ? ": " : "", cfg->listen[li]);
        return NULL;
    }

    size_t nhosts;
    const hs_hostconf_t *hosts = hs_config_hosts(cfg, &nhosts);
    hs_tls_cert_opts_t *ho = hs_calloc(nhosts ? nhosts : 1, sizeof(*ho));
    origins_t *og = hs_calloc(nhosts ? nhosts : 1, sizeof(*og));
    hs_tls_server_t *t = NULL;
    for (size_t i = 0; i < nhosts; i++) {
        const hs_config_t *hc = hosts[i].cfg;
        const hs_hostconf_t *h = &hosts[i];
        bool own_cert = hc->tls_cert != cfg->tls_cert;
        bool own_client = hc->tls_client_ca != cfg->tls_client_ca || hc->tls_client_verify != cfg->tls_client_verify;
        if (!own_cert && !own_client)
            continue; /* the listener's serves it */
        ho[i] = o.def;
        if (own_cert) {
            ho[i].cert = hc->tls_cert;
            ho[i].key = hc->tls_key != cfg->tls_key ? hc->tls_key : NULL; /* NULL: in the cert file */
            ho[i].ocsp = hc->tls_ocsp != cfg->tls_ocsp ? hc->tls_ocsp : NULL;
            ho[i].cert_origin = origin_or(cfg, h, "tls.cert", og[i].cert, NULL);
            ho[i].key_origin = origin_or(cfg, h, "tls.key", og[i].key, ho[i].cert_origin);
            ho[i].ocsp_origin = origin_or(cfg, h, "tls.ocsp_response", og[i].ocsp, ho[i].cert_origin);
        }
        if (own_client) {
            ho[i].client_ca = hc->tls_client_ca;
            ho[i].client_verify = verify_of(hc->tls_client_verify, hc->tls_client_ca);
            ho[i].ca_origin = origin_or(cfg, h, "tls.client_certs.ca", og[i].ca,
                                        origin_or(cfg, h, "tls.client_certs.verify", og[i].verify, NULL));
        }
        if (!ho[i].cert) {
            snprintf(err, errlen, "%s%shost '%s': client certificates on a TLS listener without a certificate",
                     ho[i].ca_origin, ho[i].ca_origin[0] ? ": " : "", h->name);
            goto Exit;
        }
    }
    o.hosts = ho;
    o.nhosts = nhosts;
    o.sni_arg = sni_map(hosts, nhosts);
    int bad;
    t = hs_tls_server_new(&o, &bad, err, errlen); /* sni_arg is its own now, even when it fails */
Exit:
    free(ho);
    free(og);
    return t;
}

int hs__https_gen_init(hs_gen_t *g, char *err, size_t errlen)
{
    const hs_config_t *cfg = g->cfg;
    for (size_t i = 0; i < cfg->num_listen; i++) {
        const hs_listen_t *it = cfg->listen_items[i];
        if (!it->tls)
            continue;
        if (cfg->tls_session_tickets && !g->srv->tls_keys) /* the server's, for every generation */
            g->srv->tls_keys = hs_tls_keys_new(cfg->tls_ticket_rotate);
        if (!(g->tls[i] = build(g, i, err, errlen))) {
            hs__https_gen_free(g);
            return HS_ERROR;
        }
        g->plain_http[i] = it->plain_http != HS_PLAIN_HTTP_DEFAULT
                               ? it->plain_http
                               : (uint8_t)hs_listen_plain_http_word(cfg->tls_plain_http ? cfg->tls_plain_http : "497");
    }
    return HS_OK;
}

void hs__https_gen_ports(hs_gen_t *g)
{
    g->https_port = (uint16_t)g->cfg->https_port;
    for (size_t i = 0; i < g->num_listen && !g->https_port; i++) {
        if (!g->tls[i])
            continue;
        const struct sockaddr *sa = (const struct sockaddr *)&g->listen_addr[i];
        g->https_port = ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                                        : ((const struct sockaddr_in *)sa)->sin_port);
    }
    if (!g->https_port)
        g->https_port = 443;
}

void hs__https_gen_free(hs_gen_t *g)
{
    for (size_t i = 0; i < HS_MAX_LISTEN; i++) {
        hs_tls_server_unref(g->tls[i]);
        g->tls[i] = NULL;
    }
}

void hs__https_log_fields(const hs_conn_t *c, const char *failure, hs_buf_t *fields)
{
    const char *version = hs_tls_version(&c->sock);
    if (c->plain_on_tls) {
        failure = "plain HTTP on a TLS port";
    } else if (strcmp(version, "-") != 0) {
        const char *cipher = hs_tls_cipher(&c->sock);
        hs_logfields_add(fields, "tls", version, strlen(version));
        hs_logfields_add(fields, "cipher", cipher, strlen(cipher));
    }
    if (failure)
        hs_logfields_add(fields, "tls_error", failure, strlen(failure));
}

const char *hs__https_url(hs_req_t *req, unsigned port)
{
    /* the name the client used (without its port), else the address it connected to */
    hs_iovec_t host = req->meta.host;
    char local[HS_ADDR_MAX + 2];
    if (host.len && host.base[0] == '[') {
        const char *rb = memchr(host.base, ']', host.len);
        host.len = rb ? (size_t)(rb - host.base) + 1 : host.len;
    } else {
        const char *colon = memchr(host.base ? host.base : "", ':', host.len);
        if (colon)
            host.len = (size_t)(colon - host.base);
    }
    if (!host.len) {
        struct sockaddr_storage ss;
        if (hs_req_local_addr(req, &ss) == HS_OK)
            hs_addr_format((const struct sockaddr *)&ss, local, HS_ADDR_MAX, 0);
        else
            snprintf(local, sizeof(local), "localhost");
        if (strchr(local, ':')) { /* IPv6: in brackets in a URL (RFC 3986 §3.2.2) */
            size_t n = strlen(local);
            memmove(local + 1, local, n);
            local[0] = '[';
            local[n + 1] = ']';
            local[n + 2] = '\0';
        }
        host = hs_iov_cstr(local);
    }
    char portpart[8] = "";
    if (port != 443)
        snprintf(portpart, sizeof(portpart), ":%u", port);
    hs_iovec_t path = req->p.path.len ? req->p.path : HS_IOV("/");
    return hs_arena_printf(&req->arena, "https://%.*s%s%.*s%s%.*s", (int)host.len, host.base, portpart, (int)path.len,
                           path.base, req->p.query.base ? "?" : "", (int)req->p.query.len,
                           req->p.query.base ? req->p.query.base : "")
        .base;
}
