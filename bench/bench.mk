# make bench: statusd vs nginx, lighttpd and h2o (Debian packages), same machine, same run; the
# reverse proxy vs nginx's proxy_pass and HAProxy.
# BENCH_ARGS="--rounds 3 --proxy-rounds 7 --duration 5 --idle 5000" to change the defaults.
#
# BASELINE: the git revision of statusd measured in the same run as one more server, `baseline`
# (built by bench/run.py from `git archive` into its temporary directory, removed afterwards).
# fe876a2 is the last commit before the Engine v2 work (issue 11), the bars' reference.
# `make bench BASELINE=REV` measures another revision, `BASELINE=none` skips it. This line is
# the one place the default is written: bench/run.py reads it when run without --baseline.
BASELINE ?= fe876a2

DEB_BENCH := nginx-light lighttpd h2o wrk haproxy redis-server
.PHONY: bench
bench:
	@tests/deps.sh $(DEB_BENCH) $(DEB_BUILD)
	@$(MAKE) --no-print-directory VARIANT=release all
	@$(PYTHON) bench/run.py --baseline $(BASELINE) $(BENCH_ARGS)

# make bench-store: CPU and instructions per rate-limit decision, in-process store vs the Redis
# store (bench/store_bench.c; statusd's side only, redis-server runs on a unix socket).
# STORE_BENCH_N decisions per Redis row (ten times as many in-process).
STORE_BENCH_N ?= 200000
.PHONY: bench-store
bench-store:
	@tests/deps.sh $(DEB_BUILD) redis-server
	@$(MAKE) --no-print-directory VARIANT=release all
	$(CC) $(ALL_CFLAGS) -o $(OUT)/store_bench bench/store_bench.c $(LIB) $(LIBS)
	$(OUT)/store_bench $(STORE_BENCH_N)
