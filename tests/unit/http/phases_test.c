/* Unit tests for a request's phases (src/http/request.c): rewrite, access and content in order,
 * HS_DECLINED / HS_OK / HS_AGAIN + hs_req_resume / an answer in a phase, the log phase once per
 * request with the final status, cleanups after it, per-request context slots. A test module is
 * put in front of the real ones (srv.modules) of an in-process server serving the API. */
#define _GNU_SOURCE
#include "tap.h"

#include <signal.h>
#include <string.h>

#include "../lib/rig.h"

static char trace[256];
static int logged_status, logs, cleanups;

static void note(const char *what)
{
    strncat(trace, what, sizeof(trace) - strlen(trace) - 1);
}

/* What the test module does this time, read from the request's X-Phase field. */
static hs_iovec_t mode(hs_req_t *req)
{
    hs_iovec_t v = hs_req_header_named(req, "x-phase");
    return v.base ? v : HS_IOV("");
}

static hs_module_t testmod;

static void resume_later(hs_req_t *req)
{
    note("T");
    hs_req_resume(req);
}

static void cleanup(void *arg)
{
    cleanups++;
    note((const char *)arg);
}

static int rewrite(hs_req_t *req)
{
    note("R");
    hs_req_log_field(req, "rule", "allow:%s", "10.0.0.0/8");
    hs_req_log_field(req, "note", "two words, \"quoted\"");
    hs_req_log_field(req, "empty", "%s", "");
    hs_req_set_ctx(req, &testmod, "ctx");
    hs_req_cleanup(req, cleanup, "C1");
    hs_req_cleanup(req, cleanup, "C2");
    if (HS_IOV_EQ(mode(req), "rewrite-ok"))
        return HS_OK;
    return HS_DECLINED;
}

static int access_phase(hs_req_t *req)
{
    note("A");
    if (strcmp(hs_req_ctx(req, &testmod), "ctx") != 0)
        note("!ctx");
    hs_iovec_t m = mode(req);
    if (HS_IOV_EQ(m, "deny"))
        return hs_res_error(req, 403, "denied by the test module"), HS_DONE;
    if (HS_IOV_EQ(m, "async")) {
        hs_req_set_timer(req, 5, resume_later);
        return HS_AGAIN;
    }
    if (HS_IOV_EQ(m, "resume-inside")) {
        hs_req_resume(req); /* before returning HS_AGAIN: the phases carry on once it returns */
        return HS_AGAIN;
    }
    return HS_DECLINED;
}

static void log_phase(hs_req_t *req)
{
    logs++;
    logged_status = req->log_status;
    note("L");
}

/* ---- an upgraded connection that pauses reading ---- */
static hs_buf_t got;
static int data_calls;
static bool paused_seen_data;

static void up_resume(hs_req_t *req)
{
    hs_upgraded_pause(req, false);
}

static void up_data(hs_req_t *req, const char *data, size_t len)
{
    data_calls++;
    hs_buf_append(&got, data, len);
    hs_upgraded_write(req, data, len); /* echo */
    if (data_calls == 1) {
        /* hold the peer back for a while: nothing more may be handed over meanwhile */
        hs_upgraded_pause(req, true);
        hs_req_set_timer(req, 50, up_resume);
    }
}

static const hs_upgrade_t up_handler = {.on_data = up_data};

static hs_module_t testmod;
static int upgrade_access(hs_req_t *req)
{
    if (!HS_IOV_EQ(mode(req), "upgrade"))
        return access_phase(req);
    HS_RES_HEADER(req, "Upgrade", "echo");
    HS_RES_HEADER(req, "Connection", "Upgrade");
    hs_res_upgrade(req, &up_handler);
    return HS_DONE;
}

static hs_module_t testmod = {
    .name = "test",
    .rewrite = rewrite,
    .access = upgrade_access,
    .log = log_phase,
};

static hs_module_t *mods[HS_MAX_MODULES + 1];

/* The test module first, then the real ones. */
static void with_test_module(rig_t *r)
{
    size_t n = 0;
    mods[n++] = &testmod;
    for (size_t i = 0; hs_modules[i]; i++)
        mods[n++] = hs_modules[i];
    mods[n] = NULL;
    hs_server_use_modules(&r->srv, mods);
}

