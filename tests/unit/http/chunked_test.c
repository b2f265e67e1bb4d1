/* Unit tests for hs_chunked_decode (src/http/chunked.c), RFC 9112 §7.1.
 *
 * Every input handed to the decoder ends exactly at a PROT_NONE guard page, so any read past
 * the bytes it was given crashes the test. Inputs are decoded in one piece, byte by byte and in
 * random splits; the decoded data and the consumed count must be the same every way. */
#define _GNU_SOURCE
#include "hs/parse.h"
#include "lib/guard.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>


static void test_guard_armed(void)
{
    const char *g = guarded("abc", 3);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        volatile const char *v = g;
        _exit(v[3] == 0 ? 0 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0), "guard page: over-read crashes");
}

static const hs_chunked_limits_t deflim = {.max_body = 1 << 20, .max_ext = 1024, .max_trailer = 8192};

typedef struct {
    int ret;         /* HS_DONE, HS_AGAIN or HS_ERROR */
    int status;      /* on HS_ERROR */
    size_t consumed; /* input bytes used in total */
    char out[65536]; /* decoded data */
    size_t outlen;
} result_t;

/* Feed `in` to a fresh decoder in pieces of `step` bytes (0 = all at once; -1 = random sizes),
 * the way a connection would: unconsumed bytes stay at the front of the next buffer. */
static void feed(const char *in, size_t n, long step, const hs_chunked_limits_t *lim, result_t *r)
{
    hs_chunked_t d;
    memset(&d, 0, sizeof(d));
    memset(r, 0, sizeof(*r));
    r->ret = HS_AGAIN;
    char pend[65536];
    size_t plen = 0, fed = 0;
    while (r->ret == HS_AGAIN) {
        size_t k = step == 0 ? n - fed : step < 0 ? (size_t)(rand() % 7) + 1 : (size_t)step;
        if (k > n - fed)
            k = n - fed;
        if (k == 0 && fed == n && plen == 0)
            break; /* input exhausted: still HS_AGAIN */
        memcpy(pend + plen, in + fed, k);
        plen += k;
        fed += k;
        char *buf = guarded(pend, plen);
        size_t len = plen, consumed = 0;
        int status = 0;
        const char *detail = NULL;
        r->ret = hs_chunked_decode(&d, buf, &len, &consumed, lim, &status, &detail);
        if (len > consumed) {
            ok(0, "decoded bytes (%zu) never exceed consumed bytes (%zu)", len, consumed);
            r->ret = -99;
            return;
        }
        memcpy(r->out + r->outlen, buf, len);
        r->outlen += len;
        r->consumed += consumed;
        memmove(pend, pend + consumed, plen - consumed);
        plen -= consumed;
        if (r->ret == HS_ERROR) {
            r->status = status;
            if (!detail)
                ok(0, "error detail set");
        }
        if (r->ret == HS_AGAIN && fed == n && consumed == 0)
            break; /* no progress and nothing more to give */
    }
}

static void expect_done(const char *in, size_t n, const char *data, size_t datalen, size_t consumed,
                        const hs_chunked_limits_t *lim, const char *name)
{
    static const long steps[] = {0, 1, 2, 3, 5, -1, -1, -1};
    for (size_t i = 0; i < HS_ARRAY_SIZE(steps); i++) {
        result_t *r = malloc(sizeof(*r));
        feed(in, n, steps[i], lim, r);
        bool good =
            r->ret == HS_DONE && r->outlen == datalen && memcmp(r->out, data, datalen) == 0 && r->consumed == consumed;
        if (!ok(good, "%s (%s%ld)", name,
                steps[i] == 0  ? "one piece"
                : steps[i] < 0 ? "random pieces"
                               : "steps of ",
                steps[i] < 0 ? 0L : steps[i]))
            printf("#   ret %d status %d outlen %zu (want %zu) consumed %zu (want %zu)\n", r->ret, r->status, r->outlen,
                   datalen, r->consumed, consumed);
        free(r);
    }
}
#define DONE(in, data, name) expect_done(in, sizeof(in) - 1, data, sizeof(data) - 1, sizeof(in) - 1, &deflim, name)
#define DONE_L(in, data, lim, name) expect_done(in, sizeof(in) - 1, data, sizeof(data) - 1, sizeof(in) - 1, lim, name)

