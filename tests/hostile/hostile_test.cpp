// Hostile guests: code that aims at memory outside RAM, at unbacked and MMIO
// physical pages, at page tables pointing past RAM, at non-canonical and
// huge addresses, and at the host addresses of xlat's own structures (the
// vCPU context, the code cache, guest RAM's host mapping) -- through its
// registers, its page tables, its stack and its jumps; code that rewrites
// itself in every way, jumps into the middle of instructions, runs off the
// end of RAM and of its pages, and uses every prefix combination.
//
// Each case runs on the fuzzer's machine (tests/fuzz/fuzz_machine.h: code at
// 0x400000, data at 0x600000, no IDT so the first exception ends the run with
// its vector, error code and CR2), expects the architectural result, and
// then checks that the host is untouched: canary pages at the guest's own
// virtual addresses, the host thread's FS/GS bases, MXCSR, x87 control word
// and flags, the VMM's constants in the vCPU context, the code cache's
// thunks; and, in TearDown, that a fresh guest still runs.
//
// The guest code is in hostile_snippets.S. Each test is its own ctest (and
// process): a case that kills xlat fails alone.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "codecache/code_cache.h"
#include "cpu/vcpu.h"
#include "devices/pc_board.h"
#include "mmu/guest_ram.h"
#include "mmu/page_table_builder.h"
#include "tests/fuzz/fuzz_machine.h"

#define SNIPPET(n) extern "C" const uint8_t n##_begin[], n##_end[];
#define SNIPPET_LABEL(n, l) extern "C" const uint8_t n##_##l[];
SNIPPET(unbacked_rw) SNIPPET(ram_end_straddle) SNIPPET(window_rw) SNIPPET(pdpt_past_ram)
SNIPPET_LABEL(pdpt_past_ram, fault) SNIPPET(pml4e_reserved) SNIPPET_LABEL(pml4e_reserved, fault)
SNIPPET(jump_rbx) SNIPPET(run_off_ram)
SNIPPET(host_read) SNIPPET_LABEL(host_read, fault) SNIPPET(host_write) SNIPPET_LABEL(host_write, fault)
SNIPPET(host_call) SNIPPET_LABEL(host_call, next) SNIPPET(host_push) SNIPPET_LABEL(host_push, fault)
SNIPPET(host_rep_movs) SNIPPET_LABEL(host_rep_movs, fault)
SNIPPET(nc_read) SNIPPET_LABEL(nc_read, fault) SNIPPET(nc_read_byte) SNIPPET_LABEL(nc_read_byte, fault)
SNIPPET(nc_write) SNIPPET_LABEL(nc_write, fault) SNIPPET(nc_moffs) SNIPPET_LABEL(nc_moffs, fault)
SNIPPET(nc_jmp) SNIPPET_LABEL(nc_jmp, fault) SNIPPET(nc_call) SNIPPET_LABEL(nc_call, fault)
SNIPPET(nc_ret) SNIPPET_LABEL(nc_ret, fault) SNIPPET(nc_push) SNIPPET_LABEL(nc_push, fault)
SNIPPET(nc_fs) SNIPPET_LABEL(nc_fs, fault)
SNIPPET(nc_write_via_readonly_entry) SNIPPET_LABEL(nc_write_via_readonly_entry, fault)
SNIPPET(smc_mov) SNIPPET(smc_alias) SNIPPET(smc_stos) SNIPPET(smc_stos_backwards) SNIPPET(smc_movs)
SNIPPET(smc_push) SNIPPET(smc_xchg) SNIPPET(smc_cmpxchg) SNIPPET(smc_lock_add) SNIPPET(smc_bts)
SNIPPET(smc_setc) SNIPPET(smc_avx) SNIPPET(smc_x87) SNIPPET(smc_maskmov) SNIPPET(smc_same_block)
SNIPPET(smc_straddle) SNIPPET(smc_chained_loop) SNIPPET(jump_into_middle)
SNIPPET(straddle_missing_page) SNIPPET_LABEL(straddle_missing_page, fault)
SNIPPET(prefix_15) SNIPPET(prefix_16) SNIPPET_LABEL(prefix_16, fault) SNIPPET(prefix_rex_then_66)
SNIPPET(prefix_66_then_rex) SNIPPET(prefix_two_rex) SNIPPET(prefix_addr32) SNIPPET(prefix_rep_on_mov)
SNIPPET(prefix_lock_locked) SNIPPET(host_state_dirty) SNIPPET(pc_sweep)
SNIPPET(ac_misaligned) SNIPPET_LABEL(ac_misaligned, fault)
#define UD_SNIPPETS(X)                                                                                     \
  X(ud_lock_mov) X(ud_lock_reg) X(ud_lock_nop) X(ud_lock_cmp) X(ud_66_vex) X(ud_rex_vex) X(ud_lock_vex)  \
  X(ud_f3_vex) X(ud_evex) X(ud_push_es) X(ud_daa) X(ud_pusha) X(ud_salc) X(ud_far_call_imm) X(ud_into)   \
  X(ud_82) X(ud_clzero) X(ud_movdir64b) X(ud_wrfsbase) X(ud_wrgsbase) X(ud_rdgsbase) X(ud_xbegin)        \
  X(ud_ud1) X(ud_wrpkru)
