// The ACPI tables: found where Linux looks, checksummed, pointing at each
// other, with the fields the kernel reads; and the DSDT's AML, walked here
// and (when iasl from acpica-tools is installed) compared with iasl's own
// compilation of the ASL and disassembled by it.
#include "devices/acpi_tables.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mmu/guest_ram.h"

namespace xlat {
namespace {

class AcpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ram = GuestRam::Create(4ull << 20, &error);
    ASSERT_TRUE(ram) << error;
  }
  const uint8_t* At(uint64_t pa) { return ram->base() + pa; }
  uint8_t U8(uint64_t pa) { return *At(pa); }
  uint16_t U16(uint64_t pa) { return static_cast<uint16_t>(U8(pa) | U8(pa + 1) << 8); }
  uint32_t U32(uint64_t pa) { return U16(pa) | static_cast<uint32_t>(U16(pa + 2)) << 16; }
  uint64_t U64(uint64_t pa) { return U32(pa) | static_cast<uint64_t>(U32(pa + 4)) << 32; }
  std::string Str(uint64_t pa, size_t n) { return std::string(reinterpret_cast<const char*>(At(pa)), n); }
  uint8_t Sum(uint64_t pa, size_t n) {
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++) s = static_cast<uint8_t>(s + U8(pa + i));
    return s;
  }
  // A table with its header checked; returns its length.
  uint32_t CheckTable(uint64_t pa, const char* signature) {
    EXPECT_EQ(Str(pa, 4), signature);
    const uint32_t length = U32(pa + 4);
    EXPECT_GE(length, 36u);
    EXPECT_EQ(Sum(pa, length), 0) << signature << " checksum";
    EXPECT_EQ(Str(pa + 10, 6), "XLAT  ");
    return length;
  }
  AcpiLayout Build(const AcpiConfig& config = {}, uint64_t region = 0xe0000, uint64_t bytes = 0x10000) {
    std::string error;
    auto layout = BuildAcpiTables(*ram, region, bytes, config, &error);
    EXPECT_TRUE(layout) << error;
    return layout.value_or(AcpiLayout{});
  }
  // Linux's acpi_tb_scan_memory_for_rsdp over the BIOS area.
  uint64_t ScanForRsdp() {
    for (uint64_t pa = 0xe0000; pa < 0x100000; pa += 16) {
      if (Str(pa, 8) != "RSD PTR ") continue;
      if (Sum(pa, 20) != 0) continue;
      if (U8(pa + 15) >= 2 && Sum(pa, 36) != 0) continue;
      return pa;
    }
    return 0;
  }

  std::unique_ptr<GuestRam> ram;
};

TEST_F(AcpiTest, RsdpIsFoundWhereLinuxLooks) {
  const AcpiLayout l = Build();
  EXPECT_EQ(ScanForRsdp(), l.rsdp_pa);
  EXPECT_EQ(l.rsdp_pa, 0xe0000u);
  EXPECT_EQ(U8(l.rsdp_pa + 15), 2) << "revision: ACPI 2.0+";
  EXPECT_EQ(U32(l.rsdp_pa + 20), 36u);
  EXPECT_EQ(U32(l.rsdp_pa + 16), l.rsdt_pa);
  EXPECT_EQ(U64(l.rsdp_pa + 24), l.xsdt_pa);
  EXPECT_GE(l.tables_bytes, 36u);
  EXPECT_LE(l.tables_bytes, 0x800u) << "about 1 KiB for one CPU";
}

