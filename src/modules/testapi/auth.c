/* statusd — client-testing API: authentication (httpbin).
 *   /basic-auth/{user}/{passwd}          401 + WWW-Authenticate: Basic until the right credentials
 *   /hidden-basic-auth/{user}/{passwd}   the same, but 404 instead of 401 (no challenge)
 *   /digest-auth/{qop}/{user}/{passwd}[/{algorithm}]   RFC 7616 Digest: qop auth or auth-int,
 *        algorithm MD5 (default), SHA-256, SHA-512-256 (and their -sess forms; SHA-512 as httpbin)
 *   /bearer                               RFC 6750: 401 + WWW-Authenticate: Bearer without a token
 * Digest nonces are stateless: a timestamp and its HMAC, so any worker can check them; a nonce
 * older than NONCE_TTL_MS is answered with stale=true (RFC 7616 §3.3). */
#define _GNU_SOURCE
#include "api.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define NONCE_TTL_MS (5 * 60 * 1000)
#define DIGEST_REALM "statusd"

/* Split rest "a/b/c" into at most `max` percent-decoded segments; returns the count. */
static size_t split_path(hs_req_t *req, hs_iovec_t rest, hs_iovec_t *out, size_t max)
{
    size_t n = 0, i = 0;
    if (rest.len == 0)
        return 0;
    while (i <= rest.len) {
        size_t s = i;
        while (i < rest.len && rest.base[i] != '/')
            i++;
        if (n == max)
            return max + 1;
        out[n++] = hs_pct_decode_arena(&req->arena, hs_iov(rest.base + s, i - s), 0);
        i++;
    }
    return n;
}

static void json_auth_ok(hs_req_t *req, const char *key, hs_iovec_t value)
{
    hs_buf_t b = {0};
    hs_buf_printf(&b, "{\n  \"authenticated\": true,\n  \"%s\": ", key);
    api_json_bytes(&b, value.base, value.len, "text/plain");
    HS_BUF_LIT(&b, "\n}\n");
    api_send_buf(req, 200, &b, "application/json");
}

/* ---- Basic (RFC 7617) ---- */
static bool basic_ok(hs_req_t *req, hs_iovec_t user, hs_iovec_t pass)
{
    hs_iovec_t v = hs_req_header(req, HS_HDR_AUTHORIZATION);
    if (!v.base || v.len < 6 || strncasecmp(v.base, "basic ", 6) != 0)
        return false;
    hs_iovec_t cred = hs_iov(v.base + 6, v.len - 6);
    while (cred.len && cred.base[0] == ' ')
        cred.base++, cred.len--;
    unsigned char *dec = hs_arena_alloc(&req->arena, cred.len + 3);
    size_t n;
    if (!hs_base64_decode(dec, &n, cred.base, cred.len, 0))
        return false;
    return n == user.len + 1 + pass.len && memcmp(dec, user.base, user.len) == 0 && dec[user.len] == ':' &&
           memcmp(dec + user.len + 1, pass.base, pass.len) == 0;
}

static int basic(hs_req_t *req, hs_iovec_t rest, bool hidden)
{
    hs_iovec_t seg[2];
    if (split_path(req, rest, seg, 2) != 2)
        return api_fail(req, 400, "expected /%sbasic-auth/{user}/{passwd}", hidden ? "hidden-" : "");
    if (basic_ok(req, seg[0], seg[1])) {
        json_auth_ok(req, "user", seg[0]);
        return HS_OK;
    }
    if (hidden)
        return api_fail(req, 404, "nothing is served at this path (without the right credentials)");
    HS_RES_HEADER(req, "WWW-Authenticate", "Basic realm=\"Fake Realm\", charset=\"UTF-8\"");
    return api_fail(req, 401, "send Authorization: Basic base64(%.*s:<passwd>)", (int)seg[0].len, seg[0].base);
}

int api_r_basic_auth(hs_req_t *req, hs_iovec_t rest)
{
    return basic(req, rest, false);
}
int api_r_hidden_basic_auth(hs_req_t *req, hs_iovec_t rest)
{
    return basic(req, rest, true);
}

/* ---- Bearer (RFC 6750) ---- */
int api_r_bearer(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t v = hs_req_header(req, HS_HDR_AUTHORIZATION);
    if (v.base && v.len > 7 && strncasecmp(v.base, "bearer ", 7) == 0) {
        hs_iovec_t tok = hs_iov(v.base + 7, v.len - 7);
        while (tok.len && tok.base[0] == ' ')
            tok.base++, tok.len--;
        if (tok.len) {
            json_auth_ok(req, "token", tok);
            return HS_OK;
        }
    }
    if (v.base) {
        HS_RES_HEADER(req, "WWW-Authenticate", "Bearer realm=\"statusd\", error=\"invalid_request\"");
        return api_fail(req, 401, "the Authorization field is not a Bearer token");
    }
    HS_RES_HEADER(req, "WWW-Authenticate", "Bearer realm=\"statusd\"");
    return api_fail(req, 401, "send Authorization: Bearer <token>");
}

