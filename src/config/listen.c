/* statusd — the listen directive's values (include/hs/config.h: hs_listen_parse).
 *
 * One text form serves the flag (--listen "tls://0.0.0.0:443 cert=/etc/x.pem key=/etc/x.key"),
 * the variable and YAML; a YAML mapping item ({address: …, tls: {cert: …}}) reaches here as the
 * same text with dotted names (yaml.c flattens it), so every form is checked by this one parser
 * and a mistake is reported with the line of the item. The parser allocates nothing: decoded
 * values go into the caller's store, which is never shorter than the text. */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int hs_listen_verify_word(const char *w)
{
    if (!strcmp(w, "off"))
        return 0;
    if (!strcmp(w, "optional"))
        return 1;
    if (!strcmp(w, "required"))
        return 2;
    return -1;
}

int hs_listen_plain_http_word(const char *w)
{
    if (!strcmp(w, "497"))
        return HS_PLAIN_HTTP_497;
    if (!strcmp(w, "redirect") || !strcmp(w, "308"))
        return HS_PLAIN_HTTP_REDIRECT;
    return -1;
}

/* HOST:PORT, [IPv6]:PORT, PORT (all interfaces) → a socket address. */
static int parse_address(const char *spec, size_t n, hs_listen_t *out, char *err, size_t errlen)
{
    char host[64] = "0.0.0.0", port[8];
    const char *p = spec, *end = spec + n, *colon = NULL;
    for (const char *q = spec; q < end; q++)
        if (*q == ':')
            colon = q;
    if (n && spec[0] == '[') {
        const char *rb = memchr(spec, ']', n);
        if (!rb || rb + 1 >= end || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof(host)) {
            snprintf(err, errlen, "'%.*s': expected [IPv6]:PORT", (int)n, spec);
            return HS_ERROR;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(rb - spec - 1), spec + 1);
        p = rb + 2;
    } else if (colon) {
        if ((size_t)(colon - spec) >= sizeof(host)) {
            snprintf(err, errlen, "'%.*s': '%.*s' is not an IP address", (int)n, spec, (int)(colon - spec), spec);
            return HS_ERROR;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        p = colon + 1;
    }
    size_t plen = (size_t)(end - p);
    if (plen == 0 || plen >= sizeof(port) || strspn(p, "0123456789") < plen) {
        snprintf(err, errlen, "'%.*s': bad port", (int)n, spec);
        return HS_ERROR;
    }
    memcpy(port, p, plen);
    port[plen] = '\0';
    long pn = strtol(port, NULL, 10);
    if (pn > 65535) {
        snprintf(err, errlen, "'%.*s': bad port", (int)n, spec);
        return HS_ERROR;
    }
    memset(&out->addr, 0, sizeof(out->addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)pn);
        out->addrlen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)pn);
        out->addrlen = sizeof(*v6);
    } else if (!strcmp(host, "localhost")) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)pn);
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        out->addrlen = sizeof(*v4);
    } else {
        snprintf(err, errlen, "'%.*s': '%s' is not an IP address", (int)n, spec, host);
        return HS_ERROR;
    }
    return HS_OK;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Copy v[0..n) percent-decoded to *store (NUL-terminated): the copy, or NULL (bad escape). */
