// LoadLinux: where the kernel, initrd and command line go, the zero page's
// fields, the e820 map, the GDT and page tables of the 64-bit entry; a load
// that cannot succeed says why and leaves RAM untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>

#include "frontend/linux_boot.h"
#include "mmu/guest_ram.h"
#include "mmu/page_table_builder.h"
#include "tests/boot/bzimage_builder.h"

namespace xlat {
namespace {

using test::BuildBzImage;
using test::FakeKernel;
using test::KernelByte;

constexpr uint64_t kMiB = 1ull << 20;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED2(Contains, haystack, needle)

std::unique_ptr<GuestRam> MakeRam(uint64_t bytes) {
  std::string error;
  auto ram = GuestRam::Create(bytes, &error);
  EXPECT_TRUE(ram) << error;
  return ram;
}

uint64_t Read(const GuestRam& ram, uint64_t pa, unsigned bytes) {
  const uint8_t* p = ram.HostPtr(GuestPhysAddr(pa), bytes);
  EXPECT_NE(p, nullptr) << pa;
  uint64_t v = 0;
  for (unsigned i = 0; p && i < bytes; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 13 + seed);
  return v;
}

// Loads; expects failure with a one-line error and RAM still all zero.
std::string LoadError(GuestRam& ram, const std::vector<uint8_t>& file, const LinuxBootConfig& config) {
  LinuxBootInfo info;
  std::string error;
  EXPECT_FALSE(LoadLinux(ram, file, config, &info, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  for (uint64_t off = 0; off < ram.size(); off += 4096) {
    const uint8_t* p = ram.base() + off;
    if (std::any_of(p, p + 4096, [](uint8_t b) { return b != 0; })) {
      ADD_FAILURE() << "a failed load wrote guest RAM at " << std::hex << off;
      break;
    }
  }
  return error;
}

// ---- The zero page and the entry state ----

TEST(LinuxLoad, ZeroPageFields) {
  auto ram = MakeRam(64 * kMiB);
  std::vector<uint8_t> file = BuildBzImage();
  std::vector<uint8_t> initrd = Bytes(100000, 5);
  LinuxBootConfig config;
  config.cmdline = "console=ttyS0 quiet";
  config.initrd = initrd;
  config.acpi_rsdp = 0xf5a30;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, file, config, &info, &error)) << error;
  const GuestRam& r = *ram;
  const uint64_t bp = info.boot_params;
  EXPECT_EQ(bp, kBootParamsAddr);
  // The setup header, copied from the file from 0x1f1 to its end (0x26c).
  EXPECT_EQ(Read(r, bp + 0x1fe, 2), 0xaa55u);
  EXPECT_EQ(Read(r, bp + 0x202, 4), 0x53726448u);  // "HdrS"
  EXPECT_EQ(Read(r, bp + 0x206, 2), 0x020fu);
  EXPECT_EQ(Read(r, bp + 0x1f4, 4), 64u * 1024 / 16);
  EXPECT_EQ(Read(r, bp + 0x260, 4), 1u * kMiB);
  EXPECT_EQ(Read(r, bp + 0x1ef, 1), 0u);  // sentinel: not copied, so Linux trusts the zero page
  EXPECT_EQ(Read(r, bp + 0x26c, 4), 0u);  // nothing past the header
  // The loader's fields.
  EXPECT_EQ(Read(r, bp + 0x210, 1), 0xffu);                      // type_of_loader
  EXPECT_EQ(Read(r, bp + 0x211, 1), uint64_t{kLoadedHigh | kCanUseHeap});  // loadflags
  EXPECT_EQ(Read(r, bp + 0x224, 2), 0xfe00u - 0x200);            // heap_end_ptr
  EXPECT_EQ(Read(r, bp + 0x228, 4), kBootCmdlineAddr);           // cmd_line_ptr
  EXPECT_EQ(Read(r, bp + 0x0c8, 4), 0u);                         // ext_cmd_line_ptr
  EXPECT_EQ(Read(r, bp + 0x218, 4), info.initrd_base);           // ramdisk_image
  EXPECT_EQ(Read(r, bp + 0x21c, 4), initrd.size());              // ramdisk_size
  EXPECT_EQ(Read(r, bp + 0x0c0, 4), 0u);                         // ext_ramdisk_image
  EXPECT_EQ(Read(r, bp + 0x0c4, 4), 0u);                         // ext_ramdisk_size
  EXPECT_EQ(Read(r, bp + 0x070, 8), 0xf5a30u);                   // acpi_rsdp_addr
  EXPECT_EQ(Read(r, bp + 0x23c, 4), 0u);                         // hardware_subarch: PC
  EXPECT_EQ(Read(r, bp + 0x250, 8), 0u);                         // setup_data: none
  // The command line, NUL-terminated.
  EXPECT_EQ(info.cmdline_addr, kBootCmdlineAddr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ram->base() + kBootCmdlineAddr)), "console=ttyS0 quiet");
  // BIOS data area: EBDA at 0x9fc00, 639 KiB of base memory.
  EXPECT_EQ(Read(r, 0x40e, 2), 0x9fc0u);
  EXPECT_EQ(Read(r, 0x413, 2), 639u);
}

