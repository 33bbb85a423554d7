// The vCPU: context set-up, the dispatch loop, and the exits from translated
// code back to the VMM.
//
// The loop: find (or translate) the block at ctx.rip, enter it through the
// enter_guest thunk, and when it leaves, look at the site it left from. A
// direct branch that was not linked gets linked to its target now, so the
// next time it does not leave at all; an indirect branch that missed the jump
// cache fills it; a sensitive instruction is emulated; an exception is raised.
#include "cpu/vcpu.h"

#include <asm/prctl.h>
#include <signal.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/emulate.h"
#include "devices/clock.h"
#include "devices/interrupts.h"
#include "devices/mmio_bus.h"
#include "cpu/host_signals.h"
#include "cpu/lazy_flags.h"
#include "cpu/mapping_caches.h"
#include "cpu/string_ops.h"
#include "cpu/vcpu_runtime.h"
#include "cpu/trace.h"
#include "translator/block_dump.h"
#include "devices/port_bus.h"
#include "frontend/stats.h"
#include "mmu/guest_ram.h"

namespace xlat {

namespace {

constexpr uint64_t kRuntimeBytes = 64 * 1024;
constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5,
                   kCr0Wp = 1ull << 16, kCr0Am = 1ull << 18, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Pge = 1ull << 7, kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10,
                   kCr4Osxsave = 1ull << 18;
constexpr uint64_t kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;

uint64_t XstateBv(const VcpuContext& c) {
  uint64_t v;
  std::memcpy(&v, c.xsave_area + kXsaveHeader, 8);
  return v;
}
void SetXstateBv(VcpuContext& c, uint64_t v) { std::memcpy(c.xsave_area + kXsaveHeader, &v, 8); }

}  // namespace

// ---------------------------------------------------------------- Vcpu ----

Vcpu::Vcpu(GuestRam& ram, PortBus& ports, Stats& stats, const VcpuConfig& config)
    : ram_(ram), ports_(ports), stats_(stats), config_(config) {}

Vcpu::~Vcpu() {
  runtime_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (ctx_) munmap(ctx_, sizeof(VcpuContext));
}

bool Vcpu::Init(std::string* error) {
  void* p = mmap(nullptr, sizeof(VcpuContext), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    *error = std::string("cannot allocate the vCPU context: ") + std::strerror(errno);
    return false;
  }
  ctx_ = new (p) VcpuContext();
  ctx_->self = reinterpret_cast<uint64_t>(ctx_);
  ctx_->flags_push_sp = reinterpret_cast<uint64_t>(&ctx_->flags_slot) + 8;
  ctx_->flags_pop_sp = reinterpret_cast<uint64_t>(&ctx_->flags_slot);
  ctx_->lahf_pext_mask = 0xff | kFlagOF;
  ctx_->arith_df_mask = kArithFlags | kFlagDF;
  ctx_->page_high_mask = ~0xfffull;
  ctx_->bit_offset_mask[0] = 15;
  ctx_->bit_offset_mask[1] = 31;
  ctx_->bit_offset_mask[2] = 63;
  // Empty TLB entries point here (vcpu_context.h): any access must fault.
  if (mprotect(ctx_->tlb_guard_page, sizeof(ctx_->tlb_guard_page), PROT_NONE) != 0) {
    *error = std::string("cannot protect the TLB guard page: ") + std::strerror(errno);
    return false;
  }
  cache_ = CodeCache::Create(config_.code_cache_bytes, kRuntimeBytes, error);
  if (!cache_) return false;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    *error = std::string("cannot create the vCPU's wake-up eventfd: ") + std::strerror(errno);
    return false;
  }
  runtime_ = std::make_unique<VcpuRuntime>(*this);
  ctx_->owner = runtime_.get();
  return runtime_->Init(error);
}

void Vcpu::SetYmm(unsigned i, const uint8_t bytes[32]) {
  // A component whose XSTATE_BV bit is clear is in its initial state (zero)
  // whatever the area holds: make the area say so before marking it in use.
  const uint64_t bv = XstateBv(*ctx_);
  if (!(bv & 2)) std::memset(ctx_->xsave_area + kXsaveXmm0, 0, 256);
  if (!(bv & 4)) std::memset(ctx_->xsave_area + kXsaveYmmHi0, 0, 256);
  std::memcpy(ctx_->xsave_area + kXsaveXmm0 + 16 * i, bytes, 16);
  std::memcpy(ctx_->xsave_area + kXsaveYmmHi0 + 16 * i, bytes + 16, 16);
  SetXstateBv(*ctx_, bv | 6);
}

void Vcpu::GetYmm(unsigned i, uint8_t bytes[32]) const {
  const uint64_t bv = XstateBv(*ctx_);
  if (bv & 2)
    std::memcpy(bytes, ctx_->xsave_area + kXsaveXmm0 + 16 * i, 16);
  else
    std::memset(bytes, 0, 16);
  if (bv & 4)
    std::memcpy(bytes + 16, ctx_->xsave_area + kXsaveYmmHi0 + 16 * i, 16);
  else
    std::memset(bytes + 16, 0, 16);
}

uint32_t Vcpu::mxcsr() const {
  uint32_t v;
  std::memcpy(&v, ctx_->xsave_area + kXsaveMxcsr, 4);
  return v;
}

void Vcpu::set_mxcsr(uint32_t v) {
  // MXCSR is saved and restored whatever XSTATE_BV says.
  std::memcpy(ctx_->xsave_area + kXsaveMxcsr, &v, 4);
}

void Vcpu::ResetToLongMode(uint64_t rip, uint64_t cr3) {
  VcpuContext& c = *ctx_;
  std::memset(c.gpr, 0, sizeof(c.gpr));
  std::memset(c.spill, 0, sizeof(c.spill));
  c.rip = rip;
  c.rflags = 0x2;
  c.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Am | kCr0Pg;
  c.cr3 = cr3;
  c.cr4 = kCr4Pae | kCr4Pge | kCr4Osfxsr | kCr4Osxmmexcpt | kCr4Osxsave;
  c.cr2 = c.cr8 = 0;
  c.efer = kEferSce | kEferLme | kEferLma | kEferNxe;
  c.xcr0 = kGuestXcr0;
  c.cpl = 0;
  c.fs_base = c.gs_base = c.kernel_gs_base = 0;
  c.sel[0] = 0x18; c.sel[1] = 0x10; c.sel[2] = 0x18; c.sel[3] = 0x18; c.sel[4] = 0x18; c.sel[5] = 0x18;
  c.pat = 0x0007040600070406ull;
  c.apic_base = 0xfee00900ull;
  c.misc_enable = 1;  // fast strings
  // x87/SSE/AVX in their initial state: FCW 0x37f, MXCSR 0x1f80, everything else zero.
  std::memset(c.xsave_area, 0, sizeof(c.xsave_area));
  const uint16_t fcw = 0x37f;
  std::memcpy(c.xsave_area + kXsaveFcw, &fcw, 2);
  const uint32_t mxcsr = 0x1f80, mxcsr_mask = 0xffff;
  std::memcpy(c.xsave_area + kXsaveMxcsr, &mxcsr, 4);
  std::memcpy(c.xsave_area + kXsaveMxcsr + 4, &mxcsr_mask, 4);
  SetXstateBv(c, 0x3);  // x87 (for FCW) and SSE (for MXCSR) stored; AVX upper halves in init state
  exit_requested_ = false;
  stop_requested_ = false;
  FlushTranslations();
}

RunOutcome Vcpu::Run() { return runtime_->Run(); }

