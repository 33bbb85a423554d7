// The native-only build (self-check): no guest to compare against.
#include "tests/difftest/guest_runner.h"

namespace difftest {

std::unique_ptr<GuestRunner> MakeXlatRunner(std::string* error, bool) {
  *error = "this binary is built without xlat_core (native self-check only)";
  return nullptr;
}

}  // namespace difftest
