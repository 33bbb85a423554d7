#include "tests/difftest/native_runner.h"

#include <Zydis/Zydis.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "tests/difftest/layout.h"

extern "C" {
extern difftest::CpuState dt_in;
extern difftest::CpuState dt_out;
extern uint64_t dt_entry;
void dt_native_enter();
void dt_native_exit();
}

namespace difftest {

static_assert(offsetof(CpuState, gpr) == 0);
static_assert(offsetof(CpuState, rflags) == 136);
static_assert(offsetof(CpuState, xsave) == 192);
static_assert(sizeof(CpuState) == 1216);

namespace {

constexpr size_t kAltStackBytes = 256 * 1024;
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};

// State shared with the signal handler (one native run at a time).
struct Violation {
  int kind;  // 0: left the sequence, 1: memory operand outside, 2: rsp outside for a stack op
  uint64_t rip, addr, size;
};
struct HandlerState {
  volatile bool running = false;
  volatile bool tracing = false;
  uint64_t seq_lo = 0, seq_hi = 0;  // [entry, end]
  int vector = kNoFault;
  uint64_t rip = 0, addr = 0, err = 0;
  uint64_t steps = 0;
  Violation violations[8];
  int nviolations = 0;
};
HandlerState g_h;

constexpr int kGregOf[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

int GprIndex(ZydisRegister r) {
  const ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  if (big >= ZYDIS_REGISTER_RAX && big <= ZYDIS_REGISTER_R15) return big - ZYDIS_REGISTER_RAX;
  return -1;
}

bool AllowedRange(uint64_t lo, uint64_t n) {
  return InRange(lo, n, kDataVa - kPage, kDataBytes + 2 * kPage) || InRange(lo, n, kLowVa - kPage, kLowBytes + 2 * kPage) ||
         InRange(lo, n, kCodeVa, kCodeBytes);
}

void AddViolation(int kind, uint64_t rip, uint64_t addr, uint64_t size) {
  if (g_h.nviolations < 8) g_h.violations[g_h.nviolations] = {kind, rip, addr, size};
  if (g_h.nviolations < 1000) g_h.nviolations++;
}

// Checks the instruction about to execute at rip (single-step tracing).
void TraceCheck(const greg_t* gr) {
  const uint64_t rip = static_cast<uint64_t>(gr[REG_RIP]);
  g_h.steps++;
  if (rip < g_h.seq_lo || rip > g_h.seq_hi) {
    AddViolation(0, rip, rip, 0);
    return;
  }
  if (rip == g_h.seq_hi) return;  // the terminator
  static ZydisDecoder dec;
  static bool init = false;
  if (!init) {
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    init = true;
  }
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, reinterpret_cast<const void*>(rip), 15, &insn, ops))) return;
  auto reg = [&](ZydisRegister r) -> uint64_t {
    const int i = GprIndex(r);
    if (i < 0) return 0;
    uint64_t v = static_cast<uint64_t>(gr[kGregOf[i]]);
    if (ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r) == 32) v &= 0xffffffffu;
    return v;
  };
  const uint64_t rsp = static_cast<uint64_t>(gr[REG_RSP]);
  bool stack_op = false;
  for (int i = 0; i < insn.operand_count; i++) {
    const ZydisDecodedOperand& o = ops[i];
    if (o.type == ZYDIS_OPERAND_TYPE_REGISTER && o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN &&
        o.reg.value == ZYDIS_REGISTER_RSP)
      stack_op = true;
    if (o.type != ZYDIS_OPERAND_TYPE_MEMORY || o.mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;
    if (o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && o.mem.base == ZYDIS_REGISTER_RSP) continue;
    uint64_t ea;
    if (o.mem.base == ZYDIS_REGISTER_RIP || o.mem.base == ZYDIS_REGISTER_EIP) {
      ea = rip + insn.length + static_cast<uint64_t>(o.mem.disp.value);
    } else {
      ea = reg(o.mem.base) + reg(o.mem.index) * o.mem.scale + static_cast<uint64_t>(o.mem.disp.value);
    }
    if (insn.address_width == 32) ea &= 0xffffffffu;
    uint64_t size = o.size / 8;
    if (size == 0) size = 1;
    uint64_t lo = ea, n = size;
    const bool rep = insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    if (rep && o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN) {
      uint64_t count = static_cast<uint64_t>(gr[REG_RCX]);
      if (insn.address_width == 32) count &= 0xffffffffu;
      if (count == 0) continue;
      n = count * size;
      if (static_cast<uint64_t>(gr[REG_EFL]) & kFlagDF) lo = ea + size - n;
    }
    if (insn.mnemonic == ZYDIS_MNEMONIC_BT || insn.mnemonic == ZYDIS_MNEMONIC_BTS ||
        insn.mnemonic == ZYDIS_MNEMONIC_BTR || insn.mnemonic == ZYDIS_MNEMONIC_BTC) {
      // Register bit offsets reach +-256 bytes by construction.
      lo -= 272;
      n += 544;
    }
    if (!AllowedRange(lo, n)) AddViolation(1, rip, lo, n);
  }
  if (stack_op && !InRange(rsp - 64, 128, kDataVa - kPage, kDataBytes + 2 * kPage)) AddViolation(2, rip, rsp, 0);
}