void Vcpu::Kick() {
  kicked_.store(true, std::memory_order_release);
  if (ctx_) mprotect(ctx_->poll_page, sizeof(ctx_->poll_page), PROT_READ);
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

void Vcpu::RequestStop() {
  stop_requested_.store(true, std::memory_order_relaxed);
  Kick();
}

void Vcpu::FlushTranslations() {
  if (runtime_) runtime_->FlushTranslations();
}

void Vcpu::RequestExit(int status) {
  exit_requested_ = true;
  exit_kind_ = RunOutcome::Kind::kDebugExit;
  exit_status_ = status;
}

void Vcpu::SetBreakpoint(uint64_t va, bool on) { runtime_->SetBreakpoint(va, on); }
void Vcpu::SetWatchpoint(uint64_t va, uint64_t len, WatchKind kind, bool on) {
  runtime_->SetWatchpoint(va, len, kind, on);
}
void Vcpu::SetSingleStep(bool on) { runtime_->SetSingleStep(on); }
void Vcpu::SetTscOffset(uint64_t offset) {
  ctx_->tsc_offset = offset;
  runtime_->UpdateTscMode();
}

// A debugger's access may span any number of pages: one page at a time, and
// a write only once every page it touches is known to be writable.
bool Vcpu::DebugRead(uint64_t va, void* out, size_t n) {
  GuestFault f;
  uint8_t* dst = static_cast<uint8_t*>(out);
  while (n) {
    const size_t chunk = std::min<size_t>(n, 4096 - (va & 0xfff));
    if (!runtime_->ReadVirt(va, dst, chunk, &f, AccessKind::kRead, /*supervisor=*/true)) return false;
    va += chunk;
    dst += chunk;
    n -= chunk;
  }
  return true;
}

bool Vcpu::DebugWrite(uint64_t va, const void* in, size_t n) {
  GuestFault f;
  uint64_t pa;
  for (uint64_t page = va & ~0xfffull; n && page <= ((va + n - 1) & ~0xfffull); page += 4096)
    if (!runtime_->Translate(page, AccessKind::kWrite, &pa, &f, /*supervisor=*/true)) return false;
  const uint8_t* src = static_cast<const uint8_t*>(in);
  while (n) {
    const size_t chunk = std::min<size_t>(n, 4096 - (va & 0xfff));
    if (!runtime_->WriteVirt(va, src, chunk, &f, /*supervisor=*/true)) return false;
    va += chunk;
    src += chunk;
    n -= chunk;
  }
  return true;
}

void Vcpu::RequestDebugStop() {
  debug_stop_requested_.store(true, std::memory_order_release);
  Kick();
}

void Vcpu::RequestPanicExit(std::string message) {
  exit_requested_ = true;
  exit_kind_ = RunOutcome::Kind::kPanic;
  exit_status_ = 0;
  exit_message_ = std::move(message);
  Kick();
}

void Vcpu::RequestPowerOff() {
  exit_requested_ = true;
  exit_kind_ = RunOutcome::Kind::kPowerOff;
  exit_status_ = 0;
  exit_message_ = "the guest powered the machine off";
  Kick();
}

std::string Vcpu::DumpRegisters() const {
  const VcpuContext& c = *ctx_;
  static const char* const kNames[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                         "R8 ", "R9 ", "R10", "R11", "R12", "R13", "R14", "R15"};
  static const uint8_t kOrder[16] = {kRax, kRbx, kRcx, kRdx, kRsi, kRdi, kRbp, kRsp,
                                     kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15};
  std::string out;
  char line[160];
  for (unsigned i = 0; i < 16; i += 4) {
    std::snprintf(line, sizeof line, "%s=%016" PRIx64 " %s=%016" PRIx64 " %s=%016" PRIx64 " %s=%016" PRIx64 "\n",
                  kNames[kOrder[i]], c.gpr[kOrder[i]], kNames[kOrder[i + 1]], c.gpr[kOrder[i + 1]],
                  kNames[kOrder[i + 2]], c.gpr[kOrder[i + 2]], kNames[kOrder[i + 3]], c.gpr[kOrder[i + 3]]);
    out += line;
  }
  std::snprintf(line, sizeof line, "RIP=%016" PRIx64 " RFL=%08" PRIx64 " CPL=%u\n", c.rip, c.rflags, c.cpl);
  out += line;
  std::snprintf(line, sizeof line, "CR0=%08" PRIx64 " CR2=%016" PRIx64 " CR3=%016" PRIx64 " CR4=%08" PRIx64
                " EFER=%08" PRIx64 "\n", c.cr0, c.cr2, c.cr3, c.cr4, c.efer);
  out += line;
  std::snprintf(line, sizeof line, "FS_BASE=%016" PRIx64 " GS_BASE=%016" PRIx64 " KERNEL_GS_BASE=%016" PRIx64 "\n",
                c.fs_base, c.gs_base, c.kernel_gs_base);
  out += line;
  return out;
}

// ---------------------------------------------------------- VcpuRuntime ----

VcpuRuntime::VcpuRuntime(Vcpu& vcpu) : vcpu_(vcpu), ctx_(*vcpu.ctx_), stats_(vcpu.stats_) {}

VcpuRuntime::~VcpuRuntime() = default;

bool VcpuRuntime::Init(std::string* error) {
  if (!GenerateThunks(*vcpu_.cache_, &VcpuRuntime::HandleSiteThunk, &thunks_, error)) return false;
  translator_ = std::make_unique<Translator>(*vcpu_.cache_, thunks_, stats_);
  translator_->set_guest_gprs(ctx_.gpr);
  translator_->set_lazy_flags_tables(ctx_.lazy_flags_desc, ctx_.lazy_flags_stub);
  translator_->set_precise_fault_flags(vcpu_.config_.precise_fault_flags);
  translator_->set_count_guest_insns(vcpu_.config_.count_guest_insns);
  if (vcpu_.config_.trace_threshold)
    translator_->set_trace_counters(ctx_.trace_counters, vcpu_.config_.trace_threshold);
  tlb_ = std::make_unique<InlineTlb>(ctx_);
  mapping_ = std::make_unique<MappingCaches>(ctx_, *tlb_, *vcpu_.cache_, thunks_, stats_,
                                             vcpu_.config_.shadow_spaces);
  vcpu_.cache_->AddFlushListener([this] {
    mapping_->OnCacheFlush();
    translator_->OnCacheFlush();
    string_insns_.clear();
    emulate_sites_.clear();
    last_block_ = nullptr;
    stats_.cache_flushes++;
  });
  stats_.cache_bytes_capacity = vcpu_.cache_->capacity();
  return InstallHostSignalHandlers(error);
}

void VcpuRuntime::FlushTranslations() {
  translator_->set_fpu_control(CurrentFpuControl());  // CR0/CR4 may have been set directly
  vcpu_.cache_->Flush();
  stats_.cache_flushes--;  // an explicit reset is not a flush for lack of room
  tlb_->FlushAll();
}

void VcpuRuntime::FlushAddressSpace() { mapping_->OnPagingModeChange(); }

void VcpuRuntime::WriteCr0(uint64_t v) {
  const bool paging_bits = (ctx_.cr0 ^ v) & ((1ull << 31) | (1ull << 16) | 1ull);  // PG, WP, PE
  ctx_.cr0 = v;
  if (paging_bits) mapping_->OnPagingModeChange();
  UpdateFpuControl();
}

void VcpuRuntime::WriteCr3(uint64_t v) {
  if (TraceOn(kLogMmu)) Tracer::Get().Printf("mmu: cr3 %016" PRIx64 " -> %016" PRIx64 "\n", ctx_.cr3, v);
  const uint64_t old = ctx_.cr3;
  ctx_.cr3 = v;
  mapping_->OnCr3Write(old, v);
}

void VcpuRuntime::WriteCr4(uint64_t v) {
  // Any change of PGE, PAE, PSE flushes everything, global pages included.
  const bool paging_bits = (ctx_.cr4 ^ v) & ((1ull << 7) | (1ull << 5) | (1ull << 4));
  const bool tsd = (ctx_.cr4 ^ v) & (1ull << 2);
  ctx_.cr4 = v;
  if (paging_bits) mapping_->OnPagingModeChange();
  if (tsd) UpdateTscMode();
  UpdateFpuControl();
}

void VcpuRuntime::InvalidatePage(uint64_t va) {
  if (TraceOn(kLogMmu)) Tracer::Get().Printf("mmu: invlpg %016" PRIx64 "\n", va);
  mapping_->OnInvlpg(va);
}

void VcpuRuntime::UpdateTscMode() {
  const bool native = ctx_.tsc_offset == 0 && !(ctx_.cr4 & (1ull << 2));
  if (native == translator_->native_rdtsc()) return;
  translator_->set_native_rdtsc(native);
  vcpu_.cache_->Flush();
}

// ---- Guest memory from the VMM's side. ----

bool VcpuRuntime::Translate(uint64_t va, AccessKind kind, uint64_t* pa, GuestFault* f, bool supervisor,
                            WalkResult* walk) {
  if (!IsCanonical(va)) {
    *f = GuestFault{kVecGP, 0, true, 0};
    return false;
  }
  WalkResult w = WalkPageTables(vcpu_.ram_, paging(), va, kind, user_mode() && !supervisor);
  if (walk) *walk = w;
  fetch_global_ = w.global;
  // Code lookups feed the jump cache and links: their walks must be watched.
  if (kind == AccessKind::kExecute) mapping_->RecordWalk(va, w);
  if (!w.ok) {
    *f = GuestFault{kVecPF, w.error_code, true, va};
    return false;
  }
  *pa = w.pa;
  return true;
}

bool VcpuRuntime::TranslateAndFill(uint64_t va, AccessKind kind, uint64_t* pa, GuestFault* f) {
  WalkResult w;
  if (!Translate(va, kind, pa, f, /*supervisor=*/false, &w)) return false;
  mapping_->RecordWalk(va, w);
  FillTlb(va, w, vcpu_.ram_.HostPtr(GuestPhysAddr(w.pa & ~0xfffull), 4096));
  return true;
}

void VcpuRuntime::FillTlb(uint64_t va, const WalkResult& w, uint8_t* host) {
  if (!host || (!watches_.empty() && PageWatched(va & ~0xfffull))) return;
  const uint64_t pa_page = w.pa & ~0xfffull;
  tlb_->Fill(priv(), va & ~0xfffull, pa_page, host, w.writable && w.dirty && !StoresTrap(pa_page), w.global,
             w.page_size);
}

bool VcpuRuntime::ReadVirt(uint64_t va, void* out, size_t n, GuestFault* f, AccessKind kind, bool supervisor) {
  uint8_t* dst = static_cast<uint8_t*>(out);
  // Translate every page first: a faulting access changes nothing.
  uint64_t pas[3];
  size_t pieces = 0;
  for (uint64_t v = va; v < va + n || pieces == 0; v = (v & ~0xfffull) + 4096) {
    if (pieces == 3) break;
    if (!Translate(v, kind, &pas[pieces], f, supervisor)) return false;
    ++pieces;
    if (((va + n - 1) & ~0xfffull) == (v & ~0xfffull)) break;
  }
  uint64_t v = va;
  size_t done = 0;
  for (size_t i = 0; i < pieces && done < n; ++i) {
    size_t chunk = std::min<size_t>(n - done, 4096 - (v & 0xfff));
    ReadPhys(pas[i], dst + done, chunk);
    done += chunk;
    v += chunk;
  }
  return true;
}

bool VcpuRuntime::WriteVirt(uint64_t va, const void* in, size_t n, GuestFault* f, bool supervisor) {
  const uint8_t* src = static_cast<const uint8_t*>(in);
  uint64_t pas[3];
  size_t pieces = 0;
  for (uint64_t v = va;; v = (v & ~0xfffull) + 4096) {
    if (pieces == 3) break;
    if (!Translate(v, AccessKind::kWrite, &pas[pieces], f, supervisor)) return false;
    ++pieces;
    if (((va + n - 1) & ~0xfffull) == (v & ~0xfffull)) break;
  }
  uint64_t v = va;
  size_t done = 0;
  for (size_t i = 0; i < pieces && done < n; ++i) {
    size_t chunk = std::min<size_t>(n - done, 4096 - (v & 0xfff));
    WritePhys(pas[i], src + done, chunk);
    done += chunk;
    v += chunk;
  }
  return true;
}

void VcpuRuntime::ReadPhys(uint64_t pa, void* out, size_t n) {
  if (vcpu_.ram_.Read(GuestPhysAddr(pa), std::span<uint8_t>(static_cast<uint8_t*>(out), n))) return;
  // Not RAM: a device, in naturally sized pieces, or all-ones.
  uint8_t* dst = static_cast<uint8_t*>(out);
  while (n) {
    const unsigned piece = n >= 8 && !(pa & 7) ? 8 : n >= 4 && !(pa & 3) ? 4 : n >= 2 && !(pa & 1) ? 2 : 1;
    uint64_t v = ~0ull;
    if (vcpu_.mmio_) {
      vcpu_.mmio_->Read(pa, piece, &v);
      stats_.mmio++;
    }
    std::memcpy(dst, &v, piece);
    dst += piece;
    pa += piece;
    n -= piece;
  }
}

void VcpuRuntime::WritePhys(uint64_t pa, const void* in, size_t n) {
  // A store into watched page tables: keep the entries before and after, so
  // that only those that changed in a way that matters drop anything.
  constexpr size_t kMaxWords = 9;  // a store of up to 64 bytes, unaligned
  uint64_t old_words[kMaxWords], new_words[kMaxWords];
  const uint64_t words_pa = pa & ~uint64_t{7};
  const size_t words = (pa + n - words_pa + 7) / 8;
  const uint8_t* words_host = nullptr;
  if (words <= kMaxWords && mapping_->TouchesPageTable(pa, n)) {
    words_host = vcpu_.ram_.HostPtr(GuestPhysAddr(words_pa), words * 8);
    if (words_host) std::memcpy(old_words, words_host, words * 8);
  }
  if (vcpu_.ram_.Write(GuestPhysAddr(pa), std::span<const uint8_t>(static_cast<const uint8_t*>(in), n))) {
    if (words_host) {
      std::memcpy(new_words, words_host, words * 8);
      mapping_->OnPhysicalWrite(pa, n, old_words, new_words);
      DropCodeAt(pa, n);
    } else {
      InvalidateCode(pa, n);
    }
    return;
  }
  const uint8_t* src = static_cast<const uint8_t*>(in);
  while (n) {
    const unsigned piece = n >= 8 && !(pa & 7) ? 8 : n >= 4 && !(pa & 3) ? 4 : n >= 2 && !(pa & 1) ? 2 : 1;
    uint64_t v = 0;
    std::memcpy(&v, src, piece);
    if (vcpu_.mmio_) {
      vcpu_.mmio_->Write(pa, piece, v);
      stats_.mmio++;
    }
    src += piece;
    pa += piece;
    n -= piece;
  }
}

bool VcpuRuntime::StoresTrap(uint64_t pa_page) const {
  return vcpu_.cache_->IsCodePage(pa_page) || mapping_->IsPageTable(pa_page);
}

void VcpuRuntime::InvalidateCode(uint64_t pa, size_t n) {
  // The store may also have changed page-table entries the caches depend on.
  mapping_->OnPhysicalWrite(pa, n);
  DropCodeAt(pa, n);
}

void VcpuRuntime::DropCodeAt(uint64_t pa, size_t n) {
  CodeCache& cache = *vcpu_.cache_;
  for (uint64_t page = pa & ~0xfffull; page < pa + n; page += 4096) {
    const std::vector<Block*>* blocks = cache.BlocksOnPage(page);
    if (!blocks) continue;
    // Copy: Invalidate edits the page's list.
    std::vector<Block*> victims;
    for (Block* b : *blocks)
      if (b->Overlaps(pa, n)) victims.push_back(b);  // only blocks whose bytes the store touches
    if (TraceOn(kLogMmu) && !victims.empty())
      Tracer::Get().Printf("mmu: store to code at pa=%" PRIx64 "+%zu drops %zu translations\n", pa, n, victims.size());
    for (Block* b : victims) {
      DropBlock(b);
      stats_.code_invalidations++;
    }
  }
}

void VcpuRuntime::DropBlock(Block* b) {
  if (b == running_) running_hit_ = true;  // the site handler must not resume in it
  mapping_->ForgetJumpCache(b);
  vcpu_.cache_->Invalidate(b);
}

void VcpuRuntime::DropFpuDependentCode() {
  for (const std::unique_ptr<Block>& b : vcpu_.cache_->blocks())
    if (b->valid && b->depends_on_fpu_control) DropBlock(b.get());  // (Invalidate leaves blocks() alone)
}

bool VcpuRuntime::DecodeAt(uint64_t rip, DecodedInsn* d, GuestFault* f) {
  uint8_t bytes[15];
  // Fetch what is readable: an instruction may end before an unmapped page.
  const size_t first = std::min<size_t>(15, 4096 - (rip & 0xfff));
  if (!ReadVirt(rip, bytes, first, f, AccessKind::kExecute)) return false;
  Decoder::Status st = decoder_.Decode(bytes, first, rip, d);
  if (st == Decoder::Status::kNeedMoreBytes && first < 15) {
    if (!ReadVirt(rip + first, bytes + first, 15 - first, f, AccessKind::kExecute)) return false;
    st = decoder_.Decode(bytes, 15, rip, d);
  }
  if (st != Decoder::Status::kOk) {
    *f = GuestFault{kVecUD, 0, false, 0};
    return false;
  }
  return true;
}

// ---- Exceptions. ----

void VcpuRuntime::Raise(const GuestFault& f) {
  exception_pending_ = true;
  pending_event_ = GuestEvent{f.vector, EventKind::kException, f.has_error, f.error_code, f.cr2};
}

void VcpuRuntime::RaiseSoftware(uint8_t vector, uint64_t insn_rip, bool privileged) {
  exception_pending_ = true;
  pending_event_ =
      GuestEvent{vector, privileged ? EventKind::kPrivileged : EventKind::kSoftware, false, 0, 0, insn_rip};
}

void VcpuRuntime::MakePrecise(uint16_t displaced, bool flags_saved) {
  for (unsigned r = 0; r < 16; ++r)
    if (displaced & (1u << r)) ctx_.gpr[r] = ctx_.spill[r];
  if (flags_saved) ctx_.rflags = (ctx_.rflags & ~kArithFlags) | SavedArithFlags(ctx_);
}

std::string VcpuRuntime::FatalExceptionMessage() const {
  static const char* const kNames[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09",
                                         "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
                                         "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
                                         "#SX", "#31"};
  char line[200];
  const GuestEvent& f = pending_event_;
  if (f.vector < 32)
    std::snprintf(line, sizeof line, "unhandled guest exception %s (vector %u)", kNames[f.vector], f.vector);
  else
    std::snprintf(line, sizeof line, "unhandled guest interrupt %u", f.vector);
  std::string out = line;
  if (f.has_error) {
    std::snprintf(line, sizeof line, ", error code %#x", f.error_code);
    out += line;
  }
  if (f.vector == kVecPF) {
    std::snprintf(line, sizeof line, ", CR2=%#" PRIx64, f.cr2);
    out += line;
  }
  std::snprintf(line, sizeof line, " at RIP=%#" PRIx64 "\n", ctx_.rip);
  out += line;
  out += vcpu_.DumpRegisters();
  return out;
}

// ---- Finding and running translations. ----

Block* VcpuRuntime::FindOrTranslate(uint64_t rip, bool single_step) {
  // Rings 1 and 2 share the supervisor translations, whose inline cli/sti
  // skip the IOPL check that applies there. No mainstream OS runs code in
  // them: the first time a guest does, supervisor code is retranslated with
  // cli/sti going to the VMM, for the rest of the run.
  if ((ctx_.cpl == 1 || ctx_.cpl == 2) && !translator_->strict_iopl()) {
    translator_->set_strict_iopl(true);
    vcpu_.cache_->Flush();
  }
  const PrivClass p = priv();
  // The jump cache knows recent VA -> block mappings.
  if (!single_step)
    if (Block* b = mapping_->LookupJumpCache(rip, p)) return b;
  uint64_t pa;
  GuestFault f;
  if (!Translate(rip, AccessKind::kExecute, &pa, &f)) {
    ctx_.rip = rip;
    Raise(f);
    return nullptr;
  }
  CodeCache& cache = *vcpu_.cache_;
  const uint64_t key = BlockKey(pa, p) ^ (single_step ? kSingleStepKeyBit : 0);
  if (Block* b = cache.Lookup(key); b && b->guest_rip == rip) {
    if (!single_step) mapping_->FillJumpCache(b);
    return b;
  }
  auto fetch = [this](uint64_t va_page) { return FetchCodePage(va_page); };
  for (int attempt = 0; attempt < 2; ++attempt) {
    TranslateResult r = translator_->Translate(rip, p, fetch, single_step);
    if (r.kind == TranslateResult::Kind::kOk) {
      Adopt(r.block, p, single_step);
      if (!single_step && !TraceOn(kLogExec | kLogCpu | kLogNoChain)) TranslateLoopExit(*r.block, p);
      return r.block;
    }
    if (r.kind == TranslateResult::Kind::kFetchFault) {
      ctx_.rip = rip;
      Raise(GuestFault{kVecPF, r.pf_error, true, r.fault_va});
      return nullptr;
    }
    cache.Flush();
  }
  std::fprintf(stderr, "xlat: the block at %#" PRIx64 " does not fit in an empty code cache; use a larger -accel tcg,tb-size\n", rip);
  vcpu_.RequestExit(1);
  return nullptr;
}

CodePage VcpuRuntime::FetchCodePage(uint64_t va_page) {
  CodePage cp;
  GuestFault ff;
  uint64_t page_pa;
  if (!Translate(va_page, AccessKind::kExecute, &page_pa, &ff)) {
    cp.pf_error = ff.error_code;
    return cp;
  }
  cp.host = vcpu_.ram_.HostPtr(GuestPhysAddr(page_pa), 4096);
  if (!cp.host) {
    // Executing from outside RAM: fetch reads all-ones.
    static const std::array<uint8_t, 4096> kOnes = [] {
      std::array<uint8_t, 4096> a;
      a.fill(0xff);
      return a;
    }();
    cp.host = kOnes.data();
  }
  cp.pa = page_pa;
  cp.ok = true;
  cp.global = fetch_global_;
  return cp;
}

void VcpuRuntime::Adopt(Block* b, PrivClass p, bool single_step) {
  CodeCache& cache = *vcpu_.cache_;
  if (Tracer::Get().perf_map()) Tracer::Get().AddPerfMapEntry(b->host_code, b->host_size, b->guest_rip);
  // (-dfilter: a block that runs an instruction in range, wherever it
  // starts: it may have followed a jmp into the range.)
  auto traced = [&] {
    for (uint64_t insn_rip : b->insn_rips)
      if (Tracer::Get().Passes(insn_rip, ctx_.cpl)) return true;
    return false;
  };
  if (TraceOn(kLogInAsm | kLogOutAsm) && traced()) {
    std::vector<uint8_t> guest(b->guest_size);
    GuestFault ignored;
    size_t at = 0;
    for (size_t i = 0; i < b->insn_rips.size() && i < b->insn_lens.size(); ++i) {
      const size_t len = std::min<size_t>(b->insn_lens[i], guest.size() - at);
      ReadVirt(b->insn_rips[i], guest.data() + at, len, &ignored, AccessKind::kExecute);
      at += len;
    }
    Tracer& t = Tracer::Get();
    if (TraceOn(kLogInAsm)) t.Write(DumpBlockInAsm(*b, guest.data(), [&t](uint64_t va) { return t.Symbol(va); }));
    if (TraceOn(kLogOutAsm)) t.Write(DumpBlockOutAsm(*b, guest.data()));
  }
  // Stores to a page that now holds code must leave the fast path. (A
  // page that already held code lost its write tags then, and fills
  // check IsCodePage.) The block itself is on the page list already.
  b->ForEachPage([&](uint64_t page) {
    const std::vector<Block*>* on_page = cache.BlocksOnPage(page);
    if (on_page && on_page->size() == 1) tlb_->RevokeWrite(page);
  });
  if (single_step) return;
  mapping_->FillJumpCache(b);
  // Exits to code already translated are linked now rather than at
  // their first run, a round trip to the VMM each (half the branch
  // exits of a Linux boot): the jump cache knows the recent targets of
  // this address space, and is what that first run would consult.
  if (TraceOn(kLogExec | kLogCpu | kLogNoChain)) return;
  for (BlockExit& x : b->exits)
    if (Block* to = mapping_->LookupJumpCache(x.guest_target, p); to && !to->single_step) LinkExit(x, to);
}

void VcpuRuntime::LinkExit(BlockExit& exit, Block* to) {
  mapping_->Link(exit, to);
  stats_.links_made++;
  if (exit.SkipsSpillsTo(*to)) stats_.links_past_spills++;
}

void VcpuRuntime::TranslateLoopExit(Block& b, PrivClass p) {
  // A loop runs its exit once it is done, and that first run, if it comes
  // as a branch exit, pays for the translation between two instructions of
  // the guest. Code that times a loop (Linux's PIT calibration measures the
  // TSC across a loop's exit and gives up if that took more than a few
  // microseconds) sees a hiccup there that hardware does not have.
  const uint64_t exit = b.loop_exit;
  if (!exit || mapping_->LookupJumpCache(exit, p)) return;
  uint64_t pa;
  GuestFault ignored;
  if (!Translate(exit, AccessKind::kExecute, &pa, &ignored)) return;  // (the run raises it, if it gets there)
  CodeCache& cache = *vcpu_.cache_;
  Block* to = cache.Lookup(BlockKey(pa, p));
  if (to && to->guest_rip == exit) {
    mapping_->FillJumpCache(to);
  } else {
    // Not on a full cache: a flush now would take the loop's block with it.
    TranslateResult r = translator_->Translate(exit, p, [this](uint64_t va_page) { return FetchCodePage(va_page); },
                                               /*single_step=*/false);
    if (r.kind != TranslateResult::Kind::kOk) return;
    stats_.loop_exits_ahead++;
    to = r.block;
    Adopt(to, p, /*single_step=*/false);
  }
  for (BlockExit& x : b.exits)
    if (x.guest_target == exit && !x.linked_to && !to->single_step) LinkExit(x, to);
}

namespace {

thread_local VcpuRuntime* g_running = nullptr;

// The vCPU thread's GS base points at the context while Run() runs.
bool SetGsBase(uint64_t v) { return syscall(SYS_arch_prctl, ARCH_SET_GS, v) == 0; }

}  // namespace

VcpuRuntime* CurrentRuntime() { return g_running; }

RunOutcome VcpuRuntime::Run() {
  RunOutcome out;
  // A run that starts on a breakpoint (or a watched read) executes that instruction first.
  if (breakpoints_.count(ctx_.rip)) resume_over_breakpoint_ = ctx_.rip;
  ignore_watch_rip_ = ignore_watch_once_ ? ctx_.rip : ~0ull;
  std::string err;
  if (!PrepareThreadForGuest(&err) || !SetGsBase(reinterpret_cast<uint64_t>(&ctx_))) {
    out.kind = RunOutcome::Kind::kError;
    out.message = err.empty() ? "cannot point GS at the vCPU context" : err;
    return out;
  }
  g_running = this;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t run_tsc0 = __rdtsc();
  uint64_t exit_tsc = 0;  // when translated code last exited (0: not yet in this Run)
  unsigned last_exit_reason = 0;
  CodeCache& cache = *vcpu_.cache_;
  for (;;) {
    if (vcpu_.exit_requested_) {
      vcpu_.exit_requested_ = false;
      out.kind = vcpu_.exit_kind_;
      out.exit_status = vcpu_.exit_status_;
      out.message = vcpu_.exit_message_;
      break;
    }
    if (vcpu_.stop_requested_.load(std::memory_order_relaxed)) {
      vcpu_.stop_requested_ = false;
      mprotect(ctx_.poll_page, sizeof(ctx_.poll_page), PROT_READ | PROT_WRITE);
      out.kind = RunOutcome::Kind::kStopped;
      out.message = "stopped";
      break;
    }
    if (vcpu_.kicked_.exchange(false, std::memory_order_acq_rel)) {
      // Let translated code run again, then see what the kick was for.
      mprotect(ctx_.poll_page, sizeof(ctx_.poll_page), PROT_READ | PROT_WRITE);
      if (vcpu_.on_kick_) vcpu_.on_kick_();
      if (vcpu_.clock_) RunTimers();
      if (Tracer::Get().TakeDumpRequest()) {
        // SIGUSR1: what the guest was doing, without stopping it.
        Tracer::Get().DumpFlightRecorder("SIGUSR1");
        std::fprintf(stderr, "xlat: SIGUSR1: guest state\n%s", vcpu_.DumpRegisters().c_str());
      }
    }
    if (exception_pending_) {
      if (!DeliverPending(&out)) break;
      continue;
    }
    // A debugger's stop comes first: before an interrupt is taken, and even
    // while the guest sleeps in hlt (it stays halted).
    if (vcpu_.debug_stop_requested_.exchange(false, std::memory_order_acq_rel)) {
      out.kind = RunOutcome::Kind::kDebugStop;
      out.debug_reason = RunOutcome::DebugReason::kInterrupt;
      break;
    }
    // A debugger's single step runs the next instruction, not an interrupt
    // handler (QEMU masks interrupts while gdb steps, too).
    // The shadow of sti (or mov ss) covers one instruction: when an interrupt
    // is already waiting, just that instruction runs, and the interrupt is
    // taken after it. (Running on to the end of a block could reach a cli,
    // and the interrupt would wait for the next sti, and its shadow, again:
    // with syscall and sysret inline, exits with IF set are too rare to
    // rely on.)
    bool shadow_step = false;
    if (interrupt_shadow_) {
      interrupt_shadow_ = false;
      shadow_step = (ctx_.rflags & kFlagIF) && vcpu_.irq_source_ && vcpu_.irq_source_->HasPending();
    } else if (!debug_single_step_) {
      TakeInterrupt();
    }
    UpdateIrqPoll();
    if (vcpu_.hang_timeout_ns_ && !CheckHang(&out)) break;
    if (halted_) {
      if (!WaitInHalt(&out)) break;
      continue;
    }
    if (watch_hit_) {
      watch_hit_ = false;
      out.kind = RunOutcome::Kind::kDebugStop;
      out.debug_reason = RunOutcome::DebugReason::kWatchpoint;
      out.debug_address = watch_address_;
      break;
    }
    if (!breakpoints_.empty() && breakpoints_.count(ctx_.rip) && ctx_.rip != resume_over_breakpoint_ &&
        ctx_.rip != ignore_watch_rip_) {
      out.kind = RunOutcome::Kind::kDebugStop;
      out.debug_reason = RunOutcome::DebugReason::kBreakpoint;
      break;
    }
    // With TF set (or a debugger stepping, or leaving a breakpoint), one
    // instruction at a time; TF traps with #DB after each.
    const bool leaving_breakpoint = ctx_.rip == resume_over_breakpoint_ || ignore_watch_once_;
    resume_over_breakpoint_ = ~0ull;
    const bool debug_step = debug_single_step_;
    const bool tf_at_start = ctx_.rflags & kFlagTF;
    if (recording_.active) RecordTraceStep();
    const bool single_step = tf_at_start || debug_step || leaving_breakpoint || shadow_step || recording_.active;
    Block* b = FindOrTranslate(ctx_.rip, single_step);
    if (!b) continue;
    last_block_ = b;
    if (TraceOn(kLogExec | kLogCpu) && Tracer::Get().Passes(ctx_.rip, ctx_.cpl)) TraceBlockEntry(b);
    ctx_.entry_target = reinterpret_cast<uint64_t>(b->entry);
    BeforeGuestEntry();
    SyncFlagsToGuest();
    const uint64_t enter_tsc = __rdtsc();
    if (exit_tsc != 0 && last_exit_reason < static_cast<unsigned>(ExitReason::kCount))
      ticks_exit_[last_exit_reason] += enter_tsc - exit_tsc;  // from the last exit until now
    thunks_.enter_guest();
    exit_tsc = __rdtsc();
    ticks_in_guest_ += exit_tsc - enter_tsc;
    SyncFlagsFromGuest();
    TranslateFpuInstructionPointer();  // before HandleExit may flush the code cache
    uint64_t exits_before[static_cast<unsigned>(ExitReason::kCount)];
    std::memcpy(exits_before, stats_.exits, sizeof exits_before);
    HandleExit();
    // The exit's reason is the counter HandleExit bumped.
    for (unsigned r = 0; r < static_cast<unsigned>(ExitReason::kCount); ++r)
      if (stats_.exits[r] != exits_before[r]) last_exit_reason = r;
    if (leaving_breakpoint && !watch_hit_) ignore_watch_once_ = false;
    if (debug_step) {
      // A debugger's step: stop after the instruction (or at the handler of
      // the exception it raised, once delivered).
      if (exception_pending_ && !DeliverPending(&out)) break;
      out.kind = RunOutcome::Kind::kDebugStop;
      out.debug_reason = RunOutcome::DebugReason::kStep;
      break;
    }
    if (StepTrapDue(tf_at_start)) {
      ctx_.dr[6] |= 1ull << 14;  // BS
      Raise(kVecDB);
    }
  }
  const uint64_t run_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  stats_.run_ns += run_ns;
  ticks_run_ += __rdtsc() - run_tsc0;
  ns_run_ += run_ns;
  PublishTimes();
  stats_.cache_bytes_used = cache.used();
  stats_.tlb_fills = tlb_->fills();
  stats_.guest_insns = ctx_.guest_insns_entered;
  stats_.inline_syscalls = ctx_.inline_syscalls;
  stats_.inline_sysrets = ctx_.inline_sysrets;
  stats_.inline_string_ops = ctx_.inline_string_ops;
  g_running = nullptr;
  SetGsBase(0);
  return out;
}

void VcpuRuntime::OnSignalExit(const GuestFault* fault) {
  ctx_.site = kSignalSite;
  if (fault) {
    Raise(*fault);
    stats_.host_signals++;
  } else {
    // A poll: whatever protected the page is dealt with as a kick. It
    // faulted at a block's head: no instruction ran, none is stepped over.
    step_trap_ = StepTrap::kNone;
    vcpu_.kicked_.store(true, std::memory_order_release);
    stats_.exits[static_cast<unsigned>(ExitReason::kPoll)]++;
  }
}

void VcpuRuntime::TraceBlockEntry(const Block* b) {
  Tracer& t = Tracer::Get();
  if (TraceOn(kLogExec)) {
    const std::string sym = t.Symbol(ctx_.rip);
    t.Printf("exec: rip=%016" PRIx64 " cpl=%u cr3=%016" PRIx64 " host=%p%s%s\n", ctx_.rip, ctx_.cpl, ctx_.cr3,
             static_cast<void*>(b->host_code), sym.empty() ? "" : " ", sym.c_str());
  }
  if (TraceOn(kLogCpu)) t.Write(vcpu_.DumpRegisters());
}

bool VcpuRuntime::DeliverPending(RunOutcome* out) {
  exception_pending_ = false;
  const GuestEvent ev = pending_event_;
  if (TraceOn(kLogInt) && Tracer::Get().Passes(ctx_.rip, ctx_.cpl)) {
    static const char* const kKinds[] = {"exception", "interrupt", "software interrupt", "int1"};
    char cr2[40] = "";
    if (ev.vector == kVecPF) std::snprintf(cr2, sizeof cr2, " cr2=%016" PRIx64, ev.cr2);
    const std::string sym = Tracer::Get().Symbol(ctx_.rip);
    Tracer::Get().Printf("int: vector=%u (%s)%s%s rip=%016" PRIx64 " cpl=%u%s%s%s\n", ev.vector,
                         kKinds[static_cast<unsigned>(ev.kind)], ev.has_error ? " error=" : "",
                         ev.has_error ? std::to_string(ev.error_code).c_str() : "", ctx_.rip, ctx_.cpl, cr2,
                         sym.empty() ? "" : " ", sym.c_str());
  }
  halted_ = false;
  if (ev.kind != EventKind::kExternal) stats_.exceptions[ev.vector & 31]++;
  if (ctx_.idtr_limit == 0) {
    // No IDT: a bare-metal program without handlers. The CPU would shut
    // down; report the exception itself, which is what helps.
    ctx_.exc_vector = ev.vector;
    ctx_.exc_error_code = ev.error_code;
    ctx_.exc_has_error = ev.has_error;
    ctx_.exc_cr2 = ev.cr2;
    if (ev.vector == kVecPF) ctx_.cr2 = ev.cr2;
    out->kind = RunOutcome::Kind::kFatalException;
    out->message = FatalExceptionMessage();
    return false;
  }
  if (DeliverEvent(*this, ev) == DeliveryResult::kDelivered) return true;
  stats_.triple_faults++;
  if (vcpu_.on_triple_fault_ && vcpu_.on_triple_fault_()) return true;  // the machine was reset
  out->kind = RunOutcome::Kind::kTripleFault;
  out->message = "triple fault while delivering " + FatalExceptionMessage();
  return false;
}

bool VcpuRuntime::TakeInterrupt() {
  if (!(ctx_.rflags & kFlagIF) || !vcpu_.irq_source_ || !vcpu_.irq_source_->HasPending()) return false;
  const int vector = vcpu_.irq_source_->Acknowledge();
  if (vector < 0) return false;
  halted_ = false;
  stats_.interrupts++;
  RunOutcome ignored;
  pending_event_ = GuestEvent{static_cast<uint8_t>(vector), EventKind::kExternal, false, 0, 0};
  return DeliverPending(&ignored);
}

bool VcpuRuntime::WaitInHalt(RunOutcome* out) {
  if (!(ctx_.rflags & kFlagIF)) {
    halted_ = false;
    out->kind = RunOutcome::Kind::kHalted;
    char line[80];
    std::snprintf(line, sizeof line, "guest halted with interrupts disabled at rip %#" PRIx64, ctx_.rip);
    out->message = line;
    return false;
  }
  // Sleep until a kick (an interrupt source, host input, a stop request) or
  // the next timer deadline.
  uint64_t deadline = vcpu_.clock_ ? RunTimers() : Clock::kNever;
  const auto t0 = std::chrono::steady_clock::now();  // idle from here: the timers count as device time
  if (vcpu_.kicked_.load(std::memory_order_acquire) || vcpu_.exit_requested_ || vcpu_.stop_requested_) return true;
  if (TakeInterrupt()) return true;
  int timeout_ms = -1;
  if (deadline != Clock::kNever) {
    const uint64_t now = vcpu_.clock_->NowNs();
    timeout_ms = deadline > now ? static_cast<int>(std::min<uint64_t>((deadline - now + 999999) / 1000000, 1000)) : 0;
  }
  if (!vcpu_.clock_ && !vcpu_.irq_source_) {
    // Nothing can ever wake this CPU.
    halted_ = false;
    out->kind = RunOutcome::Kind::kHalted;
    char line[80];
    std::snprintf(line, sizeof line, "guest halted at rip %#" PRIx64 ", and no device can interrupt it", ctx_.rip);
    out->message = line;
    return false;
  }
  pollfd pfd{vcpu_.wake_fd_, POLLIN, 0};
  poll(&pfd, 1, timeout_ms);
  uint64_t drained;
  while (read(vcpu_.wake_fd_, &drained, sizeof drained) > 0) {
  }
  stats_.idle_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  return true;
}

void VcpuRuntime::HandleExit() {
  CodeCache& cache = *vcpu_.cache_;
  if (TraceOn(kLogExits)) TraceExit("exit");
  if (ctx_.site == kSignalSite) return;  // state and pending exception already set
  if (ctx_.site == kTraceHeadSite) {
    stats_.exits[static_cast<unsigned>(ExitReason::kTraceHead)]++;
    StartTraceRecording();
    return;  // ctx.rip is the block's address
  }
  if (ctx_.site == kLookupMissSite) {
    stats_.exits[static_cast<unsigned>(ExitReason::kLookupMiss)]++;
    if (!IsCanonical(ctx_.rip)) RaiseNonCanonicalBranch(LastBlockEntered());
    return;  // ctx.rip is the target; the loop translates it and fills the jump cache
  }
  if (ctx_.site >= cache.site_count()) {
    std::fprintf(stderr, "xlat: internal error: exit from unknown site %u\n", ctx_.site);
    vcpu_.RequestExit(1);
    return;
  }
  Site& s = cache.site(ctx_.site);
  switch (s.kind) {
    case SiteKind::kBranchExit: {
      stats_.exits[static_cast<unsigned>(ExitReason::kBranch)]++;
      ctx_.rip = s.target;
      if (!IsCanonical(s.target)) return RaiseNonCanonicalBranch(s.block);
      Block* from = s.block;
      if (from->single_step) return;  // (never linked: the next step translates its own)
      const uint32_t exit_index = s.exit_index;
      const uint64_t flushes = cache.flush_count();
      Block* to = FindOrTranslate(s.target);
      // Link unless the cache was flushed meanwhile (the exit is gone) or
      // either end was invalidated.
      // (Tracing every block entry keeps every exit going to the dispatcher.)
      if (to && cache.flush_count() == flushes && from->valid && to->valid && to->priv == from->priv &&
          !from->single_step && !to->single_step && !TraceOn(kLogExec | kLogCpu | kLogNoChain)) {
        LinkExit(from->exits[exit_index], to);
      }
      return;
    }
    case SiteKind::kLookupMiss:
    case SiteKind::kEmulate: {
      stats_.exits[static_cast<unsigned>(ExitReason::kEmulate)]++;
      ctx_.rip = s.guest_rip;
      auto it = emulate_sites_.find(ctx_.site);
      if (it == emulate_sites_.end()) {
        EmulateSite e;
        GuestFault f;
        if (!DecodeAt(ctx_.rip, &e.d, &f)) return Raise(f);
        e.count = EmulatedInsnNameIsFixed(e.d) ? &stats_.emulated_by_mnemonic[EmulatedInsnName(e.d, 0)] : nullptr;
        it = emulate_sites_.emplace(ctx_.site, e).first;
      }
      // A copy: the emulation may flush the code cache (a CR4 write), which
      // empties emulate_sites_.
      const EmulateSite site = it->second;
      EmulateDecoded(*this, site.d, site.count);
      return;
    }
    case SiteKind::kRaise:
      stats_.exits[static_cast<unsigned>(ExitReason::kException)]++;
      ctx_.rip = s.guest_rip;
      // #UD, #NM, or #GP(0) for an instruction over 15 bytes.
      Raise(GuestFault{s.vector, 0, s.vector == kVecGP, 0});
      return;
    case SiteKind::kMemSlow:
    case SiteKind::kMemPost:
    case SiteKind::kMemGroup:
    case SiteKind::kString:
      // A vmm_call that chose to leave: an exception, or the running block
      // was invalidated. HandleSite already set everything.
      return;
    case SiteKind::kFetchFault:
    case SiteKind::kDebugBreak:
      ctx_.rip = s.guest_rip;
      return;
  }
}

// ---- Sites that call the VMM in the middle of a block. ----

void VcpuRuntime::TraceExit(const char* how) {
  static const char* const kSiteKinds[] = {"branch", "lookup_miss", "emulate", "raise", "mem_slow",
                                           "mem_post", "mem_group", "string", "fetch_fault", "debug_break"};
  CodeCache& cache = *vcpu_.cache_;
  const char* what = ctx_.site == kSignalSite        ? "signal"
                     : ctx_.site == kLookupMissSite  ? "lookup_miss"
                     : ctx_.site == kTraceHeadSite   ? "trace_head"
                     : ctx_.site < cache.site_count() ? kSiteKinds[static_cast<unsigned>(cache.site(ctx_.site).kind)]
                                                      : "?";
  const uint64_t rip = ctx_.site < cache.site_count() ? cache.site(ctx_.site).guest_rip : ctx_.rip;
  if (!Tracer::Get().Passes(rip, ctx_.cpl)) return;
  Tracer::Get().Printf("%s: %s at rip=%016" PRIx64 " cpl=%u\n", how, what, rip, ctx_.cpl);
}

uint32_t VcpuRuntime::HandleSiteThunk(VcpuContext* ctx) {
  VcpuRuntime* rt = static_cast<VcpuRuntime*>(ctx->owner);
  const uint64_t t0 = __rdtsc(), devices0 = rt->DeviceTicks();
  rt->SyncFlagsFromGuest();
  if (TraceOn(kLogExits)) rt->TraceExit("vmm_call");
  const uint32_t action = rt->HandleSite(ctx->site);
  if (action == static_cast<uint32_t>(HelperAction::kResume)) rt->SyncFlagsToGuest();
  rt->ticks_callouts_ += __rdtsc() - t0;
  rt->ticks_callout_devices_ += rt->DeviceTicks() - devices0;
  return action;
}

uint64_t VcpuRuntime::DeviceTicks() const {
  return vcpu_.ports_.busy_ticks() + (vcpu_.mmio_ ? vcpu_.mmio_->busy_ticks() : 0) + ticks_timers_;
}

uint64_t VcpuRuntime::RunTimers() {
  const uint64_t t0 = __rdtsc();
  const uint64_t deadline = vcpu_.clock_->RunExpired();
  ticks_timers_ += __rdtsc() - t0;
  return deadline;
}

void VcpuRuntime::PublishTimes() {
  if (!ticks_run_) return;
  const double ns_per_tick = static_cast<double>(ns_run_) / static_cast<double>(ticks_run_);
  auto ns = [ns_per_tick](uint64_t ticks) { return static_cast<uint64_t>(static_cast<double>(ticks) * ns_per_tick); };
  stats_.guest_code_ns = ns(ticks_in_guest_ - ticks_callouts_);
  stats_.callout_ns = ns(ticks_callouts_ - ticks_callout_devices_);
  stats_.device_ns = ns(DeviceTicks());
  for (unsigned r = 0; r < static_cast<unsigned>(ExitReason::kCount); ++r) stats_.exit_ns[r] = ns(ticks_exit_[r]);
}

void VcpuRuntime::SetBreakpoint(uint64_t va, bool on) {
  if (on ? breakpoints_.insert(va).second : breakpoints_.erase(va) != 0) {
    // Translations end before breakpoints: redo them.
    translator_->set_breakpoints(breakpoints_.empty() ? nullptr : &breakpoints_);
    FlushTranslations();
  }
}

void VcpuRuntime::SetWatchpoint(uint64_t va, uint64_t len, WatchKind kind, bool on) {
  if (on) {
    watches_.push_back({va, len ? len : 1, kind});
  } else {
    for (size_t i = 0; i < watches_.size(); ++i)
      if (watches_[i].va == va && watches_[i].kind == kind) {
        watches_.erase(watches_.begin() + static_cast<long>(i));
        break;
      }
  }
  // Accesses to watched pages must take the slow path, where they are checked.
  tlb_->FlushAll();
  FlushTranslations();  // access groups would share one check
}

bool VcpuRuntime::Watched(uint64_t va, uint64_t n, AccessKind kind) const {
  for (const Watch& w : watches_) {
    const bool kind_ok = kind == AccessKind::kWrite ? (static_cast<unsigned>(w.kind) & 1) != 0
                                                    : (static_cast<unsigned>(w.kind) & 2) != 0;
    if (kind_ok && va < w.va + w.len && w.va < va + n) return true;
  }
  return false;
}

bool VcpuRuntime::PageWatched(uint64_t va_page) const {
  for (const Watch& w : watches_)
    if (va_page < ((w.va + w.len + 4095) & ~0xfffull) && (w.va & ~0xfffull) <= va_page) return true;
  return false;
}

// Reschedules itself for ever (a closure that owned itself would leak).
static void ScheduleWatchdogTick(Clock* clock) {
  clock->Schedule(clock->NowNs() + 250000000, [clock] { ScheduleWatchdogTick(clock); });
}

bool VcpuRuntime::CheckHang(RunOutcome* out) {
  Clock* clock = vcpu_.clock_;
  if (!clock) return true;
  if (!watchdog_armed_) {
    // A quarter-second tick makes sure a guest spinning in translated code
    // is looked at.
    watchdog_armed_ = true;
    ScheduleWatchdogTick(clock);
  }
  if (ctx_.rflags & kFlagIF) {
    interrupts_enabled_once_ = true;
    masked_since_ns_ = 0;
    return true;
  }
  if (!interrupts_enabled_once_) return true;
  const uint64_t now = clock->NowNs();
  if (!masked_since_ns_) masked_since_ns_ = now;
  if (now - masked_since_ns_ < vcpu_.hang_timeout_ns_) return true;
  out->kind = RunOutcome::Kind::kHung;
  char msg[200];
  std::snprintf(msg, sizeof msg,
                "the guest has kept interrupts disabled for %.1f s (a kernel panic, or a hang) at RIP=%#" PRIx64,
                (now - masked_since_ns_) / 1e9, ctx_.rip);
  out->message = msg;
  return false;
}

void VcpuRuntime::UpdateIrqPoll() {
  // While an interrupt waits for IF, an inline sti must leave translated code.
  const bool waiting = !(ctx_.rflags & kFlagIF) && vcpu_.irq_source_ && vcpu_.irq_source_->HasPending();
  if (waiting == (ctx_.irq_waiting != 0)) return;
  mprotect(ctx_.irq_poll_page, sizeof(ctx_.irq_poll_page), waiting ? PROT_READ : PROT_READ | PROT_WRITE);
  ctx_.irq_waiting = waiting ? 1 : 0;
}

void VcpuRuntime::OnStiPoll() {
  ctx_.site = kSignalSite;
  DecodedInsn d;
  GuestFault ignored;
  if (DecodeAt(ctx_.rip, &d, &ignored)) ctx_.rip = d.next_rip();
  interrupt_shadow_ = true;
  vcpu_.kicked_.store(true, std::memory_order_release);
  stats_.exits[static_cast<unsigned>(ExitReason::kPoll)]++;
}

uint32_t VcpuRuntime::HandleSite(uint32_t site_id) {
  Site& s = vcpu_.cache_->site(site_id);
  running_ = s.block;
  running_hit_ = false;
  const uint64_t revocations = tlb_->revocations();
  uint32_t action;
  switch (s.kind) {
    case SiteKind::kMemSlow: action = HandleMemSlow(s); break;
    case SiteKind::kMemPost: action = HandleMemPost(s); break;
    case SiteKind::kMemGroup: action = HandleMemGroup(s); break;
    case SiteKind::kString: action = HandleString(s); break;
    default:
      std::fprintf(stderr, "xlat: internal error: vmm_call from site kind %d\n", static_cast<int>(s.kind));
      vcpu_.RequestExit(1);
      return static_cast<uint32_t>(HelperAction::kExit);
  }
  if (action == static_cast<uint32_t>(HelperAction::kResume) && tlb_->revocations() != revocations)
    return LeaveAfterRevocation(s);
  return action;
}

uint32_t VcpuRuntime::LeaveAfterRevocation(const Site& s) {
  // The handler took write access away from some page (it became a
  // page-table page or code). The block may hold the host address of that
  // page in a register, checked for writing before (an access group, or one
  // checked before a loop): resuming it could store there unseen. So the
  // guest goes on from the dispatcher instead, at the same point, and every
  // check is made again. (Rare: a walk that finds a new page-table page.)
  stats_.revocation_leaves++;
  watch_post_pending_ = false;
  switch (s.kind) {
    case SiteKind::kMemSlow:
    case SiteKind::kMemGroup:
      // Before the instruction (or the group's first member): it runs again.
      MakePrecise(s.displaced, s.flags_saved);
      ctx_.rip = s.guest_rip;
      break;
    case SiteKind::kMemPost:
      MakePrecise(s.displaced, s.flags_saved);
      ctx_.rip = s.next_rip;
      break;
    default:  // kString: done; its handler put the scratch values back
      for (unsigned r = 0; r < kGprCount; ++r)
        if (s.displaced & (1u << r)) ctx_.gpr[r] = ctx_.spill[r];
      ctx_.rip = s.next_rip;
      break;
  }
  return static_cast<uint32_t>(HelperAction::kExit);
}

uint32_t VcpuRuntime::HandleMemSlow(Site& s) {
  stats_.tlb_misses++;
  const uint64_t va = ctx_.gpr[s.addr_reg];
  const bool write = s.access & kAccessWrite;
  const AccessKind kind = write ? AccessKind::kWrite : AccessKind::kRead;
  const uint64_t last = va + s.size - 1;
  const bool crosses = (va & ~0xfffull) != (last & ~0xfffull);
  GuestFault f;
  auto fail = [&]() {
    MakePrecise(s.displaced, s.flags_saved);
    ctx_.rip = s.guest_rip;
    // A non-canonical address: #SS(0) for a reference through SS.
    if (f.vector == kVecGP && (s.addr_reg == kRsp || ThroughStackSegment(s.guest_rip, va))) f.vector = kVecSS;
    Raise(f);
    return static_cast<uint32_t>(HelperAction::kExit);
  };
  if (!IsCanonical(va) || !IsCanonical(last) || last < va) {
    f = GuestFault{kVecGP, 0, true, 0};
    return fail();
  }
  if (s.align > 1 && (va & (s.align - 1))) {
    // A misaligned movaps and the like: #GP(0), even through SS, and before
    // any page walk.
    MakePrecise(s.displaced, s.flags_saved);
    ctx_.rip = s.guest_rip;
    Raise(GuestFault{kVecGP, 0, true, 0});
    return static_cast<uint32_t>(HelperAction::kExit);
  }
  WalkResult w0 = WalkPageTables(vcpu_.ram_, paging(), va, kind, user_mode());
  if (!w0.ok) {
    f = GuestFault{kVecPF, w0.error_code, true, va};
    return fail();
  }
  mapping_->RecordWalk(va, w0);
  WalkResult w1;
  if (crosses) {
    w1 = WalkPageTables(vcpu_.ram_, paging(), last & ~0xfffull, kind, user_mode());
    if (!w1.ok) {
      f = GuestFault{kVecPF, w1.error_code, true, last & ~0xfffull};
      return fail();
    }
  }
  const uint64_t pa0_page = w0.pa & ~0xfffull;
  uint8_t* host0 = vcpu_.ram_.HostPtr(GuestPhysAddr(pa0_page), 4096);
  // Stores to code or to watched page tables go through the bounce buffer
  // and WritePhys, which sees what they change.
  const bool code0 = StoresTrap(pa0_page);
  if (!watches_.empty() && !ignore_watch_once_ && Watched(va, s.size, kind)) {
    watch_hit_ = true;
    watch_address_ = va;
    if (!write) {
      // A watched read stops before the instruction (the next Run() does it).
      MakePrecise(s.displaced, s.flags_saved);
      ctx_.rip = s.guest_rip;
      ignore_watch_once_ = true;
      return static_cast<uint32_t>(HelperAction::kExit);
    }
    // A watched write goes through the bounce buffer; its post-access path stops after it.
    watch_post_pending_ = true;
  }
  if (TraceOn(kLogMmu) && Tracer::Get().Passes(s.guest_rip, ctx_.cpl))
    Tracer::Get().Printf("mmu: fill va=%016" PRIx64 " pa=%" PRIx64 " %s%s%s at rip=%016" PRIx64 "\n", va & ~uint64_t{0xfff},
                         static_cast<uint64_t>(pa0_page), w0.writable && w0.dirty && !code0 ? "rw" : "ro", w0.user ? " user" : "",
                         w0.global ? " global" : "", s.guest_rip);
  FillTlb(va, w0, host0);
  if (!crosses && host0 && !(write && code0) && !watch_post_pending_) {
    ctx_.gpr[s.addr_reg] = reinterpret_cast<uint64_t>(host0 + (va & 0xfff));
    ctx_.thunk_ret = reinterpret_cast<uint64_t>(s.resume_in_place);
    return static_cast<uint32_t>(HelperAction::kResume);
  }
  if (crosses) {
    stats_.page_crossings++;
    const uint64_t pa1_page = w1.pa & ~0xfffull;
    uint8_t* host1 = vcpu_.ram_.HostPtr(GuestPhysAddr(pa1_page), 4096);
    if (host0 && host1 && host1 == host0 + 4096 && !(write && (code0 || StoresTrap(pa1_page))) &&
        !watch_post_pending_) {
      ctx_.gpr[s.addr_reg] = reinterpret_cast<uint64_t>(host0 + (va & 0xfff));
      ctx_.thunk_ret = reinterpret_cast<uint64_t>(s.resume_in_place);
      return static_cast<uint32_t>(HelperAction::kResume);
    }
  }
  // Through the bounce buffer: the data, at the same alignment as the guest
  // address, is read in now and (for stores) written back after.
  bounce_.va = va;
  bounce_.size = s.size;
  bounce_.pa[0] = w0.pa;
  bounce_.len[0] = crosses ? static_cast<uint32_t>(4096 - (va & 0xfff)) : s.size;
  bounce_.pa[1] = crosses ? (w1.pa & ~0xfffull) : 0;
  bounce_.len[1] = s.size - bounce_.len[0];
  uint8_t* data = ctx_.bounce + (va & 63);
  ReadPhys(bounce_.pa[0], data, bounce_.len[0]);
  if (bounce_.len[1]) ReadPhys(bounce_.pa[1], data + bounce_.len[0], bounce_.len[1]);
  ctx_.gpr[s.addr_reg] = reinterpret_cast<uint64_t>(data);
  ctx_.thunk_ret = reinterpret_cast<uint64_t>(s.resume_bounce);
  stats_.bounced_accesses++;
  return static_cast<uint32_t>(HelperAction::kResume);
}

uint32_t VcpuRuntime::HandleMemGroup(Site& s) {
  // One check for a group of accesses covering [va, va + size): it stands
  // only if the whole span is plain RAM the group may access, contiguous in
  // host memory. Otherwise the block is translated again without groups and
  // resumes at the group's first member, which then checks for itself.
  stats_.tlb_misses++;
  const uint64_t va = ctx_.gpr[s.addr_reg];
  const bool write = s.access & kAccessWrite;
  const AccessKind kind = write ? AccessKind::kWrite : AccessKind::kRead;
  const uint64_t last = va + s.size - 1;
  bool ok = IsCanonical(va) && IsCanonical(last) && last >= va;
  uint8_t* host0 = nullptr;
  WalkResult w0;
  if (ok) {
    w0 = WalkPageTables(vcpu_.ram_, paging(), va, kind, user_mode());
    ok = w0.ok;
    if (ok) mapping_->RecordWalk(va, w0);
  }
  if (ok) {
    host0 = vcpu_.ram_.HostPtr(GuestPhysAddr(w0.pa & ~0xfffull), 4096);
    ok = host0 && !(write && StoresTrap(w0.pa & ~0xfffull));
  }
  // The members run natively on the checked span: a watched page needs them
  // to come to the VMM one by one.
  if (ok && !watches_.empty() && (PageWatched(va & ~0xfffull) || PageWatched(last & ~0xfffull))) ok = false;
  WalkResult w1;
  uint8_t* host1 = nullptr;
  bool w1_filled = false;
  if (ok && (last & ~0xfffull) != (va & ~0xfffull)) {
    w1 = WalkPageTables(vcpu_.ram_, paging(), last & ~0xfffull, kind, user_mode());
    host1 = w1.ok ? vcpu_.ram_.HostPtr(GuestPhysAddr(w1.pa & ~0xfffull), 4096) : nullptr;
    ok = host1 && host1 == host0 + 4096 && !(write && StoresTrap(w1.pa & ~0xfffull));
    if (ok) mapping_->RecordWalk(last & ~0xfffull, w1);
    w1_filled = ok;
    // Filled below, the two entries pair up and the inline check's second
    // try covers the span; it comes here again when either entry is gone.
    // Some times are fine; a hot block that keeps coming (a window moving
    // across page after page) is better off with a check per access.
    constexpr uint8_t kMaxPageCrossings = 64;
    if (ok && ++s.page_crossings >= kMaxPageCrossings) ok = false;
  }
  if (ok) {
    FillTlb(va, w0, host0);
    // Both pages: their entries pair up, and the block's next check of a
    // span across them hits without coming here.
    if (w1_filled) {
      FillTlb(last & ~0xfffull, w1, host1);
      tlb_->Pair(priv(), va & ~0xfffull);
    }
    ctx_.gpr[s.addr_reg] = reinterpret_cast<uint64_t>(host0 + (va & 0xfff));
    ctx_.thunk_ret = reinterpret_cast<uint64_t>(s.resume_in_place);
    return static_cast<uint32_t>(HelperAction::kResume);
  }
  stats_.mem_group_declines++;
  translator_->DisableGroups(s.block->key);
  DropBlock(s.block);
  MakePrecise(s.displaced, s.flags_saved);
  ctx_.rip = s.guest_rip;
  return static_cast<uint32_t>(HelperAction::kExit);
}

uint32_t VcpuRuntime::HandleMemPost(Site& s) {
  const uint8_t* data = ctx_.bounce + (bounce_.va & 63);
  for (int i = 0; i < 2; ++i) {
    if (!bounce_.len[i]) continue;
    WritePhys(bounce_.pa[i], data, bounce_.len[i]);
    data += bounce_.len[i];
  }
  if (watch_post_pending_) {
    // A watched write: stop right after it.
    watch_post_pending_ = false;
    MakePrecise(s.displaced, s.flags_saved);
    ctx_.rip = s.next_rip;
    TakeRunningBlockHit();
    return static_cast<uint32_t>(HelperAction::kExit);
  }
  if (TakeRunningBlockHit()) {
    // The store changed code of the block that is running: continue with a
    // fresh translation of what follows.
    MakePrecise(s.displaced, s.flags_saved);
    ctx_.rip = s.next_rip;
    stats_.exits[static_cast<unsigned>(ExitReason::kCodeInvalidated)]++;
    return static_cast<uint32_t>(HelperAction::kExit);
  }
  ctx_.thunk_ret = reinterpret_cast<uint64_t>(s.resume_after);
  return static_cast<uint32_t>(HelperAction::kResume);
}

uint32_t VcpuRuntime::HandleString(Site& s) {
  stats_.string_ops++;
  auto it = string_insns_.find(ctx_.site);
  if (it == string_insns_.end()) {
    DecodedInsn d;
    GuestFault f;
    if (!DecodeAt(s.guest_rip, &d, &f)) {
      ctx_.rip = s.guest_rip;
      Raise(f);
      return static_cast<uint32_t>(HelperAction::kExit);
    }
    it = string_insns_.emplace(ctx_.site, d).first;
  }
  // The instruction sees precise registers; the displaced ones (pool
  // registers, which may hold a group's host base) get their scratch values
  // back afterwards: the string instruction names none of them.
  uint64_t scratch[kGprCount];
  std::memcpy(scratch, ctx_.gpr, sizeof scratch);
  MakePrecise(s.displaced, s.flags_saved);
  ctx_.rip = s.guest_rip;
  GuestFault f;
  // Single-stepped (TF), a rep instruction traps after each iteration.
  // Else it stops every kStringBudget steps, so that a long one (rep lodsb
  // with rcx = 2^64 - 1) lets interrupts and stop requests in.
  constexpr uint64_t kStringBudget = 4096;
  const bool stepping = s.block->single_step && (ctx_.rflags & kFlagTF);
  bool finished = true;
  if (!ExecuteStringInsn(*this, it->second, &f, &finished, stepping ? 1 : kStringBudget)) {
    TakeRunningBlockHit();
    Raise(f);  // registers reflect the iterations done, as the architecture says
    return static_cast<uint32_t>(HelperAction::kExit);
  }
  if (!finished) {
    // Not the last iteration: the instruction runs again from the
    // dispatcher. Single-stepped, the trap's RIP is the instruction itself
    // and its frame has RF = 1 (Intel SDM vol. 3B, 17.3.1.1).
    TakeRunningBlockHit();
    if (stepping) ctx_.rflags |= kFlagRF;
    return static_cast<uint32_t>(HelperAction::kExit);
  }
  if (TakeRunningBlockHit()) {
    ctx_.rip = s.next_rip;
    stats_.exits[static_cast<unsigned>(ExitReason::kCodeInvalidated)]++;
    return static_cast<uint32_t>(HelperAction::kExit);
  }
  for (unsigned r = 0; r < kGprCount; ++r)
    if (s.displaced & (1u << r)) ctx_.gpr[r] = scratch[r];
  ctx_.thunk_ret = reinterpret_cast<uint64_t>(s.resume_after);
  return static_cast<uint32_t>(HelperAction::kResume);
}

}  // namespace xlat