static void expect_error(const char *in, size_t n, int status, const hs_chunked_limits_t *lim, const char *name)
{
    static const long steps[] = {0, 1, -1};
    for (size_t i = 0; i < HS_ARRAY_SIZE(steps); i++) {
        result_t *r = malloc(sizeof(*r));
        feed(in, n, steps[i], lim, r);
        if (!ok(r->ret == HS_ERROR && r->status == status, "%s -> %d (%s)", name, status,
                steps[i] == 0   ? "one piece"
                : steps[i] == 1 ? "byte by byte"
                                : "random pieces"))
            printf("#   ret %d status %d\n", r->ret, r->status);
        free(r);
    }
}
#define ERR(in, st, name) expect_error(in, sizeof(in) - 1, st, &deflim, name)
#define ERR_L(in, st, lim, name) expect_error(in, sizeof(in) - 1, st, lim, name)

static void test_valid(void)
{
    DONE("5\r\nhello\r\n0\r\n\r\n", "hello", "single chunk");
    DONE("0\r\n\r\n", "", "empty body");
    DONE("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", "two chunks");
    DONE("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n3\r\ndef\r\n0\r\n\r\n", "abcdef", "four small chunks");
    DONE("5;a=b\r\nhello\r\n0;x\r\n\r\n", "hello", "extension a=b and bare name");
    DONE("5;a=\"q\"\r\nhello\r\n0\r\n\r\n", "hello", "quoted extension value");
    DONE("5;a=\"q;r=\\\"s\\\"\"\r\nhello\r\n0\r\n\r\n", "hello", "quoted extension with ; and escapes");
    DONE("5;a=b;c;d=e\r\nhello\r\n0\r\n\r\n", "hello", "several extensions");
    DONE("5 ;a=b\r\nhello\r\n0\r\n\r\n", "hello", "BWS (space) before ;");
    DONE("5\t;a=b\r\nhello\r\n0\r\n\r\n", "hello", "BWS (tab) before ;");
    DONE("5  \t ;a\r\nhello\r\n0 ;z\r\n\r\n", "hello", "longer BWS before ;");
    DONE("5\r\nhello\r\n0\r\nX-Trailer: v\r\n\r\n", "hello", "one trailer field");
    DONE("5\r\nhello\r\n0\r\nA: 1\r\nB-c: two words\r\nEmpty:\r\n\r\n", "hello", "several trailer fields");
    DONE("0005\r\nhello\r\n000\r\n\r\n", "hello", "leading zeros");
    DONE("00000000000000000000000005\r\nhello\r\n0\r\n\r\n", "hello", "many leading zeros (not significant)");
    DONE("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", "uppercase hex A");
    DONE("a\r\n0123456789\r\n0\r\n\r\n", "0123456789", "lowercase hex a");
    DONE("1F\r\n0123456789abcdef0123456789ABCDE\r\n0\r\n\r\n", "0123456789abcdef0123456789ABCDE", "1F = 31");
    DONE("1f\r\n0123456789abcdef0123456789ABCDE\r\n0\r\n\r\n", "0123456789abcdef0123456789ABCDE", "1f = 31");
    /* data bytes are opaque: CR, LF, NUL inside data are data */
    {
        static const char in[] = "6\r\n\r\n\0\r\n\n\r\n0\r\n\r\n";
        static const char data[] = "\r\n\0\r\n\n";
        expect_done(in, sizeof(in) - 1, data, 6, sizeof(in) - 1, &deflim, "CR/LF/NUL inside chunk data");
    }

    /* a larger body, with chunk sizes of all kinds */
    {
        static char in[40000], data[20000];
        size_t n = 0, dl = 0;
        srand(1);
        for (int c = 0; c < 60; c++) {
            size_t sz = (size_t)(rand() % 300) + 1;
            n += (size_t)sprintf(in + n, c % 3 ? "%zx;i=%d\r\n" : "%zX\r\n", sz, c);
            for (size_t i = 0; i < sz; i++) {
                char ch = (char)('a' + (c + i) % 26);
                in[n++] = ch;
                data[dl++] = ch;
            }
            in[n++] = '\r';
            in[n++] = '\n';
        }
        n += (size_t)sprintf(in + n, "0\r\nT: x\r\n\r\n");
        expect_done(in, n, data, dl, n, &deflim, "60 random chunks");
    }
}

