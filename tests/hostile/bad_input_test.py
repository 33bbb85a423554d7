#!/usr/bin/env python3
"""Bad input and faults while running, end to end through build/xlat.

    bad_input_test.py CASE XLAT GUEST_DIR

Every case runs xlat with stdin and stdout on a pseudo-terminal (as a user at
a terminal would) and stderr on a pipe, and checks that the terminal's
settings afterwards are the ones it had before. The cases, and what each
expects:

  truncated-bzimage    build/guest/vmlinuz cut short at every interesting
                       offset: exit 1, one line "xlat: ..." naming the file
  corrupt-header       one setup-header field broken at a time: exit 1 and
                       one line naming the problem, or -- for fields a kernel
                       may well carry -- a boot that ends (never a crash, a
                       hang, or a claim that xlat cannot boot a bzImage)
  corrupt-payload      the compressed kernel damaged: the decompressor fails;
                       xlat must end with a non-zero status
  corrupt-initrd       random, truncated, damaged and empty initrds: xlat
                       loads them, the kernel says so and panics: status 2
  long-cmdline         -append longer than the kernel's cmdline_size: exit 1
  ram-too-large        -m 1T (ELF and bzImage): exit 1, a line about RAM
  repeated-options     a single-valued option given twice: the last one
                       wins, as in QEMU (so a script can override a default)
  gdb-port-in-use      -gdb tcp::PORT on a port already bound: exit 1, one line
  triple-fault         an ELF guest whose IDT is garbage: status 2, says so
  spin-interrupts-off  an ELF guest doing `cli; jmp .`: xlat keeps running
                       (there is nothing to end it); SIGINT ends it: 130
  signals              a Linux boot stopped by SIGINT (130), SIGTERM (143),
                       SIGHUP and SIGQUIT (killed by the signal), and two
                       SIGINTs: the terminal is back as it was each time
"""
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


def ok(msg):
    print("ok: " + msg, flush=True)


class Run:
    """xlat with stdin/stdout on a pty, stderr on a pipe."""

    def __init__(self, xlat, args, timeout=60, signals=(), wait_for=None):
        master, slave = pty.openpty()
        self.before = termios.tcgetattr(slave)
        self.during = None
        t0 = time.time()
        p = subprocess.Popen([xlat] + args, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                             start_new_session=True)
        out = bytearray()
        done = threading.Event()

        def pump():
            while not done.is_set():
                r, _, _ = select.select([master], [], [], 0.1)
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out.extend(chunk)

        th = threading.Thread(target=pump, daemon=True)
        th.start()
        err = []
        eth = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
        eth.start()
        self.timed_out = False
        for delay, sig in signals:
            # wait_for: bytes that show the guest is running before the first signal
            if wait_for is not None:
                end = time.time() + 60
                while wait_for not in out and time.time() < end and p.poll() is None:
                    time.sleep(0.1)
            time.sleep(delay)
            if self.during is None:
                self.during = termios.tcgetattr(slave)
            if p.poll() is None:
                os.kill(p.pid, sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        eth.join(5)
        done.set()
        th.join(2)
        self.after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
        self.status = p.returncode
        self.out = bytes(out).decode("utf-8", "replace")
        self.err = (err[0] if err else b"").decode("utf-8", "replace")
        self.seconds = time.time() - t0
        self.args = args

    def name(self):
        return "xlat " + " ".join(a if len(a) < 60 else a[:20] + "..." for a in self.args)

    def terminal_restored(self):
        if self.before != self.after:
            fail(f"{self.name()}: the terminal's settings changed (before {self.before}, after {self.after})")
            return False
        return True

    def crashed(self):
        return self.status is not None and self.status < 0 and -self.status in (
            signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT, signal.SIGTRAP)


def expect_error(r, needle=None, forbid=None):
    """Exit 1, exactly one line on stderr, starting with 'xlat: ', naming needle (or one of them)."""
    needles = [needle] if isinstance(needle, str) else (needle or [])
    lines = [l for l in r.err.splitlines() if l.strip()]
    good = r.terminal_restored()
    if r.timed_out:
        fail(f"{r.name()}: still running after the timeout")
    elif r.status != 1:
        fail(f"{r.name()}: exit status {r.status}, expected 1; stderr: {r.err.strip()[-300:]}")
    elif len(lines) != 1 or not lines[0].startswith("xlat: "):
        fail(f"{r.name()}: expected one line 'xlat: ...' on stderr, got {len(lines)}: {r.err.strip()[:400]}")
    elif needles and not any(n in lines[0] for n in needles):
        fail(f"{r.name()}: '{lines[0]}' does not say {' or '.join(repr(n) for n in needles)}")
    elif forbid and forbid in lines[0]:
        fail(f"{r.name()}: '{lines[0]}' is wrong: it says '{forbid}'")
    elif good:
        ok(f"{r.name()} -> {lines[0]}")


def expect_ends(r, what):
    """Any end that is not a crash of xlat, a hang, or silence."""
    r.terminal_restored()
    lines = [l for l in r.err.splitlines() if l.startswith("xlat: ")]
    if r.timed_out:
        fail(f"{r.name()} ({what}): still running after {r.seconds:.0f} s")
    elif r.crashed():
        fail(f"{r.name()} ({what}): xlat died of signal {-r.status}: {r.err.strip()[-300:]}")
    elif not lines:
        fail(f"{r.name()} ({what}): exit status {r.status} and nothing from xlat on stderr")
    else:
        ok(f"{r.name()} ({what}) -> status {r.status}: {lines[-1][:160]}")
    return lines


# ---- Guest files -------------------------------------------------------------------------------

def write_elf(path, code, base=0x100000):
    """A freestanding ELF64 (roms/README.md contract): one PT_LOAD at base, entry = base."""
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1, base, 64, 0, 0,
                       64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 7, 0x1000, base, base, len(code), len(code) + 0x1000, 0x1000)
    data = ehdr + phdr
    with open(path, "wb") as f:
        f.write(data + bytes(0x1000 - len(data)) + code)


