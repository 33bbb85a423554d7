#!/bin/sh
# The loader's output boots the real Debian kernel under QEMU (TCG).
#   loader_qemu_test.sh BOOT_IMAGE_DUMP ENTRY_STUB.S GUEST_DIR CC
# boot_image_dump runs LoadLinux() on build/guest/vmlinuz and initrd-test.gz
# and writes the guest RAM it filled; entry_stub.S, assembled with the entry
# state LoadLinux() returned, is QEMU's firmware: from the reset vector it goes
# to 64-bit mode with the loader's page tables and GDT and jumps to
# startup_64 with rsi = boot_params. No BIOS, no ACPI: at the end Linux halts
# ("System halted"), which this script takes as the end of the run.
# Exit 77 (skip) without qemu-system-x86_64.
set -eu
dump=$1 stub=$2 guest=$3 cc=$4
fail() { echo "loader_qemu_test: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "qemu-system-x86_64 is not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vars=$("$dump" "$guest/vmlinuz" "$guest/initrd-test.gz" 512 'console=ttyS0 -- echo loader-$((6 * 7))' "$tmp") ||
  fail "boot_image_dump failed"
eval "$vars"
"$cc" -c -o "$tmp/stub.o" -DENTRY="$ENTRY" -DCR3="$CR3" -DBOOT_PARAMS="$BOOT_PARAMS" -DGDT_BASE="$GDT_BASE" \
  -DGDT_LIMIT="$GDT_LIMIT" -DSTACK_TOP="$STACK_TOP" "$stub" || fail "cannot assemble $stub"
ld -e 0xfffffff0 -Ttext=0xffff0000 --oformat=binary -o "$tmp/fw.bin" "$tmp/stub.o" || fail "cannot link the stub"
python3 - "$tmp" "$KERNEL_BASE" "$INITRD_BASE" <<'PY'
import os, select, subprocess, sys, time
tmp, kernel, initrd = sys.argv[1:4]
cmd = ["qemu-system-x86_64", "-bios", tmp + "/fw.bin", "-m", "512M", "-accel", "tcg", "-nographic", "-no-reboot",
       "-device", "loader,file=%s/low.bin,addr=0,force-raw=on" % tmp,
       "-device", "loader,file=%s/kernel.bin,addr=%s,force-raw=on" % (tmp, kernel),
       "-device", "loader,file=%s/initrd.bin,addr=%s,force-raw=on" % (tmp, initrd)]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
out = b""
while time.monotonic() < t0 + 300 and b"System halted" not in out:
    r, _, _ = select.select([p.stdout], [], [], 5)
    chunk = os.read(p.stdout.fileno(), 65536) if r else b""
    if r and not chunk:
        break
    out += chunk
p.kill()
p.wait()
text = out.decode(errors="replace").replace("\r", "")
for want in ["Command line: console=ttyS0 -- echo loader-$((6 * 7))",
             "BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable",
             "RAMDISK: [mem 0x%08x-" % int(initrd, 0), "\nloader-42\n", "\n@@EXIT 0\n"]:
    if want not in text:
        sys.exit("loader_qemu_test: %r missing from the guest's output, which ends: %r" % (want, text[-600:]))
print("the loader's entry state boots the Debian kernel to /init under QEMU in %.1f s" % (time.monotonic() - t0))
PY
