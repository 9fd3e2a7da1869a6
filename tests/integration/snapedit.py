#!/usr/bin/env python3
"""Test-only editor of pvmm snapshot state files (docs/snapshot.md, Files).

Changes one field of a state file and writes it again with every checksum
(sections, header) and the file size recomputed, so that a restore gets
past the container's checks to the validation of the field itself:

  snapedit.py IN OUT config-append LINE         a line added to the configuration
  snapedit.py IN OUT config-prepend LINE        a line put before the first
  snapedit.py IN OUT config-set KEY VALUE       the KEY= line's value replaced
  snapedit.py IN OUT upcall CPU ENTRY INFO      the vCPU's saved upcall entry and info
  snapedit.py IN OUT msr CPU K INDEX            the K-th saved MSR's index
  snapedit.py IN OUT virtio DEV FIELD VALUE     DEV-th device's driver_features,
                                                q0_size, q0_num or q0_flags
  snapedit.py IN OUT section-repeat TYPE       the first section of TYPE twice in a row
  snapedit.py IN - private-gpa                  prints a monitor-private address
  snapedit.py IN - vcpu-regs CPU                prints the vCPU's saved state and
                                                rip, rsp, rax, rdx (for diagnoses)

Numbers are Python literals (0x... allowed). Layouts follow snapshot.c's
put_vcpu() and virtio.c's virtio_save().
"""
import struct
import sys
import zlib

HEADER = struct.Struct("<8sIIIIQQ16sII")  # struct snap_header, 64 bytes
SECTION = struct.Struct("<IIQ")           # struct snap_section_header
SEC_CONFIG, SEC_MEMORY, SEC_VCPU, SEC_DEVICE = 1, 2, 5, 6
MEM_PRIVATE = 1 << 3
VCPU_FIXED = 60 + 144 + 312 + 4096 + 392 + 128 + 64 + 4 + 1024


def load(path):
    with open(path, "rb") as f:
        buf = f.read()
    h = list(HEADER.unpack_from(buf, 0))
    off, secs = HEADER.size, []
    for _ in range(h[3]):
        typ, _crc, length = SECTION.unpack_from(buf, off)
        off += SECTION.size
        secs.append([typ, bytearray(buf[off:off + length])])
        off += length
        off += (8 - off % 8) % 8
    return h, secs


def save(path, h, secs):
    body = bytearray()
    for typ, data in secs:
        body += SECTION.pack(typ, zlib.crc32(bytes(data)), len(data)) + data
        body += bytes((8 - (HEADER.size + len(body)) % 8) % 8)
    h[3] = len(secs)
    h[5] = HEADER.size + len(body)
    h[9] = 0
    h[9] = zlib.crc32(HEADER.pack(*h))
    with open(path, "wb") as f:
        f.write(HEADER.pack(*h) + body)


def nth(secs, typ, n):
    return [d for t, d in secs if t == typ][n]


def main(argv):
    src, dst, op, args = argv[1], argv[2], argv[3], argv[4:]
    h, secs = load(src)
    if op == "config-append":
        cfg = nth(secs, SEC_CONFIG, 0)
        cfg += args[0].encode() + b"\n"
    elif op == "config-prepend":
        cfg = nth(secs, SEC_CONFIG, 0)
        cfg[:0] = args[0].encode() + b"\n"
    elif op == "config-set":
        cfg = nth(secs, SEC_CONFIG, 0)
        lines = [l if not l.startswith(args[0] + "=") else f"{args[0]}={args[1]}"
                 for l in cfg.decode().split("\n")]
        cfg[:] = "\n".join(lines).encode()
    elif op == "upcall":
        v = nth(secs, SEC_VCPU, int(args[0]))
        # index, state (u32), start rip/rsp/rdi, upcall entry, upcall info (u64)
        struct.pack_into("<QQ", v, 32, int(args[1], 0), int(args[2], 0))
    elif op == "msr":
        v = nth(secs, SEC_VCPU, int(args[0]))
        # After the fixed part (60 bytes of pvmm's, then kvm_regs, sregs,
        # xsave, xcrs, debugregs, vcpu_events, mp_state, lapic_state as
        # x86-64 Linux has them): u32 n, n x struct kvm_msr_entry (16 bytes).
        n = struct.unpack_from("<I", v, VCPU_FIXED)[0]
        if len(v) != VCPU_FIXED + 4 + 16 * n:
            sys.exit("snapedit: the vCPU section is not laid out as expected")
        k = int(args[1])
        if k >= n:
            sys.exit(f"snapedit: CPU {args[0]} has {n} saved MSRs")
        struct.pack_into("<I", v, VCPU_FIXED + 4 + 16 * k, int(args[2], 0))
    elif op == "virtio":
        d = nth(secs, SEC_DEVICE, int(args[0]))
        core = 4 + struct.unpack_from("<I", d, 0)[0]  # after the name
        # id, num_queues (u32), driver_features, staged (u64), status, isr,
        # generation (u32); per queue: num, size (u32), desc, avail, used
        # (u64), flags, last_avail, used_idx, signalled (u32).
        q0 = core + 8 + 16 + 12
        where = {"driver_features": (core + 8, "<Q"), "q0_num": (q0, "<I"), "q0_size": (q0 + 4, "<I"),
                 "q0_flags": (q0 + 32, "<I")}[args[1]]
        struct.pack_into(where[1], d, where[0], int(args[2], 0))
    elif op == "section-repeat":
        typ = int(args[0], 0)
        i = [t for t, _ in secs].index(typ)
        secs.insert(i + 1, [typ, bytearray(secs[i][1])])
    elif op == "private-gpa":
        m = nth(secs, SEC_MEMORY, 0)
        count = struct.unpack_from("<I", m, 8)[0]
        for i in range(count):
            gpa, _size, _off, flags = struct.unpack_from("<QQQI", m, 12 + 28 * i)
            if flags & MEM_PRIVATE:
                print(hex(gpa))
                return
        sys.exit("snapedit: no private region")
    elif op == "vcpu-regs":
        v = nth(secs, SEC_VCPU, int(args[0]))
        # 60 bytes of pvmm's (state at 4), then struct kvm_regs: rax, rbx,
        # rcx, rdx, rsi, rdi, rsp, rbp, r8-r15, rip, rflags.
        state = struct.unpack_from("<I", v, 4)[0]
        regs = struct.unpack_from("<18Q", v, 60)
        print(f"state {state} rip {regs[16]:#x} rsp {regs[6]:#x} rax {regs[0]:#x} rdx {regs[3]:#x}")
        return
    else:
        sys.exit(f"snapedit: unknown operation {op}")
    save(dst, h, secs)


if __name__ == "__main__":
    main(sys.argv)
