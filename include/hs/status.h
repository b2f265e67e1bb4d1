/* statusd — the status-code registry.
 *
 * Every status code statusd knows is listed exactly once in src/http/status.def
 * (an X-macro table). Everything else — the reason phrase on the status line,
 * the precomputed status lines, the no-body rule, required headers, error pages,
 * `statusd explain`, `/codes` — is derived from that table.
 *
 * Every pointer these functions return is to static, read-only data that lives as long as the
 * process; nothing is allocated.
 */
#ifndef HS_STATUS_H
#define HS_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* Where a code comes from. */
typedef enum {
    HS_ORIGIN_IANA = 0, /* registered with IANA; `ref` names the RFC and section */
    HS_ORIGIN_NGINX,
    HS_ORIGIN_IIS,
    HS_ORIGIN_MICROSOFT,
    HS_ORIGIN_APACHE,
    HS_ORIGIN_CLOUDFLARE,
    HS_ORIGIN_PROXY,  /* proxy convention (598/599) */
    HS_ORIGIN_HTCPCP, /* RFC 2324/7168 (418) — not IANA-registered for HTTP */
} hs_status_origin_t;

/* Flags (bit set). */
enum {
    HS_SF_NOBODY = 1u << 0,     /* a response with this code never has content (1xx, 204, 304) */
    HS_SF_CACHEABLE = 1u << 1,  /* heuristically cacheable by default (RFC 9110 §15.1) */
    HS_SF_DEPRECATED = 1u << 2, /* deprecated: never generated organically (305) */
    HS_SF_RESERVED = 1u << 3,   /* reserved / unused (306, 402) */
    HS_SF_UNOFFICIAL = 1u << 4, /* not in the IANA registry */
    HS_SF_LOGONLY = 1u << 5,    /* never sent on the wire, only logged (444, 494, 499) */
    HS_SF_INTERIM = 1u << 6,    /* 1xx: interim, never final */
    HS_SF_CLOSE = 1u << 7,      /* statusd closes the connection after sending it (408, 413 …) */
    HS_SF_HISTORIC = 1u << 8,   /* no longer used by its vendor (527) */
};

/* Header bits used for required/recommended header masks. */
enum {
    HS_RH_LOCATION = 1u << 0,
    HS_RH_ALLOW = 1u << 1,
    HS_RH_WWW_AUTHENTICATE = 1u << 2,
    HS_RH_PROXY_AUTHENTICATE = 1u << 3,
    HS_RH_CONTENT_RANGE = 1u << 4,
    HS_RH_RETRY_AFTER = 1u << 5,
    HS_RH_UPGRADE = 1u << 6,
    HS_RH_LINK = 1u << 7,
    HS_RH_IM = 1u << 8,
    HS_RH_ETAG = 1u << 9,
    HS_RH_ACCEPT = 1u << 10, /* Accept or Accept-Encoding / Accept-Patch on 415 */
    HS_RH_CONNECTION_CLOSE = 1u << 11,
    HS_RH_RATELIMIT = 1u << 12,
};

typedef struct hs_status_info_s {
    uint16_t code;
    const char *symbol; /* e.g. "NOT_FOUND" */
    const char *reason; /* reason phrase as sent on the status line */
    hs_status_origin_t origin;
    const char *ref;         /* "RFC 9110 §15.5.5" or vendor reference */
    uint32_t flags;          /* HS_SF_* */
    uint32_t required;       /* HS_RH_* a response with this code must carry */
    uint32_t recommended;    /* HS_RH_* a response with this code should carry */
    const char *summary;     /* one line, our own words */
    const char *explanation; /* a few sentences: meaning, when statusd sends it, what a client does */
} hs_status_info_t;

/* Codes as an enum: HS_STATUS_OK = 200, HS_STATUS_NOT_FOUND = 404, … */
typedef enum {
#define HS_STATUS(code, sym, reason, origin, ref, flags, req, rec, summary, expl) HS_STATUS_##sym = code,
#include "../../src/http/status.def"
#undef HS_STATUS
} hs_status_code_t;

/* The info for `code`, or NULL if the registry does not know it. O(1). */
const hs_status_info_t *hs_status_get(int code);

/* Reason phrase for any 100..999 code; "Unknown" for codes not in the registry. Never NULL. */
const char *hs_status_reason(int code);

/* The whole table, sorted by code; *count receives its length. */
const hs_status_info_t *hs_status_table(size_t *count);

/* "IANA", "nginx", "IIS", "Microsoft", "Apache", "Cloudflare", "proxy convention", "HTCPCP". */
const char *hs_status_origin_name(hs_status_origin_t origin);

/* Header name for one HS_RH_* bit ("Location", "Allow", …). */
const char *hs_status_header_name(uint32_t bit);

/* True when a response with `code` may carry content (RFC 9110 §6.4.1). */
int hs_status_allows_body(int code);

#endif