static void one(const char *phase, const char *want_status, const char *want_trace, int want_log)
{
    char log[] = "/tmp/statusd-phases-log-XXXXXX";
    int lfd = mkstemp(log);
    close(lfd);
    static const char *set[][2] = {{"access_log", NULL}};
    set[0][1] = log;
    rig_t r;
    if (!ok(rig_start(&r, (const char *const(*)[2])set, 1) == HS_OK, "%s: server starts", phase))
        return;
    with_test_module(&r);
    trace[0] = '\0';
    logs = cleanups = logged_status = 0;
    char req[256];
    int len =
        snprintf(req, sizeof(req), "GET /get HTTP/1.1\r\nHost: t\r\nX-Phase: %s\r\nConnection: close\r\n\r\n", phase);
    char *out = rig_exchange(&r, req, (size_t)len, 0);
    ok(strncmp(out, want_status, strlen(want_status)) == 0, "%s: answered %.12s", phase, out);
    free(out);
    hs__access_log_flush(&r.w);
    rig_stop(&r);
    char line[2048] = "";
    FILE *f = fopen(log, "r");
    if (f && !fgets(line, sizeof(line), f))
        line[0] = '\0';
    if (f)
        fclose(f);
    unlink(log);
    ok(strstr(line, "\" 0.") &&
           strstr(line, " rule=allow:10.0.0.0/8 note=\"two words, \\x22quoted\\x22\" empty=\"\"\n"),
       "%s: the modules' fields end the log line (%s)", phase, line);
    ok(strcmp(trace, want_trace) == 0, "%s: phases ran as %s (%s)", phase, want_trace, trace);
    is_int(logs, 1, "%s: the log phase ran once", phase);
    is_int(logged_status, want_log, "%s: it saw the final status", phase);
    is_int(cleanups, 2, "%s: both cleanups ran", phase);
}

static void test_upgrade_pause(void)
{
    static const char *const set[][2] = {{"access_log", "off"}};
    rig_t r;
    if (!ok(rig_start(&r, set, 1) == HS_OK, "upgrade: server starts"))
        return;
    with_test_module(&r);
    static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\nX-Phase: upgrade\r\nUpgrade: echo\r\n"
                              "Connection: Upgrade\r\n\r\n";
    char *head = rig_exchange(&r, req, sizeof(req) - 1, 10);
    ok(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "upgrade: 101 (%.12s)", head);
    free(head);
    got.len = 0;
    data_calls = 0;
    send(r.client, "first", 5, MSG_NOSIGNAL);
    for (int i = 0; i < 5 && data_calls == 0; i++)
        hs_loop_run_once(&r.w.loop, 5);
    send(r.client, "second", 6, MSG_NOSIGNAL);
    for (int i = 0; i < 4; i++)
        hs_loop_run_once(&r.w.loop, 5); /* well inside the 50 ms pause */
    paused_seen_data = data_calls > 1;
    ok(data_calls == 1 && !paused_seen_data, "upgrade: paused, the second piece waits (%d calls)", data_calls);
    for (int i = 0; i < 40 && got.len < 11; i++)
        hs_loop_run_once(&r.w.loop, 5);
    ok(got.len == 11 && memcmp(got.base, "firstsecond", 11) == 0, "upgrade: resumed, every byte once, in order");
    char echo[64];
    ssize_t k = recv(r.client, echo, sizeof(echo), MSG_DONTWAIT);
    ok(k == 11 && memcmp(echo, "firstsecond", 11) == 0, "upgrade: echoed back (%zd)", k);
    hs_buf_free(&got);
    rig_stop(&r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    hs_log_level = HS_LOG_ERROR;
    /* rewrite declines, access declines, the API answers; log, then cleanups last-first */
    one("plain", "HTTP/1.1 200 ", "RALC2C1", 200);
    /* rewrite decides its phase: access still runs (it is the next phase) */
    one("rewrite-ok", "HTTP/1.1 200 ", "RALC2C1", 200);
    /* access answers: no content */
    one("deny", "HTTP/1.1 403 ", "RALC2C1", 403);
    /* access waits for a timer, then resumes: content runs after it */
    one("async", "HTTP/1.1 200 ", "RATLC2C1", 200);
    /* access resumes before it returns HS_AGAIN: the phases go on, once */
    one("resume-inside", "HTTP/1.1 200 ", "RALC2C1", 200);
    test_upgrade_pause();
    return tap_done();
}
