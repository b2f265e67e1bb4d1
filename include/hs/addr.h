/* statusd — socket addresses as text (src/core/addr.c), the one formatter for logs, listener
 * messages and handlers (httpbin's "origin", the API's Host fallback).
 *
 * Writes into the caller's array; keeps nothing. */
#ifndef HS_ADDR_H
#define HS_ADDR_H

#include "hs/core.h"

#include <sys/socket.h>

enum {
    HS_ADDR_PORT = 1, /* append ":port"; an IPv6 address is then bracketed (RFC 3986 §3.2.2) */
};
#define HS_ADDR_MAX 64 /* room for any IPv4 or IPv6 address with brackets and port, and the NUL */

/* The address sa as text into out (n bytes, always NUL-terminated when n > 0, truncated to fit):
 * "192.0.2.1", "2001:db8::1"; with HS_ADDR_PORT "192.0.2.1:8080", "[2001:db8::1]:8080". NULL or
 * a family other than AF_INET/AF_INET6 writes "-". Returns the length written, without the NUL. */
size_t hs_addr_format(const struct sockaddr *sa, char *out, size_t n, unsigned flags);

#endif
