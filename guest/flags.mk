# Compiler and linker flags for all guest code: the runtime, the examples,
# the test and bench guests, and user programs built with guest/pvmm-cc.
# guest/guest.mk includes this file; pvmm-cc asks make to print the flags
# (target guest-print-flags), so the two can never diverge.
#
# PVMM_ROOT is the repository root: "." inside the build, an absolute path
# when pvmm-cc builds a user program from another directory.
#
# Why these flags: guest code runs at CPL0, which KVM interprets on hosts
# without VT-x, and its emulator has no SSE, so the compiler must use
# general registers only; exceptions arrive on the current stack, so no red
# zone; the image is linked at a fixed address below 2 GiB (no PIC, small
# code model); there is no libc, so no builtin headers beyond the
# compiler's own freestanding ones (stdint.h, stddef.h, stdarg.h, ...).

PVMM_ROOT ?= .
BUILD ?= build
# $(call pvmm-path,REL): REL under PVMM_ROOT, without a leading "./" so that
# make sees the same target names as the top Makefile's.
pvmm-path = $(patsubst ./%,%,$(PVMM_ROOT)/$(1))

# The compiler's own freestanding headers (stdint.h, stdarg.h, ...); asked
# once per make run, not once per compile.
GUEST_CC_INCLUDE := $(shell $(CC) -print-file-name=include)

GUEST_CFLAGS = -std=gnu11 -Wall -Wextra -Werror -O2 -g \
	-ffreestanding -nostdinc \
	-isystem $(GUEST_CC_INCLUDE) \
	-I$(PVMM_ROOT)/guest/include -I$(PVMM_ROOT)/include \
	-mgeneral-regs-only -mno-red-zone -mcmodel=small \
	-fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables

# Link-only flags (clang warns about them at compile time, so they are kept
# apart). -static already makes a position-dependent executable (EXEC);
# clang -Werror rejects -no-pie next to it as unused, so it is left out.
# max-page-size keeps segments 4 KiB aligned in the file instead of 2 MiB;
# no build-id note: nothing the monitor would have to skip.
GUEST_LDFLAGS = -nostdlib -static \
	-Wl,-T,$(PVMM_ROOT)/guest/guest.ld \
	-Wl,-z,max-page-size=4096 -Wl,--build-id=none -Wl,-z,noexecstack

GUEST_CRT0 = $(call pvmm-path,$(BUILD)/guest/crt0.o)
GUEST_LIB = $(call pvmm-path,$(BUILD)/guest/libpvmm.a)

# A guest program: crt0 first (it holds _start), then the user's code, then
# the runtime archive so it resolves what the user's code needs.
#   $(call guest-link,OUTPUT,SOURCES)
guest-link = $(CC) $(GUEST_CFLAGS) -o $(1) $(GUEST_CRT0) $(2) $(GUEST_LIB) $(GUEST_LDFLAGS)

.PHONY: guest-print-flags
guest-print-flags:
	@echo 'GUEST_CFLAGS=$(GUEST_CFLAGS)'
	@echo 'GUEST_LDFLAGS=$(GUEST_LDFLAGS)'
	@echo 'GUEST_CRT0=$(GUEST_CRT0)'
	@echo 'GUEST_LIB=$(GUEST_LIB)'
