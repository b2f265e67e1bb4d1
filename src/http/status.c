/* statusd — the status-code registry, built at compile time from status.def.
 *
 * The table is the .def file in order (sorted by code; the unit test checks it). Lookup by
 * code goes through a 1000-entry index built by designated initializers, so hs_status_get is
 * one bounds check and two loads, with no initialisation at run time and no locking. A code
 * listed twice in status.def is a compile error (duplicate case label below); a symbol listed
 * twice is one too (duplicate enumerator). Sort order is checked by the unit test. */
#include "hs/status.h"

static const hs_status_info_t status_table[] = {
#define HS_STATUS(code_, sym_, reason_, origin_, ref_, flags_, req_, rec_, summary_, expl_)                            \
    {                                                                                                                  \
        .code = (code_),                                                                                               \
        .symbol = #sym_,                                                                                               \
        .reason = (reason_),                                                                                           \
        .origin = (origin_),                                                                                           \
        .ref = (ref_),                                                                                                 \
        .flags = (uint32_t)(flags_),                                                                                   \
        .required = (uint32_t)(req_),                                                                                  \
        .recommended = (uint32_t)(rec_),                                                                               \
        .summary = (summary_),                                                                                         \
        .explanation = (expl_),                                                                                        \
    },
#include "status.def"
#undef HS_STATUS
};

#define STATUS_COUNT (sizeof(status_table) / sizeof(status_table[0]))

/* Position of each entry in status_table, as an enum so it can size and fill the index. */
enum {
#define HS_STATUS(code_, sym_, reason_, origin_, ref_, flags_, req_, rec_, summary_, expl_) STATUS_POS_##sym_,
#include "status.def"
#undef HS_STATUS
    STATUS_POS_COUNT
};

_Static_assert(STATUS_POS_COUNT < 255, "the index stores positions + 1 in a uint8_t");

/* Every code is a three-digit number (100..999). */
#define HS_STATUS(code_, sym_, reason_, origin_, ref_, flags_, req_, rec_, summary_, expl_)                            \
    _Static_assert((code_) >= 100 && (code_) <= 999, "status code out of range: " #code_);
#include "status.def"
#undef HS_STATUS

/* Never called: exists so that a code listed twice makes two identical case labels. */
__attribute__((unused)) static int status_codes_are_unique(int code)
{
    switch (code) {
#define HS_STATUS(code_, sym_, reason_, origin_, ref_, flags_, req_, rec_, summary_, expl_) case (code_):
#include "status.def"
#undef HS_STATUS
        return 1;
    default: return 0;
    }
}

/* index[code] = position in status_table + 1; 0 = not in the registry. */
static const uint8_t status_index[1000] = {
#define HS_STATUS(code_, sym_, reason_, origin_, ref_, flags_, req_, rec_, summary_, expl_)                            \
    [(code_)] = (uint8_t)(STATUS_POS_##sym_ + 1),
#include "status.def"
#undef HS_STATUS
};

const hs_status_info_t *hs_status_get(int code)
{
    if (code < 0 || code >= (int)(sizeof(status_index) / sizeof(status_index[0])))
        return NULL;
    unsigned pos = status_index[code];
    return pos ? &status_table[pos - 1] : NULL;
}

const char *hs_status_reason(int code)
{
    const hs_status_info_t *info = hs_status_get(code);
    return info ? info->reason : "Unknown";
}

const hs_status_info_t *hs_status_table(size_t *count)
{
    if (count)
        *count = STATUS_COUNT;
    return status_table;
}

const char *hs_status_origin_name(hs_status_origin_t origin)
{
    switch (origin) {
    case HS_ORIGIN_IANA: return "IANA";
    case HS_ORIGIN_NGINX: return "nginx";
    case HS_ORIGIN_IIS: return "IIS";
    case HS_ORIGIN_MICROSOFT: return "Microsoft";
    case HS_ORIGIN_APACHE: return "Apache";
    case HS_ORIGIN_CLOUDFLARE: return "Cloudflare";
    case HS_ORIGIN_PROXY: return "proxy convention";
    case HS_ORIGIN_HTCPCP: return "HTCPCP";
    }
    return "unknown";
}

/* NULL unless `bit` is exactly one HS_RH_* bit. HS_RH_CONNECTION_CLOSE names the field
 * (Connection); its value must be "close". */
const char *hs_status_header_name(uint32_t bit)
{
    switch (bit) {
    case HS_RH_LOCATION: return "Location";
    case HS_RH_ALLOW: return "Allow";
    case HS_RH_WWW_AUTHENTICATE: return "WWW-Authenticate";
    case HS_RH_PROXY_AUTHENTICATE: return "Proxy-Authenticate";
    case HS_RH_CONTENT_RANGE: return "Content-Range";
    case HS_RH_RETRY_AFTER: return "Retry-After";
    case HS_RH_UPGRADE: return "Upgrade";
    case HS_RH_LINK: return "Link";
    case HS_RH_IM: return "IM";
    case HS_RH_ETAG: return "ETag";
    case HS_RH_ACCEPT: return "Accept";
    case HS_RH_CONNECTION_CLOSE: return "Connection";
    case HS_RH_RATELIMIT: return "RateLimit";
    default: return NULL;
    }
}

/* RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content; everything else may.
 * Unregistered codes follow their class (an unknown 1xx is still interim). */
int hs_status_allows_body(int code)
{
    if (code >= 100 && code <= 199)
        return 0;
    const hs_status_info_t *info = hs_status_get(code);
    if (info)
        return !(info->flags & HS_SF_NOBODY);
    return 1;
}
