/* statusd — socket addresses as text. One formatter, so that the access log, the listener
 * messages and the API all write an address the same way (IPv6 bracketed whenever a port follows,
 * as in a URI authority, RFC 3986 §3.2.2). */
#define _GNU_SOURCE
#include "hs/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

/* One octet in decimal: no call, no loop. */
static inline char *fmt_octet(char *p, unsigned b)
{
    if (b >= 100) {
        *p++ = (char)('0' + b / 100);
        b %= 100;
        *p++ = (char)('0' + b / 10);
    } else if (b >= 10) {
        *p++ = (char)('0' + b / 10);
    }
    *p++ = (char)('0' + b % 10);
    return p;
}

/* IPv4 without inet_ntop and snprintf (both go through printf's machinery): a gateway formats
 * its client's address for every request it forwards. Straight into out when it has room for
 * the longest ("255.255.255.255:65535"), else through a buffer and cut. */
static size_t format_v4(const struct sockaddr_in *a, char *out, size_t n, unsigned flags)
{
    char buf[32], *start = n >= sizeof(buf) ? out : buf, *p = start;
    const unsigned char *b = (const unsigned char *)&a->sin_addr;
    p = fmt_octet(p, b[0]);
    *p++ = '.';
    p = fmt_octet(p, b[1]);
    *p++ = '.';
    p = fmt_octet(p, b[2]);
    *p++ = '.';
    p = fmt_octet(p, b[3]);
    if (flags & HS_ADDR_PORT) {
        *p++ = ':';
        p = hs_fmt_u64(p, ntohs(a->sin_port));
    }
    size_t len = HS_MIN((size_t)(p - start), n - 1);
    if (start != out)
        memcpy(out, buf, len);
    out[len] = '\0';
    return len;
}

size_t hs_addr_format(const struct sockaddr *sa, char *out, size_t n, unsigned flags)
{
    if (n == 0)
        return 0;
    if (sa && sa->sa_family == AF_INET)
        return format_v4((const struct sockaddr_in *)sa, out, n, flags);
    char ip[INET6_ADDRSTRLEN];
    unsigned port = 0;
    bool v6 = false;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        v6 = true;
    } else {
        ip[0] = '-';
        ip[1] = '\0';
        flags &= ~(unsigned)HS_ADDR_PORT;
    }
    int len;
    if (!(flags & HS_ADDR_PORT))
        len = snprintf(out, n, "%s", ip);
    else
        len = snprintf(out, n, v6 ? "[%s]:%u" : "%s:%u", ip, port);
    if (len < 0) {
        out[0] = '\0';
        return 0;
    }
    return HS_MIN((size_t)len, n - 1);
}
