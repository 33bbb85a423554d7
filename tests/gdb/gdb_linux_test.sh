#!/bin/sh
# Debian's gdb against xlat's gdb stub, the Debian kernel of the guest image:
#   gdb_linux_test.sh MODE XLAT DIR
#   linux      xlat -S -gdb: gdb connects, loads the guest kernel's symbols
#              (qXfer:exec-file), breaks on start_kernel by name, reads
#              registers (rip, cr3, fs_base...) and memory (x/4i $pc, a kernel
#              variable), stepi, a hardware watchpoint on jiffies_64, and
#              continues to the end: the test command runs and gdb sees the
#              guest exit
#   interrupt  xlat -s: gdb attaches to a running guest, Ctrl-C stops it
#              (SIGINT), gdb detaches and the guest runs to its end
#   time       xlat -s: gdb stops the guest for some seconds in the middle of
#              a loop that prints its uptime: guest time stood still (no gap)
#   errors     a port in use and a bad -gdb device: one line on stderr,
#              status 1, before the guest starts
# Exit 77 (skip) when gdb is not installed.
set -u
mode=$1 xlat=$2 dir=$3
fail() {
  echo "gdb_linux_test $mode: $*" >&2
  [ -n "${tmp:-}" ] && for f in "$tmp"/*; do echo "--- $f" >&2; tail -n 60 "$f" >&2; done
  exit 1
}
command -v gdb >/dev/null 2>&1 || { echo "gdb is not installed: skipped"; exit 77; }
[ -s "$dir/vmlinuz" ] || fail "$dir/vmlinuz is missing (cmake --build build --target guest-image)"
# Until frontend/main.cpp starts the stub, xlat refuses -gdb: skip, saying so.
if "$xlat" -gdb tcp::1 -kernel /nonexistent 2>&1 | grep -q "not supported yet"; then
  echo "this xlat has no gdb stub wired in (frontend/main.cpp): skipped"
  exit 77
fi
tmp=$(mktemp -d)
xlat_pid=
cleanup() { [ -n "$xlat_pid" ] && kill "$xlat_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# Starts xlat in the background on a free port: start_xlat INITRD APPEND [options...]
start_xlat() {
  initrd=$1 append=$2; shift 2
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + ($$ * 7 + try * 997) % 40000))
    "$xlat" -gdb "tcp::$port" "$@" -kernel "$dir/vmlinuz" -initrd "$dir/$initrd" \
      -append "console=ttyS0 $append" -m 512M </dev/null >"$tmp/guest.out" 2>"$tmp/xlat.err" &
    xlat_pid=$!
    sleep 0.5
    if ! kill -0 "$xlat_pid" 2>/dev/null && grep -q "cannot listen" "$tmp/xlat.err"; then
      xlat_pid=
      continue
    fi
    return 0
  done
  fail "no free port"
}

# Waits (up to $2 seconds) for a line matching $1 in xlat's stderr.
wait_for_xlat() {
  i=0
  while ! grep -q "$1" "$tmp/xlat.err"; do
    kill -0 "$xlat_pid" 2>/dev/null || fail "xlat exited before '$1'"
    i=$((i + 1))
    [ $i -le $(($2 * 10)) ] || fail "no '$1' from xlat in $2 s"
    sleep 0.1
  done
}

# Waits for xlat to end; its status in $status.
wait_xlat_end() {
  i=0
  while kill -0 "$xlat_pid" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 600 ] || fail "xlat did not end"
    sleep 0.1
  done
  wait "$xlat_pid"; status=$?
  xlat_pid=
}

expect() {  # expect FILE REGEX WHAT
  grep -Eq "$2" "$1" || fail "$3 (no /$2/ in $(basename "$1"))"
}

case "$mode" in
  linux)
    start_xlat initrd-test.gz 'quiet -- echo gdb-test-$((6 * 7))' -S
    # -S: the decompressor runs first; then the stub waits, the symbols known.
    wait_for_xlat "waiting for gdb" 120
    expect "$tmp/xlat.err" "guest kernel symbols in /" "xlat did not announce the symbol file"
    cat >"$tmp/cmds" <<EOF
set pagination off
set confirm off
target remote 127.0.0.1:$port
echo @@connected\n
info symbol start_kernel
break start_kernel
continue
echo @@at-start-kernel\n
info symbol \$pc
info registers rip cr0 cr3 cr4 efer fs_base gs_base k_gs_base
info registers
x/4i \$pc
x/gx &jiffies_64
x/s &linux_banner
print/x \$pc
stepi
stepi
stepi
echo @@stepped\n
print/x \$pc
info symbol \$pc
watch *(unsigned long *)&jiffies_64
continue
echo @@watched\n
info symbol \$pc
delete
continue
echo @@end\n
EOF
    timeout 240 gdb -batch -nx -x "$tmp/cmds" >"$tmp/gdb.out" 2>&1
    gdb_status=$?
    wait_xlat_end
    [ $gdb_status -ne 124 ] || fail "gdb timed out"
    out=$tmp/gdb.out
    expect "$out" "@@connected" "gdb did not connect"
    expect "$out" "Reading symbols from .*vmlinux" "gdb did not load the guest kernel's symbols"
    expect "$out" "^start_kernel in section" "start_kernel is not a symbol"
    expect "$out" "^Breakpoint 1 at 0xffffffff[0-9a-f]+" "break start_kernel did not resolve by name"
    expect "$out" "^Breakpoint 1, 0x[0-9a-f]+ in start_kernel \(\)" "continue did not stop at start_kernel"
    expect "$out" "^rip +0xffffffff[0-9a-f]+ +0x[0-9a-f]+ <start_kernel" "rip is not at start_kernel"
    expect "$out" "^cr0 +0x[0-9a-f]+ +\[ PE .*PG \]" "no cr0"
    expect "$out" "^cr3 +0x[0-9a-f]+" "no cr3"
    expect "$out" "^efer +0x[0-9a-f]+ +\[ SCE LME LMA NXE \]" "no efer"
    expect "$out" "^fs_base +0x" "no fs_base"
    expect "$out" "^gs_base +0x" "no gs_base"
    expect "$out" "^=> 0x[0-9a-f]+ <start_kernel(\+[0-9]+)?>:" "x/4i \$pc did not disassemble start_kernel"
    expect "$out" "<jiffies(_64)?>:[[:space:]]+0x[0-9a-f]+" "x/gx &jiffies_64 did not read the variable"
    expect "$out" "<linux_banner>:[[:space:]]+\"Linux version 6\." "x/s &linux_banner did not read the kernel's banner"
    pc0=$(sed -n '/@@at-start-kernel/,/@@stepped/p' "$out" | sed -n 's/^\$1 = \(0x[0-9a-f]*\)$/\1/p')
    pc1=$(sed -n '/@@stepped/,$p' "$out" | sed -n 's/^\$2 = \(0x[0-9a-f]*\)$/\1/p')
    [ -n "$pc0" ] && [ -n "$pc1" ] && [ "$pc0" != "$pc1" ] || fail "stepi did not move the pc ($pc0 -> $pc1)"
    expect "$out" "^Hardware watchpoint 2: \*\(unsigned long \*\)&jiffies_64" "no hardware watchpoint"
    expect "$out" "^Old value = " "the watchpoint did not trigger"
    expect "$out" "^New value = " "the watchpoint did not show the new value"
    expect "$out" "\[Inferior 1 \(.*\) exited normally\]" "gdb did not see the guest exit"
    expect "$out" "@@end" "the gdb script did not finish"
    [ $status -eq 0 ] || fail "xlat exit status $status"
    tr -d '\r' <"$tmp/guest.out" | grep -qx 'gdb-test-42' || fail "the guest command did not run"
    [ "${VERBOSE:-}" ] && cat "$out"
    echo "linux: ok ($(grep -c . "$out") lines of gdb output)"
    ;;
  interrupt)
    start_xlat initrd-test.gz 'quiet -- sleep 8; echo slept' -s
    wait_for_xlat "guest kernel symbols in /" 120
    cat >"$tmp/cmds" <<EOF
set pagination off
set confirm off
target remote 127.0.0.1:$port
echo @@connected\n
info registers rip
set debug remote 1
continue
set debug remote 0
echo @@interrupted\n
info registers rip
detach
echo @@detached\n
EOF
    # gdb turns its SIGINT into the remote protocol's Ctrl-C (0x03) once it
    # has resumed the guest; before, the SIGINT would end the script ("Quit").
    # A second SIGINT while gdb waits for the stop asks whether to give up on
    # the target, which batch mode answers yes ("Disconnected from target").
    # So: exactly one SIGINT, after gdb's continue. (timeout without
    # --foreground passes a SIGINT on to gdb and again to its process group:
    # on a loaded machine the second came while gdb waited for the stop.)
    timeout --foreground 120 gdb -batch -nx -x "$tmp/cmds" >"$tmp/gdb.out" 2>&1 &
    gdb_pid=$!
    # The continue packet in gdb's remote log: gdb now waits for the stop.
    i=0
    while ! grep -Eq 'Sending packet: \$(vCont;c|c#)' "$tmp/gdb.out" 2>/dev/null; do
      kill -0 $gdb_pid 2>/dev/null || fail "gdb ended before it resumed the guest"
      i=$((i + 1)); [ $i -le 1200 ] || fail "gdb did not resume the guest"; sleep 0.1
    done
    kill -INT $gdb_pid
    wait $gdb_pid; gdb_status=$?
    wait_xlat_end
    out=$tmp/gdb.out
    [ $gdb_status -ne 124 ] || fail "gdb timed out"
    expect "$out" "@@connected" "gdb did not connect"
    expect "$out" "Program received signal SIGINT" "Ctrl-C did not stop the guest"
    expect "$out" "@@interrupted" "gdb did not go on after the stop"
    expect "$out" "@@detached" "gdb did not detach"
    [ $status -eq 0 ] || fail "xlat exit status $status"
    tr -d '\r' <"$tmp/guest.out" | grep -qx 'slept' || fail "the guest did not run to its end after detach"
    [ "${VERBOSE:-}" ] && cat "$out"
    echo "interrupt: ok"
    ;;
  time)
    # The guest prints its uptime every second; gdb attaches in the middle,
    # which stops the guest, holds it $held s and detaches. Guest time stood
    # still meanwhile: no two uptimes are more than the second slept (and a
    # cat) apart, where a clock that ran on would show a gap of $held s.
    held=6
    start_xlat initrd-test.gz 'quiet -- for i in 1 2 3 4 5 6 7 8 9 10 11 12; do cat /proc/uptime; sleep 1; done' -s
    uptimes() { tr -d '\r' <"$tmp/guest.out" | grep -E '^[0-9]+\.[0-9]+ [0-9]+\.[0-9]+$' | cut -d' ' -f1; }
    i=0
    while [ "$(uptimes | wc -l)" -lt 2 ]; do
      kill -0 "$xlat_pid" 2>/dev/null || fail "xlat exited before the guest's loop ran"
      i=$((i + 1)); [ $i -le 1200 ] || fail "the guest's loop did not start"; sleep 0.1
    done
    cat >"$tmp/cmds" <<EOF
set pagination off
set confirm off
target remote 127.0.0.1:$port
echo @@stopped\n
shell grep -cE '^[0-9]+\.[0-9]+ [0-9]+\.[0-9]+' $tmp/guest.out >$tmp/lines-held
shell sleep $held
echo @@held\n
detach
echo @@detached\n
EOF
    timeout --foreground 120 gdb -batch -nx -x "$tmp/cmds" >"$tmp/gdb.out" 2>&1
    gdb_status=$?
    wait_xlat_end
    out=$tmp/gdb.out
    [ $gdb_status -ne 124 ] || fail "gdb timed out"
    expect "$out" "@@stopped" "gdb did not connect"
    expect "$out" "@@detached" "gdb did not detach"
    [ $status -eq 0 ] || fail "xlat exit status $status"
    n=$(uptimes | wc -l)
    [ "$n" -eq 12 ] || fail "the guest printed $n uptimes, not 12"
    at=$(cat "$tmp/lines-held")
    [ "$at" -ge 1 ] && [ "$at" -lt 12 ] || fail "gdb did not stop the guest within its loop ($at uptimes before)"
    gap=$(uptimes | awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { print g }')
    awk -v g="$gap" -v h="$held" 'BEGIN { exit !(g < 1 + h / 2) }' ||
      fail "guest time ran on while gdb held the guest: a gap of $gap s between uptimes (held $held s)"
    [ "${VERBOSE:-}" ] && cat "$out" && uptimes
    echo "time: held $held s after $at of 12 uptimes; the largest gap between them $gap s"
    ;;
  errors)
    # A port in use: xlat says so and exits 1 before the guest runs.
    start_xlat initrd-test.gz 'quiet -- sleep 10' -S
    first=$port
    "$xlat" -gdb "tcp::$first" -kernel "$dir/vmlinuz" -initrd "$dir/initrd-test.gz" -m 512M </dev/null \
      >"$tmp/second.out" 2>"$tmp/second.err"
    s=$?
    [ $s -eq 1 ] || fail "a second xlat on port $first: status $s"
    [ "$(wc -l <"$tmp/second.err")" -eq 1 ] || fail "not one line on stderr"
    expect "$tmp/second.err" "^xlat: -gdb tcp::$first: cannot listen on 127\.0\.0\.1:$first: Address already in use$" \
      "no clear message for a port in use"
    [ ! -s "$tmp/second.out" ] || fail "the guest ran"
    kill "$xlat_pid"; wait "$xlat_pid" 2>/dev/null; xlat_pid=
    for dev in udp::1234 tcp:1234 tcp::0 tcp::99999; do
      "$xlat" -gdb "$dev" -kernel "$dir/vmlinuz" -m 512M </dev/null >/dev/null 2>"$tmp/bad.err"
      s=$?
      [ $s -eq 1 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] || fail "-gdb $dev: status $s, $(cat "$tmp/bad.err")"
      expect "$tmp/bad.err" "^xlat: -gdb $dev: " "-gdb $dev: no message naming it"
    done
    echo "errors: ok"
    ;;
  *)
    fail "unknown mode"
    ;;
esac
