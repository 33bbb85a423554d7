#!/bin/sh
# run_system_test.sh XLAT PROGRAM.elf N [XLAT-OPTION...] — runs a roms/system
# program under xlat (with the options given) and passes when
#   - the exit status is 1 (the guest wrote 0 to the isa-debug-exit port:
#     (0 << 1) | 1), and
#   - no output line starts with "FAIL", there are N "PASS" lines, and the
#     last line is "DONE N" (so a crash, a hang cut by the timeout or an early
#     exit fails).
# On failure it prints the FAIL lines, the counts, the status and the end of
# xlat's stderr. Exit 77 (ctest: skipped) when XLAT does not exist.
# SYSTEM_TEST_TIMEOUT (seconds, default 150) bounds the run.
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 XLAT PROGRAM.elf N [XLAT-OPTION...]" >&2
  exit 2
fi
xlat=$1 elf=$2 want=$3
shift 3
if [ ! -x "$xlat" ]; then
  echo "run_system_test: $xlat not built; skipping" >&2
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout "${SYSTEM_TEST_TIMEOUT:-150}" "$xlat" -kernel "$elf" -m 256M "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
fails=$(grep -c '^FAIL' "$tmp/out")
passes=$(grep -c '^PASS' "$tmp/out")
last=$(tail -n 1 "$tmp/out")
ok=1
[ "$status" -eq 1 ] || ok=0
[ "$fails" -eq 0 ] || ok=0
[ "$passes" -eq "$want" ] || ok=0
[ "$last" = "DONE $want" ] || ok=0
if [ $ok -eq 1 ]; then
  echo "$(basename "$elf"): $passes passed, 0 failed"
  exit 0
fi
grep '^FAIL' "$tmp/out"
echo "$(basename "$elf"): $passes passed, $fails failed, $want expected; last line: '$last'; exit status $status" \
  "(want 1; 124 = timed out)"
if [ -s "$tmp/err" ]; then
  echo "--- xlat stderr (last lines):"
  tail -n 15 "$tmp/err"
fi
exit 1
