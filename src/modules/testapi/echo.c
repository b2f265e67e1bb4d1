/* statusd — client-testing API: request echo in httpbin's shapes.
 *   /get                       {args, headers, origin, url}
 *   /post /put /patch /delete  {args, data, files, form, headers, json, origin, url}
 *   /anything[/{path}]         the same plus method, for any method but TRACE
 *   /headers /ip /user-agent /dump/request /response-headers
 * Bodies are read through hs_req_read_body, so chunked uploads and Expect: 100-continue work;
 * application/x-www-form-urlencoded fills "form", multipart/form-data fills "form" and "files",
 * anything else goes to "data" (a data: URL when not UTF-8) and, when it parses, to "json". */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ---- headers, as httpbin shows them: Title-Case names, repeated fields joined by ',' ---- */
static void title_case(hs_buf_t *b, hs_iovec_t name)
{
    bool up = true;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.base[i];
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!up && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        up = c == '-';
        hs_buf_append(b, &c, 1);
    }
}

void api_json_headers(hs_buf_t *b, hs_req_t *req)
{
    HS_BUF_LIT(b, "{");
    bool first = true;
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = h->name.len == req->p.headers[j].name.len &&
                   strncasecmp(h->name.base, req->p.headers[j].name.base, h->name.len) == 0;
        if (seen)
            continue;
        hs_buf_t name = {0}, value = {0};
        title_case(&name, h->name);
        api_buf_add(&value, h->value.base, h->value.len);
        for (size_t j = i + 1; j < req->p.num_headers; j++) {
            const hs_header_t *o = &req->p.headers[j];
            if (o->name.len == h->name.len && strncasecmp(o->name.base, h->name.base, h->name.len) == 0) {
                HS_BUF_LIT(&value, ",");
                api_buf_add(&value, o->value.base, o->value.len);
            }
        }
        if (!first)
            HS_BUF_LIT(b, ", ");
        first = false;
        hs_json_str(b, name.base, name.len);
        HS_BUF_LIT(b, ": ");
        api_json_bytes(b, value.base, value.len, "text/plain");
        hs_buf_free(&name);
        hs_buf_free(&value);
    }
    HS_BUF_LIT(b, "}");
}

/* ---- body parsing ---- */
/* The media type of a Content-Type value, lowercase compared. */
static bool media_is(hs_iovec_t ctype, const char *lit)
{
    size_t n = 0;
    while (n < ctype.len && ctype.base[n] != ';' && ctype.base[n] != ' ' && ctype.base[n] != '\t')
        n++;
    return hs_iov_ieq(hs_iov(ctype.base, n), lit, strlen(lit));
}

/* A parameter of a header value like `form-data; name="a"; filename="b.txt"` (quoted or token),
 * as NUL-terminated arena text. RFC 9110 §5.6.6 */
static bool header_param(hs_arena_t *a, hs_iovec_t v, const char *name, hs_iovec_t *out)
{
    size_t pos;
    hs_param_t p;
    hs_element_value(v, &pos);
    while (hs_param_next(v, &pos, &p)) {
        if (!p.value.base || !hs_iov_ieq(p.name, name, strlen(name))) /* `name` is a lowercase literal */
            continue;
        hs_iovec_t t = p.value.len ? hs_param_text(a, p.value) : HS_IOV("");
        if (!t.base)
            return false; /* a malformed quoted-string */
        *out = hs_iov(hs_arena_strndup(a, t.base, t.len), t.len);
        return true;
    }
    return false;
}

typedef struct {
    api_kv_t *form, *files;
    const char **file_types;
    size_t nform, nfiles;
} parsed_form_t;

