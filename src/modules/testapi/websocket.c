/* statusd — client-testing API: /websocket/echo, an RFC 6455 echo server.
 *
 * Handshake (§4.2): GET with Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Version: 13
 * and a Sec-WebSocket-Key (16 bytes in base64) → 101 with Sec-WebSocket-Accept =
 * base64(SHA-1(key + GUID)). Without an upgrade the route answers 426 Upgrade Required with
 * Upgrade: websocket (RFC 9110 §15.5.22); another version gets 426 with
 * Sec-WebSocket-Version: 13 (§4.4); a bad key 400.
 *
 * After the 101 every text or binary message is sent back as it came (fragmented messages are
 * reassembled first), pings get pongs with the same payload, and a close is answered with a
 * close carrying the same code before the TCP connection is closed (§5.5.1, §7). Errors fail
 * the connection with a close frame: 1002 for protocol errors (unmasked client frame, reserved
 * bits or opcodes, fragmented or oversized control frames, continuation out of place, invalid
 * close code), 1007 for a text message or close reason that is not UTF-8, 1009 for a message
 * over ?max_message= (default 1 MiB, at most --api-max-bytes). */
#define _GNU_SOURCE
#include "api.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct {
    hs_buf_t in;    /* bytes received and not yet parsed */
    hs_buf_t msg;   /* a fragmented message being reassembled */
    int msg_opcode; /* 0 = none in progress, 1 = text, 2 = binary */
    uint64_t max_message;
    bool closing; /* a close frame has been sent: nothing more is read or written */
} ws_t;

static void ws_free(void *p)
{
    ws_t *ws = p;
    hs_buf_free(&ws->in);
    hs_buf_free(&ws->msg);
    free(ws);
}

/* A server frame: never masked (§5.1). */
static void ws_send(hs_req_t *req, int opcode, const void *payload, size_t len)
{
    unsigned char h[10];
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    hs_upgraded_write(req, h, hl);
    if (len)
        hs_upgraded_write(req, payload, len);
}

/* Send a close frame and close the connection once it is written. */
static void ws_close(hs_req_t *req, int code, const char *reason)
{
    ws_t *ws = API_CTX(req);
    unsigned char p[125];
    size_t n = 0;
    if (code) {
        p[0] = (unsigned char)(code >> 8);
        p[1] = (unsigned char)code;
        n = 2;
        size_t rl = reason ? HS_MIN(strlen(reason), sizeof(p) - 2) : 0;
        if (rl)
            memcpy(p + 2, reason, rl);
        n += rl;
    }
    ws_send(req, 8, p, n);
    ws->closing = true;
    hs_upgraded_close(req);
}

