#!/bin/sh
# Builds the libFuzzer target (the `fuzz` preset: clang, -fsanitize=fuzzer,address)
# and fuzzes xlat with arbitrary guest code for a while, starting from the
# seed corpus. (The regressions are not in the corpus: each is a ctest of its
# own, and one that still fails would stop every run at once.)
#
#   run_libfuzzer.sh [--source DIR] [--build DIR] [--seconds N] [--jobs N] [-- LIBFUZZER_ARGS...]
#
# --build defaults to SOURCE/build-fuzz (the preset's own directory); the
# corpus that libFuzzer grows goes to BUILD/corpus, findings to
# BUILD/artifacts/DATE-TIME/ (crash-*, timeout-*, leak-*, oom-*). Exit status: 0 when
# nothing was found, 1 otherwise (or when clang or libFuzzer is missing).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=""
seconds=60
jobs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --source) src=$(cd "$2" && pwd); shift 2 ;;
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "run_libfuzzer.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
[ -n "$build" ] || build="$src/build-fuzz"

fail() { echo "run_libfuzzer.sh: $*" >&2; exit 1; }

# The tools, checked up front with a message that says what to install.
command -v clang++ >/dev/null 2>&1 ||
  fail "clang++ is missing: the fuzz target needs clang and libFuzzer (scripts/setup-deps.sh installs clang and libclang-rt-14-dev)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$probe/p.cpp"
clang++ -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" >"$probe/log" 2>&1 ||
  fail "clang++ cannot link -fsanitize=fuzzer,address (libFuzzer or ASan runtime missing: install libclang-rt-14-dev, as scripts/setup-deps.sh does): $(head -3 "$probe/log")"

# Configure once (the preset), then build only the target.
if [ ! -f "$build/CMakeCache.txt" ]; then
  (cd "$src" && cmake --preset fuzz -B "$build" >"$probe/configure.log" 2>&1) ||
    { cat "$probe/configure.log" >&2; fail "configuring the fuzz preset in $build failed"; }
fi
cmake --build "$build" --target xlat_fuzz -j2 >"$probe/build.log" 2>&1 ||
  { tail -40 "$probe/build.log" >&2; fail "building xlat_fuzz in $build failed"; }

artifacts="$build/artifacts/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$build/corpus" "$artifacts" "$artifacts.running"
# Each job keeps the input it is running there: a fault in the VMM ends a
# job through the sanitizer's report, which saves no artifact of its own.
export XLAT_FUZZ_KEEP_INPUT_DIR="$artifacts.running"
export ASAN_OPTIONS="${ASAN_OPTIONS:-allow_user_segv_handler=1:detect_leaks=1:abort_on_error=0}"
echo "run_libfuzzer.sh: fuzzing for ${seconds}s ($build/xlat_fuzz; corpus $build/corpus)"
parallel=""
[ "$jobs" -gt 1 ] && parallel="-jobs=$jobs -workers=$jobs"  # (with -jobs the output goes to fuzz-N.log)
status=0
# shellcheck disable=SC2086
"$build/xlat_fuzz" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len=4096 \
  $parallel -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
  "$build/corpus" "$here/corpus" || status=$?
if [ "$status" -ne 0 ] || ls "$artifacts" | grep -q .; then
  echo "run_libfuzzer.sh: FOUND: see the report above and $artifacts/:" >&2
  ls -l "$artifacts" >&2
  echo "The input each job last ran (a crashed job's is the one its report names): $artifacts.running/" >&2
  ls -l "$artifacts.running" >&2
  echo "Replay one with: $build/xlat_fuzz ARTIFACT (XLAT_FUZZ_VERBOSE=1 describes the machine);" >&2
  echo "keep it as a regression: cp ARTIFACT $here/regressions/NAME" >&2
  exit 1
fi
rm -rf "$artifacts.running"
echo "run_libfuzzer.sh: nothing found"
