#!/bin/sh
# The command line of xlat as a user meets it.
#   cli_test.sh errors XLAT MAKE_ELF   bad command lines: exit status 1, nothing on
#                                      stdout, exactly one line on stderr that starts
#                                      with "xlat: " and names the problem; plus the
#                                      informational options (exit 0, text on stdout)
#   cli_test.sh run XLAT MAKE_ELF      a guest that runs (needs a working core)
set -u

mode=$1
xlat=$2
make_elf=$3
if [ ! -x "$xlat" ]; then
  echo "FAIL: $xlat was not built (does the core link?)" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/xlat-cli-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_error "needle" ARGS... : exit 1, empty stdout, one stderr line "xlat: ...needle...".
expect_error() {
  needle=$1
  shift
  "$xlat" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  lines=$(wc -l <"$tmp/err")
  err=$(cat "$tmp/err")
  if [ "$status" -ne 1 ]; then
    fail "xlat $*: exit status $status, expected 1 (stderr: $err)"
  elif [ -s "$tmp/out" ]; then
    fail "xlat $*: wrote to stdout: $(cat "$tmp/out")"
  elif [ "$lines" -ne 1 ]; then
    fail "xlat $*: $lines lines on stderr, expected 1: $err"
  else
    case $err in
      "xlat: "*"$needle"*) echo "ok: xlat $* -> $err" ;;
      *) fail "xlat $*: stderr '$err' does not say '$needle'" ;;
    esac
  fi
}

# expect_info "needle" ARGS... : exit 0, stdout contains needle, stderr empty.
expect_info() {
  needle=$1
  shift
  "$xlat" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  if [ "$status" -ne 0 ]; then
    fail "xlat $*: exit status $status, expected 0"
  elif [ -s "$tmp/err" ]; then
    fail "xlat $*: wrote to stderr: $(cat "$tmp/err")"
  elif ! grep -q -e "$needle" "$tmp/out"; then
    fail "xlat $*: stdout does not contain '$needle'"
  else
    echo "ok: xlat $*"
  fi
}

"$make_elf" valid "$tmp/valid.elf" || exit 1
"$make_elf" high "$tmp/high.elf" || exit 1
"$make_elf" top "$tmp/top.elf" || exit 1
printf 'hello\n' >"$tmp/text"
: >"$tmp/empty"
mkdir "$tmp/dir"