static bool close_code_valid(int code)
{
    /* §7.4.1 and the IANA registry: 1004-1006 and 1015 must never appear on the wire */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static void ws_message(hs_req_t *req, int opcode, const unsigned char *p, size_t n)
{
    if (opcode == 1 && !hs_utf8_valid(p, n)) {
        ws_close(req, 1007, "text message is not valid UTF-8");
        return;
    }
    ws_send(req, opcode, p, n);
}

static void ws_on_data(hs_req_t *req, const char *data, size_t len)
{
    ws_t *ws = API_CTX(req);
    if (ws->closing)
        return;
    api_buf_add(&ws->in, data, len);
    size_t pos = 0;
    while (!ws->closing) {
        unsigned char *f = (unsigned char *)ws->in.base + pos;
        size_t avail = ws->in.len - pos;
        if (avail < 2)
            break;
        bool fin = f[0] & 0x80, masked = f[1] & 0x80;
        int rsv = (f[0] >> 4) & 7, op = f[0] & 15;
        uint64_t plen = f[1] & 127;
        size_t hl = 2 + (plen == 126 ? 2 : plen == 127 ? 8 : 0) + (masked ? 4 : 0);
        if (rsv) {
            ws_close(req, 1002, "reserved bits set without a negotiated extension");
            break;
        }
        if (!(op <= 2 || (op >= 8 && op <= 10))) {
            ws_close(req, 1002, "reserved opcode");
            break;
        }
        if (!masked) {
            ws_close(req, 1002, "client frames must be masked");
            break;
        }
        if (op >= 8 && (!fin || plen > 125)) {
            ws_close(req, 1002, "control frames must be final and at most 125 bytes");
            break;
        }
        if (op == 0 && ws->msg_opcode == 0) {
            ws_close(req, 1002, "continuation frame without a message to continue");
            break;
        }
        if ((op == 1 || op == 2) && ws->msg_opcode != 0) {
            ws_close(req, 1002, "new data frame before the fragmented message ended");
            break;
        }
        if (avail < hl)
            break;
        if (plen == 126) {
            plen = (uint64_t)f[2] << 8 | f[3];
        } else if (plen == 127) {
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | f[2 + i];
            if (plen >> 63) {
                ws_close(req, 1002, "payload length with the most significant bit set");
                break;
            }
        }
        if (op < 8 && plen + (op == 0 ? ws->msg.len : 0) > ws->max_message) {
            ws_close(req, 1009, "message too big");
            break;
        }
        if (avail - hl < plen)
            break; /* wait for the rest of the frame */
        unsigned char *key = f + hl - 4, *p = f + hl;
        for (uint64_t i = 0; i < plen; i++)
            p[i] ^= key[i & 3];
        size_t n = (size_t)plen;
        pos += hl + n;
        switch (op) {
        case 8: { /* close (§5.5.1): answer with the same code */
            if (n == 1) {
                ws_close(req, 1002, "close frame with a one-byte payload");
                break;
            }
            if (n == 0) {
                ws_close(req, 0, NULL);
                break;
            }
            int code = p[0] << 8 | p[1];
            if (!close_code_valid(code)) {
                ws_close(req, 1002, "invalid close code");
                break;
            }
            if (!hs_utf8_valid(p + 2, n - 2)) {
                ws_close(req, 1007, "close reason is not valid UTF-8");
                break;
            }
            ws_close(req, code, NULL);
            break;
        }
        case 9: ws_send(req, 10, p, n); break;
        case 10: break; /* unsolicited pong: ignored (§5.5.3) */
        case 1:
        case 2:
            if (fin) {
                ws_message(req, op, p, n);
            } else {
                ws->msg_opcode = op;
                ws->msg.len = 0;
                api_buf_add(&ws->msg, p, n);
            }
            break;
        case 0:
            api_buf_add(&ws->msg, p, n);
            if (fin) {
                int mop = ws->msg_opcode;
                ws->msg_opcode = 0;
                ws_message(req, mop, (unsigned char *)ws->msg.base, ws->msg.len);
                ws->msg.len = 0;
            }
            break;
        }
    }
    if (ws->closing) {
        ws->in.len = 0;
        return;
    }
    hs_buf_consume(&ws->in, pos);
}

static const hs_upgrade_t ws_handler = {.on_data = ws_on_data};

static bool header_has_token(hs_iovec_t v, const char *tok)
{
    size_t pos = 0;
    hs_iovec_t t;
    while ((t = hs_list_next(v, &pos)).base)
        if (hs_iov_ieq(t, tok, strlen(tok)))
            return true;
    return false;
}

int api_r_websocket_echo(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t upgrade = hs_req_header(req, HS_HDR_UPGRADE);
    if (req->p.method_id != HS_METHOD_GET || !req->meta.upgrade || !upgrade.base ||
        !header_has_token(upgrade, "websocket") || req->p.minor_version == 0) {
        HS_RES_HEADER(req, "Upgrade", "websocket");
        HS_RES_HEADER(req, "Connection", "Upgrade");
        return api_fail(req, 426,
                        "this is a WebSocket endpoint: send GET with Upgrade: websocket, Connection: Upgrade, "
                        "Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key (RFC 6455 §4.1)");
    }
    hs_iovec_t version = hs_req_header_named(req, "sec-websocket-version");
    if (!version.base || !HS_IOV_EQ(version, "13")) {
        HS_RES_HEADER(req, "Upgrade", "websocket");
        HS_RES_HEADER(req, "Connection", "Upgrade");
        HS_RES_HEADER(req, "Sec-WebSocket-Version", "13");
        return api_fail(req, 426, "only WebSocket version 13 (RFC 6455) is spoken here");
    }
    hs_iovec_t key = hs_req_header_named(req, "sec-websocket-key");
    unsigned char raw[32];
    size_t rawlen = 0;
    if (!key.base || key.len != 24 || !hs_base64_decode(raw, &rawlen, key.base, key.len, 0) || rawlen != 16)
        return api_fail(req, 400, "Sec-WebSocket-Key must be 16 random bytes in base64 (RFC 6455 §4.1)");
    ws_t *ws = hs_calloc(1, sizeof(*ws));
    ws->max_message = 1024 * 1024;
    if (!api_arg_u64(req, "max_message", ws->max_message, UINT64_MAX / 2, &ws->max_message) ||
        !api_check_bytes(req, "max_message", ws->max_message)) {
        free(ws);
        return HS_OK;
    }
    /* §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key ++ GUID)) */
    char buf[24 + sizeof(WS_GUID)];
    memcpy(buf, key.base, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int shalen = 0;
    EVP_Digest(buf, 24 + sizeof(WS_GUID) - 1, sha, &shalen, EVP_sha1(), NULL);
    char *accept = hs_arena_alloc(&req->arena, 32);
    size_t alen = hs_base64_encode(accept, sha, shalen, 0);
    API_SET_CTX(req, ws);
    hs_req_cleanup(req, ws_free, ws);
    HS_RES_HEADER(req, "Upgrade", "websocket");
    HS_RES_HEADER(req, "Connection", "Upgrade");
    hs_res_header(req, HS_IOV("Sec-WebSocket-Accept"), hs_iov(accept, alen));
    return hs_res_upgrade(req, &ws_handler);
}
