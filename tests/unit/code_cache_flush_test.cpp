// The code cache is flushed whole when full and translation goes on: guest
// programs run in a cache far too small for their code give the same output
// as natively.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "devices/board.h"
#include "frontend/elf_loader.h"

namespace xlat {
namespace {

std::string RunNative(const std::string& path) {
  std::string out;
  FILE* p = popen(path.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

struct GuestRun {
  std::string output;
  RunOutcome outcome;
  Stats stats;
};

GuestRun RunGuest(const std::string& elf, uint64_t code_cache_bytes) {
  GuestRun run;
  BoardConfig cfg;
  cfg.ram_bytes = 512ull << 20;
  cfg.code_cache_bytes = code_cache_bytes;
  cfg.serial_out = [&run](uint8_t c) { run.output.push_back(static_cast<char>(c)); };
  std::string err;
  auto board = Board::Create(cfg, &err);
  EXPECT_TRUE(board) << err;
  if (!board) return run;
  std::vector<uint8_t> file;
  ElfImage image;
  EXPECT_TRUE(ReadFileBounded(elf, 64 << 20, &file, &err)) << err;
  EXPECT_TRUE(ParseElf(file, &image, &err)) << err;
  EXPECT_TRUE(PlaceElf(file, image, board->ram(), board->flat_tables_base(), &err)) << err;
  EXPECT_TRUE(board->SetupFlatLongMode(image.entry, &err)) << err;
  run.outcome = board->Run();
  run.stats = board->stats();
  return run;
}

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
