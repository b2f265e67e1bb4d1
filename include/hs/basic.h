/* statusd — HTTP Basic authentication credentials and challenges (RFC 7617), implemented in
 * src/http/basic.c, for Authorization and Proxy-Authorization alike.
 *
 * Nothing is allocated: the decoded credentials live in a buffer the caller provides (request
 * memory), and the caller should clear it (hs_basic_clear) once the password has been used. */
#ifndef HS_BASIC_H
#define HS_BASIC_H

#include "hs/codec.h"

/* How a credentials field turned out (hs_basic_cred_t.kind). */
enum {
    HS_BASIC_CREDENTIALS = 0,  /* user and password below */
    HS_BASIC_MISSING = 1,      /* no field at all */
    HS_BASIC_OTHER_SCHEME = 2, /* credentials of another scheme (Bearer, Digest …) */
    HS_BASIC_MALFORMED = 3,    /* Basic, but not valid: detail says why */
};

typedef struct hs_basic_cred_s {
    int kind;
    hs_iovec_t user, pass; /* HS_BASIC_CREDENTIALS: slices of the caller's buffer, UTF-8, no CTL */
    const char *detail;    /* a static explanation for every other kind (for the 401 page and log) */
} hs_basic_cred_t;

/* Room the decoded credentials of a field value of n bytes need. */
#define HS_BASIC_BUF(n) HS_BASE64_DECODED_MAX(n)

/* Read a credentials field value (OWS-trimmed, as the parser gives it; a NULL base for "no
 * field") into out, decoding into buf (HS_BASIC_BUF(value.len) bytes). Returns HS_OK with kind
 * HS_BASIC_CREDENTIALS, HS_DECLINED for a missing field or another scheme, HS_ERROR for malformed
 * Basic credentials. What is malformed (each case has its own detail):
 *   - the scheme not followed by one or more SP and a token68 (RFC 9110 §11.4), or "Basic" alone;
 *   - anything but canonical base64 of RFC 4648 §4 — the standard alphabet, padded to a multiple
 *     of four, no bits set after the last byte (RFC 7617 §2 names §4 of RFC 4648);
 *   - no ':' in the decoded text (user-id cannot contain one, so the first ':' splits);
 *   - a control character in the user-id or the password (RFC 7617 §2);
 *   - bytes that are not UTF-8 (the challenge announces charset="UTF-8", §2.1).
 * A user-id may be empty (it then matches nobody). The scheme name is case-insensitive. */
int hs_basic_parse(hs_iovec_t value, unsigned char *buf, size_t buflen, hs_basic_cred_t *out);

/* Wipe the decoded credentials (the password) from buf. */
void hs_basic_clear(unsigned char *buf, size_t buflen);

/* Can `realm` go in a challenge? Any UTF-8 text without control characters, 1..255 bytes. */
bool hs_basic_realm_ok(const char *realm);
/* The challenge for a WWW-Authenticate or Proxy-Authenticate field:
 *     Basic realm="REALM", charset="UTF-8"
 * with '"' and '\' in the realm escaped as quoted-pairs (RFC 9110 §5.6.4). Written into out (n
 * bytes, NUL-terminated); returns the length, or 0 when it does not fit. */
size_t hs_basic_challenge(char *out, size_t n, const char *realm);
#define HS_BASIC_CHALLENGE_MAX (2 * 255 + 40)

#endif
