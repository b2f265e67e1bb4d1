# statusd — GNU Make build. `make run` serves with embedded defaults; `make test` installs what is
# missing (as root), builds and runs every test. See README.md.

CC       ?= gcc
PYTHON   := /usr/bin/python3
CSTD     := -std=c17
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
INCLUDES := -Iinclude
LIBS     := -luring -lyaml -lz -lbrotlienc -lbrotlidec -lzstd -lcrypto -lcrypt -lpthread
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

# Debian packages the build and the tests need (checked by `make deps`).
DEB_BUILD := gcc make libc6-dev libyaml-dev zlib1g-dev libbrotli-dev libzstd-dev libssl-dev libcrypt-dev liburing-dev
DEB_TEST  := python3 python3-pytest python3-requests python3-h11 python3-websockets python3-brotli python3-zstandard curl wrk chromium apache2-utils
# WebDAV (src/modules/webdav): libxml2 reads request bodies, SQLite keeps dead properties and
# locks; litmus, rclone and cadaver are the clients its tests drive. Apart from the lines above so
# that edits to them merge. xml2-config exists once libxml2-dev is installed (`make deps`, which
# `make test` runs before a sub-make that evaluates this again); Debian's path is the fallback.
DEB_BUILD += libxml2-dev libsqlite3-dev
DEB_TEST  += litmus rclone cadaver
# Operations (issue 17): the Prometheus client's text parser reads /metrics in the tests;
# systemd-analyze verifies the unit files; man renders the manual page.
DEB_TEST  += python3-prometheus-client systemd man-db
LIBS      += -lxml2 -lsqlite3
INCLUDES  += $(or $(shell xml2-config --cflags 2>/dev/null),-I/usr/include/libxml2)
# Several instances as one service (src/store): hiredis talks to Redis; the tests start
# redis-server and haproxy. Apart from the lines above so that edits to them merge.
DEB_BUILD += libhiredis-dev
DEB_TEST  += redis-server haproxy
LIBS      += -lhiredis

# TLS (src/event/tls.c, src/http/https.c): OpenSSL's libssl (libssl-dev is above); the tests
# drive the openssl command line (certificates, s_client) and testssl.sh.
DEB_TEST  += openssl testssl.sh
LIBS      += -lssl
DEB_ALL   := $(DEB_BUILD) $(DEB_TEST)

LIB_SRC  := $(wildcard src/core/*.c src/os/*.c src/event/*.c src/store/*.c src/http/*.c src/config/*.c src/modules/*.c src/modules/*/*.c src/cli/explain.c)
MAIN_SRC := src/cli/main.c
UNIT_SRC := $(wildcard tests/unit/*/*_test.c)

# Variants: release (build/), checked (build/check, response rules abort), asan (build/asan).
VARIANT ?= release
ifeq ($(VARIANT),release)
  OUT    := build
  CFLAGS_V := -O2 -g
else ifeq ($(VARIANT),check)
  OUT    := build/check
  CFLAGS_V := -O2 -g -DHS_CHECK_RESPONSES=1
else ifeq ($(VARIANT),asan)
  OUT    := build/asan
  CFLAGS_V := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -DHS_CHECK_RESPONSES=1
  LDFLAGS_V := -fsanitize=address,undefined
endif

ALL_CFLAGS := $(CSTD) $(WARN) $(INCLUDES) $(CFLAGS_V) -DHS_VERSION='"$(VERSION)"' $(CFLAGS)
OBJDIR   := $(OUT)/obj
LIB_OBJ  := $(patsubst %.c,$(OBJDIR)/%.o,$(LIB_SRC))
LIB      := $(OUT)/libstatusd.a
BIN      := $(OUT)/statusd
UNIT_BIN := $(patsubst tests/unit/%.c,$(OUT)/unit/%,$(UNIT_SRC))

.PHONY: all run test sanitize lint format deps unit check-build clean bench fuzz docs install
all: $(BIN)

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(OBJDIR)/$(MAIN_SRC:.c=.o) $(LIB)
	$(CC) $(LDFLAGS_V) -o $@ $^ $(LIBS)

$(OUT)/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS_V) $(LIBS)

unit: $(UNIT_BIN)

-include $(LIB_OBJ:.o=.d) $(OBJDIR)/src/cli/main.d

run: all
	./$(BIN) $(ARGS)

deps:
	@tests/deps.sh $(DEB_ALL)

# make test: deps, the checked build, unit tests (TAP) then integration tests (pytest).
test: deps
	@$(MAKE) --no-print-directory VARIANT=check all unit
	@tests/run.sh build/check

sanitize: deps
	@$(MAKE) --no-print-directory VARIANT=asan all unit
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh build/asan

lint:
	@command -v clang-format >/dev/null || { echo "clang-format missing: apt-get install clang-format"; exit 1; }
	clang-format --dry-run --Werror $(LIB_SRC) $(MAIN_SRC) $(wildcard include/hs/*.h src/*/*.h)

format:
	clang-format -i $(LIB_SRC) $(MAIN_SRC) $(wildcard include/hs/*.h src/*/*.h)

# docs/configuration.md and the manual page docs/statusd.8 from the directive table (through
# --help) and the README; a test keeps them in step
docs: $(BIN)
	$(PYTHON) docs/gen_config.py $(BIN) > docs/configuration.md.tmp && mv docs/configuration.md.tmp docs/configuration.md
	$(PYTHON) docs/gen_man.py $(BIN) > docs/statusd.8.tmp && mv docs/statusd.8.tmp docs/statusd.8

# make install [PREFIX=/usr/local] [DESTDIR=…] [VARIANT=…]: the binary, the manual page and the
# systemd units (their ExecStart names the installed binary)
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
MANDIR  := $(PREFIX)/share/man/man8
UNITDIR := $(PREFIX)/lib/systemd/system
install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/statusd
	install -D -m 0644 docs/statusd.8 $(DESTDIR)$(MANDIR)/statusd.8
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's#@BINDIR@#$(BINDIR)#g' contrib/statusd.service > $(DESTDIR)$(UNITDIR)/statusd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/statusd.service
	install -m 0644 contrib/statusd.socket $(DESTDIR)$(UNITDIR)/statusd.socket

clean:
	rm -rf build

# fuzzing (fuzz/fuzz.mk), benchmarks (bench/bench.mk): kept beside their code
-include fuzz/fuzz.mk
-include bench/bench.mk
