/* statusd — policy: the access phase and the log phase's byte budgets.
 *
 * The order (README "Policies"), each step only where a rule asks for it:
 *   1. the client's address — the peer, or behind trusted_proxies the first untrusted hop of
 *      Forwarded / X-Forwarded-For (hs/forwarded.h);
 *   2. allow / deny, first match wins → 403, or a silent close logged as 444;
 *   3. captive_portal → 511 for clients not admitted (RFC 6585 §6);
 *   4. limit by address or header → 429 (RFC 6585 §4) with Retry-After and RateLimit fields;
 *   5. auth → 401 / 407 (RFC 9110 §11.6, §11.7; RFC 7617), 403 for a user not in auth.users —
 *      the hash is checked on a helper thread unless the verdict is cached;
 *   6. limit by user → 429;
 *   7. bandwidth → 509 once the period's bytes are spent;
 *   8. require_conditional → 428 (RFC 6585 §3);
 *   9. early_hints → 103 (RFC 8297), then the content handler.
 * Why this order: what costs nothing and needs no secret (the address) goes first, so that a
 * refused or flooding client never makes the server hash a password; limits by address come
 * before authentication for the same reason, limits by user after it (there is no user before).
 * Preconditions and hints only concern requests that are going to be served.
 *
 * The fast path — a path with an allow rule and a limit rule, say — reads the peer's address,
 * matches it, takes one GCRA step in the shared store and returns: no allocation, no string
 * formatting unless the client is close to its limit. State that must outlive the handler (while
 * a password is hashed elsewhere) is put in the request's arena only then. */
#define _GNU_SOURCE
#include "module.h"

#include "hs/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Who the client is, as far as the rules are concerned. */
typedef struct client_s {
    hs_ip_t ip;      /* the client's address; for an unidentified client the last address known */
    bool identified; /* an address was found (not "unknown", obfuscated or malformed) */
    hs_fwd_result_t fwd;
} client_t;

/* What the access phase keeps across the asynchronous password check. */
typedef struct areq_s {
    client_t cl;
    char user[256];
    size_t user_len;
    bool authed;
} areq_t;

#define MAX_FWD_LINES 32

/* A copy of a client that stays valid where the original does not: an obfuscated identifier
 * points into the result's own buffer, which moves with the copy. */
static void client_copy(client_t *dst, const client_t *src)
{
    *dst = *src;
    const char *b = src->fwd.node.base;
    if (b && b >= src->fwd.node_buf && b < src->fwd.node_buf + sizeof(src->fwd.node_buf))
        dst->fwd.node.base = dst->fwd.node_buf + (b - src->fwd.node_buf);
}

/* The client of a request (see the header comment); `log`: say who it is in the access log. */
static void client_of(hs_req_t *req, const pol_conf_t *c, client_t *cl, bool log)
{
    hs_ip_from_sockaddr(hs_req_peer_addr(req), &cl->ip);
    cl->identified = true;
    cl->fwd.hops = 0;
    cl->fwd.kind = HS_FWD_ADDR;
    cl->fwd.node = HS_IOV_NULL;
    if (!c->trusted || hs_acl_match(c->trusted->acl, &cl->ip) < 0)
        return; /* the peer is the client */
    const char *name = c->fwd_mode == HS_FWD_FORWARDED ? "forwarded" : "x-forwarded-for";
    size_t nlen = strlen(name), n = 0;
    hs_iovec_t values[MAX_FWD_LINES];
    for (size_t i = 0; i < req->p.num_headers && n < MAX_FWD_LINES; i++)
        if (hs_iov_ieq(req->p.headers[i].name, name, nlen))
            values[n++] = req->p.headers[i].value;
    hs_ip_t peer = cl->ip;
    int r = hs_fwd_client(&peer, c->trusted->acl, c->fwd_mode, values, n, &cl->fwd);
    cl->ip = cl->fwd.addr;
    cl->identified = r == HS_OK;
    if (log && cl->fwd.hops) {
        char a[HS_IP_MAX];
        hs_ip_format(&cl->ip, a, sizeof(a));
        if (r == HS_OK)
            hs_req_log_field(req, "client", "%s", a);
        else if (cl->fwd.kind == HS_FWD_OBFUSCATED)
            hs_req_log_field(req, "client", "%.*s", (int)cl->fwd.node.len, cl->fwd.node.base);
        else
            hs_req_log_field(req, "client", "unidentified(%s)",
                             cl->fwd.kind == HS_FWD_MALFORMED ? cl->fwd.detail : "unknown");
    }
}

