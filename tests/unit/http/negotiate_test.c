/* Unit tests: content negotiation (src/http/negotiate.c, RFC 9110 §12.5.1). */
#define _GNU_SOURCE
#include "hs/negotiate.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

static hs_iovec_t S(const char *s)
{
    return hs_iov(s, strlen(s));
}

static void test_negotiate(void)
{
    static const char *const types[] = {"text/html", "application/json", "text/plain"};
    static const struct {
        const char *accept;
        int want;
        const char *why;
    } t[] = {
        {"", 0, "empty Accept is treated as absent"},
        {"application/json", 1, "exact match"},
        {"text/plain", 2, "exact match, last"},
        {"text/html, application/json", 0, "tie -> earlier in types"},
        {"application/json, text/html", 0, "tie -> earlier in types, not in Accept"},
        {"text/html;q=0.5, application/json", 1, "higher q wins"},
        {"*/*", 0, "*/* accepts the first"},
        {"text/*", 0, "text/* -> text/html"},
        {"text/*;q=0.5, text/plain", 2, "exact text/plain beats text/* at 0.5"},
        {"text/html;q=0, */*", 1, "q=0 excludes html; */* takes the next"},
        {"image/png", -1, "nothing acceptable"},
        {"text/html;q=0", -1, "only html, refused"},
        {"*/*;q=0", -1, "everything refused"},
        {"*/*;q=0.1, application/json;q=0.2", 1, "q-values compared across ranges"},
        {"text/*;q=0.9, text/html;q=0.1, */*;q=0.5", 2, "most specific range decides each type's q"},
        {"*/*;q=0.8, text/html;q=0", 1, "specific q=0 beats wildcard"},
        {"TEXT/HTML", 0, "media types are case-insensitive"},
        {"Application/JSON", 1, "case-insensitive, mixed"},
        {"application/json;q=1.000", 1, "q=1.000"},
        {"text/html;q=0.001, application/json;q=0.002", 1, "three-decimal q"},
        {"text/html;Q=0.5, application/json", 1, "Q= is case-insensitive"},
        {"text/html;level=1;q=0.8, application/json;q=0.9", 1, "other parameters ignored, q still read"},
        {"text/html ; q=0.5 , application/json ; q=0.6", 1, "whitespace around ; and ,"},
        {",, application/json ,", 1, "empty list elements skipped"},
        {"application/*", 1, "application/* -> json"},
        {"image/*, text/plain;q=0.3", 2, "non-matching wildcard ignored"},
        {"text/htm", -1, "prefix of a type is not a match"},
        {"text/html2", -1, "type with a suffix is not a match"},
        {"text", -1, "bare type is not a match"},
        {"te*/*", -1, "partial wildcard is not a match"},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++) {
        int r = hs_negotiate_type(S(t[i].accept), types, 3);
        if (!ok(r == t[i].want, "negotiate \"%s\" -> %d (%s)", t[i].accept, t[i].want, t[i].why))
            printf("#   got %d\n", r);
    }
    is_int(hs_negotiate_type(HS_IOV_NULL, types, 3), 0, "absent Accept -> 0");
    is_int(hs_negotiate_type(S("text/html"), types, 0), -1, "no types -> -1");
    static const char *const one[] = {"application/json"};
    is_int(hs_negotiate_type(S("text/html, */*;q=0.1"), one, 1), 0, "single type via wildcard");
}

int main(void)
{
    test_negotiate();
    return tap_done();
}
