// Runs a guest program of roms/tests on the flat ELF board, and natively,
// for the unit tests that compare the two.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "devices/board.h"
#include "frontend/elf_loader.h"

namespace xlat::test {

inline std::string RunNative(const std::string& path) {
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

// `trace_threshold`: as -accel tcg,traces=N.
inline GuestRun RunGuest(const std::string& elf, uint64_t code_cache_bytes, uint32_t trace_threshold = 20000) {
  GuestRun run;
  BoardConfig cfg;
  cfg.ram_bytes = 512ull << 20;
  cfg.code_cache_bytes = code_cache_bytes;
  cfg.trace_threshold = trace_threshold;
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

}  // namespace xlat::test
