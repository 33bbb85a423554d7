#!/bin/sh
# Boots the default guest: the Debian 12 kernel with a busybox initramfs,
# built from Debian packages by scripts/build-guest-image.sh into BUILD/guest.
# The serial console is this terminal; "exit" in the shell powers off, and
# Ctrl-A x quits at any time (as in QEMU).
set -eu
BUILD=${1:-build}
exec "$BUILD/xlat" -kernel "$BUILD/guest/vmlinuz" -initrd "$BUILD/guest/initrd.gz" \
  -append "console=ttyS0 quiet" -m 512M -serial mon:stdio