TEST(LinuxLoad, EntryStateKernelAndTables) {
  auto ram = MakeRam(64 * kMiB);
  FakeKernel k;
  k.tail_bytes = 100;  // loaded too
  std::vector<uint8_t> file = BuildBzImage(k);
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, file, {}, &info, &error)) << error;
  EXPECT_EQ(info.kernel_base, 16 * kMiB);
  EXPECT_EQ(info.kernel_end, 17 * kMiB);  // init_size
  EXPECT_EQ(info.entry_rip, 16 * kMiB + 0x200);
  EXPECT_EQ(info.stack_top, kBootStackTop);
  for (uint64_t i = 0; i < k.kernel_bytes + k.tail_bytes; ++i)
    ASSERT_EQ(ram->base()[info.kernel_base + i], KernelByte(i)) << i;
  // GDT: __BOOT_CS = 0x10 64-bit code, __BOOT_DS = 0x18 flat data.
  EXPECT_EQ(info.gdt_base, kBootGdtAddr);
  EXPECT_EQ(info.gdt_limit, 31);
  EXPECT_EQ(Read(*ram, info.gdt_base + 0x10, 8), 0x00af9b000000ffffu);
  EXPECT_EQ(Read(*ram, info.gdt_base + 0x18, 8), 0x00cf93000000ffffu);
  // Page tables: 0-4 GiB identity-mapped with writable 2 MiB pages.
  EXPECT_EQ(info.cr3, kBootPageTablesAddr);
  const uint64_t pml4e = Read(*ram, info.cr3, 8);
  ASSERT_TRUE(pml4e & kPtePresent);
  for (uint64_t gib = 0; gib < 4; ++gib) {
    const uint64_t pdpte = Read(*ram, (pml4e & ~0xfffull) + 8 * gib, 8);
    ASSERT_TRUE(pdpte & kPtePresent) << gib;
    ASSERT_FALSE(pdpte & kPteLarge);
    for (uint64_t j = 0; j < 512; ++j) {
      const uint64_t pde = Read(*ram, (pdpte & ~0xfffull) + 8 * j, 8);
      ASSERT_EQ(pde & ~0xfffull, (gib << 30) + (j << 21));
      ASSERT_EQ(pde & 0xfff, kPtePresent | kPteWrite | kPteLarge | kPteAccessed | kPteDirty);
    }
  }
  EXPECT_EQ(Read(*ram, (pml4e & ~0xfffull) + 8 * 4, 8), 0u);
  EXPECT_EQ(Read(*ram, info.cr3 + 8, 8), 0u);
  // Everything the loader wrote is mapped: the tables end below the command line.
  EXPECT_LE(kBootPageTablesAddr + PageTableBuilder::IdentityTableBytes(4ull << 30), kBootCmdlineAddr);
  // No initrd: the fields say so.
  EXPECT_EQ(info.initrd_size, 0u);
  EXPECT_EQ(Read(*ram, info.boot_params + 0x218, 4), 0u);
  EXPECT_EQ(Read(*ram, info.boot_params + 0x21c, 4), 0u);
  EXPECT_EQ(Read(*ram, info.boot_params + 0x070, 8), 0u);  // no RSDP given
  EXPECT_EQ(Read(*ram, kBootCmdlineAddr, 1), 0u);          // an empty command line
}