#define DECLARE_UD(n) SNIPPET(n) SNIPPET_LABEL(n, fault)
UD_SNIPPETS(DECLARE_UD)

namespace xlat::fuzz {
namespace {

constexpr uint8_t kVecUD = 6, kVecSS = 12, kVecGP = 13, kVecPF = 14, kVecAC = 17;
constexpr uint32_t kPfP = 1, kPfW = 2, kPfU = 4, kPfRsvd = 8, kPfI = 0x10;
constexpr uint64_t kDefaultRsp = kStackVa + 0x1000;  // between the two stack pages

struct Snippet {
  const uint8_t* begin;
  const uint8_t* end;
  uint64_t At(const uint8_t* label) const { return kCodeVa + static_cast<uint64_t>(label - begin); }
};
#define S(n) Snippet{n##_begin, n##_end}

struct Result {
  RunOutcome::Kind kind = RunOutcome::Kind::kError;
  std::string description;
  uint64_t rip = 0;
  uint64_t gpr[16] = {};
  uint32_t vector = 0, error = 0;
  uint64_t cr2 = 0;
};

// The code cache's thunks must never change.
uint64_t HashThunks(Machine& m) {
  const CodeCache& cc = m.vcpu().code_cache();
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < cc.runtime_bytes(); ++i) h = (h ^ cc.runtime_base()[i]) * 1099511628211ull;
  return h;
}

// The leaf page-table entry of `va` in the machine's tables (host pointer), or nullptr.
uint64_t* LeafPte(Machine& m, uint64_t va) {
  uint64_t table = m.vcpu().ctx().cr3 & ~0xfffull;
  for (int level = 4; level >= 1; --level) {
    const unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;
    auto* e = reinterpret_cast<uint64_t*>(m.ram().HostPtr(GuestPhysAddr(table + 8 * idx), 8));
    if (!e || !(*e & 1)) return nullptr;
    if (level == 1 || (*e & 0x80)) return e;
    table = *e & 0x000ffffffffff000ull;
  }
  return nullptr;
}

uint64_t ReadPhys64(Machine& m, uint64_t pa) {
  uint64_t v = 0;
  std::memcpy(&v, m.ram().HostPtr(GuestPhysAddr(pa), 8), 8);
  return v;
}

class Hostile : public ::testing::Test {
 protected:
  Hostile() {
    HostCanaries::Get();  // before any guest machine maps memory
    h_.mode = kModeNoIdt;
    Reg(kRsp, kRegStack, kDefaultRsp - kStackVa);
  }

  void Reg(unsigned r, uint8_t kind, uint64_t value) {
    h_.reg_kind[r] = kind ^ DefaultRegKind(r);
    h_.reg_val[r] = value;
  }
  void Data(unsigned page, uint8_t target, uint8_t flags = 0) { h_.data_map[page] = static_cast<uint8_t>(target << 4 | flags); }

