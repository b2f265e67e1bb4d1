/* statusd — policy: the rewrite phase, where a host or path answers by itself before anybody is
 * asked who they are: blocks (451, 410, 450, 402), maintenance (503), fixed answers (return) and
 * redirects.
 *
 * The order: legal_block, gone, parental_block, payment_required, maintenance, return, redirect.
 * A block names particular paths and says something true about the resource whoever asks, so it
 * goes first; maintenance and fixed answers cover a whole host or path; a redirect last, so that
 * a blocked or removed path is not sent somewhere else. All of these run before the access
 * phase, as nginx's return and rewrite do: a 301 or a 410 is no secret. */
#define _GNU_SOURCE
#include "module.h"

#include <stdio.h>

static bool covers(const pol_paths_t *s, hs_iovec_t path)
{
    return s->paths.n == 0 || hs__policy_paths_match(&s->paths, path);
}

static int redirect(hs_req_t *req, const hs__redirect_t *r, const char *prefix, int status, const char *rule)
{
    hs__redirect_req_t rr = {.scheme = hs_iov_cstr(hs_req_scheme(req)),
                             .host = req->meta.host,
                             .path = req->npath,
                             .query = req->p.query,
                             .prefix = hs_iov_cstr(prefix)};
    hs_iovec_t loc;
    const char *detail = NULL;
    if (hs__redirect_expand(r, &rr, &req->arena, &loc, &detail) != HS_OK) {
        hs_req_log_field(req, "rule", "%s:failed", rule);
        hs__policy_cause(req, PC_REDIRECT_FAILED);
        hs_log_error("%s: cannot make the Location for %.*s: %s", rule, (int)req->p.target.len, req->p.target.base,
                     detail);
        hs_res_error(req, 500, "the redirect configured here cannot be made for this request");
        return HS_DONE;
    }
    hs_req_log_field(req, "rule", "%s:%d", rule, status);
    hs__policy_cause(req, strcmp(rule, "return") ? PC_REDIRECT : PC_RETURN);
    hs_res_header(req, HS_IOV("Location"), loc); /* RFC 9110 §10.2.2 */
    return HS_OK;
}

static int answer_return(hs_req_t *req, const pol_return_t *s)
{
    if (s->status == 444) {
        hs_req_log_field(req, "rule", "return:444");
        hs__policy_cause(req, PC_RETURN);
        hs_res_close_silently(req, 444);
        return HS_DONE;
    }
    if (s->loc) {
        if (redirect(req, s->loc, s->prefix, s->status, "return") != HS_OK)
            return HS_DONE;
    } else {
        hs_req_log_field(req, "rule", "return:%d", s->status);
        hs__policy_cause(req, PC_RETURN);
    }
    if (s->status == 405 || s->allow)
        req->allow = s->allow ? s->allow : ""; /* RFC 9110 §10.2.1: empty = no method is allowed */
    if (s->challenge)
        hs_res_header(req, s->status == 407 ? HS_IOV("Proxy-Authenticate") : HS_IOV("WWW-Authenticate"),
                      hs_iov_cstr(s->challenge));
    if (s->retry_after_set)
        hs_res_headerf(req, "Retry-After", "%llu", (unsigned long long)((s->retry_after_ms + 999) / 1000));
    for (size_t i = 0; i < s->links.n; i++)
        hs_res_header(req, HS_IOV("Link"), hs_iov_cstr(s->links.v[i]));
    if (s->body) {
        req->content_type = s->content_type ? s->content_type : "text/plain; charset=utf-8";
        hs_res_body(req, s->body, strlen(s->body));
        hs_res_send(req, s->status);
    } else if (s->status >= 400) {
        hs_res_error(req, s->status, "this server is configured to answer here with this status");
    } else {
        hs_res_send(req, s->status);
    }
    return HS_DONE;
}

int hs__policy_rewrite(hs_req_t *req)
{
    const pol_conf_t *c = hs_req_conf(req, &hs_module_policy);
    unsigned r = c->rewrite;
    if (!r)
        return HS_DECLINED;
    hs_iovec_t path = req->npath;
    if ((r & PR_LEGAL) && covers(c->legal, path)) {
        /* RFC 7725 §3, §4: 451 naming who demanded the block */
        hs_req_log_field(req, "rule", "legal_block");
        hs__policy_cause(req, PC_LEGAL);
        hs_res_header(req, HS_IOV("Link"), hs_iov_cstr(c->legal->link));
        hs_res_error(req, 451,
                     hs_arena_printf(&req->arena,
                                     "this resource is unavailable because of a legal demand; the Link field "
                                     "(rel=\"blocked-by\") names who demanded it: %s",
                                     c->legal->url)
                         .base);
        return HS_DONE;
    }
    if ((r & PR_GONE) && hs__policy_paths_match(&c->gone->paths, path)) {
        hs_req_log_field(req, "rule", "gone"); /* RFC 9110 §15.5.11 */
        hs__policy_cause(req, PC_GONE);
        hs_res_error(req, 410, "this resource was removed on purpose and will not come back; remove links to it");
        return HS_DONE;
    }
    if ((r & PR_PARENTAL) && hs__policy_paths_match(&c->parental->paths, path)) {
        hs_req_log_field(req, "rule", "parental_block");
        hs__policy_cause(req, PC_PARENTAL);
        hs_res_error(req, 450, "parental controls configured on this server block this resource");
        return HS_DONE;
    }
    if ((r & PR_PAYMENT) && covers(c->pay, path)) {
        /* RFC 9110 §15.5.3 reserves 402; the Link says where to pay */
        hs_req_log_field(req, "rule", "payment_required");
        hs__policy_cause(req, PC_PAYMENT);
        hs_res_header(req, HS_IOV("Link"), hs_iov_cstr(c->pay->link));
        hs_res_error(req, 402,
                     hs_arena_printf(&req->arena, "this resource needs a payment first; pay at %s", c->pay->url).base);
        return HS_DONE;
    }
    if (r & PR_MAINT) {
        const pol_maint_t *m = c->maint;
        int64_t now = (int64_t)req->worker->loop.now_sec;
        if (!m->until || now < m->until) {
            /* RFC 9110 §15.6.4, §10.2.3: when to come back */
            uint64_t wait = m->until ? (uint64_t)(m->until - now) : (m->retry_after_ms + 999) / 1000;
            hs_req_log_field(req, "rule", "maintenance");
            hs__policy_cause(req, PC_MAINTENANCE);
            hs_res_headerf(req, "Retry-After", "%llu", (unsigned long long)wait);
            char until[30];
            if (m->until)
                hs_http_date((time_t)m->until, until);
            hs_res_error(req, 503,
                         m->until ? hs_arena_printf(&req->arena, "down for maintenance until %s", until).base
                                  : "down for maintenance; retry later");
            return HS_DONE;
        }
    }
    if (r & PR_RETURN)
        return answer_return(req, c->ret);
    if (r & PR_REDIRECT) {
        const pol_redirect_t *s = c->redirect;
        if (redirect(req, s->r, s->prefix, s->status, "redirect") != HS_OK)
            return HS_DONE;
        req->content_type = "text/plain; charset=utf-8";
        hs_res_header_t *loc = &req->res_headers[req->num_res_headers - 1];
        hs_iovec_t body = hs_arena_printf(&req->arena, "%d %s: %.*s\n", s->status, hs_status_reason(s->status),
                                          (int)loc->value.len, loc->value.base);
        hs_res_body(req, body.base, body.len);
        hs_res_send(req, s->status);
        return HS_DONE;
    }
    return HS_DECLINED;
}
