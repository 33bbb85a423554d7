#!/bin/sh
# The Debian kernel under xlat (the image of scripts/build-guest-image.sh):
#   xlat_linux_test.sh MODE XLAT DIR
#   command   the test image runs commands from the kernel command line and
#             powers off: their output, "@@EXIT n", exit status 0
#   shell     the default image: commands typed at the busybox shell run, and
#             "exit" powers the machine off (status 0)
#   time      guest time follows the host's: date, sleep 2 and /proc/uptime
#             agree with the host clock within a few percent
#   ticks     the local timer keeps interrupting a busy guest that makes
#             system calls (HZ = 250: at least half of its ticks arrive)
#   panic     a kernel that cannot find init panics: xlat exits non-zero
#             with the panic on the console and says so
#   reboot    a guest reboot with -no-reboot ends the run (status 0, a note)
#   trace     -d in_asm -dfilter with a kernel function's name traces that
#             function, named by the kernel's own symbols
#   traces    with -accel tcg,traces=1 (every block that ends with an indirect
#             jmp starts a trace at its second entry) the shell runs a loop
#             and sha256sum gives the standard answer for "abc"
#   qemuline  a QEMU command line with the machine spelled out (-machine,
#             -cpu, -smp, -display, -nodefaults, ...) and -serial file:PATH
#             runs unchanged, the console in the file; -d guest_errors shows
#             the kernel's probe of a serial port the machine lacks
set -eu
mode=$1 xlat=$2 dir=$3
fail() { echo "xlat_linux_test $mode: $*" >&2; exit 1; }
[ -s "$dir/vmlinuz" ] || fail "$dir/vmlinuz is missing (cmake --build build --target guest-image)"
boot() {  # boot INITRD APPEND [xlat options...]
  initrd=$1 append=$2; shift 2
  timeout 120 "$xlat" -kernel "$dir/vmlinuz" -initrd "$dir/$initrd" -append "console=ttyS0 $append" -m 512M "$@"
}
case "$mode" in
  command)
    set +e
    out=$(boot initrd-test.gz 'quiet -- echo xlat-$((6 * 7)); uname -m; exit 3' </dev/null 2>&1); status=$?
    set -e
    [ $status -eq 0 ] || fail "exit status $status; output ends: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | tr -d '\r' | grep -qx 'xlat-42' || fail "the command did not run: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | tr -d '\r' | grep -qx 'x86_64' || fail "uname -m did not say x86_64"
    printf '%s\n' "$out" | tr -d '\r' | grep -qx '@@EXIT 3' || fail "no '@@EXIT 3' line"
    echo "command: ok"
    ;;
  traces)
    set +e
    out=$(boot initrd-test.gz 'quiet -- i=0; s=0; while [ $i -lt 2000 ]; do s=$((s+i*i)); i=$((i+1)); done; echo sum-$s; printf abc | sha256sum; exit 0' \
      -accel tcg,traces=1 </dev/null 2>&1); status=$?
    set -e
    [ $status -eq 0 ] || fail "exit status $status; output ends: $(printf '%s' "$out" | tail -n 5)"
    # (The sum of i*i for i < 2000 is 1999 * 2000 * 3999 / 6.)
    printf '%s\n' "$out" | tr -d '\r' | grep -qx 'sum-2664667000' || fail "the loop's sum is wrong: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | tr -d '\r' |
      grep -qx 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -' || fail "sha256 of abc is wrong"
    echo "traces: ok"
    ;;
  shell)
    # Type only once the prompt is there: input sent while the kernel boots
    # may be dropped when the console is opened, whatever the machine's load.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkfifo "$tmp/in"
    set +e
    boot initrd.gz quiet <"$tmp/in" >"$tmp/out" 2>&1 &
    pid=$!
    exec 3>"$tmp/in"
    waited=0
    until grep -q 'guest:~#' "$tmp/out" 2>/dev/null || [ $waited -ge 100 ]; do sleep 1; waited=$((waited + 1)); done
    echo 'echo typed-$((2 + 3))' >&3
    waited=0
    until tr -d '\r' <"$tmp/out" | grep -q '^typed-5$' || [ $waited -ge 20 ]; do sleep 1; waited=$((waited + 1)); done
    echo 'exit' >&3
    wait $pid; status=$?
    exec 3>&-
    set -e
    out=$(cat "$tmp/out")
    [ $status -eq 0 ] || fail "exit status $status; output ends: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | tr -d '\r' | grep -q '^typed-5$' || fail "the typed command did not run: $(printf '%s' "$out" | tail -n 8)"
    printf '%s\n' "$out" | grep -q 'Power down' || fail "the shell's exit did not power off"
    echo "shell: ok"
    ;;
  trace)
    # -d in_asm with -dfilter naming a kernel function: the kernel's own
    # symbols at their KASLR addresses name the block and its calls.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    set +e
    boot initrd-test.gz 'quiet -- true' -d in_asm -dfilter start_kernel+0x40 -D "$tmp/trace" </dev/null >"$tmp/out" 2>&1; status=$?
    set -e
    [ $status -eq 0 ] || fail "exit status $status; output ends: $(tail -n 5 "$tmp/out")"
    # (Its first instructions may be in its caller's block, which followed
    # the tail jmp to it: that block is traced too, and names the target.)
    grep -q '^IN: start_kernel' "$tmp/trace" || fail "no block named start_kernel in the trace: $(head -n 5 "$tmp/trace")"
    grep -q 'jmp .*<start_kernel>$\|^IN: start_kernel$' "$tmp/trace" ||
      fail "the block entering start_kernel is not in the trace: $(head -n 5 "$tmp/trace")"
    grep -q 'call .*<[a-z_]*>$' "$tmp/trace" || fail "calls are not named: $(head -n 8 "$tmp/trace")"
    # Every block traced starts in start_kernel or jumps into it.
    outside=$(awk '/^IN: / { if (name != "" && !inside) print name; name = $0; inside = ($0 ~ /^IN: start_kernel/) }
                   /<start_kernel>$/ { inside = 1 }
                   END { if (name != "" && !inside) print name }' "$tmp/trace")
    grep -q '^IN: ' "$tmp/trace" && [ -z "$outside" ] || fail "blocks outside the filter were traced: $outside"
    echo "trace: ok"
    ;;
  time)
    host_before=$(date +%s)
    out=$(boot initrd-test.gz 'quiet -- date +%s; cat /proc/uptime; sleep 2; cat /proc/uptime; date +%s' </dev/null 2>&1)
    host_after=$(date +%s)
    lines=$(printf '%s\n' "$out" | tr -d '\r' | grep -E '^[0-9]+(\.[0-9]+)?( [0-9.]+)?$')
    d1=$(printf '%s\n' "$lines" | sed -n 1p); u1=$(printf '%s\n' "$lines" | sed -n 2p | cut -d' ' -f1)
    u2=$(printf '%s\n' "$lines" | sed -n 3p | cut -d' ' -f1); d2=$(printf '%s\n' "$lines" | sed -n 4p)
    [ -n "$d2" ] || fail "the time commands did not run: $(printf '%s' "$out" | tail -n 8)"
    # The guest's date lies within the host's run, give or take the second
    # Linux's rtc_hctosys adds by design: the CMOS clock holds whole seconds
    # and the kernel sets the system clock half a second past the one it
    # read, so a guest is up to 0.5 s ahead of or behind the host, as on
    # hardware. sleep 2 takes 2 s of uptime (within 5%).
    [ "$d1" -ge $((host_before - 1)) ] && [ "$d2" -le $((host_after + 1)) ] ||
      fail "guest date $d1..$d2 outside host $host_before..$host_after (one second either side allowed)"
    awk -v a="$u1" -v b="$u2" 'BEGIN { d = b - a; exit !(d >= 1.9 && d <= 2.2) }' ||
      fail "sleep 2 took $u1 -> $u2 of guest uptime"
    echo "time: date $d1..$d2 within $host_before..$host_after, sleep 2 = $(awk -v a="$u1" -v b="$u2" 'BEGIN{print b-a}') s of uptime"
    ;;
  ticks)
    # A CPU-bound pipe with many system calls: its kernel enables interrupts
    # with sti while the timer's interrupt waits; each must still be taken.
    # (A lost one-instruction interrupt shadow once starved them: 50/s.)
    out=$(boot initrd-test.gz 'quiet -- grep LOC /proc/interrupts; cat /proc/uptime; dd if=/dev/zero bs=1M count=64 2>/dev/null | sha256sum; grep LOC /proc/interrupts; cat /proc/uptime' </dev/null 2>&1)
    loc=$(printf '%s\n' "$out" | tr -d '\r' | awk '$1 == "LOC:" { print $2 }')
    up=$(printf '%s\n' "$out" | tr -d '\r' | grep -E '^[0-9]+\.[0-9]+ [0-9.]+$' | cut -d' ' -f1)
    l1=$(printf '%s\n' "$loc" | sed -n 1p); l2=$(printf '%s\n' "$loc" | sed -n 2p)
    u1=$(printf '%s\n' "$up" | sed -n 1p); u2=$(printf '%s\n' "$up" | sed -n 2p)
    [ -n "$l2" ] && [ -n "$u2" ] || fail "the commands did not run: $(printf '%s' "$out" | tail -n 8)"
    rate=$(awk -v a="$l1" -v b="$l2" -v s="$u1" -v t="$u2" 'BEGIN { printf "%d", (b - a) / (t - s) }')
    [ "$rate" -ge 125 ] || fail "$rate local timer interrupts per second of a busy guest (HZ = 250)"
    echo "ticks: $rate local timer interrupts per second (HZ = 250)"
    ;;
  panic)
    set +e
    out=$(boot initrd-test.gz 'rdinit=/no-such-init' --flight-recorder 50 </dev/null 2>&1); status=$?
    set -e
    [ $status -ne 0 ] && [ $status -ne 124 ] || fail "exit status $status (expected non-zero, not a timeout)"
    printf '%s\n' "$out" | grep -q 'Kernel panic - not syncing' || fail "the panic is not on the console"
    printf '%s\n' "$out" | grep -q '^xlat: guest Kernel panic' || fail "xlat did not say the guest panicked"
    # The flight recorder's last events, with the kernel's function names.
    printf '%s\n' "$out" | grep -q '^==== xlat flight recorder: the last 50 events (guest panic)' ||
      fail "no flight recorder dump"
    events=$(printf '%s\n' "$out" | sed -n '/^==== xlat flight recorder/,/^==== end of the flight recorder/p' |
      grep -cE '^(exit|vmm_call|int|io): ')
    [ "$events" -eq 50 ] || fail "the flight recorder dump holds $events events, expected 50"
    echo "panic: exit status $status"
    ;;
  reboot)
    set +e
    out=$(boot initrd-test.gz 'quiet -- reboot -f' -no-reboot </dev/null 2>&1); status=$?
    set -e
    [ $status -eq 0 ] || fail "exit status $status; output ends: $(printf '%s' "$out" | tail -n 5)"
    printf '%s\n' "$out" | grep -q -- '-no-reboot' || fail "xlat did not say why it stopped"
    echo "reboot: ok"
    ;;
  qemuline)
    # A QEMU command line for a direct kernel boot, machine spelled out and
    # the console in a file: the command's output is in the file, none on
    # stdout, and the run ends as the guest powers off.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    set +e
    out=$(boot initrd-test.gz 'quiet -- echo xlat-$((6 * 7))' -machine pc,accel=tcg -cpu max -smp 1 -display none \
      -vga none -nic none -monitor none -nodefaults -rtc base=utc -no-reboot -serial "file:$tmp/console" \
      -d guest_errors -D "$tmp/log" </dev/null 2>"$tmp/err"); status=$?
    set -e
    [ $status -eq 0 ] || fail "exit status $status; stderr: $(tail -n 5 "$tmp/err")"
    [ -z "$out" ] || fail "output went to the terminal, not the file: $(printf '%s' "$out" | head -n 3)"
    ! tr -d '\r' <"$tmp/err" | grep -qx 'xlat-42' || fail "the console went to stderr"
    tr -d '\r' <"$tmp/console" | grep -qx 'xlat-42' || fail "the command's output is not in the file: $(tail -n 5 "$tmp/console")"
    tr -d '\r' <"$tmp/console" | grep -qx '@@EXIT 0' || fail "no '@@EXIT 0' in the file"
    # The 8250 driver probes COM2 (0x2f8), which the machine does not have.
    grep -q '^guest_errors: .*port 0x02f9, which no device decodes' "$tmp/log" ||
      fail "-d guest_errors: the probe of the absent COM2 is not shown: $(head -n 3 "$tmp/log")"
    echo "qemuline: ok"
    ;;
  *) fail "unknown mode" ;;
esac