  Result Run(const Snippet& s, const std::function<void(Machine&)>& before = {}) {
    std::vector<uint8_t> bytes(sizeof(Header));
    std::memcpy(bytes.data(), &h_, sizeof h_);
    bytes.insert(bytes.end(), s.begin, s.end);
    const Input in = ParseInput(bytes.data(), bytes.size());
    std::string err;
    m_ = Machine::Create(in.h, &err);
    EXPECT_TRUE(m_) << err;
    if (!m_) return {};
    EXPECT_TRUE(m_->Load(in, &err)) << err;
    if (before) before(*m_);
    const uint64_t thunks = HashThunks(*m_);
    const HostThreadState host_before = HostThreadState::Capture();
    const RunResult rr = m_->Run(3000);
    const HostThreadState host_after = HostThreadState::Capture();
    // The host, whatever the guest did.
    EXPECT_EQ(m_->Check(rr), "");
    EXPECT_EQ(HostCanaries::Get().Check(), "");
    EXPECT_EQ(host_before.Compare(host_after), "");
    EXPECT_EQ(HashThunks(*m_), thunks) << "the code cache's thunks changed";
    EXPECT_FALSE(rr.watchdog_fired) << "the guest did not end by itself in 3 s";
    Result r;
    const VcpuContext& c = m_->vcpu().ctx();
    r.kind = rr.outcome.kind;
    r.description = Machine::DescribeOutcome(rr, m_->vcpu()) + "\n" + rr.outcome.message;
    r.rip = c.rip;
    std::memcpy(r.gpr, c.gpr, sizeof r.gpr);
    r.vector = c.exc_vector;
    r.error = c.exc_error_code;
    r.cr2 = c.exc_cr2;
    return r;
  }

  void TearDown() override {
    // xlat's process is still healthy: a fresh guest runs to its hlt.
    m_.reset();
    static const uint8_t kHlt[] = {0xf4};
    Header benign{};
    std::vector<uint8_t> bytes(sizeof benign);
    std::memcpy(bytes.data(), &benign, sizeof benign);
    bytes.push_back(kHlt[0]);
    const Input in = ParseInput(bytes.data(), bytes.size());
    std::string err;
    auto m = Machine::Create(in.h, &err);
    ASSERT_TRUE(m) << err;
    ASSERT_TRUE(m->Load(in, &err)) << err;
    EXPECT_EQ(m->Run(3000).outcome.kind, RunOutcome::Kind::kHalted) << "a benign guest no longer runs";
  }

  Header h_{};
  std::unique_ptr<Machine> m_;
};

#define EXPECT_HALTED(r) EXPECT_EQ((r).kind, RunOutcome::Kind::kHalted) << (r).description
#define EXPECT_FAULT(r, vec, err, at)                                          \
  do {                                                                         \
    EXPECT_EQ((r).kind, RunOutcome::Kind::kFatalException) << (r).description; \
    EXPECT_EQ((r).vector, vec) << (r).description;                             \
    EXPECT_EQ((r).error, static_cast<uint32_t>(err)) << (r).description;       \
    EXPECT_EQ((r).rip, static_cast<uint64_t>(at)) << (r).description;          \
  } while (0)

// ---- Physical memory that is not RAM ------------------------------------------

void ExpectAllOnes(const Result& r) {
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], ~0ull);
  EXPECT_EQ(r.gpr[kR10], 0xffffffffull);
  EXPECT_EQ(r.gpr[kR11], 0xffffull);
  EXPECT_EQ(r.gpr[kR12], ~0ull) << "a write to unbacked memory must vanish";
  EXPECT_EQ(r.gpr[kR13], ~0ull) << "movdqu";
  EXPECT_EQ(r.gpr[kR14], ~0ull) << "rep movsb from unbacked memory";
}

TEST_F(Hostile, JustPastRamReadsAllOnesAndIgnoresWrites) {
  Data(0, kDataPastRam);
  Data(1, kDataPastRam);
  Reg(kRbx, kRegData, 0);
  ExpectAllOnes(Run(S(unbacked_rw)));
}

TEST_F(Hostile, TopOfPhysicalAddressSpaceReadsAllOnes) {
  Data(0, kDataTopPhys);
  Reg(kRbx, kRegData, 0);
  ExpectAllOnes(Run(S(unbacked_rw)));
}

TEST_F(Hostile, Top4GiBHoleReadsAllOnes) {
  Data(0, kDataTop4G);
  Reg(kRbx, kRegData, 0);
  ExpectAllOnes(Run(S(unbacked_rw)));
}

TEST_F(Hostile, UnclaimedMmioHoleReadsAllOnes) {
  h_.misc |= kMiscNoMmio;
  Data(0, kDataMmio);
  Reg(kRbx, kRegData, 0);
  ExpectAllOnes(Run(S(unbacked_rw)));
}

TEST_F(Hostile, MmioDeviceGetsTheAccesses) {
  Data(0, kDataMmio);
  Reg(kRbx, kRegData, 0);
  const Result r = Run(S(unbacked_rw));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], 0xa5a5a5a5a5a5a5a5ull);  // the device's pattern at offset 0
  EXPECT_EQ(r.gpr[kR10], 0x59595959ull);          // ... at 0xffc
  EXPECT_GE(m_->mmio_writes(), 1u);
}