/* ---- Digest (RFC 7616) ---- */
typedef struct {
    hs_iovec_t user, pass;
    const char *alg; /* canonical name */
    const EVP_MD *md;
    bool sess, auth_int;
    hs_iovec_t stale_after; /* httpbin's fifth segment: "never" or a count of answers; NULL base = none */
    bool require_cookie;    /* ?require-cookie=true: credentials without the `fake` cookie are challenged */
} digest_t;

static void hash_hex(const EVP_MD *md, const void *p, size_t n, char *out)
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(p, n, h, &len, md, NULL);
    hs_hex_encode(out, h, len);
}

static hs_iovec_t make_nonce(hs_req_t *req)
{
    char ts[17], mac[33];
    snprintf(ts, sizeof(ts), "%016llx", (unsigned long long)api_now_ms(req));
    hs_mac_hex(ts, 16, mac, 32);
    return hs_arena_printf(&req->arena, "%s%s", ts, mac);
}

/* 1 = fresh, 0 = invalid, -1 = stale (ours, but too old) */
static int check_nonce(hs_req_t *req, hs_iovec_t nonce)
{
    if (nonce.len != 48)
        return 0;
    char ts[17], mac[33];
    memcpy(ts, nonce.base, 16);
    ts[16] = '\0';
    hs_mac_hex(ts, 16, mac, 32);
    if (memcmp(mac, nonce.base + 16, 32) != 0)
        return 0;
    unsigned long long t = strtoull(ts, NULL, 16);
    return api_now_ms(req) - t > NONCE_TTL_MS ? -1 : 1;
}

static char opaque_value[33];
static pthread_once_t opaque_once = PTHREAD_ONCE_INIT;
static void opaque_init(void)
{
    hs_mac_hex("opaque", 6, opaque_value, 32);
}

/* Parse `Digest k=v, k="v", …` (a comma list of auth-params, RFC 9110 §11.2) into pairs, the
 * values unquoted into the arena. Elements without '=' are skipped. */
static size_t auth_params(hs_req_t *req, hs_iovec_t v, api_kv_t *out, size_t max)
{
    size_t n = 0, pos = 0;
    hs_iovec_t el;
    while (n < max && (el = hs_list_next(v, &pos)).base) {
        const char *eq = memchr(el.base, '=', el.len);
        if (!eq)
            continue;
        hs_iovec_t key = hs_iov(el.base, (size_t)(eq - el.base)), val = hs_iov(eq + 1, el.len - key.len - 1);
        while (key.len && (key.base[key.len - 1] == ' ' || key.base[key.len - 1] == '\t'))
            key.len--;
        while (val.len && (val.base[0] == ' ' || val.base[0] == '\t'))
            val = hs_iov(val.base + 1, val.len - 1);
        hs_iovec_t text = val.len ? hs_param_text(&req->arena, val) : HS_IOV("");
        if (!text.base)
            continue; /* a malformed quoted-string */
        out[n].key = key;
        out[n].value = hs_iov(hs_arena_strndup(&req->arena, text.base, text.len), text.len);
        n++;
    }
    return n;
}

static hs_iovec_t param(const api_kv_t *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (hs_iov_ieq(kv[i].key, name, strlen(name)))
            return kv[i].value;
    return HS_IOV_NULL;
}

/* httpbin's challenge cookies: how many answers the nonce may still serve (stale_after), the nonce
 * the client used last (last_nonce), and the `fake` cookie that ?require-cookie=true checks. */
static void digest_cookies(hs_req_t *req, const digest_t *d, hs_iovec_t last_nonce)
{
    if (d->stale_after.base)
        hs_res_headerf(req, "Set-Cookie", "stale_after=%.*s; Path=/", (int)d->stale_after.len, d->stale_after.base);
    if (last_nonce.base)
        hs_res_headerf(req, "Set-Cookie", "last_nonce=%.*s; Path=/", (int)last_nonce.len, last_nonce.base);
    HS_RES_HEADER(req, "Set-Cookie", "fake=fake_value; Path=/");
}

static int digest_challenge(hs_req_t *req, digest_t *d, bool stale, const char *why)
{
    pthread_once(&opaque_once, opaque_init);
    hs_iovec_t nonce = make_nonce(req);
    hs_res_headerf(req, "WWW-Authenticate",
                   "Digest realm=\"" DIGEST_REALM "\", qop=\"%s\", algorithm=%s, nonce=\"%.*s\", opaque=\"%s\", "
                   "charset=UTF-8%s",
                   d->auth_int ? "auth-int" : "auth", d->alg, (int)nonce.len, nonce.base, opaque_value,
                   stale ? ", stale=true" : "");
    return api_fail(req, 401, "%s", why);
}

