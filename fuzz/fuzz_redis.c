/* statusd fuzz target: what comes from configuration or from Redis into the shared stores —
 * store.redis URLs (src/store/common.c), replies read with the bounded reply functions
 * (src/store/adapter.c) and checked as the rate-limit scripts' answers (common.c), and WebDAV lock
 * records (src/modules/webdav/store_redis.c).
 *
 * Input: pieces separated by "\xff\xfe": [URL] [RESP bytes] [a lock record] [rule bytes].
 *
 * Checks (beyond no crash/over-read/leak/abort — hiredis 0.14 asserts on some inputs its own
 * functions would take, ours must refuse them instead):
 *   URL         HS_ERROR with a message, or an address whose port is 1..65535 / whose path is
 *               absolute, and which formats back to a URL that parses to the same address;
 *   replies     the reader never returns an array larger than the bound; a GCRA reply that is
 *               believed gives a result with remaining <= capacity, retry-after 0 exactly when
 *               admitted, and the same result as hs_gcra_step on the state it describes; a
 *               budget reply that is believed has reset <= period and remaining = bytes - used;
 *               with a fake async context that waits for nothing, every top-level reply is
 *               refused (the reader reports an error);
 *   records     a record that parses makes the same record again (a round trip), and its root
 *               holds no NUL. */
#include "../src/modules/webdav/store.h"
#include "../src/store/redis.h"
#include "fuzz_util.h"

static void check_url(const uint8_t *p, size_t n)
{
    char *s = fuzz_dup(p, n);
    hs_redis_addr_t a, b;
    const char *err = NULL;
    if (hs_redis_url_parse(hs_iov(s, n), &a, &err) == HS_OK) {
        FUZZ_CHECK(a.unix_socket ? a.path[0] == '/' : (a.port >= 1 && a.port <= 65535 && a.host[0]),
                   "an address without a port or path");
        char back[HS_REDIS_PATH_MAX + HS_REDIS_HOST_MAX + 16];
        hs_redis_addr_format(&a, back, sizeof(back));
        FUZZ_CHECK(hs_redis_url_parse(hs_iov_cstr(back), &b, &err) == HS_OK, "formatted URL refused: %s", back);
        FUZZ_CHECK(a.unix_socket == b.unix_socket && !strcmp(a.path, b.path) && !strcmp(a.host, b.host) &&
                       a.port == b.port,
                   "the round trip changed the address: %s", back);
    } else {
        FUZZ_CHECK(err && *err, "an error without a message");
    }
    free(s);
}

static void check_gcra(const redisReply *r, const uint8_t *rule, size_t rn)
{
    bool admitted;
    uint64_t ahead;
    if (hs__redis_gcra_reply(r, &admitted, &ahead) != HS_OK)
        return;
    FUZZ_CHECK(ahead <= 1ULL << 62, "ahead beyond 2^62");
    uint64_t count = 1 + (rn > 0 ? rule[0] % 50 : 9), burst = rn > 1 ? rule[1] % 40 : 10;
    uint32_t cost = rn > 2 ? rule[2] % 8 : 1;
    hs_gcra_t g;
    const char *err;
    if (hs_gcra_init(&g, count, 1000, burst, &err) != HS_OK)
        return;
    hs_limit_result_t out;
    if (hs__redis_gcra_result(&g, cost, admitted, ahead, &out) != HS_OK)
        return;
    FUZZ_CHECK(out.remaining <= g.capacity, "remaining %u > capacity %u", out.remaining, g.capacity);
    FUZZ_CHECK(out.allowed == (out.retry_after_ns == 0), "retry-after and the verdict disagree");
    FUZZ_CHECK(out.allowed == admitted || cost > g.capacity, "a verdict other than the script's");
    uint64_t tat = (1ULL << 62) + ahead;
    hs_limit_result_t want;
    hs_gcra_step(&g, &tat, 1ULL << 62, cost, &want);
    FUZZ_CHECK(want.allowed == out.allowed && want.remaining == out.remaining && want.reset_ns == out.reset_ns &&
                   want.retry_after_ns == out.retry_after_ns,
               "not hs_gcra_step's result");
}