TEST_F(Hostile, AccessStraddlingTheEndOfRam) {
  Data(0, kDataLastRamPage);
  Data(1, kDataPastRam);
  Reg(kRbx, kRegData, 0);
  const Result r = Run(S(ram_end_straddle), [](Machine& m) {
    const uint64_t v = 0x1122334455667788ull;
    m.ram().Write(GuestPhysAddr(kRamBytes - 8), std::span(reinterpret_cast<const uint8_t*>(&v), 8));
  });
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], 0xffffffff11223344ull);
  EXPECT_EQ(r.gpr[kRcx], 0x55667788ull) << "the RAM half of a straddling store lands";
}

TEST_F(Hostile, LargePagePastRam) {
  h_.paging = kPagingWindow | kPagingWindowWrite | (2 << kPagingWindowPaShift);  // PA 1 GiB: past RAM
  const Result r = Run(S(window_rw));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRcx], ~0ull);
  EXPECT_EQ(r.gpr[kRdx], ~0ull);
}

TEST_F(Hostile, PageTablePastRamIsReservedBitsFault) {
  Data(0, kDataPageTables);  // the PML4, writable at 0x600000
  Reg(kRbx, kRegData, 0);
  const Snippet s = S(pdpt_past_ram);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, kPfP | kPfRsvd, s.At(pdpt_past_ram_fault));
  EXPECT_EQ(r.cr2, 0x8000000000ull);
}

TEST_F(Hostile, PageTableFrameAboveMaxPhysAddr) {
  Data(0, kDataPageTables);
  Reg(kRbx, kRegData, 0);
  const Snippet s = S(pml4e_reserved);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, kPfP | kPfRsvd, s.At(pml4e_reserved_fault));
  EXPECT_EQ(r.cr2, 0x8000000000ull);
}

// Fetches from unbacked physical memory read all-ones: ff ff is not an
// instruction (#UD), not `add [rax], al`.
TEST_F(Hostile, ExecutingPastRamIsUndefinedOpcode) {
  Data(0, kDataPastRam, kDataExec);
  Reg(kRbx, kRegData, 0);
  EXPECT_FAULT(Run(S(jump_rbx)), kVecUD, 0, kDataVa);
}

TEST_F(Hostile, ExecutingAnUnclaimedMmioHoleIsUndefinedOpcode) {
  h_.misc |= kMiscNoMmio;
  Data(0, kDataMmio, kDataExec);
  Reg(kRbx, kRegData, 0);
  EXPECT_FAULT(Run(S(jump_rbx)), kVecUD, 0, kDataVa);
}

TEST_F(Hostile, RunningOffTheEndOfRam) {
  h_.paging = kPagingWindow;  // VA 0x40000000 -> PA 0, executable
  const Result r = Run(S(run_off_ram), [](Machine& m) {
    const std::vector<uint8_t> nops(16, 0x90);
    m.ram().Write(GuestPhysAddr(kRamBytes - 16), nops);
  });
  EXPECT_FAULT(r, kVecUD, 0, kWindowVa + kRamBytes);
}

// ---- The host's own addresses ----------------------------------------------------

TEST_F(Hostile, ReadingTheHostVcpuContextAddress) {
  Reg(kRbx, kRegHostContext, 0);
  const Snippet s = S(host_read);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, 0, s.At(host_read_fault));
  EXPECT_EQ(r.cr2, m_->vcpu().ctx().self);
}

TEST_F(Hostile, WritingTheHostVcpuContextAddress) {
  Reg(kRbx, kRegHostContext, 0x100);
  const Snippet s = S(host_write);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, kPfW, s.At(host_write_fault));
  EXPECT_EQ(r.cr2, m_->vcpu().ctx().self + 0x100);
}

TEST_F(Hostile, WritingTheHostCodeCacheAddressAtCpl3) {
  h_.mode |= kModeCpl3;
  Reg(kRbx, kRegHostCodeCache, 0);
  const Snippet s = S(host_write);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, kPfW | kPfU, s.At(host_write_fault));
}

TEST_F(Hostile, JumpingToTheHostCodeCache) {
  Reg(kRbx, kRegHostCodeCache, 0);
  const Result r = Run(S(jump_rbx));
  const uint64_t target = reinterpret_cast<uint64_t>(m_->vcpu().code_cache().runtime_base());
  EXPECT_FAULT(r, kVecPF, kPfI, target);
  EXPECT_EQ(r.cr2, target);
}