/* multipart/form-data (RFC 7578). HS_ERROR when the body does not follow the format. */
static int parse_multipart(hs_req_t *req, hs_iovec_t ctype, parsed_form_t *f)
{
    hs_iovec_t boundary;
    if (!header_param(&req->arena, ctype, "boundary", &boundary) || boundary.len == 0 || boundary.len > 70)
        return HS_ERROR;
    hs_iovec_t delim = hs_arena_printf(&req->arena, "--%.*s", (int)boundary.len, boundary.base);
    const char *p = req->body.base, *end = req->body.base + req->body.len;
    if (!p)
        return HS_ERROR;
    size_t cap = 16;
    f->form = hs_arena_alloc(&req->arena, cap * sizeof(api_kv_t));
    f->files = hs_arena_alloc(&req->arena, cap * sizeof(api_kv_t));
    f->file_types = hs_arena_alloc(&req->arena, cap * sizeof(char *));
    /* the first delimiter may follow a preamble */
    const char *d = memmem(p, (size_t)(end - p), delim.base, delim.len);
    if (!d)
        return HS_ERROR;
    p = d + delim.len;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return HS_OK; /* close-delimiter; the epilogue is ignored */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++; /* transport padding */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return HS_ERROR;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *content;
        hs_iovec_t headers;
        if (p + 2 <= end && p[0] == '\r' && p[1] == '\n') { /* no part headers at all */
            headers = HS_IOV("");
            content = p + 2;
        } else {
            if (!hend)
                return HS_ERROR;
            headers = hs_iov(p, (size_t)(hend - p));
            content = hend + 4;
        }
        hs_iovec_t crlf_delim = hs_arena_printf(&req->arena, "\r\n%.*s", (int)delim.len, delim.base);
        const char *next = memmem(content, (size_t)(end - content), crlf_delim.base, crlf_delim.len);
        if (!next)
            return HS_ERROR;
        /* the part's headers */
        hs_iovec_t disposition = HS_IOV_NULL, part_type = HS_IOV("text/plain");
        size_t i = 0;
        while (i < headers.len) {
            size_t ls = i;
            while (i + 1 < headers.len && !(headers.base[i] == '\r' && headers.base[i + 1] == '\n'))
                i++;
            size_t le = i + 1 < headers.len ? i : headers.len;
            hs_iovec_t line = hs_iov(headers.base + ls, le - ls);
            i = le + 2;
            const char *colon = memchr(line.base, ':', line.len);
            if (!colon)
                continue;
            hs_iovec_t name = hs_iov(line.base, (size_t)(colon - line.base));
            hs_iovec_t value = hs_iov(colon + 1, line.len - name.len - 1);
            while (value.len && (value.base[0] == ' ' || value.base[0] == '\t'))
                value.base++, value.len--;
            if (HS_IOV_IEQ(name, "content-disposition"))
                disposition = value;
            else if (HS_IOV_IEQ(name, "content-type"))
                part_type = value;
        }
        hs_iovec_t fname, filename;
        if (!disposition.base || !header_param(&req->arena, disposition, "name", &fname))
            return HS_ERROR;
        hs_iovec_t content_iov = hs_iov(content, (size_t)(next - content));
        bool is_file = header_param(&req->arena, disposition, "filename", &filename);
        if (f->nform == cap || f->nfiles == cap) {
            size_t ncap = cap * 2;
            api_kv_t *nf = hs_arena_alloc(&req->arena, ncap * sizeof(api_kv_t));
            api_kv_t *nfi = hs_arena_alloc(&req->arena, ncap * sizeof(api_kv_t));
            const char **nt = hs_arena_alloc(&req->arena, ncap * sizeof(char *));
            memcpy(nf, f->form, f->nform * sizeof(api_kv_t));
            memcpy(nfi, f->files, f->nfiles * sizeof(api_kv_t));
            memcpy(nt, f->file_types, f->nfiles * sizeof(char *));
            f->form = nf, f->files = nfi, f->file_types = nt, cap = ncap;
        }
        if (is_file) {
            f->files[f->nfiles] = (api_kv_t){fname, content_iov};
            f->file_types[f->nfiles++] = hs_arena_strndup(&req->arena, part_type.base, part_type.len);
        } else {
            f->form[f->nform++] = (api_kv_t){fname, content_iov};
        }
        p = next + crlf_delim.len;
    }
}

/* The content codings of the request body, in the order they were applied (RFC 9110 §8.4);
 * identity is none. -1 when one is not a coding statusd knows, or there are too many. */
