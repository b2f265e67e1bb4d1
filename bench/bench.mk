# make bench: statusd vs nginx, lighttpd and h2o (Debian packages), same machine, same run; the
# reverse proxy vs nginx's proxy_pass and HAProxy.
# BENCH_ARGS="--rounds 3 --duration 5 --idle 5000" to change the defaults.
#
# BASELINE: the git revision of statusd measured in the same run as one more server, `baseline`
# (built by bench/run.py from `git archive` into its temporary directory, removed afterwards).
# fe876a2 is the last commit before the Engine v2 work (issue 11), the bars' reference.
# `make bench BASELINE=REV` measures another revision, `BASELINE=none` skips it. This line is
# the one place the default is written: bench/run.py reads it when run without --baseline.
BASELINE ?= fe876a2

DEB_BENCH := nginx-light lighttpd h2o wrk haproxy
.PHONY: bench
bench:
	@tests/deps.sh $(DEB_BENCH) $(DEB_BUILD)
	@$(MAKE) --no-print-directory VARIANT=release all
	@$(PYTHON) bench/run.py --baseline $(BASELINE) $(BENCH_ARGS)