/* ---- 2. allow / deny ---- */
static int step_acl(hs_req_t *req, const pol_acl_t *a, const client_t *cl)
{
    int action;
    const char *why;
    int i = cl->identified ? hs_acl_match(a->acl, &cl->ip) : -2;
    if (i >= 0) {
        action = a->action[i];
        why = a->why[i];
    } else if (i == -1) {
        action = a->dflt;
        why = "deny:not-allowed";
    } else {
        action = a->unidentified;
        why = a->unidentified_why;
    }
    if (action == HS_ACL_ALLOW)
        return HS_DECLINED;
    hs_req_log_field(req, "rule", "%s", why);
    hs__policy_cause(req, a->close ? PC_DENY_CLOSE : PC_DENY);
    if (a->close) {
        hs_res_close_silently(req, 444); /* nginx's 444: not a byte on the wire */
        return HS_DONE;
    }
    hs_res_error(req, 403,
                 cl->identified ? "your address may not use this resource"
                                : "the server could not tell your address and this resource is "
                                  "restricted by address");
    return HS_DONE;
}

/* ---- 3. captive portal ---- */
static int step_captive(hs_req_t *req, const pol_captive_t *s, const client_t *cl)
{
    if (cl->identified) {
        if (hs_acl_match(s->adm.acl, &cl->ip) >= 0)
            return HS_DECLINED;
        for (size_t i = 0; i < s->nfiles; i++)
            if (hs__admit_match(s->files[i], &cl->ip, req->worker->loop.now_ms))
                return HS_DECLINED;
    }
    /* RFC 6585 §6: a link to the login page, no WWW-Authenticate, never cached (the same URL
     * answers otherwise once the client is admitted) */
    hs_req_log_field(req, "rule", "captive_portal");
    hs__policy_cause(req, PC_CAPTIVE);
    HS_RES_HEADER(req, "Cache-Control", "no-store");
    req->content_type = "text/html; charset=utf-8";
    hs_res_body(req, s->body, s->body_len);
    hs_res_send(req, 511);
    return HS_DONE;
}

/* ---- keys of limits and budgets ---- */
#define KEY_BUF 272

/* The key of the client's address: "4" and an IPv4 address, "6" and the /64 of an IPv6 address
 * (one subscriber), "o" and an obfuscated identifier. Short keys hash faster in the store. */
static hs_iovec_t addr_key(const client_t *cl, char *buf)
{
    if (!cl->identified && cl->fwd.kind == HS_FWD_OBFUSCATED && cl->fwd.node.len < KEY_BUF - 1) {
        buf[0] = 'o';
        memcpy(buf + 1, cl->fwd.node.base, cl->fwd.node.len);
        return hs_iov(buf, cl->fwd.node.len + 1);
    }
    if (hs_ip_is_v4(&cl->ip)) {
        uint32_t v4 = (uint32_t)cl->ip.lo;
        buf[0] = '4';
        memcpy(buf + 1, &v4, sizeof(v4));
        return hs_iov(buf, 1 + sizeof(v4));
    }
    buf[0] = '6';
    memcpy(buf + 1, &cl->ip.hi, sizeof(cl->ip.hi));
    return hs_iov(buf, 1 + sizeof(cl->ip.hi));
}

static hs_iovec_t key_of(hs_req_t *req, int kind, const char *header, const client_t *cl, hs_iovec_t user, char *buf)
{
    if (kind == KEY_ADDR)
        return addr_key(cl, buf);
    hs_iovec_t v = HS_IOV_NULL;
    char tag = 0;
    if (kind == KEY_USER && user.len) {
        v = user;
        tag = 'u';
    } else if (kind == KEY_HEADER) {
        v = hs_req_header_named(req, header);
        tag = 'h';
    } else if (kind == KEY_SCOPE) {
        return HS_IOV("s");
    }
    if (!v.base)
        return addr_key(cl, buf); /* no user, no such field: the address */
    char *k = v.len < KEY_BUF - 1 ? buf : hs_arena_alloc(&req->arena, v.len + 1);
    k[0] = tag;
    memcpy(k + 1, v.base, v.len);
    return hs_iov(k, v.len + 1);
}

