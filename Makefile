# pvmm — top-level build. `make` builds everything; `make demo` and
# `make check` are the two set-up commands the README promises.
#
# Layout of outputs:
#   build/pvmm                 the monitor
#   build/asan/pvmm            the monitor under ASan+UBSan (for make check)
#   build/guest/               the guest runtime (libpvmm.a, crt0.o)
#   build/examples/*.elf       example guests
#   build/tests/...            unit-test binaries and test guests
#   build/bench/...            benchmark programs and guests

CC ?= cc
BUILD := build
VERSION := 0.1.0

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
GEN := $(BUILD)/gen
HOST_CFLAGS := -std=gnu11 $(WARN) -O2 -g -Iinclude -Isrc -I$(GEN) -D_GNU_SOURCE -DPVMM_VERSION_STRING='"$(VERSION)"' $(CFLAGS)
# liburing: virtio-blk's asynchronous I/O, linked statically so that start-up
# loads no extra shared library; pthread: the I/O thread.
HOST_LDFLAGS := $(LDFLAGS) -Wl,-Bstatic -luring -Wl,-Bdynamic -ljson-c -lpthread
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

MONITOR_SRCS := $(wildcard src/*.c src/*/*.c)
MONITOR_OBJS := $(MONITOR_SRCS:src/%.c=$(BUILD)/obj/%.o)
MONITOR_SAN_OBJS := $(MONITOR_SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
# Everything but main.c, for linking into unit tests.
MONITOR_LIB_OBJS := $(filter-out $(BUILD)/obj/main.o,$(MONITOR_OBJS))
MONITOR_HDRS := $(wildcard src/*.h src/*/*.h include/pvmm/*.h)

.PHONY: all demo check check-fast bench deps clean monitor asan man deb
all: monitor guest tests-build bench-build man

monitor: $(BUILD)/pvmm $(BUILD)/pvmm-slirp
asan: $(BUILD)/asan/pvmm $(BUILD)/asan/pvmm-slirp

$(BUILD)/obj/%.o: src/%.c $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c $< -o $@

# The release monitor is linked statically: no dynamic loader work at
# start-up and ~0.9 MiB less resident memory than mapping all of libc.so
# (make bench measures both). Sanitizer builds must stay dynamic.
$(BUILD)/pvmm: $(MONITOR_OBJS)
	$(CC) $(HOST_CFLAGS) -static $^ -o $@ $(LDFLAGS) -luring -ljson-c -lpthread

# pvmm-slirp, the --net user helper the monitor spawns from its own
# directory: libslirp and glib are shared-only in Debian, so they live in
# this dynamically linked helper and the monitor stays static (docs/net.md).
SLIRP_CFLAGS = $(shell pkg-config --cflags slirp)
SLIRP_LIBS = $(shell pkg-config --libs slirp)
$(BUILD)/pvmm-slirp: helper/pvmm_slirp.c src/net/backend.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SLIRP_CFLAGS) $< -o $@ $(LDFLAGS) $(SLIRP_LIBS)

$(BUILD)/asan/pvmm-slirp: helper/pvmm_slirp.c src/net/backend.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(SLIRP_CFLAGS) $< -o $@ $(LDFLAGS) $(SLIRP_LIBS)

# The seccomp filters: libseccomp compiles syscall_filter.c's tables into
# BPF at build time (the same file built as a generator); the monitor
# loads the programs with seccomp(2) and does not link libseccomp.
$(GEN)/syscall_filters.h: src/syscall_filter.c src/syscall_filter.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -DSYSFILTER_GENERATOR $< -o $(GEN)/gen_filters $(LDFLAGS) -lseccomp
	$(GEN)/gen_filters >$@.tmp
	mv $@.tmp $@
$(BUILD)/obj/syscall_filter.o $(BUILD)/asan/obj/syscall_filter.o $(BUILD)/fuzz/obj/syscall_filter.o: \
	$(GEN)/syscall_filters.h

# pvmm(1): written in roff (docs/man/pvmm.1), the version filled in here.
MAN_PAGE := $(BUILD)/man/pvmm.1
man: $(MAN_PAGE)
$(MAN_PAGE): docs/man/pvmm.1 Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|g' $< >$@

$(BUILD)/asan/obj/%.o: src/%.c $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/asan/pvmm: $(MONITOR_SAN_OBJS)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $^ -o $@ $(HOST_LDFLAGS)

include guest/guest.mk
include tests/tests.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk

deps:
	@scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

check: deps
	@$(MAKE) --no-print-directory all asan
	@tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the monitor and the SDK.
#   PREFIX/bin/pvmm, PREFIX/bin/pvmm-slirp (--net user), PREFIX/bin/pvmm-cc
#   PREFIX/lib/pvmm/guest/   libpvmm.a libpvmm-net.a crt0.o guest.ld flags.mk include/
#   PREFIX/lib/pvmm/include/pvmm/para.h
#   PREFIX/lib/pkgconfig/pvmm.pc
#   PREFIX/share/man/man1/pvmm.1
# The guest headers stay under lib/pvmm (they include a <stdio.h> that
# must not shadow the host's in PREFIX/include). pvmm-cc finds the tree
# relative to itself, so the installed tree can be moved as a whole.
PREFIX ?= /usr/local
INSTALL_PKG := $(DESTDIR)$(PREFIX)/lib/pvmm
.PHONY: install
install: monitor guest-runtime guest-net man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(INSTALL_PKG)/guest/include/pvmm $(INSTALL_PKG)/include/pvmm
	install -m 755 $(BUILD)/pvmm $(BUILD)/pvmm-slirp guest/pvmm-cc $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(GUEST_LIB) $(GUEST_NET_LIB) $(GUEST_CRT0) guest/guest.ld guest/flags.mk $(INSTALL_PKG)/guest/
	install -m 644 $(wildcard guest/include/*.h) $(INSTALL_PKG)/guest/include/
	install -m 644 $(wildcard guest/include/pvmm/*.h) $(INSTALL_PKG)/guest/include/pvmm/
	install -m 644 include/pvmm/para.h $(INSTALL_PKG)/include/pvmm/
	install -m 644 $(MAN_PAGE) $(DESTDIR)$(PREFIX)/share/man/man1/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' guest/pvmm.pc.in \
		>$(DESTDIR)$(PREFIX)/lib/pkgconfig/pvmm.pc

# make deb: build/pvmm_VERSION_ARCH.deb, the install tree with PREFIX=/usr
# packed by dpkg-deb (scripts/mkdeb.sh writes DEBIAN/control).
DEB_ARCH = $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_ROOT := $(BUILD)/deb/root
deb: monitor guest-runtime man
	rm -rf $(DEB_ROOT)
	@$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(DEB_ROOT))
	scripts/mkdeb.sh $(DEB_ROOT) $(VERSION) $(DEB_ARCH) $(BUILD)/pvmm_$(VERSION)_$(DEB_ARCH).deb

clean:
	rm -rf $(BUILD)