#define MAX_CODINGS 4
static int body_codings(const hs_req_t *req, int *enc)
{
    hs_iovec_t v = hs_req_header(req, HS_HDR_CONTENT_ENCODING), el;
    size_t pos = 0;
    int n = 0;
    while (v.base && (el = hs_list_next(v, &pos)).base) {
        if (HS_IOV_IEQ(el, "identity"))
            continue;
        int e = api_coding(el);
        if (e < 0 || n == MAX_CODINGS)
            return -1;
        enc[n++] = e;
    }
    return n;
}

/* "decoded": what the body is once its codings are undone, as far as statusd can. */
static void decoded_member(hs_buf_t *b, hs_req_t *req, hs_iovec_t body, const int *enc, int n, hs_iovec_t ctype)
{
    static const char *const names[] = {"gzip", "deflate", "br", "zstd"};
    hs_buf_t cur = {0}, next = {0};
    hs_buf_append(&cur, body.base, body.len);
    int r = 1;
    for (int i = n - 1; i >= 0 && r == 1; i--) { /* the last applied is undone first */
        next.len = 0;
        r = api_decompress(enc[i], cur.base ? cur.base : "", cur.len, api_conf(req)->api_max_bytes, &next);
        hs_buf_t t = cur;
        cur = next;
        next = t;
    }
    HS_BUF_LIT(b, "{\"codings\": [");
    for (int i = 0; i < n; i++)
        hs_buf_printf(b, "%s\"%s\"", i ? ", " : "", names[enc[i]]);
    if (r == 1) {
        hs_buf_printf(b, "], \"length\": %zu, \"type\": ", cur.len);
        hs_json_str(b, ctype.base ? ctype.base : "application/octet-stream", ctype.base ? ctype.len : 24);
        HS_BUF_LIT(b, "}");
    } else {
        hs_buf_printf(b, "], \"error\": \"%s\"}",
                      r == 0 ? "larger than --api-max-bytes once decoded" : "not valid data of that coding");
    }
    hs_buf_free(&cur);
    hs_buf_free(&next);
}

int api_echo_members(hs_buf_t *b, hs_req_t *req, unsigned f, bool first)
{
#define MEMBER(name)                                                                                                   \
    do {                                                                                                               \
        if (!first)                                                                                                    \
            HS_BUF_LIT(b, ",\n");                                                                                      \
        first = false;                                                                                                 \
        HS_BUF_LIT(b, "  \"" name "\": ");                                                                             \
    } while (0)
    hs_iovec_t body = hs_iov(req->body.base ? req->body.base : "", req->body.len);
    hs_iovec_t ctype = hs_req_header(req, HS_HDR_CONTENT_TYPE);
    parsed_form_t form = {0};
    bool is_form = false;
    int enc[MAX_CODINGS];
    int ncodings = body_codings(req, enc);
    /* a coded body is echoed as the bytes that came (httpbin): forms are not parsed from it */
    if ((f & (API_F_DATA | API_F_JSON)) && ncodings == 0) {
        if (ctype.base && media_is(ctype, "application/x-www-form-urlencoded")) {
            form.nform = api_parse_urlencoded(&req->arena, body, &form.form);
            is_form = true;
        } else if (ctype.base && media_is(ctype, "multipart/form-data")) {
            if (parse_multipart(req, ctype, &form) != HS_OK)
                return HS_ERROR;
            is_form = true;
        }
    }
    if (f & API_F_ARGS) {
        MEMBER("args");
        api_kv_t *kv;
        size_t n = api_parse_urlencoded(&req->arena, req->p.query, &kv);
        api_json_pairs(b, kv, n);
    }
    if (f & API_F_DATA) {
        MEMBER("data");
        if (is_form)
            HS_BUF_LIT(b, "\"\"");
        else
            api_json_bytes(b, body.base, body.len,
                           ctype.base ? hs_arena_strndup(&req->arena, ctype.base, ctype.len)
                                      : "application/octet-stream");
        MEMBER("files");
        HS_BUF_LIT(b, "{");
        for (size_t i = 0; i < form.nfiles; i++) {
            if (i)
                HS_BUF_LIT(b, ", ");
            api_json_bytes(b, form.files[i].key.base, form.files[i].key.len, "text/plain");
            HS_BUF_LIT(b, ": ");
            api_json_bytes(b, form.files[i].value.base, form.files[i].value.len, form.file_types[i]);
        }
        HS_BUF_LIT(b, "}");
        MEMBER("form");
        api_json_pairs(b, form.form, form.nform);
        if (ncodings > 0) {
            MEMBER("decoded");
            decoded_member(b, req, body, enc, ncodings, ctype);
        }
    }
    if (f & API_F_HEADERS) {
        MEMBER("headers");
        api_json_headers(b, req);
    }
    if (f & API_F_JSON) {
        MEMBER("json");
        if (!is_form && hs_json_valid(body.base, body.len))
            hs_buf_append(b, body.base, body.len);
        else
            HS_BUF_LIT(b, "null");
    }
    if (f & API_F_METHOD) {
        MEMBER("method");
        hs_json_str(b, req->p.method.base, req->p.method.len);
    }
    if (f & API_F_ORIGIN) {
        MEMBER("origin");
        hs_iovec_t o = api_origin(req);
        hs_json_str(b, o.base, o.len);
    }
    if (f & API_F_URL) {
        MEMBER("url");
        hs_iovec_t u = api_url(req);
        api_json_bytes(b, u.base, u.len, "text/plain");
    }
#undef MEMBER
    return HS_OK;
}