TEST(LinuxLoad, RsdpOnlyFromProtocol214) {
  auto ram = MakeRam(64 * kMiB);
  FakeKernel k;
  k.version = 0x020d;
  LinuxBootConfig config;
  config.acpi_rsdp = 0xf0000;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(k), config, &info, &error)) << error;
  EXPECT_EQ(Read(*ram, info.boot_params + 0x070, 8), 0u);
}

// ---- The e820 map ----

std::vector<E820Entry> ZeroPageE820(const GuestRam& ram, const LinuxBootInfo& info) {
  std::vector<E820Entry> map(Read(ram, info.boot_params + 0x1e8, 1));
  for (size_t i = 0; i < map.size(); ++i) {
    const uint64_t e = info.boot_params + 0x2d0 + 20 * i;
    map[i] = {Read(ram, e, 8), Read(ram, e + 8, 8), static_cast<E820Type>(Read(ram, e + 16, 4))};
  }
  return map;
}

TEST(LinuxLoad, DefaultE820) {
  auto ram = MakeRam(512 * kMiB);
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(), {}, &info, &error)) << error;
  const std::vector<E820Entry> expected = {
      {0, 0x9fc00, E820Type::kRam},
      {0x9fc00, 0x400, E820Type::kReserved},
      {0xf0000, 0x10000, E820Type::kReserved},
      {0x100000, 512 * kMiB - 0x100000, E820Type::kRam},
  };
  EXPECT_EQ(info.e820, expected);
  EXPECT_EQ(ZeroPageE820(*ram, info), expected);
}

TEST(LinuxLoad, E820WithBoardRegions) {
  auto ram = MakeRam(512 * kMiB);
  LinuxBootConfig config;
  // ACPI tables at the top of RAM, the board's own page below them, the
  // IOAPIC and LAPIC windows, and a second region inside the BIOS area.
  config.reserved = {{512 * kMiB - 0x20000, 0x20000, E820Type::kAcpi},
                     {512 * kMiB - 0x21000, 0x1000, E820Type::kReserved},
                     {0xfec00000, 0x1000, E820Type::kReserved},
                     {0xfee00000, 0x1000, E820Type::kReserved},
                     {0xf5000, 0x1000, E820Type::kAcpi}};
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(), config, &info, &error)) << error;
  const std::vector<E820Entry> expected = {
      {0, 0x9fc00, E820Type::kRam},
      {0x9fc00, 0x400, E820Type::kReserved},
      {0xf0000, 0x5000, E820Type::kReserved},
      {0xf5000, 0x1000, E820Type::kAcpi},
      {0xf6000, 0xa000, E820Type::kReserved},
      {0x100000, 512 * kMiB - 0x21000 - 0x100000, E820Type::kRam},
      {512 * kMiB - 0x21000, 0x1000, E820Type::kReserved},
      {512 * kMiB - 0x20000, 0x20000, E820Type::kAcpi},
      {0xfec00000, 0x1000, E820Type::kReserved},
      {0xfee00000, 0x1000, E820Type::kReserved},
  };
  EXPECT_EQ(info.e820, expected);
  EXPECT_EQ(ZeroPageE820(*ram, info), expected);
}

TEST(LinuxLoad, E820Errors) {
  std::vector<E820Entry> map;
  std::string error;
  const E820Entry empty[] = {{0x1000, 0, E820Type::kReserved}};
  EXPECT_FALSE(BuildE820(64 * kMiB, empty, &map, &error));
  EXPECT_CONTAINS(error, "empty or wraps around");
  const E820Entry wraps[] = {{~0ull - 10, 100, E820Type::kReserved}};
  EXPECT_FALSE(BuildE820(64 * kMiB, wraps, &map, &error));
  EXPECT_CONTAINS(error, "empty or wraps around");
  const E820Entry ram_typed[] = {{0x1000000, 0x1000, E820Type::kRam}};
  EXPECT_FALSE(BuildE820(64 * kMiB, ram_typed, &map, &error));
  EXPECT_CONTAINS(error, "has e820 type 1, which is not a reserved type");
  std::vector<E820Entry> many;
  for (uint64_t i = 0; i < 70; ++i) many.push_back({0x1000000 + i * 0x2000, 0x1000, E820Type::kReserved});
  EXPECT_FALSE(BuildE820(512 * kMiB, many, &map, &error));
  EXPECT_EQ(error, "the memory map has 144 regions; boot_params holds at most 128");
}

