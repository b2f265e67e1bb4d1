/* statusd — make bench-store: what one rate-limit decision costs statusd, in-process store vs the
 * Redis store (src/store/limit_redis.c), measured on the statusd side only.
 *
 * One event loop drives N GCRA steps, keeping K in flight the way K concurrent requests of a
 * worker would (each answer issues the next step). For each store and K the table gives the CPU
 * time (user + system, getrusage) and the instructions (user + kernel, perf_event_open; "n/a"
 * where the system does not count them) per decision. redis-server runs in its own process on a
 * unix socket (or TCP on 127.0.0.1); its CPU is not counted: the bar is about what statusd spends.
 *
 * Usage: store_bench [N [memory|redis [K]]] — prints a Markdown table (one row with the last two:
 * `valgrind --tool=callgrind build/store_bench 20000 redis 64` counts user-space instructions
 * where the kernel does not count them for perf_event_open). The end-to-end measure (a path with a
 * `limit` rule through the HTTP stack) needs the policy rules; the lead runs it after the merge. */
#define _GNU_SOURCE
#include "../src/store/redis.h"
#include "../tests/unit/lib/redis_server.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static int perf_fd = -1;

static void perf_open(void)
{
    struct perf_event_attr a = {.type = PERF_TYPE_HARDWARE,
                                .size = sizeof(a),
                                .config = PERF_COUNT_HW_INSTRUCTIONS,
                                .disabled = 1,
                                .exclude_hv = 1};
    perf_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t perf_read(void)
{
    uint64_t v = 0;
    if (perf_fd < 0 || read(perf_fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
}

typedef struct {
    hs_limit_store_t *s;
    hs_loop_t *loop;
    hs_gcra_t g;
    long issued, answered, total, errors;
    hs_limit_result_t out[256];
    char keys[256][16];
} run_t;

/* each slot's done argument: its entry here, which points to the run */
static run_t *slots[256];

static void issue(run_t *r, int slot);

static void done_slot(void *arg, int rc, void *out)
{
    HS_UNUSED(out);
    run_t **p = arg;
    run_t *r = *p;
    r->answered++;
    r->errors += rc != HS_OK;
    issue(r, (int)(p - slots));
}

/* The next steps of a slot: until one is in flight (a store answering at once loops here). */
static void issue(run_t *r, int slot)
{
    hs_iovec_t key = hs_iov(r->keys[slot], strlen(r->keys[slot]));
    while (r->issued < r->total) {
        r->issued++;
        int rc =
            hs_limit_gcra(r->s, &r->g, key, r->loop->now_ms * 1000000ULL, 1, &r->out[slot], done_slot, &slots[slot]);
        if (rc == HS_AGAIN)
            return;
        r->answered++;
        r->errors += rc != HS_OK;
    }
}

typedef struct {
    double cpu_ns, instr, wall_ns;
    long errors;
} result_t;

static result_t measure(hs_limit_store_t *s, hs_loop_t *loop, long n, int k)
{
    run_t r = {.s = s, .loop = loop, .total = n};
    const char *err;
    hs_gcra_init(&r.g, 1000000000, 1000, 0, &err);
    r.g.zone = 1;
    r.g.name = "bench";
    for (int i = 0; i < k; i++) {
        snprintf(r.keys[i], sizeof(r.keys[i]), "4%c%c%c%c", 10, 0, (char)(i >> 8), (char)i);
        slots[i] = &r;
    }
    /* warm up: the connection, the scripts */
    run_t w = r;
    w.total = k * 4;
    for (int i = 0; i < k; i++)
        slots[i] = &w;
    for (int i = 0; i < k && w.issued < w.total; i++)
        issue(&w, i);
    for (long end = redis_srv_ms() + 5000; w.answered < w.total && redis_srv_ms() < end;)
        hs_loop_run_once(loop, 10);
    for (int i = 0; i < k; i++)
        slots[i] = &r;
    if (perf_fd >= 0) {
        ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
    }
    uint64_t c0 = cpu_ns(), i0 = perf_read(), t0 = redis_srv_ms();
    for (int i = 0; i < k && r.issued < r.total; i++)
        issue(&r, i);
    for (long end = redis_srv_ms() + 120000; r.answered < r.total && redis_srv_ms() < end;)
        hs_loop_run_once(loop, 10);
    uint64_t c1 = cpu_ns(), i1 = perf_read(), t1 = redis_srv_ms();
    if (perf_fd >= 0)
        ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
    return (result_t){.cpu_ns = (double)(c1 - c0) / (double)n,
                      .instr = perf_fd >= 0 ? (double)(i1 - i0) / (double)n : 0,
                      .wall_ns = (double)(t1 - t0) * 1e6 / (double)n,
                      .errors = r.errors + (r.answered < r.total ? r.total - r.answered : 0)};
}

static void row(const char *store, int k, result_t res)
{
    char instr[32];
    if (res.instr > 0)
        snprintf(instr, sizeof(instr), "%.0f", res.instr);
    else
        snprintf(instr, sizeof(instr), "n/a");
    printf("| %s | %d | %.3f | %s | %.0f | %ld |\n", store, k, res.cpu_ns / 1000.0, instr, 1e9 / res.wall_ns,
           res.errors);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    const char *only = argc > 2 ? argv[2] : NULL; /* memory | redis (for callgrind: one row) */
    int only_k = argc > 3 ? atoi(argv[3]) : 0;
    signal(SIGPIPE, SIG_IGN);
    hs_log_level = HS_LOG_WARN;
    perf_open();
    redis_srv_t R;
    if (redis_srv_start(&R) != 0) {
        fprintf(stderr, "store_bench: redis-server could not be started (apt-get install redis-server)\n");
        return 1;
    }
    hs_loop_t loop;
    hs_loop_init(&loop);
    hs_loop_run_once(&loop, 0);

    hs_limit_store_t *mem = hs_limit_memstore_new(100000, 1024);
    hs_limit_redis_opts_t o = {.prefix = "bench:", .timeout_ms = 1000, .failure = HS_REDIS_CLOSED};
    const char *err;
    hs_redis_url_parse(hs_iov_cstr(R.url), &o.addr, &err);
    hs_limit_store_t *red = hs_limit_redis_new(&o);
    hs_limit_redis_attach(red, &loop);

    printf("| store | in flight | CPU µs/decision | instructions/decision | decisions/s (one loop) | errors |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    static const int ks[] = {1, 16, 64, 256};
    for (size_t i = 0; i < HS_ARRAY_SIZE(ks); i++) {
        if (only_k && ks[i] != only_k)
            continue;
        if (!only || !strcmp(only, "memory"))
            row("in-process", ks[i], measure(mem, &loop, n * 10, ks[i]));
        if (!only || !strcmp(only, "redis"))
            row("redis (unix socket)", ks[i], measure(red, &loop, n, ks[i]));
    }
    hs_redis_stats_t st;
    hs_limit_redis_stats(red, &st);
    printf("\nRedis store: %llu answered, %llu errors, latency mean %.0f µs\n", (unsigned long long)st.answered,
           (unsigned long long)st.errors, st.latency_count ? (double)st.latency_sum_us / (double)st.latency_count : 0);
    hs_limit_redis_detach(red, &loop);
    hs_limit_store_free(red);
    hs_limit_store_free(mem);
    hs_loop_destroy(&loop);
    redis_srv_stop(&R);
    return 0;
}
