#!/usr/bin/env python3
"""bench/linux.py BUILD OUT_DIR: Linux start-up (step 6 of make bench).

The Linux kit's kernel (scripts/linux-kit.sh: Debian's cloud kernel) boots
the same way under `pvmm run --kernel` and under `qemu-system-x86_64 -M
microvm -accel kvm`, runs interleaved, each timed from the monitor's start
to a console line and then stopped:
- PVH: the kit's vmlinux (it carries the PVH entry note), to the kernel's
  "Command line:" line;
- bzImage: the kit's vmlinuz with `nokaslr`, to the decompressor's first
  line ("KASLR disabled"), the first line both print from the kernel's
  64-bit code. (Not quite the same code up to it: QEMU's firmware enters
  the real-mode setup code, which probes EDD and prints "Probing EDD",
  and QEMU's time includes it; pvmm enters the 64-bit entry. The
  kernel's own "Command line:" comes after decompressing 53 MB at
  interpreted speed, about two minutes on a host without VT-x: too long
  for a benchmark step.)
Target for each: pvmm's median at most 1.10x QEMU's (the same kernel
doing the same work; the margin is this shared host's noise). Skipped,
with a line saying so, without QEMU; a kit without one of the images
skips that row. Prints a table and "N of M targets met"; writes
OUT_DIR/linux.json.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

RUNS = 2
LIMIT_S = 120
CMDLINE = "console=ttyS0 earlyprintk=serial acpi=off noxsave panic=-1"
# (row, the kit's file, extra command line, the line waited for)
CASES = (
    ("PVH (vmlinux) to \"Command line:\"", "vmlinux", "", b"Command line:"),
    ("bzImage (vmlinuz) to the decompressor's line", "vmlinuz", " nokaslr", b"KASLR disabled"),
)


def time_to_mark(argv, mark):
    """Seconds from start to `mark` on stdout, or None (the output's tail)."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = b""
    try:
        while time.monotonic() - start < LIMIT_S:
            line = p.stdout.readline()
            if not line:
                break
            if mark in line:
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
    print("\n%-50s %10s %10s %8s %s" % ("Linux start-up, s (median of %d runs each)" % RUNS, "pvmm", "qemu",
                                        "ratio", "target"))
    rows, met = [], 0
    for label, image_name, extra, mark in CASES:
        image = os.path.join(kit, image_name)
        if not os.path.exists(image):
            print("%-50s SKIP (the kit has no %s: %s)" % (label, image_name, kit))
            continue
        cmdline = CMDLINE + extra
        pvmm = [os.path.join(build, "pvmm"), "run", "--kernel", image, "--cmdline", cmdline]
        qemu = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "qemu64", "-m", "256",
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
                "-kernel", image, "-append", cmdline]
        times = {"pvmm": [], "qemu": []}
        for _ in range(RUNS):
            for name, cmd in (("pvmm", pvmm), ("qemu", qemu)):
                t, tail = time_to_mark(cmd, mark)
                if t is None:
                    print("linux bench: %s (%s) never printed %r within %d s; its console ended with: %r"
                          % (name, image_name, mark.decode(), LIMIT_S, tail), file=sys.stderr)
                    return 1
                times[name].append(t)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["pvmm"] / med["qemu"]
        ok = ratio <= 1.10
        met += ok
        print("%-50s %10.2f %10.2f %8.2f <= 1.10 %s" % (label, med["pvmm"], med["qemu"], ratio,
                                                        "PASS" if ok else "MISS"))
        rows.append({"image": image_name, "cmdline": cmdline, "mark": mark.decode(), "runs": times,
                     "median_s": med, "ratio": ratio})
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "linux.json"), "w") as f:
        json.dump({"schema": "pvmm-linux/2", "rows": rows}, f, indent=2)
        f.write("\n")
    print("linux bench: wrote %s" % os.path.join(out_dir, "linux.json"))
    print("%d of %d targets met" % (met, len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
