#!/usr/bin/env python3
"""Cold starts of several commands, interleaved in one run.

    bench/headtohead.py [--runs N] NAME='COMMAND ...' NAME='COMMAND ...' ...

Each command is started N times (default 60) after 5 warm-up starts, in
alternating order (A B C, C B A, ...) so that a change in the machine's
load falls on all of them alike. Prints, per command, the median and
minimum wall time from fork to exit and the median CPU time of the child
(user + system, from wait4), then each command's medians against the
first one's. Meant for comparing two builds of pvmm (for instance this
tree against an older commit built in a worktree) on the same guest: a
figure from another run is information, not a comparison.
"""
import os
import shlex
import statistics
import sys
import time


def once(argv, devnull):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - t0) * 1e3
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"headtohead: {shlex.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1e3


def main():
    args = sys.argv[1:]
    runs = 60
    if len(args) >= 2 and args[0] == "--runs":
        runs = int(args[1])
        args = args[2:]
    cmds = []
    for a in args:
        name, sep, cmd = a.partition("=")
        if not sep or not cmd:
            sys.exit(f"headtohead: '{a}' is not NAME=COMMAND")
        cmds.append((name, shlex.split(cmd)))
    if len(cmds) < 2 or runs < 1:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _, argv in cmds:
        for _ in range(5):
            once(argv, devnull)
    wall = {n: [] for n, _ in cmds}
    cpu = {n: [] for n, _ in cmds}
    for i in range(runs):
        for name, argv in cmds if i % 2 == 0 else reversed(cmds):
            w, c = once(argv, devnull)
            wall[name].append(w)
            cpu[name].append(c)
    base = cmds[0][0]
    bw, bc = statistics.median(wall[base]), statistics.median(cpu[base])
    for name, _ in cmds:
        mw, mc = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:24s} wall median {mw:7.3f} ms (min {min(wall[name]):7.3f})  cpu median {mc:7.3f} ms"
              f"  vs {base}: wall {mw / bw:5.3f}x cpu {mc / bc:5.3f}x")


if __name__ == "__main__":
    main()
