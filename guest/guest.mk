# Guest side of the build: the runtime library and every guest program.
# Included from the top-level Makefile; paths are relative to the repo root.
#
#   build/guest/crt0.o         _start (link it first)
#   build/guest/libpvmm.a      the runtime (libc subset, para-API, IDT, ...)
#   build/guest/libpvmm-net.a  TCP/IP sockets (<pvmm/socket.h>): lwIP, fetched
#                              by scripts/lwip.sh, and its pvmm port guest/lwip/
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

.PHONY: guest guest-runtime guest-net guest-examples guest-tests guest-bench
guest: guest-runtime guest-net $(GUEST_PROGRAMS)
guest-runtime: $(GUEST_CRT0) $(GUEST_LIB)
guest-net: $(GUEST_NET_LIB)
guest-examples: $(GUEST_EXAMPLES)
guest-tests: $(GUEST_TESTS)
guest-bench: $(GUEST_BENCH)

$(GUEST_OBJDIR)/%.o: guest/runtime/%.c $(GUEST_HDRS) guest/runtime/runtime.h $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@
$(GUEST_OBJDIR)/blk.o: guest/runtime/blk_spin.h

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

# ---- TCP/IP: lwIP from Debian's source package, and its pvmm port ----------
# scripts/lwip.sh unpacks lwIP into the cache once (its .pvmm-ok stamp);
# nothing of lwIP is in the repository. lwIP's core is built NO_SYS (no
# threads, none of its sockets or netconn) against the runtime's headers,
# with the runtime's flags but without -Werror (its code is not ours to
# fix); the port in guest/lwip/ is held to -Werror like the runtime.
PVMM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/pvmm
LWIP_VERSION := 2.1.3+dfsg1
LWIP_DIR := $(PVMM_CACHE)/lwip-$(LWIP_VERSION)
LWIP_STAMP := $(LWIP_DIR)/.pvmm-ok
LWIP_SRCS := $(addprefix core/,altcp altcp_alloc altcp_tcp def dns inet_chksum init ip mem memp netif \
	pbuf raw stats sys tcp tcp_in tcp_out timeouts udp) \
	$(addprefix core/ipv4/,autoip dhcp etharp icmp igmp ip4 ip4_addr ip4_frag) netif/ethernet
LWIP_OBJDIR := $(BUILD)/guest/lwip
LWIP_OBJS := $(LWIP_SRCS:%=$(LWIP_OBJDIR)/%.o)
LWIP_PORT_HDRS := $(wildcard guest/lwip/*.h guest/lwip/include/*.h guest/lwip/include/arch/*.h)
LWIP_PORT_OBJS := $(patsubst guest/lwip/%.c,$(LWIP_OBJDIR)/port/%.o,$(wildcard guest/lwip/*.c))
LWIP_INCLUDES = -Iguest/lwip/include -I$(LWIP_DIR)/src/include

$(LWIP_STAMP): scripts/lwip.sh
	PVMM_CACHE='$(PVMM_CACHE)' scripts/lwip.sh >/dev/null
	@test -f $@ && touch $@

$(LWIP_OBJS): $(LWIP_OBJDIR)/%.o: $(LWIP_STAMP) $(LWIP_PORT_HDRS) $(GUEST_HDRS) $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_BASE_CFLAGS) -mgeneral-regs-only $(LWIP_INCLUDES) -c $(LWIP_DIR)/src/$*.c -o $@

$(LWIP_PORT_OBJS): $(LWIP_OBJDIR)/port/%.o: guest/lwip/%.c $(LWIP_STAMP) $(LWIP_PORT_HDRS) $(GUEST_HDRS) $(GUEST_BUILD_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(LWIP_INCLUDES) -c $< -o $@

$(GUEST_NET_LIB): $(LWIP_PORT_OBJS) $(LWIP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# The guests that use <pvmm/socket.h> link libpvmm-net.a before the runtime.
GUEST_NET_PROGRAMS := $(BUILD)/examples/tcp_echo.elf $(BUILD)/examples/httpd.elf $(BUILD)/tests/guests/sock_api.elf
$(GUEST_NET_PROGRAMS): $(GUEST_NET_LIB)
$(GUEST_NET_PROGRAMS): GUEST_LINK_NET = $(GUEST_NET_LIB)

# httpd parses requests with the monitor's own HTTP parser (src/api/http.c:
# strict, bounded, fuzzed by tests/fuzz/fuzz_http.c), compiled for the guest.
$(BUILD)/examples/httpd.elf: guest/examples/httpd.c src/api/http.c src/api/http.h $(GUEST_PROGRAM_DEPS)
	@mkdir -p $(dir $@)
	$(call guest-link,$@,-Isrc/api $< src/api/http.c)
