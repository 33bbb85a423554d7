// The setup header: a valid bzImage parses as it says; every kind of
// corruption gives its own one-line error; no input crashes the parser.
#include <gtest/gtest.h>

#include <random>

#include "frontend/linux_boot.h"
#include "tests/boot/bzimage_builder.h"

namespace xlat {
namespace {

using test::BuildBzImage;
using test::FakeKernel;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED2(Contains, haystack, needle)

// Parses `file`; expects failure and returns the error, checked to be one line.
std::string ParseError(const std::vector<uint8_t>& file) {
  BzImage image;
  std::string error;
  EXPECT_FALSE(ParseBzImage(file, &image, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

std::string ParseError(const FakeKernel& k) { return ParseError(BuildBzImage(k)); }

TEST(BzImageParse, ValidHeader) {
  FakeKernel k;
  k.tail_bytes = 0x7c0;  // a signature after the kernel: loaded, not counted by syssize
  std::vector<uint8_t> file = BuildBzImage(k);
  EXPECT_TRUE(LooksLikeBzImage(file));
  BzImage img;
  std::string error;
  ASSERT_TRUE(ParseBzImage(file, &img, &error)) << error;
  EXPECT_EQ(img.version, 0x020f);
  EXPECT_EQ(img.setup_bytes, 5u * 512);
  EXPECT_EQ(img.header_end, 0x26cu);
  EXPECT_EQ(img.syssize_bytes, 64u * 1024);
  EXPECT_EQ(img.kernel_file_bytes, 64u * 1024 + 0x7c0);
  EXPECT_EQ(img.loadflags, kLoadedHigh);
  EXPECT_EQ(img.xloadflags, kXlfKernel64 | kXlfCanBeLoadedAbove4G);
  EXPECT_TRUE(img.relocatable);
  EXPECT_EQ(img.kernel_alignment, 2u << 20);
  EXPECT_EQ(img.pref_address, 16u << 20);
  EXPECT_EQ(img.init_size, 1u << 20);
  EXPECT_EQ(img.cmdline_size, 2047u);
  EXPECT_EQ(img.initrd_addr_max, 0x7fffffffu);
  EXPECT_EQ(img.kernel_version, "6.1.0-test (xlat@tests) #1 SMP");
}

TEST(BzImageParse, SetupSectsZeroMeansFour) {
  FakeKernel k;
  k.setup_sects = 0;
  BzImage img;
  std::string error;
  ASSERT_TRUE(ParseBzImage(BuildBzImage(k), &img, &error)) << error;
  EXPECT_EQ(img.setup_bytes, 5u * 512);
}

TEST(BzImageParse, OldestProtocolWithA64BitEntry) {
  FakeKernel k;
  k.version = 0x020c;
  k.header_len = 0x66;  // 2.12's header ends at 0x268
  BzImage img;
  std::string error;
  ASSERT_TRUE(ParseBzImage(BuildBzImage(k), &img, &error)) << error;
  EXPECT_EQ(img.header_end, 0x268u);
}

TEST(BzImageParse, LooksLikeBzImage) {
  EXPECT_TRUE(LooksLikeBzImage(BuildBzImage()));
  EXPECT_FALSE(LooksLikeBzImage({}));
  std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  elf.resize(4096);
  EXPECT_FALSE(LooksLikeBzImage(elf));
  std::vector<uint8_t> file = BuildBzImage();
  EXPECT_FALSE(LooksLikeBzImage(std::span(file).first(0x205)));
  // The "HdrS" signature alone makes a bzImage; a broken boot flag is then
  // ParseBzImage's to report, by name.
  file[0x1fe] = 0;
  EXPECT_TRUE(LooksLikeBzImage(file));
  BzImage img;
  std::string error;
  EXPECT_FALSE(ParseBzImage(file, &img, &error));
  EXPECT_NE(error.find("boot flag"), std::string::npos) << error;
}

// ---- Every kind of corruption, its own error ----

TEST(BzImageParse, EmptyAndShortFiles) {
  EXPECT_CONTAINS(ParseError(std::vector<uint8_t>{}), "shorter than a boot sector");
  std::vector<uint8_t> file = BuildBzImage();
  file.resize(0x100);
  EXPECT_CONTAINS(ParseError(file), "not a Linux bzImage: 256 bytes is shorter");
}

TEST(BzImageParse, ElfFile) {
  std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  elf.resize(4096);
  EXPECT_CONTAINS(ParseError(elf), "it is an ELF file");
}

TEST(BzImageParse, NoHdrSMagic) {
  std::vector<uint8_t> file = BuildBzImage();
  file[0x203] = 'x';
  EXPECT_CONTAINS(ParseError(file), "no \"HdrS\"");
}

TEST(BzImageParse, BadBootFlag) {
  std::vector<uint8_t> file = BuildBzImage();
  file[0x1ff] = 0x00;
  EXPECT_CONTAINS(ParseError(file), "boot flag at 0x1fe is 0x55, not 0xaa55");
}

TEST(BzImageParse, TruncatedInsideTheHeader) {
  std::vector<uint8_t> file = BuildBzImage();
  file.resize(0x207);
  EXPECT_CONTAINS(ParseError(file), "truncated: the file ends inside the setup header");
}

TEST(BzImageParse, ProtocolTooOld) {
  FakeKernel k;
  k.version = 0x020b;
  EXPECT_CONTAINS(ParseError(k), "boot protocol 2.11 is too old: the 64-bit entry needs 2.12");
  k.version = 0x0204;
  EXPECT_CONTAINS(ParseError(k), "boot protocol 2.04 is too old");
}

TEST(BzImageParse, HeaderTooShortForItsProtocol) {
  FakeKernel k;
  k.header_len = 0x50;
  EXPECT_CONTAINS(ParseError(k), "corrupt setup header: it ends at 0x252");
}

TEST(BzImageParse, SetupCodeTruncated) {
  FakeKernel k;
  k.setup_sects = 200;
  k.kernel_bytes = 16;
  std::vector<uint8_t> file = BuildBzImage(k);
  file.resize(150 * 512);
  EXPECT_CONTAINS(ParseError(file), "truncated: the setup code is 200 sectors (setup_sects)");
}

TEST(BzImageParse, ZImage) {
  FakeKernel k;
  k.loadflags = 0;
  EXPECT_CONTAINS(ParseError(k), "a zImage (loadflags lacks LOADED_HIGH)");
}

TEST(BzImageParse, No64BitEntry) {
  FakeKernel k;
  k.xloadflags = 0x2;
  EXPECT_CONTAINS(ParseError(k), "no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)");
}

TEST(BzImageParse, SyssizeZero) {
  FakeKernel k;
  k.kernel_bytes = 0;
  k.tail_bytes = 64;
  EXPECT_CONTAINS(ParseError(k), "syssize is 0");
}

TEST(BzImageParse, KernelTruncated) {
  std::vector<uint8_t> file = BuildBzImage();
  file.resize(file.size() - 1);
  EXPECT_CONTAINS(ParseError(file),
                  "truncated: the kernel after the setup code is 64 KiB (syssize) but the file holds 65535 bytes");
}

TEST(BzImageParse, BadKernelAlignment) {
  FakeKernel k;
  k.kernel_alignment = 0x300000;
  EXPECT_CONTAINS(ParseError(k), "kernel_alignment 0x300000 is not a power of two");
  k.kernel_alignment = 0;
  EXPECT_CONTAINS(ParseError(k), "kernel_alignment 0x0 is not a power of two");
  k.relocatable = 0;  // a kernel that is not relocatable has no alignment to respect
  BzImage img;
  std::string error;
  EXPECT_TRUE(ParseBzImage(BuildBzImage(k), &img, &error)) << error;
}

TEST(BzImageParse, BadPrefAddress) {
  FakeKernel k;
  k.pref_address = 0x1000123;
  EXPECT_CONTAINS(ParseError(k), "pref_address 0x1000123 is not a page-aligned");
  k.pref_address = 0x1000;
  EXPECT_CONTAINS(ParseError(k), "pref_address 0x1000 is not");
  k.pref_address = 1ull << 60;
  EXPECT_CONTAINS(ParseError(k), "pref_address 0x1000000000000000 is not");
}

TEST(BzImageParse, InitSizeSmallerThanKernel) {
  FakeKernel k;
  k.init_size = 4096;
  EXPECT_CONTAINS(ParseError(k), "init_size (4 KiB) is smaller than the kernel (64 KiB, syssize)");
}

TEST(BzImageParse, KernelVersionStringIsBounded) {
  FakeKernel k;
  k.kernel_version = std::string(1000, 'v');  // past the setup code: not read
  k.setup_sects = 2;
  BzImage img;
  std::string error;
  ASSERT_TRUE(ParseBzImage(BuildBzImage(k), &img, &error)) << error;
  EXPECT_LE(img.kernel_version.size(), 256u);
}

// ---- Command-line limits ----

TEST(BzImageParse, CommandLineLimits) {
  BzImage img;
  std::string error;
  ASSERT_TRUE(ParseBzImage(BuildBzImage(), &img, &error)) << error;
  EXPECT_TRUE(CheckCommandLine(img, "", &error));
  EXPECT_TRUE(CheckCommandLine(img, std::string(2047, 'a'), &error)) << error;
  EXPECT_FALSE(CheckCommandLine(img, std::string(2048, 'a'), &error));
  EXPECT_EQ(error, "the command line is 2048 bytes long; this kernel takes at most 2047 bytes (cmdline_size)");
  EXPECT_FALSE(CheckCommandLine(img, std::string("console=ttyS0\0x", 15), &error));
  EXPECT_EQ(error, "the command line holds a NUL byte");
  img.cmdline_size = UINT32_MAX;  // the loader's own room is the limit then
  EXPECT_TRUE(CheckCommandLine(img, std::string(kCmdlineRoom - 1, 'a'), &error)) << error;
  EXPECT_FALSE(CheckCommandLine(img, std::string(kCmdlineRoom, 'a'), &error));
  EXPECT_CONTAINS(error, "the loader has room for");
}

// ---- No input crashes it ----

TEST(BzImageParse, EveryTruncationFailsCleanly) {
  FakeKernel k;
  k.kernel_bytes = 256;
  std::vector<uint8_t> file = BuildBzImage(k);
  for (size_t n = 0; n < file.size(); ++n) {
    BzImage img;
    std::string error;
    ASSERT_FALSE(ParseBzImage(std::span(file).first(n), &img, &error)) << n;
    ASSERT_FALSE(error.empty());
    ASSERT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST(BzImageParse, RandomCorruptionNeverCrashes) {
  std::mt19937_64 rng(12345);
  const std::vector<uint8_t> good = BuildBzImage();
  size_t parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> file = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) file[0x1f0 + rng() % 0x80] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) file.resize(rng() % file.size());
    BzImage img;
    std::string error;
    if (ParseBzImage(file, &img, &error)) {
      ++parsed;
      ASSERT_LE(img.setup_bytes + img.syssize_bytes, file.size());
      ASSERT_GE(img.init_size, img.syssize_bytes);
    } else {
      ASSERT_FALSE(error.empty());
      ASSERT_EQ(error.find('\n'), std::string::npos) << error;
    }
  }
  EXPECT_GT(parsed, 0u);
}

}  // namespace
}  // namespace xlat