TEST_F(AcpiTest, RootTablesListFadtAndMadt) {
  const AcpiLayout l = Build();
  const uint32_t xsdt_len = CheckTable(l.xsdt_pa, "XSDT");
  ASSERT_EQ(xsdt_len, 36u + 2 * 8);
  EXPECT_EQ(U64(l.xsdt_pa + 36), l.fadt_pa);
  EXPECT_EQ(U64(l.xsdt_pa + 44), l.madt_pa);
  const uint32_t rsdt_len = CheckTable(l.rsdt_pa, "RSDT");
  ASSERT_EQ(rsdt_len, 36u + 2 * 4);
  EXPECT_EQ(U32(l.rsdt_pa + 36), l.fadt_pa);
  EXPECT_EQ(U32(l.rsdt_pa + 40), l.madt_pa);
  for (uint64_t pa : {l.rsdt_pa, l.xsdt_pa, l.fadt_pa, l.dsdt_pa, l.madt_pa, l.facs_pa}) {
    EXPECT_GE(pa, l.tables_pa);
    EXPECT_LE(pa, l.tables_pa + l.tables_bytes);
  }
}

TEST_F(AcpiTest, Fadt) {
  const AcpiLayout l = Build();
  const uint64_t f = l.fadt_pa;
  EXPECT_EQ(CheckTable(f, "FACP"), 276u);
  EXPECT_EQ(U8(f + 8), 6) << "revision";
  EXPECT_EQ(U32(f + 36), l.facs_pa) << "FIRMWARE_CTRL";
  EXPECT_EQ(U64(f + 132), 0u) << "X_FIRMWARE_CTRL must be 0 when FIRMWARE_CTRL is set";
  EXPECT_EQ(U32(f + 40), l.dsdt_pa);
  EXPECT_EQ(U64(f + 140), l.dsdt_pa) << "X_DSDT";
  EXPECT_EQ(U16(f + 46), 9) << "SCI_INT";
  EXPECT_EQ(U32(f + 48), 0u) << "no SMI_CMD";
  EXPECT_EQ(U32(f + 56), 0xb000u);
  EXPECT_EQ(U32(f + 64), 0xb004u);
  EXPECT_EQ(U32(f + 76), 0xb008u);
  EXPECT_EQ(U32(f + 80), 0u) << "no GPE0 block";
  EXPECT_EQ(U8(f + 88), 4);
  EXPECT_EQ(U8(f + 89), 2);
  EXPECT_EQ(U8(f + 91), 4);
  EXPECT_EQ(U8(f + 108), 0x32) << "century";
  EXPECT_EQ(U16(f + 109), 0x0003) << "IAPC_BOOT_ARCH: legacy devices, 8042";
  const uint32_t flags = U32(f + 112);
  for (unsigned bit : {0u, 2u, 5u, 7u, 8u, 10u}) EXPECT_TRUE(flags & (1u << bit)) << "flag bit " << bit;
  EXPECT_FALSE(flags & (1u << 20)) << "not hardware-reduced";
  EXPECT_FALSE(flags & (1u << 4)) << "the power button is the fixed-feature one";
  // RESET_REG: system I/O, 8 bits, byte access, 0xcf9; RESET_VALUE 6.
  EXPECT_EQ(U8(f + 116), 1);
  EXPECT_EQ(U8(f + 117), 8);
  EXPECT_EQ(U8(f + 119), 1);
  EXPECT_EQ(U64(f + 120), 0xcf9u);
  EXPECT_EQ(U8(f + 128), 6);
  // X_ blocks agree with the legacy ones, bit widths = 8 * length.
  struct {
    unsigned offset;
    uint64_t port;
    uint8_t bits;
  } x[] = {{148, 0xb000, 32}, {172, 0xb004, 16}, {208, 0xb008, 32}};
  for (const auto& g : x) {
    EXPECT_EQ(U8(f + g.offset), 1) << g.offset;
    EXPECT_EQ(U8(f + g.offset + 1), g.bits) << g.offset;
    EXPECT_EQ(U64(f + g.offset + 4), g.port) << g.offset;
  }
}

TEST_F(AcpiTest, Facs) {
  const AcpiLayout l = Build();
  EXPECT_EQ(l.facs_pa % 64, 0u);
  EXPECT_EQ(Str(l.facs_pa, 4), "FACS");
  EXPECT_EQ(U32(l.facs_pa + 4), 64u);
}

