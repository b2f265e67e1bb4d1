/* statusd fuzz target: header-field tokenising (src/http/fields.c) — hs_list_next,
 * hs_element_value / hs_param_next, hs_qvalue, hs_element_weight, hs_unquote, hs_param_text.
 *
 * Checks (beyond no crash/over-read/leak; the value is an exact-size heap copy):
 *   lists       every element lies inside the value, is non-empty and OWS-trimmed, the cursor only
 *               moves forward and the walk ends at the end;
 *   parameters  the leading value and every name/value lie inside the element, a parameter is
 *               never empty (a name or an '=') and the cursor ends at the end;
 *   qvalue      -1 or 0..1000, and accepted exactly when the text matches the RFC 9110 §12.4.2
 *               grammar (checked by an independent reading); the value read back ("0.5" → 500);
 *   weight      -1 or 0..1000;
 *   unquote     a result is never longer than the input minus its quotes; quoting any text
 *               (escaping '"' and '\') and unquoting it gives the text back.
 */
#include "hs/fields.h"
#include "fuzz_util.h"

static bool inside(hs_iovec_t part, const char *v, size_t n)
{
    return part.base >= v && part.base + part.len <= v + n;
}

/* The qvalue grammar, read independently: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"]. */
static int reference_q(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    if (n == 1)
        return s[0] == '1' ? 1000 : 0;
    if (s[1] != '.' || n > 5)
        return -1;
    int q = 0;
    for (size_t i = 2; i < 5; i++) {
        int d = 0;
        if (i < n) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            d = s[i] - '0';
        }
        q = q * 10 + d;
    }
    if (s[0] == '1')
        return q == 0 ? 1000 : -1;
    return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);
    hs_iovec_t value = hs_iov(v, size);

    size_t pos = 0, prev = 0, count = 0;
    hs_iovec_t el;
    while ((el = hs_list_next(value, &pos)).base) {
        FUZZ_CHECK(pos >= prev && pos <= size, "cursor %zu after %zu (size %zu)", pos, prev, size);
        FUZZ_CHECK(inside(el, v, size) && el.len > 0, "element outside the value or empty");
        char a = el.base[0], z = el.base[el.len - 1];
        FUZZ_CHECK(a != ' ' && a != '\t' && a != ',' && z != ' ' && z != '\t', "untrimmed element");
        FUZZ_CHECK(++count <= size, "more elements than bytes");
        prev = pos;

        size_t ppos;
        hs_iovec_t ev = hs_element_value(el, &ppos);
        FUZZ_CHECK(ev.len == 0 || inside(ev, el.base, el.len), "element value outside the element");
        FUZZ_CHECK(ppos <= el.len, "parameter cursor %zu past %zu", ppos, el.len);
        hs_param_t p;
        size_t np = 0, last = ppos;
        while (hs_param_next(el, &ppos, &p)) {
            FUZZ_CHECK(ppos > last && ppos <= el.len, "parameter cursor did not move forward");
            FUZZ_CHECK(inside(p.name, el.base, el.len) && (p.name.len > 0 || p.value.base), "parameter name");
            FUZZ_CHECK(!p.value.base || (p.value.len == 0 || inside(p.value, el.base, el.len)), "parameter value");
            FUZZ_CHECK(++np <= el.len, "more parameters than bytes");
            last = ppos;
        }
        FUZZ_CHECK(ppos == el.len, "parameters ended at %zu of %zu", ppos, el.len);
        hs_iovec_t wv;
        int w = hs_element_weight(el, &wv);
        FUZZ_CHECK(w >= -1 && w <= 1000, "weight %d", w);
    }
    FUZZ_CHECK(pos >= size, "walk ended at %zu of %zu", pos, size);

    int q = hs_qvalue(value), want = reference_q(v, size);
    FUZZ_CHECK(q == want, "qvalue of '%.*s' is %d, the grammar says %d", (int)size, v, q, want);

    char *out = malloc(size ? size : 1);
    ssize_t n = hs_unquote(value, out);
    FUZZ_CHECK(n == -1 || (size >= 2 && (size_t)n <= size - 2), "unquoted %zd bytes from %zu", n, size);
    free(out);

    /* quote the input as text (controls other than HTAB cannot be quoted: drop them), unquote */
    char *text = malloc(size ? size : 1), *quoted = malloc(2 * size + 2), *back = malloc(2 * size + 2);
    size_t tl = 0, ql = 0;
    quoted[ql++] = '"';
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            continue;
        text[tl++] = (char)c;
        if (c == '"' || c == '\\')
            quoted[ql++] = '\\';
        quoted[ql++] = (char)c;
    }
    quoted[ql++] = '"';
    ssize_t bl = hs_unquote(hs_iov(quoted, ql), back);
    FUZZ_CHECK(bl == (ssize_t)tl && memcmp(back, text, tl) == 0, "quote/unquote round trip");
    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t pt = hs_param_text(&a, hs_iov(quoted, ql));
    FUZZ_CHECK(pt.base && pt.len == tl && pt.base[tl] == '\0', "param_text of a quoted-string");
    hs_arena_reset(&a);
    free(text);
    free(quoted);
    free(back);
    free(v);
    return 0;
}
