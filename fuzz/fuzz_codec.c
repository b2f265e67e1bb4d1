/* statusd fuzz target: the byte codecs (src/core/codec.c) and the JSON validator and escaper
 * (src/core/json.c), on decoding paths that take client bytes.
 *
 * Checks (beyond no crash/over-read/leak; inputs are exact-size heap copies):
 *   base64   a decode, in either alphabet, re-encodes to the input with its padding completed
 *            (decoding is canonical); every input's encoding decodes back to it;
 *   percent  decoding never lengthens; a strict decode of an encoding gives the input back;
 *   hex      a decode re-encodes to the input in lowercase;
 *   UTF-8    valid input stays valid in every prefix that ends on a character boundary;
 *   JSON     hs_json_str of any bytes that are valid UTF-8 is a valid JSON value.
 */
#include "hs/codec.h"
#include "hs/json.h"
#include "fuzz_util.h"

static void check_base64(const char *v, size_t n, unsigned flags)
{
    unsigned char *out = malloc(HS_BASE64_DECODED_MAX(n));
    size_t ol = 0;
    if (hs_base64_decode(out, &ol, v, n, flags)) {
        char *again = malloc(HS_BASE64_LEN(ol) + 1);
        size_t al = hs_base64_encode(again, out, ol, flags & ~(unsigned)HS_B64_NOPAD);
        size_t pad = n % 4 ? 4 - n % 4 : 0;
        FUZZ_CHECK(al == n + pad && memcmp(again, v, n) == 0, "base64 decode is not canonical");
        for (size_t i = n; i < al; i++)
            FUZZ_CHECK(again[i] == '=', "completed padding");
        free(again);
    }
    free(out);
    char *enc = malloc(HS_BASE64_LEN(n) + 1);
    size_t el = hs_base64_encode(enc, v, n, flags);
    unsigned char *back = malloc(HS_BASE64_DECODED_MAX(el) + 1);
    size_t bl = 0;
    FUZZ_CHECK(hs_base64_decode(back, &bl, enc, el, flags) && bl == n && memcmp(back, v, n) == 0, "base64 round trip");
    free(back);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);
    check_base64(v, size, 0);
    check_base64(v, size, HS_B64_URL);
    check_base64(v, size, HS_B64_URL | HS_B64_NOPAD);

    char *dec = malloc(size ? size : 1);
    ssize_t dl = hs_pct_decode(dec, v, size, HS_PCT_PLUS);
    FUZZ_CHECK(dl >= 0 && (size_t)dl <= size, "pct decode length %zd of %zu", dl, size);
    char *enc = malloc(3 * size + 1);
    size_t el = hs_pct_encode(enc, v, size, 0);
    char *back = malloc(el + 1);
    ssize_t bl = hs_pct_decode(back, enc, el, HS_PCT_STRICT);
    FUZZ_CHECK(bl == (ssize_t)size && memcmp(back, v, size) == 0, "percent round trip");
    free(back);
    free(enc);
    free(dec);

    unsigned char *bin = malloc(size / 2 + 1);
    if (hs_hex_decode(bin, v, size)) {
        char *hex = malloc(size + 1);
        hs_hex_encode(hex, bin, size / 2);
        for (size_t i = 0; i < size; i++)
            FUZZ_CHECK(hex[i] == (char)(v[i] | ((v[i] >= 'A' && v[i] <= 'F') ? 0x20 : 0)), "hex round trip");
        free(hex);
    }
    free(bin);

    if (hs_utf8_valid(v, size)) {
        for (size_t i = 0; i <= size; i++)
            if (i == size || ((unsigned char)v[i] & 0xc0) != 0x80)
                FUZZ_CHECK(hs_utf8_valid(v, i), "a valid prefix of %zu bytes refused", i);
        hs_buf_t b = {0};
        hs_json_str(&b, v, size);
        FUZZ_CHECK(hs_json_valid(b.base, b.len), "hs_json_str gave invalid JSON");
        hs_buf_free(&b);
    }
    (void)hs_json_valid(v, size);
    free(v);
    return 0;
}
