// Traces (cpu/vcpu_traces.cpp) made from a block's second entry, in a code
// cache large enough to keep them and in one so small that it is flushed
// while paths are recorded and traces built: the guest programs give the
// same output as natively, and traces were made (with guards).
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "tests/unit/guest_run.h"

namespace xlat {
namespace {

class Traces : public ::testing::TestWithParam<std::tuple<const char*, uint64_t>> {};

TEST_P(Traces, OutputIsNativeAndTracesWereMade) {
  const std::string dir = XLAT_ROM_DIR;
  const std::string name = std::get<0>(GetParam());
  const uint64_t cache_bytes = std::get<1>(GetParam());
  const std::string expected = test::RunNative(dir + "/" + name + ".native");
  ASSERT_FALSE(expected.empty());
  test::GuestRun run = test::RunGuest(dir + "/" + name + ".elf", cache_bytes, /*trace_threshold=*/1);
  EXPECT_EQ(run.outcome.kind, RunOutcome::Kind::kDebugExit) << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_status, 1);
  EXPECT_EQ(run.output, expected);
  EXPECT_GT(run.stats.traces_built, 0u) << "no trace was made: the test proves nothing";
  EXPECT_GT(run.stats.trace_guards, 0u);
  if (cache_bytes < (1u << 20)) EXPECT_GT(run.stats.cache_flushes, 0u) << "the cache never filled";
}

// (64 KiB, the smallest cache: control fills it many times over.)
INSTANTIATE_TEST_SUITE_P(Roms, Traces,
                         ::testing::Values(std::make_tuple("traces", uint64_t{64} << 20),
                                           std::make_tuple("control", uint64_t{64} << 20),
                                           std::make_tuple("control", uint64_t{64} << 10)));

}  // namespace
}  // namespace xlat
