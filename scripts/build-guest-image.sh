#!/bin/sh
# Builds xlat's default Linux guest from Debian 12 packages only:
#
#   OUT/vmlinuz          the stock Debian kernel (linux-image-amd64's current
#                        linux-image-6.1.0-*-amd64), a bzImage
#   OUT/config           its build configuration, OUT/kernel-release its name
#   OUT/initrd.gz        interactive initramfs: /init mounts proc, sys and
#                        devtmpfs, prints one line and starts a busybox shell
#                        with job control on the console; exiting the shell
#                        powers the machine off
#   OUT/initrd-test.gz   test initramfs: /init runs a command, prints
#                        "@@EXIT <status>" and powers off (poweroff -f) by itself.
#                        The command is, first found:
#                          - its arguments: the words after "--" on the kernel
#                            command line (and any word the kernel does not know),
#                            e.g. -append "console=ttyS0 -- uname -a";
#                          - the kernel parameter xlat_cmd="..." (the kernel
#                            hands it to /init as an environment variable);
#                          - a built-in smoke test (uname, cpuinfo, sha256sum).
#   OUT/initrd-NAME.gz   with --init FILE: FILE as /init (e.g. the benchmark's
#                        guest-workload.sh); NAME is FILE's name without ".sh"
#                        unless --name says otherwise
#   OUT/busybox          the static busybox the images hold (runs on the host too)
#   OUT/debs/            the downloaded .deb files (the cache)
#
# Every initramfs holds the static busybox as /bin/busybox with a symlink for
# each applet, /bin/sh among them, the mount points /dev /proc /sys, /tmp, and
# /dev/console. The kernel needs no module on these paths: the 8250 serial
# console, devtmpfs, gzip initramfs and ACPI power-off are built in (checked
# below against the kernel's config).
#
# Downloads use `apt-get download` through the machine's configured Debian
# mirror (no source changes, root or not). They are cached in OUT/debs: once the
# kernel and busybox packages are there, the mirror is not asked again (pass
# --refresh to look for a newer kernel), and a rebuild takes about a second.
# Archives are reproducible: owner root, times zero, sorted.
#
# Usage: scripts/build-guest-image.sh [-o OUT] [--init FILE [--name NAME]] [--refresh] [-q]
#   OUT defaults to build/guest under the source tree; -q: errors only.
set -eu

me=build-guest-image
die() { echo "$me: $*" >&2; exit 1; }
note() { [ "$quiet" = 1 ] || echo "$me: $*" >&2; }

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/guest"
init_file=""
init_name=""
refresh=0
quiet=0
while [ $# -gt 0 ]; do
  case "$1" in
    -o) [ $# -ge 2 ] || die "-o needs a directory"; out=$2; shift 2 ;;
    --init) [ $# -ge 2 ] || die "--init needs a file"; init_file=$2; shift 2 ;;
    --name) [ $# -ge 2 ] || die "--name needs a name"; init_name=$2; shift 2 ;;
    --refresh) refresh=1; shift ;;
    -q) quiet=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$init_file" ]; then
  [ -f "$init_file" ] || die "--init $init_file: no such file"
  [ -n "$init_name" ] || init_name=$(basename "$init_file" .sh)
  case "$init_name" in *[!A-Za-z0-9._-]*|"") die "--name '$init_name': use letters, digits, '.', '_' and '-'" ;; esac
fi
for tool in dpkg-deb tar gzip python3; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool (Debian: apt-get install ${tool%-deb})"
done

mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
debs="$out/debs"

# ---- Downloads -------------------------------------------------------------

# The newest cached .deb of a package name pattern, or nothing.
cached() { ls "$debs"/$1_*.deb 2>/dev/null | sort -V | tail -n 1; }

# apt-get download PKG into the cache; one line on failure.
download() {
  apt_opts=""
  # As root apt drops to the _apt user, which may not write here: stay root.
  [ "$(id -u)" = 0 ] && apt_opts="-o APT::Sandbox::User=root"
  note "downloading $1"
  # shellcheck disable=SC2086
  if ! log=$(cd "$debs" && apt-get -q $apt_opts download "$1" 2>&1); then
    why=$(printf '%s\n' "$log" | grep -m 1 '^E:' || printf '%s\n' "$log" | grep -m 1 '^Err:' ||
          printf '%s\n' "$log" | tail -n 1)
    die "apt-get download $1 failed: $why"
  fi
}

kernel_deb=$(cached 'linux-image-6.1.0-*-amd64')
if [ "$refresh" = 1 ] || [ -z "$kernel_deb" ]; then
  command -v apt-cache >/dev/null 2>&1 || die "needs apt-cache and apt-get (a Debian system) to download the kernel"
  # The metapackage linux-image-amd64 depends on the current versioned kernel.
  kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
               sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
  [ -n "$kernel_pkg" ] ||
    die "cannot resolve linux-image-amd64 to a kernel package with apt-cache (no Debian package lists? run apt-get update)"
  kernel_deb=$(cached "$kernel_pkg")
  [ -n "$kernel_deb" ] || { download "$kernel_pkg"; kernel_deb=$(cached "$kernel_pkg"); }
  [ -n "$kernel_deb" ] || die "apt-get download $kernel_pkg left no .deb in $debs"
fi
busybox_deb=$(cached busybox-static)
if [ "$refresh" = 1 ] || [ -z "$busybox_deb" ]; then
  [ -n "$busybox_deb" ] || download busybox-static
  busybox_deb=$(cached busybox-static)
  [ -n "$busybox_deb" ] || die "apt-get download busybox-static left no .deb in $debs"
fi

# ---- Kernel and busybox ----------------------------------------------------

