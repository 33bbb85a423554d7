// The register file gdb sees (frontend/gdb_registers.h).
#include "frontend/gdb_registers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <regex>

#include "cpu/vcpu.h"
#include "cpu/vcpu_context.h"

namespace xlat::gdb {
namespace {

std::unique_ptr<VcpuContext> NewContext() {
  auto c = std::make_unique<VcpuContext>();
  std::memset(c.get(), 0, sizeof(VcpuContext));
  return c;
}

uint64_t Read(const VcpuContext& c, unsigned n) {
  std::vector<uint8_t> v;
  EXPECT_TRUE(ReadRegister(c, n, &v));
  uint64_t x = 0;
  std::memcpy(&x, v.data(), std::min<size_t>(v.size(), 8));
  return x;
}

std::vector<uint8_t> Le(uint64_t v, size_t n) {
  std::vector<uint8_t> b(n, 0);
  std::memcpy(b.data(), &v, std::min<size_t>(n, 8));
  return b;
}

void SetXstateBv(VcpuContext& c, uint64_t bv) { std::memcpy(c.xsave_area + kXsaveHeader, &bv, 8); }
uint64_t XstateBv(const VcpuContext& c) {
  uint64_t bv;
  std::memcpy(&bv, c.xsave_area + kXsaveHeader, 8);
  return bv;
}

TEST(GdbRegisters, TargetDescriptionNumbersEveryRegisterInOrder) {
  const std::string& xml = TargetXml();
  EXPECT_NE(xml.find("<architecture>i386:x86-64</architecture>"), std::string::npos);
  for (const char* feature : {"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.segments",
                              "org.gnu.gdb.i386.avx"})
    EXPECT_NE(xml.find(feature), std::string::npos) << feature;
  std::regex reg_re("<reg name=\"([a-z0-9_]+)\" bitsize=\"([0-9]+)\"[^>]*regnum=\"([0-9]+)\"");
  unsigned n = 0;
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), reg_re); it != std::sregex_iterator(); ++it, ++n) {
    EXPECT_EQ(std::stoul((*it)[3]), n);
    EXPECT_EQ(std::stoul((*it)[2]), RegisterSize(n) * 8) << (*it)[1];
  }
  EXPECT_EQ(n, kRegCount);
  for (const char* name :
       {"\"rip\"", "\"eflags\"", "\"fs_base\"", "\"k_gs_base\"", "\"cr3\"", "\"efer\"", "\"ymm15h\""})
    EXPECT_NE(xml.find(name), std::string::npos) << name;
}

TEST(GdbRegisters, GeneralRegistersInGdbOrder) {
  auto c = NewContext();
  for (unsigned r = 0; r < 16; ++r) c->gpr[r] = 0x1000 + r;
  c->rip = 0xffffffff81000000ull;
  c->rflags = 0x246;
  c->sel[0] = 0x2b;  // es
  c->sel[1] = 0x10;  // cs
  c->sel[2] = 0x18;  // ss
  EXPECT_EQ(Read(*c, 0), 0x1000u + kRax);
  EXPECT_EQ(Read(*c, 1), 0x1000u + kRbx);
  EXPECT_EQ(Read(*c, 2), 0x1000u + kRcx);
  EXPECT_EQ(Read(*c, 3), 0x1000u + kRdx);
  EXPECT_EQ(Read(*c, 4), 0x1000u + kRsi);
  EXPECT_EQ(Read(*c, 5), 0x1000u + kRdi);
  EXPECT_EQ(Read(*c, 6), 0x1000u + kRbp);
  EXPECT_EQ(Read(*c, 7), 0x1000u + kRsp);
  EXPECT_EQ(Read(*c, 15), 0x1000u + kR15);
  EXPECT_EQ(Read(*c, kRegRip), 0xffffffff81000000ull);
  EXPECT_EQ(Read(*c, kRegEflags), 0x246u);
  EXPECT_EQ(Read(*c, kRegCs), 0x10u);
  EXPECT_EQ(Read(*c, kRegCs + 1), 0x18u);  // ss
  EXPECT_EQ(Read(*c, kRegCs + 3), 0x2bu);  // es

  EXPECT_EQ(WriteRegister(*c, 1, Le(0xdead, 8)), WriteResult::kOk);
  EXPECT_EQ(c->gpr[kRbx], 0xdeadu);
  EXPECT_EQ(WriteRegister(*c, kRegEflags, Le(0x10044, 4)), WriteResult::kOk);
  EXPECT_EQ(c->rflags, 0x10046u);  // bit 1 stays set
  // A selector is not just its value: only the same value is accepted.
  EXPECT_EQ(WriteRegister(*c, kRegCs, Le(0x10, 4)), WriteResult::kOk);
  EXPECT_EQ(WriteRegister(*c, kRegCs, Le(0x33, 4)), WriteResult::kRejected);
  EXPECT_EQ(WriteRegister(*c, 1, Le(0, 4)), WriteResult::kBadRegister);
  EXPECT_EQ(WriteRegister(*c, kRegCount, Le(0, 8)), WriteResult::kBadRegister);
}

