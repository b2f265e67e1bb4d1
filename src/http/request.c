/* statusd — a request's way through the engine once its head passed the protocol checks:
 * find-config (host, path, the path's limits), then the phases rewrite, access and content,
 * and at its end the log phase (called by conn.c) and the cleanups.
 *
 * The path is matched in its normal form (hs/path.h): "/%61pi/./x" and "//api/x" find the
 * same path as "/api/x", so an access rule on /api cannot be walked around by spelling. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/logfmt.h"
#include "hs/path.h"

#include <stdio.h>

enum { PHASE_REWRITE, PHASE_ACCESS, PHASE_CONTENT, PHASE_DONE }; /* the first two index hs_pathconf_t.idle */

struct hs_cleanup_s {
    void (*fn)(void *arg);
    void *arg;
    hs_cleanup_t *next;
};

void hs_req_log_field(hs_req_t *req, const char *key, const char *fmt, ...)
{
    if (hs_req_cfg(req)->log_target < 0)
        return; /* nothing is logged: nothing to keep */
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    hs_logfields_add(&req->log_fields, key, value, HS_MIN((size_t)n, sizeof(value) - 1));
}

int hs_req_set_cause_id(hs_req_t *req, const char *id)
{
    hs_cause_t c = hs_cause_find(hs_iov_cstr(id));
    if (!c) {
        hs_log_error("BUG: cause '%s' is not registered (hs_module_t.causes)", id);
        return HS_ERROR;
    }
    req->cause = c;
    return HS_OK;
}

void hs_req_cleanup(hs_req_t *req, void (*fn)(void *arg), void *arg)
{
    hs_cleanup_t *c = hs_arena_alloc(&req->arena, sizeof(*c));
    *c = (hs_cleanup_t){.fn = fn, .arg = arg, .next = req->cleanups};
    req->cleanups = c;
}

void hs__req_log_phase(hs_req_t *req, int status)
{
    req->log_status = status;
    uint32_t idle = req->path ? req->path->idle[2] : 0;
    if ((idle & req->srv->phase_mods[2]) == req->srv->phase_mods[2])
        return; /* no module has log work on this path (or none has a log handler) */
    for (hs_module_t *const *m = req->srv->log; *m; m++)
        if (!((idle >> (*m)->index) & 1u))
            (*m)->log(req);
}

void hs__req_end(hs_req_t *req, int status)
{
    req->log_status = status;
    while (req->cleanups) {
        hs_cleanup_t *c = req->cleanups;
        req->cleanups = c->next;
        c->fn(c->arg);
    }
}

hs_iovec_t hs_req_path_below_mount(const hs_req_t *req)
{
    hs_iovec_t p = req->npath, m = hs_req_mount(req);
    if (m.len >= p.len)
        return HS_IOV("/");
    return hs_iov(p.base + m.len, p.len - m.len);
}

/* The content handler, once rewrite and access let the request through. */
static void content(hs_req_t *req)
{
    req->phase = PHASE_DONE;
    const hs_pathconf_t *p = req->path;
    if (!p || !p->handler) {
        req->cause = HS_CAUSE_NO_HANDLER;
        hs_res_error(req, 404, "nothing is served at this path");
        return;
    }
    hs_module_t *m = hs_modules[p->handler - 1]; /* a path's handler is a module of the configuration */
    int r = m->content(req);
    if (r == HS_DECLINED) {
        req->cause = HS_CAUSE_HANDLER_DECLINED;
        hs_res_error(req, 404, "nothing is served at this path");
        return;
    }
    if (r == HS_AGAIN || req->res_sent || req->body_started)
        return;
    req->cause = HS_CAUSE_HANDLER_NO_RESPONSE;
    hs_res_error(req, 500, "a handler finished without a response");
}