static const char *decode(const char *v, size_t n, char **store, char *store_end)
{
    char *o = *store, *start = o;
    for (size_t i = 0; i < n; i++) {
        if (o >= store_end)
            return NULL;
        if (v[i] == '%') {
            int h, l;
            if (i + 2 >= n) /* fewer than two characters follow */
                return NULL;
            if ((h = hexval(v[i + 1])) < 0 || (l = hexval(v[i + 2])) < 0 || (h == 0 && l == 0))
                return NULL;
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = v[i];
        }
    }
    if (o >= store_end)
        return NULL;
    *o++ = '\0';
    *store = o;
    return start;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int hs_listen_parse(const char *text, hs_listen_t *out, char *store, size_t storelen, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->early_data = -1;
    char *st = store, *st_end = store + storelen;
    const char *addr = NULL;
    size_t addr_len = 0;
    int tls_flag = -1; /* tls=true|false, or implied by tls.* options */
    bool options = false;
    for (const char *p = text; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *tok = p;
        while (*p && !is_space(*p))
            p++;
        size_t tlen = (size_t)(p - tok);
        const char *eq = memchr(tok, '=', tlen);
        if (!eq) { /* the address */
            if (addr) {
                snprintf(err, errlen, "listen '%s': two addresses ('%.*s' and '%.*s'); one listen value per address",
                         text, (int)addr_len, addr, (int)tlen, tok);
                return HS_ERROR;
            }
            addr = tok;
            addr_len = tlen;
            continue;
        }
        const char *name = tok;
        size_t nlen = (size_t)(eq - tok);
        const char *val = eq + 1;
        size_t vlen = tlen - nlen - 1;
        if (nlen > 4 && !strncmp(name, "tls.", 4)) {
            name += 4;
            nlen -= 4;
            if (tls_flag < 0)
                tls_flag = 1;
        }
#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))
        if (IS("address")) {
            if (addr) {
                snprintf(err, errlen, "listen '%s': the address is given twice", text);
                return HS_ERROR;
            }
            addr = val;
            addr_len = vlen;
            continue;
        }
        if (vlen == 0) {
            snprintf(err, errlen, "listen '%s': '%.*s' needs a value", text, (int)(eq - tok), tok);
            return HS_ERROR;
        }
        const char *v = decode(val, vlen, &st, st_end);
        if (!v) {
            snprintf(err, errlen, "listen '%s': a bad %%-escape in the value of '%.*s'", text, (int)nlen, name);
            return HS_ERROR;
        }
        if (name == tok && IS("tls")) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                snprintf(err, errlen, "listen '%s': tls expects true or false, got '%s'", text, v);
                return HS_ERROR;
            }
            tls_flag = v[0] == 't';
            continue;
        }
        options = true;
        if (IS("cert"))
            out->cert = v;
        else if (IS("key"))
            out->key = v;
        else if (IS("ocsp_response"))
            out->ocsp = v;
        else if (IS("client_certs.ca"))
            out->client_ca = v;
        else if (IS("client_certs.verify")) {
            if (hs_listen_verify_word(v) < 0) {
                snprintf(err, errlen, "listen '%s': client_certs.verify expects off, optional or required, got '%s'",
                         text, v);
                return HS_ERROR;
            }
            out->client_verify = v;
        } else if (IS("early_data")) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                snprintf(err, errlen, "listen '%s': early_data expects true or false, got '%s'", text, v);
                return HS_ERROR;
            }
            out->early_data = v[0] == 't';
        } else if (IS("plain_http")) {
            int w = hs_listen_plain_http_word(v);
            if (w < 0) {
                snprintf(err, errlen, "listen '%s': plain_http expects 497 or redirect, got '%s'", text, v);
                return HS_ERROR;
            }
            out->plain_http = (uint8_t)w;
        } else {
            snprintf(err, errlen,
                     "listen '%s': unknown option '%.*s' (cert, key, ocsp_response, client_certs.ca, "
                     "client_certs.verify, early_data, plain_http)",
                     text, (int)(eq - tok), tok);
            return HS_ERROR;
        }
#undef IS
    }
    if (!addr) {
        snprintf(err, errlen, "listen '%s': no address (ADDR:PORT, [IPv6]:PORT or PORT)", text);
        return HS_ERROR;
    }
    bool scheme_tls = false;
    if (addr_len > 6 && !strncasecmp(addr, "tls://", 6)) {
        scheme_tls = true;
        addr += 6;
        addr_len -= 6;
    } else if (addr_len > 7 && !strncasecmp(addr, "http://", 7)) {
        if (tls_flag == 1) {
            snprintf(err, errlen, "listen '%s': http:// with TLS options; use tls://", text);
            return HS_ERROR;
        }
        tls_flag = 0;
        addr += 7;
        addr_len -= 7;
    }
    if (scheme_tls && tls_flag == 0) {
        snprintf(err, errlen, "listen '%s': tls:// with tls=false", text);
        return HS_ERROR;
    }
    out->tls = scheme_tls || tls_flag == 1;
    if (options && !out->tls) {
        snprintf(err, errlen, "listen '%s': TLS options on a plain listener; write the address as tls://ADDR:PORT",
                 text);
        return HS_ERROR;
    }
    char msg[256];
    if (parse_address(addr, addr_len, out, msg, sizeof(msg)) != HS_OK) {
        snprintf(err, errlen, "listen %s", msg);
        return HS_ERROR;
    }
    return HS_OK;
}
