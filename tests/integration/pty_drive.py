#!/usr/bin/env python3
"""Run a command on a new pseudo-terminal and drive it: for the raw
console tests (test_terminal.sh). Usage:

  pty_drive.py STEP... -- COMMAND [ARGS...]

Steps, in order (every wait is bounded):
  send:TEXT      write TEXT (Python escapes: \\x01 is Ctrl-A, \\n, \\r)
  expect:TEXT    wait up to 10 s until the output so far holds TEXT
  absent:TEXT    the output so far lacks TEXT
  sleep:SECS     wait, collecting output
  raw            wait up to 10 s until the terminal has echo, canonical
                 mode and ISIG off
  cooked         the same for all three on
  alive          the command has not exited
  signal:NAME    send signal NAME (TERM, HUP, TSTP, CONT, ...) to the
                 terminal's foreground process group
  exit           wait up to 20 s for the command to exit

All output is printed at the end. Exit status 0 when every step held,
1 otherwise (the failed step is named on stderr)."""
import os
import pty
import select
import signal
import sys
import termios
import time

def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    i = argv.index("--")
    steps, cmd = argv[:i], argv[i + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    out = bytearray()
    status = None

    def pump(timeout):
        nonlocal status
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            out.extend(data)
            return bool(data)
        return False

    def reap(block):
        nonlocal status
        if status is None:
            p, st = os.waitpid(pid, 0 if block else os.WNOHANG)
            if p == pid:
                status = os.waitstatus_to_exitcode(st)
        return status

    def failed(why):
        sys.stdout.write(out.decode("utf-8", "replace"))
        print("pty_drive: step failed: " + why, file=sys.stderr)
        if reap(False) is None:
            os.kill(pid, signal.SIGKILL)
            reap(True)
        return 1

    for step in steps:
        kind, _, arg = step.partition(":")
        text = arg.encode("latin-1").decode("unicode_escape").encode("latin-1")
        if kind == "send":
            os.write(fd, text)
        elif kind == "expect":
            end = time.monotonic() + 10
            while text not in out and time.monotonic() < end:
                if not pump(0.1) and reap(False) is not None:
                    pump(0.1)
                    break
            if text not in out:
                return failed("no %r in the output" % text)
        elif kind == "absent":
            if text in out:
                return failed("%r in the output" % text)
        elif kind == "sleep":
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                pump(max(0.0, min(0.1, end - time.monotonic())))
        elif kind in ("raw", "cooked"):
            bits = termios.ECHO | termios.ICANON | termios.ISIG
            want = 0 if kind == "raw" else bits
            end = time.monotonic() + 10
            while True:
                lflag = termios.tcgetattr(fd)[3]
                if (lflag & bits) == want or time.monotonic() >= end:
                    break
                pump(0.05)
            if (lflag & bits) != want:
                return failed("the terminal is not %s (lflag %#o)" % (kind, lflag))
        elif kind == "alive":
            if reap(False) is not None:
                return failed("the command exited (status %d)" % status)
        elif kind == "signal":
            os.killpg(os.tcgetpgrp(fd), getattr(signal, "SIG" + arg))
        elif kind == "exit":
            end = time.monotonic() + 20
            while reap(False) is None and time.monotonic() < end:
                pump(0.1)
            if status is None:
                return failed("the command did not exit within 20 s")
        else:
            return failed("unknown step " + step)
    # The rest of the output, then the command must be done.
    end = time.monotonic() + 20
    while reap(False) is None and time.monotonic() < end:
        pump(0.1)
    while pump(0.1):
        pass
    sys.stdout.write(out.decode("utf-8", "replace"))
    if status is None:
        return failed("the command did not exit within 20 s")
    return 0

sys.exit(main())
