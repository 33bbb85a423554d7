#include "tests/fuzz/fuzz_machine.h"

#include <asm/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "codecache/code_cache.h"
#include "mmu/page_table_builder.h"

namespace xlat::fuzz {

namespace {

constexpr uint64_t kCr0Am = 1ull << 18, kCr0Wp = 1ull << 16;
constexpr uint64_t kCr4Tsd = 1ull << 2, kCr4Pge = 1ull << 7;
constexpr uint64_t kEferNxe = 1ull << 11;
constexpr uint64_t kPage = 4096;

// The flags a guest may hold in RFLAGS (bit 1 is always set).
constexpr uint64_t kGuestFlags = kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagTF | kFlagIF | kFlagDF |
                                 kFlagOF | kFlagIOPL | kFlagNT | kFlagAC | kFlagID;

// Selectors of the GDT the machine gets.
constexpr uint16_t kKernelCs = 0x10, kKernelDs = 0x18, kUserDs = 0x20 | 3, kUserCs = 0x28 | 3, kTssSel = 0x30;

constexpr const char* kRegKindNames[16] = {"raw", "code", "data", "stack", "window", "sys", "small", "zero",
                                           "noncanon-low", "noncanon-high", "top", "big", "host-ctx",
                                           "host-cache", "host-ram", "low32"};

constexpr const char* kDataTargetNames[16] = {"own", "code-alias", "page-tables", "sys", "last-ram-page",
                                              "past-ram", "mmio", "top-4g", "top-phys", "page0",
                                              "stack-alias", "neighbour", "reserved-bit", "ignored-bits",
                                              "own", "own"};

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Page flags from 4 header bits: not present, writable, supervisor, NX.
struct PageBits {
  bool present, writable, user, nx;
};
PageBits CodePageBits(uint16_t code_flags, unsigned i) {
  const unsigned b = (code_flags >> (4 * i)) & 0xf;
  return {!(b & 1), (b & 2) != 0, !(b & 4), (b & 8) != 0};
}
PageBits DataPageBits(uint8_t m) {
  const unsigned b = m & 0xf;
  return {!(b & 1), !(b & 2), !(b & 4), !(b & 8)};
}
uint64_t PteFlags(const PageBits& b) {
  return (b.writable ? kPteWrite : 0) | (b.user ? kPteUser : 0) | (b.nx ? kPteNx : 0);
}

uint64_t WindowPa(uint8_t paging) {
  static const uint64_t kPa[4] = {0, 0xc0000000ull, 0x40000000ull, (1ull << 40) - (1ull << 30)};
  return kPa[(paging >> kPagingWindowPaShift) & 3];
}
uint64_t BigPa(uint8_t paging) {
  static const uint64_t kPa[4] = {0x000000, 0x600000, 0x800000, 0xfec00000};
  return kPa[(paging >> kPagingBigPaShift) & 3];
}

// ---- Watchdog: one thread for the process, one run at a time. ----
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* w = new Watchdog();  // never destroyed: the thread outlives main's statics
    return *w;
  }
  void Arm(Vcpu* v, unsigned ms) {
    std::lock_guard<std::mutex> l(m_);
    target_ = v;
    fired_ = false;
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    cv_.notify_one();
  }
  // True when it stopped the run. After Disarm returns, no stop can reach the vCPU.
  bool Disarm() {
    std::lock_guard<std::mutex> l(m_);
    target_ = nullptr;
    return fired_;
  }

 private:
  Watchdog() {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    // Keep signals (SIGINT, libFuzzer's SIGALRM...) for the fuzzing thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      if (!target_) {
        cv_.wait(l);
        continue;
      }
      if (!fired_) {
        if (cv_.wait_until(l, deadline_) == std::cv_status::timeout && target_ && !fired_ &&
            std::chrono::steady_clock::now() >= deadline_) {
          target_->RequestStop();
          fired_ = true;
          stop_sent_ = std::chrono::steady_clock::now();
        }
        continue;
      }
      // Stopped but not back yet: a vCPU that ignores RequestStop is a hang.
      cv_.wait_for(l, std::chrono::milliseconds(200));
      if (target_ && fired_ && std::chrono::steady_clock::now() - stop_sent_ > std::chrono::seconds(10)) {
        static const char kMsg[] =
            "xlat-fuzz: HANG: Run() has not returned 10 s after RequestStop (the vCPU ignores stop requests)\n";
        (void)!write(2, kMsg, sizeof kMsg - 1);
        abort();
      }
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  Vcpu* target_ = nullptr;
  bool fired_ = false;
  std::chrono::steady_clock::time_point deadline_, stop_sent_;
};

}  // namespace

