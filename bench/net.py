#!/usr/bin/env python3
"""bench/net.py BUILD OUT_DIR: the network benchmark (step 5 of make bench).

Each NIC configuration runs the udp_echo example guest at ring 3 and is
driven from the host with a window of datagrams in flight:
  - over TAP (a TAP this script creates, 10.231.N.0/24, deleted after; only
    as root with /dev/net/tun, otherwise the row says SKIP);
  - over user networking (libslirp, a hostfwd= from 127.0.0.1).
Per configuration: echoed datagrams per second, all VM exits per frame
(KVM's count, in-kernel ioeventfd exits included, over the frames the NIC
carried both ways), the exits that reached pvmm per frame, and monitor CPU
per frame, from the guest's --stats-json.
The same over the emulated NE2000 (model=ne2000, TAP only, fewer
datagrams: each frame costs hundreds of port exits), for information; the
NE2000's targets are pvmm bench compare's network rows.
Targets (counts, not times): virtio-net <= 0.1 VM exits per frame under load.
Prints a table and "N of M targets met"; writes OUT_DIR/net.json.
"""
import hashlib
import json
import multiprocessing
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def udp(host, port, count, window, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect((host, port))
    payload = os.urandom(size)
    sent = received = 0
    outstanding = []  # send times of unanswered datagrams, oldest first
    start = time.monotonic()
    last_reply = start
    deadline = start + 60
    while received + len(outstanding) < count or outstanding:
        now = time.monotonic()
        if now > deadline:
            break
        # A datagram unanswered for 50 ms is lost: free its slot.
        while outstanding and now - outstanding[0] > 0.05:
            outstanding.pop(0)
        while len(outstanding) < window and sent < count:
            try:
                s.send(payload)
            except BlockingIOError:
                break
            sent += 1
            outstanding.append(time.monotonic())
        if sent >= count and not outstanding:
            break
        r, _, _ = select.select([s], [], [], 0.01)
        if not r:
            continue
        while True:
            try:
                s.recv(65536)
            except BlockingIOError:
                break
            received += 1
            last_reply = time.monotonic()
            if outstanding:
                outstanding.pop(0)
    seconds = max(last_reply - start, 1e-9)
    return {"sent": sent, "received": received, "lost": sent - received,
            "seconds": round(seconds, 4), "pps": round(received / seconds, 1)}


def tcp_echo_client(host, port, nbytes):
    data = os.urandom(1 << 20)
    c = socket.create_connection((host, port), timeout=30)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent_hash = hashlib.sha256()
    failure = []

    def writer():
        try:
            left = nbytes
            while left:
                chunk = data[: min(left, len(data))]
                c.sendall(chunk)
                sent_hash.update(chunk)
                left -= len(chunk)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            failure.append(str(e))

    start = time.monotonic()
    t = threading.Thread(target=writer)
    t.start()
    got = hashlib.sha256()
    n = 0
    while n < nbytes:
        b = c.recv(1 << 20)
        if not b:
            break
        got.update(b)
        n += len(b)
    seconds = max(time.monotonic() - start, 1e-9)
    t.join()
    c.close()
    ok = n == nbytes and not failure and got.digest() == sent_hash.digest()
    return {"bytes": n, "seconds": round(seconds, 4), "mb_s": round(n / seconds / 1e6, 2),
            "checksum_ok": ok, "error": failure[0] if failure else None}


def echo_server(listener):
    conn, _ = listener.accept()
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        conn.sendall(b)
    conn.close()



PKT_COUNT = 20000
PKT_WINDOW = 16  # the guest's UDP layer queues 16 datagrams
PKT_SIZE = 64
NE2000_COUNT = 300  # ~500 port exits a frame: a few seconds


class Vm:
    """pvmm run ... in the background with --stats-json."""

    def __init__(self, build, tmp, name, net_args, guest_args):
        self.stats_path = os.path.join(tmp, name + ".stats.json")
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        argv = [os.path.join(build, "pvmm"), "run", "--ring", "3", "--stats-json", self.stats_path]
        argv += net_args + [os.path.join(build, "examples", "udp_echo.elf")] + guest_args
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(self.out_path, "w"),
                                     stderr=open(self.err_path, "w"))

    def wait_ready(self, text, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                if text in f.read():
                    return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return False

    def finish(self, seconds=20):
        try:
            self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        if self.proc.returncode != 0:
            return None
        with open(self.stats_path) as f:
            return json.load(f)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def why(self):
        with open(self.err_path) as f:
            err = f.read()[-300:]
        with open(self.out_path) as f:
            out = f.read()[-300:]
        return "stdout: %r, stderr: %r" % (out, err)


def send_quit(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        s.sendto(b"quit", (host, port))
        time.sleep(0.05)


def nic_figures(stats):
    dev = [d for d in stats["devices"] if d.get("rx_frames") is not None][0]
    frames = dev["rx_frames"] + dev["tx_frames"]
    dev.setdefault("kicks", 0)
    dev.setdefault("interrupts", 0)
    return {
        "frames": frames,
        "kvm_exits_per_frame": stats["kvm_exits"] / frames,
        "exits_per_frame": stats["exits"] / frames,
        "monitor_cpu_us_per_frame": stats["monitor_cpu_ns"] / frames / 1000,
        "kicks": dev["kicks"], "interrupts": dev["interrupts"],
    }


def run_udp(build, tmp, name, net_args, guest_args, host, port, count=PKT_COUNT):
    vm = Vm(build, tmp, name, net_args, guest_args)
    try:
        if not vm.wait_ready("udp_echo ready"):
            return {"error": "the guest never became ready: " + vm.why()}
        load = udp(host, port, count, PKT_WINDOW, PKT_SIZE)
        send_quit(host, port)
        stats = vm.finish()
        if stats is None:
            return {"error": "the guest did not end cleanly: " + vm.why()}
    finally:
        vm.kill()
    r = dict(load)
    r.update(nic_figures(stats))
    return r


def free_port(kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tap_usable():
    return os.geteuid() == 0 and os.path.exists("/dev/net/tun") and shutil.which("ip") is not None


def main(argv):
    if len(argv) != 3:
        print("usage: bench/net.py BUILD OUT_DIR", file=sys.stderr)
        return 2
    build, out_dir = argv[1], argv[2]
    tmp = tempfile.mkdtemp(prefix="pvmm-net-bench.")
    rows = {}
    tap = "pvbn%d" % (os.getpid() % 100000)
    subnet = "10.231.%d" % (os.getpid() % 250 + 1)
    try:
        if tap_usable():
            subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], check=True)
            subprocess.run(["ip", "addr", "add", subnet + ".1/24", "dev", tap], check=True)
            subprocess.run(["ip", "link", "set", tap, "up"], check=True)
            rows["virtio tap"] = run_udp(build, tmp, "tap", ["--net", "tap=" + tap],
                                         ["ip=%s.2/24" % subnet], subnet + ".2", 7)
            rows["ne2000 tap"] = run_udp(build, tmp, "ne2000-tap", ["--net", "tap=%s,model=ne2000" % tap],
                                         ["ip=%s.2/24" % subnet], subnet + ".2", 7, NE2000_COUNT)
        else:
            rows["virtio tap"] = {"skip": "needs root and /dev/net/tun"}
            rows["ne2000 tap"] = {"skip": "needs root and /dev/net/tun"}
        port = free_port("udp")
        rows["virtio user"] = run_udp(build, tmp, "user",
                                      ["--net", "user,hostfwd=udp:127.0.0.1:%d-:7" % port],
                                      ["ip=10.0.2.15/24", "gw=10.0.2.2"], "127.0.0.1", port)
    finally:
        subprocess.run(["ip", "link", "del", tap], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)

    met = total = 0
    failed = False
    print("\n%-22s %10s %8s %12s %12s %14s %s" % ("UDP echo, ring 3", "pps", "lost", "exits/frame",
                                                 "pvmm ex/fr", "mon. us/frame", "target"))
    for name, r in rows.items():
        if "skip" in r:
            print("%-22s SKIP (%s)" % (name, r["skip"]))
            continue
        if "error" in r:
            print("%-22s FAILED: %s" % (name, r["error"]))
            failed = True
            continue
        target = ""
        if name.startswith("virtio"):
            total += 1
            ok = r["kvm_exits_per_frame"] <= 0.1
            met += ok
            target = "<= 0.10 exits/frame %s" % ("PASS" if ok else "MISS")
        print("%-22s %10.0f %8d %12.3f %12.3f %14.2f %s" % (name, r["pps"], r["lost"], r["kvm_exits_per_frame"],
                                                             r["exits_per_frame"], r["monitor_cpu_us_per_frame"],
                                                             target))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "net.json"), "w") as f:
        json.dump({"udp": {"count": PKT_COUNT, "window": PKT_WINDOW, "size": PKT_SIZE, "rows": rows}}, f, indent=2)
        f.write("\n")
    print("net bench: wrote %s" % os.path.join(out_dir, "net.json"))
    print("%d of %d targets met" % (met, total))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