/* Run the phases from where they stand. */
static void run(hs_req_t *req)
{
    while (req->phase < PHASE_CONTENT) {
        hs_module_t *const *mods = req->phase == PHASE_REWRITE ? req->srv->rewrite : req->srv->access;
        uint32_t idle = req->path ? req->path->idle[req->phase] : 0; /* modules with nothing to do here */
        uint32_t busy = req->srv->phase_mods[req->phase];
        if ((idle & busy) == busy) { /* every module of the phase is idle here (or there is none) */
            req->phase++;
            req->phase_i = 0;
            continue;
        }
        for (; mods[req->phase_i]; req->phase_i++) {
            hs_module_t *m = mods[req->phase_i];
            if ((idle >> m->index) & 1u)
                continue;
            int (*h)(hs_req_t *) = req->phase == PHASE_REWRITE ? m->rewrite : m->access;
            req->in_phase = true;
            req->resume_asked = false;
            int r = h(req);
            req->in_phase = false;
            if (r == HS_DECLINED)
                continue;
            if (r == HS_AGAIN) {
                req->phase_i++; /* resume after this handler */
                if (req->resume_asked)
                    continue; /* it resumed before returning */
                return;
            }
            if (r == HS_OK)
                break;
            return; /* HS_DONE, HS_ERROR: a response is under way */
        }
        if (req->res_sent)
            return;
        req->phase++;
        req->phase_i = 0;
    }
    if (req->phase == PHASE_CONTENT && !req->res_sent)
        content(req);
}

void hs_req_resume(hs_req_t *req)
{
    if (req->in_phase) {
        req->resume_asked = true; /* the handler still runs: run() carries on when it returns */
        return;
    }
    if (req->phase >= PHASE_CONTENT || req->res_sent)
        return;
    hs_conn_t *c = req->conn;
    if (c->in_run) {
        run(req);
        return;
    }
    /* Resumed from outside the connection's run (a store's reply, a helper's job done): hold the
     * connection while the phases and the content handler run, as its own run does, so that a
     * response finished on the spot does not end and free the request under them (content()
     * still reads it); then run the connection once to send it. */
    c->in_run = true;
    run(req);
    c->in_run = false;
    hs__conn_run(c);
}

/* RFC 9110 §15.5.20: a TLS connection was set up for the host its SNI named (that host's
 * certificate, its client-certificate rule); a request for another host does not belong on it.
 * Both names are looked up in the request's configuration, so a reload between the handshake and
 * the request cannot make them disagree by accident. Names that select the same host (a wildcard
 * host, or a configuration without hosts, which serves every name) do belong. Without SNI, or
 * without Host (HTTP/1.0), there is nothing to compare. */
static bool sni_misdirected(hs_req_t *req)
{
    const char *sni = hs_tls_sni_name(&req->conn->sock);
    if (!sni || !req->meta.host.len)
        return false;
    bool known;
    const hs_hostconf_t *h = hs_config_find_host(hs_req_top(req), hs_iov_cstr(sni), &known);
    if (h == req->host && known == req->host_known)
        return false;
    req->path = NULL;
    req->res_close = true;
    req->cause = HS_CAUSE_SNI_HOST_MISMATCH;
    hs_res_error(req, 421,
                 hs_arena_printf(&req->arena,
                                 "this TLS connection was set up (SNI) for %s, another host than the request names; "
                                 "open a new connection for this host",
                                 sni)
                     .base);
    return true;
}

/* A path that must be reached over TLS, reached without (RFC 9110 §15.5.22, RFC 2817 §4.2):
 * 426 naming TLS in Upgrade, or (redirect_to_https) 308 to the https:// URL. */
