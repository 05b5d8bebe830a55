# liveprof — one non-recursive Makefile. Objects go to build/ (or build/<sanitizer>/).
# Targets: all run test bench bench-quick bench-check fuzz fuzz-replay format clean deps.
# SANITIZER=address|thread|fuzzer (fuzzer: clang with libFuzzer instrumentation).

CC       ?= gcc
ifeq ($(origin CC),default)
CC       := gcc
endif
SANITIZER ?=
O        := build$(if $(SANITIZER),/$(SANITIZER))
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
ALLCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Ilib -Iserver -Ileech -Imonitor -MMD -MP
LDLIBS   := -lwebsockets -lh2o-evloop -lssl -lcrypto -ljansson -lsqlite3 -lsodium -lpcre2-8 -lroaring -lzstd -lm -lpthread
SANFLAGS :=
ifeq ($(SANITIZER),address)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
ifeq ($(SANITIZER),fuzzer)
CC       := clang
ALLCFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=fuzzer,address,undefined
endif
ifeq ($(SANITIZER),thread)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
endif
ALLCFLAGS += $(SANFLAGS)
# The plain build optimizes across files at link time (the per-event path crosses the decoder, the
# ordering, the analyses and the event pipe: 5-10% of a settle's CPU). The objects stay fat, so
# links without it (the leech's shared library, ghc's links) take their ordinary code.
ifeq ($(SANITIZER),)
ALLCFLAGS += -flto=auto -ffat-lto-objects
LDFLAGS   += -flto=auto
endif

