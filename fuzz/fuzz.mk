# statusd — libFuzzer targets (included by the top Makefile with `-include fuzz/fuzz.mk`).
#
#   make fuzz                    build every driver, run each for FUZZ_SECONDS (default 60) with
#                                -seed=1; fails on any crash, sanitizer report, leak or timeout
#   make fuzz FUZZ_SECONDS=10    the CI variant
#   make fuzz FUZZ_TARGETS=chunked   one target only
#   make fuzz-build              build only (build/fuzz/fuzz_<target>)
#
# The library is compiled a second time, with clang and -fsanitize=fuzzer-no-link,address,undefined,
# into build/fuzz/obj, so that coverage and the sanitizers reach into it; the drivers are linked
# with -fsanitize=fuzzer,address,undefined. Reproducers of a crash are written to
# build/fuzz/artifacts/<target>-crash-… ; replay one with `build/fuzz/fuzz_<target> FILE`.
# New inputs found while fuzzing go to build/fuzz/corpus/<target> (fuzz/corpus/<target> holds the
# committed seeds and is only read).

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  ?= request chunked negotiate date config static conn fields path codec response davxml davif forwarded htpasswd redirect policy typemap logfmt proxy redis listen forward
FUZZ_OUT      := build/fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# -Werror is left out on purpose: clang warns about things gcc does not, and a new clang warning
# must not stop fuzzing of code that builds cleanly with the project compiler.
FUZZ_CFLAGS   := $(CSTD) $(filter-out -Werror,$(WARN)) $(INCLUDES) -O1 -g $(FUZZ_SAN) \
                 -DHS_CHECK_RESPONSES=1 -DHS_VERSION='"fuzz"'
FUZZ_LIB_OBJ  := $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(LIB_SRC))
FUZZ_LIB      := $(FUZZ_OUT)/libstatusd.a
FUZZ_BINS     := $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(FUZZ_TARGETS))
DEB_FUZZ      := clang libclang-rt-14-dev

# per-target libFuzzer options (max input length, per-input timeout in seconds)
FUZZ_OPTS_request   := -max_len=8192 -timeout=10
FUZZ_OPTS_chunked   := -max_len=8192 -timeout=10
FUZZ_OPTS_negotiate := -max_len=4096 -timeout=10
FUZZ_OPTS_date      := -max_len=128 -timeout=10
FUZZ_OPTS_config    := -max_len=4096 -timeout=10
FUZZ_OPTS_static    := -max_len=4096 -timeout=10
FUZZ_OPTS_conn      := -max_len=16384 -timeout=20
FUZZ_OPTS_fields    := -max_len=4096 -timeout=10
FUZZ_OPTS_path      := -max_len=4096 -timeout=10
FUZZ_OPTS_codec     := -max_len=4096 -timeout=10
FUZZ_OPTS_response  := -max_len=8192 -timeout=10
FUZZ_OPTS_davxml    := -max_len=8192 -timeout=10 -dict=fuzz/davxml.dict
FUZZ_OPTS_davif     := -max_len=4096 -timeout=10
FUZZ_OPTS_forwarded := -max_len=4096 -timeout=10
FUZZ_OPTS_htpasswd  := -max_len=4096 -timeout=10
FUZZ_OPTS_redirect  := -max_len=4096 -timeout=10
FUZZ_OPTS_policy    := -max_len=4096 -timeout=10
FUZZ_OPTS_typemap   := -max_len=16384 -timeout=10
FUZZ_OPTS_logfmt    := -max_len=4096 -timeout=10
FUZZ_OPTS_proxy     := -max_len=8192 -timeout=10
FUZZ_OPTS_redis     := -max_len=8192 -timeout=10 -dict=fuzz/redis.dict
FUZZ_OPTS_listen    := -max_len=512 -timeout=10
FUZZ_OPTS_forward   := -max_len=512 -timeout=10

.PHONY: fuzz fuzz-build fuzz-deps fuzz-clean

fuzz-deps:
	@tests/deps.sh $(DEB_FUZZ)

$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_util.h $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc/http -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LIBS)

-include $(FUZZ_LIB_OBJ:.o=.d)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# One target: $(1). Its own log under build/fuzz; on failure the tail of the log is shown.
define fuzz_run
{ mkdir -p $(FUZZ_OUT)/corpus/$(1) $(FUZZ_OUT)/artifacts; echo "== fuzz $(1) for $(FUZZ_SECONDS)s"; \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  $(FUZZ_OUT)/fuzz_$(1) -seed=1 -max_total_time=$(FUZZ_SECONDS) -detect_leaks=1 -rss_limit_mb=2048 \
    -dict=fuzz/http.dict -artifact_prefix=$(FUZZ_OUT)/artifacts/$(1)- -print_final_stats=1 \
    $(FUZZ_OPTS_$(1)) $(FUZZ_OUT)/corpus/$(1) fuzz/corpus/$(1) > $(FUZZ_OUT)/$(1).log 2>&1 \
  || { tail -60 $(FUZZ_OUT)/$(1).log; echo "fuzz $(1) FAILED (log: $(FUZZ_OUT)/$(1).log)"; false; }; } && \
{ grep -E '^stat::(number_of_executed_units|peak_rss_mb)' $(FUZZ_OUT)/$(1).log | tr '\n' ' '; echo; } &&
endef

# Each target: a writable corpus under build/fuzz (new units), the committed seeds, the shared
# dictionary. libFuzzer exits non-zero on a crash, a sanitizer report, a leak (-detect_leaks=1),
# a per-input timeout, or an out-of-memory (-rss_limit_mb); the first failure stops `make fuzz`.
fuzz: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t))) echo "fuzz: $(words $(FUZZ_TARGETS)) targets ran $(FUZZ_SECONDS)s each without a finding"

fuzz-clean:
	rm -rf $(FUZZ_OUT)
