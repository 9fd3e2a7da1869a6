#!/usr/bin/env python3
"""bench/linux.py BUILD OUT_DIR: Linux start-up (step 6 of make bench).

The Linux kit's kernel (scripts/linux-kit.sh: Debian's cloud kernel, its
vmlinux with the PVH entry note) boots through PVH with the same command
line under `pvmm run --kernel` and under `qemu-system-x86_64 -M microvm
-accel kvm`, runs interleaved, and each run is timed from the monitor's
start to the kernel's "Command line:" line on the serial console, when
the run is stopped. Only the PVH path: a bzImage's decompressor alone takes
about two minutes of interpreted code on a host without VT-x.
Target: pvmm's median at most 1.10x QEMU's (the same kernel doing the same
work; the margin is this shared host's noise). Skipped, with a line
saying so, without QEMU or without a PVH vmlinux in the kit.
Prints a table and "N of M targets met"; writes OUT_DIR/linux.json.
"""
import json
import os
import shutil
import subprocess
import sys
import time

RUNS = 2
LIMIT_S = 120
CMDLINE = "console=ttyS0 earlyprintk=serial acpi=off noxsave panic=-1"
MARK = b"Command line:"


def time_to_mark(argv):
    """Seconds from start to MARK on stdout, or None (the output's tail)."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = b""
    try:
        while time.monotonic() - start < LIMIT_S:
            line = p.stdout.readline()
            if not line:
                break
            if MARK in line:
                return time.monotonic() - start, None
            seen = (seen + line)[-300:]
        return None, seen.decode(errors="replace")
    finally:
        p.kill()
        p.wait()


def main(argv):
    if len(argv) != 3:
        print("usage: bench/linux.py BUILD OUT_DIR", file=sys.stderr)
        return 2
    build, out_dir = argv[1], argv[2]
    if not shutil.which("qemu-system-x86_64"):
        print("linux bench: SKIP (qemu-system-x86_64 not installed; scripts/deps.sh installs it)")
        return 0
    kit = subprocess.run(["scripts/linux-kit.sh"], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    vmlinux = os.path.join(kit, "vmlinux")
    if not os.path.exists(vmlinux):
        print("linux bench: SKIP (the kit's kernel has no PVH vmlinux: %s)" % kit)
        return 0
    pvmm = [os.path.join(build, "pvmm"), "run", "--kernel", vmlinux, "--cmdline", CMDLINE]
    qemu = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "qemu64", "-m", "256",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", vmlinux, "-append", CMDLINE]
    times = {"pvmm": [], "qemu": []}
    for _ in range(RUNS):
        for name, cmd in (("pvmm", pvmm), ("qemu", qemu)):
            t, tail = time_to_mark(cmd)
            if t is None:
                print("linux bench: %s never printed %r within %d s; its console ended with: %r"
                      % (name, MARK.decode(), LIMIT_S, tail), file=sys.stderr)
                return 1
            times[name].append(t)
    med = {k: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
           for k, v in times.items()}
    ratio = med["pvmm"] / med["qemu"]
    ok = ratio <= 1.10
    print("\n%-46s %10s %10s %8s %s" % ("Linux PVH start to \"Command line:\", s", "pvmm", "qemu", "ratio",
                                        "target"))
    print("%-46s %10.2f %10.2f %8.2f <= 1.10 %s" % ("median of %d runs each" % RUNS, med["pvmm"], med["qemu"],
                                                    ratio, "PASS" if ok else "MISS"))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "linux.json"), "w") as f:
        json.dump({"cmdline": CMDLINE, "runs": times, "median_s": med, "ratio": ratio}, f, indent=2)
        f.write("\n")
    print("linux bench: wrote %s" % os.path.join(out_dir, "linux.json"))
    print("%d of 1 targets met" % (1 if ok else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
