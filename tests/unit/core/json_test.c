/* Unit tests: JSON (src/core/json.c) — string escaping (RFC 8259 §7), the writer (nesting,
 * automatic commas, numbers, literals) and the validator. */
#define _GNU_SOURCE
#include "hs/json.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void json(const char *in, size_t n, const char *want, const char *name)
{
    hs_buf_t b = {0};
    hs_json_str(&b, in, n);
    bool good = b.len == strlen(want) && memcmp(b.base, want, b.len) == 0;
    if (!ok(good, "json: %s", name))
        printf("#   got [%.*s] want [%s]\n", (int)b.len, b.base, want);
    hs_buf_free(&b);
}

static void test_json(void)
{
    json("", 0, "\"\"", "empty");
    json("abc", 3, "\"abc\"", "plain");
    json("a\"b", 3, "\"a\\\"b\"", "quote");
    json("a\\b", 3, "\"a\\\\b\"", "backslash");
    json("\n\r\t", 3, "\"\\n\\r\\t\"", "newline, CR, tab");
    json("\x01\x1f", 2, "\"\\u0001\\u001f\"", "control bytes");
    json("\x7f", 1, "\"\\u007f\"", "DEL");
    json("a\0b", 3, "\"a\\u0000b\"", "NUL inside (length-carrying)");
    json("caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"", "UTF-8 passes through");
    json("\"\"\\\\", 4, "\"\\\"\\\"\\\\\\\\\"", "consecutive escapes");
    json("</script>", 9, "\"</script>\"", "slash not escaped");
    json("x\by\f", 4, "\"x\\u0008y\\u000c\"", "backspace and form feed");
}

static void same(hs_buf_t *b, const char *want, const char *name)
{
    bool good = b->len == strlen(want) && memcmp(b->base, want, b->len) == 0;
    if (!ok(good, "writer: %s", name))
        printf("#   got [%.*s] want [%s]\n", (int)b->len, b->base, want);
    ok(hs_json_valid(b->base, b->len), "writer output is valid JSON: %s", name);
    b->len = 0;
}

static void test_writer(void)
{
    hs_buf_t b = {0};
    hs_json_t j;

    hs_json_init(&j, &b, 0);
    hs_json_object(&j);
    hs_json_end(&j);
    same(&b, "{}", "empty object");

    hs_json_init(&j, &b, 0);
    hs_json_array(&j);
    hs_json_end(&j);
    same(&b, "[]", "empty array");

    hs_json_init(&j, &b, 0);
    hs_json_object(&j);
    HS_JSON_KEY(&j, "status");
    hs_json_int(&j, 404);
    HS_JSON_KEY(&j, "reason");
    hs_json_cstr(&j, "Not \"Found\"");
    HS_JSON_KEY(&j, "tags");
    hs_json_array(&j);
    hs_json_cstr(&j, "a");
    hs_json_bool(&j, true);
    hs_json_bool(&j, false);
    hs_json_null(&j);
    hs_json_array(&j);
    hs_json_end(&j);
    hs_json_object(&j);
    HS_JSON_KEY(&j, "x");
    hs_json_uint(&j, UINT64_MAX);
    hs_json_end(&j);
    hs_json_end(&j);
    HS_JSON_KEY(&j, "min");
    hs_json_int(&j, INT64_MIN);
    HS_JSON_KEY(&j, "none");
    hs_json_cstr(&j, NULL);
    hs_json_end(&j);
    same(&b,
         "{\"status\":404,\"reason\":\"Not \\\"Found\\\"\",\"tags\":[\"a\",true,false,null,[],"
         "{\"x\":18446744073709551615}],\"min\":-9223372036854775808,\"none\":null}",
         "nesting and commas");

    hs_json_init(&j, &b, HS_JSON_SPACED);
    hs_json_object(&j);
    HS_JSON_KEY(&j, "a");
    hs_json_array(&j);
    hs_json_int(&j, 1);
    hs_json_int(&j, -2);
    hs_json_end(&j);
    HS_JSON_KEY(&j, "b\n");
    hs_json_raw(&j, "{\"c\": 3}", 8);
    hs_json_end(&j);
    same(&b, "{\"a\": [1, -2], \"b\\n\": {\"c\": 3}}", "spaced style, raw value, escaped key");

    hs_json_init(&j, &b, 0);
    hs_json_array(&j);
    hs_json_double(&j, 0.1);
    hs_json_double(&j, 1.5);
    hs_json_double(&j, -0.25);
    hs_json_double(&j, 1e300);
    hs_json_double(&j, NAN);
    hs_json_double(&j, INFINITY);
    hs_json_double(&j, 3.0);
    hs_json_end(&j);
    same(&b, "[0.1,1.5,-0.25,1e+300,null,null,3]", "doubles: shortest form, no NaN/Infinity");

    hs_json_init(&j, &b, 0);
    for (int i = 0; i < HS_JSON_MAX_DEPTH; i++)
        hs_json_array(&j);
    for (int i = 0; i < HS_JSON_MAX_DEPTH; i++)
        hs_json_end(&j);
    ok(b.len == 2 * HS_JSON_MAX_DEPTH && b.base[0] == '[' && b.base[b.len - 1] == ']', "writer: maximum depth");
    ok(hs_json_valid(b.base, b.len), "validator accepts the maximum depth");
    b.len = 0;

    hs_json_init(&j, &b, 0);
    hs_json_string(&j, "caf\xc3\xa9\x01", 6);
    same(&b, "\"caf\xc3\xa9\\u0001\"", "top-level string");
    hs_buf_free(&b);
}

static void test_valid(void)
{
    static const char *const good[] = {
        "0",
        "-0",
        "1.5",
        "-1.5e10",
        "1E+2",
        "1e-2",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\u00e9\\n\\/\"",
        "[]",
        "{}",
        " [1, 2 ,3] ",
        "{\"a\":{\"b\":[null]}}",
        "\"caf\xc3\xa9\"",
        "\t\r\n1\n",
    };
    static const char *const bad[] = {
        "",          " ",        "01",           "1.",   ".5",    "+1",   "1e",
        "--1",       "tru",      "nul",          "True", "\"",    "\"a",  "\"\\x\"",
        "\"\\u12\"", "\"\x01\"", "\"\xc0\xaf\"", "[",    "[1,]",  "[,1]", "{\"a\"}",
        "{\"a\":}",  "{a:1}",    "{\"a\":1,}",   "1 2",  "[1] x", "NaN",  "Infinity",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(good); i++)
        ok(hs_json_valid(good[i], strlen(good[i])), "valid JSON: %s", good[i]);
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++)
        ok(!hs_json_valid(bad[i], strlen(bad[i])), "invalid JSON refused: %s", bad[i]);
    ok(!hs_json_valid(NULL, 0), "NULL refused");
    char deep[2 * (HS_JSON_MAX_DEPTH + 1)];
    for (int i = 0; i <= HS_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * (HS_JSON_MAX_DEPTH + 1) - 1 - i] = ']';
    }
    ok(!hs_json_valid(deep, sizeof(deep)), "nesting deeper than HS_JSON_MAX_DEPTH refused");
    ok(!hs_json_valid("\"a\0b\"", 5), "raw NUL inside a string refused");
}

int main(void)
{
    test_json();
    test_writer();
    test_valid();
    return tap_done();
}
