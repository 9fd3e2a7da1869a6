#!/usr/bin/env python3
"""Start-up of the control plane: from process start until the API socket
accepts a connection, wall time and the monitor's CPU time (every thread's,
from /proc/PID/task/*/schedstat, read the moment the connection is
accepted). Firecracker's published target is 8 CPU-ms.

    bench/api_startup.py [--runs N] [--pvmm build/pvmm]

Prints one line per figure: median, min and max over the runs.
"""
import argparse
import glob
import os
import socket
import statistics
import subprocess
import tempfile
import time


def task_cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total


def one_run(pvmm, sock_path):
    start = time.perf_counter_ns()
    proc = subprocess.Popen([pvmm, "--api-sock", sock_path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 10
    while True:
        try:
            s.connect(sock_path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("pvmm's API socket never accepted a connection")
    wall = time.perf_counter_ns() - start
    cpu = task_cpu_ns(proc.pid)
    s.close()
    proc.terminate()
    proc.wait()
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--pvmm", default="build/pvmm")
    args = ap.parse_args()
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            wall, cpu = one_run(args.pvmm, os.path.join(tmp, f"api{i}.sock"))
            walls.append(wall / 1e6)
            cpus.append(cpu / 1e6)
    for name, xs in (("wall_ms", walls), ("cpu_ms", cpus)):
        print(f"api_startup {name}: median {statistics.median(xs):.3f} min {min(xs):.3f} "
              f"max {max(xs):.3f} ({args.runs} runs)")


if __name__ == "__main__":
    main()