int api_echo_send(hs_req_t *req, unsigned fields)
{
    int enc[MAX_CODINGS];
    if ((fields & API_F_DATA) && body_codings(req, enc) < 0) {
        /* RFC 9110 §15.5.16: an unsupported content coding; Accept-Encoding says which would do */
        HS_RES_HEADER(req, "Accept-Encoding", "gzip, deflate, br, zstd");
        hs_iovec_t v = hs_req_header(req, HS_HDR_CONTENT_ENCODING);
        return api_fail(req, 415,
                        "the body's Content-Encoding '%.*s' is not one this server decodes (gzip, deflate, br, zstd)",
                        (int)HS_MIN(v.len, 64), v.base);
    }
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "{\n");
    if (api_echo_members(&b, req, fields, true) != HS_OK) {
        hs_buf_free(&b);
        return api_fail(req, 400,
                        "the multipart/form-data body is malformed (RFC 7578): boundary, part headers or "
                        "Content-Disposition name missing");
    }
    HS_BUF_LIT(&b, "\n}\n");
    return api_send_buf(req, 200, &b, "application/json");
}

/* ---- routes ---- */
int api_r_get(hs_req_t *req, hs_iovec_t rest)
{
    return api_echo_send(req, API_F_GET);
}

static void on_body_echo(hs_req_t *req)
{
    api_echo_send(req, API_F_BODY);
}
static void on_body_anything(hs_req_t *req)
{
    api_echo_send(req, API_F_BODY | API_F_METHOD);
}

int api_r_body_echo(hs_req_t *req, hs_iovec_t rest)
{
    return hs_req_read_body(req, on_body_echo);
}
int api_r_anything(hs_req_t *req, hs_iovec_t rest)
{
    return hs_req_read_body(req, on_body_anything);
}

int api_r_headers(hs_req_t *req, hs_iovec_t rest)
{
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "{\n  \"headers\": ");
    api_json_headers(&b, req);
    HS_BUF_LIT(&b, "\n}\n");
    return api_send_buf(req, 200, &b, "application/json");
}

int api_r_ip(hs_req_t *req, hs_iovec_t rest)
{
    hs_buf_t b = {0};
    hs_iovec_t o = api_origin(req);
    HS_BUF_LIT(&b, "{\n  \"origin\": ");
    hs_json_str(&b, o.base, o.len);
    HS_BUF_LIT(&b, "\n}\n");
    return api_send_buf(req, 200, &b, "application/json");
}

int api_r_user_agent(hs_req_t *req, hs_iovec_t rest)
{
    hs_buf_t b = {0};
    hs_iovec_t ua = hs_req_header(req, HS_HDR_USER_AGENT);
    HS_BUF_LIT(&b, "{\n  \"user-agent\": ");
    if (ua.base)
        api_json_bytes(&b, ua.base, ua.len, "text/plain");
    else
        HS_BUF_LIT(&b, "null");
    HS_BUF_LIT(&b, "\n}\n");
    return api_send_buf(req, 200, &b, "application/json");
}