// ---------------------------------------------------------------- input ----

Input ParseInput(const uint8_t* data, size_t size) {
  Input in;
  std::memcpy(&in.h, data, std::min(size, sizeof(Header)));
  if (size > sizeof(Header)) in.code = std::span<const uint8_t>(data + sizeof(Header), std::min(size - sizeof(Header), kMaxCode));
  return in;
}

// -------------------------------------------------------------- machine ----

std::unique_ptr<Machine> Machine::Create(const Header& h, std::string* error) {
  std::unique_ptr<Machine> m(new Machine());
  m->ram_ = GuestRam::Create(kRamBytes, error);
  if (!m->ram_) return nullptr;
  VcpuConfig vc;
  vc.code_cache_bytes = (h.misc & kMiscTinyCache) ? (64u << 10) : (2u << 20);
  vc.precise_fault_flags = (h.misc & kMiscPreciseFlags) != 0;
  if (h.misc & kMiscTraces) vc.trace_threshold = 1;
  m->vcpu_ = std::make_unique<Vcpu>(*m->ram_, m->ports_, m->stats_, vc);
  if (!m->vcpu_->Init(error)) return nullptr;
  Machine* self = m.get();
  // isa-debug-exit, recording that the guest asked (an internal error of the
  // VMM ends the run the same way, RequestExit(1)).
  m->ports_.Register("isa-debug-exit", 0xf4, 1, nullptr, [self](uint16_t, unsigned, uint32_t value) {
    self->debug_exit_ = true;
    self->vcpu_->RequestExit(static_cast<int>(((value << 1) | 1) & 0xff));
  });
  m->ports_.Register("serial-sink", 0x3f8, 8, [](uint16_t p, unsigned) -> uint32_t { return p == 0x3fd ? 0x60 : 0; },
                     [](uint16_t, unsigned, uint32_t) {});
  if (!(h.misc & kMiscNoMmio)) {
    m->mmio_.Register(
        "fuzz-mmio", kMmioPa, kPage,
        [](uint64_t off, unsigned size) -> uint64_t {
          uint64_t v = 0x0101010101010101ull * ((off & 0xff) ^ 0xa5);
          return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
        },
        [self](uint64_t, unsigned, uint64_t) { self->mmio_writes_++; });
    m->vcpu_->AttachMmio(&m->mmio_);
  }
  m->ctx_self_ = m->vcpu_->ctx().self;
  return m;
}

Machine::~Machine() = default;

uint64_t Machine::RegValue(unsigned i, uint8_t kind, uint64_t v) const {
  switch (kind & 15) {
    case kRegRaw: return v;
    case kRegCode: return kCodeVa + (v & (kMaxCode - 1));
    case kRegData: return kDataVa + (v & (kDataPages * kPage - 1));
    case kRegStack: return kStackVa + (v & (kStackPages * kPage - 1));
    case kRegWindow: return kWindowVa + (v & ((1ull << 30) - 1));
    case kRegSys: return kSysVa + (v % kSysBytes);
    case kRegSmall: return v & 0xff;
    case kRegZero: return 0;
    case kRegNonCanonicalLow: return 0x00007ffffffff000ull + (v & 0x1fff);
    case kRegNonCanonicalHigh: return 0xffff7ffffffff000ull + (v & 0x1fff);
    case kRegTop: return 0 - (v & 0xffff);
    case kRegBig: return kBigVa + (v & ((2ull << 20) - 1));
    case kRegHostContext: return vcpu_->ctx().self + (v & 0xffff);
    case kRegHostCodeCache:
      return reinterpret_cast<uint64_t>(vcpu_->code_cache().runtime_base()) + (v & 0xffff);
    case kRegHostRam: return reinterpret_cast<uint64_t>(ram_->base()) + (v & (kRamBytes - 1));
    case kRegLow32: return v & 0xffffffffull;
  }
  (void)i;
  return v;
}