TEST_F(Hostile, JumpingToTheHostRamMappingAtCpl3) {
  h_.mode |= kModeCpl3;
  Reg(kRbx, kRegHostRam, 0x400000);
  const Result r = Run(S(jump_rbx));
  const uint64_t target = reinterpret_cast<uint64_t>(m_->ram().base()) + 0x400000;
  EXPECT_FAULT(r, kVecPF, kPfI | kPfU, target);
}

TEST_F(Hostile, CallingTheHostVcpuContextPushesThenFaultsAtTheTarget) {
  Reg(kRbx, kRegHostContext, 0);
  const Snippet s = S(host_call);
  const Result r = Run(s);
  const uint64_t target = m_->vcpu().ctx().self;
  EXPECT_FAULT(r, kVecPF, kPfI, target);
  EXPECT_EQ(r.gpr[kRsp], kDefaultRsp - 8);
  EXPECT_EQ(ReadPhys64(*m_, kStackPa + (kDefaultRsp - 8 - kStackVa)), s.At(host_call_next));
}

TEST_F(Hostile, GuestStackAtAHostAddress) {
  Reg(kRsp, kRegHostContext, 0x800);
  const Snippet s = S(host_push);
  const Result r = Run(s);
  const uint64_t rsp = m_->vcpu().ctx().self + 0x800;
  EXPECT_FAULT(r, kVecPF, kPfW, s.At(host_push_fault));
  EXPECT_EQ(r.cr2, rsp - 8);
  EXPECT_EQ(r.gpr[kRsp], rsp) << "a faulting push leaves rsp alone";
}

TEST_F(Hostile, StringCopyFromAHostAddress) {
  Reg(kRbx, kRegHostRam, 0);
  const Snippet s = S(host_rep_movs);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, 0, s.At(host_rep_movs_fault));
  EXPECT_EQ(r.gpr[kRcx], 64u);
}

// A page-table entry whose frame is a host address: below 2^40 it is just
// physical memory that is not RAM; above, reserved bits.
TEST_F(Hostile, PageTableFramePointingAtTheHostCodeCache) {
  Reg(kRbx, kRegData, 0);
  ExpectAllOnes(Run(S(unbacked_rw), [](Machine& m) {
    uint64_t* pte = LeafPte(m, kDataVa);
    ASSERT_TRUE(pte);
    const uint64_t host = reinterpret_cast<uint64_t>(m.vcpu().code_cache().runtime_base());
    ASSERT_LT(host, 1ull << 40);
    *pte = (*pte & ~0x000ffffffffff000ull) | (host & ~0xfffull);
  }));
}

TEST_F(Hostile, ExecutingThroughAPageTableFrameAtTheHostCodeCache) {
  Data(0, kDataOwn, kDataExec);
  Reg(kRbx, kRegData, 0);
  const Result r = Run(S(jump_rbx), [](Machine& m) {
    uint64_t* pte = LeafPte(m, kDataVa);
    ASSERT_TRUE(pte);
    const uint64_t host = reinterpret_cast<uint64_t>(m.vcpu().code_cache().runtime_base());
    *pte = (*pte & ~0x000ffffffffff000ull) | (host & ~0xfffull);
  });
  EXPECT_FAULT(r, kVecUD, 0, kDataVa);
}

TEST_F(Hostile, PageTableFramePointingAtTheHostVcpuContext) {
  Reg(kRbx, kRegData, 0);
  const Snippet s = S(unbacked_rw);
  const Result r = Run(s, [](Machine& m) {
    uint64_t* pte = LeafPte(m, kDataVa);
    ASSERT_TRUE(pte);
    *pte = (*pte & ~0x000ffffffffff000ull) | (m.vcpu().ctx().self & 0x000ffffffffff000ull);
  });
  EXPECT_FAULT(r, kVecPF, kPfP | kPfRsvd, kCodeVa);
  EXPECT_EQ(r.cr2, kDataVa);
}

// ---- Non-canonical addresses ---------------------------------------------------------

TEST_F(Hostile, NonCanonicalRead) {
  Reg(kRcx, kRegRaw, 0x0000800000000000ull);
  const Snippet s = S(nc_read);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(nc_read_fault));
}

TEST_F(Hostile, ReadCrossingIntoNonCanonical) {
  Reg(kRcx, kRegRaw, 0x00007ffffffffffcull);
  const Snippet s = S(nc_read);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(nc_read_fault));
}

