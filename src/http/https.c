/* statusd — HTTPS listeners: their TLS contexts made from the configuration, reloaded on SIGHUP,
 * and the https:// URLs of the 497/308/426 answers.
 *
 * Each tls:// listen value gets its own contexts (src/event/tls.c): the listener's certificate —
 * its own cert=/key= or the top's tls.cert/tls.key — and one per host that sets a certificate or a
 * client-certificate rule of its own, chosen by SNI. What a host "sets" is told by the copy and
 * replay of settings (src/config/scopes.c): a host's value is the top's very string unless the
 * host gave one. A name that selects no host, or a client that sends none, gets the listener's.
 *
 * Reload. A worker starting a handshake takes the listener's current contexts with a reference
 * under the listener's mutex; SIGHUP builds every listener's contexts anew from the files (as
 * root could read them at start: the files must be readable by --user now) and swaps them in
 * under the same mutex. A connection keeps the contexts it started with until it closes, and
 * those are freed with their last reference, so a reload neither drops a connection nor fails a
 * handshake in progress. If anything fails to load, nothing is swapped. */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

/* SNI: the host a server name selects, as a Host field naming it would (hs_config_find_host). */
static int sni_host(void *arg, const char *name, size_t len)
{
    const hs_config_t *cfg = arg;
    bool known;
    const hs_hostconf_t *h = hs_config_find_host(cfg, hs_iov(name, len), &known);
    size_t n;
    const hs_hostconf_t *hosts = hs_config_hosts(cfg, &n);
    return known ? (int)(h - hosts) : -1;
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
static hs_tls_server_t *build(hs_server_t *srv, size_t li, char *err, size_t errlen)
{
    hs_config_t *cfg = srv->cfg;
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
        .sni_arg = cfg,
        .early_data = it->early_data >= 0 ? it->early_data == 1 : cfg->tls_early_data,
        .keys = srv->tls_keys,
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
    int bad;
    t = hs_tls_server_new(&o, &bad, err, errlen);
Exit:
    free(ho);
    free(og);
    return t;
}

int hs__https_init(hs_server_t *srv, char *err, size_t errlen)
{
    hs_config_t *cfg = srv->cfg;
    bool any = false;
    for (size_t i = 0; i < cfg->num_listen; i++)
        any |= cfg->listen_items[i]->tls;
    if (!any)
        return HS_OK;
    if (cfg->tls_session_tickets)
        srv->tls_keys = hs_tls_keys_new(cfg->tls_ticket_rotate);
    for (size_t i = 0; i < cfg->num_listen; i++) {
        const hs_listen_t *it = cfg->listen_items[i];
        if (!it->tls)
            continue;
        hs_tls_server_t *t = build(srv, i, err, errlen);
        if (!t)
            return HS_ERROR;
        hs__tls_listener_t *l = hs_calloc(1, sizeof(*l));
        pthread_mutex_init(&l->mu, NULL);
        l->current = t;
        l->index = i;
        l->plain_http = it->plain_http != HS_PLAIN_HTTP_DEFAULT
                            ? it->plain_http
                            : (uint8_t)hs_listen_plain_http_word(cfg->tls_plain_http ? cfg->tls_plain_http : "497");
        const struct sockaddr *sa = (const struct sockaddr *)&it->addr;
        l->port = ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                                  : ((const struct sockaddr_in *)sa)->sin_port);
        srv->tls[i] = l;
    }
    return HS_OK;
}

int hs__https_reload(hs_server_t *srv)
{
    char err[1024];
    hs_tls_server_t *fresh[HS_MAX_LISTEN] = {0};
    size_t n = 0;
    for (size_t i = 0; i < srv->num_listen; i++) {
        if (!srv->tls[i])
            continue;
        if (!(fresh[i] = build(srv, i, err, sizeof(err)))) {
            hs_log_error("reload: %s; still serving the certificates loaded before", err);
            for (size_t k = 0; k < i; k++)
                hs_tls_server_unref(fresh[k]);
            return HS_ERROR;
        }
        n++;
    }
    if (n == 0)
        return HS_OK; /* no TLS listener: nothing to reload */
    for (size_t i = 0; i < srv->num_listen; i++) {
        hs__tls_listener_t *l = srv->tls[i];
        if (!l)
            continue;
        pthread_mutex_lock(&l->mu);
        hs_tls_server_t *old = l->current;
        l->current = fresh[i];
        pthread_mutex_unlock(&l->mu);
        hs_tls_server_unref(old); /* freed once its last connection closes */
    }
    hs_log_info("reload: TLS certificates and keys loaded again for %zu listener%s", n, n == 1 ? "" : "s");
    return HS_OK;
}

void hs__https_free(hs_server_t *srv)
{
    for (size_t i = 0; i < HS_MAX_LISTEN; i++) {
        hs__tls_listener_t *l = srv->tls[i];
        if (!l)
            continue;
        hs_tls_server_unref(l->current);
        pthread_mutex_destroy(&l->mu);
        free(l);
        srv->tls[i] = NULL;
    }
    hs_tls_keys_free(srv->tls_keys);
    srv->tls_keys = NULL;
}

hs_tls_server_t *hs__https_take(hs__tls_listener_t *l)
{
    pthread_mutex_lock(&l->mu);
    hs_tls_server_t *t = l->current;
    hs_tls_server_ref(t);
    pthread_mutex_unlock(&l->mu);
    return t;
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
