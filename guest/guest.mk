# Guest side of the build: the runtime library and every guest program.
# Included from the top-level Makefile; paths are relative to the repo root.
#
#   build/guest/crt0.o         _start (link it first)
#   build/guest/libpvmm.a      the runtime (libc subset, para-API, IDT, ...)
#   build/examples/NAME.elf    from guest/examples/NAME.c
#   build/tests/guests/NAME.elf   from tests/guests/NAME.c
#   build/bench/guests/NAME.elf   from bench/guests/NAME.c
#
# `make guest` builds them all; `make guest CC=clang` works too. Flags live
# in guest/flags.mk, shared with guest/pvmm-cc.

BUILD ?= build
include guest/flags.mk

GUEST_OBJDIR := $(BUILD)/guest/obj
GUEST_RT_C := $(wildcard guest/runtime/*.c)
GUEST_RT_S := $(filter-out guest/runtime/entry.S,$(wildcard guest/runtime/*.S))
GUEST_RT_OBJS := $(GUEST_RT_C:guest/runtime/%.c=$(GUEST_OBJDIR)/%.o) \
		 $(GUEST_RT_S:guest/runtime/%.S=$(GUEST_OBJDIR)/%.o)
GUEST_HDRS := $(wildcard guest/include/*.h guest/include/pvmm/*.h) include/pvmm/para.h
# Which compiler built the guest code: switching CC (make guest CC=clang)
# rewrites this stamp, and everything built by the other compiler is rebuilt.
GUEST_CC_STAMP := $(BUILD)/guest/cc.stamp
GUEST_CC_ID := $(CC) $(shell $(CC) --version 2>/dev/null | head -n 1)
$(shell mkdir -p $(BUILD)/guest && \
	[ "$$(cat $(GUEST_CC_STAMP) 2>/dev/null)" = '$(GUEST_CC_ID)' ] || \
	echo '$(GUEST_CC_ID)' >$(GUEST_CC_STAMP))

# Anything that changes how guest code is built rebuilds it.
GUEST_BUILD_DEPS := guest/flags.mk guest/guest.mk guest/guest.ld $(GUEST_CC_STAMP)

GUEST_EXAMPLES := $(patsubst guest/examples/%.c,$(BUILD)/examples/%.elf,$(wildcard guest/examples/*.c))
GUEST_TESTS := $(patsubst tests/guests/%.c,$(BUILD)/tests/guests/%.elf,$(wildcard tests/guests/*.c))
GUEST_BENCH := $(patsubst bench/guests/%.c,$(BUILD)/bench/guests/%.elf,$(wildcard bench/guests/*.c)) \
	$(BUILD)/bench/guests/compute-ring0.elf
GUEST_PROGRAMS := $(GUEST_EXAMPLES) $(GUEST_TESTS) $(GUEST_BENCH)

.PHONY: guest guest-runtime guest-examples guest-tests guest-bench
guest: guest-runtime $(GUEST_PROGRAMS)
guest-runtime: $(GUEST_CRT0) $(GUEST_LIB)
guest-examples: $(GUEST_EXAMPLES)
guest-tests: $(GUEST_TESTS)
guest-bench: $(GUEST_BENCH)

$(GUEST_OBJDIR)/%.o: guest/runtime/%.c $(GUEST_HDRS) guest/runtime/runtime.h $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

# The runtime's floating-point files: compiled with SSE allowed, and only
# ever executed by programs that do floating point (see guest/README.md,
# "Floating point"). Everything else stays general-registers-only.
GUEST_RT_SSE_OBJS := $(addprefix $(GUEST_OBJDIR)/,math.o format_float.o printf.o)
$(filter $(GUEST_RT_OBJS),$(GUEST_RT_SSE_OBJS)): $(GUEST_OBJDIR)/%.o: guest/runtime/%.c $(GUEST_HDRS) guest/runtime/runtime.h $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_SSE_CFLAGS) -c $< -o $@

$(GUEST_OBJDIR)/%.o: guest/runtime/%.S $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_CRT0): guest/runtime/entry.S $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_LIB): $(GUEST_RT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# One program per source file.
GUEST_PROGRAM_DEPS := $(GUEST_CRT0) $(GUEST_LIB) $(GUEST_HDRS) $(GUEST_BUILD_DEPS)

$(BUILD)/examples/%.elf: guest/examples/%.c $(GUEST_PROGRAM_DEPS)
	@mkdir -p $(dir $@)
	$(call guest-link,$@,$<)

# The floating-point example needs SSE (it runs with pvmm run --ring 3).
$(BUILD)/examples/float.elf: GUEST_LINK_CFLAGS = $(GUEST_SSE_CFLAGS)

$(BUILD)/tests/guests/%.elf: tests/guests/%.c $(GUEST_PROGRAM_DEPS)
	@mkdir -p $(dir $@)
	$(call guest-link,$@,$<)

$(BUILD)/bench/guests/%.elf: bench/guests/%.c $(GUEST_PROGRAM_DEPS)
	@mkdir -p $(dir $@)
	$(call guest-link,$@,$<)

# The compute benchmark's kernels, in bench/compute_kernel.h, twice: with
# SSE for ring 3 (integer and floating point), and general registers only
# for ring 0 (integer only: COMPUTE_NO_FP).
$(BUILD)/bench/guests/compute.elf: bench/compute_kernel.h
$(BUILD)/bench/guests/compute.elf: GUEST_LINK_CFLAGS = $(GUEST_SSE_CFLAGS)
$(BUILD)/bench/guests/compute-ring0.elf: bench/guests/compute.c bench/compute_kernel.h $(GUEST_PROGRAM_DEPS)
	@mkdir -p $(dir $@)
	$(call guest-link,$@,$<) -DCOMPUTE_NO_FP