def kernel(guest_dir):
    path = os.path.join(guest_dir, "vmlinuz")
    if not os.path.isfile(path) or os.path.getsize(path) < 0x10000:
        fail(f"{path} is missing: cmake --build build --target guest-image")
        finish()
    with open(path, "rb") as f:
        return path, f.read()


LINUX = ["-append", "console=ttyS0 quiet", "-m", "256M"]


# ---- Cases ---------------------------------------------------------------------------------------

def truncated_bzimage(xlat, guest_dir, tmp):
    path, k = kernel(guest_dir)
    setup_end = (k[0x1f1] + 1) * 512
    for n in (1, 100, 0x1f0, 0x202, 0x240, 0x1000, setup_end, setup_end + 100, len(k) // 2,
              len(k) - 65536):
        f = os.path.join(tmp, f"vmlinuz-{n}")
        with open(f, "wb") as out:
            out.write(k[:n])
        expect_error(Run(xlat, ["-kernel", f] + LINUX), needle=f)


HEADER_FIELDS = [  # name, offset, format, value, must the loader refuse it?
    ("boot_flag", 0x1fe, "<H", 0, True),
    ("header magic", 0x202, "<I", 0x53726449, True),
    ("version 2.00", 0x206, "<H", 0x0200, True),
    ("setup_sects 255", 0x1f1, "<B", 0xff, True),
    ("syssize 0", 0x1f4, "<I", 0, True),
    ("syssize huge", 0x1f4, "<I", 0xffffffff, True),
    ("loadflags 0", 0x211, "<B", 0, True),
    ("xloadflags 0", 0x236, "<H", 0, True),
    ("kernel_alignment 3", 0x230, "<I", 3, True),
    ("init_size 0", 0x260, "<I", 0, True),
    ("init_size 4 GiB", 0x260, "<I", 0xffffffff, True),
    ("pref_address top", 0x258, "<Q", 0xfffffffffffff000, True),
    ("cmdline_size 0", 0x238, "<I", 0, True),
    ("setup_sects 0", 0x1f1, "<B", 0, False),
    ("relocatable_kernel 0", 0x234, "<B", 0, False),
    ("min_alignment 63", 0x235, "<B", 63, False),
    ("code32_start", 0x214, "<I", 0xffffffff, False),
    ("payload_offset huge", 0x248, "<I", 0xfffffff0, False),
    ("handover_offset", 0x264, "<I", 0xffffffff, False),
]


def corrupt_header(xlat, guest_dir, tmp):
    path, k = kernel(guest_dir)
    for name, off, fmt, value, refuse in HEADER_FIELDS:
        b = bytearray(k)
        struct.pack_into(fmt, b, off, value)
        f = os.path.join(tmp, "vmlinuz-" + name.replace(" ", "-"))
        with open(f, "wb") as out:
            out.write(b)
        r = Run(xlat, ["-kernel", f] + LINUX, timeout=120)
        if refuse:
            expect_error(r, forbid="cannot boot yet")
        else:
            lines = expect_ends(r, name)
            if any("cannot boot yet" in l for l in lines):
                fail(f"{r.name()} ({name}): says xlat cannot boot a bzImage")