case $mode in
errors)
  expect_info "usage: xlat" -h
  expect_info "usage: xlat" --help
  expect_info "-kernel FILE" -help
  expect_info "xlat version" -version
  expect_info "xlat version" --version
  expect_info "in_asm" -d help
  expect_info "tcg" -accel help
  expect_info "i440FX" -machine help
  expect_info "x86 max" -cpu help
  expect_info "usage: xlat" -h -bogus

  expect_error "-foo: invalid option" -foo
  expect_error "--foo: invalid option" --foo
  expect_error "disk.img: unexpected argument" disk.img
  expect_error "give one with -kernel FILE"
  expect_error "give one with -kernel FILE" -m 64
  expect_error "-kernel: requires an argument" -kernel
  expect_error "-m: requires an argument" -kernel "$tmp/valid.elf" -m
  expect_error "--stats: does not take an argument" --stats=yes
  expect_error "-m 0: RAM size must be greater than 0" -m 0 -kernel "$tmp/valid.elf"
  expect_error "-m abc: invalid RAM size" -m abc -kernel "$tmp/valid.elf"
  expect_error "too small" -m 512K -kernel "$tmp/valid.elf"
  expect_error "too large" -m 2T -kernel "$tmp/valid.elf"
  expect_error "multiple of 4 KiB" -m 4097K -kernel "$tmp/valid.elf"
  expect_error "not available" -accel kvm -kernel "$tmp/valid.elf"
  expect_error "tb-size must be" -accel tcg,tb-size=0 -kernel "$tmp/valid.elf"
  expect_error "tb-size must be" -accel tcg,tb-size=2048 -kernel "$tmp/valid.elf"
  expect_error "already given" -accel tcg -accel tcg -kernel "$tmp/valid.elf"
  expect_error "unknown logging category 'foo'" -d foo -kernel "$tmp/valid.elf"
  expect_error "-dfilter nonsense: cannot parse" -dfilter nonsense -kernel "$tmp/valid.elf"
  expect_error "--trace-cpl 4: the privilege level is 0, 1, 2 or 3" --trace-cpl 4 -kernel "$tmp/valid.elf"
  expect_error "--flight-recorder 0: the number of events" --flight-recorder 0 -kernel "$tmp/valid.elf"
  expect_error "-D $tmp/nodir/trace.log: cannot write" -d in_asm -D "$tmp/nodir/trace.log" -kernel "$tmp/valid.elf"
  expect_error "unsupported serial backend" -serial tcp::4444 -kernel "$tmp/valid.elf"
  expect_error "only one serial port" -serial stdio -serial none -kernel "$tmp/valid.elf"
  expect_error "-serial file:$tmp/valid.elf: is the -kernel file; it would be overwritten" -serial "file:$tmp/valid.elf" -kernel "$tmp/valid.elf"
  expect_error "-serial file:$tmp/nodir/c.log: cannot write" -serial "file:$tmp/nodir/c.log" -kernel "$tmp/valid.elf"
  expect_error "is not emulated" -device e1000 -kernel "$tmp/valid.elf"
  expect_error "-smp 4: xlat emulates one CPU" -smp 4 -kernel "$tmp/valid.elf"
  expect_error "machine 'q35' is not available" -M q35 -kernel "$tmp/valid.elf"
  expect_error "-enable-kvm: not supported: KVM is not available" -enable-kvm -kernel "$tmp/valid.elf"
  expect_error "-drive: not supported: no disks are emulated" -drive file=disk.img -kernel "$tmp/valid.elf"
  expect_error "xlat has no display" -display gtk -kernel "$tmp/valid.elf"
  expect_error "-gdb udp::1234: only tcp::PORT and tcp:HOST:PORT are supported" -gdb udp::1234 -kernel "$tmp/valid.elf"
  expect_error "-gdb tcp::0: bad port '0'" -gdb tcp::0 -kernel "$tmp/valid.elf"
  expect_error "-S: needs -s or -gdb DEV" -S -kernel "$tmp/valid.elf"
  expect_error "--symbols $tmp/x.map: names addresses for gdb and traces" --symbols "$tmp/x.map" -kernel "$tmp/valid.elf"
  expect_error "--symbols: only for a Linux kernel" -s --symbols "$tmp/x.map" -kernel "$tmp/valid.elf"

  expect_error "$tmp/missing.elf: cannot open: No such file or directory" -kernel "$tmp/missing.elf"
  expect_error "$tmp/dir: is a directory" -kernel "$tmp/dir"
  expect_error "$tmp/empty: empty file" -kernel "$tmp/empty"
  expect_error "$tmp/text: not an ELF file" -kernel "$tmp/text"
  expect_error "file too large" -m 1M -kernel /dev/zero
  expect_error "-initrd: needs a Linux kernel" -kernel "$tmp/valid.elf" -initrd "$tmp/text"
  expect_error "-append: needs a Linux kernel" -kernel "$tmp/valid.elf" -append "console=ttyS0"
  expect_error "--stats-json $tmp/nodir/s.json: cannot write" -kernel "$tmp/valid.elf" --stats-json "$tmp/nodir/s.json"
  expect_error "--stats-json $tmp/dir: cannot write" -kernel "$tmp/valid.elf" --stats-json "$tmp/dir"
  expect_error "would be overwritten" -kernel "$tmp/valid.elf" --stats-json "$tmp/valid.elf"
  # The stats file is checked before the kernel is read: a typo fails fast.
  expect_error "cannot write" -kernel "$tmp/missing.elf" --stats-json "$tmp/nodir/s.json"
  # These need the board (RAM) to exist, so a core that builds.
  expect_error "lies outside guest RAM" -kernel "$tmp/high.elf"
  expect_error "holds the page tables" -m 2M -kernel "$tmp/top.elf"
  ;;