bool Machine::BuildPageTables(const Header& h, uint64_t* cr3, std::string* error) {
  PageTableBuilder pt(*ram_, kPtPoolPa, kPtPoolBytes);
  // The system area: supervisor, writable, NX but for the handler page (no
  // NX at all without EFER.NXE, where the bit is reserved).
  const uint64_t sys_nx = (h.mode & kModeNoNxe) ? 0 : kPteNx;
  for (uint64_t off = 0; off < kSysBytes; off += kPage) {
    const uint64_t flags = off == kHandlerOff ? 0 : (kPteWrite | sys_nx);
    if (!pt.Map(kSysVa + off, kSysPa + off, kPage, flags, kPage, error)) return false;
  }
  const bool pge = !(h.misc & kMiscNoPge);
  for (unsigned i = 0; i < kCodePages; ++i) {
    const PageBits b = CodePageBits(h.code_flags, i);
    if (!b.present) continue;
    if (!pt.Map(kCodeVa + i * kPage, kCodePa + i * kPage, kPage, PteFlags(b) | (pge ? kPteGlobal : 0), kPage, error))
      return false;
  }
  for (unsigned i = 0; i < kDataPages; ++i) {
    const uint8_t m = h.data_map[i];
    const PageBits b = DataPageBits(m);
    if (!b.present) continue;
    uint64_t pa = kDataPa + i * kPage;
    switch (m >> 4) {
      case kDataCodeAlias: pa = kCodePa + (i % kCodePages) * kPage; break;
      case kDataPageTables: pa = kPtPoolPa + i * kPage; break;  // the PML4 is the pool's first page
      case kDataSys: pa = kSysPa + (i % 4) * kPage; break;
      case kDataLastRamPage: pa = kRamBytes - kPage; break;
      case kDataPastRam: pa = kRamBytes; break;
      case kDataMmio: pa = kMmioPa; break;
      case kDataTop4G: pa = 0xfffff000ull; break;
      case kDataTopPhys: pa = (1ull << 40) - kPage; break;
      case kDataPage0: pa = 0; break;
      case kDataStackAlias: pa = kStackPa; break;
      case kDataNeighbour: pa = kDataPa + ((i + 1) % kDataPages) * kPage; break;
      default: break;
    }
    if (!pt.Map(kDataVa + i * kPage, pa, kPage, PteFlags(b), kPage, error)) return false;
    const uint64_t leaf_pa = pt.LeafEntryPa(kDataVa + i * kPage);
    uint64_t* leaf = reinterpret_cast<uint64_t*>(ram_->HostPtr(GuestPhysAddr(leaf_pa), 8));
    if (leaf && (m >> 4) == kDataReservedBit) *leaf |= 1ull << 45;      // above MAXPHYADDR (40)
    if (leaf && (m >> 4) == kDataIgnoredBits) *leaf |= 0x7full << 52;   // ignored bits (and PKEY)
  }
  for (unsigned i = 0; i < kStackPages; ++i)
    if (!pt.Map(kStackVa + i * kPage, kStackPa + i * kPage, kPage, kPteWrite | kPteUser | kPteNx, kPage, error))
      return false;
  if (h.paging & kPagingWindow) {
    const uint64_t f = ((h.paging & kPagingWindowUser) ? kPteUser : 0) | ((h.paging & kPagingWindowWrite) ? kPteWrite : 0);
    if (!pt.Map(kWindowVa, WindowPa(h.paging), 1ull << 30, f, 1ull << 30, error)) return false;
  }
  if (h.paging & kPagingBig) {
    if (!pt.Map(kBigVa, BigPa(h.paging), 2ull << 20, kPteWrite | kPteUser, 2ull << 20, error)) return false;
  }
  *cr3 = pt.cr3();
  return true;
}