int VectorOf(int sig, const greg_t* gr) {
  const int trapno = static_cast<int>(gr[REG_TRAPNO]);
  switch (sig) {
    case SIGILL: return kVecUD;
    case SIGFPE: return trapno;  // 0 (#DE), 16 (#MF) or 19 (#XM)
    default: return trapno;      // SIGSEGV/SIGBUS: 13 (#GP), 14 (#PF), 17 (#AC)...
  }
}

void Handler(int sig, siginfo_t* si, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  greg_t* gr = uc->uc_mcontext.gregs;
  const uint64_t rip = static_cast<uint64_t>(gr[REG_RIP]);
  const bool in_code = rip >= kCodeVa && rip < kCodeVa + kCodeBytes;
  if (sig == SIGTRAP && g_h.tracing && g_h.running) {
    if (in_code) {
      TraceCheck(gr);
      gr[REG_EFL] |= kFlagTF;  // a popf in the sequence must not end the trace
    }
    return;
  }
  if (!g_h.running || !in_code) {
    // Not a fault of the sequence: let the default action happen.
    signal(sig, SIG_DFL);
    return;
  }
  g_h.vector = VectorOf(sig, gr);
  g_h.rip = rip;
  g_h.addr = reinterpret_cast<uint64_t>(si->si_addr);
  g_h.err = static_cast<uint64_t>(gr[REG_ERR]);
  gr[REG_RIP] = reinterpret_cast<greg_t>(&dt_native_exit);
}

}  // namespace

uint64_t NativeRunner::ExitStub() { return reinterpret_cast<uint64_t>(&dt_native_exit); }

NativeRunner::~NativeRunner() {
  if (mapped_) {
    munmap(reinterpret_cast<void*>(kCodeVa), kCodeBytes);
    munmap(reinterpret_cast<void*>(kDataVa - kPage), kDataBytes + 2 * kPage);
    munmap(reinterpret_cast<void*>(kLowVa - kPage), kLowBytes + 2 * kPage);
  }
  // The alternate stack stays: another handler may still be using it.
}

bool NativeRunner::Init(std::string* error) {
  auto map = [&](uint64_t va, uint64_t bytes, int prot) -> bool {
    void* p = mmap(reinterpret_cast<void*>(va), bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || reinterpret_cast<uint64_t>(p) != va) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "cannot map %#" PRIx64 "+%#" PRIx64 ": %s", va, bytes,
                    p == MAP_FAILED ? std::strerror(errno) : "placed elsewhere");
      *error = buf;
      if (p != MAP_FAILED) munmap(p, bytes);
      return false;
    }
    return true;
  };
  if (!map(kCodeVa, kCodeBytes, PROT_READ | PROT_WRITE | PROT_EXEC)) return false;
  // Data areas with a PROT_NONE guard page on each side.
  if (!map(kDataVa - kPage, kDataBytes + 2 * kPage, PROT_NONE)) return false;
  if (!map(kLowVa - kPage, kLowBytes + 2 * kPage, PROT_NONE)) return false;
  mapped_ = true;
  if (mprotect(reinterpret_cast<void*>(kDataVa), kDataBytes, PROT_READ | PROT_WRITE) != 0 ||
      mprotect(reinterpret_cast<void*>(kLowVa), kLowBytes, PROT_READ | PROT_WRITE) != 0) {
    *error = std::string("mprotect: ") + std::strerror(errno);
    return false;
  }
  std::memset(reinterpret_cast<void*>(kCodeVa), 0xcc, kCodeBytes);
  return true;
}