# Extracts the members matching a pattern of a .deb's data into a directory.
extract() {  # deb dir pattern...
  deb=$1 dir=$2; shift 2
  rm -rf "$dir" && mkdir -p "$dir"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards "$@" ||
    die "cannot extract $* from $(basename "$deb")"
}

if [ ! -s "$out/vmlinuz" ] || [ ! -s "$out/config" ] || [ "$kernel_deb" -nt "$out/vmlinuz" ] ||
   [ "$(cat "$out/kernel-deb" 2>/dev/null)" != "$(basename "$kernel_deb")" ]; then
  note "extracting the kernel from $(basename "$kernel_deb")"
  extract "$kernel_deb" "$out/.kernel" './boot/vmlinuz-*' './boot/config-*'
  set -- "$out"/.kernel/boot/vmlinuz-*
  [ -f "$1" ] || die "$(basename "$kernel_deb") holds no /boot/vmlinuz-*"
  release=${1##*/vmlinuz-}
  cp "$1" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
  cp "$out/.kernel/boot/config-$release" "$out/config"
  echo "$release" > "$out/kernel-release"
  basename "$kernel_deb" > "$out/kernel-deb"
  rm -rf "$out/.kernel"
fi

# What the initramfs relies on must be built into the kernel (it has no modules).
for option in CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_DEVTMPFS CONFIG_SERIAL_8250 CONFIG_SERIAL_8250_CONSOLE \
              CONFIG_PROC_FS CONFIG_SYSFS CONFIG_TMPFS CONFIG_UNIX98_PTYS CONFIG_ACPI CONFIG_BINFMT_SCRIPT \
              CONFIG_BINFMT_ELF; do
  grep -qx "$option=y" "$out/config" || die "the kernel's config lacks $option=y: the initramfs would need a module"
done

if [ ! -x "$out/busybox" ] || [ "$busybox_deb" -nt "$out/busybox" ]; then
  extract "$busybox_deb" "$out/.busybox" ./bin/busybox
  mv "$out/.busybox/bin/busybox" "$out/busybox" && touch "$out/busybox" && rm -rf "$out/.busybox"
fi

# ---- The initramfs images --------------------------------------------------

# Writes a cpio "newc" archive of a directory (plus /dev/console, which needs
# no root to describe) to stdout: owner root, mtime 0, parents before children.
write_cpio() {
  python3 - "$1" <<'EOF'
import os, stat, sys
root = sys.argv[1]
out = sys.stdout.buffer
ino = [720000]
def entry(name, mode, data=b"", rdev=(0, 0), nlink=1):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    fields = [ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields) + name_b
    out.write(hdr + b"\0" * (-len(hdr) % 4))
    out.write(data + b"\0" * (-len(data) % 4))
paths = []
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for n in sorted(dirnames + filenames):
        paths.append(os.path.join(dirpath, n))
paths.sort(key=lambda p: os.path.relpath(p, root).split(os.sep))
for p in paths:
    rel = os.path.relpath(p, root)
    st = os.lstat(p)
    perm = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        entry(rel, stat.S_IFLNK | 0o777, os.readlink(p).encode())
    elif stat.S_ISDIR(st.st_mode):
        entry(rel, stat.S_IFDIR | perm, nlink=2)
        if rel == "dev":
            entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    elif stat.S_ISREG(st.st_mode):
        with open(p, "rb") as f:
            entry(rel, stat.S_IFREG | perm, f.read())
    else:
        sys.exit("build-guest-image: %s: not a file, directory or symlink" % p)
entry("TRAILER!!!", 0)
EOF
}

# Builds OUT/NAME from an /init script (a file).
make_initrd() {  # name init-file
  stage="$out/.stage-$1"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/dev" "$stage/proc" \
           "$stage/sys" "$stage/tmp" "$stage/root" "$stage/etc"
  chmod 1777 "$stage/tmp"
  chmod 700 "$stage/root"
  cp "$out/busybox" "$stage/bin/busybox"
  "$out/busybox" --list-full | while read -r applet; do
    [ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
  done
  [ -L "$stage/bin/sh" ] || die "busybox --list-full did not list bin/sh"
  cp "$2" "$stage/init"
  chmod 755 "$stage/init"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
  printf 'root:x:0:\n' > "$stage/etc/group"
  write_cpio "$stage" | gzip -9 -n > "$out/$1.tmp" || die "cannot write $out/$1"
  mv "$out/$1.tmp" "$out/$1"
  rm -rf "$stage"
  note "wrote $out/$1 ($(wc -c < "$out/$1") bytes)"
}

tmp_init="$out/.init.$$"
trap 'rm -f "$tmp_init"' EXIT

cat > "$tmp_init" <<'EOF'
#!/bin/sh
# /init of xlat's default guest: an interactive busybox shell on the console.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
hostname guest
echo "xlat guest: Linux $(uname -r) is up; busybox shell on $(cat /sys/class/tty/console/active); exit to power off"
cd /root
# A session leader with the console as its controlling terminal: job control.
PS1='guest:\w# ' setsid cttyhack sh
echo "xlat guest: the shell exited; powering off"
poweroff -f
EOF
make_initrd initrd.gz "$tmp_init"

cat > "$tmp_init" <<'EOF'
#!/bin/sh
# /init of xlat's test guest: runs one command, prints "@@EXIT <status>", powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "@@BEGIN"
if [ $# -gt 0 ]; then
  sh -c "$*"
elif [ -n "${xlat_cmd:-}" ]; then
  sh -c "$xlat_cmd"
else
  uname -a && grep -m 1 'model name' /proc/cpuinfo && echo xlat | sha256sum
fi
echo "@@EXIT $?"
poweroff -f
EOF
make_initrd initrd-test.gz "$tmp_init"

if [ -n "$init_file" ]; then
  make_initrd "initrd-$init_name.gz" "$init_file"
fi
