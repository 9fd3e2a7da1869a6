# Compiler and linker flags for all guest code: the runtime, the examples,
# the test and bench guests, and user programs built with guest/pvmm-cc.
# guest/guest.mk includes this file; pvmm-cc asks make to print the flags
# (target guest-print-flags), so the two can never diverge.
#
# PVMM_ROOT is the repository root: "." inside the build, an absolute path
# when pvmm-cc builds a user program from another directory. An installed
# tree (make install) has the same layout under PREFIX/lib/pvmm, with
# BUILD=. (libpvmm.a and crt0.o in guest/ next to this file).
#
# Why these flags: the runtime runs at CPL0, which KVM interprets on hosts
# without VT-x, and its emulator has no SSE, so the runtime (and the
# repository's own guests) use general registers only; exceptions arrive on
# the current stack, so no red zone; the image is linked at a fixed address
# below 2 GiB (no PIC, small code model); there is no libc, so no builtin
# headers beyond the compiler's own freestanding ones (stdint.h, stddef.h,
# stdarg.h, ...; guest/include has its own limits.h). No libm errno:
# -fno-math-errno lets sqrt() be one sqrtsd.
#
# Four sets, one common base:
#   GUEST_CFLAGS       the runtime and the repository's guests: -Wextra
#                      -Werror, general registers only
#   GUEST_SSE_CFLAGS   the runtime's floating-point files (math.c,
#                      format_float.c, printf.c) and the float example:
#                      the same, SSE allowed
#   GUEST_USER_CFLAGS  user programs built by pvmm-cc: -Wall only (no
#                      -Werror, no -Wextra), SSE allowed
#   GUEST_RING0_CFLAGS pvmm-cc --ring0: user flags, general registers only

PVMM_ROOT ?= .
BUILD ?= build
# $(call pvmm-path,REL): REL under PVMM_ROOT, without a leading "./" so that
# make sees the same target names as the top Makefile's.
pvmm-path = $(patsubst ./%,%,$(PVMM_ROOT)/$(1))

# The compiler's own freestanding headers (stdint.h, stdarg.h, ...); asked
# once per make run, not once per compile.
GUEST_CC_INCLUDE := $(shell $(CC) -print-file-name=include)

GUEST_BASE_CFLAGS = -std=gnu11 -Wall -O2 -g \
	-ffreestanding -nostdinc \
	-isystem $(GUEST_CC_INCLUDE) \
	-I$(PVMM_ROOT)/guest/include -I$(PVMM_ROOT)/include \
	-mno-red-zone -mcmodel=small \
	-fno-pic -fno-pie -fno-stack-protector -fno-math-errno \
	-fno-asynchronous-unwind-tables -fno-unwind-tables

GUEST_CFLAGS = $(GUEST_BASE_CFLAGS) -Wextra -Werror -mgeneral-regs-only
GUEST_SSE_CFLAGS = $(GUEST_BASE_CFLAGS) -Wextra -Werror
GUEST_USER_CFLAGS = $(GUEST_BASE_CFLAGS)
GUEST_RING0_CFLAGS = $(GUEST_BASE_CFLAGS) -mgeneral-regs-only

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
GUEST_NET_LIB = $(call pvmm-path,$(BUILD)/guest/libpvmm-net.a)

# A guest program: crt0 first (it holds _start), then the user's code, then
# the runtime archive so it resolves what the user's code needs.
#   $(call guest-link,OUTPUT,SOURCES)
# GUEST_LINK_CFLAGS can be set per target (guest.mk: the float example);
# GUEST_LINK_NET too (the socket library, for the guests that use it).
GUEST_LINK_CFLAGS = $(GUEST_CFLAGS)
GUEST_LINK_NET =
guest-link = $(CC) $(GUEST_LINK_CFLAGS) -o $(1) $(GUEST_CRT0) $(2) $(GUEST_LINK_NET) $(GUEST_LIB) $(GUEST_LDFLAGS)

.PHONY: guest-print-flags
guest-print-flags:
	@echo 'GUEST_CFLAGS=$(GUEST_CFLAGS)'
	@echo 'GUEST_USER_CFLAGS=$(GUEST_USER_CFLAGS)'
	@echo 'GUEST_RING0_CFLAGS=$(GUEST_RING0_CFLAGS)'
	@echo 'GUEST_LDFLAGS=$(GUEST_LDFLAGS)'
	@echo 'GUEST_CRT0=$(GUEST_CRT0)'
	@echo 'GUEST_LIB=$(GUEST_LIB)'
	@echo 'GUEST_NET_LIB=$(GUEST_NET_LIB)'