void Machine::BuildSystemArea(const Header& h) {
  auto put64 = [this](uint64_t pa, uint64_t v) { ram_->Write(GuestPhysAddr(pa), std::span(reinterpret_cast<const uint8_t*>(&v), 8)); };
  // GDT: null, unused, kernel code/data, user data/code, the TSS.
  const uint64_t tss = kSysVa + kTssOff;
  const uint64_t gdt[8] = {0,
                           0,
                           0x00af9b000000ffffull,  // 0x10 64-bit code, DPL 0
                           0x00cf93000000ffffull,  // 0x18 data, DPL 0
                           0x00cff3000000ffffull,  // 0x20 data, DPL 3
                           0x00affb000000ffffull,  // 0x28 64-bit code, DPL 3
                           0x0000890000000067ull | ((tss & 0xffffff) << 16) | (((tss >> 24) & 0xff) << 56),
                           tss >> 32};
  for (unsigned i = 0; i < 8; ++i) put64(kSysPa + kGdtOff + 8 * i, gdt[i]);
  // IDT: a gate per vector to its stub; int3, into and int 0x80 callable from CPL 3.
  for (unsigned v = 0; v < 256; ++v) {
    const uint64_t target = kSysVa + kHandlerOff + v * kHandlerStride;
    const unsigned type = (h.mode & kModeTrapGates) ? 0xf : 0xe;
    const unsigned dpl = (v == 3 || v == 4 || v == 0x80) ? 3 : 0;
    unsigned ist = v == 8 ? 1 : 0;
    if ((h.mode & kModeIst) && (v == 12 || v == 13 || v == 14)) ist = 1;
    const uint64_t lo = (target & 0xffff) | (uint64_t{kKernelCs} << 16) | (uint64_t{ist} << 32) |
                        (uint64_t{type} << 40) | (uint64_t{dpl} << 45) | (1ull << 47) |
                        (((target >> 16) & 0xffff) << 48);
    put64(kSysPa + kIdtOff + 16 * v, lo);
    put64(kSysPa + kIdtOff + 16 * v + 8, target >> 32);
  }
  // TSS: RSP0 and IST1.
  put64(kSysPa + kTssOff + 4, kSysVa + kKernelStackTopOff);
  put64(kSysPa + kTssOff + 0x24, kSysVa + kIstStackTopOff);
  // Handler stubs: hlt; jmp back to the hlt. (A trap gate leaves IF set: hlt
  // with nothing to wake the CPU still ends the run.)
  uint8_t stubs[kPage];
  std::memset(stubs, 0xcc, sizeof stubs);
  for (unsigned v = 0; v < 256; ++v) {
    uint8_t* s = stubs + v * kHandlerStride;
    s[0] = 0xf4;
    s[1] = 0xeb;
    s[2] = 0xfd;
  }
  stubs[kSyscallStubOff - kHandlerOff] = 0xf4;
  ram_->Write(GuestPhysAddr(kSysPa + kHandlerOff), std::span<const uint8_t>(stubs, sizeof stubs));
}

