# Unit tests: every tests/unit/test_X.c becomes two cmocka binaries,
#   $(BUILD)/tests/unit/test_X        linked with the normal monitor objects
#   $(BUILD)/asan/tests/unit/test_X   linked with the ASan+UBSan monitor objects
# Both link every monitor object but main.o. tests/run.sh runs them all.

UNIT_TEST_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_TESTS_ASAN := $(UNIT_TEST_SRCS:tests/unit/%.c=$(BUILD)/asan/tests/unit/%)

# The sanitizer build of MONITOR_LIB_OBJS: same objects, asan/obj instead of obj.
MONITOR_LIB_SAN_OBJS := $(MONITOR_LIB_OBJS:$(BUILD)/obj/%.o=$(BUILD)/asan/obj/%.o)

UNIT_TEST_HDRS := $(wildcard tests/unit/*.h)
UNIT_TEST_LIBS := -lcmocka

$(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(MONITOR_LIB_OBJS) $(MONITOR_HDRS) $(UNIT_TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $< $(MONITOR_LIB_OBJS) -o $@ $(HOST_LDFLAGS) $(UNIT_TEST_LIBS)

$(BUILD)/asan/tests/unit/test_%: tests/unit/test_%.c $(MONITOR_LIB_SAN_OBJS) $(MONITOR_HDRS) $(UNIT_TEST_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $< $(MONITOR_LIB_SAN_OBJS) -o $@ $(HOST_LDFLAGS) $(UNIT_TEST_LIBS)

# test_ring_abi compares the guest runtime's ring header with the kernel's.
$(BUILD)/tests/unit/test_ring_abi $(BUILD)/asan/tests/unit/test_ring_abi: guest/include/pvmm/virtio.h

tests-build: $(UNIT_TESTS) $(UNIT_TESTS_ASAN)
.PHONY: tests-build

# test_libm compiles the guest's libm (guest/runtime/math.c) and compares it
# with glibc's, so it links -lm.
$(BUILD)/tests/unit/test_libm $(BUILD)/asan/tests/unit/test_libm: guest/runtime/math.c
$(BUILD)/tests/unit/test_libm $(BUILD)/asan/tests/unit/test_libm: UNIT_TEST_LIBS += -lm

# test_format_float compiles the guest's printf engine (format.c and
# format_float.c) and compares it with glibc's snprintf.
$(BUILD)/tests/unit/test_format_float $(BUILD)/asan/tests/unit/test_format_float: \
	guest/runtime/format.c guest/runtime/format_float.c guest/runtime/runtime.h

# tests/host/: host programs the integration tests drive, e.g. vu_client, a
# vhost-user front end without QEMU for test_vhost_user.sh.
HOST_TEST_SRCS := $(wildcard tests/host/*.c)
HOST_TEST_BINS := $(HOST_TEST_SRCS:tests/host/%.c=$(BUILD)/tests/host/%)

$(BUILD)/tests/host/%: tests/host/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $< -o $@

tests-build: $(HOST_TEST_BINS)

# acpi_dump writes the ACPI tables src/acpi.c builds, for test_linux.sh's
# iasl check: it needs the monitor's objects, unlike the other host tools.
$(BUILD)/tests/host/acpi_dump: tests/host/acpi_dump.c $(MONITOR_LIB_OBJS) $(MONITOR_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $< $(MONITOR_LIB_OBJS) -o $@ $(HOST_LDFLAGS)

# test_blk_spin compiles the guest virtio-blk driver's spin policy.
$(BUILD)/tests/unit/test_blk_spin $(BUILD)/asan/tests/unit/test_blk_spin: guest/runtime/blk_spin.h
