/* statusd fuzz target: hs_negotiate_type (Accept with q-values, RFC 9110 §12.5.1),
 * hs_parse_content_length (RFC 9110 §8.6) and hs_header_token. (The list and parameter
 * tokenisers under them are fuzzed by fuzz_fields.)
 *
 * Checks: the negotiated index is -1 or a valid index, an absent Accept
 * picks the first type, and the choice does not depend on the order of unrelated types beyond
 * the documented tie rule (checked for the single-type case: a lone type is picked exactly when it
 * is acceptable among the others); Content-Length accepts exactly 1*DIGIT.
 */
#include "hs/http.h"
#include "fuzz_util.h"

static const char *const types[] = {"text/plain", "application/json", "text/html", "image/png", "application/xml"};
#define NTYPES (sizeof(types) / sizeof(types[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);
    hs_iovec_t value = hs_iov(v, size);

    /* elements of the list (hs_list_next itself is checked by fuzz_fields) */
    size_t pos = 0, count = 0;
    while (hs_list_next(value, &pos).base)
        count++;

    /* hs_negotiate_type */
    int pick = hs_negotiate_type(value, types, NTYPES);
    FUZZ_CHECK(pick >= -1 && pick < (int)NTYPES, "pick %d", pick);
    FUZZ_CHECK(hs_negotiate_type(HS_IOV_NULL, types, NTYPES) == 0, "absent Accept must pick the first type");
    if (pick >= 0) {
        /* the winner alone is still acceptable */
        int alone = hs_negotiate_type(value, &types[pick], 1);
        FUZZ_CHECK(alone == 0, "type %s won among all but is not acceptable alone", types[pick]);
    }
    for (size_t t = 0; t < NTYPES; t++) {
        int one = hs_negotiate_type(value, &types[t], 1);
        FUZZ_CHECK(one == 0 || one == -1, "single-type pick %d", one);
        if (pick < 0)
            FUZZ_CHECK(one == -1 || count == 0, "%s acceptable alone but nothing was picked", types[t]);
    }

    /* hs_parse_content_length */
    int64_t cl = -7;
    int r = hs_parse_content_length(value, &cl);
    bool digits = size > 0;
    for (size_t i = 0; i < size; i++)
        if (v[i] < '0' || v[i] > '9')
            digits = false;
    if (r == HS_OK) {
        FUZZ_CHECK(digits, "non-digit Content-Length accepted");
        FUZZ_CHECK(cl >= 0, "negative Content-Length %lld", (long long)cl);
    } else {
        FUZZ_CHECK(!digits || size > 18, "digits-only Content-Length of %zu bytes refused", size);
    }

    /* hs_header_token: case-insensitive and stable */
    int tok = hs_header_token(v, size);
    FUZZ_CHECK(tok >= 0 && tok < HS_HDR__COUNT, "token %d", tok);
    if (tok) {
        char *up = fuzz_dup(data, size);
        for (size_t i = 0; i < size; i++)
            up[i] = (char)(up[i] >= 'a' && up[i] <= 'z' ? up[i] - 32 : up[i]);
        FUZZ_CHECK(hs_header_token(up, size) == tok, "token depends on case");
        free(up);
    }
    free(v);
    return 0;
}