static void tls_required(hs_req_t *req, int rule)
{
    const char *url = hs__https_url(req, req->gen->https_port);
    if (rule == 308) {
        req->cause = HS_CAUSE_HTTPS_REDIRECT;
        hs_res_headerf(req, "Location", "%s", url);
        hs_res_error(req, 308, hs_arena_printf(&req->arena, "this resource is served over HTTPS: %s", url).base);
        return;
    }
    req->cause = HS_CAUSE_TLS_REQUIRED;
    HS_RES_HEADER(req, "Upgrade", "TLS/1.3, HTTP/1.1"); /* TLS, then HTTP/1.1 over it */
    HS_RES_HEADER(req, "Connection", "Upgrade");
    hs_res_error(req, 426, hs_arena_printf(&req->arena, "this resource needs TLS: use %s", url).base);
}

/* The rules of TLS at find-config, on a TLS connection or a path with require_tls: true when
 * the request was answered. */
static bool tls_rules(hs_req_t *req, const hs_config_t *cfg)
{
    const hs_conn_t *c = req->conn;
    if (c->tls && !c->plain_on_tls)
        return sni_misdirected(req);
    if (cfg->tls_rule) {
        tls_required(req, cfg->tls_rule);
        return true;
    }
    return false;
}

void hs__connect_refused(hs_req_t *req)
{
    req->path = NULL;
    req->cause = HS_CAUSE_CONNECT_METHOD;
    hs_res_method_not_allowed(req, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
}

void hs__req_process(hs_req_t *req)
{
    const char *why = NULL;
    /* find-config: the path in normal form, the host and the path serving it */
    if ((req->npath_plain = req->p.path_plain)) /* hs_path_is_plain, from the parser's pass */
        req->npath = req->p.path;               /* already its normal form (no copy) */
    else if (HS_UNLIKELY(req->p.form == HS_TARGET_AUTHORITY)) {
        /* CONNECT host:port names no path (RFC 9112 §3.2.3): it is the business of the host's
         * "/" (a configuration with a forward proxy only: conn.c refuses it otherwise) */
        req->npath = HS_IOV("/");
    } else if (hs_path_normalize_arena(&req->arena, req->p.path, &req->npath, 0, &why) != 0) {
        req->cause = HS_CAUSE_BAD_PATH;
        hs_res_error(req, 400, why);
        return;
    }
    bool known;
    const hs_config_t *top = hs_req_top(req); /* the request's generation */
    req->host = hs_config_find_host(top, req->meta.host, &known);
    req->host_known = known;
    req->path = hs_config_host_path(req->host, req->npath);
    if (!known && top->strict_hosts && req->meta.host.len) {
        /* RFC 9110 §15.5.20: this server is not configured for that authority */
        req->path = NULL;
        req->host = NULL;
        req->res_close = true;
        req->cause = HS_CAUSE_UNKNOWN_HOST;
        hs_res_error(req, 421, "this server has no host by the name the request gives; check the URL");
        return;
    }
    const hs_config_t *cfg = hs_req_cfg(req);
    if (HS_UNLIKELY((cfg->tls_rule | req->conn->tls) != 0) && tls_rules(req, cfg))
        return;
    hs_method_t m = req->p.method_id;
    if (HS_UNLIKELY(!req->npath_plain) && m == HS_METHOD_CONNECT && !cfg->takes_connect) {
        hs__connect_refused(req); /* this host's "/" is no forward proxy */
        return;
    }
    if (req->meta.content_length > 0 && (uint64_t)req->meta.content_length > cfg->max_body) {
        /* RFC 9110 §15.5.14: refused from Content-Length, before reading a byte of it */
        req->cause = HS_CAUSE_DECLARED_BODY_TOO_LARGE;
        hs_res_error(req, 413, "the declared Content-Length is larger than the server accepts");
        return;
    }
    if (((cfg->length_required_mask >> m) & 1u) && req->meta.content_length < 0 && !req->meta.chunked) {
        req->cause = HS_CAUSE_BODY_LENGTH_MISSING;
        hs_res_error(req, 411, "this method needs a request body with a declared length (Content-Length or chunked)");
        return;
    }
    req->phase = PHASE_REWRITE;
    req->phase_i = 0;
    run(req);
}