TEST_F(Hostile, NonCanonicalWriteBelowTheHighHalf) {
  Reg(kRcx, kRegRaw, 0xffff7ffffffffff8ull);
  const Snippet s = S(nc_write);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(nc_write_fault));
}

// VA 0xc000000000000000 + k: the one non-canonical page for which an empty
// inline-TLB entry's tag passes the fast check.
TEST_F(Hostile, NonCanonicalReadThatAliasesAnEmptyTlbEntryAtCpl3) {
  h_.mode |= kModeCpl3;
  Reg(kRcx, kRegRaw, 0xc000000000000010ull);
  const Snippet s = S(nc_read_byte);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(nc_read_byte_fault));
}

TEST_F(Hostile, NonCanonicalAbsoluteAddress) {
  const Snippet s = S(nc_moffs);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(nc_moffs_fault));
}

TEST_F(Hostile, NonCanonicalStoreThroughAReadOnlyTlbEntryAtCpl3) {
  h_.mode |= kModeCpl3;
  h_.paging = kPagingWindow | kPagingWindowUser;  // read-only user 1 GiB at 0x40000000 -> PA 0
  const Snippet s = S(nc_write_via_readonly_entry);
  const uint64_t before = 0;
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecGP, 0, s.At(nc_write_via_readonly_entry_fault));
  EXPECT_EQ(ReadPhys64(*m_, 8), before) << "guest physical page 0 is read-only to this guest";
}

TEST_F(Hostile, NonCanonicalJump) {
  Reg(kRcx, kRegRaw, 0x0000800000000000ull);
  const Snippet s = S(nc_jmp);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(nc_jmp_fault));
}

TEST_F(Hostile, NonCanonicalCallPushesNothing) {
  Reg(kRcx, kRegRaw, 0x8000000000000000ull);
  const Snippet s = S(nc_call);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecGP, 0, s.At(nc_call_fault));
  EXPECT_EQ(r.gpr[kRsp], kDefaultRsp);
}

TEST_F(Hostile, NonCanonicalReturn) {
  Reg(kRcx, kRegRaw, 0x0000800000000000ull);
  const Snippet s = S(nc_ret);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecGP, 0, s.At(nc_ret_fault));
  EXPECT_EQ(r.gpr[kRsp], kDefaultRsp - 8);
}

TEST_F(Hostile, NonCanonicalStackIsStackFault) {
  Reg(kRcx, kRegRaw, 0x0000800000000008ull);
  const Snippet s = S(nc_push);
  EXPECT_FAULT(Run(s), kVecSS, 0, s.At(nc_push_fault));
}

TEST_F(Hostile, NonCanonicalThroughTheFsBase) {
  const Snippet s = S(nc_fs);
  EXPECT_FAULT(Run(s, [](Machine& m) { m.vcpu().ctx().fs_base = 0x00007ffffffff000ull; }), kVecGP, 0,
               s.At(nc_fs_fault));
}

TEST_F(Hostile, HugeCanonicalAddressIsPageFault) {
  Reg(kRcx, kRegRaw, 0xfffffffffffff000ull);
  const Snippet s = S(nc_read);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, 0, s.At(nc_read_fault));
  EXPECT_EQ(r.cr2, 0xfffffffffffff000ull);
}

// ---- Self-modifying code ---------------------------------------------------------------

void ExpectRewritten(const Result& r, uint64_t now = 0x22222222) {
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kR12], 0x11111111u) << "the first call";
  EXPECT_EQ(r.gpr[kR13], now) << "the call after the code was rewritten ran the old code";
}

class SelfModifying : public Hostile {
 protected:
  SelfModifying() {
    h_.code_flags = kCodeWritable;  // code page 0 writable
    Reg(kRbx, kRegData, 0);
  }
};

