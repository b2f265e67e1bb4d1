/* statusd — client-testing API: response formats (httpbin) and small status-cause routes.
 *   /gzip /deflate /brotli /zstd   a JSON body compressed, with Content-Encoding
 *   /encoding/utf8 /html /json /xml /robots.txt /deny
 *   /base64/{value}   URL-safe base64 decoded (400 when invalid)
 *   /uuid             a version 4 UUID from RAND_bytes
 *   /links/{n}[/{offset}]   an HTML page of n links
 *   /forms/post       an HTML form that posts to /post
 *   /forms/reset      POST → 205 Reset Content (the client clears the form)
 *   /coffee           BREW or POST → 418 (RFC 2324, RFC 7168: this pot is a teapot); GET → its state
 *   /retry-with?require=NAME   449 Retry With naming the missing parameter, 200 once present
 * Every page's text is our own. */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>

static int compressed(hs_req_t *req, int enc, const char *flag, const char *coding)
{
    hs_buf_t b = {0}, z = {0};
    hs_buf_printf(&b, "{\n  \"%s\": true,\n", flag);
    api_echo_members(&b, req, API_F_HEADERS | API_F_METHOD | API_F_ORIGIN, true);
    HS_BUF_LIT(&b, "\n}\n");
    bool ok = api_compress(enc, b.base, b.len, &z);
    hs_buf_free(&b);
    if (!ok) {
        hs_buf_free(&z);
        return api_fail(req, 500, "the %s encoder failed", coding);
    }
    hs_res_header(req, HS_IOV("Content-Encoding"), hs_iov_cstr(coding));
    return api_send_buf(req, 200, &z, "application/json");
}

int api_r_gzip(hs_req_t *req, hs_iovec_t rest)
{
    return compressed(req, API_ENC_GZIP, "gzipped", "gzip");
}
int api_r_deflate(hs_req_t *req, hs_iovec_t rest)
{
    return compressed(req, API_ENC_DEFLATE, "deflated", "deflate");
}
int api_r_brotli(hs_req_t *req, hs_iovec_t rest)
{
    return compressed(req, API_ENC_BROTLI, "brotli", "br");
}
int api_r_zstd(hs_req_t *req, hs_iovec_t rest)
{
    return compressed(req, API_ENC_ZSTD, "zstd", "zstd");
}

/* ---- fixed documents ---- */
#define STATIC_DOC(fn, ctype, text)                                                                                    \
    int fn(hs_req_t *req, hs_iovec_t rest)                                                                             \
    {                                                                                                                  \
        static const char doc[] = text;                                                                                \
        return api_send_mem(req, 200, doc, sizeof(doc) - 1, ctype);                                                    \
    }

STATIC_DOC(api_r_utf8, "text/html; charset=utf-8",
           "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>UTF-8 sampler</title></head>\n"
           "<body>\n<h1>UTF-8 sampler</h1>\n"
           "<p>Every line below is encoded as UTF-8 (RFC 3629). A client that decodes it with another charset "
           "shows mojibake instead of the characters described.</p>\n<ul>\n"
           "<li>Latin with diacritics: Ærøskøbing, Çeşme, Żółć, Ñandú, Göteborg, façade, naïve, œuvre</li>\n"
           "<li>Greek: Καλημέρα κόσμε · αβγδεζηθ ΑΒΓΔΕΖΗΘ</li>\n"
           "<li>Cyrillic: Добрый день · Ђурђевдан · Ґанок</li>\n"
           "<li>Armenian and Georgian: Բարև · გამარჯობა</li>\n"
           "<li>Hebrew and Arabic (right to left): שלום · مرحبا</li>\n"
           "<li>Devanagari and Tamil: नमस्ते · வணக்கம்</li>\n"
           "<li>Thai: สวัสดี</li>\n"
           "<li>Chinese, Japanese, Korean: 你好 · こんにちは · カタカナ · 안녕하세요</li>\n"
           "<li>Mathematics: ∀x ∈ ℝ: x² ≥ 0 · ∑ᵢ aᵢ · √2 ≈ 1.414 · ∞ ≠ ∅ · ⌈x⌉ ⊕ ⌊y⌋</li>\n"
           "<li>Punctuation: “quotes” ‘single’ — dash … ellipsis</li>\n"
           "<li>Symbols: € £ ¥ ₹ ₿ · № § ¶ † ‡ ‰</li>\n"
           "<li>Arrows and boxes: ← ↑ → ↓ ↔ ⇒ ┌─┬─┐ │ │ └─┴─┘ ░▒▓█</li>\n"
           "<li>Outside the BMP (4-byte sequences): 𝄞 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀 🚀 🧪 🐙</li>\n"
           "<li>Combining marks: e\u0301 (e + U+0301) next to é (U+00E9)</li>\n"
           "</ul>\n</body>\n</html>\n")