static void test_consumed_stops(void)
{
    /* bytes after the final CRLF belong to the next request and are not consumed */
    static const char body[] = "5\r\nhello\r\n0\r\n\r\n";
    static const char in[] = "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    expect_done(in, sizeof(in) - 1, "hello", 5, sizeof(body) - 1, &deflim,
                "pipelined request after the body not consumed");
    static const char in2[] = "0\r\nT: v\r\n\r\nX";
    expect_done(in2, sizeof(in2) - 1, "", 0, sizeof(in2) - 2, &deflim, "one byte after trailers not consumed");

    /* direct: consumed stops exactly, and a later call consumes nothing */
    hs_chunked_t d = {0};
    char *buf = guarded(in, sizeof(in) - 1);
    size_t len = sizeof(in) - 1, consumed = 0;
    int status = 0;
    const char *detail = NULL;
    int r = hs_chunked_decode(&d, buf, &len, &consumed, &deflim, &status, &detail);
    ok(r == HS_DONE && consumed == sizeof(body) - 1 && len == 5 && memcmp(buf, "hello", 5) == 0,
       "in place: data moved to the front, consumed stops at the end of the body");
    ok(memcmp(buf + consumed, "GET / HTTP/1.1", 14) == 0, "the next request's bytes are left untouched");
    buf = guarded("GET", 3);
    len = 3;
    r = hs_chunked_decode(&d, buf, &len, &consumed, &deflim, &status, &detail);
    ok(r == HS_DONE && consumed == 0 && len == 0, "after HS_DONE: HS_DONE again, nothing consumed");

    /* incomplete input: HS_AGAIN, everything consumed, partial data delivered */
    memset(&d, 0, sizeof(d));
    buf = guarded("5\r\nhel", 6);
    len = 6;
    r = hs_chunked_decode(&d, buf, &len, &consumed, &deflim, &status, &detail);
    ok(r == HS_AGAIN && consumed == 6 && len == 3 && memcmp(buf, "hel", 3) == 0, "partial chunk: AGAIN, 3 data bytes");
    buf = guarded("lo\r\n0\r\n", 7);
    len = 7;
    r = hs_chunked_decode(&d, buf, &len, &consumed, &deflim, &status, &detail);
    ok(r == HS_AGAIN && consumed == 7 && len == 2 && memcmp(buf, "lo", 2) == 0, "rest of chunk, last-chunk: AGAIN");
    buf = guarded("\r\n", 2);
    len = 2;
    r = hs_chunked_decode(&d, buf, &len, &consumed, &deflim, &status, &detail);
    ok(r == HS_DONE && consumed == 2 && len == 0, "final CRLF: DONE");
    ok(d.total == 5, "total counts decoded bytes");

    /* empty input */
    memset(&d, 0, sizeof(d));
    buf = guarded("", 0);
    len = 0;
    r = hs_chunked_decode(&d, buf, &len, &consumed, &deflim, &status, &detail);
    ok(r == HS_AGAIN && consumed == 0 && len == 0, "empty input: AGAIN");
}