TEST_F(SelfModifying, Mov) { ExpectRewritten(Run(S(smc_mov))); }
TEST_F(SelfModifying, ThroughAnotherVirtualAddress) {
  h_.code_flags = 0;  // read-only here: written through the alias
  Data(0, kDataCodeAlias);
  Reg(kRdx, kRegData, 0);
  ExpectRewritten(Run(S(smc_alias)));
}
TEST_F(SelfModifying, RepStos) { ExpectRewritten(Run(S(smc_stos))); }
TEST_F(SelfModifying, RepStosBackwards) { ExpectRewritten(Run(S(smc_stos_backwards))); }
TEST_F(SelfModifying, RepMovs) { ExpectRewritten(Run(S(smc_movs))); }
TEST_F(SelfModifying, Push) { ExpectRewritten(Run(S(smc_push))); }
TEST_F(SelfModifying, Xchg) { ExpectRewritten(Run(S(smc_xchg))); }
TEST_F(SelfModifying, LockCmpxchg) { ExpectRewritten(Run(S(smc_cmpxchg))); }
TEST_F(SelfModifying, LockAdd) { ExpectRewritten(Run(S(smc_lock_add))); }
TEST_F(SelfModifying, Bts) { ExpectRewritten(Run(S(smc_bts)), 0x11111113); }
TEST_F(SelfModifying, Setcc) { ExpectRewritten(Run(S(smc_setc)), 0x11111101); }
TEST_F(SelfModifying, AvxStore) { ExpectRewritten(Run(S(smc_avx))); }
TEST_F(SelfModifying, X87Store) { ExpectRewritten(Run(S(smc_x87))); }
TEST_F(SelfModifying, Maskmovdqu) { ExpectRewritten(Run(S(smc_maskmov))); }
TEST_F(SelfModifying, TheRunningBlock) {
  const Result r = Run(S(smc_same_block));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kR13], 0x22222222u);
}
TEST_F(SelfModifying, SecondPageOfAStraddlingInstruction) {
  h_.code_flags = kCodeWritable | (kCodeWritable << 4);
  ExpectRewritten(Run(S(smc_straddle)), 0x22221111);
}
TEST_F(SelfModifying, ALoopChainedToItself) {
  const Result r = Run(S(smc_chained_loop));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kR12], 149u);
}

TEST_F(Hostile, JumpIntoTheMiddleOfAnInstruction) {
  const Result r = Run(S(jump_into_middle));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kR8], 0xccccc322222222b8ull);
  EXPECT_EQ(r.gpr[kR9], 0x22222222u);
  EXPECT_EQ(r.gpr[kR10], 0xccccc322222222b8ull);
}

TEST_F(Hostile, InstructionContinuingOnAMissingPage) {
  h_.code_flags = kCodeNotPresent << 4;
  const Snippet s = S(straddle_missing_page);
  const Result r = Run(s);
  EXPECT_FAULT(r, kVecPF, kPfI, s.At(straddle_missing_page_fault));
  EXPECT_EQ(r.cr2, kCodeVa + 0x1000);
}

// ---- Prefixes ----------------------------------------------------------------------------

class Prefixes : public Hostile {
 protected:
  Prefixes() { Reg(kRbx, kRegData, 0); }
  uint64_t DataAt(uint64_t off) { return ReadPhys64(*m_, kDataPa + off); }
};

TEST_F(Prefixes, FifteenBytesIsTheLimit) {
  const Result r = Run(S(prefix_15));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], DataAt(0));
}
TEST_F(Prefixes, SixteenBytesIsGeneralProtection) {
  const Snippet s = S(prefix_16);
  EXPECT_FAULT(Run(s), kVecGP, 0, s.At(prefix_16_fault));
}
TEST_F(Prefixes, RexNotLastIsIgnored) {
  const Result r = Run(S(prefix_rex_then_66));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], 0xaaaaaaaaaaaa0000ull | (DataAt(0) & 0xffff));
}
TEST_F(Prefixes, RexWBeatsOperandSize) {
  const Result r = Run(S(prefix_66_then_rex));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], DataAt(0));
}
TEST_F(Prefixes, OnlyTheLastRexCounts) {
  Reg(kR11, kRegData, 0x10);
  const Result r = Run(S(prefix_two_rex));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], DataAt(0x10) & 0xffffffffu);
}
TEST_F(Prefixes, AddressSize32IgnoresTheUpperHalf) {
  const Result r = Run(S(prefix_addr32));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], DataAt(0) & 0xffffffffu);
}
TEST_F(Prefixes, RepeatPrefixesOnMovAreIgnored) {
  const Result r = Run(S(prefix_rep_on_mov));
  EXPECT_HALTED(r);
  EXPECT_EQ(r.gpr[kRax], DataAt(0));
  EXPECT_EQ(r.gpr[kRcx], DataAt(0));
}
TEST_F(Prefixes, RedundantLockOnALockableInstruction) {
  uint64_t before = 0, rax = 0;
  const Result r = Run(S(prefix_lock_locked), [&](Machine& m) {
    before = ReadPhys64(m, kDataPa);
    rax = m.vcpu().ctx().gpr[kRax];
  });
  EXPECT_HALTED(r);
  EXPECT_EQ(DataAt(0), before + rax);
}