TEST(LinuxLoad, ReservedRegionOverBootData) {
  auto ram = MakeRam(64 * kMiB);
  LinuxBootConfig config;
  config.reserved = {{0x7000, 0x1000, E820Type::kReserved}};
  EXPECT_CONTAINS(LoadError(*ram, BuildBzImage(), config), "overlaps the loader's boot data at [0x0, 0x80000)");
}

// ---- Where the kernel goes ----

TEST(LinuxLoad, RelocatedWhenPrefAddressIsTaken) {
  auto ram = MakeRam(64 * kMiB);
  LinuxBootConfig config;
  config.reserved = {{16 * kMiB + 0x5000, 0x1000, E820Type::kReserved}};
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(), config, &info, &error)) << error;
  EXPECT_EQ(info.kernel_base, 18 * kMiB);  // the next 2 MiB boundary after the region
  EXPECT_EQ(info.entry_rip, 18 * kMiB + 0x200);
}

TEST(LinuxLoad, NotRelocatableAndPrefAddressTaken) {
  auto ram = MakeRam(64 * kMiB);
  FakeKernel k;
  k.relocatable = 0;
  LinuxBootConfig config;
  config.reserved = {{16 * kMiB + 0x5000, 0x1000, E820Type::kReserved}};
  EXPECT_CONTAINS(LoadError(*ram, BuildBzImage(k), config),
                  "the kernel does not fit in RAM: it is not relocatable and needs [0x1000000, 0x1100000)");
}

TEST(LinuxLoad, KernelDoesNotFitInRam) {
  auto ram = MakeRam(16 * kMiB + 512 * 1024);
  EXPECT_CONTAINS(LoadError(*ram, BuildBzImage(), {}),
                  "the kernel does not fit in RAM: it needs 1 MiB (init_size) of free RAM from 0x1000000");
  auto small = MakeRam(512 * 1024);
  EXPECT_CONTAINS(LoadError(*small, BuildBzImage(), {}), "guest RAM (512 KiB) is too small for Linux");
  // The board's top region counts too.
  auto ram2 = MakeRam(32 * kMiB);
  LinuxBootConfig config;
  config.load_limit = 16 * kMiB + 0x80000;
  EXPECT_CONTAINS(LoadError(*ram2, BuildBzImage(), config), "below 0x1080000");
}

TEST(LinuxLoad, EverythingStaysInTheIdentityMapBelow4GiB) {
  auto ram = MakeRam(6ull << 30);
  std::vector<uint8_t> initrd = Bytes(4096, 4);
  LinuxBootConfig config;
  config.initrd = initrd;
  FakeKernel k;
  k.initrd_addr_max = 0xffffffff;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(k), config, &info, &error)) << error;
  EXPECT_EQ(info.initrd_base, (4ull << 30) - 4096);
  EXPECT_EQ(info.e820.back(), (E820Entry{kMiB, (6ull << 30) - kMiB, E820Type::kRam}));
  // With no room below 4 GiB, the kernel is not put above it.
  auto ram2 = MakeRam(6ull << 30);
  config.reserved = {{16 * kMiB, (4ull << 30) - 16 * kMiB, E820Type::kReserved}};
  EXPECT_FALSE(LoadLinux(*ram2, BuildBzImage(k), config, &info, &error));
  EXPECT_CONTAINS(error, "below 0x100000000");
}

// ---- Where the initrd goes ----

TEST(LinuxLoad, InitrdAtTheTopOfRam) {
  auto ram = MakeRam(64 * kMiB);
  std::vector<uint8_t> initrd = Bytes(3 * kMiB + 123, 9);
  LinuxBootConfig config;
  config.initrd = initrd;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(), config, &info, &error)) << error;
  EXPECT_EQ(info.initrd_base, (64 * kMiB - initrd.size()) & ~0xfffull);
  EXPECT_EQ(info.initrd_size, initrd.size());
  EXPECT_TRUE(std::equal(initrd.begin(), initrd.end(), ram->base() + info.initrd_base));
}

