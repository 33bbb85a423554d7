#!/bin/sh
# Installs xlat's build dependencies from Debian 12 packages, only those missing.
# Runs as root (CI, containers) or through sudo.
set -eu
# qemu-system-x86: the reference that tests/boot and bench/ compare xlat with.
PKGS="cmake make g++ pkg-config libzydis-dev libasmjit-dev libcapstone-dev libsdl2-dev \
libgtest-dev libbenchmark-dev clang libclang-rt-14-dev time python3 qemu-system-x86 acpica-tools \
liblzma-dev gdb"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