bool Machine::Load(const Input& in, std::string* error) {
  const Header& h = in.h;
  uint64_t cr3;
  if (!BuildPageTables(h, &cr3, error)) return false;
  BuildSystemArea(h);
  // Code: the input's bytes, then hlt to the end of the code pages.
  std::vector<uint8_t> code(kMaxCode, 0xf4);
  std::copy(in.code.begin(), in.code.end(), code.begin());
  ram_->Write(GuestPhysAddr(kCodePa), code);
  // Data: a recognisable pattern.
  std::vector<uint8_t> data(kDataPages * kPage);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + (i >> 12));
  ram_->Write(GuestPhysAddr(kDataPa), data);

  Vcpu& v = *vcpu_;
  v.ResetToLongMode(kCodeVa, cr3);
  VcpuContext& c = v.ctx();
  const bool cpl3 = h.mode & kModeCpl3;
  for (unsigned r = 0; r < 16; ++r) c.gpr[r] = RegValue(r, h.reg_kind[r] ^ DefaultRegKind(r), h.reg_val[r]);
  c.rflags = 0x2 | (h.rflags & kGuestFlags);
  if (!(h.mode & kModeNoAm)) c.cr0 |= kCr0Am; else c.cr0 &= ~kCr0Am;
  if (h.mode & kModeNoWp) c.cr0 &= ~kCr0Wp;
  if (h.mode & kModeNoNxe) c.efer &= ~kEferNxe;
  if (h.misc & kMiscNoPge) c.cr4 &= ~kCr4Pge; else c.cr4 |= kCr4Pge;
  if (h.misc & kMiscTsd) c.cr4 |= kCr4Tsd;
  c.cpl = cpl3 ? 3 : 0;
  const uint16_t ds = cpl3 ? kUserDs : kKernelDs;
  c.sel[0] = c.sel[2] = c.sel[3] = c.sel[4] = c.sel[5] = ds;
  c.sel[1] = cpl3 ? kUserCs : kKernelCs;
  c.gdtr_base = kSysVa + kGdtOff;
  c.gdtr_limit = 8 * 8 - 1;
  c.idtr_base = kSysVa + kIdtOff;
  c.idtr_limit = (h.mode & kModeNoIdt) ? 0 : (h.mode & kModeShortIdt) ? 32 * 16 - 1 : 256 * 16 - 1;
  c.tr = kTssSel;
  c.tr_base = kSysVa + kTssOff;
  c.tr_limit = 0x67;
  c.ldtr = 0;
  c.ldtr_base = 0;
  c.ldtr_limit = 0;
  c.star = (uint64_t{kKernelDs} << 48) | (uint64_t{kKernelCs} << 32);  // sysret: CS 0x2b, SS 0x23
  c.lstar = c.cstar = kSysVa + kSyscallStubOff;
  c.sfmask = 0x47700;
  c.fs_base = kDataVa;
  c.gs_base = (h.misc & kMiscGsBaseRaw) ? h.reg_val[0] : 0;
  c.kernel_gs_base = kStackVa;
  std::memset(c.dr, 0, sizeof c.dr);
  c.dr[6] = 0xffff0ff0;
  c.dr[7] = 0x400;
  c.tsc_offset = 0;
  // Vector state.
  uint64_t seed = h.vec_seed;
  for (unsigned i = 0; i < 16; ++i) {
    uint8_t bytes[32];
    for (unsigned k = 0; k < 4; ++k) {
      const uint64_t x = SplitMix(&seed);
      std::memcpy(bytes + 8 * k, &x, 8);
    }
    v.SetYmm(i, bytes);
  }
  v.set_mxcsr(0x1f80u ^ h.mxcsr);
  const uint16_t fcw = 0x037f ^ h.fcw;
  std::memcpy(c.xsave_area + kXsaveFcw, &fcw, 2);
  v.FlushTranslations();
  return true;
}

RunResult Machine::Run(unsigned timeout_ms) {
  RunResult r;
  debug_exit_ = false;
  Watchdog::Get().Arm(vcpu_.get(), timeout_ms);
  r.outcome = vcpu_->Run();
  r.watchdog_fired = Watchdog::Get().Disarm();
  r.debug_exit_by_guest = debug_exit_;
  return r;
}