def corrupt_payload(xlat, guest_dir, tmp):
    path, k = kernel(guest_dir)
    b = bytearray(k)
    start = (k[0x1f1] + 1) * 512 + struct.unpack_from("<I", k, 0x248)[0]
    for i in range(start, start + 64):
        b[i] ^= 0xff
    f = os.path.join(tmp, "vmlinuz-bad-payload")
    with open(f, "wb") as out:
        out.write(b)
    r = Run(xlat, ["-kernel", f] + LINUX, timeout=120)
    expect_ends(r, "damaged compressed kernel")
    if r.status == 0:
        fail(f"{r.name()}: a kernel that cannot decompress ends with exit status 0 ({r.err.strip()})")
    for line in r.err.splitlines():
        parts = line.split(": ", 2)
        if len(parts) == 3 and parts[2] and parts[1] == parts[2]:
            fail(f"{r.name()}: the message repeats itself: '{line}'")


def corrupt_initrd(xlat, guest_dir, tmp):
    path, _ = kernel(guest_dir)
    with open(os.path.join(guest_dir, "initrd-test.gz"), "rb") as f:
        good = f.read()
    damaged = bytearray(good)
    for i in range(1000, 1100):
        damaged[i] ^= 0x5a
    cases = {"random": os.urandom(1 << 20), "truncated": good[: len(good) // 2], "damaged": bytes(damaged),
             "empty": b""}
    for name, data in cases.items():
        f = os.path.join(tmp, "initrd-" + name)
        with open(f, "wb") as out:
            out.write(data)
        r = Run(xlat, ["-kernel", path, "-initrd", f] + LINUX, timeout=180)
        lines = expect_ends(r, f"{name} initrd")
        if r.status != 2 or not any("Kernel panic" in l for l in lines):
            fail(f"{r.name()} ({name} initrd): expected the guest to panic (status 2), got {r.status}: "
                 f"{r.err.strip()[-200:]}")


def long_cmdline(xlat, guest_dir, tmp):
    path, k = kernel(guest_dir)
    limit = struct.unpack_from("<I", k, 0x238)[0]
    expect_error(Run(xlat, ["-kernel", path, "-append", "x" * (limit + 1), "-m", "256M"]), needle="cmdline_size")
    expect_error(Run(xlat, ["-kernel", path, "-append", "y" * 100000, "-m", "256M"]), needle="-append")


def ram_too_large(xlat, guest_dir, tmp):
    elf = os.path.join(tmp, "hlt.elf")
    write_elf(elf, bytes([0xf4]))
    for size in ("1T", "1000G"):
        expect_error(Run(xlat, ["-kernel", elf, "-m", size]), needle=["RAM", "-m", "memory"])
    path, _ = kernel(guest_dir)
    expect_error(Run(xlat, ["-kernel", path, "-append", "console=ttyS0", "-m", "1T"]), needle="RAM")


def repeated_options(xlat, guest_dir, tmp):
    # QEMU takes the last of a repeated -kernel, -initrd, -append, -m or -D;
    # scripts rely on it to override a default. Each case makes the first
    # value one that would fail and checks the run used the second.
    elf = os.path.join(tmp, "hlt.elf")
    write_elf(elf, bytes([0xf4]))
    path, k = kernel(guest_dir)
    missing = os.path.join(tmp, "no-such-initrd")
    for what, args in (("-kernel", ["-kernel", missing, "-kernel", elf]),
                       ("-m", ["-kernel", elf, "-m", "1T", "-m", "64M"]),
                       ("-D", ["-kernel", elf, "-d", "int", "-D", os.path.join(tmp, "no-such-dir", "a.log"),
                               "-D", os.path.join(tmp, "b.log")])):
        r = Run(xlat, args, timeout=20)
        if r.status != 0:
            fail(f"{r.name()}: the second {what} should win: status {r.status}: {r.err.strip()}")
        else:
            ok(f"{r.name()}: the second {what} won")
    r = Run(xlat, ["-kernel", path, "-initrd", missing, "-initrd", missing + "2"])
    expect_error(r, needle=missing + "2")
    limit = struct.unpack_from("<I", k, 0x238)[0]
    # (too little RAM for Linux stops the run once the command line is taken)
    r = Run(xlat, ["-kernel", path, "-append", "x" * (limit + 1), "-append", "console=ttyS0", "-m", "1M"])
    expect_error(r, needle="RAM", forbid="cmdline_size")


def gdb_port_in_use(xlat, guest_dir, tmp):
    elf = os.path.join(tmp, "hlt.elf")
    write_elf(elf, bytes([0xf4]))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = Run(xlat, ["-gdb", f"tcp::{port}", "-kernel", elf], timeout=20)
        expect_error(r)
        line = r.err.strip()
        if "not supported" in line:
            print(f"note: the gdb stub is not implemented yet: {line}")
        elif str(port) not in line:
            fail(f"{r.name()}: the error does not name the port {port}: '{line}'")
    finally:
        s.close()


def triple_fault(xlat, guest_dir, tmp):
    # lidt [rip+1] (limit 0xfff, base 2 MiB: zeros, no present gate); int3 -> #NP -> #DF -> shutdown.
    elf = os.path.join(tmp, "triple.elf")
    write_elf(elf, bytes.fromhex("0f011d01000000cc" "ff0f" "0000200000000000"))
    r = Run(xlat, ["-kernel", elf], timeout=20)
    lines = expect_ends(r, "triple fault")
    if r.status != 2 or not any("triple fault" in l for l in lines):
        fail(f"{r.name()}: expected status 2 and 'triple fault', got {r.status}: {r.err.strip()[:200]}")


def spin_interrupts_off(xlat, guest_dir, tmp):
    elf = os.path.join(tmp, "spin.elf")
    write_elf(elf, bytes.fromhex("faebfe"))  # cli; jmp .
    r = Run(xlat, ["-kernel", elf], timeout=30, signals=[(3, signal.SIGINT)])
    r.terminal_restored()
    if r.status != 130 or "stopped by signal 2" not in r.err:
        fail(f"{r.name()}: after 3 s and SIGINT: status {r.status} (expected 130): {r.err.strip()}")
    else:
        ok(f"{r.name()}: cli; jmp . ran until SIGINT (3 s; xlat has no watchdog for a bare-metal guest), "
           f"then status 130: {r.err.strip()}")
    r = Run(xlat, ["-kernel", elf], timeout=30, signals=[(1, signal.SIGINT), (0.05, signal.SIGINT)])
    if r.status != 130:
        fail(f"{r.name()}: two SIGINTs: status {r.status}, expected 130")
    else:
        ok(f"{r.name()}: two SIGINTs -> 130: {r.err.strip()}")


def signals(xlat, guest_dir, tmp):
    path, _ = kernel(guest_dir)
    initrd = os.path.join(guest_dir, "initrd.gz")
    args = ["-kernel", path, "-initrd", initrd, "-append", "console=ttyS0", "-m", "256M"]
    for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, -signal.SIGHUP),
                      (signal.SIGQUIT, -signal.SIGQUIT)):
        r = Run(xlat, args, timeout=60, signals=[(1, sig)], wait_for=b"Linux version")
        if r.during is not None and r.during == r.before:
            fail(f"{r.name()}: the terminal was not in raw mode while the guest ran (the test proves nothing)")
        restored = r.terminal_restored()
        if r.status != want:
            fail(f"{r.name()}: {signal.Signals(sig).name}: status {r.status}, expected {want}: {r.err.strip()[-200:]}")
        elif restored:
            ok(f"{r.name()}: {signal.Signals(sig).name} -> status {r.status}, terminal restored")
    r = Run(xlat, args, timeout=60, signals=[(1, signal.SIGINT), (0, signal.SIGINT)], wait_for=b"Linux version")
    restored = r.terminal_restored()
    if r.status != 130:
        fail(f"{r.name()}: two SIGINTs: status {r.status}, expected 130")
    elif restored:
        ok(f"{r.name()}: two SIGINTs -> 130, terminal restored: {r.err.strip()[-100:]}")


CASES = {
    "truncated-bzimage": truncated_bzimage, "corrupt-header": corrupt_header, "corrupt-payload": corrupt_payload,
    "corrupt-initrd": corrupt_initrd, "long-cmdline": long_cmdline, "ram-too-large": ram_too_large,
    "repeated-options": repeated_options, "gdb-port-in-use": gdb_port_in_use,
    "triple-fault": triple_fault, "spin-interrupts-off": spin_interrupts_off, "signals": signals,
}


def finish():
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    sys.exit(0)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in CASES:
        print(__doc__)
        sys.exit(2)
    case, xlat, guest_dir = sys.argv[1:]
    if not os.access(xlat, os.X_OK):
        fail(f"{xlat} was not built")
        finish()
    with tempfile.TemporaryDirectory(prefix="xlat-hostile-") as tmp:
        CASES[case](xlat, guest_dir, tmp)
    finish()


if __name__ == "__main__":
    main()
