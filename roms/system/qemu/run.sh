#!/bin/sh
# run.sh PROGRAM.elf [QEMU OPTIONS...] — runs a roms/system program under
# QEMU with firmware.S standing in for xlat's -kernel loader. Serial output
# goes to stdout; the exit status is QEMU's isa-debug-exit status, (V << 1) | 1,
# as with xlat. Examples:
#   roms/system/qemu/run.sh build/roms/system/paging.elf               (TCG)
#   roms/system/qemu/run.sh build/roms/system/paging.elf -enable-kvm -cpu host
# QEMU_TIMEOUT (seconds, default 60) bounds the run; CC assembles the firmware.
set -eu
elf=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
entry=$(od -An -t x8 -j 24 -N 8 "$elf" | tr -d ' ')
${CC:-cc} -c -o "$tmp/fw.o" -DENTRY=0x$entry "$here/firmware.S"
ld -e 0xfffffff0 -Ttext=0xffff0000 --oformat=binary -o "$tmp/fw.bin" "$tmp/fw.o"
set +e
timeout "${QEMU_TIMEOUT:-60}" qemu-system-x86_64 -bios "$tmp/fw.bin" -m 256M -cpu max -nographic -no-reboot \
  -monitor none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -device loader,file="$elf" "$@" </dev/null