/* ---- 4. and 6. rate limits ---- */
static void rate_fields(hs_req_t *req, const pol_limit_t *l, const hs_limit_result_t *r)
{
    char item[HS__POLICY_ITEM_MAX];
    size_t n = hs__policy_rate_item(item, sizeof(item), &l->g, r);
    hs_res_header(req, HS_IOV("RateLimit-Policy"), hs_iov_cstr(l->policy_item));
    hs_res_header(req, HS_IOV("RateLimit"), hs_arena_printf(&req->arena, "%.*s", (int)n, item));
}

/* The verdict on a GCRA step's result: HS_DECLINED (admitted) or HS_DONE (429 sent). */
static int limit_verdict(hs_req_t *req, const pol_limit_t *l, const hs_limit_result_t *r)
{
    if (r->allowed) {
        if (hs__policy_rate_near(&l->g, r)) /* draft-ietf-httpapi-ratelimit-headers §6 */
            rate_fields(req, l, r);
        return HS_DECLINED;
    }
    /* RFC 6585 §4: 429, and when to come back — exact, in whole seconds rounded up */
    uint64_t wait = hs_ns_to_delay_seconds(r->retry_after_ns);
    hs_req_log_field(req, "rule", "limit:%s", l->name);
    hs__policy_cause(req, PC_LIMIT);
    hs_res_headerf(req, "Retry-After", "%llu", (unsigned long long)wait);
    rate_fields(req, l, r);
    const char *detail =
        hs_arena_printf(&req->arena, "over the rate limit '%s' (%u requests per %u s, bursts of %u): retry in %llu s",
                        l->name, l->g.count, l->g.period_s, l->g.capacity, (unsigned long long)wait)
            .base;
    hs_res_error(req, 429, detail);
    return HS_DONE;
}

/* The shared store (store.redis) cannot decide and its failure policy is closed: 503 with
 * Retry-After (RFC 9110 §15.6.4, §10.2.3), not 429 — the client did nothing wrong, the service
 * cannot judge it now (the contract in hs/ratelimit.h). */
static int store_unavailable(hs_req_t *req, const char *rule, const char *name)
{
    hs_req_log_field(req, "rule", "%s:%s", rule, name);
    hs_req_set_cause(req, hs_store_cause_unavailable());
    hs_res_headerf(req, "Retry-After", "%d", hs_req_top(req)->retry_after);
    hs_res_error(req, 503,
                 hs_arena_printf(&req->arena,
                                 "the shared store of the %s '%s' does not answer, so this request cannot be judged "
                                 "now; retry shortly",
                                 rule, name)
                     .base);
    return HS_DONE;
}

/* ---- a decision of the shared store (store.redis), which answers later ----
 * A step in Redis answers HS_AGAIN: the phase returns HS_AGAIN and the decision comes through
 * done on the same loop, within store.timeout — possibly after the request ended (the client
 * left). So what done needs lives in a small heap context, not in the request: the request's
 * cleanup orphans it if done has not come yet (done then frees it), else frees it. */
enum { AW_LIMIT_EARLY, AW_LIMIT_USER, AW_BANDWIDTH };

typedef struct pend_s {
    hs_req_t *req; /* NULL once the request ended */
    bool answered; /* done came: the cleanup frees */
    uint8_t what;  /* AW_* */
    const pol_conf_t *c;
    client_t cl;
    size_t user_len;
    char user[256];
    union {
        hs_limit_result_t r;
        hs_budget_result_t b;
    } out;
} pend_t;

static int from_auth(hs_req_t *req, const pol_conf_t *c, const client_t *cl);
static int after_user_limit(hs_req_t *req, const pol_conf_t *c, const client_t *cl, hs_iovec_t user);
static int after_bandwidth(hs_req_t *req, const pol_conf_t *c);
static int bandwidth_verdict(hs_req_t *req, const pol_bw_t *b, const hs_budget_result_t *r);

static pend_t *pend_new(hs_req_t *req, const pol_conf_t *c, const client_t *cl, hs_iovec_t user, int what)
{
    pend_t *p = hs_malloc(sizeof(*p));
    p->req = req;
    p->answered = false;
    p->what = (uint8_t)what;
    p->c = c;
    client_copy(&p->cl, cl);
    p->user_len = HS_MIN(user.len, sizeof(p->user));
    if (p->user_len)
        memcpy(p->user, user.base, p->user_len);
    return p;
}

