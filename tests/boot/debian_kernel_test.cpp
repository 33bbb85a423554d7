// The stock Debian 12 kernel that scripts/build-guest-image.sh puts in
// build/guest/ (ctest builds it first: these tests require the guest_image
// fixture, the guest-image target). Skipped, saying so, only when it is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "frontend/elf_loader.h"
#include "frontend/linux_boot.h"
#include "mmu/guest_ram.h"

namespace xlat {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
const std::string kGuestDir = XLAT_GUEST_DIR;

// Reads build/guest/NAME, or skips the test when the image was not built.
#define READ_GUEST_FILE_OR_SKIP(name, out)                                                                 \
  do {                                                                                                     \
    const std::string path = kGuestDir + "/" + (name);                                                     \
    if (!std::filesystem::exists(path))                                                                    \
      GTEST_SKIP() << path << " is absent: build it with `cmake --build build --target guest-image` "      \
                   << "(scripts/build-guest-image.sh); ctest does so through the boot.guest_image test";   \
    std::string error;                                                                                     \
    ASSERT_TRUE(ReadFileBounded(path, 256 * kMiB, &(out), &error)) << path << ": " << error;               \
  } while (0)

TEST(DebianKernel, SetupHeader) {
  std::vector<uint8_t> file;
  READ_GUEST_FILE_OR_SKIP("vmlinuz", file);
  EXPECT_TRUE(LooksLikeBzImage(file));
  BzImage img;
  std::string error;
  ASSERT_TRUE(ParseBzImage(file, &img, &error)) << error;
  EXPECT_GE(img.version, 0x020f);  // 6.1: protocol 2.15
  EXPECT_TRUE(img.xloadflags & kXlfKernel64);
  EXPECT_TRUE(img.xloadflags & kXlfCanBeLoadedAbove4G);
  EXPECT_TRUE(img.relocatable);
  EXPECT_EQ(img.kernel_alignment, 2 * kMiB);
  EXPECT_EQ(img.pref_address, 16 * kMiB);
  EXPECT_GE(img.init_size, img.syssize_bytes);
  EXPECT_GE(img.cmdline_size, 2047u);
  EXPECT_EQ(img.initrd_addr_max, 0x7fffffffu);
  std::ifstream release_file(kGuestDir + "/kernel-release");
  std::string release;
  std::getline(release_file, release);
  ASSERT_FALSE(release.empty());
  EXPECT_EQ(img.kernel_version.rfind(release + " ", 0), 0u) << img.kernel_version;
}

TEST(DebianKernel, LoadsWithTheDefaultInitramfs) {
  std::vector<uint8_t> file, initrd;
  READ_GUEST_FILE_OR_SKIP("vmlinuz", file);
  READ_GUEST_FILE_OR_SKIP("initrd.gz", initrd);
  std::string error;
  auto ram = GuestRam::Create(512 * kMiB, &error);
  ASSERT_TRUE(ram) << error;
  LinuxBootConfig config;
  config.cmdline = "console=ttyS0";
  config.initrd = initrd;
  config.load_limit = 512 * kMiB - 2 * kMiB;
  config.reserved = {{512 * kMiB - 2 * kMiB, 2 * kMiB, E820Type::kReserved}};
  config.acpi_rsdp = 0xf0000;
  LinuxBootInfo info;
  ASSERT_TRUE(LoadLinux(*ram, file, config, &info, &error)) << error;
  EXPECT_EQ(info.kernel_base, 16 * kMiB);
  EXPECT_EQ(info.entry_rip, 16 * kMiB + 0x200);
  // startup_64 begins with cld; cli.
  EXPECT_EQ(ram->base()[info.entry_rip], 0xfc);
  EXPECT_EQ(ram->base()[info.entry_rip + 1], 0xfa);
  // The initrd: at the top of what the board leaves, a gzip stream.
  EXPECT_EQ(info.initrd_base, (510 * kMiB - initrd.size()) & ~0xfffull);
  EXPECT_EQ(ram->base()[info.initrd_base], 0x1f);
  EXPECT_EQ(ram->base()[info.initrd_base + 1], 0x8b);
  EXPECT_GE(info.initrd_base, info.kernel_end);
  EXPECT_EQ(info.e820.back().base, 510 * kMiB);
}

}  // namespace
}  // namespace xlat