static void test_errors(void)
{
    ERR("0x5\r\nhello\r\n0\r\n\r\n", 400, "0x5");
    ERR("-1\r\nx\r\n0\r\n\r\n", 400, "-1");
    ERR("+1\r\nx\r\n0\r\n\r\n", 400, "+1");
    ERR(" 5\r\nhello\r\n0\r\n\r\n", 400, "leading space");
    ERR("5 \r\nhello\r\n0\r\n\r\n", 400, "trailing space without ;");
    ERR("5\t\r\nhello\r\n0\r\n\r\n", 400, "trailing tab without ;");
    ERR("0 \r\n\r\n", 400, "last-chunk with trailing space without ;");
    ERR("_5\r\nhello\r\n0\r\n\r\n", 400, "_5");
    ERR("5_\r\nhello\r\n0\r\n\r\n", 400, "5_");
    ERR("g\r\n", 400, "g");
    ERR("\r\n", 400, "empty size line");
    ERR(";a=b\r\n", 400, "extension without a size");
    ERR("5 5\r\nhello\r\n", 400, "5 5");
    ERR("5\nhello\r\n0\r\n\r\n", 400, "bare LF after the size");
    ERR("5;a=b\nhello\r\n0\r\n\r\n", 400, "bare LF after an extension");
    ERR("5\rhello\r\n0\r\n\r\n", 400, "bare CR after the size");
    ERR("5;a\rhello\r\n0\r\n\r\n", 400, "bare CR after an extension");
    ERR("5\r\nhelloX\r\n0\r\n\r\n", 400, "chunk data longer than its size");
    ERR("5\r\nhell\r\n0\r\n\r\n", 400, "chunk data shorter than its size");
    ERR("5\r\nhello\n0\r\n\r\n", 400, "chunk data followed by bare LF");
    ERR("5\r\nhello\rX0\r\n\r\n", 400, "chunk data followed by bare CR");
    ERR("5\r\nhello0\r\n\r\n", 400, "chunk data followed by the next size");
    ERR("0\r\n\n", 400, "bare LF as the final line");
    ERR("0\r\n\rX", 400, "bare CR as the final line");
    ERR("0\r\nX: v\n\r\n", 400, "trailer ending in bare LF");
    ERR("0\r\nX: v\rY\r\n\r\n", 400, "bare CR in a trailer");
    ERR("0\r\nX : v\r\n\r\n", 400, "space before a trailer colon");
    ERR("0\r\n: v\r\n\r\n", 400, "empty trailer name");
    ERR("0\r\n X: v\r\n\r\n", 400, "trailer starting with whitespace");
    ERR("0\r\nX: v\r\n folded\r\n\r\n", 400, "obs-fold in trailers");
    ERR("0\r\nX: a\x01b\r\n\r\n", 400, "control byte in a trailer value");
    ERR("0\r\nX: a\x7f\r\n\r\n", 400, "DEL in a trailer value");

    /* more than 15 significant hex digits cannot be represented safely: overflow → 400 */
    ERR("1000000000000000\r\n", 400, "16 significant hex digits");
    ERR("FFFFFFFFFFFFFFFFF\r\n", 400, "17 hex digits");
    ERR("10000000000000000000000000000000\r\n", 400, "32 hex digits");
    ERR("000000001000000000000000\r\n", 400, "16 significant digits after leading zeros");
    /* 15 digits fit, but far exceed max_body */
    ERR("FFFFFFFFFFFFFFF\r\n", 413, "15 hex digits: over max_body, not an overflow");

    /* extensions */
    {
        hs_chunked_limits_t lim = deflim;
        lim.max_ext = 16;
        /* the size line without its CRLF: 15 bytes within, 17 beyond */
        static const char in1[] = "5;aaaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n";
        expect_done(in1, sizeof(in1) - 1, "hello", 5, sizeof(in1) - 1, &lim, "size line just within max_ext");
        static const char in2[] = "5;aaaaaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n";
        expect_error(in2, sizeof(in2) - 1, 400, &lim, "size line of max_ext+1");
        char big[200];
        memset(big, 'x', sizeof(big));
        big[0] = '5';
        big[1] = ';';
        expect_error(big, sizeof(big), 400, &lim, "extension longer than max_ext, no end in sight");
        memset(big, '0', sizeof(big));
        expect_error(big, sizeof(big), 400, &lim, "endless leading zeros hit max_ext");
    }
    static const char ctl[] = {0x00, 0x01, 0x0b, 0x1f, 0x7f};
    for (size_t i = 0; i < sizeof(ctl); i++) {
        char in[] = "5;a=?\r\nhello\r\n0\r\n\r\n";
        *strchr(in, '?') = ctl[i];
        char name[64];
        snprintf(name, sizeof(name), "byte 0x%02x in an extension", (unsigned char)ctl[i]);
        expect_error(in, sizeof(in) - 1, 400, &deflim, name);
    }
    /* obs-text in a quoted extension value is not a control byte */
    DONE("5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", "hello", "obs-text in a quoted extension");
}

/* RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
 * chunk-ext-name = token, chunk-ext-val = token / quoted-string (RFC 9110 §5.6.2, §5.6.4). */
