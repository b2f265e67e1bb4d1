/* statusd — framing and connection semantics of a parsed request head.
 * RFC 9112 §3.2 (Host), §6.1-§6.3 (message body length), §9.3 (persistence),
 * RFC 9110 §10.1.1 (Expect). */
#include "hs/parse.h"

#include "hs/fields.h"

/* The cause names the status too (HS_CAUSE_STATUS_<cause>: src/http/causes.def). */
#define FAIL(cause, why)                                                                                               \
    do {                                                                                                               \
        req->error = HS_CAUSE_STATUS_##cause;                                                                          \
        req->error_cause = HS_CAUSE_##cause;                                                                           \
        req->error_detail = (why);                                                                                     \
        return HS_ERROR;                                                                                               \
    } while (0)

/* RFC 3986 §3.2.2: the bytes of a reg-name (unreserved / pct-encoded / sub-delims), which also
 * covers IPv4address. */
/* clang-format off */
static const bool reg_name_char[256] = { /* ASCII rows of 16; 0x80-0xff: none */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, /* 0x50 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, /* 0x70 */
};
/* clang-format on */

/* RFC 3986 §3.2.2-3.2.3: host = IP-literal / IPv4address / reg-name, then [":" port].
 * The host may be empty (":80" too): the callers decide whether an empty host is acceptable. */
static bool valid_authority(hs_iovec_t a)
{
    size_t i = 0;
    if (a.len == 0)
        return true;
    if (a.base[0] == '[') {
        while (i < a.len && a.base[i] != ']') {
            char c = a.base[i];
            if (!(c == '[' || c == ':' || c == '.' || (c >= '0' && c <= '9') ||
                  ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == 'v' || c == 'V'))
                return false;
            i++;
        }
        if (i == a.len)
            return false;
        i++;
    } else {
        /* up to the first byte that is not a reg-name byte (':' is not one): four a round */
        const unsigned char *b = (const unsigned char *)a.base;
        while (i + 4 <= a.len && reg_name_char[b[i]] && reg_name_char[b[i + 1]] && reg_name_char[b[i + 2]] &&
               reg_name_char[b[i + 3]])
            i += 4;
        while (i < a.len && reg_name_char[b[i]])
            i++;
    }
    if (i < a.len) {
        if (a.base[i] != ':')
            return false;
        if (a.len - i - 1 > 5)
            return false;
        for (i++; i < a.len; i++)
            if (a.base[i] < '0' || a.base[i] > '9')
                return false;
    }
    return true;
}

/* The host part of a valid authority is empty ("" or ":port"). */
static bool empty_host(hs_iovec_t a)
{
    return a.len == 0 || a.base[0] == ':';
}