void NativeRunner::LoadCode(const Sequence& s) {
  uint8_t* code = reinterpret_cast<uint8_t*>(kCodeVa);
  if (last_code_hi_ > last_code_lo_) std::memset(code + (last_code_lo_ - kCodeVa), 0xcc, last_code_hi_ - last_code_lo_);
  std::memcpy(code + (s.entry - kCodeVa), s.code.data(), s.code.size());
  // Terminator: jmp [rip+0]; .quad dt_native_exit
  uint8_t* t = code + (s.end - kCodeVa);
  const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
  std::memcpy(t, jmp, 6);
  const uint64_t exit = ExitStub();
  std::memcpy(t + 6, &exit, 8);
  last_code_lo_ = s.entry;
  last_code_hi_ = s.end + 14;
  if (!s.pool.empty()) std::memcpy(code + (kPoolVa - kCodeVa), s.pool.data(), s.pool.size());
}

void NativeRunner::Run(const Sequence& s, CpuState* out, TraceResult* trace) {
  LoadCode(s);
  std::memcpy(reinterpret_cast<void*>(kDataVa), s.data.data(), kDataBytes);
  std::memcpy(reinterpret_cast<void*>(kLowVa), s.low.data(), kLowBytes);

  // An alternate signal stack: host rsp holds the guest's rsp.
  stack_t cur;
  if (sigaltstack(nullptr, &cur) != 0 || (cur.ss_flags & SS_DISABLE)) {
    if (!altstack_) altstack_ = mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t st{};
    st.ss_sp = altstack_;
    st.ss_size = kAltStackBytes;
    sigaltstack(&st, nullptr);
  }
  struct sigaction sa {}, old[5];
  sa.sa_sigaction = Handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 5; i++) sigaction(kSignals[i], &sa, &old[i]);

  dt_in = s.init;
  dt_in.rflags = (s.init.rflags & kComparedFlags) | 0x2;
  if (trace) dt_in.rflags |= kFlagTF;
  std::memset(&dt_out, 0, sizeof dt_out);
  dt_entry = s.entry;
  g_h.seq_lo = s.entry;
  g_h.seq_hi = s.end;
  g_h.vector = kNoFault;
  g_h.steps = 0;
  g_h.nviolations = 0;
  g_h.tracing = trace != nullptr;
  g_h.running = true;
  dt_native_enter();
  g_h.running = false;
  g_h.tracing = false;

  for (int i = 0; i < 5; i++) sigaction(kSignals[i], &old[i], nullptr);

  *out = dt_out;
  out->rflags &= ~kFlagTF;
  out->vector = g_h.vector;
  out->rip = g_h.vector == kNoFault ? s.end : g_h.rip;
  out->fault_addr = g_h.vector == kVecPF ? g_h.addr : 0;
  out->error_code = static_cast<uint32_t>(g_h.err);
  NormalizeXsave(out->xsave);

  if (trace) {
    trace->steps = g_h.steps;
    trace->violations.clear();
    static const char* const kKinds[] = {"execution left the sequence", "memory operand outside the data areas",
                                         "stack operation with rsp outside the data area"};
    for (int i = 0; i < g_h.nviolations && i < 8; i++) {
      const Violation& v = g_h.violations[i];
      char buf[200];
      std::snprintf(buf, sizeof buf, "%s at rip %#" PRIx64 ": address %#" PRIx64 " size %" PRIu64, kKinds[v.kind], v.rip,
                    v.addr, v.size);
      trace->violations.push_back(buf);
    }
    if (g_h.nviolations > 8) trace->violations.push_back("... and more");
  }
}

}  // namespace difftest