std::string Machine::Check(const RunResult& r) const {
  std::string bad;
  auto fail = [&bad](const std::string& s) { bad += s + "\n"; };
  const VcpuContext& c = vcpu_->ctx();
  using K = RunOutcome::Kind;
  switch (r.outcome.kind) {
    case K::kHalted:
      if (c.cpl != 0) fail("hlt completed at CPL " + std::to_string(c.cpl) + " (it must raise #GP)");
      break;
    case K::kFatalException:
    case K::kTripleFault:
      break;
    case K::kStopped:
      if (!r.watchdog_fired) fail("the run stopped but nobody asked it to: " + r.outcome.message);
      break;
    case K::kDebugExit:
      if (!r.debug_exit_by_guest)
        fail("the run ended with a debug exit the guest did not ask for (an internal error; see stderr)");
      break;
    default:
      fail("unexpected outcome " + std::to_string(static_cast<int>(r.outcome.kind)) + ": " + r.outcome.message);
  }
  if (c.cpl != 0 && c.cpl != 3) fail("CPL " + std::to_string(c.cpl));
  if ((c.sel[1] & 3) != c.cpl) fail("CS.RPL != CPL");
  if (!(c.rflags & 2) || (c.rflags & ~0x3f7fd7ull) || (c.rflags & kFlagVM))
    fail("impossible RFLAGS " + std::to_string(c.rflags));
  if (c.self != ctx_self_) fail("the guest changed ctx.self");
  if (c.page_high_mask != ~0xfffull ||
      c.arith_df_mask != (kArithFlags | kFlagDF) || c.bit_offset_mask[0] != 15 || c.bit_offset_mask[1] != 31 ||
      c.bit_offset_mask[2] != 63 || c.flags_pop_sp != reinterpret_cast<uint64_t>(&c.flags_slot))
    fail("the guest changed the VMM's constants in the vCPU context");
  return bad;
}

std::string Machine::Describe(const Input& in) const {
  const Header& h = in.h;
  char line[256];
  std::string s;
  std::snprintf(line, sizeof line,
                "mode=%#x (cpl%d%s%s%s%s) paging=%#x misc=%#x code_flags=%#x mxcsr=%#x fcw=%#x rflags=%#" PRIx64
                " code=%zu bytes\n",
                h.mode, (h.mode & kModeCpl3) ? 3 : 0, (h.mode & kModeNoIdt) ? " no-idt" : "",
                (h.mode & kModeTrapGates) ? " trap-gates" : "", (h.mode & kModeNoNxe) ? " no-nxe" : "",
                (h.mode & kModeNoWp) ? " no-wp" : "", h.paging, h.misc, h.code_flags, 0x1f80u ^ h.mxcsr,
                0x37fu ^ h.fcw, 0x2 | (h.rflags & kGuestFlags), in.code.size());
  s += line;
  for (unsigned i = 0; i < kDataPages; ++i) {
    const PageBits b = DataPageBits(h.data_map[i]);
    std::snprintf(line, sizeof line, "  data page %u (%#" PRIx64 "): %s%s%s%s -> %s\n", i, kDataVa + i * kPage,
                  b.present ? "P" : "-", b.writable ? "W" : "-", b.user ? "U" : "-", b.nx ? "" : "X",
                  kDataTargetNames[h.data_map[i] >> 4]);
    s += line;
  }
  static const char* const kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                         "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  for (unsigned r = 0; r < 16; ++r) {
    const uint8_t kind = (h.reg_kind[r] ^ DefaultRegKind(r)) & 15;
    std::snprintf(line, sizeof line, "  %s=%#" PRIx64 " (%s)%s", kNames[r], RegValue(r, kind, h.reg_val[r]),
                  kRegKindNames[kind], r % 4 == 3 ? "\n" : "");
    s += line;
  }
  return s;
}

std::string Machine::DescribeOutcome(const RunResult& r, const Vcpu& v) {
  static const char* const kKinds[] = {"debug-exit", "halted", "fatal-exception", "stopped", "triple-fault",
                                       "power-off", "hung", "panic", "reboot", "error", "debug-stop"};
  const unsigned k = static_cast<unsigned>(r.outcome.kind);
  char line[200];
  std::snprintf(line, sizeof line, "outcome: %s%s rip=%#" PRIx64 " cpl=%u vector=%u error=%#x cr2=%#" PRIx64,
                k < sizeof kKinds / sizeof kKinds[0] ? kKinds[k] : "?", r.watchdog_fired ? " (watchdog)" : "",
                v.ctx().rip, v.ctx().cpl, v.ctx().exc_vector, v.ctx().exc_error_code, v.ctx().exc_cr2);
  std::string s = line;
  if (v.ctx().rip >= kSysVa + kHandlerOff && v.ctx().rip < kSysVa + kHandlerOff + 256 * kHandlerStride) {
    std::snprintf(line, sizeof line, " (in the handler of vector %" PRIu64 ")",
                  (v.ctx().rip - kSysVa - kHandlerOff) / kHandlerStride);
    s += line;
  }
  return s;
}

