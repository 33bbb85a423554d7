#!/bin/sh
# Checks of the guest image that scripts/build-guest-image.sh builds.
#   guest_image_test.sh contents DIR   the initramfs archives hold what /init needs
#   guest_image_test.sh qemu-test DIR  QEMU (TCG) boots the test image, which runs
#                                      a command from the kernel command line and
#                                      powers off by itself
#   guest_image_test.sh qemu-shell DIR QEMU boots the default image to the shell
#                                      prompt; a command typed there runs, and
#                                      "exit" powers off
# QEMU is the reference: what it boots, xlat must boot. Exit 77 (skip) when
# qemu-system-x86_64 is not installed (scripts/setup-deps.sh installs it).
set -eu
mode=$1 dir=$2
fail() { echo "guest_image_test: $*" >&2; exit 1; }
for f in vmlinuz initrd.gz initrd-test.gz busybox; do
  [ -s "$dir/$f" ] || fail "$dir/$f is missing (cmake --build build --target guest-image)"
done
qemu() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "qemu-system-x86_64 is not installed: skipped"; exit 77; }
}

case "$mode" in
  contents)
    for image in initrd.gz initrd-test.gz; do
      list=$(gzip -dc "$dir/$image" | "$dir/busybox" cpio -t 2>/dev/null)
      for member in init bin/busybox bin/sh bin/mount sbin/poweroff usr/bin/setsid bin/cttyhack dev/console proc sys tmp; do
        printf '%s\n' "$list" | grep -qx "$member" || fail "$image lacks /$member"
      done
    done
    echo "initramfs contents: ok"
    ;;
  qemu-test)
    qemu
    start=$(date +%s)
    out=$(timeout 300 qemu-system-x86_64 -kernel "$dir/vmlinuz" -initrd "$dir/initrd-test.gz" \
            -append 'console=ttyS0 -- echo xlat-$((6 * 7)); exit 3' -m 512M -accel tcg -nographic -no-reboot </dev/null 2>&1) ||
      fail "QEMU did not power off by itself (status $?); its output ends: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | tr -d '\r' | grep -qx 'xlat-42' || fail "the command did not run: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | tr -d '\r' | grep -qx '@@EXIT 3' || fail "no '@@EXIT 3' line: $(printf '%s' "$out" | tail -n 5)"
    echo "test image under QEMU: ran the command and powered off in $(( $(date +%s) - start )) s"
    ;;
  qemu-shell)
    qemu
    python3 - "$dir" <<'PY'
import os, select, subprocess, sys, time
d = sys.argv[1]
cmd = ["qemu-system-x86_64", "-kernel", d + "/vmlinuz", "-initrd", d + "/initrd.gz", "-append", "console=ttyS0",
       "-m", "512M", "-accel", "tcg", "-nographic", "-no-reboot"]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
out, state, deadline = b"", 0, t0 + 300
while time.monotonic() < deadline:
    r, _, _ = select.select([p.stdout], [], [], 5)
    chunk = os.read(p.stdout.fileno(), 65536) if r else b""
    if r and not chunk:
        break
    out += chunk
    if state == 0 and b"guest:~# " in out:
        prompt = time.monotonic() - t0
        state = 1
        p.stdin.write(b"sleep 5 & jobs; echo sum-$((20 + 22)); tty; exit\n")
        p.stdin.flush()
else:
    p.kill()
    sys.exit("guest_image_test: QEMU did not reach the end; output ends: %r" % out[-400:])
p.wait()
text = out.decode(errors="replace").replace("\r", "")
if state == 0:
    sys.exit("guest_image_test: no shell prompt; output ends: %r" % text[-400:])
for want in ["sum-42\n", "/dev/ttyS0\n", "Running", "powering off"]:
    if want not in text:
        sys.exit("guest_image_test: %r missing after the prompt; output ends: %r" % (want, text[-400:]))
print("default image under QEMU: shell prompt after %.1f s, job control on /dev/ttyS0, powered off after exit" % prompt)
PY
    ;;
  *) fail "unknown mode $mode" ;;
esac
