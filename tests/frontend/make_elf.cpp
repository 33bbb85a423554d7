// Writes one of the test ELF images to a file, for the command-line tests
// (cli_test.sh). Usage: frontend_make_elf KIND OUT
//   valid  the standard image (code at 1 MiB: debug-exit 0x10, status 0x21)
//   high   a segment at 200 MiB: outside the default 128 MiB of RAM
//   top    a segment that ends at 2 MiB: into the page tables with -m 2M
#include <cstdio>
#include <cstring>

#include "tests/frontend/elf_builder.h"

using namespace xlat::test;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s valid|high|top OUT\n", argv[0]);
    return 2;
  }
  std::vector<uint8_t> image;
  if (std::strcmp(argv[1], "valid") == 0) {
    image = StandardElf();
  } else if (std::strcmp(argv[1], "high") == 0) {
    const uint64_t at = 200ull << 20;
    image = BuildElf(at, {TestSegment{PT_LOAD, PF_R | PF_X, at, at, kExitCode, 0}});
  } else if (std::strcmp(argv[1], "top") == 0) {
    const uint64_t at = (2ull << 20) - 0x1000;
    image = BuildElf(at, {TestSegment{PT_LOAD, PF_R | PF_X, at, at, kExitCode, 0x1000}});
  } else {
    std::fprintf(stderr, "%s: unknown kind %s\n", argv[0], argv[1]);
    return 2;
  }
  FILE* f = std::fopen(argv[2], "wb");
  if (!f || std::fwrite(image.data(), 1, image.size(), f) != image.size() || std::fclose(f) != 0) {
    std::perror(argv[2]);
    return 1;
  }
  return 0;
}