#define UD_TEST(n)                                              \
  TEST_F(Prefixes, UndefinedOpcode_##n) {                       \
    const Snippet s = S(n);                                     \
    EXPECT_FAULT(Run(s), kVecUD, 0, s.At(n##_fault));           \
  }
UD_SNIPPETS(UD_TEST)

// A misaligned access at CPL 3 with RFLAGS.AC and CR0.AM set is #AC(0) (the
// host's AC flag is never the guest's: the check must be xlat's).
TEST_F(Hostile, AlignmentCheckAtCpl3) {
  h_.mode |= kModeCpl3;
  h_.rflags = 1u << 18;  // AC
  Reg(kRbx, kRegData, 0);
  const Snippet s = S(ac_misaligned);
  EXPECT_FAULT(Run(s), kVecAC, 0, s.At(ac_misaligned_fault));
}

// ---- The host thread's state ----------------------------------------------------------------

TEST_F(Hostile, GuestDirtiesDfMxcsrX87ControlAndAc) {
  Reg(kRbx, kRegData, 0);
  EXPECT_HALTED(Run(S(host_state_dirty)));  // Run() compares the host's state before and after
}

// ---- The PC's devices -------------------------------------------------------------------------

// The PC machine (devices/pc_board.h) with a guest that reads every offset of
// the local APIC and I/O APIC pages at every size, writes all-ones to every
// register, reads every I/O port at every size and writes 0 to each (but
// isa-debug-exit), and copies through MMIO with rep movs. It must halt (or
// power off or reset, which -no-reboot turns into an end): never crash,
// hang, or touch the host.
TEST(HostilePc, DevicesSurviveASweep) {
  HostCanaries::Get();
  PcConfig cfg;
  cfg.ram_bytes = 64ull << 20;
  cfg.code_cache_bytes = 4ull << 20;
  cfg.no_reboot = true;
  cfg.serial_out = [](uint8_t) {};
  std::string err;
  std::unique_ptr<PcBoard> pc = PcBoard::Create(cfg, &err);
  ASSERT_TRUE(pc) << err;
  const Snippet s = S(pc_sweep);
  ASSERT_TRUE(pc->SetBootLoader(
      [&s](PcBoard& b, std::string* error) {
        constexpr uint64_t kPool = 0x200000, kCode = 0x300000;
        PageTableBuilder pt(b.ram(), kPool, 0x10000);
        if (!pt.Map(0, 0, 4ull << 30, kPteWrite, 2ull << 20, error)) return false;  // identity, 4 GiB
        b.ram().Write(GuestPhysAddr(kCode), std::span<const uint8_t>(s.begin, s.end));
        b.vcpu().ResetToLongMode(kCode, pt.cr3());
        b.vcpu().ctx().gpr[kRsp] = 0x80000;
        return true;
      },
      &err))
      << err;
  // A watchdog: the sweep takes well under a second.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, fired = false;
  std::thread dog([&] {
    std::unique_lock<std::mutex> l(mu);
    if (!cv.wait_for(l, std::chrono::seconds(60), [&] { return done; })) {
      fired = true;
      pc->vcpu().RequestStop();
    }
  });
  const HostThreadState before = HostThreadState::Capture();
  const RunOutcome o = pc->Run();
  const HostThreadState after = HostThreadState::Capture();
  {
    std::lock_guard<std::mutex> l(mu);
    done = true;
  }
  cv.notify_one();
  dog.join();
  EXPECT_FALSE(fired) << "the sweep did not end in 60 s";
  EXPECT_TRUE(o.kind == RunOutcome::Kind::kHalted || o.kind == RunOutcome::Kind::kPowerOff ||
              o.kind == RunOutcome::Kind::kReboot)
      << static_cast<int>(o.kind) << ": " << o.message << "\n" << pc->vcpu().DumpRegisters();
  EXPECT_EQ(o.kind, RunOutcome::Kind::kHalted) << "the sweep stopped early, at port/offset in rdx/rcx: "
                                              << o.message << "\n" << pc->vcpu().DumpRegisters();
  EXPECT_EQ(HostCanaries::Get().Check(), "");
  EXPECT_EQ(before.Compare(after), "");
}

}  // namespace
}  // namespace xlat::fuzz
