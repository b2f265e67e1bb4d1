/* statusd — HTTP-date (RFC 9110 §5.6.7), implemented in src/http/date.c.
 *
 * Neither function allocates or keeps a pointer to what it is given. */
#ifndef HS_DATE_H
#define HS_DATE_H

#include <stdbool.h>
#include <time.h>

/* hs_iovec_t is defined in hs/core.h; this header needs only its name, so that hs/core.h can
 * include it (for src/event/epoll.c) without an include cycle. */
typedef struct hs_iovec_s hs_iovec_t;

/* The times an HTTP-date can write: 0000-01-01 00:00:00 .. 9999-12-31 23:59:59 GMT. */
#define HS_HTTP_DATE_MIN (-62167219200LL)
#define HS_HTTP_DATE_MAX 253402300799LL

/* IMF-fixdate for t into out: 29 bytes and a NUL, t clamped to the range above. RFC 9110 §5.6.7 */
void hs_http_date(time_t t, char out[30]);

/* Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime) into *out; false when invalid (bad
 * syntax, a day the month does not have), *out then untouched. Dates before 1970 are negative.
 * RFC 9110 §5.6.7 */
bool hs_http_date_parse(hs_iovec_t s, time_t *out);

#endif