TEST(LinuxLoad, InitrdBelowTheBoardsRegionAndReservedRegions) {
  auto ram = MakeRam(64 * kMiB);
  std::vector<uint8_t> initrd = Bytes(2 * kMiB, 1);
  LinuxBootConfig config;
  config.initrd = initrd;
  config.load_limit = 60 * kMiB;                                           // the board's top region
  config.reserved = {{59 * kMiB, kMiB, E820Type::kAcpi}};                  // ACPI tables below it
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(), config, &info, &error)) << error;
  EXPECT_EQ(info.initrd_base, 57 * kMiB);
}

TEST(LinuxLoad, InitrdBelowInitrdAddrMax) {
  auto ram = MakeRam(128 * kMiB);
  FakeKernel k;
  k.initrd_addr_max = 48 * kMiB - 1;
  std::vector<uint8_t> initrd = Bytes(5000, 2);
  LinuxBootConfig config;
  config.initrd = initrd;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(k), config, &info, &error)) << error;
  EXPECT_EQ(info.initrd_base, 48 * kMiB - 8192);
}

TEST(LinuxLoad, InitrdBesideTheKernel) {
  // Free RAM above the kernel is too small: the initrd goes below it.
  auto ram = MakeRam(18 * kMiB);
  std::vector<uint8_t> initrd = Bytes(4 * kMiB, 3);
  LinuxBootConfig config;
  config.initrd = initrd;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(), config, &info, &error)) << error;
  EXPECT_EQ(info.kernel_base, 16 * kMiB);
  EXPECT_EQ(info.initrd_base, 12 * kMiB);
}

TEST(LinuxLoad, InitrdTooLarge) {
  auto ram = MakeRam(64 * kMiB);
  std::vector<uint8_t> initrd(48 * kMiB);
  LinuxBootConfig config;
  config.initrd = initrd;
  EXPECT_EQ(LoadError(*ram, BuildBzImage(), config),
            "the initrd (48 MiB) does not fit in RAM: the largest free block below 0x4000000 (initrd_addr_max, "
            "end of guest RAM or of what the board leaves) beside the kernel is 47 MiB");
}

// ---- Command line ----

TEST(LinuxLoad, CommandLineLimits) {
  auto ram = MakeRam(64 * kMiB);
  FakeKernel k;
  k.cmdline_size = 255;
  std::string line(255, 'x');
  LinuxBootConfig config;
  config.cmdline = line;
  LinuxBootInfo info;
  std::string error;
  ASSERT_TRUE(LoadLinux(*ram, BuildBzImage(k), config, &info, &error)) << error;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ram->base() + info.cmdline_addr)), line);
  auto ram2 = MakeRam(64 * kMiB);
  line += 'y';
  config.cmdline = line;
  EXPECT_EQ(LoadError(*ram2, BuildBzImage(k), config),
            "the command line is 256 bytes long; this kernel takes at most 255 bytes (cmdline_size)");
}

// ---- No input crashes it ----

TEST(LinuxLoad, RandomHeadersNeverCrash) {
  auto ram = MakeRam(40 * kMiB);
  std::mt19937_64 rng(777);
  const std::vector<uint8_t> good = BuildBzImage();
  std::vector<uint8_t> initrd(kMiB);
  size_t loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> file = good;
    for (int i = 0; i < 3; ++i) {
      // Mostly the fields that decide placement: alignment, pref_address, init_size, initrd_addr_max.
      static constexpr uint64_t kFields[] = {0x22c, 0x22e, 0x230, 0x232, 0x234, 0x258,
                                             0x25a, 0x25c, 0x260, 0x262, 0x1f1};
      file[kFields[rng() % std::size(kFields)]] = static_cast<uint8_t>(rng());
    }
    LinuxBootConfig config;
    config.initrd = std::span(initrd).first(rng() % initrd.size());
    LinuxBootInfo info;
    std::string error;
    if (LoadLinux(*ram, file, config, &info, &error)) {
      ++loaded;
      ASSERT_LE(info.kernel_end, ram->size());
      ASSERT_LE(info.initrd_base + info.initrd_size, ram->size());
      ASSERT_TRUE(info.initrd_size == 0 || info.initrd_base >= info.kernel_end ||
                  info.initrd_base + info.initrd_size <= info.kernel_base);
    } else {
      ASSERT_FALSE(error.empty());
      ASSERT_EQ(error.find('\n'), std::string::npos) << error;
    }
  }
  EXPECT_GT(loaded, 0u);
}

}  // namespace
}  // namespace xlat
