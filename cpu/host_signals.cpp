#include "cpu/host_signals.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "codecache/code_cache.h"
#include "cpu/guest_regs.h"
#include "cpu/lazy_flags.h"
#include "cpu/vcpu_runtime.h"

namespace xlat {

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr int kGregOf[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

void DieOfSignal(int sig, const char* why, const void* pc, const void* addr = nullptr, uint64_t guest_rip = 0) {
  char msg[256];
  int n = std::snprintf(msg, sizeof msg,
                        "xlat: internal error: %s (signal %d at host pc %p, address %p, guest rip %#llx)\n", why, sig,
                        pc, addr, static_cast<unsigned long long>(guest_rip));
  if (n > 0) (void)!write(2, msg, static_cast<size_t>(n));
  signal(sig, SIG_DFL);
  raise(sig);
}

// The guest exception a host signal stands for.
bool GuestFaultOf(int sig, const siginfo_t* si, bool x87, const VcpuContext& ctx, GuestFault* f) {
  switch (sig) {
    case SIGFPE:
      if (si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF) {
        *f = GuestFault{kVecDE, 0, false, 0};
      } else if (x87) {
        *f = GuestFault{kVecMF, 0, false, 0};
      } else {
        // An unmasked SIMD floating-point exception is #XM only where the OS
        // said it handles it (CR4.OSXMMEXCPT); otherwise #UD (SDM vol. 3A, 6.15).
        constexpr uint64_t kCr4Osxmmexcpt = 1ull << 10;
        *f = GuestFault{static_cast<uint8_t>((ctx.cr4 & kCr4Osxmmexcpt) ? kVecXM : kVecUD), 0, false, 0};
      }
      return true;
    case SIGSEGV:
    case SIGBUS:
      // Natively executed guest code only ever touches host memory that the
      // TLB handed out, so an access fault here is a #GP (alignment of SSE
      // operands, cmpxchg16b) or #AC.
      if (sig == SIGBUS && si->si_code == BUS_ADRALN) {
        *f = GuestFault{kVecAC, 0, true, 0};
        return true;
      }
      if (si->si_code == SI_KERNEL || si->si_addr == nullptr) {
        *f = GuestFault{kVecGP, 0, true, 0};
        return true;
      }
      // A non-canonical guest address that passed an empty TLB entry's check.
      if (si->si_addr >= static_cast<const void*>(ctx.tlb_guard_page) &&
          si->si_addr < static_cast<const void*>(ctx.tlb_guard_page + sizeof(ctx.tlb_guard_page))) {
        *f = GuestFault{kVecGP, 0, true, 0};
        return true;
      }
      return false;
    case SIGILL:
      *f = GuestFault{kVecUD, 0, false, 0};
      return true;
    case SIGTRAP:
      *f = GuestFault{kVecDB, 0, false, 0};
      return true;
  }
  return false;
}

__attribute__((noinline)) void HandleHostSignal(int sig, siginfo_t* si, void* uc_void) {
  ucontext_t* uc = static_cast<ucontext_t*>(uc_void);
  greg_t* g = uc->uc_mcontext.gregs;
  uint8_t* pc = reinterpret_cast<uint8_t*>(g[REG_RIP]);
  VcpuRuntime* rt = CurrentRuntime();
  if (!rt) return DieOfSignal(sig, "fault outside guest code", pc);
  Vcpu& vcpu = rt->vcpu();
  VcpuContext& ctx = rt->ctx();
  Block* b = vcpu.code_cache().FindByHostPc(pc);
  if (!b) return DieOfSignal(sig, "fault in the VMM", pc);
  const uint32_t off = static_cast<uint32_t>(pc - b->host_code);
  auto it = std::upper_bound(b->spans.begin(), b->spans.end(), off,
                             [](uint32_t o, const NativeSpan& s) { return o < s.begin; });
  if (it == b->spans.begin() || off >= std::prev(it)->end)
    return DieOfSignal(sig, "fault in translated code outside a guest instruction", pc);
  const NativeSpan& span = *std::prev(it);

  // Precise guest registers: host registers, displaced ones from their slots.
  for (unsigned r = 0; r < 16; ++r)
    ctx.gpr[r] = (span.displaced & (1u << r)) ? ctx.spill[r] : static_cast<uint64_t>(g[kGregOf[r]]);
  ctx.rflags = (ctx.rflags & ~kHostCarriedFlags) | (static_cast<uint64_t>(g[REG_EFL]) & kHostCarriedFlags);
  if (span.flags_saved) ctx.rflags = (ctx.rflags & ~kArithFlags) | SavedArithFlags(ctx);
  ctx.rip = b->insn_rips[span.insn];

  const bool poll = sig == SIGSEGV && si->si_addr >= static_cast<void*>(ctx.poll_page) &&
                    si->si_addr < static_cast<void*>(ctx.poll_page + sizeof(ctx.poll_page));
  const bool sti_poll = sig == SIGSEGV && si->si_addr >= static_cast<void*>(ctx.irq_poll_page) &&
                        si->si_addr < static_cast<void*>(ctx.irq_poll_page + sizeof(ctx.irq_poll_page));
  if (poll) {
    rt->OnSignalExit(nullptr);
  } else if (sti_poll) {
    rt->OnStiPoll();
  } else {
    // An x87 exception (#MF) is reported on a waiting x87 instruction.
    DecodedInsn d;
    GuestFault ignored;
    const bool x87 = sig == SIGFPE && rt->DecodeAt(ctx.rip, &d, &ignored) &&
                     (d.insn.meta.isa_ext == ZYDIS_ISA_EXT_X87 || d.mnemonic() == ZYDIS_MNEMONIC_FWAIT);
    GuestFault f;
    if (!GuestFaultOf(sig, si, x87, ctx, &f))
      return DieOfSignal(sig, "unexpected fault in guest code", pc, si->si_addr, ctx.rip);
    // A non-canonical address that reached the host (#GP there too): #SS(0)
    // for a reference through SS. (A misaligned SSE operand stays #GP.)
    if (f.vector == kVecGP && sig == SIGSEGV && rt->DecodeAt(ctx.rip, &d, &ignored) &&
        IsNonCanonicalStackReference(ctx, d))
      f.vector = kVecSS;
    rt->OnSignalExit(&f);
  }
  g[REG_RIP] = reinterpret_cast<greg_t>(rt->thunks().signal_exit);
  g[REG_EFL] &= ~static_cast<greg_t>(kFlagAC);  // the VMM runs without alignment checks
}

// Translated code may run with RFLAGS.AC set (the guest's alignment checks),
// and Linux keeps it for the handler: clear it before any compiled code can
// make an unaligned access.
void OnHostSignal(int sig, siginfo_t* si, void* uc_void) {
  asm volatile("pushfq\n\tandq %0, (%%rsp)\n\tpopfq" : : "i"(static_cast<int32_t>(~kFlagAC)) : "cc", "memory");
  HandleHostSignal(sig, si, uc_void);
}

}  // namespace

bool InstallHostSignalHandlers(std::string* error) {
  static std::once_flag once;
  static bool ok = true;
  static std::string failure;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnHostSignal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int sig : kSignals)
      if (sigaction(sig, &sa, nullptr) != 0) {
        ok = false;
        failure = std::string("cannot install a signal handler: ") + std::strerror(errno);
      }
  });
  if (!ok) *error = failure;
  return ok;
}

bool PrepareThreadForGuest(std::string* error) {
  thread_local bool done = false;
  if (done) return true;
  constexpr size_t kStack = 256 * 1024;
  void* p = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    *error = std::string("cannot allocate the signal stack: ") + std::strerror(errno);
    return false;
  }
  stack_t ss;
  ss.ss_sp = p;
  ss.ss_size = kStack;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    *error = std::string("cannot set the signal stack: ") + std::strerror(errno);
    return false;
  }
  done = true;
  return true;
}

}  // namespace xlat
