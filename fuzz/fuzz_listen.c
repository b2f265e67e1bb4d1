/* statusd fuzz target: the front door of a TLS listener — the listen value parser (the flag form
 * and the text a YAML mapping item becomes, src/config/listen.c) and the first-bytes detector that
 * tells a TLS ClientHello from plain HTTP (hs_tls_sniff, src/event/tls.c).
 *
 * Checks: parsing reads nothing past the text's NUL (an exact-size copy) and writes nothing past
 * the store it is given (exactly strlen + 1 bytes, also heap-exact); an accepted value has an
 * address of a known family, strings inside the store, TLS options only with TLS, well-formed
 * choices; the detector reads no byte past `len`, decides TLS from byte 0x16 alone, and never
 * answers "undecided" once it has HS_TLS_SNIFF_MAX bytes; answering "plain HTTP" means a token
 * and a space, and every prefix of the input that it decided on gets the same answer. */
#include "hs/config.h"
#include "hs/tls.h"
#include "fuzz_util.h"

#include <netinet/in.h>

static bool inside(const char *p, const char *store, size_t n)
{
    return !p || (p >= store && p + strlen(p) < store + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strdup(data, size);
    size_t n = strlen(text) + 1;
    char *store = malloc(n); /* exactly what the contract asks for: ASan sees a byte more */
    if (!store)
        abort();
    hs_listen_t l;
    char err[512];
    if (hs_listen_parse(text, &l, store, n, err, sizeof(err)) == HS_OK) {
        FUZZ_CHECK(l.addr.ss_family == AF_INET || l.addr.ss_family == AF_INET6, "family %d", l.addr.ss_family);
        FUZZ_CHECK(l.addrlen ==
                       (l.addr.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
                   "addrlen %u", (unsigned)l.addrlen);
        FUZZ_CHECK(inside(l.cert, store, n) && inside(l.key, store, n) && inside(l.ocsp, store, n) &&
                       inside(l.client_ca, store, n) && inside(l.client_verify, store, n),
                   "a string outside the store");
        FUZZ_CHECK(l.tls || (!l.cert && !l.key && !l.ocsp && !l.client_ca && !l.client_verify && l.early_data < 0 &&
                             l.plain_http == HS_PLAIN_HTTP_DEFAULT),
                   "TLS options on a plain listener: '%s'", text);
        FUZZ_CHECK(!l.client_verify || hs_listen_verify_word(l.client_verify) >= 0, "verify '%s'", l.client_verify);
        FUZZ_CHECK(l.plain_http <= HS_PLAIN_HTTP_REDIRECT && l.early_data >= -1 && l.early_data <= 1, "choices");
    } else {
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
    }
    free(store);
    free(text);

    char *raw = fuzz_dup(data, size);
    int kind = hs_tls_sniff(raw, size);
    FUZZ_CHECK(kind >= HS_TLS_SNIFF_AGAIN && kind <= HS_TLS_SNIFF_OTHER, "kind %d", kind);
    if (size > 0 && data[0] == 0x16)
        FUZZ_CHECK(kind == HS_TLS_SNIFF_TLS, "0x16 is TLS");
    if (size >= HS_TLS_SNIFF_MAX)
        FUZZ_CHECK(kind != HS_TLS_SNIFF_AGAIN, "undecided after %d bytes", HS_TLS_SNIFF_MAX);
    if (kind == HS_TLS_SNIFF_HTTP)
        FUZZ_CHECK(memchr(raw, ' ', size) != NULL && raw[0] != ' ', "HTTP without a method and a space");
    for (size_t k = 1; k <= size && k <= HS_TLS_SNIFF_MAX; k++) {
        int pk = hs_tls_sniff(raw, k);
        if (pk != HS_TLS_SNIFF_AGAIN)
            FUZZ_CHECK(pk == kind, "prefix of %zu bytes: %d, whole: %d", k, pk, kind);
    }
    free(raw);
    return 0;
}
