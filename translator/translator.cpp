#include "translator/translator.h"

#include <Zydis/Zydis.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstring>

#include "cpu/flags_slot.h"
#include "cpu/thunks.h"
#include "frontend/stats.h"
#include "translator/emit_context.h"
#include "translator/emit_control.h"
#include "translator/emit_memory.h"
#include "translator/emit_sensitive.h"
#include "translator/emit_stack.h"
#include "translator/emit_string.h"
#include "translator/emit_virtual.h"
#include "translator/lazy_flags.h"
#include "translator/liveness.h"
#include "translator/checked_span.h"
#include "translator/mem_groups.h"

namespace xlat {

using namespace asmjit;

namespace {

constexpr uint8_t kVectorUD = 6;

bool EndsBlock(InsnKind k) {
  switch (k) {
    case InsnKind::kJmp: case InsnKind::kJcc: case InsnKind::kLoop: case InsnKind::kCall:
    case InsnKind::kRet: case InsnKind::kCallout: case InsnKind::kUndefined:
      return true;
    default:
      return false;
  }
}

// Forms the rewrites do not cover are refused with #UD rather than run
// wrongly; each is rare in real code (and reported once on stderr).
// Sensitive instructions that can stay inline (emit_virtual.cpp) are picked here.
// syscall and sysretq done by translated code end their block: each leaves
// through the other privilege class's jump cache (emit_virtual.cpp).
bool IsInlineTransfer(const DecodedInsn& d, InsnKind k) {
  return k == InsnKind::kVirtual && (d.mnemonic() == ZYDIS_MNEMONIC_SYSCALL || d.mnemonic() == ZYDIS_MNEMONIC_SYSRET);
}

InsnKind Refine(const DecodedInsn& d, InsnKind k, PrivClass priv, bool strict_iopl, bool single_step) {
  const bool far = d.insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
  switch (k) {
    case InsnKind::kCallout:
      switch (d.mnemonic()) {
        case ZYDIS_MNEMONIC_CLI:
        case ZYDIS_MNEMONIC_STI:
          // At CPL 1-3 they depend on IOPL (and #GP): the VMM does those.
          return priv == PrivClass::kSupervisor && !strict_iopl ? InsnKind::kVirtual : k;
        case ZYDIS_MNEMONIC_PUSHF:
        case ZYDIS_MNEMONIC_PUSHFQ:
          return d.insn.operand_width == 64 ? InsnKind::kVirtual : k;
        case ZYDIS_MNEMONIC_POPF:
        case ZYDIS_MNEMONIC_POPFQ:
          // popfq; in rings 1 and 2 the VMM checks IF against IOPL, and a
          // single-stepped popf needs its TF rules.
          return d.insn.operand_width == 64 && !single_step && !strict_iopl ? InsnKind::kVirtual : k;
        case ZYDIS_MNEMONIC_SYSCALL:
          // From CPL 3 (user-class code runs nowhere else) into the kernel;
          // a single-stepped block must stop after one instruction instead.
          return priv == PrivClass::kUser && !single_step ? InsnKind::kVirtual : k;
        case ZYDIS_MNEMONIC_SYSRET:
          // sysretq back to 64-bit user code; sysretl (to compatibility mode) exits.
          return priv == PrivClass::kSupervisor && !single_step && d.insn.operand_width == 64 ? InsnKind::kVirtual
                                                                                              : k;
        case ZYDIS_MNEMONIC_SWAPGS:
          // At CPL 3 it is #UD... #GP(0): the VMM raises it.
          return priv == PrivClass::kSupervisor ? InsnKind::kVirtual : k;
        case ZYDIS_MNEMONIC_MOV:
          if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(d.ops[0].reg.value) >= 0 &&
              d.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
              ZydisRegisterGetClass(d.ops[1].reg.value) == ZYDIS_REGCLASS_SEGMENT)
            return InsnKind::kVirtual;
          // mov from CR2 (every page fault handler's first read) at CPL 0;
          // in rings 1 and 2 it is #GP(0), which the VMM raises.
          if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(d.ops[0].reg.value) >= 0 &&
              d.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && d.ops[1].reg.value == ZYDIS_REGISTER_CR2)
            return priv == PrivClass::kSupervisor && !strict_iopl ? InsnKind::kVirtual : k;
          return k;
        default:
          return k;
      }
    case InsnKind::kJmp: case InsnKind::kCall: case InsnKind::kRet:
      if (far) return InsnKind::kCallout;
      if (d.insn.operand_width != 64) return InsnKind::kUndefined;
      return k;
    case InsnKind::kEnter:
      // Nesting levels above 0 copy frame pointers in a loop: the VMM does those.
      if ((d.ops[1].imm.value.u & 31) != 0) return InsnKind::kCallout;
      if (d.insn.operand_width != 64) return InsnKind::kUndefined;
      return k;
    case InsnKind::kLeave:
      return d.insn.operand_width == 64 ? k : InsnKind::kUndefined;
    case InsnKind::kMem: case InsnKind::kBitMem: {
      int mi = d.MemOperand();
      if (mi < 0) return InsnKind::kCopy;
      unsigned size = d.ops[mi].size / 8;
      uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
      size_t len;
      if (size == 0 || size > 1024 || !ReencodeWithBase(d, UsesHighByteRegister(d) ? kRsi : kR11, bytes, &len)) {
        static bool warned = false;
        if (!warned) {
          std::fprintf(stderr, "xlat: warning: cannot rewrite instruction at %#llx (%s): raising #UD\n",
                       static_cast<unsigned long long>(d.rip), ZydisMnemonicGetString(d.mnemonic()));
          warned = true;
        }
        return InsnKind::kUndefined;
      }
      return k;
    }
    default:
      return k;
  }
}

// A RIP-relative lea computes a guest address: it becomes a constant.
bool EmitRipRelativeLea(BlockEmitter& e, const DecodedInsn& d) {
  const ZydisDecodedOperand& src = d.ops[1];
  if (src.type != ZYDIS_OPERAND_TYPE_MEMORY ||
      (src.mem.base != ZYDIS_REGISTER_RIP && src.mem.base != ZYDIS_REGISTER_EIP))
    return false;
  uint64_t value = d.next_rip() + static_cast<uint64_t>(src.mem.disp.value);
  if (src.mem.base == ZYDIS_REGISTER_EIP) value &= 0xffffffffu;
  const int n = GprNumber(d.ops[0].reg.value);
  switch (d.ops[0].size) {
    case 64: e.a.mov(x86::gpq(n), value); break;
    case 32: e.a.mov(x86::gpd(n), static_cast<uint32_t>(value)); break;
    default: e.a.mov(x86::gpw(n), static_cast<uint16_t>(value)); break;
  }
  return true;
}

// What a block's rewrites need of the pool (registers no instruction of the
// block names, each spilled when the block is entered and reloaded when it
// leaves).
struct PoolNeeds {
  unsigned users = 0;        // rewrites that take scratch registers
  unsigned at_once = 2;      // the most one of them holds at a time
  unsigned string_regs = 0;  // an inline rep movs/stos's own (emit_string.h), or 0
};

// How many pool registers the rewrite of one instruction uses over the
// block (0: none), and the most it holds at once.
struct PoolUse {
  unsigned users = 0;
  unsigned at_once = 0;
  unsigned string_regs = 0;
};
PoolUse PoolUseOf(const DecodedInsn& d, InsnKind kind) {
  switch (kind) {
    case InsnKind::kMem: case InsnKind::kBitMem: case InsnKind::kXlat: case InsnKind::kPush:
    case InsnKind::kPop: case InsnKind::kLeave: case InsnKind::kEnter: case InsnKind::kRet:
      return {1, 0, 0};
    case InsnKind::kCall:
      // An indirect one's target waits in a third register while the push is checked.
      return d.ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ? PoolUse{2, 3, 0} : PoolUse{1, 0, 0};
    case InsnKind::kJmp:  // an indirect one (a direct jmp only leaves)
      return d.ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ? PoolUse{1, 0, 0} : PoolUse{};
    case InsnKind::kString:
      if (const unsigned regs = InlineStringPoolRegs(d)) return {2, regs, regs};
      return {};
    default:
      return {};
  }
}

PoolNeeds PoolNeedsOf(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds) {
  PoolNeeds n;  // (an access: its address and a TLB index)
  for (size_t i = 0; i < insns.size(); ++i) {
    const PoolUse u = PoolUseOf(insns[i], kinds[i]);
    n.users += u.users;
    n.at_once = std::max(n.at_once, u.at_once);
    n.string_regs = std::max(n.string_regs, u.string_regs);
  }
  return n;
}