static void check_budget(const redisReply *r)
{
    hs_budget_t b;
    const char *err;
    if (hs_budget_init(&b, 1000, 3600000, &err) != HS_OK)
        abort();
    hs_budget_result_t out;
    if (hs__redis_budget_reply(&b, r, &out) != HS_OK)
        return;
    FUZZ_CHECK(out.reset_ms > 0 && out.reset_ms <= b.period_ms, "reset beyond the period");
    FUZZ_CHECK(out.period_end_ms % b.period_ms == 0, "a period end off the grid");
    FUZZ_CHECK(out.exhausted == (out.used >= b.bytes) && out.remaining == (out.exhausted ? 0 : b.bytes - out.used),
               "used and remaining disagree");
}

static void check_record(hs_arena_t *a, const char *rec, size_t n)
{
    hs__dav_lock_t l;
    if (hs__dav_redis_record_parse(a, rec, n, HS_IOV("urn:uuid:x"), &l) != HS_OK)
        return;
    FUZZ_CHECK(!memchr(l.root.base, '\0', l.root.len), "a root with a NUL");
    hs_buf_t b = {0};
    if (hs__dav_redis_record_make(&b, &l) == HS_OK)
        FUZZ_CHECK(b.len == n && !memcmp(b.base, rec, n), "the record does not make itself again");
    hs_buf_free(&b);
}

static void check_replies(const uint8_t *p, size_t n, const uint8_t *rule, size_t rn, bool waiting)
{
    redisReader *rd = redisReaderCreateWithFunctions(&hs__redis_reply_functions);
    if (!rd)
        abort();
    redisAsyncContext fake;
    memset(&fake, 0, sizeof(fake));
    rd->privdata = waiting ? NULL : &fake; /* a context with no command waiting: nothing is wanted */
    if (redisReaderFeed(rd, (const char *)p, n) != REDIS_OK)
        abort();
    hs_arena_t a;
    hs_arena_init(&a);
    for (int i = 0; i < 64; i++) {
        void *reply = NULL;
        if (redisReaderGetReply(rd, &reply) != REDIS_OK)
            break; /* refused or malformed: the connection would be dropped */
        if (!reply)
            break;
        FUZZ_CHECK(waiting, "a reply nobody waits for was accepted");
        const redisReply *r = reply;
        FUZZ_CHECK(r->type != REDIS_REPLY_ARRAY || r->elements <= 100000, "an array beyond the bound");
        check_gcra(r, rule, rn);
        check_budget(r);
        if (r->type == REDIS_REPLY_STRING)
            check_record(&a, r->str, r->len);
        if (r->type == REDIS_REPLY_ARRAY)
            for (size_t k = 0; k < r->elements; k++)
                if (r->element[k]->type == REDIS_REPLY_STRING)
                    check_record(&a, r->element[k]->str, r->element[k]->len);
        freeReplyObject(reply);
    }
    hs_arena_reset(&a);
    redisReaderFree(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *piece[4] = {NULL};
    size_t len[4] = {0};
    size_t k = 0, start = 0;
    for (size_t i = 0; i + 1 < size && k < 3; i++)
        if (data[i] == 0xff && data[i + 1] == 0xfe) {
            piece[k] = data + start;
            len[k++] = i - start;
            start = i + 2;
            i++;
        }
    piece[k] = data + start;
    len[k] = size - start;
    check_url(piece[0] ? piece[0] : data, len[0]);
    if (piece[1]) {
        char *resp = fuzz_dup(piece[1], len[1]);
        check_replies((const uint8_t *)resp, len[1], piece[3], len[3], true);
        check_replies((const uint8_t *)resp, len[1], piece[3], len[3], false);
        free(resp);
    }
    if (piece[2]) {
        hs_arena_t a;
        hs_arena_init(&a);
        char *rec = fuzz_dup(piece[2], len[2]);
        check_record(&a, rec, len[2]);
        free(rec);
        hs_arena_reset(&a);
    }
    return 0;
}