/* /dump/request: the request as it was received, rebuilt from the parsed head (names and values
 * byte for byte, in order) and the body (de-chunked when it was chunked). */
static void on_body_dump(hs_req_t *req)
{
    hs_buf_t b = {0};
    hs_buf_printf(&b, "%.*s %.*s HTTP/1.%d\r\n", (int)req->p.method.len, req->p.method.base, (int)req->p.target.len,
                  req->p.target.base, req->p.minor_version);
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        hs_buf_append(&b, h->name.base, h->name.len);
        HS_BUF_LIT(&b, ": ");
        hs_buf_append(&b, h->value.base, h->value.len);
        HS_BUF_LIT(&b, "\r\n");
    }
    HS_BUF_LIT(&b, "\r\n");
    if (req->body.len)
        hs_buf_append(&b, req->body.base, req->body.len);
    api_send_buf(req, 200, &b, "text/plain");
}

int api_r_dump_request(hs_req_t *req, hs_iovec_t rest)
{
    return hs_req_read_body(req, on_body_dump);
}

/* Can a client ask us to send this header (through /response-headers or
 * X-HttpStatus-Response-*)? Framing and connection fields stay the engine's business: a wrong
 * one would corrupt the response (the /fault routes do that on purpose). Answers 400 when not. */
bool api_header_settable(hs_req_t *req, hs_iovec_t name, hs_iovec_t value)
{
    static const char *const reserved[] = {"content-length", "transfer-encoding", "connection", "keep-alive",
                                           "upgrade",        "trailer",           "te",         "date",
                                           "server",         "proxy-connection"};
    if (name.len == 0) {
        api_fail(req, 400, "an empty header name cannot be sent");
        return false;
    }
    for (size_t i = 0; i < name.len; i++) {
        unsigned char c = (unsigned char)name.base[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c)) {
            api_fail(req, 400, "'%.*s' is not a valid header name (RFC 9110 §5.1: a token)", (int)HS_MIN(name.len, 64),
                     name.base);
            return false;
        }
    }
    for (size_t i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char)value.base[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            api_fail(req, 400, "the value for %.*s contains a control character (CR, LF or NUL cannot be sent)",
                     (int)HS_MIN(name.len, 64), name.base);
            return false;
        }
    }
    for (size_t i = 0; i < HS_ARRAY_SIZE(reserved); i++) {
        if (hs_iov_ieq(name, reserved[i], strlen(reserved[i]))) {
            api_fail(req, 400,
                     "%.*s is set by the server itself and cannot be chosen here (for broken framing use /fault/...)",
                     (int)name.len, name.base);
            return false;
        }
    }
    return true;
}

int api_r_response_headers(hs_req_t *req, hs_iovec_t rest)
{
    api_kv_t *kv;
    size_t n = api_parse_urlencoded(&req->arena, req->p.query, &kv);
    const char *ctype = "application/json";
    bool own_ctype = false;
    for (size_t i = 0; i < n; i++) {
        if (!api_header_settable(req, kv[i].key, kv[i].value))
            return HS_OK;
        if (HS_IOV_IEQ(kv[i].key, "content-type")) {
            ctype = kv[i].value.base;
            own_ctype = true;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!HS_IOV_IEQ(kv[i].key, "content-type"))
            hs_res_header(req, kv[i].key, kv[i].value);
    /* httpbin lists the response's own Content-Type and Content-Length too: iterate until the
     * length written in the body is the body's length */
    api_kv_t *all = hs_arena_alloc(&req->arena, (n + 2) * sizeof(*all));
    size_t m = 0, len = 0;
    hs_buf_t b = {0};
    for (int round = 0; round < 5; round++) {
        m = 0;
        all[m++] = (api_kv_t){HS_IOV("Content-Length"), hs_arena_printf(&req->arena, "%zu", len)};
        if (!own_ctype)
            all[m++] = (api_kv_t){HS_IOV("Content-Type"), hs_iov_cstr(ctype)};
        for (size_t i = 0; i < n; i++)
            all[m++] = kv[i];
        b.len = 0;
        api_json_pairs(&b, all, m);
        HS_BUF_LIT(&b, "\n");
        if (b.len == len)
            break;
        len = b.len;
    }
    return api_send_buf(req, 200, &b, ctype);
}