// How many explicit memory operands of the block have an index register (a
// cheap test before looking for a span outside a loop).
unsigned IndexedAccesses(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds) {
  unsigned n = 0;
  for (size_t i = 0; i < insns.size(); ++i) {
    if (kinds[i] != InsnKind::kMem) continue;
    const int mi = insns[i].MemOperand();
    if (mi >= 0 && insns[i].ops[mi].mem.index != ZYDIS_REGISTER_NONE) ++n;
  }
  return n;
}

// The first instruction whose rewrite takes pool registers, or the block's length.
int FirstPoolUser(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds) {
  for (size_t i = 0; i < insns.size(); ++i)
    if (PoolUseOf(insns[i], kinds[i]).users) return static_cast<int>(i);
  return static_cast<int>(insns.size());
}

// The pool, in kOrder (rcx and r11 first: the jump-cache lookup and the
// flag-preserving TLB check use them) among the registers not `named` (rsp
// included): as many as a rewrite holds at once, and with `room_for_group`
// one more for an access group or a loop's span (checked_span.h), where more
// than one access could share a check or the block loops to itself. A block
// that then forms neither asks again without the room.
uint16_t ChoosePool(const PoolNeeds& needs, uint16_t named, bool loop, bool room_for_group, unsigned at_least = 0) {
  if (!needs.users) return 0;
  unsigned want = needs.at_once;
  if (room_for_group && (needs.users > 1 || loop)) want = std::max(3u, needs.string_regs + 1);
  want = std::max(want, at_least);
  static constexpr uint8_t kOrder[] = {kR11, kRcx, kR10, kR9, kR8, kRdx, kRsi, kRdi,
                                       kRax, kRbx, kRbp, kR12, kR13, kR14, kR15};
  uint16_t pool = 0;
  unsigned n = 0;
  for (uint8_t r : kOrder)
    if (!(named & (1u << r)) && n < want) {
      pool |= static_cast<uint16_t>(1u << r);
      ++n;
    }
  return pool;
}

// Whether the rewrite of an instruction of this kind depends on the flags
// live before it (GuestInsn::flags_live_in): a flag-preserving lookup or an
// inline string op. Copies, drops, jcc and exits do not look.
bool ConsultsFlags(InsnKind k) {
  switch (k) {
    case InsnKind::kCopy: case InsnKind::kDrop: case InsnKind::kJcc: case InsnKind::kLoop:
    case InsnKind::kCallout: case InsnKind::kUndefined:
      return false;
    default:
      return true;
  }
}

// A jcc the block goes on past. `inverted`: the block follows the taken
// path, and the side exit goes to the fall-through. In a trace, also an
// indirect jmp the block goes on past (`guard`): at the target `dest` the
// path went to, which a compare checks; another target leaves through the
// jump cache.
struct SideExit {
  uint16_t insn;   // its index in the block
  bool inverted;
  uint64_t dest;   // where the side exit goes (a guard: where the block goes on)
  bool guard;
  bool restores = false;  // a guard after which the flags saved before it are made again
};

// Whether the bytes at `at` look like a loop latch for a loop starting at
// `head`: a jcc or jmp to `head` within the first 16 bytes, on this page. A
// guess from raw bytes, not a decode (it is asked at every forward jcc): a
// wrong guess only shapes the block differently.
bool LooksLikeLatch(const uint8_t* page, uint64_t page_va, uint64_t at, uint64_t head) {
  const uint64_t end = std::min(at + 16, page_va + 4096);
  for (uint64_t p = at; p + 2 <= end; ++p) {
    const uint8_t* b = page + (p - page_va);
    if ((b[0] & 0xf0) == 0x70 || b[0] == 0xeb) {
      if (p + 2 + static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(b[1]))) == head) return true;
    } else if (p + 6 <= end && ((b[0] == 0x0f && (b[1] & 0xf0) == 0x80) || b[0] == 0xe9)) {
      const unsigned opcode_len = b[0] == 0xe9 ? 1 : 2;
      if (p + opcode_len + 4 > end) continue;
      int32_t rel;
      std::memcpy(&rel, b + opcode_len, 4);
      if (p + opcode_len + 4 + static_cast<uint64_t>(static_cast<int64_t>(rel)) == head) return true;
    }
  }
  return false;
}

// Whether the code at `from` runs into `to` on this page, passing each jcc
// on its fall-through, each call as returning and following each direct
// jmp, within 64 instructions, or into another branch back to `from`. A
// backward jcc whose target does is its loop's latch; one whose target
// leaves another way (an indirect jump, a ret: an interpreter's shared
// dispatch tail, a function's epilogue) only shares code the compiler
// placed before it. (A guess from a decode of this page, as LooksLikeLatch's
// from its bytes: a wrong one only shapes the block differently.)
bool RunsInto(const Decoder& decoder, const uint8_t* page, uint64_t page_va, uint64_t from, uint64_t to) {
  DecodedInsn x{DecodedInsn::Uninitialized{}};
  uint64_t pc = from;
  for (int n = 0; n < 64; ++n) {
    if (pc == to) return true;
    const uint64_t off = pc - page_va;
    if (off >= 4096 || decoder.Decode(page + off, std::min<uint64_t>(15, 4096 - off), pc, &x) != Decoder::Status::kOk)
      return false;
    const ZydisInstructionCategory category = x.insn.meta.category;
    const bool branch = category == ZYDIS_CATEGORY_COND_BR || category == ZYDIS_CATEGORY_UNCOND_BR;
    const bool direct = branch && x.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
    if (direct && x.direct_target() == from) return true;  // another latch of the same loop
    if (category == ZYDIS_CATEGORY_UNCOND_BR && direct) {
      pc = x.direct_target();
      continue;
    }
    if (x.insn.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE && category != ZYDIS_CATEGORY_COND_BR &&
        category != ZYDIS_CATEGORY_CALL)
      return false;  // an indirect jmp, a ret, iret, syscall, a far transfer
    if (x.mnemonic() == ZYDIS_MNEMONIC_UD2 || x.mnemonic() == ZYDIS_MNEMONIC_HLT) return false;
    pc = x.next_rip();
  }
  return false;
}

// The arithmetic flags whose liveness at the block's end (or, for a side
// exit, just after instruction end - 1) would change a rewrite: those that
// reach, unkilled, an instruction that consults the flags and has none live
// otherwise (or the block's first instruction, whose live flags the
// indirect entry restores). The lookahead into the successors need decide
// only these.
uint32_t WantedAtEnd(const std::vector<FlagEffect>& effects, const std::vector<InsnKind>& kinds,
                     bool saved_at_start, size_t end) {
  uint32_t want = 0;
  uint32_t through = kArithFlags;  // flags from the end that reach here unkilled
  uint32_t live = 0;               // flags live here with nothing live at the end
  for (size_t i = end; i-- > 0;) {
    through &= ~effects[i].kills;
    live = (live & ~effects[i].kills) | effects[i].reads;
    const bool entry = i == 0 && !saved_at_start;
    if ((ConsultsFlags(kinds[i]) || entry) && !(live & kArithFlags)) want |= through;
    if (!through) break;
  }
  return want;
}

void CountKind(Stats& s, InsnKind k) {
  switch (k) {
    case InsnKind::kCopy: case InsnKind::kDrop: ++s.insns_copied; break;
    case InsnKind::kMem: case InsnKind::kBitMem: ++s.insns_mem_rewritten; break;
    case InsnKind::kXlat: case InsnKind::kPush: case InsnKind::kPop: case InsnKind::kLeave:
    case InsnKind::kEnter: case InsnKind::kString: ++s.insns_implicit_mem; break;
    case InsnKind::kJmp: case InsnKind::kJcc: case InsnKind::kLoop: case InsnKind::kCall:
    case InsnKind::kRet: ++s.insns_control; break;
    case InsnKind::kCallout: ++s.insns_callout; break;
    case InsnKind::kUndefined: ++s.insns_undefined; break;
    case InsnKind::kVirtual: ++s.insns_virtual; break;
  }
}

}  // namespace

// Records the first error AsmJit reports while a block is emitted (without a
// handler an instruction AsmJit refuses would silently be left out).
class EmitErrors : public ErrorHandler {
 public:
  void handleError(Error err, const char*, BaseEmitter*) override {
    if (first == kErrorOk) first = err;
  }
  Error first = kErrorOk;
};