static void digest_body_read(hs_req_t *req)
{
    digest_t *d = API_CTX(req);
    hs_iovec_t v = hs_req_header(req, HS_HDR_AUTHORIZATION), cookie;
    if (!v.base || v.len < 7 || strncasecmp(v.base, "digest ", 7) != 0) {
        digest_cookies(req, d, HS_IOV_NULL);
        digest_challenge(req, d, false, "send Authorization: Digest … computed from the challenge (RFC 7616)");
        return;
    }
    if (d->require_cookie && !api_cookie(req, "fake", &cookie)) {
        digest_cookies(req, d, HS_IOV_NULL);
        digest_challenge(req, d, false, "?require-cookie=true: send the cookies the challenge set (fake)");
        return;
    }
    api_kv_t kv[32];
    size_t n = auth_params(req, hs_iov(v.base + 7, v.len - 7), kv, HS_ARRAY_SIZE(kv));
    hs_iovec_t username = param(kv, n, "username"), realm = param(kv, n, "realm"), nonce = param(kv, n, "nonce"),
               uri = param(kv, n, "uri"), response = param(kv, n, "response"), qop = param(kv, n, "qop"),
               nc = param(kv, n, "nc"), cnonce = param(kv, n, "cnonce"), alg = param(kv, n, "algorithm"),
               op = param(kv, n, "opaque");
    if (!username.base || !realm.base || !nonce.base || !uri.base || !response.base || !qop.base || !nc.base ||
        !cnonce.base) {
        digest_challenge(req, d, false,
                         "the Digest credentials lack one of username, realm, nonce, uri, response, qop, nc, cnonce");
        return;
    }
    pthread_once(&opaque_once, opaque_init);
    if (op.base && !HS_IOV_EQ(op, "") && !hs_iov_eq(op, opaque_value, 32)) {
        digest_challenge(req, d, false, "the opaque value is not the one this server issued");
        return;
    }
    if (alg.base && !(alg.len == strlen(d->alg) && strncasecmp(alg.base, d->alg, alg.len) == 0) &&
        !(strcasecmp(d->alg, "SHA-512-256") == 0 && HS_IOV_IEQ(alg, "sha-512/256"))) {
        hs_res_headerf(req, "X-Digest-Expected-Algorithm", "%s", d->alg);
        digest_challenge(req, d, false, "the algorithm is not the one this route asks for");
        return;
    }
    if (!hs_iov_eq(qop, d->auth_int ? "auth-int" : "auth", d->auth_int ? 8 : 4)) {
        digest_challenge(req, d, false, "qop does not match the challenge");
        return;
    }
    if (!hs_iov_eq(realm, DIGEST_REALM, sizeof(DIGEST_REALM) - 1) ||
        !hs_iov_eq(uri, req->p.target.base, req->p.target.len)) {
        digest_challenge(req, d, false, "realm or uri does not match this request");
        return;
    }
    int fresh = check_nonce(req, nonce);
    if (fresh == 0) {
        digest_challenge(req, d, false, "the nonce was not issued by this server");
        return;
    }
    /* httpbin's stale nonces: the nonce the client used last time again, or stale_after counted
     * down to 0 */
    hs_iovec_t last, stale_after = HS_IOV_NULL;
    api_cookie(req, "stale_after", &stale_after);
    if ((api_cookie(req, "last_nonce", &last) && hs_iov_eq(last, nonce.base, nonce.len)) ||
        (stale_after.base && HS_IOV_EQ(stale_after, "0"))) {
        digest_cookies(req, d, nonce);
        digest_challenge(req, d, true, "the nonce is stale (stale_after reached 0, or it was used last time)");
        return;
    }
    /* RFC 7616 §3.4.1-3.4.3 */
    char ha1[2 * EVP_MAX_MD_SIZE + 1], ha2[2 * EVP_MAX_MD_SIZE + 1], expect[2 * EVP_MAX_MD_SIZE + 1];
    hs_iovec_t a1 = hs_arena_printf(&req->arena, "%.*s:" DIGEST_REALM ":%.*s", (int)d->user.len, d->user.base,
                                    (int)d->pass.len, d->pass.base);
    hash_hex(d->md, a1.base, a1.len, ha1);
    if (d->sess) {
        hs_iovec_t s =
            hs_arena_printf(&req->arena, "%s:%.*s:%.*s", ha1, (int)nonce.len, nonce.base, (int)cnonce.len, cnonce.base);
        hash_hex(d->md, s.base, s.len, ha1);
    }
    hs_iovec_t a2;
    if (d->auth_int) {
        char hbody[2 * EVP_MAX_MD_SIZE + 1];
        hash_hex(d->md, req->body.base ? req->body.base : "", req->body.len, hbody);
        a2 = hs_arena_printf(&req->arena, "%.*s:%.*s:%s", (int)req->p.method.len, req->p.method.base, (int)uri.len,
                             uri.base, hbody);
    } else {
        a2 = hs_arena_printf(&req->arena, "%.*s:%.*s", (int)req->p.method.len, req->p.method.base, (int)uri.len,
                             uri.base);
    }
    hash_hex(d->md, a2.base, a2.len, ha2);
    hs_iovec_t kd = hs_arena_printf(&req->arena, "%s:%.*s:%.*s:%.*s:%.*s:%s", ha1, (int)nonce.len, nonce.base,
                                    (int)nc.len, nc.base, (int)cnonce.len, cnonce.base, (int)qop.len, qop.base, ha2);
    hash_hex(d->md, kd.base, kd.len, expect);
    bool ok = hs_iov_eq(username, d->user.base, d->user.len) && response.len == strlen(expect) &&
              strncasecmp(response.base, expect, response.len) == 0;
    if (ok && fresh < 0) {
        digest_challenge(req, d, true, "the nonce has expired: retry with the new one (stale=true)");
        return;
    }
    if (!ok) {
        digest_cookies(req, d, nonce);
        digest_challenge(req, d, false, "wrong user name or password");
        return;
    }
    HS_RES_HEADER(req, "Set-Cookie", "fake=fake_value; Path=/");
    if (stale_after.base) { /* one answer fewer: "never" stays, a number counts down */
        uint64_t left;
        if (hs_parse_u64(stale_after, &left) && left > 0)
            hs_res_headerf(req, "Set-Cookie", "stale_after=%llu; Path=/", (unsigned long long)left - 1);
        else
            hs_res_headerf(req, "Set-Cookie", "stale_after=%.*s; Path=/", (int)HS_MIN(stale_after.len, 32),
                           stale_after.base);
    }
    json_auth_ok(req, "user", d->user);
}

