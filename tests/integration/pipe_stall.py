#!/usr/bin/env python3
"""Run a command whose stdout is a pipe of one page that nobody reads.

pipe_stall.py HELD THEN -- CMD [ARG...]

Starts CMD with its stdout on a pipe shrunk to one page (F_SETPIPE_SZ).
Once the pipe holds something and has not changed for SETTLE seconds
(the pipe need not be full: a write that does not fit may wait with part
of it in), CMD is taken as blocked writing to it: the shell command THEN
runs (with CMD still blocked), CMD is killed, and everything the pipe
held is written to the file HELD. Exits with THEN's status, or 3 if the
pipe never filled within LIMIT seconds (CMD's output so far in HELD).
For tests of what a monitor does when a pause or snapshot catches its
guest in a console write that cannot go on.
"""
import fcntl
import os
import subprocess
import sys
import termios
import time

SETTLE = 0.5
LIMIT = 60.0


def queued(fd):
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit("usage: pipe_stall.py HELD THEN -- CMD [ARG...]")
    held, then, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    r, w = os.pipe()
    size = fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
    child = subprocess.Popen(cmd, stdout=w, stdin=subprocess.DEVNULL)
    os.close(w)
    status = 3
    start = last_change = time.monotonic()
    last = -1
    while time.monotonic() - start < LIMIT and child.poll() is None:
        n = queued(r)
        now = time.monotonic()
        if n != last:
            last, last_change = n, now
        elif n > 0 and now - last_change >= SETTLE:
            status = subprocess.call(["sh", "-c", then])
            break
        time.sleep(0.02)
    if status == 3:
        print(f"pipe_stall.py: the pipe never settled ({last} of {size} bytes)", file=sys.stderr)
    if child.poll() is None:
        child.kill()
    child.wait()
    with open(held, "wb") as out:
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            out.write(chunk)
    sys.exit(status)


if __name__ == "__main__":
    main()