static void pend_cleanup(void *arg)
{
    pend_t *p = arg;
    if (p->answered)
        free(p);
    else
        p->req = NULL; /* done frees it */
}

static void pend_done(void *arg, int rc, void *out)
{
    HS_UNUSED(out);
    pend_t *p = arg;
    hs_req_t *req = p->req;
    if (!req) { /* the client left meanwhile */
        free(p);
        return;
    }
    /* what follows may end the request (its cleanup then frees p): work on copies */
    p->answered = true;
    int what = p->what;
    const pol_conf_t *c = p->c;
    client_t cl;
    client_copy(&cl, &p->cl);
    char user_buf[256];
    memcpy(user_buf, p->user, p->user_len);
    hs_iovec_t user = hs_iov(user_buf, p->user_len);
    if (!p->user_len)
        user = HS_IOV_NULL;
    hs_limit_result_t lr = p->out.r;
    hs_budget_result_t br = p->out.b;
    int r;
    if (what == AW_BANDWIDTH) {
        r = rc != HS_OK ? store_unavailable(req, "bandwidth", c->bw->name) : bandwidth_verdict(req, c->bw, &br);
        if (r == HS_DECLINED)
            r = after_bandwidth(req, c);
    } else {
        r = rc != HS_OK ? store_unavailable(req, "limit", c->limit->name) : limit_verdict(req, c->limit, &lr);
        if (r == HS_DECLINED)
            r = what == AW_LIMIT_EARLY ? from_auth(req, c, &cl) : after_user_limit(req, c, &cl, user);
    }
    if (r == HS_DECLINED)
        hs_req_resume(req);
    /* HS_DONE: answered; HS_AGAIN: another step went out (the password check, the next store step) */
}

static int step_limit(hs_req_t *req, const pol_conf_t *c, const client_t *cl, hs_iovec_t user, int what)
{
    const pol_limit_t *l = c->limit;
    char buf[KEY_BUF];
    hs_iovec_t key = key_of(req, l->key, l->header, cl, user, buf);
    hs_limit_result_t r;
    uint64_t now_ns = req->worker->loop.now_ms * HS_NS_PER_MS;
    hs_limit_store_t *shared = hs_store_limits();
    if (shared) {
        pend_t *p = pend_new(req, c, cl, user, what);
        int rc = hs_limit_gcra(shared, &l->g, key, now_ns, 1, &p->out.r, pend_done, p);
        if (rc == HS_AGAIN) {
            hs_req_cleanup(req, pend_cleanup, p);
            return HS_AGAIN;
        }
        r = p->out.r;
        free(p);
        if (rc != HS_OK) /* on_failure: closed, Redis known to be down */
            return store_unavailable(req, "limit", l->name);
        return limit_verdict(req, l, &r);
    }
    if (hs_limit_gcra(hs__policy_store(), &l->g, key, now_ns, 1, &r, NULL, NULL) != HS_OK)
        return HS_DECLINED; /* the store cannot answer: admit (the in-process store always answers) */
    return limit_verdict(req, l, &r);
}

/* ---- 7. bandwidth ---- */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int bandwidth_verdict(hs_req_t *req, const pol_bw_t *b, const hs_budget_result_t *r)
{
    if (!r->exhausted)
        return HS_DECLINED;
    uint64_t wait = hs_ns_to_delay_seconds(r->reset_ms * HS_NS_PER_MS);
    char item[HS__POLICY_ITEM_MAX];
    size_t n = hs__policy_budget_item(item, sizeof(item), &b->b, r);
    hs_req_log_field(req, "rule", "bandwidth:%s", b->name);
    hs__policy_cause(req, PC_BANDWIDTH);
    hs_res_headerf(req, "Retry-After", "%llu", (unsigned long long)wait);
    hs_res_header(req, HS_IOV("RateLimit-Policy"), hs_iov_cstr(b->policy_item));
    hs_res_header(req, HS_IOV("RateLimit"), hs_arena_printf(&req->arena, "%.*s", (int)n, item));
    char until[30];
    hs_http_date((time_t)(r->period_end_ms / 1000), until);
    const char *detail =
        hs_arena_printf(&req->arena, "the byte budget '%s' (%llu bytes per %llu s) is spent until %s", b->name,
                        (unsigned long long)b->b.bytes, (unsigned long long)(b->b.period_ms / 1000), until)
            .base;
    hs_res_error(req, 509, detail);
    return HS_DONE;
}