STATIC_DOC(api_r_html, "text/html; charset=utf-8",
           "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>The Status Line</title>\n"
           "</head>\n<body>\n<h1>The Status Line</h1>\n<article>\n"
           "<p>Every HTTP response begins with a promise of three parts: a version, a three-digit code and a "
           "few words for humans. Clients ignore the words and believe the digits, which is why a server that "
           "chooses its digits carelessly causes so much quiet trouble further down the wire.</p>\n"
           "<p>A <em>200</em> says the work is done. A <em>204</em> says it is done and there is nothing to add, "
           "and means it: not even an empty line of content may follow. A <em>304</em> tells a cache that what it "
           "already holds is still good, and a <em>206</em> hands over only the slice that was asked for.</p>\n"
           "<p>When something is wrong, the first digit says whose fault it is. A <em>4</em> points at the "
           "request; a <em>5</em> at the server. Between them sit the odd ones out: the teapot that refuses to "
           "brew coffee, the log-only codes that never travel at all, and the connection that simply closes "
           "without a word.</p>\n"
           "<p>This page is here so that you have some HTML to fetch. Nothing in it will change.</p>\n"
           "</article>\n</body>\n</html>\n")

STATIC_DOC(api_r_json, "application/json",
           "{\n  \"slideshow\": {\n    \"author\": \"statusd\",\n    \"date\": \"2025-01-01\",\n"
           "    \"slides\": [\n"
           "      {\n        \"title\": \"Status codes\",\n        \"type\": \"all\"\n      },\n"
           "      {\n        \"items\": [\n          \"1xx: hold on\",\n          \"2xx: here you are\",\n"
           "          \"3xx: look elsewhere\",\n          \"4xx: you made a mistake\",\n"
           "          \"5xx: we made a mistake\"\n        ],\n        \"title\": \"Five classes\",\n"
           "        \"type\": \"all\"\n      }\n    ],\n    \"title\": \"A short tour of HTTP status codes\"\n"
           "  }\n}\n")

STATIC_DOC(api_r_xml, "application/xml",
           "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
           "<!--  A short slideshow, as a sample XML document  -->\n"
           "<slideshow title=\"A short tour of HTTP status codes\" date=\"2025-01-01\" author=\"statusd\">\n"
           "    <slide type=\"all\">\n      <title>Status codes</title>\n    </slide>\n"
           "    <slide type=\"all\">\n        <title>Five classes</title>\n"
           "        <item>1xx: <em>hold on</em></item>\n        <item>2xx: here you are</item>\n"
           "        <item>3xx: look elsewhere</item>\n        <item>4xx: you made a mistake</item>\n"
           "        <item>5xx: we made a mistake</item>\n    </slide>\n</slideshow>\n")

STATIC_DOC(api_r_deny, "text/plain; charset=utf-8",
           "\n"
           "     +-----------------------------+\n"
           "     |   ROBOTS ARE NOT ALLOWED    |\n"
           "     |        BEYOND THIS          |\n"
           "     |           SIGN              |\n"
           "     +-----------------------------+\n"
           "                  ||\n"
           "        [o_o]     ||    robots.txt said so.\n"
           "        /|_|\\     ||    You shouldn't be here.\n"
           "         / \\      ||\n"
           "  ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n")

