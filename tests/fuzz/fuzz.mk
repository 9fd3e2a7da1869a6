# Fuzz targets: every tests/fuzz/fuzz_X.c becomes two binaries,
#   $(BUILD)/fuzz/fuzz_X          libFuzzer, clang, ASan+UBSan, on monitor
#                                 objects built with coverage instrumentation
#                                 ($(BUILD)/fuzz/obj); make fuzz-build / fuzz
#   $(BUILD)/fuzz/replay/fuzz_X   the same harness with replay_main.c, $(CC)
#                                 and the ASan+UBSan unit-test objects; part of
#                                 tests-build, so make check replays the corpora
# make fuzz runs each libFuzzer target for FUZZ_S seconds on its corpus
# tests/fuzz/corpus/fuzz_X/; what it finds goes under $(BUILD)/fuzz/, never
# into the tree (tests/fuzz/README.md says how to keep an input).

FUZZ_CC := clang
FUZZ_S ?= 10
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_TARGETS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay/%)
FUZZ_HDRS := $(wildcard tests/fuzz/*.h)

FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS := $(HOST_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJS := $(MONITOR_LIB_OBJS:$(BUILD)/obj/%.o=$(BUILD)/fuzz/obj/%.o)
# Named only by a pattern rule, make would delete them after each link.
.SECONDARY: $(FUZZ_LIB_OBJS)

$(BUILD)/fuzz/obj/%.o: src/%.c $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS) $(FUZZ_HDRS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -Itests/fuzz $< $(FUZZ_LIB_OBJS) -o $@ $(HOST_LDFLAGS)

$(BUILD)/fuzz/replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(MONITOR_LIB_SAN_OBJS) $(FUZZ_HDRS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -Itests/fuzz $< tests/fuzz/replay_main.c $(MONITOR_LIB_SAN_OBJS) -o $@ $(HOST_LDFLAGS)

tests-build: $(FUZZ_REPLAYS)

# -close_fd_mask=3: the targets' console and log output would drown the
# fuzzer's status lines; libFuzzer keeps its own copy of stderr, so crash
# reports still appear.
FUZZ_RUN_FLAGS := -close_fd_mask=3 -print_final_stats=1

fuzz-build: $(FUZZ_TARGETS)

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_NAMES); do \
		mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/artifacts; \
		echo "== $$t: $(FUZZ_S) s"; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_S) $(FUZZ_RUN_FLAGS) \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- \
			$(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	done

.PHONY: fuzz fuzz-build
