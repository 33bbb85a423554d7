// CR8 and the local APIC's TPR are one register (SDM vol. 3A, 11.8.6.5): on
// the PC machine, in xAPIC mode, a MOV to CR8 shows in the memory-mapped TPR
// as bits 7:4, and a store to the TPR shows in CR8. Guest code on the PC
// board does both and halts; the registers it leaves say what it saw.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cpu/guest_regs.h"
#include "devices/pc_board.h"
#include "mmu/page_table_builder.h"

namespace xlat {
namespace {

struct Ran {
  RunOutcome outcome;
  uint64_t gpr[16] = {};  // (the whole VcpuContext is too big for the stack)
};

Ran RunOnPc(const std::vector<uint8_t>& code) {
  PcConfig cfg;
  cfg.ram_bytes = 64ull << 20;
  cfg.code_cache_bytes = 4ull << 20;
  cfg.no_reboot = true;
  cfg.serial_out = [](uint8_t) {};
  std::string err;
  std::unique_ptr<PcBoard> pc = PcBoard::Create(cfg, &err);
  EXPECT_TRUE(pc) << err;
  if (!pc) return {};
  EXPECT_TRUE(pc->SetBootLoader(
      [&code](PcBoard& b, std::string* error) {
        constexpr uint64_t kPool = 0x200000, kCode = 0x300000;
        PageTableBuilder pt(b.ram(), kPool, 0x10000);
        if (!pt.Map(0, 0, 4ull << 30, kPteWrite, 2ull << 20, error)) return false;  // identity, 4 GiB
        b.ram().Write(GuestPhysAddr(kCode), std::span<const uint8_t>(code.data(), code.size()));
        b.vcpu().ResetToLongMode(kCode, pt.cr3());
        b.vcpu().ctx().gpr[kRsp] = 0x80000;
        return true;
      },
      &err))
      << err;
  Ran r;
  r.outcome = pc->Run();
  for (int i = 0; i < 16; ++i) r.gpr[i] = pc->vcpu().ctx().gpr[i];
  return r;
}

TEST(Cr8Apic, Cr8IsTheTaskPriorityInXapicMode) {
  const std::vector<uint8_t> code = {
      0x48, 0xc7, 0xc0, 0x05, 0x00, 0x00, 0x00,                    // mov rax, 5
      0x44, 0x0f, 0x22, 0xc0,                                      // mov cr8, rax
      0x48, 0xbe, 0x00, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00,  // mov rsi, 0xfee00000
      0x8b, 0x86, 0x80, 0x00, 0x00, 0x00,                          // mov eax, [rsi + 0x80] (TPR)
      0x44, 0x0f, 0x20, 0xc3,                                      // mov rbx, cr8
      0xc7, 0x86, 0x80, 0x00, 0x00, 0x00, 0x9c, 0x00, 0x00, 0x00,  // mov dword [rsi + 0x80], 0x9c
      0x44, 0x0f, 0x20, 0xc1,                                      // mov rcx, cr8
      0x8b, 0x96, 0x80, 0x00, 0x00, 0x00,                          // mov edx, [rsi + 0x80]
      0xf4,                                                        // hlt (interrupts are off)
  };
  const Ran r = RunOnPc(code);
  ASSERT_EQ(r.outcome.kind, RunOutcome::Kind::kHalted) << r.outcome.message;
  EXPECT_EQ(r.gpr[kRax], 0x50u) << "MOV CR8 sets TPR[7:4]";
  EXPECT_EQ(r.gpr[kRbx], 5u);
  EXPECT_EQ(r.gpr[kRcx], 9u) << "CR8 reads TPR[7:4] after a store to the TPR";
  EXPECT_EQ(r.gpr[kRdx], 0x9cu) << "the TPR keeps its low bits";
}

}  // namespace
}  // namespace xlat