static int step_bandwidth(hs_req_t *req, const pol_conf_t *c, const client_t *cl, hs_iovec_t user)
{
    const pol_bw_t *b = c->bw;
    char buf[KEY_BUF];
    hs_iovec_t key = key_of(req, b->key, NULL, cl, user, buf);
    hs_budget_result_t r;
    hs_limit_store_t *shared = hs_store_limits();
    if (shared) {
        pend_t *p = pend_new(req, c, cl, user, AW_BANDWIDTH);
        int rc = hs_limit_budget(shared, &b->b, key, wall_ms(), 0, &p->out.b, pend_done, p);
        if (rc == HS_AGAIN) {
            hs_req_cleanup(req, pend_cleanup, p);
            return HS_AGAIN;
        }
        r = p->out.b;
        free(p);
        if (rc != HS_OK)
            return store_unavailable(req, "bandwidth", b->name);
        return bandwidth_verdict(req, b, &r);
    }
    if (hs_limit_budget(hs__policy_store(), &b->b, key, wall_ms(), 0, &r, NULL, NULL) != HS_OK)
        return HS_DECLINED;
    return bandwidth_verdict(req, b, &r);
}

void hs__policy_log(hs_req_t *req)
{
    const pol_conf_t *c = hs_req_conf(req, &hs_module_policy);
    if (!(c->access & PA_BANDWIDTH) || (!hs__policy_store() && !hs_store_limits()))
        return;
    /* content bytes as sent (the unit of the RateLimit-Policy item: qu="content-bytes") */
    uint64_t sent = req->wire_bytes > req->head_bytes ? req->wire_bytes - req->head_bytes : 0;
    if (!sent)
        return;
    const pol_bw_t *b = c->bw;
    const areq_t *st = hs_req_ctx(req, &hs_module_policy);
    client_t cl;
    hs_iovec_t user = HS_IOV_NULL;
    if (st) {
        client_copy(&cl, &st->cl);
        if (st->authed)
            user = hs_iov(st->user, st->user_len);
    } else if (b->key != KEY_SCOPE) {
        if (!req->conn)
            return;
        client_of(req, c, &cl, false);
    }
    char buf[KEY_BUF];
    hs_iovec_t key = key_of(req, b->key, NULL, &cl, user, buf);
    hs_budget_result_t r;
    hs_limit_store_t *shared = hs_store_limits(); /* counted without waiting for the answer */
    hs_limit_budget(shared ? shared : hs__policy_store(), &b->b, key, wall_ms(), sent, &r, NULL, NULL);
}

/* ---- 8. and 9. ---- */
static int step_conditional(hs_req_t *req)
{
    hs_method_t m = req->p.method_id;
    if (m != HS_METHOD_PUT && m != HS_METHOD_PATCH && m != HS_METHOD_DELETE)
        return HS_DECLINED;
    /* If-None-Match counts too: "If-None-Match: *" on a PUT is the conditional way to create
     * without overwriting (RFC 9110 §13.1.2) */
    if (req->meta.h[HS_HDR_IF_MATCH] || req->meta.h[HS_HDR_IF_UNMODIFIED_SINCE] || req->meta.h[HS_HDR_IF_NONE_MATCH])
        return HS_DECLINED;
    /* RFC 6585 §3: say how to resubmit */
    hs_req_log_field(req, "rule", "require_conditional");
    hs__policy_cause(req, PC_CONDITIONAL);
    hs_res_error(req, 428,
                 "this resource only takes conditional changes: GET it first, then send the request again with "
                 "If-Match carrying the ETag you received (or If-Unmodified-Since with its Last-Modified), so that "
                 "a change made meanwhile by someone else is not overwritten");
    return HS_DONE;
}

/* Steps 8 and 9. HS_DECLINED (go on) or HS_DONE (answered). */
static int after_bandwidth(hs_req_t *req, const pol_conf_t *c)
{
    unsigned a = c->access;
    int r;
    if ((a & PA_CONDITIONAL) && (r = step_conditional(req)) != HS_DECLINED)
        return r;
    if (a & PA_HINTS)
        hs_res_interim(req, 103, c->hints->h, c->hints->links.n); /* RFC 8297; never to HTTP/1.0 */
    return HS_DECLINED;
}