TEST(GdbRegisters, SystemRegisters) {
  auto c = NewContext();
  c->fs_base = 0x7f0000001000ull;
  c->gs_base = 0xffff888007c00000ull;
  c->kernel_gs_base = 0x1234;
  c->cr0 = 0x80050033;
  c->cr3 = 0x9000;
  c->efer = 0xd01;
  EXPECT_EQ(Read(*c, kRegFsBase), 0x7f0000001000ull);
  EXPECT_EQ(Read(*c, kRegFsBase + 1), 0xffff888007c00000ull);
  EXPECT_EQ(Read(*c, kRegKGsBase), 0x1234u);
  EXPECT_EQ(Read(*c, kRegCr0), 0x80050033u);
  EXPECT_EQ(Read(*c, kRegCr3), 0x9000u);
  EXPECT_EQ(Read(*c, kRegEfer), 0xd01u);
  // Paging state changes invalidate translations; an unchanged value does not.
  EXPECT_EQ(WriteRegister(*c, kRegCr3, Le(0xa000, 8)), WriteResult::kFlushTranslations);
  EXPECT_EQ(WriteRegister(*c, kRegCr3, Le(0xa000, 8)), WriteResult::kOk);
  EXPECT_EQ(WriteRegister(*c, kRegCr0 + 1, Le(0x55, 8)), WriteResult::kOk);  // cr2
  EXPECT_EQ(c->cr2, 0x55u);
  EXPECT_EQ(WriteRegister(*c, kRegFsBase, Le(0x42, 8)), WriteResult::kOk);
  EXPECT_EQ(c->fs_base, 0x42u);
}

TEST(GdbRegisters, ComponentsInTheirInitialStateReadAsSuch) {
  auto c = NewContext();
  std::memset(c->xsave_area, 0xaa, 512);  // stale bytes that XSTATE_BV says do not count
  SetXstateBv(*c, 0);
  const uint32_t mxcsr = 0x1f80;
  std::memcpy(c->xsave_area + kXsaveMxcsr, &mxcsr, 4);
  EXPECT_EQ(Read(*c, kRegFctrl), 0x37fu);
  EXPECT_EQ(Read(*c, kRegFctrl + 1), 0u);       // fstat
  EXPECT_EQ(Read(*c, kRegFctrl + 2), 0xffffu);  // ftag: all empty
  EXPECT_EQ(Read(*c, kRegSt0), 0u);
  EXPECT_EQ(Read(*c, kRegXmm0), 0u);
  EXPECT_EQ(Read(*c, kRegYmm0h), 0u);
  EXPECT_EQ(Read(*c, kRegMxcsr), 0x1f80u);  // saved whatever XSTATE_BV says

  // Writing one xmm register makes the SSE component explicit, the others zero.
  std::vector<uint8_t> v(16, 0x11);
  EXPECT_EQ(WriteRegister(*c, kRegXmm0 + 3, v), WriteResult::kOk);
  EXPECT_EQ(XstateBv(*c) & 2, 2u);
  EXPECT_EQ(Read(*c, kRegXmm0 + 3), 0x1111111111111111ull);
  EXPECT_EQ(Read(*c, kRegXmm0 + 2), 0u);
  // The same for x87: FCW becomes 0x37f, not the stale bytes.
  EXPECT_EQ(WriteRegister(*c, kRegFctrl + 1, Le(0x3800, 4)), WriteResult::kOk);  // fstat, TOP = 7
  EXPECT_EQ(Read(*c, kRegFctrl), 0x37fu);
  EXPECT_EQ(Read(*c, kRegFctrl + 1), 0x3800u);
}

TEST(GdbRegisters, FullTagWordFromTheAbridgedOne) {
  uint8_t st[80] = {};
  // ST(0): 1.0 (valid), ST(1): +0 (zero), ST(2): infinity (special).
  const uint64_t one = 0x8000000000000000ull;
  std::memcpy(st, &one, 8);
  st[8] = 0xff;
  st[9] = 0x3f;
  std::memcpy(st + 20, &one, 8);
  st[28] = 0xff;
  st[29] = 0x7f;
  // TOP = 5: ST(0) is R5, ST(1) R6, ST(2) R7; R0..R4 empty.
  const uint16_t fsw = 5 << 11;
  const uint8_t abridged = 0xe0;
  const uint16_t tags = FullTagWord(abridged, fsw, st);
  EXPECT_EQ(tags, (0u << 10) | (1u << 12) | (2u << 14) | 0x3ff);
}

TEST(GdbRegisters, TheWholeFileRoundTrips) {
  auto c = NewContext();
  SetXstateBv(*c, 3);
  for (unsigned r = 0; r < 16; ++r) c->gpr[r] = 0x0101010101010101ull * r;
  c->rip = 0x401000;
  c->rflags = 0x202;
  c->cr3 = 0x5000;
  std::vector<uint8_t> file = ReadAllRegisters(*c);
  size_t total = 0;
  for (unsigned n = 0; n < kRegCount; ++n) total += RegisterSize(n);
  ASSERT_EQ(file.size(), total);
  // Change rax and cr3 through the file.
  file[0] = 0x77;
  size_t cr3_off = 0;
  for (unsigned n = 0; n < kRegCr3; ++n) cr3_off += RegisterSize(n);
  file[cr3_off + 1] = 0x60;  // cr3 = 0x6000
  bool flush = false;
  ASSERT_TRUE(WriteAllRegisters(*c, file, &flush));
  EXPECT_TRUE(flush);
  EXPECT_EQ(c->gpr[kRax], 0x77u);
  EXPECT_EQ(c->cr3, 0x6000u);
  EXPECT_EQ(c->gpr[kRbx], 0x0303030303030303ull);
  EXPECT_EQ(XstateBv(*c), 3u);  // unchanged components are not touched
  EXPECT_FALSE(WriteAllRegisters(*c, std::span<const uint8_t>(file).first(10), &flush));
}

}  // namespace
}  // namespace xlat::gdb
