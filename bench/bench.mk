# Benchmarks: `make bench` builds these (via `all`), then runs bench/run.sh.
#   $(BUILD)/bench/rawvm        the raw-KVM floor pvmm is compared with
#   $(BUILD)/bench/pvmm-bench   the harness: runs everything, prints, writes JSON
# The guests it runs, $(BUILD)/examples/hello.elf and
# $(BUILD)/bench/guests/hcloop.elf, come from guest/guest.mk.

BENCH_OUT := $(BUILD)/bench

.PHONY: bench-build
bench-build: $(BENCH_OUT)/rawvm $(BENCH_OUT)/pvmm-bench

# Both link with the user's LDFLAGS only, not HOST_LDFLAGS: that holds the
# monitor's libraries, and a floor that loaded them would not be the floor.
# rawvm reads only constants from include/pvmm/para.h and links nothing of
# the monitor's.
$(BENCH_OUT)/rawvm: bench/rawvm.c include/pvmm/para.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $< -o $@ $(LDFLAGS)

$(BENCH_OUT)/pvmm-bench: bench/bench.c bench/compute_kernel.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -pthread $< -o $@ $(LDFLAGS) -lm
