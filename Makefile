# liveprof — one non-recursive Makefile. Objects go to build/ (or build/<sanitizer>/).
# Targets: all run test bench bench-quick fuzz fuzz-replay format clean deps.
# SANITIZER=address|thread|fuzzer (fuzzer: clang with libFuzzer instrumentation).

CC       ?= gcc
ifeq ($(origin CC),default)
CC       := gcc
endif
SANITIZER ?=
O        := build$(if $(SANITIZER),/$(SANITIZER))
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
ALLCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Ilib -Iserver -MMD -MP
LDLIBS   := -lh2o-evloop -lssl -lcrypto -ljansson -lsqlite3 -lsodium -lpcre2-8 -lm -lpthread
ifeq ($(SANITIZER),address)
ALLCFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
ifeq ($(SANITIZER),fuzzer)
CC       := clang
ALLCFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=fuzzer,address,undefined
endif
ifeq ($(SANITIZER),thread)
ALLCFLAGS += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
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
LIBA     := $(O)/libliveprof.a

.PHONY: all run test test-unit test-asan test-tsan bench bench-quick fuzz fuzz-replay format clean deps ref
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(O)/bench-%)
all: deps-ok $(O)/liveprof $(O)/tests $(BENCH_BIN)

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

$(O)/liveprof: $(CLI_OBJ) $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(SRVA) $(LIBA) $(LDLIBS)

# The test list is every TEST(name) in tests/*.c, gathered into one generated header.
$(O)/obj/tests/list.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^TEST([a-z0-9_]*)' $(TEST_SRC) | sed 's/.*/X(&)/' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(O)/obj/tests/runner.o: $(O)/obj/tests/list.h
$(O)/obj/tests/runner.o: ALLCFLAGS += -I$(O)/obj/tests

$(O)/tests: $(TEST_OBJ) $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(SRVA) $(LIBA) $(LDLIBS)

# Each bench/NAME.c is one program, build/bench-NAME.
$(O)/bench-%: $(O)/obj/bench/%.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Reference dumper (ghc-events), used by tests for constructors the shared logs lack and by bench.
build/ref/evdump: ../shared/data/ref/src/EvDump.hs
	@mkdir -p build/ref
	ghc -O2 -rtsopts -outputdir build/ref -o $@ $< > build/ref/ghc.log 2>&1 || (cat build/ref/ghc.log; false)
ref: build/ref/evdump

run: all
	./build/liveprof serve --http 127.0.0.1:8080 --ws 127.0.0.1:8081 --data ./liveprof-data

# make test: unit + differential tests, then the same tests under ASan+UBSan, then the
# concurrent tests under TSan.
test: all ref
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
$(O)/replay-%: $(O)/obj/fuzz/%.o $(O)/obj/fuzz/driver/replay.o $(SRVA) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $< $(O)/obj/fuzz/driver/replay.o $(SRVA) $(LIBA) $(LDLIBS)

bench: all ref
	sh bench/run.sh full
bench-quick: all ref
	sh bench/run.sh quick

format:
	clang-format -i $(wildcard fuzz/*.c fuzz/*.h fuzz/driver/*.c) $(LIB_SRC) $(wildcard lib/*.h) $(CLI_SRC) $(SRV_SRC) $(wildcard server/*.h) $(TEST_SRC) $(wildcard tests/*.h) $(BENCH_SRC)

clean:
	rm -rf build

.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
