// A block that closes a loop with a backward jcc gets its fall-through, the
// loop's exit, translated with it (VcpuRuntime::TranslateLoopExit): the
// guest's first pass through the exit then costs no translation. Programs
// full of loops give the same output as natively, and their loops' exits
// are translated ahead.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/guest_run.h"

namespace xlat {
namespace {

class LoopExits : public ::testing::TestWithParam<const char*> {};

TEST_P(LoopExits, TranslatedWithTheirLoopAndOutputIsNative) {
  const std::string dir = XLAT_ROM_DIR;
  const std::string name = GetParam();
  const std::string expected = test::RunNative(dir + "/" + name + ".native");
  ASSERT_FALSE(expected.empty());
  test::GuestRun run = test::RunGuest(dir + "/" + name + ".elf", 64 << 20);
  EXPECT_EQ(run.outcome.kind, RunOutcome::Kind::kDebugExit) << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_status, 1);
  EXPECT_EQ(run.output, expected);
  EXPECT_GT(run.stats.loop_exits_ahead, 0u) << "no loop exit was translated ahead: the test proves nothing";
  EXPECT_LT(run.stats.loop_exits_ahead, run.stats.blocks_translated);
}

INSTANTIATE_TEST_SUITE_P(Roms, LoopExits, ::testing::Values("control", "memory"));

}  // namespace
}  // namespace xlat