TEST_F(AcpiTest, Madt) {
  AcpiConfig config;
  config.num_cpus = 2;
  const AcpiLayout l = Build(config);
  const uint64_t m = l.madt_pa;
  const uint32_t length = CheckTable(m, "APIC");
  EXPECT_EQ(U32(m + 36), 0xfee00000u);
  EXPECT_EQ(U32(m + 40), 1u) << "PCAT_COMPAT";
  std::vector<std::string> seen;
  for (uint64_t e = m + 44; e < m + length;) {
    const uint8_t type = U8(e), len = U8(e + 1);
    ASSERT_GE(len, 2);
    switch (type) {
      case 0:
        EXPECT_EQ(len, 8);
        seen.push_back("lapic uid " + std::to_string(U8(e + 2)) + " id " + std::to_string(U8(e + 3)) + " flags " +
                       std::to_string(U32(e + 4)));
        break;
      case 1:
        EXPECT_EQ(len, 12);
        EXPECT_EQ(U32(e + 4), 0xfec00000u);
        seen.push_back("ioapic id " + std::to_string(U8(e + 2)) + " gsi " + std::to_string(U32(e + 8)));
        break;
      case 2:
        EXPECT_EQ(len, 10);
        seen.push_back("iso bus " + std::to_string(U8(e + 2)) + " irq " + std::to_string(U8(e + 3)) + " gsi " +
                       std::to_string(U32(e + 4)) + " flags " + std::to_string(U16(e + 8)));
        break;
      case 4:
        EXPECT_EQ(len, 6);
        seen.push_back("nmi uid " + std::to_string(U8(e + 2)) + " lint " + std::to_string(U8(e + 5)));
        break;
      default:
        ADD_FAILURE() << "unexpected MADT entry " << int(type);
    }
    e += len;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"lapic uid 0 id 0 flags 1", "lapic uid 1 id 1 flags 1", "ioapic id 0 gsi 0",
                                            "iso bus 0 irq 0 gsi 2 flags 0", "iso bus 0 irq 9 gsi 9 flags 13",
                                            "nmi uid 255 lint 1"}));
}

// ---- The DSDT's AML ----

// Reads a PkgLength at p; returns the length and advances p past its bytes.
size_t PkgLength(const uint8_t*& p) {
  const uint8_t lead = *p++;
  const unsigned follow = lead >> 6;
  if (follow == 0) return lead & 0x3f;
  size_t len = lead & 0x0f;
  for (unsigned i = 0; i < follow; i++) len |= static_cast<size_t>(*p++) << (4 + 8 * i);
  return len;
}

uint64_t Integer(const uint8_t*& p) {
  const uint8_t op = *p++;
  unsigned bytes = 0;
  switch (op) {
    case 0x00:
      return 0;
    case 0x01:
      return 1;
    case 0x0a:
      bytes = 1;
      break;
    case 0x0b:
      bytes = 2;
      break;
    case 0x0c:
      bytes = 4;
      break;
    case 0x0e:
      bytes = 8;
      break;
    default:
      ADD_FAILURE() << "not an integer: " << int(op);
      return ~0ull;
  }
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes; i++) v |= static_cast<uint64_t>(*p++) << (8 * i);
  return v;
}