static void test_ext_grammar(void)
{
    DONE("5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", "hello", "BWS after ';' and around '='");
    DONE("5;\t a\t=\t\"q\"\t;b\r\nhello\r\n0\r\n\r\n", "hello", "tabs as BWS");
    DONE("5;a ;b\r\nhello\r\n0\r\n\r\n", "hello", "BWS after a name without a value");
    DONE("5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello", "empty quoted-string value");
    DONE("5;a=\"x\";b=\"y\"\r\nhello\r\n0\r\n\r\n", "hello", "quoted value followed by ';'");
    DONE("5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz\r\nhello\r\n0\r\n\r\n", "hello",
         "every tchar class in name and value");
    DONE("5;a=\"\\\t\\ \\\"\\\\\\\xff\";b\r\nhello\r\n0\r\n\r\n", "hello",
         "quoted-pairs of HTAB, SP, DQUOTE, backslash, obs-text");
    DONE("5;a=\"; = \t,()\"\r\nhello\r\n0\r\n\r\n", "hello", "delimiters inside a quoted value");
    DONE("5\r\nhello\r\n0;a=\"b\"\r\n\r\n", "hello", "quoted extension on the last chunk");

    /* a chunk-ext-name is a token: never empty */
    ERR("5;\r\nhello\r\n0\r\n\r\n", 400, "';' and no name");
    ERR("5; \r\nhello\r\n0\r\n\r\n", 400, "';' BWS and no name");
    ERR("5;=x\r\nhello\r\n0\r\n\r\n", 400, "'=' value without a name");
    ERR("5; =x\r\nhello\r\n0\r\n\r\n", 400, "BWS '=' value without a name");
    ERR("5;;a\r\nhello\r\n0\r\n\r\n", 400, "two ';' in a row");
    ERR("5;a;\r\nhello\r\n0\r\n\r\n", 400, "trailing ';'");
    ERR("5;a=b;\r\nhello\r\n0\r\n\r\n", 400, "trailing ';' after a value");
    ERR("0;\r\n\r\n", 400, "last-chunk with ';' and no name");
    ERR("5 ;\r\nhello\r\n0\r\n\r\n", 400, "BWS ';' and no name");
    /* names and token values are tokens */
    ERR("5;a(b)\r\nhello\r\n0\r\n\r\n", 400, "name with '('");
    ERR("5;a/b\r\nhello\r\n0\r\n\r\n", 400, "name with '/'");
    ERR("5;\"a\"\r\nhello\r\n0\r\n\r\n", 400, "quoted name");
    ERR("5;\xc3\xa9\r\nhello\r\n0\r\n\r\n", 400, "obs-text in a name");
    ERR("5;a=b,c\r\nhello\r\n0\r\n\r\n", 400, "token value with ','");
    ERR("5;a=\xc3\xa9\r\nhello\r\n0\r\n\r\n", 400, "obs-text in a token value");
    ERR("5;a=b\"c\"\r\nhello\r\n0\r\n\r\n", 400, "token value followed by a quote");
    ERR("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", 400, "quoted value followed by a token");
    ERR("5;a=\"b\"\"c\"\r\nhello\r\n0\r\n\r\n", 400, "two quoted values");
    /* '=' needs a value */
    ERR("5;a=\r\nhello\r\n0\r\n\r\n", 400, "'=' and no value");
    ERR("5;a= \r\nhello\r\n0\r\n\r\n", 400, "'=' BWS and no value");
    ERR("5;a=;b\r\nhello\r\n0\r\n\r\n", 400, "'=' then ';'");
    ERR("5;a==b\r\nhello\r\n0\r\n\r\n", 400, "'=='");
    /* BWS only before ';' and around '=': not before CRLF, not between two tokens */
    ERR("5;a \r\nhello\r\n0\r\n\r\n", 400, "BWS after a name, then CRLF");
    ERR("5;a=b \r\nhello\r\n0\r\n\r\n", 400, "BWS after a token value, then CRLF");
    ERR("5;a=\"b\" \r\nhello\r\n0\r\n\r\n", 400, "BWS after a quoted value, then CRLF");
    ERR("5;a b\r\nhello\r\n0\r\n\r\n", 400, "two names separated by a space");
    ERR("5;a=b c\r\nhello\r\n0\r\n\r\n", 400, "two values separated by a space");
    ERR("5;a=b\x0b\r\nhello\r\n0\r\n\r\n", 400, "VT after a value");
    /* quoted-string */
    ERR("5;a=\"b\r\nhello\r\n0\r\n\r\n", 400, "quoted value not closed before CRLF");
    ERR("5;a=\"b\\\"\r\nhello\r\n0\r\n\r\n", 400, "closing quote escaped: not closed");
    ERR("5;a=\"b\\\r\nhello\r\n0\r\n\r\n", 400, "quoted-pair of CR");
    ERR("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", 400, "quoted-pair of a control byte");
    ERR("5;a=\"\\\x7f\"\r\nhello\r\n0\r\n\r\n", 400, "quoted-pair of DEL");
    ERR("5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n", 400, "DEL in a quoted value");
    ERR("5;a=\"\x00\"\r\nhello\r\n0\r\n\r\n", 400, "NUL in a quoted value");
    ERR("5;a=\"b\nc\"\r\nhello\r\n0\r\n\r\n", 400, "LF in a quoted value");
    /* the line limit still counts every byte of the extensions, quoted ones too */
    {
        hs_chunked_limits_t lim = deflim;
        lim.max_ext = 16;
        static const char in1[] = "5;a=\"bbbbbbbbb\"\r\nhello\r\n0\r\n\r\n"; /* 16 bytes */
        expect_done(in1, sizeof(in1) - 1, "hello", 5, sizeof(in1) - 1, &lim, "quoted value just within max_ext");
        static const char in2[] = "5;a=\"bbbbbbbbbb\"\r\nhello\r\n0\r\n\r\n";
        expect_error(in2, sizeof(in2) - 1, 400, &lim, "quoted value one over max_ext");
        char big[200];
        memset(big, ' ', sizeof(big));
        memcpy(big, "5;a=\"", 5);
        expect_error(big, sizeof(big), 400, &lim, "endless quoted value hits max_ext");
        memset(big, ' ', sizeof(big));
        big[0] = '5';
        expect_error(big, sizeof(big), 400, &lim, "endless BWS hits max_ext");
    }
}

