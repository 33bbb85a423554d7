// Replays fuzz inputs without libFuzzer: the normal (g++) build and the
// sanitizer builds run the seed corpus and the regressions with it.
//
//   xlat_fuzz_replay PATH...   files, or directories of files (sorted)
//
// Each input runs as under libFuzzer (fuzz_target.cpp); a violation or a
// crash aborts with a report that names the file.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace xlat::fuzz {
bool HaveLibFuzzer() { return false; }
}  // namespace xlat::fuzz

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path p(argv[i]);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') in_dir.push_back(e.path().string());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p.string());
    } else {
      std::fprintf(stderr, "xlat_fuzz_replay: %s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: xlat_fuzz_replay PATH... (files or directories of fuzz inputs)\n");
    return 1;
  }
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    xlat::fuzz::SetCurrentInputName(f.c_str());
    xlat::fuzz::RunOneInput(data.data(), data.size());
  }
  xlat::fuzz::SetCurrentInputName(nullptr);
  std::printf("xlat_fuzz_replay: %zu inputs, every run ended as the guest made it end\n", files.size());
  return 0;
}
