/* statusd fuzz target: access log formats (src/http/logfmt.c) — the template compiler, and the
 * three renderers fed with values a client controls.
 *
 * Input: pieces separated by "\xff\xfe": [format] [request line] [target] [Host] [User-Agent]
 * [a module field's value]. The format is "combined", "json" or a template; a piece that is
 * absent is an absent value.
 *
 * Checks (beyond no crash/over-read/leak):
 *   compile   a refusal has a message; a format with a CR or LF never compiles;
 *   render    the line ends in its only LF and holds no CR, no NUL and no other control byte
 *             but TAB (a template's own literal text aside, which the compiler already
 *             refused to hold a line break); a json line is valid UTF-8, starts with '{' and
 *             ends with "}\n", and every control byte in it is escaped; rendering twice gives
 *             the same bytes.
 */
#define _GNU_SOURCE
#include "hs/logfmt.h"
#include "fuzz_util.h"

#include <netinet/in.h>

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if ((c >= 0x80 && c < 0xc2) || c > 0xf4 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p[6] = {0};
    size_t len[6] = {0}, np = 0, start = 0;
    for (size_t i = 0; i + 1 <= size && np < 6; i++) {
        if (i + 1 < size && data[i] == 0xff && data[i + 1] == 0xfe) {
            p[np] = data + start;
            len[np++] = i - start;
            start = i + 2;
            i++;
        } else if (i + 1 == size) {
            p[np] = data + start;
            len[np++] = size - start;
        }
    }
    if (np == 0)
        return 0;
    char *spec = fuzz_strdup(p[0], len[0]);
    char *v[6] = {0};
    for (size_t i = 1; i < np; i++)
        v[i] = fuzz_dup(p[i], len[i]);
    hs_arena_t arena;
    hs_arena_init(&arena);
    const hs_logfmt_t *f = NULL;
    char err[256] = "";
    int r = hs_logfmt_compile(&arena, spec, &f, err, sizeof(err));
    FUZZ_CHECK(r == HS_OK || err[0], "a refusal without a message: %s", spec);
    if (r == HS_OK && strlen(spec) == len[0])
        FUZZ_CHECK(!memchr(spec, '\n', len[0]) && !memchr(spec, '\r', len[0]), "a line break compiled: %s", spec);
    if (r == HS_OK) {
        hs_header_t hdrs[2] = {{.name = HS_IOV("Host"), .value = hs_iov(v[3], v[3] ? len[3] : 0)},
                               {.name = HS_IOV("User-Agent"), .value = hs_iov(v[4], v[4] ? len[4] : 0)}};
        hs_buf_t fields = {0};
        if (v[5])
            hs_logfields_add(&fields, "x", v[5], len[5]);
        struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        hs_logrec_t rec = {
            .peer = (struct sockaddr *)&peer,
            .when = 784111777,
            .time_local = "06/Nov/1994:08:49:37 +0000",
            .request = hs_iov(v[1], v[1] ? len[1] : 0),
            .method = HS_IOV("GET"),
            .target = hs_iov(v[2], v[2] ? len[2] : 0),
            .path = hs_iov(v[2], v[2] ? len[2] : 0),
            .minor_version = 1,
            .host = hdrs[0].value,
            .status = 400,
            .cause = "bad_version",
            .headers = hdrs,
            .num_headers = 2,
            .fields = hs_iov(fields.base, fields.len),
        };
        hs_buf_t a = {0}, b = {0};
        hs_logfmt_render(f, &rec, &a);
        hs_logfmt_render(f, &rec, &b);
        FUZZ_CHECK(a.len == b.len && memcmp(a.base, b.base, a.len) == 0, "two renderings differ");
        FUZZ_CHECK(a.len > 0 && a.base[a.len - 1] == '\n', "no final LF");
        for (size_t i = 0; i + 1 < a.len; i++) {
            unsigned char c = (unsigned char)a.base[i];
            FUZZ_CHECK(c != '\n' && c != '\r' && c != 0, "a control byte 0x%02x at %zu of the line", c, i);
            /* a template's literal text may hold a TAB or other controls the operator wrote */
            if (!strcmp(spec, "json") || !strcmp(spec, "combined"))
                FUZZ_CHECK(c >= 0x20 && c != 0x7f, "a control byte 0x%02x at %zu of a %s line", c, i, spec);
        }
        if (!strcmp(spec, "json")) {
            FUZZ_CHECK(valid_utf8((unsigned char *)a.base, a.len), "a json line that is not UTF-8");
            FUZZ_CHECK(a.base[0] == '{' && a.len >= 3 && a.base[a.len - 2] == '}', "not one object");
        }
        hs_buf_free(&a);
        hs_buf_free(&b);
        hs_buf_free(&fields);
    }
    hs_arena_reset(&arena);
    free(spec);
    for (size_t i = 1; i < np; i++)
        free(v[i]);
    return 0;
}
