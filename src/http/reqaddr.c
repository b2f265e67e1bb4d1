/* statusd — a request's addresses and scheme, for handlers, so that no module reaches into the
 * connection (src/http/internal.h stays the engine's own). */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>

const struct sockaddr *hs_req_peer_addr(const hs_req_t *req)
{
    return (const struct sockaddr *)&req->conn->peer;
}

int hs_req_local_addr(const hs_req_t *req, struct sockaddr_storage *out)
{
    socklen_t len = sizeof(*out);
    if (getsockname(req->conn->sock.io.fd, (struct sockaddr *)out, &len) != 0)
        return -errno;
    return HS_OK;
}

const char *hs_req_scheme(const hs_req_t *req)
{
    const hs_conn_t *c = req->conn;
    return c->tls && !c->plain_on_tls ? "https" : "http";
}
