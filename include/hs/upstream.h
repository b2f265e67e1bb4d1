/* statusd — why an upstream exchange failed: the gateway's cause table (src/http/upstream.def)
 * and the Proxy-Status field (RFC 9209) that reports it.
 *
 * One id per cause feeds the status the gateway answers with (in each of the three
 * `proxy.errors` modes), the Proxy-Status error type, the access log, metrics and `statusd
 * explain`. The table is data: add a cause there, not in code. Nothing here allocates except
 * hs_proxy_status_format, into the buffer it is given. */
#ifndef HS_UPSTREAM_H
#define HS_UPSTREAM_H

#include "hs/core.h"

/* Flags of a cause (a bit set). */
enum {
    HS_UPC_NOT_SENT = 1u << 0,    /* the request never reached the upstream: any method may be tried elsewhere */
    HS_UPC_TIMEOUT = 1u << 1,     /* a timeout, not a refusal or a protocol error */
    HS_UPC_RETRY_AFTER = 1u << 2, /* the 503 carries Retry-After */
    HS_UPC_AFTER_HEAD = 1u << 3,  /* happens after the response head went on: status unchanged */
};

/* Causes as an enum: HS_UP_CONNECT_REFUSED … ; HS_UP_NONE (0) is "no failure". */
typedef enum {
    HS_UP_NONE = 0,
#define HS_CAUSE(sym, id, type, st, de, to, flags, summary) HS_UP_##sym,
#include "../../src/http/upstream.def"
#undef HS_CAUSE
    HS_UP__COUNT
} hs_up_cause_t;

/* The three answers of the table: `proxy.errors: standard|detailed|timeouts`. */
typedef enum {
    HS_PROXY_ERRORS_STANDARD = 0, /* 502 / 503 / 504 */
    HS_PROXY_ERRORS_DETAILED,     /* Cloudflare's 52x and 530 */
    HS_PROXY_ERRORS_TIMEOUTS,     /* 598 / 599 for the timeouts */
} hs_proxy_errors_t;

/* Where in an exchange a failure happened (the access log's phase field). */
typedef enum {
    HS_UP_PHASE_NONE = 0,
    HS_UP_PHASE_RESOLVE, /* "resolve": looking the name up */
    HS_UP_PHASE_CONNECT, /* "connect" */
    HS_UP_PHASE_TLS,     /* "tls": the handshake */
    HS_UP_PHASE_SEND,    /* "send": writing the request head or body */
    HS_UP_PHASE_WAIT,    /* "wait": request sent, no response byte yet */
    HS_UP_PHASE_HEADERS, /* "headers": some of the response head arrived */
    HS_UP_PHASE_BODY,    /* "body": the response body (or the tunnel after a 101) */
    HS_UP_PHASE__COUNT
} hs_up_phase_t;

typedef struct hs_up_cause_info_s {
    hs_up_cause_t cause;
    const char *id;         /* "connect_refused" */
    const char *error_type; /* RFC 9209 §2.3 type: "connection_refused" */
    uint16_t status[3];     /* by hs_proxy_errors_t; 0 = status unchanged (HS_UPC_AFTER_HEAD) */
    uint32_t flags;         /* HS_UPC_* */
    const char *summary;
} hs_up_cause_info_t;

/* The entry of a cause, or NULL for HS_UP_NONE and unknown values. O(1). */
const hs_up_cause_info_t *hs_up_cause(int cause);
/* The entry with this id ("connect_refused"), or NULL. */
const hs_up_cause_info_t *hs_up_cause_by_id(hs_iovec_t id);
/* The whole table in the order of the enum; *count receives its length. */
const hs_up_cause_info_t *hs_up_cause_table(size_t *count);
/* The status to answer with for `cause` in `mode`: 0 when the status stays as it was (a failure
 * after the head) or for HS_UP_NONE. */
int hs_up_cause_status(int cause, hs_proxy_errors_t mode);
/* "resolve", "connect", "tls", "send", "wait", "headers", "body"; "-" for none. */
const char *hs_up_phase_name(int phase);

/* ---- Proxy-Status (RFC 9209 §2) ----
 * One list member, this gateway's: `NAME; error=TYPE; details="…"` for a failure (a received TLS
 * alert adds `alert-id=40; alert-message="handshake_failure"` after the type), or `NAME;
 * received-status=N` for a relayed response (both when a relayed response failed later is not
 * possible: a member has either). NAME is `proxy` when it is a valid sf-token (RFC 8941 §3.3.4),
 * else it is sent as an sf-string. next_hop and details are sf-strings (RFC 8941 §3.3.3): `"`
 * and `\` are escaped, and bytes outside 0x20-0x7E, which an sf-string cannot carry, become
 * '?'. Members are appended to `out` (a growable buffer the caller frees), separated from what
 * is there by ", " (RFC 9209 §2: each intermediary appends its own). */
typedef struct hs_proxy_status_s {
    const char *proxy;   /* this gateway's name; NULL = "statusd" */
    int cause;           /* HS_UP_*; HS_UP_NONE with received_status for a relayed response */
    int received_status; /* the upstream's status, 0 = none */
    hs_iovec_t next_hop; /* the upstream ("127.0.0.1:9000"); NULL base = left out (the default: it
                            reveals internal addresses) */
    hs_iovec_t details;  /* free text; NULL base = left out */
    int tls_alert;       /* with HS_UP_TLS_ALERT: the alert's number (0-255), sent as alert-id and,
                            when the IANA registry names it, alert-message (RFC 9209 §2.3.15) */
} hs_proxy_status_t;
void hs_proxy_status_format(hs_buf_t *out, const hs_proxy_status_t *ps);

/* ---- Loop detection (RFC 9110 §7.6.3) ----
 * True when a Via field value lists `pseudonym` as a received-by (case-insensitive): the
 * request already passed through this gateway (cause HS_UP_PROXY_LOOP_DETECTED). */
bool hs_via_has(hs_iovec_t via, hs_iovec_t pseudonym);

#endif