int hs_parse_semantics(hs_parsed_req_t *req, hs_req_meta_t *meta)
{
    memset(meta, 0, sizeof(*meta));
    meta->content_length = -1;
    const hs_header_t *te = NULL;
    int hosts = 0, cls = 0;
    bool conn_close = false, conn_keepalive = false, conn_upgrade = false;

    for (size_t i = 0; i < req->num_headers; i++) {
        const hs_header_t *h = &req->headers[i];
        if (h->token && !meta->h[h->token])
            meta->h[h->token] = h;
        switch (h->token) {
        case HS_HDR_HOST: hosts++; break;
        case HS_HDR_CONTENT_LENGTH: {
            /* RFC 9112 §6.3 (5): an invalid Content-Length is an unrecoverable framing error.
             * Duplicates, even identical ones and lists ("5, 5"), are refused: we never guess. */
            int64_t n;
            if (hs_parse_content_length(h->value, &n) != HS_OK)
                FAIL(BAD_CONTENT_LENGTH, "Content-Length is not a single non-negative decimal number");
            if (cls++ > 0)
                FAIL(DUPLICATE_CONTENT_LENGTH, "more than one Content-Length field");
            meta->content_length = n;
            break;
        }
        case HS_HDR_TRANSFER_ENCODING:
            if (te)
                FAIL(DUPLICATE_TRANSFER_ENCODING, "more than one Transfer-Encoding field");
            te = h;
            break;
        case HS_HDR_CONNECTION: {
            size_t pos = 0;
            hs_iovec_t opt;
            while ((opt = hs_list_next(h->value, &pos)).base) {
                if (HS_IOV_IEQ(opt, "close"))
                    conn_close = true;
                else if (HS_IOV_IEQ(opt, "keep-alive"))
                    conn_keepalive = true;
                else if (HS_IOV_IEQ(opt, "upgrade"))
                    conn_upgrade = true;
            }
            break;
        }
        case HS_HDR_EARLY_DATA:
            if (HS_IOV_EQ(h->value, "1"))
                meta->early_data = true;
            break;
        default: break;
        }
    }

    /* Host (RFC 9112 §3.2): exactly one in HTTP/1.1; at most one in HTTP/1.0. */
    if (hosts > 1)
        FAIL(DUPLICATE_HOST, "more than one Host field");
    if (hosts == 0 && req->minor_version == 1)
        FAIL(MISSING_HOST, "HTTP/1.1 requests must carry a Host field");
    if (meta->h[HS_HDR_HOST] && !valid_authority(meta->h[HS_HDR_HOST]->value))
        FAIL(BAD_HOST, "the Host field is not a valid host[:port]");
    if (req->authority.base) {
        /* RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid and must be rejected */
        if (!valid_authority(req->authority) || empty_host(req->authority))
            FAIL(BAD_AUTHORITY, "the authority in the request target is not a valid host[:port]");
        /* RFC 9112 §3.2.2: the target's authority wins; Host (even an empty one) is ignored */
        meta->host = req->authority;
    } else if (meta->h[HS_HDR_HOST]) {
        /* RFC 9112 §3.2: an empty Host is only for a target URI without an authority, and an
         * http(s) target always has one (RFC 9110 §4.2.1: a non-empty host). Origin-form and
         * asterisk-form take that authority from Host (§3.3), so an empty one leaves the target
         * URI invalid, which §3.3 lets us reject rather than guess a default. */
        if (empty_host(meta->h[HS_HDR_HOST]->value))
            FAIL(EMPTY_HOST, "the Host field is empty, but the request target takes its host from it");
        meta->host = meta->h[HS_HDR_HOST]->value;
    }

    if (te) {
        /* RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty. */
        if (req->minor_version == 0)
            FAIL(TE_IN_HTTP10, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        /* RFC 9112 §6.3 (3): with both, we refuse rather than pick one. */
        if (meta->content_length >= 0)
            FAIL(CL_TE_CONFLICT, "both Content-Length and Transfer-Encoding are present");
        size_t pos = 0, n = 0;
        hs_iovec_t coding, last = HS_IOV_NULL;
        bool unknown = false, chunked_before_last = false;
        while ((coding = hs_list_next(te->value, &pos)).base) {
            /* strip transfer-parameters for the name comparison */
            size_t k = 0;
            while (k < coding.len && coding.base[k] != ';' && coding.base[k] != ' ' && coding.base[k] != '\t')
                k++;
            hs_iovec_t name = hs_iov(coding.base, k);
            if (n > 0 && HS_IOV_IEQ(last, "chunked"))
                chunked_before_last = true;
            if (!HS_IOV_IEQ(name, "chunked"))
                unknown = true;
            last = name;
            n++;
        }
        if (n == 0)
            FAIL(EMPTY_TRANSFER_ENCODING, "Transfer-Encoding is empty");
        /* RFC 9112 §6.3 (4): chunked must be the final coding, else the length is unknowable. */
        if (!HS_IOV_IEQ(last, "chunked"))
            FAIL(CHUNKED_NOT_FINAL, "chunked is not the final transfer coding");
        /* RFC 9112 §7: chunked must not be applied more than once. */
        if (chunked_before_last)
            FAIL(CHUNKED_TWICE, "chunked is applied more than once");
        /* RFC 9112 §6.1: a coding we do not understand → 501. */
        if (unknown)
            FAIL(UNKNOWN_TRANSFER_CODING,
                 "a transfer coding other than chunked was requested; only chunked is implemented");
        meta->chunked = true;
    }

    /* RFC 9112 §9.3: persistence. */
    if (req->minor_version == 1)
        meta->keep_alive = !conn_close;
    else
        meta->keep_alive = conn_keepalive && !conn_close;
    meta->upgrade = conn_upgrade && meta->h[HS_HDR_UPGRADE] != NULL;

    /* RFC 9110 §10.1.1: only 100-continue is defined; others → 417. A server MUST ignore a
     * 100-continue expectation in an HTTP/1.0 request. */
    for (size_t i = 0; i < req->num_headers; i++) {
        const hs_header_t *h = &req->headers[i];
        if (h->token != HS_HDR_EXPECT)
            continue;
        size_t pos = 0;
        hs_iovec_t e;
        bool any = false;
        while ((e = hs_list_next(h->value, &pos)).base) {
            any = true;
            if (!HS_IOV_IEQ(e, "100-continue")) {
                FAIL(UNSUPPORTED_EXPECT, "the only expectation this server can meet is 100-continue");
            }
            if (req->minor_version == 1)
                meta->expect_continue = true;
        }
        if (!any)
            FAIL(UNSUPPORTED_EXPECT, "the Expect field is empty");
    }
    return HS_OK;
}

/* ==== Responses (the gateway's client) ==========================================================
 * RFC 9112 §6.3 in the order it gives, for a response to `method`. Where the RFC lets a
 * recipient pick ("ought to be handled as an error", "MAY"), we pick the error: a gateway that
 * guesses a length can be made to splice two responses (response splitting). */
#undef FAIL
#define FAIL(cause, why)                                                                                               \
    do {                                                                                                               \
        res->error = (cause);                                                                                          \
        res->error_detail = (why);                                                                                     \
        return HS_ERROR;                                                                                               \
    } while (0)

/* Keep-Alive: timeout=5, max=100 (RFC 2068 §19.7.1.1, still what servers send). A malformed
 * parameter is ignored: the field is advisory and never decides framing. */
static void parse_keep_alive(hs_iovec_t v, hs_res_meta_t *meta)
{
    size_t pos = 0;
    hs_iovec_t el;
    while ((el = hs_list_next(v, &pos)).base) {
        const char *eq = memchr(el.base, '=', el.len);
        if (!eq)
            continue;
        hs_iovec_t name = hs_iov(el.base, (size_t)(eq - el.base));
        hs_iovec_t val = hs_iov(eq + 1, el.len - name.len - 1);
        uint64_t n;
        if (!hs_parse_u64(val, &n) || n > INT32_MAX)
            continue;
        if (HS_IOV_IEQ(name, "timeout"))
            meta->keep_alive_timeout = (int64_t)n;
        else if (HS_IOV_IEQ(name, "max"))
            meta->keep_alive_max = (int64_t)n;
    }
}

int hs_parse_response_semantics(hs_parsed_res_t *res, hs_method_t method, hs_res_meta_t *meta)
{
    memset(meta, 0, sizeof(*meta));
    meta->content_length = -1;
    meta->keep_alive_timeout = -1;
    meta->keep_alive_max = -1;
    const hs_header_t *te = NULL;
    int64_t cl = -1;
    bool conn_close = false, conn_keepalive = false;

    for (size_t i = 0; i < res->num_headers; i++) {
        const hs_header_t *h = &res->headers[i];
        if (h->token && !meta->h[h->token])
            meta->h[h->token] = h;
        switch (h->token) {
        case HS_HDR_CONTENT_LENGTH: {
            /* RFC 9112 §6.3 (5): an invalid Content-Length is unrecoverable; RFC 9110 §8.6 lets a
             * recipient merge identical values ("5, 5" or two fields), but the second copy is
             * exactly what a splitting attack relies on, so we merge nothing. */
            int64_t n;
            if (hs_parse_content_length(h->value, &n) != HS_OK)
                FAIL(HS_UP_BAD_FRAMING, "the response's Content-Length is not a single non-negative decimal number");
            if (cl >= 0)
                FAIL(HS_UP_BAD_FRAMING, n == cl ? "the response has two Content-Length fields"
                                                : "the response has two Content-Length fields that differ");
            cl = n;
            break;
        }
        case HS_HDR_TRANSFER_ENCODING:
            if (te)
                FAIL(HS_UP_BAD_FRAMING, "the response has more than one Transfer-Encoding field");
            te = h;
            break;
        case HS_HDR_CONNECTION: {
            size_t pos = 0;
            hs_iovec_t opt;
            while ((opt = hs_list_next(h->value, &pos)).base) {
                if (HS_IOV_IEQ(opt, "close"))
                    conn_close = true;
                else if (HS_IOV_IEQ(opt, "keep-alive"))
                    conn_keepalive = true;
            }
            break;
        }
        case HS_HDR_OTHER:
            if (h->name.len == 10 && HS_IOV_IEQ(h->name, "keep-alive"))
                parse_keep_alive(h->value, meta);
            break;
        default: break;
        }
    }
    meta->content_length = cl;

    bool chunked = false;
    if (te) {
        /* RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing */
        if (res->minor_version == 0)
            FAIL(HS_UP_BAD_FRAMING, "Transfer-Encoding in an HTTP/1.0 response");
        /* RFC 9112 §6.1, §6.3 (3): both fields may be an attempt at response splitting */
        if (cl >= 0)
            FAIL(HS_UP_BAD_FRAMING, "the response has both Content-Length and Transfer-Encoding");
        size_t pos = 0, n = 0, nchunked = 0;
        hs_iovec_t coding, last = HS_IOV_NULL;
        while ((coding = hs_list_next(te->value, &pos)).base) {
            size_t k = 0;
            while (k < coding.len && coding.base[k] != ';' && coding.base[k] != ' ' && coding.base[k] != '\t')
                k++;
            hs_iovec_t name = hs_iov(coding.base, k);
            if (HS_IOV_IEQ(name, "chunked"))
                nchunked++;
            else
                meta->transfer_coded = true;
            last = name;
            n++;
        }
        /* RFC 9112 §7: a sender must not apply chunked more than once */
        if (nchunked > 1)
            FAIL(HS_UP_BAD_FRAMING, "the response applies chunked more than once");
        if (n == 0)
            FAIL(HS_UP_BAD_FRAMING, "the response's Transfer-Encoding is empty");
        chunked = HS_IOV_IEQ(last, "chunked");
    }

    /* RFC 9110 §15.2.2: a 101 names the protocol(s) switched to */
    if (res->status == 101 && !meta->h[HS_HDR_UPGRADE])
        FAIL(HS_UP_UNEXPECTED_UPGRADE, "a 101 response without an Upgrade field");

    /* RFC 9112 §6.3, in order */
    if (res->status == 101) {
        meta->framing = HS_FRAMING_TUNNEL;
        meta->upgrade = true;
    } else if (method == HS_METHOD_HEAD || res->status < 200 || res->status == 204 || res->status == 304) {
        meta->framing = HS_FRAMING_NONE; /* (1): whatever the fields say */
    } else if (method == HS_METHOD_CONNECT && res->status < 300) {
        meta->framing = HS_FRAMING_TUNNEL; /* (2) */
    } else if (te) {
        /* (4): chunked last → chunked; any other final coding → read until the close */
        meta->framing = chunked ? HS_FRAMING_CHUNKED : HS_FRAMING_CLOSE;
    } else if (cl >= 0) {
        meta->framing = HS_FRAMING_LENGTH; /* (6) */
    } else {
        meta->framing = HS_FRAMING_CLOSE; /* (8) */
    }

    /* RFC 9112 §9.3: persistence; a close-delimited body or a tunnel uses the connection up */
    if (res->minor_version == 1)
        meta->keep_alive = !conn_close;
    else
        meta->keep_alive = conn_keepalive && !conn_close;
    if (meta->framing == HS_FRAMING_CLOSE || meta->framing == HS_FRAMING_TUNNEL)
        meta->keep_alive = false;
    return HS_OK;
}
