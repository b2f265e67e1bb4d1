/* statusd fuzz target: htpasswd files (src/modules/policy/htpasswd.c, pwhash.c) and Basic
 * credentials (src/http/basic.c).
 *
 * Input: pieces separated by "\xff\xfe": [file text] [Authorization field value] [flags]. The
 * file text is loaded through a memfd (the loader reads a path); flags byte 0 bit 0 allows
 * plaintext passwords.
 *
 * Checks (beyond no crash/over-read/leak):
 *   file      loaded: no more users than lines; refused: an error naming the file, and a line
 *             number when the text has a line; loading twice gives the same answer;
 *   field     HS_OK only with a user without ':' and user and password inside the buffer, free
 *             of control characters, valid UTF-8; the kind agrees with the return value, and
 *             every refusal has a detail; a field rebuilt from the credentials parses to the same;
 *   verify    (files without slow hashes) the verdict is one of the three and the same when
 *             asked again (cached or not) and from a second load of the same text.
 */
#define _GNU_SOURCE
#include "../src/modules/policy/policy.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static bool inside(hs_iovec_t s, const unsigned char *b, size_t n)
{
    return (const unsigned char *)s.base >= b && (const unsigned char *)s.base + s.len <= b + n;
}

static size_t count_lines(const char *t, size_t n)
{
    size_t lines = n > 0;
    for (size_t i = 0; i < n; i++)
        lines += t[i] == '\n' && i + 1 < n;
    return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, plen;
    const uint8_t *piece, *pieces[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    for (int i = 0; i < 3 && fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen); i++)
        pieces[i] = piece, lens[i] = plen;
    bool allow_plain = lens[2] > 0 && (pieces[2][0] & 1);

    /* ---- the Basic field ---- */
    char *field = fuzz_dup(pieces[1] ? pieces[1] : (const uint8_t *)"", lens[1]);
    size_t blen = HS_BASIC_BUF(lens[1]);
    unsigned char *buf = malloc(blen ? blen : 1);
    hs_basic_cred_t cred;
    int rc = hs_basic_parse(hs_iov(field, lens[1]), buf, blen, &cred);
    FUZZ_CHECK((rc == HS_OK) == (cred.kind == HS_BASIC_CREDENTIALS), "rc %d kind %d", rc, cred.kind);
    FUZZ_CHECK(rc == HS_OK || (cred.detail && cred.detail[0]), "a refusal without a detail");
    FUZZ_CHECK(rc != HS_DECLINED || cred.kind == HS_BASIC_OTHER_SCHEME, "declined as %d", cred.kind);
    if (rc == HS_OK) {
        FUZZ_CHECK(inside(cred.user, buf, blen) && inside(cred.pass, buf, blen), "slices outside the buffer");
        FUZZ_CHECK(!memchr(cred.user.base, ':', cred.user.len), "a ':' in the user-id");
        for (size_t i = 0; i < cred.user.len; i++)
            FUZZ_CHECK((unsigned char)cred.user.base[i] >= 0x20 && cred.user.base[i] != 0x7f, "CTL in user");
        for (size_t i = 0; i < cred.pass.len; i++)
            FUZZ_CHECK((unsigned char)cred.pass.base[i] >= 0x20 && cred.pass.base[i] != 0x7f, "CTL in password");
        FUZZ_CHECK(hs_utf8_valid(cred.user.base, cred.user.len) && hs_utf8_valid(cred.pass.base, cred.pass.len),
                   "not UTF-8");
        /* rebuilt canonically, it parses to the same credentials */
        size_t pl = cred.user.len + 1 + cred.pass.len;
        char *plain = malloc(pl);
        memcpy(plain, cred.user.base, cred.user.len);
        plain[cred.user.len] = ':';
        memcpy(plain + cred.user.len + 1, cred.pass.base, cred.pass.len);
        char *again = malloc(6 + HS_BASE64_LEN(pl));
        memcpy(again, "Basic ", 6);
        size_t al = 6 + hs_base64_encode(again + 6, plain, pl, 0);
        unsigned char *buf2 = malloc(HS_BASIC_BUF(al));
        hs_basic_cred_t c2;
        FUZZ_CHECK(hs_basic_parse(hs_iov(again, al), buf2, HS_BASIC_BUF(al), &c2) == HS_OK &&
                       c2.user.len == cred.user.len && c2.pass.len == cred.pass.len &&
                       memcmp(c2.user.base, cred.user.base, c2.user.len) == 0 &&
                       memcmp(c2.pass.base, cred.pass.base, c2.pass.len) == 0,
                   "the canonical field does not parse back");
        free(buf2);
        free(again);
        free(plain);
    }

    /* ---- the file ---- */
    const char *text = pieces[0] ? (const char *)pieces[0] : "";
    int fd = memfd_create("htpasswd", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create");
    FUZZ_CHECK(lens[0] == 0 || write(fd, text, lens[0]) == (ssize_t)lens[0], "write");
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    hs__htpasswd_opts_t o = {.allow_plain = allow_plain, .max_line = 512, .cache_entries = 8};
    hs__htpasswd_t *h = NULL, *h2 = NULL;
    char err[512] = "", err2[512] = "";
    int lr = hs__htpasswd_open(path, &o, &h, err, sizeof(err));
    int lr2 = hs__htpasswd_open(path, &o, &h2, err2, sizeof(err2));
    FUZZ_CHECK(lr == lr2 && strcmp(err, err2) == 0, "two loads disagree");
    if (lr == HS_OK) {
        FUZZ_CHECK(h && hs__htpasswd_count(h) <= count_lines(text, lens[0]), "more users than lines");
        FUZZ_CHECK(hs__htpasswd_count(h) == hs__htpasswd_count(h2), "two loads, two counts");
        bool slow = memmem(text, lens[0], "$2", 2) || memmem(text, lens[0], "$5$", 3) ||
                    memmem(text, lens[0], "$6$", 3) || memmem(text, lens[0], "$y$", 3);
        if (rc == HS_OK && !slow) {
            int v1 = hs__auth_verify(h, hs_iov(field, lens[1]), &cred, 1000);
            int v2 = hs__auth_verify(h, hs_iov(field, lens[1]), &cred, 1001);
            int v3 = hs__auth_verify(h2, hs_iov(field, lens[1]), &cred, 1000);
            FUZZ_CHECK(v1 >= HS__AUTH_OK && v1 <= HS__AUTH_UNKNOWN_USER && v1 == v2 && v1 == v3, "verdicts %d %d %d",
                       v1, v2, v3);
        }
    } else {
        FUZZ_CHECK(!h && strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':', "error '%s'", err);
    }
    hs__htpasswd_free(h);
    hs__htpasswd_free(h2);
    close(fd);
    hs_basic_clear(buf, blen);
    free(buf);
    free(field);
    return 0;
}