// What FlagsLiveAt found, by start: guest physical address, the flags
// asked for and the depth. An answer stands while the bytes it was read
// from are the same (they are compared on every use; they may have been
// rewritten since, unwatched once no translation used them) and, if the
// walk met an instruction whose fault depends on them, while CR0/CR4's FPU
// bits are. Only walks that stayed on their first page are kept: a later
// page's bytes depend on the mapping, which may differ for the next asker.
struct LookaheadMemo {
  static constexpr unsigned kMaxRanges = 6;
  static constexpr unsigned kMaxBytes = 64;
  struct Entry {
    uint64_t pa = ~0ull;
    uint32_t result = 0;
    uint32_t want = 0;
    int depth = 0;
    bool fpu_dependent = false;
    FpuControl fpu;
    unsigned ranges = 0;
    uint16_t off[kMaxRanges] = {};
    uint8_t len[kMaxRanges] = {};
    uint8_t bytes[kMaxBytes] = {};

    bool Matches(uint64_t at, uint32_t w, int dep, const FpuControl& fc, const CodePage& page) const {
      if (pa != at || want != w || depth != dep || (fpu_dependent && !(fpu == fc))) return false;
      const uint8_t* b = bytes;
      for (unsigned i = 0; i < ranges; b += len[i], ++i)
        if (std::memcmp(page.host + off[i], b, len[i]) != 0) return false;
      return true;
    }
    void Remember(uint64_t at, uint32_t w, int dep, const FpuControl& fc, bool fpu_dep, uint32_t r,
                  const CodePage& page, const std::vector<Block::CodeRange>& deps, size_t first) {
      pa = ~0ull;  // (kept only if it qualifies)
      if (deps.size() - first > kMaxRanges) return;
      unsigned n = 0, total = 0;
      for (size_t i = first; i < deps.size(); ++i, ++n) {
        const Block::CodeRange& c = deps[i];
        if ((c.pa & ~0xfffull) != page.pa || total + c.len > kMaxBytes) return;
        off[n] = static_cast<uint16_t>(c.pa & 0xfff);
        len[n] = static_cast<uint8_t>(c.len);
        std::memcpy(bytes + total, page.host + off[n], c.len);
        total += c.len;
      }
      ranges = n;
      pa = at;
      want = w;
      depth = dep;
      fpu = fc;
      fpu_dependent = fpu_dep;
      result = r;
    }
  };
  static constexpr size_t kSlots = 8192;  // (direct-mapped; 8192 x 112 bytes)
  std::vector<Entry> slots = std::vector<Entry>(kSlots);
  Entry& At(uint64_t at, uint32_t w, int dep) {
    const uint64_t h = (at ^ (uint64_t{w} << 40) ^ (uint64_t(dep) << 56)) * 0x9e3779b97f4a7c15ull;
    return slots[h >> 51];
  }
};

struct Translator::Scratch {
  struct Run {
    uint64_t start, end;
  };
  std::vector<DecodedInsn> decoded;
  std::vector<InsnKind> kinds;
  std::vector<Run> runs;
  std::vector<FlagEffect> effects;
  std::vector<uint32_t> live_in, live_out;
  std::vector<Block::CodeRange> deps;
  std::vector<GroupMembership> group_of;
  std::vector<MemGroup> groups;
  std::vector<int32_t> span_offset;
  std::vector<int8_t> stride_group;
  std::vector<uint8_t> save_after;
  BlockEmitter::Buffers emit;
  CodeHolder code;
  EmitErrors errors;
  LookaheadMemo memo;
};

Translator::Translator(CodeCache& cache, const Thunks& thunks, Stats& stats)
    : scratch_(std::make_unique<Scratch>()), cache_(cache), thunks_(thunks), stats_(stats) {
  scratch_->decoded.reserve(kMaxBlockInsns);
}

Translator::~Translator() = default;

uint32_t Translator::FlagsLiveAt(uint64_t va, uint32_t want, PrivClass priv, const CodeFetcher& fetch, int depth,
                                 std::vector<Block::CodeRange>* deps) {
  const CodePage page = fetch(va & ~0xfffull);
  if (!page.ok) return kArithFlags;
  // Successors are looked into by each of their predecessors, and again at
  // each depth: in a Linux boot, 92 K walks from 38 K distinct starts.
  LookaheadMemo& memo = scratch_->memo;
  const uint64_t pa = page.pa + (va & 0xfff);
  LookaheadMemo::Entry& m = memo.At(pa, want, depth);
  if (m.Matches(pa, want, depth, fpu_control_, page)) {
    for (unsigned i = 0; i < m.ranges; ++i) deps->push_back({page.pa + m.off[i], m.len[i]});
    depends_on_fpu_control_ |= m.fpu_dependent;
    return m.result;
  }
  const size_t first = deps->size();
  const bool fpu_before = depends_on_fpu_control_;
  depends_on_fpu_control_ = false;
  const uint32_t result = WalkFlagsLiveAt(va, page, want, priv, fetch, depth, deps);
  m.Remember(pa, want, depth, fpu_control_, depends_on_fpu_control_, result, page, *deps, first);
  depends_on_fpu_control_ |= fpu_before;
  return result;
}

uint32_t Translator::WalkFlagsLiveAt(uint64_t va, CodePage page, uint32_t want, PrivClass priv,
                                     const CodeFetcher& fetch, int depth, std::vector<Block::CodeRange>* deps) {
  constexpr unsigned kMaxLookahead = 24;
  // Flags outside `want` are reported live: they change nothing.
  uint32_t live = kArithFlags & ~want, unknown = want;  // flags read / not yet decided
  uint64_t page_va = va & ~0xfffull;
  const size_t first = deps->size();
  DecodedInsn d{DecodedInsn::Uninitialized{}};  // (Decode fills it; a failed one is not looked at)
  for (unsigned n = 0; n < kMaxLookahead && unknown; ++n) {
    if ((va & ~0xfffull) != page_va) {
      page_va = va & ~0xfffull;
      page = fetch(page_va);
      if (!page.ok) break;
    }
    const size_t off = va & 0xfff;
    const size_t avail = 4096 - off;
    if (avail < 15 || decoder_.Decode(page.host + off, 15, va, &d) != Decoder::Status::kOk) break;
    // Consecutive instructions make one range (not with a range from before
    // this walk: the memo keeps each walk's own).
    if (deps->size() > first && deps->back().pa + deps->back().len == page.pa + off)
      deps->back().len += d.length();
    else
      deps->push_back({page.pa + off, d.length()});
    const InsnKind k = Classify(d);
    if (k == InsnKind::kCallout || k == InsnKind::kUndefined || k == InsnKind::kString) break;
    if (DependsOnFpuControl(d)) {
      depends_on_fpu_control_ = true;
      if (FpuControlFault(d, fpu_control_) >= 0) break;  // raises: its frame sees every flag
    }
    FlagEffect fx = FlagEffectOf(d);
    if (MayFaultNatively(d)) fx.reads = kArithFlags;  // its exception frame sees them
    live |= fx.reads & unknown;
    unknown &= ~fx.kills;
    if (!unknown) break;
    const bool direct = d.insn.operand_count_visible > 0 && d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
    const uint64_t target = direct ? d.direct_target() : 0;
    if (k == InsnKind::kJmp || k == InsnKind::kCall) {
      if (!direct || d.insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) break;
      va = target;
      continue;
    }
    if (k == InsnKind::kJcc || k == InsnKind::kLoop) {
      if (depth <= 0) break;
      return live | (unknown & (FlagsLiveAt(target, unknown, priv, fetch, depth - 1, deps) |
                                FlagsLiveAt(d.next_rip(), unknown, priv, fetch, depth - 1, deps)));
    }
    if (k == InsnKind::kRet) break;
    va = d.next_rip();
  }
  return live | unknown;
}

bool Translator::SaveFlagsInOneStore(BlockEmitter& e, const std::vector<DecodedInsn>& decoded, size_t w,
                                     size_t valid_until, std::optional<LazyFlagsDesc>* lazy) {
  lazy->reset();
  if (const int32_t flags = ConstantFlagsOf(decoded[w]); flags >= 0) {
    // Known now: stored as lahf and seto would have.
    e.a.mov(Ctx(XLAT_CTX_OFF(flags_lahf), 4), static_cast<int32_t>(LahfSlotOf(static_cast<uint64_t>(flags))));
    return true;
  }
  if (lazy_flags_desc_ == nullptr) return false;
  uint16_t written_after = 0;
  for (size_t j = w + 1; j < valid_until; ++j) written_after |= GprsWritten(decoded[j]);
  const std::optional<LazyFlagsDesc> d = LazyFlagsDescOf(decoded[w], written_after);
  if (!d) return false;
  const uint64_t desc = d->Pack();
  uint32_t id;
  if (auto it = lazy_flags_ids_.find(desc); it != lazy_flags_ids_.end()) {
    id = it->second;
  } else if (lazy_flags_new_.valid) {
    // (A trace saves at each guard: one new form per block, the one it has.)
    if (lazy_flags_new_.desc != desc) return false;
    id = lazy_flags_next_id_;
  } else {
    if (lazy_flags_next_id_ >= kLazyFlagsIds) return false;
    id = lazy_flags_next_id_;  // (taken once the block is in the cache)
    lazy_flags_new_ = {true, desc, e.a.newLabel()};
    e.Cold([&e, form = *d, stub = lazy_flags_new_.stub] {
      e.a.bind(stub);
      EmitLazyFlagsStub(e.a, form);
    });
  }
  e.a.mov(Ctx(XLAT_CTX_OFF(flags_lahf)), static_cast<int32_t>(id << 16 | kLazyFlagsMarker));
  *lazy = *d;
  return true;
}

