/* statusd unit tests — a request head built by hand (header-only): fake_req_set(&r, method,
 * (const char *[]){"Name", "value", …, NULL}) fills r->p and r->meta as the parser and
 * hs_parse_semantics would for those fields (tokens, the first field line per token). */
#ifndef HS_TEST_FAKE_REQ_H
#define HS_TEST_FAKE_REQ_H

#include "hs/http.h"

typedef struct fake_req_s {
    hs_req_t req;
    hs_header_t hdrs[16];
} fake_req_t;

static inline hs_req_t *fake_req_set(fake_req_t *f, hs_method_t m, const char *const *kv)
{
    memset(f, 0, sizeof(*f));
    f->req.p.method_id = m;
    f->req.p.headers = f->hdrs;
    size_t n = 0;
    for (; kv && kv[2 * n] && n < HS_ARRAY_SIZE(f->hdrs); n++) {
        hs_header_t *h = &f->hdrs[n];
        h->name = hs_iov_cstr(kv[2 * n]);
        h->value = hs_iov_cstr(kv[2 * n + 1]);
        h->token = hs_header_token(kv[2 * n], strlen(kv[2 * n]));
        if (!f->req.meta.h[h->token])
            f->req.meta.h[h->token] = h;
    }
    f->req.p.num_headers = n;
    return &f->req;
}

/* Release what responses built on the request hold (its arena, its output chains). */
static inline void fake_req_done(hs_req_t *req)
{
    hs_writer_reset(&req->res_body);
    hs_writer_reset(&req->out);
    hs_arena_reset(&req->arena);
}

#endif
