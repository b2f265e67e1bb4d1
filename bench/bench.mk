# make bench: statusd vs nginx, lighttpd and h2o (Debian packages), same machine, same run.
# BENCH_ARGS="--rounds 3 --duration 5 --idle 5000" to change the defaults.
DEB_BENCH := nginx-light lighttpd h2o wrk
.PHONY: bench
bench:
	@tests/deps.sh $(DEB_BENCH) $(DEB_BUILD)
	@$(MAKE) --no-print-directory VARIANT=release all
	@$(PYTHON) bench/run.py $(BENCH_ARGS)