/* Steps 7 to 9. HS_DECLINED, HS_DONE, or HS_AGAIN (the shared store answers later). */
static int after_user_limit(hs_req_t *req, const pol_conf_t *c, const client_t *cl, hs_iovec_t user)
{
    int r;
    if ((c->access & PA_BANDWIDTH) && (r = step_bandwidth(req, c, cl, user)) != HS_DECLINED)
        return r;
    return after_bandwidth(req, c);
}

/* Steps 6 to 9: what comes after authentication. HS_DECLINED (go on), HS_DONE (answered) or
 * HS_AGAIN (the shared store answers later; pend_done carries on). */
static int after_auth(hs_req_t *req, const pol_conf_t *c, const client_t *cl, hs_iovec_t user)
{
    int r;
    if ((c->access & PA_LIMIT_USER) && (r = step_limit(req, c, cl, user, AW_LIMIT_USER)) != HS_DECLINED)
        return r;
    return after_user_limit(req, c, cl, user);
}

/* ---- 5. authentication ---- */
static int challenge(hs_req_t *req, const pol_auth_t *au, const char *detail, const char *why)
{
    hs_req_log_field(req, "rule", "auth:%s", why);
    hs__policy_cause(req, au->proxy ? PC_PROXY_AUTH : PC_AUTH);
    if (au->proxy) { /* RFC 9110 §11.7.1 */
        hs_res_header(req, HS_IOV("Proxy-Authenticate"), hs_iov_cstr(au->challenge));
        hs_res_error(req, 407, detail);
    } else { /* RFC 9110 §11.6.1, RFC 7617 §2 (charset: §2.1) */
        hs_res_header(req, HS_IOV("WWW-Authenticate"), hs_iov_cstr(au->challenge));
        hs_res_error(req, 401, detail);
    }
    return HS_DONE;
}

static bool user_listed(const pol_auth_t *au, hs_iovec_t user)
{
    for (size_t i = 0; i < au->users.n; i++)
        if (hs_iov_eq(user, au->users.v[i], strlen(au->users.v[i])))
            return true;
    return false;
}

/* The verdict on credentials: HS_DECLINED (let in), HS_DONE (answered). */
static int decide(hs_req_t *req, const pol_auth_t *au, int verdict, hs_iovec_t user)
{
    if (verdict == HS__AUTH_UNKNOWN_USER) /* the same answer as a wrong password: never tell them apart */
        return challenge(req, au, "the user name or the password is wrong", "unknown-user");
    if (verdict != HS__AUTH_OK)
        return challenge(req, au, "the user name or the password is wrong", "wrong-password");
    if (au->users.n && !user_listed(au, user)) { /* authenticated, not authorised: RFC 9110 §15.5.4 */
        hs_req_log_field(req, "rule", "auth:user-not-allowed");
        hs__policy_cause(req, PC_USER);
        hs_res_error(req, 403, "you are logged in, but this user may not use this resource");
        return HS_DONE;
    }
    return HS_DECLINED;
}

static void auth_done(hs_req_t *req, void *job)
{
    int verdict = hs__auth_job_finish(job, hs_now_ms());
    if (!req)
        return; /* the client left meanwhile */
    const pol_conf_t *c = hs_req_conf(req, &hs_module_policy);
    areq_t *st = hs_req_ctx(req, &hs_module_policy);
    hs_iovec_t user = hs_iov(st->user, st->user_len);
    if (decide(req, c->auth, verdict, user) != HS_DECLINED)
        return;
    st->authed = true;
    if (after_auth(req, c, &st->cl, user) != HS_DECLINED)
        return;
    hs_req_resume(req);
}