TEST_F(AcpiTest, DsdtDefinesS5AndThePciRootBridge) {
  const AcpiLayout l = Build();
  const uint32_t length = CheckTable(l.dsdt_pa, "DSDT");
  EXPECT_EQ(U8(l.dsdt_pa + 8), 2) << "revision 2: 64-bit integers";
  const uint8_t* p = At(l.dsdt_pa + 36);
  const uint8_t* const end = At(l.dsdt_pa + length);

  // Name (_S5, Package (0x04) { 5, 5, 0, 0 })
  ASSERT_EQ(*p++, 0x08);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(p), 4), "_S5_");
  p += 4;
  ASSERT_EQ(*p++, 0x12);
  const uint8_t* pkg_start = p;
  const size_t pkg_len = PkgLength(p);
  ASSERT_EQ(*p++, 4) << "elements";
  std::vector<uint64_t> elements;
  for (int i = 0; i < 4; i++) elements.push_back(Integer(p));
  EXPECT_EQ(elements, (std::vector<uint64_t>{kAcpiS5SlpTyp, kAcpiS5SlpTyp, 0, 0}));
  EXPECT_EQ(p, pkg_start + pkg_len) << "the package's PkgLength covers it exactly";

  // Scope (_SB) { Device (PCI0) { _HID, _UID, _CRS } } running to the end.
  ASSERT_EQ(*p++, 0x10);
  const uint8_t* scope_start = p;
  EXPECT_EQ(scope_start + PkgLength(p), end);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(p), 4), "_SB_");
  p += 4;
  ASSERT_EQ(*p++, 0x5b);
  ASSERT_EQ(*p++, 0x82);
  const uint8_t* dev_start = p;
  EXPECT_EQ(dev_start + PkgLength(p), end);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(p), 4), "PCI0");
  p += 4;
  ASSERT_EQ(*p++, 0x08);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(p), 4), "_HID");
  p += 4;
  EXPECT_EQ(Integer(p), 0x030ad041u) << "EisaId (\"PNP0A03\")";
  ASSERT_EQ(*p++, 0x08);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(p), 4), "_UID");
  p += 4;
  EXPECT_EQ(Integer(p), 0u);
  ASSERT_EQ(*p++, 0x08);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(p), 4), "_CRS");
  p += 4;
  ASSERT_EQ(*p++, 0x11);
  const uint8_t* buf_start = p;
  EXPECT_EQ(buf_start + PkgLength(p), end);
  const uint64_t buf_size = Integer(p);
  ASSERT_EQ(p + buf_size, end);
  // Resource descriptors up to the end tag.
  std::vector<uint8_t> kinds;
  while (p < end) {
    const uint8_t tag = *p;
    kinds.push_back(tag);
    if (tag & 0x80) {
      p += 3 + (p[1] | p[2] << 8);
    } else {
      p += 1 + (tag & 7);
    }
  }
  EXPECT_EQ(p, end);
  EXPECT_EQ(kinds, (std::vector<uint8_t>{0x88, 0x47, 0x88, 0x88, 0x87, 0x87, 0x79}));
}

TEST_F(AcpiTest, EisaIdAndPkgLengthEncodings) {
  // A window that is left out shortens the buffer below 64 bytes: the
  // PkgLength of the buffer then takes one byte, the scope's still two.
  AcpiConfig config;
  config.pci_mmio_base = 0;
  config.pci_mmio_limit = 0;
  const std::vector<uint8_t> small = BuildDsdtAml(config);
  const std::vector<uint8_t> full = BuildDsdtAml(AcpiConfig{});
  EXPECT_EQ(full.size() - small.size(), 26u) << "one DWordMemory descriptor";
}

// ---- Against iasl (acpica-tools), when it is installed ----

bool HaveIasl() { return std::system("iasl -v >/dev/null 2>&1") == 0; }

std::string TempDir() {
  char tmpl[] = "/tmp/xlat-acpi-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  return dir ? dir : "";
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

constexpr char kReferenceAsl[] = R"(DefinitionBlock ("", "DSDT", 2, "XLAT  ", "XLATPC  ", 1)
{
    Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xE0000000, 0xFEBFFFFF, 0x00000000, 0x1EC00000)
            })
        }
    }
}
)";

