// The libFuzzer build's side of fuzz_target.h (libFuzzer brings main()).
#include "tests/fuzz/fuzz_target.h"

namespace xlat::fuzz {
bool HaveLibFuzzer() { return true; }
}  // namespace xlat::fuzz
