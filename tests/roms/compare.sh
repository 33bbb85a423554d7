#!/bin/sh
# compare.sh NATIVE ELF RUNNER [ARGS...]
#
# Runs the native build of a guest program, then RUNNER ARGS with every "@ELF@"
# in ARGS replaced by ELF (e.g. `xlat -kernel @ELF@ -m 512M`), and passes when
#   - both stdouts are byte-identical, and
#   - the runner's exit status is (c << 1) | 1 where c is the native exit code
#     (QEMU isa-debug-exit semantics: the guest writes c to port 0xf4).
# On a difference it prints a unified diff (first lines), the statuses and the
# runner's stderr. Exit 77 (ctest: skipped) when RUNNER does not exist.
# COMPARE_TIMEOUT (seconds, default 120) bounds each run.
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 NATIVE ELF RUNNER [ARGS...]" >&2
  exit 2
fi
native=$1
elf=$2
runner=$3
shift 3
limit=${COMPARE_TIMEOUT:-120}

if [ ! -x "$runner" ]; then
  echo "compare: $runner not built; skipping" >&2
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Substitute @ELF@ in the runner's arguments.
i=0
for arg in "$@"; do
  [ "$arg" = "@ELF@" ] && arg=$elf
  set -- "$@" "$arg"
  i=$((i + 1))
done
shift "$i"

timeout "$limit" "$native" >"$tmp/native.out" 2>"$tmp/native.err" </dev/null
native_status=$?
timeout "$limit" "$runner" "$@" >"$tmp/guest.out" 2>"$tmp/guest.err" </dev/null
guest_status=$?

expected_status=$(( ((native_status << 1) | 1) & 255 ))
ok=1
if [ "$native_status" -ge 124 ]; then
  echo "compare: the native run failed or timed out (status $native_status)"
  sed -n '1,20p' "$tmp/native.err"
  ok=0
fi
if ! cmp -s "$tmp/native.out" "$tmp/guest.out"; then
  echo "compare: stdout differs (--- native, +++ $(basename "$runner"))"
  diff -u "$tmp/native.out" "$tmp/guest.out" | sed -n '3,60p'
  ok=0
fi
if [ "$guest_status" -ne "$expected_status" ]; then
  echo "compare: exit status $guest_status, expected $expected_status (native exit code $native_status)"
  [ "$guest_status" -eq 124 ] && echo "compare: the run timed out after ${limit}s"
  ok=0
fi
if [ "$ok" -ne 1 ]; then
  echo "compare: command: $runner $*"
  echo "compare: stderr of the run (last 30 lines):"
  tail -n 30 "$tmp/guest.err"
  exit 1
fi
echo "compare: $(wc -l <"$tmp/native.out") lines identical, status $guest_status ($(basename "$elf"))"
exit 0