TEST_F(AcpiTest, DsdtAmlIsWhatIaslMakesOfTheAsl) {
  if (!HaveIasl()) GTEST_SKIP() << "iasl (acpica-tools) is not installed";
  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  {
    std::ofstream(dir + "/ref.asl") << kReferenceAsl;
  }
  const std::string cmd = "cd " + dir + " && iasl -p ref ref.asl >iasl.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "iasl failed on the reference ASL";
  std::vector<uint8_t> ref = ReadFile(dir + "/ref.aml");
  ASSERT_GT(ref.size(), 36u);
  ref.erase(ref.begin(), ref.begin() + 36);
  EXPECT_EQ(BuildDsdtAml(AcpiConfig{}), ref);
  std::system(("rm -rf " + dir).c_str());
}

TEST_F(AcpiTest, IaslDisassemblesTheTables) {
  if (!HaveIasl()) GTEST_SKIP() << "iasl (acpica-tools) is not installed";
  const AcpiLayout l = Build();
  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  struct {
    const char* name;
    uint64_t pa;
  } tables[] = {{"dsdt", l.dsdt_pa}, {"facp", l.fadt_pa}, {"apic", l.madt_pa}};
  for (const auto& t : tables) {
    const std::string bin = dir + "/" + t.name + ".dat";
    std::ofstream(bin, std::ios::binary).write(reinterpret_cast<const char*>(At(t.pa)), U32(t.pa + 4));
    const std::string cmd = "cd " + dir + " && iasl -d " + t.name + ".dat >" + t.name + ".log 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << t.name;
    const std::vector<uint8_t> dsl = ReadFile(dir + "/" + t.name + ".dsl");
    const std::string text(dsl.begin(), dsl.end());
    EXPECT_EQ(text.find("Invalid"), std::string::npos) << text;
    EXPECT_EQ(text.find("Incorrect"), std::string::npos) << text;
    if (std::string(t.name) == "dsdt") {
      EXPECT_NE(text.find("Name (_S5, Package (0x04)"), std::string::npos) << text;
      EXPECT_NE(text.find("EisaId (\"PNP0A03\")"), std::string::npos) << text;
    }
  }
  std::system(("rm -rf " + dir).c_str());
}

// ---- Placement ----

TEST_F(AcpiTest, RsdpApartFromTheTables) {
  AcpiConfig config;
  config.rsdp_pa = 0xf5a50;
  const AcpiLayout l = Build(config, 0x200000, 0x1000);
  EXPECT_EQ(ScanForRsdp(), 0xf5a50u);
  EXPECT_EQ(l.tables_pa, 0x200000u);
  EXPECT_GE(l.xsdt_pa, 0x200000u);
  EXPECT_EQ(U64(0xf5a50 + 24), l.xsdt_pa);
  CheckTable(l.xsdt_pa, "XSDT");
}

TEST_F(AcpiTest, BadPlacementsAreRefused) {
  std::string error;
  AcpiConfig config;
  config.rsdp_pa = 0xe0008;  // not 16-byte aligned
  EXPECT_FALSE(BuildAcpiTables(*ram, 0x200000, 0x1000, config, &error));
  config.rsdp_pa = 0x90000;  // not in the BIOS area
  EXPECT_FALSE(BuildAcpiTables(*ram, 0x200000, 0x1000, config, &error));
  config.rsdp_pa = 0xe0100;  // inside the region, not at its start
  EXPECT_FALSE(BuildAcpiTables(*ram, 0xe0000, 0x1000, config, &error));
  config = AcpiConfig{};
  EXPECT_FALSE(BuildAcpiTables(*ram, 0xe0000, 0x100, config, &error)) << "too small";
  EXPECT_NE(error.find("too small"), std::string::npos) << error;
  EXPECT_FALSE(BuildAcpiTables(*ram, 0x3fff000, 0x10000, config, &error)) << "past the end of RAM";
  config.num_cpus = 0;
  EXPECT_FALSE(BuildAcpiTables(*ram, 0xe0000, 0x10000, config, &error));
}

}  // namespace
}  // namespace xlat