run)
  # The standard image writes 0x10 to isa-debug-exit: exit status (0x10 << 1) | 1 = 33.
  "$xlat" -kernel "$tmp/valid.elf" --stats --stats-json "$tmp/s.json" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 >"$tmp/out" 2>"$tmp/err"
  status=$?
  [ "$status" -eq 33 ] || fail "valid.elf: exit status $status, expected 33 (stderr: $(cat "$tmp/err"))"
  grep -q "Translator" "$tmp/err" || fail "--stats: no report on stderr"
  grep -q '"schema": "xlat-stats/1"' "$tmp/s.json" || fail "--stats-json: no JSON in $tmp/s.json"
  grep -q '"run_ns": [1-9]' "$tmp/s.json" || fail "--stats-json: run_ns not filled"
  if command -v python3 >/dev/null; then
    python3 -m json.tool "$tmp/s.json" >/dev/null || fail "--stats-json: invalid JSON"
  fi
  # The time split adds up to the run; --count-insns counts the two
  # instructions the standard image runs before its out to 0xf4 ends the run.
  grep -q '"time": {"guest_code_ns": ' "$tmp/s.json" || fail "--stats-json: no time split"
  grep -q "translated code" "$tmp/err" || fail "--stats: no time split"
  "$xlat" -kernel "$tmp/valid.elf" --count-insns --stats-json "$tmp/c.json" >/dev/null 2>&1
  grep -q '"guest_insns": 2,' "$tmp/c.json" || fail "--count-insns: expected 2 guest instructions: $(grep -o '"guest_insns": [0-9]*' "$tmp/c.json")"
  grep -q "guest instructions executed" "$tmp/err" && fail "--stats: instructions reported without --count-insns"
  # QEMU's options for the machine xlat is: the guest runs as without them.
  "$xlat" -machine pc,accel=tcg -cpu max -smp 1 -display none -vga none -nic none -monitor none \
    -rtc base=utc -name t -boot c -kernel "$tmp/valid.elf" >/dev/null 2>"$tmp/err"
  status=$?
  [ "$status" -eq 33 ] || fail "QEMU machine options: exit status $status, expected 33 (stderr: $(cat "$tmp/err"))"
  # -nodefaults without -serial: COM1 goes nowhere, and the guest still runs.
  "$xlat" -nodefaults -kernel "$tmp/valid.elf" >"$tmp/out" 2>&1
  status=$?
  [ "$status" -eq 33 ] || fail "-nodefaults: exit status $status, expected 33"
  # -serial file:PATH runs the guest and creates the file.
  "$xlat" -kernel "$tmp/valid.elf" -serial "file:$tmp/console.log" >/dev/null 2>&1
  status=$?
  [ "$status" -eq 33 ] || fail "-serial file: exit status $status, expected 33"
  [ -f "$tmp/console.log" ] || fail "-serial file: no file made"
  # -serial none still runs the guest.
  "$xlat" -kernel "$tmp/valid.elf" -serial none >/dev/null 2>&1
  status=$?
  [ "$status" -eq 33 ] || fail "-serial none: exit status $status, expected 33"
  # -d in_asm,out_asm,exec -D FILE: the guest block at the entry point, the
  # host code it became and its execution, in the file and not on stderr.
  entry=$(od -An -tx8 -j24 -N8 "$tmp/valid.elf" | tr -d ' ')
  "$xlat" -kernel "$tmp/valid.elf" -d in_asm,out_asm,exec -D "$tmp/trace.log" >/dev/null 2>"$tmp/err"
  status=$?
  [ "$status" -eq 33 ] || fail "-d: exit status $status, expected 33"
  grep -q "^----- guest 0x0*$entry " "$tmp/trace.log" || fail "-d in_asm: no block at the entry point 0x$entry"
  grep -q "^OUT: \[size=" "$tmp/trace.log" || fail "-d out_asm: no host code"
  grep -q "^exec: .*0*$entry" "$tmp/trace.log" || fail "-d exec: the entry block is not shown executing"
  grep -q "guest" "$tmp/err" && fail "-D: the trace went to stderr"
  # -d cpu_reset: the registers at power-on; -d nochain: no block linked.
  "$xlat" -kernel "$tmp/valid.elf" -d cpu_reset,nochain -D "$tmp/reset.log" --stats-json "$tmp/nc.json" >/dev/null 2>&1
  status=$?
  [ "$status" -eq 33 ] || fail "-d cpu_reset,nochain: exit status $status, expected 33"
  grep -q "^cpu_reset: power on" "$tmp/reset.log" || fail "-d cpu_reset: no power-on line"
  grep -q "^RIP=0*$entry " "$tmp/reset.log" || fail "-d cpu_reset: the registers do not show RIP at the entry 0x$entry"
  grep -q '"links_made": 0,' "$tmp/nc.json" || fail "-d nochain: blocks were linked: $(grep -o '"links_made": [0-9]*' "$tmp/nc.json")"
  grep -q '"jump_cache_fills": 0' "$tmp/nc.json" || fail "-d nochain: the jump cache was filled"
  # -dfilter outside the guest: nothing traced.
  "$xlat" -kernel "$tmp/valid.elf" -d in_asm -dfilter 0x7000000000+0x1000 -D "$tmp/trace2.log" >/dev/null 2>&1
  [ -s "$tmp/trace2.log" ] && fail "-dfilter: blocks outside the range were traced"
  [ "$failures" -eq 0 ] && echo "ok: run"
  ;;
*)
  echo "usage: $0 errors|run XLAT MAKE_ELF" >&2
  exit 2
  ;;
esac

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
