// The code cache is flushed whole when full and translation goes on: guest
// programs run in a cache far too small for their code give the same output
// as natively.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/guest_run.h"

namespace xlat {
namespace {

using test::GuestRun;
using test::RunGuest;
using test::RunNative;

class CodeCacheFlush : public ::testing::TestWithParam<const char*> {};

TEST_P(CodeCacheFlush, TinyCacheGivesNativeOutput) {
  const std::string dir = XLAT_ROM_DIR;
  const std::string name = GetParam();
  const std::string expected = RunNative(dir + "/" + name + ".native");
  ASSERT_FALSE(expected.empty());
  GuestRun run = RunGuest(dir + "/" + name + ".elf", 64 << 10);
  EXPECT_EQ(run.outcome.kind, RunOutcome::Kind::kDebugExit) << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_status, 1);
  EXPECT_EQ(run.output, expected);
  EXPECT_GT(run.stats.cache_flushes, 0u) << "the cache never filled: the test proves nothing";
}

INSTANTIATE_TEST_SUITE_P(Roms, CodeCacheFlush, ::testing::Values("control", "memory"));

}  // namespace
}  // namespace xlat
