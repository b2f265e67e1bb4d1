/* statusd — client-testing API: asynchronous jobs (202 Accepted → 303 See Other).
 *   POST /jobs?seconds=S     202 Accepted, Location: /jobs/{id}; the job "runs" for S seconds
 *                            (default 2, at most --api-max-duration)
 *   GET  /jobs/{id}          200 with {"status": "running", "progress": …} and Retry-After while it
 *                            runs; 303 See Other to /jobs/{id}/result once it is done
 *   GET  /jobs/{id}/result   200 with the result (404 while the job is still running)
 * A job id carries its start time, its length and an HMAC of both, so the job needs no table:
 * any worker (the follow-up request may land on another one) can tell its state from the clock,
 * and an id this process did not issue is 404. */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

/* id = 16 hex start ms, '-', 8 hex duration ms, '-', 24 hex HMAC */
#define ID_LEN (16 + 1 + 8 + 1 + 24)

static bool parse_id(hs_iovec_t id, uint64_t *start, uint64_t *duration)
{
    if (id.len != ID_LEN || id.base[16] != '-' || id.base[25] != '-')
        return false;
    char mac[25];
    hs_mac_hex(id.base, 25, mac, 24);
    if (memcmp(mac, id.base + 26, 24) != 0)
        return false;
    char tmp[17];
    memcpy(tmp, id.base, 16);
    tmp[16] = '\0';
    *start = strtoull(tmp, NULL, 16);
    memcpy(tmp, id.base + 17, 8);
    tmp[8] = '\0';
    *duration = strtoull(tmp, NULL, 16);
    return true;
}

static int create(hs_req_t *req)
{
    uint64_t ms;
    if (!api_arg_ms(req, "seconds", 1000, 2000, &ms))
        return HS_OK;
    char id[ID_LEN + 1];
    snprintf(id, sizeof(id), "%016llx-%08llx-", (unsigned long long)api_now_ms(req), (unsigned long long)ms);
    hs_mac_hex(id, 25, id + 26, 24);
    hs_iovec_t monitor = api_path(req, "/jobs/%s", id);
    hs_res_header(req, HS_IOV("Location"), monitor);
    hs_buf_t b = {0};
    hs_buf_printf(&b, "{\n  \"id\": \"%s\",\n  \"status\": \"queued\",\n  \"seconds\": %.3f,\n  \"monitor\": ", id,
                  (double)ms / 1000);
    hs_json_str(&b, monitor.base, monitor.len);
    HS_BUF_LIT(&b, "\n}\n");
    return api_send_buf(req, 202, &b, "application/json");
}

static void on_create_body(hs_req_t *req)
{
    create(req);
}

int api_r_jobs(hs_req_t *req, hs_iovec_t rest)
{
    hs_method_t m = req->p.method_id;
    if (rest.len == 0) {
        if (m != HS_METHOD_POST)
            return hs_res_method_not_allowed(req, "POST, OPTIONS");
        return hs_req_read_body(req, on_create_body);
    }
    if (m != HS_METHOD_GET && m != HS_METHOD_HEAD)
        return hs_res_method_not_allowed(req, "GET, HEAD, OPTIONS");
    bool result = false;
    hs_iovec_t id = rest;
    if (id.len > 7 && memcmp(id.base + id.len - 7, "/result", 7) == 0) {
        result = true;
        id.len -= 7;
    }
    uint64_t start, duration;
    if (!parse_id(id, &start, &duration))
        return api_fail(req, 404, "no such job (ids are issued by POST %s/jobs)", API_PREFIX(req));
    uint64_t now = api_now_ms(req), elapsed = now - start;
    bool done = elapsed >= duration;
    hs_buf_t b = {0};
    if (result) {
        if (!done)
            return api_fail(req, 404, "the job has no result yet: poll %s/jobs/%.*s", API_PREFIX(req), (int)id.len,
                            id.base);
        hs_buf_printf(&b, "{\n  \"id\": \"%.*s\",\n  \"status\": \"done\",\n  \"result\": {\"answer\": 42}\n}\n",
                      (int)id.len, id.base);
        return api_send_buf(req, 200, &b, "application/json");
    }
    if (done) {
        /* RFC 9110 §15.4.4: the answer is elsewhere; GET it */
        hs_res_header(req, HS_IOV("Location"), api_path(req, "/jobs/%.*s/result", (int)id.len, id.base));
        return hs_res_send(req, 303);
    }
    uint64_t left = duration - elapsed;
    hs_res_headerf(req, "Retry-After", "%llu", (unsigned long long)((left + 999) / 1000));
    hs_buf_printf(
        &b, "{\n  \"id\": \"%.*s\",\n  \"status\": \"running\",\n  \"progress\": %.3f,\n  \"seconds_left\": %.3f\n}\n",
        (int)id.len, id.base, duration ? (double)elapsed / (double)duration : 1.0, (double)left / 1000);
    return api_send_buf(req, 200, &b, "application/json");
}