static int step_auth(hs_req_t *req, const pol_conf_t *c, const client_t *cl, char *user_buf, hs_iovec_t *user)
{
    const pol_auth_t *au = c->auth;
    *user = HS_IOV_NULL;
    if (au->proxy && req->p.form != HS_TARGET_ABSOLUTE && req->p.form != HS_TARGET_AUTHORITY)
        return HS_DECLINED; /* a proxy's credentials are asked of proxy requests only */
    hs_iovec_t field = hs_req_header(req, au->proxy ? HS_HDR_PROXY_AUTHORIZATION : HS_HDR_AUTHORIZATION);
    size_t need = HS_BASIC_BUF(field.base ? field.len : 0) + 1;
    unsigned char small[512];
    unsigned char *buf = need <= sizeof(small) ? small : hs_arena_alloc(&req->arena, need);
    hs_basic_cred_t cred;
    int pr = hs_basic_parse(field, buf, need, &cred);
    if (pr != HS_OK) {
        hs_basic_clear(buf, need);
        return challenge(req, au, cred.detail,
                         cred.kind == HS_BASIC_MISSING        ? "missing"
                         : cred.kind == HS_BASIC_OTHER_SCHEME ? "other-scheme"
                                                              : "malformed");
    }
    uint64_t now = req->worker->loop.now_ms;
    char err[512];
    bool reloaded = false;
    if (hs__htpasswd_refresh(au->h, now, &reloaded, err, sizeof(err)) != HS_OK)
        hs_log_error("auth: %s", err);
    else if (reloaded)
        hs_log_info("auth: %s changed: read again", au->file);
    size_t ul = HS_MIN(cred.user.len, (size_t)255);
    memcpy(user_buf, cred.user.base, ul);
    *user = hs_iov(user_buf, ul);
    int verdict;
    if (hs__auth_cached(au->h, field, now, &verdict) == HS_OK) {
        hs_basic_clear(buf, need);
        return decide(req, au, verdict, *user);
    }
    /* the hash, off the loop: a bcrypt check takes ~0.2 s at cost 12 */
    hs__auth_job_t *job = hs__auth_job_new(au->h, field, &cred);
    hs_basic_clear(buf, need);
    areq_t *st = hs_arena_alloc(&req->arena, sizeof(*st));
    client_copy(&st->cl, cl);
    memcpy(st->user, user_buf, ul);
    st->user_len = ul;
    st->authed = false;
    hs_req_set_ctx(req, &hs_module_policy, st);
    if (hs_req_offload(req, hs__auth_job_run, auth_done, job) != HS_OK) {
        hs__auth_job_run(job); /* no helper thread: here, as a last resort */
        verdict = hs__auth_job_finish(job, now);
        return decide(req, au, verdict, *user);
    }
    return HS_AGAIN;
}

int hs__policy_access(hs_req_t *req)
{
    const pol_conf_t *c = hs_req_conf(req, &hs_module_policy);
    unsigned a = c->access;
    if (!a)
        return HS_DECLINED;
    client_t cl;
    if (a & PA_CLIENT)
        client_of(req, c, &cl, true);
    else
        cl.identified = false, cl.fwd.kind = HS_FWD_UNKNOWN, cl.fwd.hops = 0, cl.fwd.node = HS_IOV_NULL,
        memset(&cl.ip, 0, sizeof(cl.ip));
    int r;
    if ((a & PA_ACL) && (r = step_acl(req, c->acl, &cl)) != HS_DECLINED)
        return r;
    if (!(a & ~(PA_CLIENT | PA_ACL)))
        return HS_DECLINED; /* an address rule alone */
    if ((a & PA_CAPTIVE) && (r = step_captive(req, c->captive, &cl)) != HS_DECLINED)
        return r;
    if ((a & PA_LIMIT_EARLY) && (r = step_limit(req, c, &cl, HS_IOV_NULL, AW_LIMIT_EARLY)) != HS_DECLINED)
        return r;
    return from_auth(req, c, &cl);
}

/* Steps 5 to 9 (after the limits by address). */
static int from_auth(hs_req_t *req, const pol_conf_t *c, const client_t *clp)
{
    unsigned a = c->access;
    int r;
    client_t cl;
    client_copy(&cl, clp);
    char user_buf[256];
    hs_iovec_t user = HS_IOV_NULL;
    if (a & PA_AUTH) {
        r = step_auth(req, c, &cl, user_buf, &user);
        if (r != HS_DECLINED)
            return r;                                        /* answered, or HS_AGAIN: auth_done carries on */
        if (user.len && (c->bw && c->bw->key == KEY_USER)) { /* the log phase counts the bytes by user */
            areq_t *st = hs_arena_alloc(&req->arena, sizeof(*st));
            client_copy(&st->cl, &cl);
            memcpy(st->user, user.base, user.len);
            st->user_len = user.len;
            st->authed = true;
            hs_req_set_ctx(req, &hs_module_policy, st);
        }
    }
    if (!(a & (PA_LIMIT_USER | PA_BANDWIDTH | PA_CONDITIONAL | PA_HINTS)))
        return HS_DECLINED;
    return after_auth(req, c, &cl, user);
}