int api_r_digest_auth(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t seg[5];
    size_t n = split_path(req, rest, seg, 5);
    if (n < 3 || n > 5)
        return api_fail(req, 400,
                        "expected /digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]] with qop auth or "
                        "auth-int");
    digest_t *d = hs_arena_alloc(&req->arena, sizeof(*d));
    memset(d, 0, sizeof(*d));
    if (HS_IOV_EQ(seg[0], "auth"))
        d->auth_int = false;
    else if (HS_IOV_EQ(seg[0], "auth-int"))
        d->auth_int = true;
    else
        return api_fail(req, 400, "qop must be auth or auth-int, got '%.*s'", (int)HS_MIN(seg[0].len, 32), seg[0].base);
    d->user = seg[1];
    d->pass = seg[2];
    hs_iovec_t alg = n == 4 ? seg[3] : HS_IOV("MD5");
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } algs[] = {{"MD5", EVP_md5}, {"SHA-256", EVP_sha256}, {"SHA-512-256", EVP_sha512_256}, {"SHA-512", EVP_sha512}};
    hs_iovec_t base = alg;
    if (base.len > 5 && strncasecmp(base.base + base.len - 5, "-sess", 5) == 0) {
        d->sess = true;
        base.len -= 5;
    }
    for (size_t i = 0; i < HS_ARRAY_SIZE(algs); i++) {
        if (base.len == strlen(algs[i].name) && strncasecmp(base.base, algs[i].name, base.len) == 0) {
            d->md = algs[i].md();
            d->alg = d->sess ? hs_arena_printf(&req->arena, "%s-sess", algs[i].name).base : algs[i].name;
        }
    }
    if (!d->md)
        return api_fail(req, 400, "algorithm must be MD5, SHA-256 or SHA-512-256 (optionally -sess), got '%.*s'",
                        (int)HS_MIN(alg.len, 32), alg.base);
    if (n == 5) {
        uint64_t count;
        if (!HS_IOV_EQ(seg[4], "never") && !hs_parse_u64(seg[4], &count))
            return api_fail(req, 400, "stale_after must be a number of answers or never, got '%.*s'",
                            (int)HS_MIN(seg[4].len, 32), seg[4].base);
        d->stale_after = seg[4];
    }
    hs_iovec_t rc;
    d->require_cookie =
        api_query(req, "require-cookie", &rc) && (HS_IOV_IEQ(rc, "1") || HS_IOV_IEQ(rc, "t") || HS_IOV_IEQ(rc, "true"));
    API_SET_CTX(req, d);
    return hs_req_read_body(req, digest_body_read);
}
