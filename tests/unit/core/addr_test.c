/* Unit tests: socket addresses as text (src/core/addr.c). */
#define _GNU_SOURCE
#include "hs/addr.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static void fmt(int family, const char *ip, unsigned port, unsigned flags, const char *want)
{
    struct sockaddr_storage ss = {0};
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &a->sin_addr);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
    }
    char out[HS_ADDR_MAX];
    size_t n = hs_addr_format((const struct sockaddr *)&ss, out, sizeof(out), flags);
    ok(n == strlen(want) && strcmp(out, want) == 0, "%s port %u flags %u -> %s (got %s)", ip, port, flags, want, out);
}
#define v4(...) fmt(AF_INET, __VA_ARGS__)
#define v6(...) fmt(AF_INET6, __VA_ARGS__)

int main(void)
{
    v4("127.0.0.1", 8080, 0, "127.0.0.1");
    v4("127.0.0.1", 8080, HS_ADDR_PORT, "127.0.0.1:8080");
    v4("255.255.255.255", 65535, HS_ADDR_PORT, "255.255.255.255:65535");
    v4("0.0.0.0", 0, HS_ADDR_PORT, "0.0.0.0:0");
    v6("::1", 443, 0, "::1");
    v6("::1", 443, HS_ADDR_PORT, "[::1]:443");
    v6("2001:db8::8a2e:370:7334", 80, HS_ADDR_PORT, "[2001:db8::8a2e:370:7334]:80");
    v6("::ffff:192.0.2.1", 80, 0, "::ffff:192.0.2.1");
    v6("1111:2222:3333:4444:5555:6666:7777:8888", 65535, HS_ADDR_PORT,
       "[1111:2222:3333:4444:5555:6666:7777:8888]:65535");

    char out[HS_ADDR_MAX];
    struct sockaddr un = {.sa_family = AF_UNIX};
    ok(hs_addr_format(&un, out, sizeof(out), HS_ADDR_PORT) == 1 && strcmp(out, "-") == 0, "another family: -");
    ok(hs_addr_format(NULL, out, sizeof(out), 0) == 1 && strcmp(out, "-") == 0, "NULL: -");

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "192.0.2.123", &a.sin_addr);
    char small[8];
    size_t n = hs_addr_format((const struct sockaddr *)&a, small, sizeof(small), HS_ADDR_PORT);
    ok(n == 7 && strcmp(small, "192.0.2") == 0, "truncated to fit, NUL-terminated (%s)", small);
    ok(hs_addr_format((const struct sockaddr *)&a, small, 0, 0) == 0, "no room: nothing written");
    return tap_done();
}