int api_r_robots(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t doc = hs_arena_printf(&req->arena, "User-agent: *\nDisallow: %s/deny\n", API_PREFIX(req));
    return api_send_mem(req, 200, doc.base, doc.len, "text/plain; charset=utf-8");
}

int api_r_base64(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t v = hs_pct_decode_arena(&req->arena, rest, 0);
    unsigned char *out = hs_arena_alloc(&req->arena, v.len + 4);
    size_t n;
    bool std = memchr(v.base, '+', v.len) || memchr(v.base, '/', v.len);
    if (v.len == 0 || !hs_base64_decode(out, &n, v.base, v.len, std ? 0 : HS_B64_URL))
        return api_fail(req, 400, "'%.*s' is not valid base64 (URL-safe alphabet A-Z a-z 0-9 - _, padding optional)",
                        (int)HS_MIN(v.len, 100), v.base);
    return api_send_mem(req, 200, out, n,
                        hs_utf8_valid(out, n) ? "text/plain; charset=utf-8" : "application/octet-stream");
}

int api_r_uuid(hs_req_t *req, hs_iovec_t rest)
{
    unsigned char u[16];
    hs_random(u, sizeof(u));
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 (RFC 9562 §5.4) */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* variant 10 */
    char hex[33];
    hs_hex_encode(hex, u, 16);
    hs_buf_t b = {0};
    hs_buf_printf(&b, "{\n  \"uuid\": \"%.8s-%.4s-%.4s-%.4s-%.12s\"\n}\n", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    return api_send_buf(req, 200, &b, "application/json");
}

#define MAX_LINKS 1000

int api_r_links(hs_req_t *req, hs_iovec_t rest)
{
    const char *slash = memchr(rest.base, '/', rest.len);
    hs_iovec_t ns = slash ? hs_iov(rest.base, (size_t)(slash - rest.base)) : rest;
    uint64_t n, off = 0;
    if (!hs_parse_u64(ns, &n) || (slash && !hs_parse_u64(hs_iov(slash + 1, rest.len - ns.len - 1), &off)))
        return api_fail(req, 400, "expected /links/{n}/{offset}");
    if (n > MAX_LINKS)
        return api_fail(req, 400, "at most %d links per page (a fixed limit of the API)", MAX_LINKS);
    if (!slash) { /* httpbin: /links/{n} is /links/{n}/0 */
        hs_res_header(req, HS_IOV("Location"), api_path(req, "/links/%llu/0", (unsigned long long)n));
        return hs_res_send(req, 302);
    }
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Links</title></head><body>\n");
    for (uint64_t i = 0; i < n; i++) {
        if (i == off)
            hs_buf_printf(&b, "%llu ", (unsigned long long)i);
        else
            hs_buf_printf(&b, "<a href=\"%s/links/%llu/%llu\">%llu</a> ", API_PREFIX(req), (unsigned long long)n,
                          (unsigned long long)i, (unsigned long long)i);
    }
    HS_BUF_LIT(&b, "\n</body></html>\n");
    return api_send_buf(req, 200, &b, "text/html; charset=utf-8");
}

int api_r_forms_post(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t doc = hs_arena_printf(
        &req->arena,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Order a test "
        "request</title></head>\n"
        "<body>\n<h1>Order a test request</h1>\n"
        "<form method=\"post\" action=\"%s/post\">\n"
        "<p><label>Your name: <input name=\"name\" autocomplete=\"name\"></label></p>\n"
        "<p><label>E-mail: <input type=\"email\" name=\"email\"></label></p>\n"
        "<fieldset><legend>Status class</legend>\n"
        "<label><input type=\"radio\" name=\"class\" value=\"2xx\" checked> 2xx</label>\n"
        "<label><input type=\"radio\" name=\"class\" value=\"4xx\"> 4xx</label>\n"
        "<label><input type=\"radio\" name=\"class\" value=\"5xx\"> 5xx</label>\n</fieldset>\n"
        "<fieldset><legend>Extras</legend>\n"
        "<label><input type=\"checkbox\" name=\"extra\" value=\"etag\"> ETag</label>\n"
        "<label><input type=\"checkbox\" name=\"extra\" value=\"gzip\"> gzip</label>\n"
        "<label><input type=\"checkbox\" name=\"extra\" value=\"trailers\"> trailers</label>\n</fieldset>\n"
        "<p><label>Deliver after: <input type=\"time\" name=\"when\" step=\"900\"></label></p>\n"
        "<p><label>Notes: <textarea name=\"notes\"></textarea></label></p>\n"
        "<p><button>Submit</button></p>\n</form>\n"
        "<p>The <a href=\"%s/forms/reset\">reset form</a> answers 205 Reset Content.</p>\n"
        "</body>\n</html>\n",
        API_PREFIX(req), API_PREFIX(req));
    return api_send_mem(req, 200, doc.base, doc.len, "text/html; charset=utf-8");
}

static void reset_body_read(hs_req_t *req)
{
    /* RFC 9110 §15.3.6: no content; the user agent resets the document that sent the request */
    hs_res_send(req, 205);
}

int api_r_forms_reset(hs_req_t *req, hs_iovec_t rest)
{
    if (req->p.method_id == HS_METHOD_POST)
        return hs_req_read_body(req, reset_body_read);
    hs_iovec_t doc =
        hs_arena_printf(&req->arena,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reset</title>"
                        "</head>\n<body>\n<form method=\"post\" action=\"%s/forms/reset\">\n"
                        "<p><label>Something to forget: <input name=\"text\"></label></p>\n"
                        "<p><button>Send (the server answers 205: clear the form)</button></p>\n"
                        "</form>\n</body></html>\n",
                        API_PREFIX(req));
    return api_send_mem(req, 200, doc.base, doc.len, "text/html; charset=utf-8");
}

static void coffee_body_read(hs_req_t *req)
{
    /* RFC 2324 §2.3.2 and RFC 7168 §2.3.3: a teapot asked to brew coffee answers 418 */
    api_fail(req, 418, "this pot is a teapot: it cannot brew coffee (RFC 2324 §2.3.2, RFC 7168 §2.3.3)");
}

int api_r_coffee(hs_req_t *req, hs_iovec_t rest)
{
    if (req->p.method_id == HS_METHOD_BREW || req->p.method_id == HS_METHOD_POST)
        return hs_req_read_body(req, coffee_body_read);
    static const char state[] = "{\n  \"pot\": \"teapot\",\n  \"brewing\": false,\n  \"contents\": \"earl grey\",\n"
                                "  \"temperature_c\": 85,\n  \"accepts\": [\"message/teapot\"],\n"
                                "  \"additions\": [\"milk\", \"lemon\", \"honey\"]\n}\n";
    return api_send_mem(req, 200, state, sizeof(state) - 1, "application/json");
}

int api_r_retry_with(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t require;
    if (!api_query(req, "require", &require))
        require = HS_IOV("token");
    size_t pos = 0;
    hs_iovec_t name;
    hs_buf_t missing = {0};
    api_kv_t *kv;
    size_t n = api_parse_urlencoded(&req->arena, req->p.query, &kv);
    while ((name = hs_list_next(require, &pos)).base) {
        bool present = false;
        for (size_t i = 0; i < n && !present; i++)
            present = hs_iov_eq(kv[i].key, name.base, name.len) && kv[i].value.len > 0;
        if (!present) {
            if (missing.len)
                HS_BUF_LIT(&missing, ", ");
            hs_buf_append(&missing, name.base, name.len);
        }
    }
    if (missing.len) {
        hs_iovec_t m = hs_iov(hs_arena_strndup(&req->arena, missing.base, missing.len), missing.len);
        hs_buf_free(&missing);
        /* IIS 449: the request lacks information; retry with it */
        hs_res_header(req, HS_IOV("X-Retry-With"), m);
        return api_fail(req, 449, "retry the request with the query parameter(s): %.*s", (int)m.len, m.base);
    }
    return api_echo_send(req, API_F_GET);
}