// -------------------------------------------------------------- canaries ----

HostCanaries& HostCanaries::Get() {
  static HostCanaries* c = new HostCanaries();
  return *c;
}

namespace {
uint8_t CanaryByte(const uint8_t* p) { return static_cast<uint8_t>((reinterpret_cast<uintptr_t>(p) >> 3) * 0x9d + 0x5a); }
}  // namespace

HostCanaries::HostCanaries() {
  const struct {
    uint64_t at, bytes;
  } wanted[] = {
      {kCodeVa, kMaxCode},
      {kDataVa, kDataPages * kPage},
      {kStackVa - kPage, (kStackPages + 1) * kPage},  // and the page below: pushes go down
      {kBigVa, 2 * kPage},
      {kWindowVa, 2 * kPage},
      {0x10000, 2 * kPage},                           // what small register values point at
  };
  for (const auto& w : wanted) {
    void* p = mmap(reinterpret_cast<void*>(w.at), w.bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != reinterpret_cast<void*>(w.at)) {
      if (p != MAP_FAILED) munmap(p, w.bytes);
      continue;  // taken (by the host): the check just covers less
    }
    uint8_t* b = static_cast<uint8_t*>(p);
    for (size_t i = 0; i < w.bytes; ++i) b[i] = CanaryByte(b + i);
    areas_[count_++] = Area{b, w.bytes};
    pages_ += w.bytes / kPage;
  }
}

std::string HostCanaries::Check() const {
  std::string bad;
  for (size_t a = 0; a < count_; ++a) {
    const Area& area = areas_[a];
    for (size_t i = 0; i < area.bytes; ++i) {
      if (area.at[i] != CanaryByte(area.at + i)) {
        char line[160];
        std::snprintf(line, sizeof line, "host memory at %p (the guest's own virtual address) was written\n",
                      static_cast<void*>(area.at + i));
        bad += line;
        for (size_t k = 0; k < area.bytes; ++k) area.at[k] = CanaryByte(area.at + k);  // report once
        break;
      }
    }
  }
  return bad;
}

// ---------------------------------------------------------- host thread ----

HostThreadState HostThreadState::Capture() {
  HostThreadState s;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &s.fs_base);
  syscall(SYS_arch_prctl, ARCH_GET_GS, &s.gs_base);
  __asm__ volatile("stmxcsr %0" : "=m"(s.mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(s.fcw));
  uint64_t fl;
  __asm__ volatile("pushfq; popq %0" : "=r"(fl));
  s.rflags_df = fl & (kFlagDF | kFlagAC | kFlagTF);
  return s;
}

std::string HostThreadState::Compare(const HostThreadState& a) const {
  std::string bad;
  char line[160];
  auto diff = [&](const char* what, uint64_t before, uint64_t after) {
    if (before == after) return;
    std::snprintf(line, sizeof line, "host %s changed by the run: %#" PRIx64 " -> %#" PRIx64 "\n", what, before, after);
    bad += line;
  };
  diff("FS base", fs_base, a.fs_base);
  diff("GS base", gs_base, a.gs_base);
  // The status flags (bits 0-5) are sticky and the host's own floating point
  // (the statistics' rate arithmetic, say) sets them; what must not leak from
  // the guest are the controls: masks, rounding, DAZ, FTZ.
  constexpr uint32_t kMxcsrStatus = 0x3f;
  diff("MXCSR controls", mxcsr & ~kMxcsrStatus, a.mxcsr & ~kMxcsrStatus);
  diff("x87 control word", fcw, a.fcw);
  diff("RFLAGS DF/AC/TF", rflags_df, a.rflags_df);
  return bad;
}

}  // namespace xlat::fuzz