TranslateResult Translator::Translate(uint64_t rip, PrivClass priv, const CodeFetcher& fetch, bool single_step) {
  return TranslateImpl(rip, priv, fetch, single_step, nullptr, false);
}

TranslateResult Translator::TranslateTrace(uint64_t rip, PrivClass priv, const CodeFetcher& fetch,
                                           const std::vector<uint64_t>& path, bool closes) {
  return TranslateImpl(rip, priv, fetch, false, &path, closes);
}

TranslateResult Translator::TranslateImpl(uint64_t rip, PrivClass priv, const CodeFetcher& fetch, bool single_step,
                                          const std::vector<uint64_t>* path, bool path_closes) {
  TranslateResult result;
  if (cache_.room() < std::min<uint64_t>(kMaxBlockHostBytes, cache_.capacity() / 4)) {
    result.kind = TranslateResult::Kind::kCacheFull;
    return result;
  }
  const auto t0 = std::chrono::steady_clock::now();
  lazy_flags_new_.valid = false;
  const uint64_t page0_va = rip & ~0xfffull;
  const CodePage page0 = fetch(page0_va);
  if (!page0.ok) {
    result.kind = TranslateResult::Kind::kFetchFault;
    result.fault_va = rip;
    result.pf_error = page0.pf_error;
    return result;
  }
  CodePage page1;
  bool fetched_page1 = false;

  // ---- Decode the block. ----
  depends_on_fpu_control_ = false;
  Scratch& s = *scratch_;
  std::vector<DecodedInsn>& decoded = s.decoded;
  std::vector<InsnKind>& kinds = s.kinds;
  decoded.clear();
  kinds.clear();
  uint8_t raise_vector = kVectorUD;  // of a final kUndefined instruction
  uint64_t pc = rip;
  bool crosses = false;
  const size_t max_insns = single_step ? 1 : kMaxBlockInsns;
  // Runs of consecutive guest code: a direct jmp to code on the same page
  // that the block has not decoded yet is followed rather than left by (a
  // superblock: the handler of a bytecode and the shared dispatch it jumps
  // back to become one block, with no exit, entry or poll between them).
  std::vector<Scratch::Run>& runs = s.runs;
  runs.assign(1, {rip, rip});
  unsigned jumps_followed = 0;
  auto decoded_at = [&decoded](uint64_t va) {
    for (const DecodedInsn& x : decoded)
      if (x.rip == va) return true;
    return false;
  };
  // Side exits: a forward jcc need not end the block. Its taken path leaves
  // through a stub; the fall-through goes on in the same block, so the usual
  // path through an if runs with no exit, entry or poll, and its accesses
  // can share group checks. Not past a loop's latch (its back edge ends the
  // block, which a self-loop needs; a backward jcc whose target does not
  // run back into it is no latch: RunsInto), nor into the code a side exit
  // jumps to (where the if rejoins: that code is translated there anyway),
  // nor so far that fewer than kMinFreeGprs registers stay unnamed (the
  // pool would shrink and rewrites would spill around each access).
  //
  // A forward jcc whose target looks like its loop's latch (the branch back
  // to the block's start is within a few bytes there) is followed the other
  // way: the block goes on at the target and the fall-through becomes the
  // side exit. A loop whose common path skips ahead to an out-of-line latch
  // (the decompressor's branch-call-jump filter) then is one block that
  // branches back to itself.
  constexpr unsigned kMaxSideExits = 4;
  constexpr unsigned kMaxTraceExits = 24;  // a trace's side exits and guards
  constexpr unsigned kMinFreeGprs = 3;
  SideExit side[kMaxTraceExits];
  unsigned side_exits = 0;
  auto side_exit_to = [&side, &side_exits](uint64_t va) {
    for (unsigned k = 0; k < side_exits; ++k)
      if (side[k].dest == va) return true;
    return false;
  };
  // (-count-insns adds a block's whole count at its entry: a side exit
  // would count instructions that never ran.)
  const bool side_exits_allowed = follow_jumps_ && !single_step && !count_guest_insns_;
  // A trace follows its path: at each step the instruction at pc must be
  // the path's next (where it is not, the trace has left the path and ends).
  const bool trace = path != nullptr && !path->empty() && (*path)[0] == rip && side_exits_allowed &&
                     !precise_fault_flags_ && !breakpoints_;
  size_t path_at = 0;
  uint16_t named = 1u << kRsp;  // GPRs the block's instructions name (for the pool too)
  auto free_gprs = [](uint16_t n) { return 16u - static_cast<unsigned>(__builtin_popcount(n)); };
  while (decoded.size() < max_insns) {
    const uint64_t off = pc - page0_va;
    if (off >= 4096) break;  // the next instruction starts on the next page
    if (trace && (path_at >= path->size() || (*path)[path_at] != pc)) break;
    if (!trace && side_exit_to(pc)) break;
    // A breakpoint starts its own block, where the dispatcher sees it.
    if (breakpoints_ && !decoded.empty() && breakpoints_->count(pc)) break;
    // Decoded in place: a DecodedInsn is over a kilobyte. (The constructor
    // reserved kMaxBlockInsns: the reference stays valid.)
    DecodedInsn& d = decoded.emplace_back(DecodedInsn::Uninitialized{});
    const size_t avail = 4096 - off;
    Decoder::Status st = decoder_.Decode(page0.host + off, avail < 15 ? avail : 15, pc, &d);
    if (st == Decoder::Status::kNeedMoreBytes && avail < 15) {
      if (!fetched_page1) {
        page1 = fetch(page0_va + 4096);
        fetched_page1 = true;
      }
      if (!page1.ok) {
        decoded.pop_back();
        if (decoded.empty()) {
          result.kind = TranslateResult::Kind::kFetchFault;
          result.fault_va = page0_va + 4096;
          result.pf_error = page1.pf_error;
          return result;
        }
        break;  // end before it; running there will raise the #PF precisely
      }
      uint8_t buf[15];
      std::memcpy(buf, page0.host + off, avail);
      std::memcpy(buf + avail, page1.host, 15 - avail);
      st = decoder_.Decode(buf, 15, pc, &d);
      if (st == Decoder::Status::kOk) crosses = true;
    }
    InsnKind kind;
    if (st != Decoder::Status::kOk) {
      d = DecodedInsn{};
      d.rip = pc;
      kind = InsnKind::kUndefined;
      if (st == Decoder::Status::kTooLong) raise_vector = 13;  // #GP(0)
    } else {
      kind = Refine(d, Classify(d), priv, strict_iopl_, single_step);
      if (kind == InsnKind::kCallout && d.mnemonic() == ZYDIS_MNEMONIC_RDTSC && native_rdtsc_) kind = InsnKind::kCopy;
      // (rdtscp also loads TSC_AUX: the guest's, not the host's.)
      if (kind == InsnKind::kCallout && d.mnemonic() == ZYDIS_MNEMONIC_RDTSCP && native_rdtsc_) kind = InsnKind::kVirtual;
      if (DependsOnFpuControl(d)) {  // (else FpuControlFault is -1 whatever the control bits)
        depends_on_fpu_control_ = true;
        if (const int v = FpuControlFault(d, fpu_control_); v >= 0 && kind != InsnKind::kUndefined) {
          kind = InsnKind::kUndefined;
          raise_vector = static_cast<uint8_t>(v);
        }
      }
    }
    if (kind != InsnKind::kUndefined) {
      const uint16_t now_named = named | GprsUsed(d);
      if (side_exits > 0 && free_gprs(now_named) < kMinFreeGprs) {
        decoded.pop_back();  // it starts the next block instead
        crosses = false;
        break;
      }
      named = now_named;
    }
    runs.back().end = d.next_rip();
    if (trace && kind != InsnKind::kUndefined && (path_at + 1 < path->size() || path_closes)) {
      // Where the path went next (after its last instruction: back to its start).
      const uint64_t next = path_at + 1 < path->size() ? (*path)[path_at + 1] : rip;
      const bool on_page = (next & ~0xfffull) == page0_va;
      const bool room = side_exits < kMaxTraceExits && !crosses && on_page && decoded.size() + 2 < max_insns &&
                        free_gprs(named) >= kMinFreeGprs;
      const bool direct = d.insn.operand_count_visible > 0 && d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
      const auto index = static_cast<uint16_t>(decoded.size() - 1);
      bool followed = false;
      // (A jcc back to the start at the path's end stays the block's last
      // instruction: a loop that is its own block, as usual.)
      const bool loops_back = kind == InsnKind::kJcc && path_at + 1 == path->size() && d.direct_target() == rip;
      if (kind == InsnKind::kJcc && room && !loops_back && (next == d.direct_target() || next == d.next_rip())) {
        const bool taken = next != d.next_rip();
        side[side_exits++] = {index, taken, taken ? d.next_rip() : d.direct_target(), false};
        followed = true;
      } else if (kind == InsnKind::kJmp && direct && !crosses && on_page && next == d.direct_target()) {
        kind = InsnKind::kDrop;  // nothing to run: the code at the target follows
        followed = true;
      } else if (kind == InsnKind::kJmp && !direct && room && d.insn.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR &&
                 static_cast<int64_t>(next) == static_cast<int32_t>(next)) {
        // (The guard compares with an imm32: code in the low or the top 2 GiB.)
        side[side_exits++] = {index, false, next, true};
        followed = true;
      }
      if (followed) {
        kinds.push_back(kind);
        if (next != d.next_rip()) runs.push_back({next, next});
        pc = next;
        ++path_at;
        continue;
      }
    }
    if (!trace && kind == InsnKind::kJcc && side_exits_allowed && side_exits < kMaxSideExits && !crosses &&
        decoded.size() + 2 < max_insns && free_gprs(named) >= kMinFreeGprs) {
      const uint64_t target = d.direct_target();
      // A backward jcc that is not its loop's latch (the code at its target
      // does not run back into it: RunsInto) is followed like a forward one.
      const bool backward_not_latch = target <= d.rip && target != rip && !decoded_at(target) &&
                                      (target & ~0xfffull) == page0_va &&
                                      !RunsInto(decoder_, page0.host, page0_va, target, d.rip);
      if (target > d.rip || backward_not_latch) {
        const bool to_latch = target > d.rip && (target & ~0xfffull) == page0_va &&
                              jumps_followed < kMaxJumpsFollowed && !decoded_at(target) &&
                              LooksLikeLatch(page0.host, page0_va, target, rip) &&
                              !(breakpoints_ && breakpoints_->count(target));
        side[side_exits++] = {static_cast<uint16_t>(decoded.size() - 1), to_latch, to_latch ? d.next_rip() : target};
        kinds.push_back(kind);
        if (to_latch) {
          ++jumps_followed;
          runs.push_back({target, target});
          pc = target;
        } else {
          pc = d.next_rip();
        }
        continue;
      }
    }
    if (!trace && kind == InsnKind::kJmp && !crosses && follow_jumps_ && jumps_followed < kMaxJumpsFollowed &&
        decoded.size() + 2 < max_insns && d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
      const uint64_t target = d.direct_target();
      if ((target & ~0xfffull) == page0_va && target != rip && !decoded_at(target) &&
          !(breakpoints_ && breakpoints_->count(target))) {
        kinds.push_back(InsnKind::kDrop);  // nothing to run: the code at the target follows
        ++jumps_followed;
        runs.push_back({target, target});
        pc = target;
        continue;
      }
    }
    kinds.push_back(kind);
    pc = d.next_rip();
    ++path_at;
    // swapgs changes the base of every later gs: access: the block ends
    // after it, so that no memory group spans it.
    if (EndsBlock(kind) || crosses || IsInlineTransfer(d, kind) ||
        (kind == InsnKind::kVirtual && d.mnemonic() == ZYDIS_MNEMONIC_SWAPGS))
      break;
  }
  // A loop whose head is not the block's start (setup code comes first):
  // the block ends at the head instead, which then starts a block of its
  // own that branches back to itself, rather than this block running the
  // first iteration and that one the rest.
  if (!trace && side_exits_allowed && kinds.back() == InsnKind::kJcc && decoded.size() > 1) {
    const DecodedInsn& tail = decoded.back();
    const uint64_t head = tail.direct_target();
    if (head > rip && head < runs[0].end) {
      size_t k = 1;
      while (k < decoded.size() && decoded[k].rip != head) ++k;
      if (k < decoded.size()) {
        decoded.erase(decoded.begin() + static_cast<ptrdiff_t>(k), decoded.end());
        kinds.resize(k);
        runs.resize(1);
        runs[0].end = head;
        while (side_exits > 0 && side[side_exits - 1].insn >= k) --side_exits;
        named = 1u << kRsp;
        for (size_t i = 0; i < k; ++i)
          if (kinds[i] != InsnKind::kUndefined) named |= GprsUsed(decoded[i]);
        crosses = false;
        pc = head;
      }
    }
  }
  // Where execution goes after the last instruction when it falls through.
  uint64_t end_rip = kinds.back() == InsnKind::kUndefined ? decoded.back().rip : pc;
  auto exit_at = [&side, &side_exits](size_t i) -> const SideExit* {
    for (unsigned k = 0; k < side_exits; ++k)
      if (side[k].insn == i) return &side[k];
    return nullptr;
  };
  auto guard_at = [&exit_at](size_t i) {
    const SideExit* x = exit_at(i);
    return x && x->guard;
  };

  // ---- Flag liveness. ----
  std::vector<FlagEffect>& effects = s.effects;
  effects.resize(decoded.size());
  for (size_t i = 0; i < decoded.size(); ++i) {
    // An instruction the VMM handles (or that raises) may see every flag;
    // so does the exception frame of a div that can fault natively (#DE):
    // flags must be exact up to it. (Aligned accesses are checked by their
    // lookup: liveness.h, RequiredAlignment.)
    effects[i] = FlagEffectOf(decoded[i]);
    if (kinds[i] == InsnKind::kUndefined || kinds[i] == InsnKind::kCallout ||
        (kinds[i] == InsnKind::kString && !InlineStringForm(decoded[i])) ||
        IsInlineTransfer(decoded[i], kinds[i]) || MayFaultNatively(decoded[i]))
      effects[i].reads = kArithFlags;
    // A guard's compare leaves garbage in the host's flags: the guest's were
    // saved before it (below), and nothing after it may read them.
    if (trace && guard_at(i)) effects[i] = FlagEffect{0, kArithFlags, kArithFlags};
  }
  if (trace) {
    // What happens to the flags after instruction `from`: 1 if the first
    // instruction that touches them writes them all (or is a guard, when
    // `guard_kills`), 0 if it reads some or writes only some, -1 if none does.
    auto first_touch_kills = [&](size_t from, bool guard_kills) {
      for (size_t j = from; j < decoded.size(); ++j) {
        if (guard_at(j)) return guard_kills ? 1 : 0;
        const FlagEffect& fx = effects[j];
        if (fx.reads & kArithFlags) return 0;
        if ((fx.kills & kArithFlags) == kArithFlags) return 1;
        if (fx.writes & kArithFlags) return 0;
      }
      return -1;
    };
    // The code after each guard must write the flags before it reads them;
    // after the last one, until the trace goes back to its start, which
    // then must. Where not, the trace ends at that guard: its jmp leaves
    // through the jump cache, as any block's.
    for (unsigned k = 0; k < side_exits; ++k) {
      if (!side[k].guard) continue;
      const size_t g = side[k].insn;
      const int after = first_touch_kills(g + 1, /*guard_kills=*/true);
      if (after == 1 || (after == -1 && end_rip == rip && first_touch_kills(0, false) == 1)) continue;
      if (after == -1 && end_rip == rip) {
        // The last guard, back to a start that needs the flags: they are
        // made again after it (from what the save before it stored).
        side[k].restores = true;
        continue;
      }
      decoded.resize(g + 1);
      kinds.resize(g + 1);
      effects.resize(g + 1);
      effects[g] = FlagEffectOf(decoded[g]);
      side_exits = k;
      named = 1u << kRsp;
      for (size_t i = 0; i <= g; ++i)
        if (kinds[i] != InsnKind::kUndefined) named |= GprsUsed(decoded[i]);
      end_rip = decoded[g].next_rip();
      break;
    }
  }
  // A block that leaves by an indirect branch saves the guest's flags after
  // its last flag-writing instruction (the target restores them if it reads
  // them), so nothing is live when it leaves. So does a trace before each
  // guard, after the last writer since the one before it (with none, the
  // flags saved at that one still are).
  std::vector<uint8_t>& save_after = s.save_after;  // the flags are saved after instruction i
  save_after.assign(decoded.size(), 0);
  bool save_at_start = false;
  const DecodedInsn& tail = decoded.back();
  const bool indirect_tail = !guard_at(decoded.size() - 1) &&
                             (kinds.back() == InsnKind::kRet ||
                              ((kinds.back() == InsnKind::kJmp || kinds.back() == InsnKind::kCall) &&
                               tail.ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE));
  {
    // (The save goes after the segment's side exits too: their targets
    // find the flags in the host's.)
    size_t segment = 0;
    for (size_t i = 0; i < decoded.size(); ++i) {
      if (!guard_at(i) && !(indirect_tail && i + 1 == decoded.size())) continue;
      int w = -1;
      for (size_t j = segment; j < i; ++j)
        if (effects[j].writes || effects[j].reads == kArithFlags || exit_at(j)) w = static_cast<int>(j);
      if (w >= 0)
        save_after[static_cast<size_t>(w)] = 1;
      else if (segment == 0)
        save_at_start = true;
      segment = i + 1;
    }
  }
  std::vector<Block::CodeRange>& deps = s.deps;
  deps.clear();
  if (side_exits > 0) {
    // A side exit reads, besides its condition, what its target reads.
    for (unsigned k = 0; k < side_exits; ++k) {
      if (side[k].guard) continue;
      const size_t i = side[k].insn;
      const uint32_t want = precise_fault_flags_ ? 0 : WantedAtEnd(effects, kinds, save_at_start, i + 1);
      effects[i].reads |= want ? FlagsLiveAt(side[k].dest, want, priv, fetch, 2, &deps) : kArithFlags;
    }
  }
  // Flags live when the block leaves: what its direct successors read. Only
  // the flags that would change how some instruction is rewritten are
  // looked for (WantedAtEnd): usually none, or AF alone.
  uint32_t live_at_end = kArithFlags;
  const uint32_t want =
      indirect_tail || precise_fault_flags_ ? 0 : WantedAtEnd(effects, kinds, save_at_start, effects.size());
  if (want) {
    const InsnKind k = kinds.back();
    const bool direct = tail.insn.operand_count_visible > 0 && tail.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
    const uint64_t target = direct ? tail.direct_target() : 0;
    if ((k == InsnKind::kJmp || k == InsnKind::kCall) && direct) {
      live_at_end = FlagsLiveAt(target, want, priv, fetch, 2, &deps);
    } else if ((k == InsnKind::kJcc || k == InsnKind::kLoop) && direct) {
      live_at_end = FlagsLiveAt(target, want, priv, fetch, 2, &deps) | FlagsLiveAt(end_rip, want, priv, fetch, 2, &deps);
    } else if (!EndsBlock(k)) {
      live_at_end = FlagsLiveAt(end_rip, want, priv, fetch, 2, &deps);
    }
  }
  std::vector<uint32_t>& live_in = s.live_in;
  std::vector<uint32_t>& live_out = s.live_out;
  live_in.resize(decoded.size());
  live_out.resize(decoded.size());
  ComputeFlagLiveness(effects, live_in, live_out, indirect_tail ? 0 : live_at_end, save_after);
  if (precise_fault_flags_ && !save_at_start) {
    // Exact up to the save (no traces then: one save at most), or throughout.
    const size_t save = static_cast<size_t>(std::find(save_after.begin(), save_after.end(), 1) - save_after.begin());
    for (size_t i = 0; i < decoded.size() && i <= save; ++i) live_in[i] |= kArithFlags;
  }
  const uint32_t block_live_in = save_at_start ? kArithFlags : live_in[0];
  // How far a lazy save (SaveFlagsInOneStore) must stand for the flags,
  // made again from the registers: through every guard that finds them
  // saved (the target of a miss may read them; so does the start after a
  // restoring guard), to the end where no instruction writes them all
  // again (an indirect tail leaves with them). Past a guard, before the
  // first full writer, they are dead: an exception frame there may show any
  // (no traces with -accel tcg,precise-flags=on).
  auto flags_saved_until = [&](size_t w) {
    size_t j = w + 1;
    while (j < decoded.size() && !guard_at(j)) ++j;
    size_t until = j + 1;
    for (++j; j < decoded.size(); ++j) {
      if (guard_at(j))
        until = j + 1;
      else if ((effects[j].kills & kArithFlags) == kArithFlags)
        return until;
    }
    return decoded.size();
  };

  // ---- Emit. ----
  auto block = std::make_unique<Block>();
  block->guest_rip = rip;
  block->guest_phys = page0.pa + (rip - page0_va);
  block->priv = priv;
  block->key = BlockKey(block->guest_phys, priv) ^ (single_step ? kSingleStepKeyBit : 0);
  block->single_step = single_step;
  block->trace = trace;
  block->depends_on_fpu_control = depends_on_fpu_control_;
  block->global_code = page0.global && (!crosses || page1.global);
  block->ranges.reserve(runs.size() + 1 + deps.size());
  for (const Scratch::Run& r : runs) {
    // Only the last run can go on past the page: its last instruction straddles it.
    const uint64_t page_end = page0_va + 4096;
    const uint64_t end0 = std::min(r.end, page_end);
    if (end0 > r.start) block->ranges.push_back({page0.pa + (r.start - page0_va), static_cast<uint32_t>(end0 - r.start)});
    if (r.end > page_end) block->ranges.push_back({page1.pa, static_cast<uint32_t>(r.end - page_end)});
  }
  for (const Block::CodeRange& r : deps) block->ranges.push_back(r);

  const uint32_t first_site = cache_.site_count();
  uint8_t* const base = cache_.cursor();
  CodeHolder& code = s.code;
  code.reset(ResetPolicy::kSoft);  // keeps its zone memory for the next block
  code.init(Environment(Arch::kX64), reinterpret_cast<uint64_t>(base));
  code.setErrorHandler(&s.errors);
  s.errors.first = kErrorOk;
  // Emit straight into the cache's free space: the section's buffer is
  // external (AsmJit neither allocates nor frees it) and fixed (running out
  // of it is an error, reported below as a full cache).
  CodeBuffer& text = code.textSection()->buffer();
  text._data = base;
  text._size = 0;
  text._capacity = cache_.room();
  text._flags = CodeBufferFlags::kIsExternal | CodeBufferFlags::kIsFixed;
  BlockEmitter e(cache_, thunks_, priv, code, s.emit);
  e.block = block.get();

  // The pool: registers no instruction of the block names, reserved as
  // scratch for the whole block when its rewrites need any.
  // A block that branches back to its own start keeps its pool across
  // iterations, and may check a span or group once before its loop head.
  const bool loop = !single_step && LoopsToItself(decoded, kinds, rip);
  // (Its last instruction a guard, a followed jcc, or one that ends no block, it goes on to end_rip.)
  block->trace_loops = trace && (loop || (!indirect_tail && end_rip == rip &&
                                          (exit_at(decoded.size() - 1) || !EndsBlock(kinds.back()))));
  const PoolNeeds needs = PoolNeedsOf(decoded, kinds);
  uint16_t pool = ChoosePool(needs, named, loop, /*room_for_group=*/true);
  e.SetPool(pool);
  // Access groups, each holding a pool register while it is live (one pool
  // register stays for the checks themselves).
  std::vector<GroupMembership>& group_of = s.group_of;
  unsigned pool_size = static_cast<unsigned>(__builtin_popcount(pool));
  std::vector<MemGroup>& groups = s.groups;
  groups.clear();
  group_of.assign(decoded.size(), GroupMembership{});
  CheckedSpan span;
  bool has_span = false;
  std::vector<int32_t>& span_offset = s.span_offset;
  span_offset.assign(decoded.size(), -1);
  StrideSpans stride;
  bool has_stride = false;
  bool stride_count_in_register = false;
  std::vector<int8_t>& stride_group = s.stride_group;
  stride_group.assign(decoded.size(), -1);
  // An inline rep movs/stos takes its pool registers for itself: groups
  // live across it must leave them free.
  if (needs.string_regs) {
    if (pool_size > needs.string_regs && !no_groups_.count(block->key))
      FindMemGroups(decoded, kinds, pool_size - needs.string_regs, &group_of, &groups);
  } else if (pool_size >= 2 && !no_groups_.count(block->key)) {
    // A loop's span and its windows (checked_span.h) each hold a pool
    // register for the whole block; one more stays for the checks, and the
    // groups get what is left.
    unsigned held = 0;
    if (pool_size >= 3 && !loop && IndexedAccesses(decoded, kinds) >= 2) {
      // Outside a loop a span pays for accesses through different bounded
      // indices, two or more (an interpreter's register file, read and
      // written through byte-sized operands), which groups cannot share;
      // through one base alone, the groups do as well.
      has_span = FindCheckedSpan(decoded, kinds, &span, &span_offset, /*min_members=*/2, /*indexed_only=*/true);
      if (!has_span) span_offset.assign(decoded.size(), -1);
      held += has_span;
    }
    if (pool_size >= 3 && loop) {
      has_span = FindCheckedSpan(decoded, kinds, &span, &span_offset, /*min_members=*/1);
      held += has_span;
      // The head's compare of the counter clobbers the flags.
      if (!(block_live_in & kArithFlags) &&
          FindStrideSpans(decoded, kinds, span_offset, pool_size - 1 - held, &stride, &stride_group)) {
        has_stride = true;
        held += stride.count;
        // One more register, where the block leaves one unnamed, counts the
        // iterations the windows have left: the head then reads no memory.
        // (Spilled once per entry into the loop, not per iteration.)
        const uint16_t wider = ChoosePool(needs, named, loop, /*room_for_group=*/true, pool_size + 1);
        if (static_cast<unsigned>(__builtin_popcount(wider)) > pool_size) {
          pool = wider;
          pool_size++;
          e.SetPool(pool);
          stride_count_in_register = true;
          held++;
        }
        // Members of either are checked apart from the groups.
        for (size_t i = 0; i < decoded.size(); ++i)
          if (stride_group[i] >= 0) span_offset[i] = std::max(span_offset[i], 0);
      }
    }
    if (pool_size - held >= 2 || held == 0)
      FindMemGroups(decoded, kinds, pool_size - 1 - held, &group_of, &groups, held ? &span_offset : nullptr);
  }
  if (groups.empty() && !has_span && !has_stride) {
    pool = ChoosePool(needs, named, loop, /*room_for_group=*/false);
    e.SetPool(pool);
  }
  e.group_reg.assign(groups.size(), -1);
  stats_.mem_groups += groups.size();

  // Where a side exit comes before the first rewrite that needs the pool (a
  // guard at a function's start, a decoder's renormalization check), the
  // pool is spilled there instead of at the entries: a run that leaves by
  // that exit stores and reloads nothing. (Not in a loop, whose head keeps
  // the pool displaced across iterations; and such a block offers no entry
  // past the spills to a linked source, since it has none.)
  int lazy_pool_at = -1;
  if (pool && !loop && !has_span && !count_guest_insns_) {
    const int first_user = FirstPoolUser(decoded, kinds);
    for (int i = 0; i < first_user; ++i)
      if (kinds[i] == InsnKind::kJcc) {
        lazy_pool_at = first_user;
        break;
      }
  }
  const uint16_t entry_pool = lazy_pool_at >= 0 ? 0 : pool;

  // Entries. An indirect branch arrives at the indirect entry with r11
  // displaced and its target in ctx.ind_target, without having compared
  // anything: the entry checks that the target is this block (with a cmp
  // where the block's flags are dead on entry, else flag-free through rcx)
  // and sends a mismatch to the lookup-miss thunk. Both entries then spill
  // the pool and meet at the head, which polls for interrupts; a loop that is
  // its own block branches back there.
  const uint16_t spilled_on_indirect = 1u << kR11;
  const int64_t srip = static_cast<int64_t>(rip);
  if (srip == static_cast<int32_t>(srip)) {
    e.a.cmp(Ctx(XLAT_CTX_OFF(ind_target)), static_cast<int32_t>(srip));
  } else {
    e.a.mov(x86::r11, rip);
    e.a.cmp(x86::r11, Ctx(XLAT_CTX_OFF(ind_target)));
  }
  e.a.jne(Imm(reinterpret_cast<uint64_t>(thunks_.lookup_miss)));
  // A block that leaves by an indirect jmp may be an interpreter's handler:
  // once entered this way often enough, the VMM follows what runs from here
  // and makes it a trace (TranslateTrace). Until then each entry counts down.
  // (So does the normal entry, where the flags are dead: a side exit of a
  // trace that is often taken leads to a trace of its own.)
  const bool counted = trace_counters_ && !trace && !single_step && side_exits_allowed && !precise_fault_flags_ &&
                       kinds.back() == InsnKind::kJmp && indirect_tail && !no_traces_.count(block->key);
  const bool counted_direct = counted && !(block_live_in & kArithFlags);
  const uint32_t counter_slot = counted ? trace_counter_next_++ % kTraceCounters : 0;
  if (counted) {
    trace_counters_[counter_slot] = trace_threshold_;
    e.a.sub(Ctx(CtxTraceCounterOff(counter_slot), 4), 1);
    e.a.jb(Imm(reinterpret_cast<uint64_t>(thunks_.trace_head)));
  }
  if (block_live_in & kArithFlags) EmitRestoreArithFlags(e.a);  // the source saved them
  if (!(entry_pool & (1u << kR11))) e.a.mov(x86::r11, Ctx(CtxSpillOff(kR11)));
  Label entry = e.a.newLabel(), pre = e.a.newLabel(), head = e.a.newLabel();
  e.SpillPool(entry_pool & ~spilled_on_indirect);
  if (entry_pool || counted_direct) e.a.jmp(pre);
  e.a.bind(entry);
  if (counted_direct) {
    // Leaves as an indirect branch to this block would: r11 in its slot,
    // the target in ctx.ind_target, the flags in ctx.flags_lahf (dead
    // here, and the count's sub clobbered them: any will do).
    const Label hot = e.a.newLabel();
    e.a.sub(Ctx(CtxTraceCounterOff(counter_slot), 4), 1);
    e.a.jb(hot);
    e.Cold([&e, hot, rip, srip, this] {
      e.a.bind(hot);
      e.a.mov(Ctx(CtxSpillOff(kR11)), x86::r11);
      if (srip == static_cast<int32_t>(srip)) {
        e.a.mov(Ctx(XLAT_CTX_OFF(ind_target)), static_cast<int32_t>(srip));
      } else {
        e.a.mov(x86::r11, rip);
        e.a.mov(Ctx(XLAT_CTX_OFF(ind_target)), x86::r11);
      }
      e.a.mov(Ctx(XLAT_CTX_OFF(flags_lahf), 4), 0);
      e.a.jmp(Imm(reinterpret_cast<uint64_t>(thunks_.trace_head)));
    });
  }
  e.SpillPool(entry_pool);
  e.a.bind(pre);
  e.SetPool(entry_pool);
  e.StartPool();
  GuestInsn gi;
  gi.d = &decoded[0];
  gi.index = 0;
  e.insn = &gi;
  if (has_span) {
    // Before the loop head: once per entry, not per iteration. The guest is
    // at the block's first instruction, which a declined check resumes at.
    // (Where the span lies across a page boundary as the block is about to
    // run, an invariant base, a register file on the stack, will stay so.)
    const bool crosses_now = guest_gprs_ && span.base.base >= 0 && span.base.index < 0 && span.base.segment < 0 &&
                             ((guest_gprs_[span.base.base] + static_cast<uint64_t>(span.base.disp)) & 0xfff) +
                                     span.span > 4096;
    e.span_reg = EmitSpanCheck(e, span.base, span.span, span.access, (block_live_in & kArithFlags) != 0,
                               /*avoid=*/0, /*avoid_held=*/kNotHeldAcrossBlock, crosses_now);
    if (e.span_reg >= 0) {
      e.span_indexed = span.indexed;
      stats_.spans_checked++;
    }
  }
  Label refill;
  if (has_stride) {
    refill = EmitStrideWindows(e, stride, stride_count_in_register);
    if (refill.isValid()) stats_.loop_stride_windows++;
  }
  // A loop moving windows polls where they move on, before its head: every
  // page's worth of iterations (at most 4096), not every iteration.
  if (!refill.isValid()) e.a.bind(head);
  e.loop_head = head;
  e.BeginNative();
  // Faults when a poll is pending. What it stores, the block's host address
  // (the cache lies below 2 GiB), tells the VMM which block was entered last.
  e.a.mov(Ctx(XLAT_CTX_OFF(poll_page), 4), static_cast<int32_t>(reinterpret_cast<uintptr_t>(base)));
  e.EndNative();
  if (refill.isValid()) {
    e.a.bind(head);
    EmitStrideHeadCheck(e, refill);
  }
  if (count_guest_insns_) {
    // A block may leave early (a fault, an exit); the count is of blocks entered.
    const x86::Gp r = x86::gpq(e.TakeScratch(0));
    e.a.mov(r, Ctx(XLAT_CTX_OFF(guest_insns_entered)));
    e.a.lea(r, x86::ptr(r, static_cast<int32_t>(decoded.size())));
    e.a.mov(Ctx(XLAT_CTX_OFF(guest_insns_entered)), r);
    e.Restore(r.id());
  }

  bool ended = false;
  if (breakpoints_ && !single_step && breakpoints_->count(rip)) {
    // Entered by a link or the jump cache: go to the dispatcher, which stops.
    EmitDebugBreak(e);
    ended = true;
    decoded.resize(1);
    block->insn_rips.push_back(rip);
    block->insn_lens.push_back(static_cast<uint8_t>(decoded[0].length()));
  }
  // What the last save stored: a lazy form (made again from the registers), or flags.
  std::optional<LazyFlagsDesc> saved_lazily;
  if (!ended && save_at_start) {
    stats_.flag_saves++;
    EmitSaveArithFlags(e.a, e.IdlePoolRegister());
    e.MarkFlagsSaved();
  }
  block->insn_rips.reserve(decoded.size());
  block->insn_lens.reserve(decoded.size());
  block->insn_kinds.reserve(decoded.size());
  block->insn_host.reserve(decoded.size() + 1);
  for (size_t i = 0; i < decoded.size() && !ended; ++i) {
    block->insn_host.push_back(static_cast<uint32_t>(e.a.offset()));
    block->insn_kinds.push_back(static_cast<uint8_t>(kinds[i]));
    if (static_cast<int>(i) == lazy_pool_at) {
      e.SetPool(pool);
      e.SpillPool(pool);
      e.StartPool();
    }
    gi.d = &decoded[i];
    gi.index = static_cast<uint16_t>(i);
    gi.group = group_of[i].group >= 0 ? &groups[group_of[i].group] : nullptr;
    gi.group_offset = group_of[i].offset;
    gi.span_offset = stride_group[i] >= 0 ? -1 : span_offset[i];
    gi.stride_group = stride_group[i];
    gi.index_bound = -1;
    if (kinds[i] == InsnKind::kMem || kinds[i] == InsnKind::kJmp || kinds[i] == InsnKind::kCall) {
      // An absolute table read through an index the block bounds: its page
      // may be known now (EmitMemInsn, and a jump table's for jmp/call).
      const int mi = gi.d->MemOperand();
      if (mi >= 0 && gi.d->ops[mi].mem.base == ZYDIS_REGISTER_NONE && gi.d->ops[mi].mem.index != ZYDIS_REGISTER_NONE &&
          GprNumber(gi.d->ops[mi].mem.index) >= 0)
        gi.index_bound = IndexBoundAt(decoded, i, GprNumber(gi.d->ops[mi].mem.index));
    }
    gi.flags_live_in = live_in[i];
    gi.flags_live_out = live_out[i];
    e.insn = &gi;
    block->insn_rips.push_back(gi.d->rip);
    block->insn_lens.push_back(static_cast<uint8_t>(gi.d->length()));
    CountKind(stats_, kinds[i]);
    switch (kinds[i]) {
      case InsnKind::kCopy:
        if (gi.d->mnemonic() == ZYDIS_MNEMONIC_LEA && EmitRipRelativeLea(e, *gi.d)) break;
        e.BeginNative();
        e.Embed(gi.d->bytes, gi.d->length());
        e.EndNative();
        break;
      case InsnKind::kDrop: break;
      case InsnKind::kMem: EmitMemInsn(e, gi); break;
      case InsnKind::kBitMem: EmitBitMemInsn(e, gi); break;
      case InsnKind::kXlat: EmitXlat(e, gi); break;
      case InsnKind::kPush: EmitPush(e, gi); break;
      case InsnKind::kPop: EmitPop(e, gi); break;
      case InsnKind::kLeave: EmitLeave(e, gi); break;
      case InsnKind::kEnter: EmitEnter(e, gi); break;
      case InsnKind::kString: EmitString(e, gi); break;
      case InsnKind::kJmp:
        if (const SideExit* x = exit_at(i)) {
          EmitIndirectGuard(e, gi, x->dest);
          stats_.trace_guards++;
          if (x->restores) {
            if (saved_lazily)
              EmitLazyFlagsAgain(e.a, *saved_lazily);
            else
              EmitRestoreEagerArithFlags(e.a);
            e.MarkFlagsLive();
          }
        } else {
          EmitJmp(e, gi);
          ended = true;
        }
        break;
      case InsnKind::kJcc:
        if (i + 1 < decoded.size() || (trace && exit_at(i))) {
          // (Every jcc before the last is a side exit: only that path decodes
          // past one. A trace's last may be one too: it goes on to its start.)
          const SideExit* x = exit_at(i);
          EmitSideExit(e, gi, x->inverted, x->dest);
          stats_.side_exits++;
        } else {
          EmitJcc(e, gi);
          if (gi.d->direct_target() <= gi.d->rip) block->loop_exit = gi.d->next_rip();
          ended = true;
        }
        break;
      case InsnKind::kLoop: EmitLoop(e, gi); ended = true; break;
      case InsnKind::kCall: EmitCall(e, gi); ended = true; break;
      case InsnKind::kRet: EmitRet(e, gi); ended = true; break;
      case InsnKind::kCallout: EmitEmulateExit(e, gi); ended = true; break;
      case InsnKind::kUndefined: EmitRaise(e, gi, raise_vector); ended = true; break;
      case InsnKind::kVirtual:
        EmitVirtualInsn(e, gi);
        ended = IsInlineTransfer(*gi.d, kinds[i]);
        break;
    }
    if (trace && e.flags_saved() && !guard_at(i) && (effects[i].kills & kArithFlags) == kArithFlags)
      e.MarkFlagsLive();  // past a guard, the first writer of every flag
    if (save_after[i]) {
      stats_.flag_saves++;
      if (SaveFlagsInOneStore(e, decoded, i, flags_saved_until(i), &saved_lazily))
        stats_.flag_saves_one_store++;
      else
        EmitSaveArithFlags(e.a, e.IdlePoolRegister());
      e.MarkFlagsSaved();
    }
  }
  if (!ended && trace && end_rip == rip && lazy_pool_at < 0 && e.displaced() == e.pool()) {
    // A trace back at its start: on at its head, past the entry's spills and
    // span checks, which stand across its iterations as a loop's do (the
    // head polls).
    e.a.jmp(e.loop_head);
    ended = true;
  }
  if (!ended) EmitFallthrough(e, end_rip);
  block->insn_host.push_back(static_cast<uint32_t>(e.a.offset()));  // where the cold code starts
  e.EmitColdCode();

  if (s.errors.first != kErrorOk && s.errors.first != kErrorTooLarge) {
    // A rewrite asked AsmJit for an instruction it cannot encode: a translator bug.
    std::fprintf(stderr, "xlat: internal error: cannot emit the block at %#llx: %s\n",
                 static_cast<unsigned long long>(rip), DebugUtils::errorAsString(s.errors.first));
    std::abort();
  }
  if (s.errors.first != kErrorOk || code.flatten() || code.resolveUnresolvedLinks() ||
      code.relocateToBase(reinterpret_cast<uint64_t>(base))) {
    cache_.TruncateSites(first_site);
    result.kind = TranslateResult::Kind::kCacheFull;
    return result;
  }
  const size_t size = code.codeSize();  // (already in place at base)
  block->host_code = base;
  block->entry = base + code.labelOffsetFromBase(entry);
  if (lazy_flags_new_.valid) {
    const uint32_t id = lazy_flags_next_id_++;
    lazy_flags_ids_.emplace(lazy_flags_new_.desc, id);
    lazy_flags_desc_[id] = lazy_flags_new_.desc;
    lazy_flags_stub_[id] = reinterpret_cast<uint64_t>(base + code.labelOffsetFromBase(lazy_flags_new_.stub));
  }
  if (pool) {
    block->pool = pool;
    if (entry_pool) block->pool_entry = base + code.labelOffsetFromBase(pre);
  }
  block->host_size = static_cast<uint32_t>(size);
  e.Finalize(base);
  for (uint8_t len : block->insn_lens) block->guest_size += len;
  Block* placed = cache_.Commit(std::move(block));

  stats_.blocks_translated++;
  stats_.direct_branch_sites += e.direct_exit_count;
  stats_.guest_insns_translated += decoded.size();
  stats_.guest_bytes_translated += placed->guest_size;
  stats_.host_bytes_emitted += size;
  stats_.translate_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  result.block = placed;
  return result;
}

}  // namespace xlat