static void test_limits(void)
{
    hs_chunked_limits_t lim = deflim;
    lim.max_body = 10;
    DONE_L("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", "helloworld", &lim, "body of exactly max_body");
    ERR_L("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 413, &lim, "body of max_body+1 in two chunks");
    ERR_L("B\r\n", 413, &lim, "one chunk over max_body, before its data arrives");
    ERR_L("5\r\nhello\r\n5\r\nworld\r\n1\r\n", 413, &lim, "third chunk crosses max_body");
    lim.max_body = 0;
    DONE_L("0\r\n\r\n", "", &lim, "max_body 0: empty body fine");
    ERR_L("1\r\n", 413, &lim, "max_body 0: any data is too much");

    lim = deflim;
    lim.max_trailer = 16;
    DONE_L("0\r\nAbc: 0123456789\r\n\r\n", "", &lim, "trailer section within max_trailer");
    ERR_L("0\r\nAbc: 0123456789abcdef\r\n\r\n", 431, &lim, "one trailer field over max_trailer");
    ERR_L("0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431, &lim, "many trailer fields over max_trailer");
    char big[300];
    memcpy(big, "0\r\nX: ", 6);
    memset(big + 6, 'v', sizeof(big) - 6);
    expect_error(big, sizeof(big), 431, &lim, "endless trailer value");
    lim.max_trailer = 0;
    ERR_L("0\r\nA: 1\r\n\r\n", 431, &lim, "max_trailer 0: any trailer is too much");
    DONE_L("0\r\n\r\n", "", &lim, "max_trailer 0: no trailers fine");
}

/* Random bodies decoded with random splits must give the same bytes as in one piece. */
static void test_random_equivalence(void)
{
    srand(42);
    int bad = 0;
    for (int iter = 0; iter < 300; iter++) {
        static char in[8192], data[8192];
        size_t n = 0, dl = 0;
        int chunks = rand() % 8;
        for (int c = 0; c < chunks; c++) {
            size_t sz = (size_t)(rand() % 200) + 1;
            static const char *const fmts[] = {"%zx\r\n", "%zX;e=1\r\n", "00%zx \t;q=\"a b\"\r\n", "%zx;x;y=z\r\n"};
            n += (size_t)sprintf(in + n, fmts[rand() % 4], sz);
            for (size_t i = 0; i < sz; i++) {
                char ch = (char)(rand() & 0xff);
                in[n++] = ch;
                data[dl++] = ch;
            }
            in[n++] = '\r';
            in[n++] = '\n';
        }
        n += (size_t)sprintf(in + n, rand() % 2 ? "0\r\n\r\n" : "0;last\r\nT-1: a\r\nT-2: b c\r\n\r\n");
        size_t body = n;
        n += (size_t)sprintf(in + n, "NEXT");
        for (int s = 0; s < 3; s++) {
            result_t *r = malloc(sizeof(*r));
            feed(in, n, s == 0 ? 0 : s == 1 ? 1 : -1, &deflim, r);
            if (!(r->ret == HS_DONE && r->outlen == dl && memcmp(r->out, data, dl) == 0 && r->consumed == body)) {
                if (!bad)
                    printf("#   iter %d split %d: ret %d outlen %zu/%zu consumed %zu/%zu\n", iter, s, r->ret, r->outlen,
                           dl, r->consumed, body);
                bad++;
            }
            free(r);
        }
    }
    ok(bad == 0, "300 random bodies x 3 splits decode identically (%d bad)", bad);
}

/* Random mutations of valid bodies: one piece, byte by byte and random pieces must agree on
 * the outcome (same return, same status, same data and consumed count when done). */
static void test_random_mutations(void)
{
    static const char *const seeds[] = {
        "5\r\nhello\r\n0\r\n\r\n",
        "3;a=\"b\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\nNEXT",
        "0 ;x\r\nA: 1\r\nB:2\r\n\r\n",
        "000a\r\n0123456789\r\n0\r\n\r\n",
    };
    static const char alphabet[] = {' ',  '\t',       '\r', '\n', ':', ';', '=', '"', '\0',
                                    0x7f, (char)0x80, '0',  '1',  'a', 'F', 'x', '-', '+'};
    hs_chunked_limits_t lim = {.max_body = 20, .max_ext = 8, .max_trailer = 10};
    uint32_t seed = 777;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
    int bad = 0, counts[3] = {0};
    result_t *r0 = malloc(sizeof(*r0)), *r1 = malloc(sizeof(*r1)), *r2 = malloc(sizeof(*r2));
    for (int iter = 0; iter < 3000; iter++) {
        char in[128];
        const char *sd = seeds[RND() % HS_ARRAY_SIZE(seeds)];
        size_t n = strlen(sd);
        memcpy(in, sd, n);
        int muts = 1 + (int)(RND() % 2);
        for (int m = 0; m < muts; m++) {
            size_t at = RND() % (n + 1);
            int kind = (int)(RND() % 3);
            char c = alphabet[RND() % sizeof(alphabet)];
            if (kind == 0 && at < n) {
                in[at] = c;
            } else if (kind == 1 && n < sizeof(in) - 1) {
                memmove(in + at + 1, in + at, n - at);
                in[at] = c;
                n++;
            } else if (at < n) {
                memmove(in + at, in + at + 1, n - at - 1);
                n--;
            }
        }
        feed(in, n, 0, &lim, r0);
        feed(in, n, 1, &lim, r1);
        feed(in, n, -1, &lim, r2);
        counts[r0->ret == HS_DONE ? 0 : r0->ret == HS_ERROR ? 1 : 2]++;
        bool same = r0->ret == r1->ret && r0->ret == r2->ret;
        if (same && r0->ret == HS_ERROR)
            same = r0->status == r1->status && r0->status == r2->status &&
                   (r0->status == 400 || r0->status == 413 || r0->status == 431);
        if (same && r0->ret == HS_DONE)
            same = r0->consumed == r1->consumed && r0->consumed == r2->consumed && r0->outlen == r1->outlen &&
                   r0->outlen == r2->outlen && memcmp(r0->out, r1->out, r0->outlen) == 0 &&
                   memcmp(r0->out, r2->out, r0->outlen) == 0 && r0->outlen <= lim.max_body;
        if (same && r0->ret == HS_AGAIN)
            same = r0->consumed == n && r1->consumed == n && r2->consumed == n; /* AGAIN consumes everything */
        if (!same) {
            if (bad < 5)
                printf("#   iter %d: ret %d/%d/%d status %d/%d/%d consumed %zu/%zu/%zu\n", iter, r0->ret, r1->ret,
                       r2->ret, r0->status, r1->status, r2->status, r0->consumed, r1->consumed, r2->consumed);
            bad++;
        }
    }
    free(r0);
    free(r1);
    free(r2);
#undef RND
    ok(bad == 0,
       "3000 mutated bodies decode the same in one piece, byte by byte and in random pieces (%d done, %d errors, "
       "%d again; %d bad)",
       counts[0], counts[1], counts[2], bad);
}

int main(void)
{
    test_guard_armed();
    test_valid();
    test_consumed_stops();
    test_errors();
    test_ext_grammar();
    test_limits();
    test_random_equivalence();
    test_random_mutations();
    return tap_done();
}