LIB_SRC  := $(sort $(wildcard lib/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
SRV_SRC  := $(sort $(wildcard server/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/obj/%.o)
SRV_OBJ  := $(SRV_SRC:%.c=$(O)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(O)/obj/%.o)
# Test-only C++ (g++ never builds anything but tests): flatc's generated readers for proto/.
CXXT_SRC := $(filter-out tests/cxx/wire_check.cc,$(sort $(wildcard tests/*.cc tests/cxx/*.cc)))
CXXT_OBJ := $(CXXT_SRC:%.cc=$(O)/obj/%.o)
GEN_H    := $(patsubst proto/%.fbs,$(O)/gen/%_generated.h,$(wildcard proto/*.fbs))
LIBA     := $(O)/libliveprof.a
GHC_INC   := $(shell ghc --print-libdir 2>/dev/null)/include
LEECH_CORE:= leech/leech_queue.c leech/leech_repair.c leech/leech_link.c
LEECH_PIC := $(patsubst %.c,$(O)/obj/pic/%.o,$(LEECH_CORE) leech/leech.c lib/wire.c lib/evlog.c lib/evwrite.c lib/err.c lib/sizearg.c)
LEECH_OBJ := $(LEECH_CORE:%.c=$(O)/obj/%.o)
MON_SRC  := $(sort $(wildcard monitor/*.c))
MON_OBJ  := $(MON_SRC:%.c=$(O)/obj/%.o)
MON_LIB  := $(filter-out $(O)/obj/monitor/main.o,$(MON_OBJ))

.PHONY: FORCE all run test test-unit test-asan test-tsan bench bench-quick bench-check bench-baseline fuzz fuzz-replay fuzz-seeds format clean deps ref web
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(O)/bench-%)
all: deps-ok $(O)/liveprof $(O)/liveprof-monitor $(O)/tests $(BENCH_BIN) $(O)/wire_check leech web

deps deps-ok:
	@sh scripts/deps.sh

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

SRVA     := $(O)/libliveprof-server.a
$(SRVA): $(SRV_OBJ)
	@rm -f $@
	ar rcs $@ $^

# What --version prints: the release and the commit built ("-dirty" when tracked files differ
# from it; "unknown" outside a git checkout). The header is rewritten only when that changes, so
# only the two mains compile again.
VERSION := 0.1.0
$(O)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || \
	  c="$$c-dirty"; } || c=unknown; \
	 printf '#define LIVEPROF_VERSION "%s (commit %s)"\n' '$(VERSION)' "$$c" > $@.tmp; \
	 cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(O)/obj/cli/main.o $(O)/obj/monitor/main.o: $(O)/gen/version.h
$(O)/obj/cli/main.o $(O)/obj/monitor/main.o: ALLCFLAGS += -I$(O)/gen
FORCE:

$(O)/liveprof: $(CLI_OBJ) $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(SRVA) $(LIBA) $(LDLIBS)

# The test list is every TEST(name) in tests/*.c, gathered into one generated header.
$(O)/obj/tests/list.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^TEST([a-z0-9_]*)' $(TEST_SRC) | sed 's/.*/X(&)/' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(O)/obj/tests/runner.o: $(O)/obj/tests/list.h
$(O)/obj/tests/runner.o: ALLCFLAGS += -I$(O)/obj/tests

# The tests also hold the leech's RTS side (leech/leech.c); tests/test_leech_writer.c provides
# the RTS entry points it calls.
$(O)/obj/leech/leech.o $(O)/obj/tests/test_leech_writer.o: ALLCFLAGS += -I$(GHC_INC)
$(O)/tests: $(TEST_OBJ) $(CXXT_OBJ) $(MON_LIB) $(LEECH_OBJ) $(O)/obj/leech/leech.o $(SRVA) $(LIBA)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJ) $(CXXT_OBJ) $(MON_LIB) $(LEECH_OBJ) $(O)/obj/leech/leech.o $(SRVA) $(LIBA) $(LDLIBS)

$(O)/gen/%_generated.h: proto/%.fbs
	@mkdir -p $(dir $@)
	flatc --cpp -o $(dir $@) $<
$(O)/obj/tests/%.o: tests/%.cc $(GEN_H)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -Wall -Wextra -Werror $(CFLAGS) $(SANFLAGS) -Itests -I$(O)/gen -MMD -MP -c $< -o $@

# Each bench/NAME.c is one program, build/bench-NAME.
$(O)/bench-%: $(O)/obj/bench/%.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# The web front end: flatc's TypeScript for proto/ws.fbs, type-checked with tsc, bundled with
# esbuild into build/web/ (what `liveprof serve --web build/web` serves at /).
WEB_SRC  := $(sort $(wildcard web/src/*.ts))
WEB_NPM  := web/node_modules/.liveprof-lock
web: build/web/index.html build/web/app.js build/web/app.css
$(WEB_NPM): web/package-lock.json | deps-ok
	@sh scripts/deps.sh && touch $@
build/web-gen/ws_generated.ts: proto/ws.fbs
	@rm -rf build/web-gen
	flatc --ts -o build/web-gen proto/ws.fbs
build/web/app.js: $(WEB_SRC) build/web-gen/ws_generated.ts web/tsconfig.json $(WEB_NPM)
	web/node_modules/.bin/tsc -p web/tsconfig.json
	NODE_PATH=web/node_modules web/node_modules/.bin/esbuild web/src/main.ts --bundle --format=esm \
		--target=es2022 --minify --sourcemap --log-level=warning --outfile=$@
build/web/app.css: web/src/style.css $(WEB_NPM)
	web/node_modules/.bin/esbuild $< --minify --log-level=warning --outfile=$@
build/web/index.html: web/index.html
	@mkdir -p build/web
	cp $< $@

# The monitor: monitor/*.c with the leech's RTS-independent parts (stream repair for --exec).
$(O)/liveprof-monitor: $(MON_OBJ) $(LEECH_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(MON_OBJ) $(LEECH_OBJ) $(LIBA) $(LDLIBS)

# The leech: leech/*.c (RTS-independent parts also go into the tests) plus the eventlog and
# wire codecs it uses, position-independent, as a static and a shared library; the C main of
# attach mode (a), the Haskell module and the liveprof-ghc wrapper beside them.
$(O)/obj/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -fPIC -I$(GHC_INC) -c $< -o $@
$(O)/libliveprof-leech.a: $(LEECH_PIC)
	@rm -f $@
	ar rcs $@ $^
$(O)/libliveprof-leech.so: $(LEECH_PIC)
	$(CC) -shared -o $@ $^ -lpthread
$(O)/leech/leech_main.o: leech/leech_main.c leech/liveprof_leech.h
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -I$(GHC_INC) -c $< -o $@
$(O)/leech/%: leech/%
	@mkdir -p $(dir $@)
	cp $< $@
$(O)/liveprof-ghc: leech/liveprof-ghc.sh
	cp $< $@ && chmod +x $@
LEECH_FILES := $(O)/libliveprof-leech.a $(O)/libliveprof-leech.so $(O)/leech/leech_main.o \
	$(O)/leech/LiveprofLeech.hs $(O)/leech/liveprof_leech.h $(O)/liveprof-ghc
.PHONY: leech
leech: $(LEECH_FILES)

# Haskell programs of the live-capture tests (tests/hs/), built once into build/hs/:
# labels-main (liveprof-ghc: C main, attach mode a), labels-attach (leech linked, Haskell
# main, attach mode b) and plain (no leech, for --exec).
HS_SRC := $(wildcard tests/hs/*.hs)
build/hs/labels-main: $(HS_SRC) $(LEECH_FILES)
	@mkdir -p build/hs/a
	build/liveprof-ghc -O -outputdir build/hs/a -itests/hs -o $@ tests/hs/Labels.hs > build/hs/a.log 2>&1 || (cat build/hs/a.log; false)
build/hs/labels-attach: $(HS_SRC) $(LEECH_FILES)
	@mkdir -p build/hs/b
	ghc -O -threaded -eventlog -rtsopts -outputdir build/hs/b -itests/hs -ibuild/leech -o $@ tests/hs/Labels.hs build/libliveprof-leech.a -optl-pthread > build/hs/b.log 2>&1 || (cat build/hs/b.log; false)
build/hs/plain: $(HS_SRC)
	@mkdir -p build/hs/c
	ghc -O -threaded -eventlog -rtsopts -outputdir build/hs/c -itests/hs -o $@ tests/hs/Plain.hs > build/hs/c.log 2>&1 || (cat build/hs/c.log; false)
hs: build/hs/labels-main build/hs/labels-attach build/hs/plain
.PHONY: hs

# Test-only C++ cross-check of the C wire codec against flatc's generated reader for
# proto/wire.fbs (tests/cxx/wire_check.cc; run by the wire_flatc_cross test).
$(O)/wire_check: tests/cxx/wire_check.cc $(O)/gen/wire_generated.h $(O)/obj/lib/wire.o $(O)/obj/lib/err.o
	$(CXX) -std=c++17 $(WARN) $(CFLAGS) $(filter -fsanitize=%,$(ALLCFLAGS)) -I$(O)/gen -Ilib -o $@ $< $(O)/obj/lib/wire.o $(O)/obj/lib/err.o $(LDFLAGS)

# The leech bench harness calls the leech's writer without a Haskell runtime.
$(O)/obj/bench/leech_feed.o: ALLCFLAGS += -I$(GHC_INC)
$(O)/bench-leech_feed: $(O)/obj/bench/leech_feed.o $(O)/libliveprof-leech.a $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/libliveprof-leech.a $(LIBA) $(LDLIBS)

# Reference dumper (ghc-events), used by tests for constructors the shared logs lack and by bench.
build/ref/evdump: ../shared/data/ref/src/EvDump.hs
	@mkdir -p build/ref
	ghc -O2 -rtsopts -outputdir build/ref -o $@ $< > build/ref/ghc.log 2>&1 || (cat build/ref/ghc.log; false)
ref: build/ref/evdump

run: all
	./build/liveprof serve --http 127.0.0.1:8080 --ws 127.0.0.1:8081 --data ./liveprof-data --web build/web

# make test: unit + differential tests, then the same tests under ASan+UBSan, then the
# concurrent tests under TSan.
test: all ref hs
	./build/tests
	$(MAKE) --no-print-directory SANITIZER=address build/address/tests build/address/liveprof
	LIVEPROF_BIN=build/address/liveprof ASAN_OPTIONS=detect_leaks=1 ./build/address/tests --skip-slow
	$(MAKE) --no-print-directory fuzz-replay
	$(MAKE) --no-print-directory test-tsan

# The concurrent tests (every name containing _concurrent_) under ThreadSanitizer, with the
# servers they start built the same way.
test-tsan: deps-ok
	$(MAKE) --no-print-directory SANITIZER=thread build/thread/tests build/thread/liveprof
	LIVEPROF_BIN=build/thread/liveprof TSAN_OPTIONS=halt_on_error=1 ./build/thread/tests --match _concurrent_

# Fuzzing: each fuzz/NAME.c is one libFuzzer target (LLVMFuzzerTestOneInput) with its corpus in
# fuzz/corpus/NAME/ and an optional fuzz/dict/NAME.dict. `make fuzz` builds them with clang
# (build/fuzzer/fuzz-NAME) and runs each for FUZZ_SECONDS, merging inputs that add coverage into
# the corpus; FUZZ_TARGETS picks some. `make fuzz-replay` (part of `make test`) feeds every corpus
# file to its target built with gcc under ASan+UBSan (build/address/replay-NAME).
FUZZ_NAMES   := $(basename $(notdir $(wildcard fuzz/*.c)))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SECONDS ?= 60
fuzz: deps-ok
	$(MAKE) --no-print-directory SANITIZER=fuzzer $(FUZZ_TARGETS:%=build/fuzzer/fuzz-%)
	@for t in $(FUZZ_TARGETS); do sh fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; done
fuzz-replay: deps-ok
	$(MAKE) --no-print-directory SANITIZER=address $(FUZZ_NAMES:%=build/address/replay-%)
	@for t in $(FUZZ_NAMES); do \
	    ASAN_OPTIONS=detect_leaks=1 build/address/replay-$$t fuzz/corpus/$$t || exit 1; done

$(O)/fuzz-%: $(O)/obj/fuzz/%.o $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(SRVA) $(LIBA) $(LDLIBS)
# fuzz-seeds: the seed-* inputs the project's own encoders and segment writer make
# (fuzz/driver/seeds.c; fuzz/mkseeds.py writes the others).
fuzz-seeds: deps-ok
	$(MAKE) --no-print-directory $(O)/fuzz-seeds
	$(O)/fuzz-seeds
$(O)/fuzz-seeds: $(O)/obj/fuzz/driver/seeds.o $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(SRVA) $(LIBA) $(LDLIBS)
# the monitor's leech socket target links the monitor and leech objects too
$(O)/fuzz-ingest: $(O)/obj/fuzz/ingest.o $(MON_LIB) $(LEECH_OBJ) $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(MON_LIB) $(LEECH_OBJ) $(SRVA) $(LIBA) $(LDLIBS)
$(O)/replay-ingest: $(O)/obj/fuzz/ingest.o $(O)/obj/fuzz/driver/replay.o $(MON_LIB) $(LEECH_OBJ) $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/obj/fuzz/driver/replay.o $(MON_LIB) $(LEECH_OBJ) $(SRVA) $(LIBA) $(LDLIBS)
$(O)/replay-%: $(O)/obj/fuzz/%.o $(O)/obj/fuzz/driver/replay.o $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/obj/fuzz/driver/replay.o $(SRVA) $(LIBA) $(LDLIBS)

# Benchmarks (bench/README.md): every bench/stage_*.sh, a report in bench/results/<date>/.
# bench-check fails when a headline ratio in bench/baseline.tsv drops by more than 20%;
# bench-baseline rewrites that file from a quick run on this machine.
bench: all ref
	sh bench/run.sh full
bench-quick: all ref
	sh bench/run.sh quick
bench-check: all ref
	sh bench/run.sh quick --check bench/baseline.tsv
bench-baseline: all ref
	sh bench/run.sh quick --write-baseline bench/baseline.tsv

format:
	clang-format -i $(wildcard fuzz/*.c fuzz/*.h fuzz/driver/*.c) $(MON_SRC) $(wildcard monitor/*.h leech/*.c leech/*.h) $(LIB_SRC) $(wildcard lib/*.h) $(CLI_SRC) $(SRV_SRC) $(wildcard server/*.h) $(TEST_SRC) $(wildcard tests/*.h) $(BENCH_SRC) $(wildcard bench/*.h)

clean:
	rm -rf build

.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
