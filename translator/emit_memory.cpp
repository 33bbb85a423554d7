#include "translator/emit_memory.h"

#include <Zydis/Encoder.h>

#include <bit>
#include <cstdlib>
#include <cstring>

#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "translator/liveness.h"
#include "translator/mem_groups.h"

namespace xlat {

using namespace asmjit;

namespace {

// A re-encoded instruction, captured by value in the closures that emit it.
struct InsnBytes {
  InsnBytes(const uint8_t* b, size_t n) : len(static_cast<uint8_t>(n)) { std::memcpy(bytes, b, n); }
  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
  uint8_t len;
};

bool IsGpr32or64(ZydisRegister r) {
  ZydisRegisterClass c = ZydisRegisterGetClass(r);
  return c == ZYDIS_REGCLASS_GPR32 || c == ZYDIS_REGCLASS_GPR64;
}

}  // namespace

uint16_t GprsUsed(const DecodedInsn& d) {
  uint16_t m = 0;
  auto add = [&](ZydisRegister r) {
    int n = GprNumber(r);
    if (n >= 0) m |= static_cast<uint16_t>(1u << n);
  };
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = d.ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) add(op.reg.value);
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      add(op.mem.base);
      add(op.mem.index);
    }
  }
  return m;
}

AddressExpr AddressOf(const DecodedInsn& d, const ZydisDecodedOperand& op) {
  AddressExpr x;
  x.addr_bits = static_cast<uint8_t>(d.insn.address_width);
  if (op.mem.segment == ZYDIS_REGISTER_FS) x.segment = 4;
  if (op.mem.segment == ZYDIS_REGISTER_GS) x.segment = 5;
  if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP) {
    uint64_t abs = d.next_rip() + static_cast<uint64_t>(op.mem.disp.value);
    if (op.mem.base == ZYDIS_REGISTER_EIP) abs &= 0xffffffffu;
    x.disp = static_cast<int64_t>(abs);
    x.addr_bits = 64;
    return x;
  }
  x.base = static_cast<int8_t>(GprNumber(op.mem.base));
  x.index = static_cast<int8_t>(GprNumber(op.mem.index));
  x.scale = op.mem.scale ? op.mem.scale : 1;
  x.disp = op.mem.disp.has_displacement ? op.mem.disp.value : 0;
  return x;
}

void EmitTlbIndex(asmjit::x86::Assembler& a, const asmjit::x86::Gp& index, const asmjit::x86::Gp& va) {
  static_assert(kTlbIndexBits == 16, "the index is the low word of VA >> 12");
  // Two flag-free instructions of one cycle each: on the critical path of
  // every access, where pext takes three.
  a.rorx(index, va, 12);
  a.movzx(index.r32(), index.r16());
}

void EmitGuestAddress(BlockEmitter& e, unsigned addr_reg, unsigned tmp, const AddressExpr& x) {
  auto& a = e.a;
  x86::Gp rs = Gpr64Reg(addr_reg);
  if (x.base < 0 && x.index < 0) {
    uint64_t abs = static_cast<uint64_t>(x.disp);
    if (x.addr_bits == 32) abs &= 0xffffffffu;
    a.mov(rs, abs);  // AsmJit picks the shortest encoding
  } else {
    uint32_t shift = x.scale == 8 ? 3 : x.scale == 4 ? 2 : x.scale == 2 ? 1 : 0;
    int32_t disp = static_cast<int32_t>(x.disp);
    x86::Mem m;
    if (x.addr_bits == 32) {
      if (x.base >= 0 && x.index >= 0)
        m = x86::ptr(x86::gpd(x.base), x86::gpd(x.index), shift, disp);
      else if (x.base >= 0)
        m = x86::ptr(x86::gpd(x.base), disp);
      else
        m = x86::ptr(static_cast<uint64_t>(static_cast<uint32_t>(disp)), x86::gpd(x.index), shift);
      a.lea(rs.r32(), m);  // 32-bit address: the sum wraps at 4 GiB and is zero-extended
    } else {
      if (x.base >= 0 && x.index >= 0)
        m = x86::ptr(x86::gpq(x.base), x86::gpq(x.index), shift, disp);
      else if (x.base >= 0)
        m = x86::ptr(x86::gpq(x.base), disp);
      else
        m = x86::ptr_abs(static_cast<uint64_t>(static_cast<int64_t>(disp)), x86::gpq(x.index), shift);
      a.lea(rs, m);
    }
  }
  if (x.segment >= 0) {
    x86::Gp t = Gpr64Reg(tmp);
    a.mov(t, Ctx(x.segment == 4 ? XLAT_CTX_OFF(fs_base) : XLAT_CTX_OFF(gs_base)));
    a.lea(rs, x86::ptr(rs, t));
  }
}

namespace {

int32_t TagOff(PrivClass priv, uint8_t access) {
  return (access & kAccessWrite) ? CtxTlbWriteTagOff(priv) : CtxTlbReadTagOff(priv);
}
int32_t PairTagOff(PrivClass priv, uint8_t access) {
  return (access & kAccessWrite) ? CtxTlbWritePairTagOff(priv) : CtxTlbReadPairTagOff(priv);
}
int32_t HostOff(PrivClass priv, uint8_t access) {
  return (access & kAccessWrite) ? CtxTlbWriteHostOff(priv) : CtxTlbHostPageOff(priv);
}

// One try of the inline TLB, flag-clobbering: P holds the VA plus the
// entry at index T of tag array `undo` (0: nothing added yet). With that
// entry replaced by the one of tag array `tag` (the page's, or the pair of
// pages', vcpu_context.h), P is the offset into the page or pair if the tag
// matches: at most `limit`, P becomes the host address; else to `miss`,
// with P = VA + that entry.
void EmitTlbTry(x86::Assembler& a, const x86::Gp& P, const x86::Gp& T, int32_t undo, int32_t tag, int32_t limit,
                int32_t host, const Label& miss) {
  if (undo) a.sub(P, CtxIndexed(undo, T, 3));
  a.add(P, CtxIndexed(tag, T, 3));
  a.cmp(P, limit);
  a.ja(miss);
  a.add(P, CtxIndexed(host, T, 3));
}

// A second try in cold code (flags dead): P = VA + the entry of tag array
// `missed` that the first try left, T its index. A hit goes to `hit` with
// the host address; else it falls through with P = the VA, for the VMM.
void EmitTlbRetry(x86::Assembler& a, const x86::Gp& P, const x86::Gp& T, int32_t missed, int32_t tag,
                  int32_t limit, int32_t host, const Label& hit) {
  Label miss = a.newLabel();
  EmitTlbTry(a, P, T, missed, tag, limit, host, miss);
  a.jmp(hit);
  a.bind(miss);
  a.sub(P, CtxIndexed(tag, T, 3));
}

// The lookup proper (emit_memory.h): rS, the VA of `size` bytes, becomes
// their host address on a hit; a miss goes to `slow`. The flag-clobbering
// form leaves rS = VA + tag at `slow` (the caller's cold code subtracts the
// tag again); the flag-free form leaves the VA, and displaces rcx, which the
// caller restores.
void EmitTlbLookup(BlockEmitter& e, const x86::Gp& rs, const x86::Gp& rt, uint32_t size, uint8_t access,
                   bool flags_live, const Label& slow) {
  auto& a = e.a;
  const PrivClass priv = e.priv;
  const int32_t tag = TagOff(priv, access);
  EmitTlbIndex(a, rt, rs);
  if (!flags_live) {
    // (The access stays inside the page: its offset is at most 4096 - size.)
    EmitTlbTry(a, rs, rt, 0, tag, static_cast<int32_t>(4096 - size), HostOff(priv, access), slow);
    return;
  }
  e.Displace(kRcx);
  Label hit = a.newLabel();
  a.mov(x86::rcx, CtxIndexed(tag, rt, 3));
  a.lea(x86::rcx, x86::ptr(rs, x86::rcx, 0, static_cast<int32_t>(size - 1)));
  a.pext(x86::rcx, x86::rcx, Ctx(XLAT_CTX_OFF(page_high_mask)));  // zero iff hit
  a.jecxz(x86::rcx, hit);
  a.jmp(slow);
  a.bind(hit);
  a.mov(x86::rcx, CtxIndexed((access & kAccessWrite) ? CtxTlbWriteAddendOff(priv) : CtxTlbReadAddendOff(priv), rt, 3));
  a.lea(rs, x86::ptr(rs, x86::rcx));
}

}  // namespace

bool OnConstantPage(const AddressExpr& expr, int64_t index_bound, const GuardedAccess& ga) {
  // An address known now (absolute or RIP-relative) within one page, whose
  // page and position both fit a sign-extended imm32 (the kernel's top 2
  // GiB, a program's bottom 2): the lookup needs no address in rS.
  // (Or a table read through an index the block bounds, the whole table
  // within that page; then rS = host page + index * scale + its offset.)
  const uint64_t page = static_cast<uint64_t>(expr.disp) & ~uint64_t{0xfff};
  const bool indexed = expr.index >= 0 && index_bound >= 0 && index_bound <= 4096;
  const uint64_t reach = indexed ? static_cast<uint64_t>(index_bound) * expr.scale : 0;
  return expr.base < 0 && (expr.index < 0 || indexed) && expr.segment < 0 && expr.addr_bits == 64 &&
         !ga.flags_live && (static_cast<uint64_t>(expr.disp) & 0xfff) + reach + ga.size <= 4096 &&
         !(ga.align > 1 && (indexed || (static_cast<uint64_t>(expr.disp) & (ga.align - 1)))) &&
         static_cast<int64_t>(0 - page) == static_cast<int32_t>(0 - page) &&
         expr.disp == static_cast<int32_t>(expr.disp);
}

void EmitGuardedAccess(BlockEmitter& e, const GuardedAccess& ga, const EmitFn& native, const EmitFn* table_read) {
  auto& a = e.a;
  const int32_t tag = TagOff(e.priv, ga.access);
  const x86::Gp rs = Gpr64Reg(ga.addr_reg);

  uint16_t avoid = static_cast<uint16_t>(1u << ga.addr_reg);
  if (ga.flags_live) avoid |= 1u << kRcx;
  const bool constant = ga.constant;
  const bool fused = table_read && IsConstantTableRead(ga);
  const unsigned t_reg = constant ? 16 : e.TakeScratch(avoid);

  Label slow = a.newLabel(), resume_in_place = a.newLabel(), after = a.newLabel();
  const Label va_intact = a.newLabel();  // to the slow path with rS still the VA
  if (constant) {
    // The entry's index and tag are constants: one compare, then the host
    // address from the entry's addend (vcpu_context.h).
    const uint64_t va = static_cast<uint64_t>(ga.expr.disp);
    const int32_t slot = static_cast<int32_t>(((va >> 12) & (kTlbEntries - 1)) * 8);
    const int32_t addend = (ga.access & kAccessWrite) ? CtxTlbWriteAddendOff(e.priv) : CtxTlbReadAddendOff(e.priv);
    a.cmp(Ctx(tag + slot), static_cast<int32_t>(0 - (va & ~uint64_t{0xfff})));
    a.jne(slow);
    if (fused) {
      a.mov(rs, Ctx(addend + slot));  // (the table read adds index and disp itself)
    } else if (ga.expr.index >= 0) {
      // (rS may be the index itself, in a load into it: the VA first.)
      EmitGuestAddress(e, ga.addr_reg, 16, ga.expr);
      a.add(rs, Ctx(addend + slot));
    } else {
      a.mov(rs, Ctx(addend + slot));
      a.lea(rs, x86::ptr(rs, static_cast<int32_t>(ga.expr.disp)));
    }
  } else {
    if (ga.align > 1 && !ga.flags_live) {
      a.test(x86::gpb(ga.addr_reg), ga.align - 1);
      a.jnz(va_intact);
    }
    // (rS keeps the VA until the flag-free check is certain of a hit.)
    EmitTlbLookup(e, rs, Gpr64Reg(t_reg), ga.size, ga.access, ga.flags_live, slow);
  }
  Site slow_site{};
  slow_site.kind = SiteKind::kMemSlow;
  slow_site.addr_reg = static_cast<uint8_t>(ga.addr_reg);
  slow_site.access = ga.access;
  slow_site.size = ga.size;
  // (The VMM checks it whatever the hot path did: a miss comes before the
  // native instruction could fault.)
  slow_site.align = static_cast<uint8_t>(ga.align);
  const uint32_t slow_id = e.NewSite(slow_site);

  // (The VMM resumes in place with rS = the host address: for a fused table
  // read, at a copy of `native` in the cold code.)
  if (!fused) a.bind(resume_in_place);
  // Give back the lookup's own scratches; the caller's stay. (Pool registers
  // need no reload.)
  uint16_t reloaded = 0;
  if (!constant && e.Restore(t_reg)) reloaded |= static_cast<uint16_t>(1u << t_reg);
  if (ga.flags_live && e.Restore(kRcx)) reloaded |= 1u << kRcx;
  const uint16_t native_displaced = e.displaced();

  uint32_t post_id = 0;
  if (ga.access & kAccessWrite) {
    Site post{};
    post.kind = SiteKind::kMemPost;
    post.addr_reg = static_cast<uint8_t>(ga.addr_reg);
    post.access = ga.access;
    post.size = ga.size;
    post_id = e.NewSite(post);
    e.ResolveLater(after, post_id, &Site::resume_after);
  }
  e.BeginNative();
  if (fused)
    (*table_read)();
  else
    native();
  e.EndNative();
  a.bind(after);

  e.ResolveLater(resume_in_place, slow_id, &Site::resume_in_place);
  const Label bounce = a.newLabel();
  e.ResolveLater(bounce, slow_id, &Site::resume_bounce);
  const bool writes = ga.access & kAccessWrite;
  const bool flags_live = ga.flags_live;
  const unsigned rs_num = ga.addr_reg;
  const uint16_t insn_index = e.insn ? e.insn->index : 0;
  const bool flags_saved = e.flags_saved();
  const AddressExpr expr = ga.expr;
  if (fused)
    e.Cold([&e, resume_in_place, after, native, native_displaced, insn_index, flags_saved] {
      e.a.bind(resume_in_place);
      e.BeginNative(native_displaced, insn_index, flags_saved);
      native();
      e.EndNative();
      e.a.jmp(after);
    });
  e.Cold([&e, slow, bounce, after, slow_id, post_id, reloaded, native_displaced, writes, native, flags_live,
          rs_num, t_reg, tag, insn_index, flags_saved, va_intact, constant, expr] {
    auto& a = e.a;
    a.bind(slow);
    // The VMM takes the VA from rS: undo the tag add of the flag-clobbering
    // lookup (flags are dead there; the flag-free lookup left rS alone).
    if (constant)
      EmitGuestAddress(e, rs_num, 16, expr);
    else if (!flags_live)
      a.sub(Gpr64Reg(rs_num), CtxIndexed(tag, Gpr64Reg(t_reg), 3));
    a.bind(va_intact);
    e.JumpToThunk(slow_id, e.thunks.vmm_call);
    // The VMM resumes here with rS pointing into the bounce buffer.
    a.bind(bounce);
    for (unsigned r = 0; r < 16; ++r)
      if (reloaded & (1u << r)) a.mov(Gpr64Reg(r), Ctx(CtxSpillOff(r)));
    e.BeginNative(native_displaced, insn_index, flags_saved);
    native();
    e.EndNative();
    if (writes)
      e.JumpToThunk(post_id, e.thunks.vmm_call);  // writes the bounce buffer back, resumes at `after`
    else
      a.jmp(after);
  });
}

bool ReencodeWithBase(const DecodedInsn& d, unsigned base, uint8_t* out, size_t* len, int reg_op,
                      ZydisRegister new_reg, int64_t disp, bool keep_index, int new_index) {
  ZydisEncoderRequest req;
  if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(&d.insn, d.ops, d.insn.operand_count_visible,
                                                                 &req)))
    return false;
  bool found = false;
  for (unsigned i = 0; i < req.operand_count; ++i) {
    ZydisEncoderOperand& op = req.operands[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && !found) {
      op.mem.base = Gpr64(base);
      if (new_index >= 0) {
        op.mem.index = Gpr64(static_cast<unsigned>(new_index));
        op.mem.scale = 1;
      } else if (!keep_index) {
        op.mem.index = ZYDIS_REGISTER_NONE;
        op.mem.scale = 0;
      }
      op.mem.displacement = disp;
      found = true;
    }
    if (static_cast<int>(i) == reg_op) op.reg.value = new_reg;
  }
  if (!found) return false;
  req.prefixes &= ~(ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS | ZYDIS_ATTRIB_HAS_SEGMENT_DS |
                    ZYDIS_ATTRIB_HAS_SEGMENT_ES | ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS);
  req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
  ZyanUSize n = ZYDIS_MAX_INSTRUCTION_LENGTH;
  if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, out, &n))) return false;
  *len = n;
  return true;
}


int EmitSpanCheck(BlockEmitter& e, const AddressExpr& base, uint32_t span, uint8_t access, bool flags_live,
                  uint16_t avoid, uint16_t avoid_held, bool pair_first) {
  // Never rcx for the span's register: it lives across later accesses, and
  // any of them may need rcx for a flag-preserving check. The check's own
  // scratch may be rcx unless this check is flag-preserving.
  avoid_held = static_cast<uint16_t>(avoid | avoid_held | (1u << kRcx));
  if (!e.PoolHasFree(avoid_held)) return -1;
  auto& a = e.a;
  const unsigned p = e.TakeScratch(avoid_held);  // a pool register: held by the caller
  const x86::Gp P = Gpr64Reg(p);
  const uint16_t avoid_scratch = static_cast<uint16_t>(avoid | (1u << p) | (flags_live ? (1u << kRcx) : 0));
  unsigned seg_tmp = 16;
  if (base.segment >= 0) seg_tmp = e.TakeScratch(avoid_scratch);
  EmitGuestAddress(e, p, seg_tmp, base);
  if (seg_tmp < 16) e.Restore(seg_tmp);

  const unsigned t = e.TakeScratch(avoid_scratch);
  Label slow = a.newLabel(), resume = a.newLabel();
  // The span in its page, or across it onto the next one when the TLB holds
  // both adjacent in host memory (the pair tags): one try inline, the other
  // in cold code, pair_first choosing which comes first.
  struct Try {
    int32_t tag, limit;
  };
  const Try single{TagOff(e.priv, access), static_cast<int32_t>(4096 - span)};
  const Try pair{PairTagOff(e.priv, access), static_cast<int32_t>(8192 - span)};
  const Try first = pair_first ? pair : single, second = pair_first ? single : pair;
  const int32_t host = HostOff(e.priv, access);
  if (flags_live) {
    EmitTlbLookup(e, P, Gpr64Reg(t), span, access, flags_live, slow);
  } else {
    EmitTlbIndex(a, Gpr64Reg(t), P);
    EmitTlbTry(a, P, Gpr64Reg(t), 0, first.tag, first.limit, host, slow);
  }
  Site site{};
  site.kind = SiteKind::kMemGroup;
  site.addr_reg = static_cast<uint8_t>(p);
  site.access = access;
  site.size = static_cast<uint16_t>(span);
  const uint32_t id = e.NewSite(site);
  a.bind(resume);
  e.ResolveLater(resume, id, &Site::resume_in_place);
  e.Restore(t);
  if (flags_live) e.Restore(kRcx);
  e.Cold([&e, slow, resume, id, flags_live, p, t, first, second, host] {
    auto& a = e.a;
    const x86::Gp P = Gpr64Reg(p), T = Gpr64Reg(t);
    a.bind(slow);
    // (The flag-free lookup leaves P the VA, as the VMM wants it.)
    if (!flags_live) EmitTlbRetry(a, P, T, first.tag, second.tag, second.limit, host, resume);
    e.JumpToThunk(id, e.thunks.vmm_call);
  });
  return static_cast<int>(p);
}

namespace {

// Where the iterations a loop's windows have left are counted down.
asmjit::Operand StrideCount(const BlockEmitter& e) {
  if (e.stride_count_reg >= 0) return Gpr64Reg(static_cast<unsigned>(e.stride_count_reg));
  return Ctx(XLAT_CTX_OFF(stride_n));
}

}  // namespace

Label EmitStrideWindows(BlockEmitter& e, const StrideSpans& s, bool count_in_register) {
  auto& a = e.a;
  const x86::Gp counter = Gpr64Reg(static_cast<unsigned>(s.counter));
  constexpr uint16_t kAvoid = kNotHeldAcrossBlock;
  Label refill = a.newLabel();
  a.bind(refill);
  // The iterations left: in a register held for the whole block where the
  // pool has room (each group's P, the count, and a scratch T), else in ctx.
  e.stride_count_reg = -1;
  if (count_in_register && e.PoolFreeCount(kAvoid) >= 2 && e.PoolFreeCount(0) >= 3)
    e.stride_count_reg = static_cast<int>(e.TakeScratch(kAvoid));
  const asmjit::Operand count = StrideCount(e);
  unsigned done = 0;
  for (unsigned g = 0; g < s.count; ++g) {
    const StrideGroup& w = s.groups[g];
    // P holds the window's base for the whole block; T is a scratch of
    // this check alone, so it may be one a later rewrite takes.
    if (e.PoolFreeCount(kAvoid) < 1 || e.PoolFreeCount(0) < 2) {
      e.stride_reg[g] = -1;
      continue;
    }
    const unsigned p = e.TakeScratch(kAvoid), t = e.TakeScratch(static_cast<uint16_t>(1u << p));
    e.stride_reg[g] = static_cast<int>(p);
    const x86::Gp P = Gpr64Reg(p), T = Gpr64Reg(t);
    // The window at this iteration, looked up as a span: P = its host address.
    EmitGuestAddress(e, p, 16, w.at);
    const int32_t tag = TagOff(e.priv, w.access), host = HostOff(e.priv, w.access);
    Label slow = a.newLabel(), vmm_resume = a.newLabel(), counted = a.newLabel();
    EmitTlbIndex(a, T, P);
    EmitTlbTry(a, P, T, 0, tag, static_cast<int32_t>(4096 - w.span), host, slow);
    // Iterations after this one that stay in the page: the bytes beyond the
    // window (upwards) or before it (downwards), in steps. Host pages are
    // aligned as guest pages are, so the offset is P's.
    a.mov(T, P);
    a.and_(T.r32(), 0xfff);
    if (s.step > 0) {
      a.neg(T);
      a.add(T, static_cast<int32_t>(4096 - w.span));
    }
    if (w.shift) a.shr(T, w.shift);
    a.bind(counted);
    // The count: the fewest iterations left in any window's page.
    if (done == 0) {
      a.emit(x86::Inst::kIdMov, count, T);
    } else {
      Label keep = a.newLabel();
      a.emit(x86::Inst::kIdCmp, T, count);
      a.jae(keep);
      a.emit(x86::Inst::kIdMov, count, T);
      a.bind(keep);
    }
    // P = host address of B: the window's host address less I*s + lo.
    if (w.at.scale == 1 && w.at.disp == 0) {
      a.sub(P, counter);
    } else {
      if (w.at.scale == 1)
        a.lea(T, x86::ptr(counter, static_cast<int32_t>(w.at.disp)));
      else
        a.lea(T, x86::ptr_abs(static_cast<uint64_t>(w.at.disp), counter,
                              static_cast<uint32_t>(std::countr_zero(w.at.scale))));
      a.sub(P, T);
    }
    e.Restore(t);
    Site site{};
    site.kind = SiteKind::kMemGroup;
    site.addr_reg = static_cast<uint8_t>(p);
    site.access = w.access;
    site.size = static_cast<uint16_t>(w.span);
    const uint32_t id = e.NewSite(site);
    e.ResolveLater(vmm_resume, id, &Site::resume_in_place);
    const int32_t pair = PairTagOff(e.priv, w.access), pair_limit = static_cast<int32_t>(8192 - w.span);
    e.Cold([&e, slow, vmm_resume, counted, id, tag, pair, pair_limit, host, P, T] {
      auto& a = e.a;
      a.bind(slow);
      // Across onto the next page: this iteration only, as when the VMM
      // lets it across.
      EmitTlbRetry(a, P, T, tag, pair, pair_limit, host, vmm_resume);
      e.JumpToThunk(id, e.thunks.vmm_call);
      // A window the VMM stood behind (it may cross onto the next page): this
      // iteration only.
      a.bind(vmm_resume);
      a.xor_(T.r32(), T.r32());
      a.jmp(counted);
    });
    ++done;
  }
  if (!done) {
    if (e.stride_count_reg >= 0) e.Restore(static_cast<unsigned>(e.stride_count_reg));
    e.stride_count_reg = -1;
    return Label();
  }
  // This iteration and those after it in the page: the head takes one each
  // time. (Flags are dead here, as at the head.)
  a.emit(x86::Inst::kIdAdd, count, Imm(1));
  return refill;
}

void EmitStrideHeadCheck(BlockEmitter& e, const Label& refill) {
  e.a.emit(x86::Inst::kIdSub, StrideCount(e), Imm(1));
  e.a.jb(refill);
}

bool EmitGroupCheck(BlockEmitter& e, const GuestInsn& gi, int index) {
  const MemGroup& g = *gi.group;
  const int p =
      EmitSpanCheck(e, g.base, g.span, g.access, (gi.flags_live_in & kArithFlags) != 0, GprsUsed(*gi.d), 0, false);
  if (p < 0) return false;
  e.group_reg[index] = p;  // held until the group's last member
  return true;
}

int GroupMemberReg(BlockEmitter& e, const GuestInsn& gi) {
  if (!gi.group) return -1;
  const int index = gi.group->index;
  if (gi.index == gi.group->first && !EmitGroupCheck(e, gi, index)) e.group_reg[index] = -1;
  return e.group_reg[index];
}

void EndGroupMember(BlockEmitter& e, const GuestInsn& gi) {
  const int p = gi.group ? e.group_reg[gi.group->index] : -1;
  if (p >= 0 && gi.index == gi.group->last) e.Restore(static_cast<unsigned>(p));
}

void EmitMemInsn(BlockEmitter& e, const GuestInsn& gi) {
  const DecodedInsn& d = *gi.d;
  if (gi.stride_group >= 0 && e.stride_reg[gi.stride_group] >= 0) {
    // In the window checked for this iteration (checked_span.h): natively on
    // [host base + I*s + d], the counter as it stands here.
    // ([X + d] becomes [host base + X + d].)
    const ZydisDecodedOperand& op = d.ops[d.MemOperand()];
    const bool through_base = op.mem.index == ZYDIS_REGISTER_NONE;
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    size_t len = 0;
    if (ReencodeWithBase(d, static_cast<unsigned>(e.stride_reg[gi.stride_group]), bytes, &len, -1,
                         ZYDIS_REGISTER_NONE, AddressOf(d, op).disp, !through_base,
                         through_base ? GprNumber(op.mem.base) : -1)) {
      e.BeginNative();
      e.Embed(bytes, len);
      e.EndNative();
      return;
    }
  }
  if (gi.span_offset >= 0 && e.span_reg >= 0) {
    // Within the span checked before the loop (checked_span.h): its index,
    // if it keeps one, is bounded within the span.
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    size_t len = 0;
    if (ReencodeWithBase(d, static_cast<unsigned>(e.span_reg), bytes, &len, -1, ZYDIS_REGISTER_NONE,
                         gi.span_offset, e.span_indexed)) {
      e.BeginNative();
      e.Embed(bytes, len);
      e.EndNative();
      return;
    }
  }
  if (const int p = GroupMemberReg(e, gi); p >= 0) {
    // A member: natively on [host base of the group + its offset].
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    size_t len = 0;
    const bool encoded =
        ReencodeWithBase(d, static_cast<unsigned>(p), bytes, &len, -1, ZYDIS_REGISTER_NONE, gi.group_offset);
    // (FindMemGroups admits only forms that take a base and displacement;
    // should Zydis still refuse one, it checks for itself rather than vanish.)
    if (encoded) {
      e.BeginNative();
      e.Embed(bytes, len);
      e.EndNative();
    }
    EndGroupMember(e, gi);
    if (encoded) return;
  }
  const int mi = d.MemOperand();
  const ZydisDecodedOperand& op = d.ops[mi];
  GuardedAccess ga{};
  ga.size = static_cast<uint16_t>(op.size / 8);
  ga.access = static_cast<uint8_t>(((op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) ? kAccessRead : 0) |
                                   ((op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? kAccessWrite : 0));
  const AddressExpr expr = AddressOf(d, op);
  ga.flags_live = (gi.flags_live_in & kArithFlags) != 0;
  ga.align = static_cast<uint16_t>(RequiredAlignment(d));
  const uint16_t used = GprsUsed(d);

  // A load into a full-width register that the instruction only writes can
  // hold the address itself: its old value needs one store (for precise
  // faults) and no reload. (Not bsf/bsr: they leave it alone for a zero source.)
  // (Only when the pool has no free register: a pool register needs neither.)
  int dest = -1;
  if (!e.PoolHasFree(used) && !(ga.access & kAccessWrite) && d.mnemonic() != ZYDIS_MNEMONIC_BSF &&
      d.mnemonic() != ZYDIS_MNEMONIC_BSR) {
    for (unsigned i = 0; i < d.insn.operand_count; ++i) {
      const ZydisDecodedOperand& o = d.ops[i];
      if (o.type != ZYDIS_OPERAND_TYPE_REGISTER || o.actions != ZYDIS_OPERAND_ACTION_WRITE ||
          !IsGpr32or64(o.reg.value))
        continue;
      const int n = GprNumber(o.reg.value);
      uint16_t others = 0;  // registers named by the other register operands
      for (unsigned j = 0; j < d.insn.operand_count; ++j)
        if (j != i && d.ops[j].type == ZYDIS_OPERAND_TYPE_REGISTER) {
          int m = GprNumber(d.ops[j].reg.value);
          if (m >= 0) others |= static_cast<uint16_t>(1u << m);
        }
      if (!(others & (1u << n)) && n != kRsp && !(ga.flags_live && n == kRcx)) dest = n;
      break;
    }
  }
  uint16_t avoid = used;
  if (ga.flags_live) avoid |= 1u << kRcx;
  // With ah..bh in the instruction there is no REX prefix: the base must be one of rax..rdi.
  const uint16_t base_avoid = UsesHighByteRegister(d) ? static_cast<uint16_t>(avoid | 0xff00) : avoid;
  unsigned rs;
  if (dest >= 0) {
    rs = static_cast<unsigned>(dest);
    e.Displace(rs);
  } else {
    rs = e.TakeScratch(base_avoid);
  }
  ga.addr_reg = rs;

  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
  size_t len = 0;
  ReencodeWithBase(d, rs, bytes, &len);  // the block driver checked that this works

  ga.constant = OnConstantPage(expr, gi.index_bound, ga);
  ga.expr = expr;
  if (!ga.constant) {
    // The segment base needs a second register only for fs:/gs: operands.
    unsigned seg_tmp = 16;
    if (expr.segment >= 0) seg_tmp = e.TakeScratch(avoid | (1u << rs));
    EmitGuestAddress(e, rs, seg_tmp, expr);
    if (seg_tmp < 16) e.Restore(seg_tmp);
  }

  const InsnBytes code(bytes, len);
  // A table read on a constant page: the instruction itself adds the index
  // and the table's address to the page's addend.
  uint8_t fused_bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
  size_t fused_len = 0;
  if (IsConstantTableRead(ga) &&
      ReencodeWithBase(d, rs, fused_bytes, &fused_len, -1, ZYDIS_REGISTER_NONE, expr.disp, true)) {
    const InsnBytes fused(fused_bytes, fused_len);
    const EmitFn table_read = [&e, fused] { e.Embed(fused.bytes, fused.len); };
    EmitGuardedAccess(e, ga, [&e, code] { e.Embed(code.bytes, code.len); }, &table_read);
  } else {
    EmitGuardedAccess(e, ga, [&e, code] { e.Embed(code.bytes, code.len); });
  }
  if (dest >= 0)
    e.Undisplace(rs);  // the instruction wrote the guest's new value
  else
    e.Restore(rs);
}

void EmitXlat(BlockEmitter& e, const GuestInsn& gi) {
  // xlat: al = [rbx + zero-extended al] (ebx + al with a 0x67 prefix).
  const DecodedInsn& d = *gi.d;
  GuardedAccess ga{};
  ga.size = 1;
  ga.access = kAccessRead;
  ga.flags_live = (gi.flags_live_in & kArithFlags) != 0;
  int segment = -1;
  for (unsigned i = 0; i < d.insn.operand_count; ++i)
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
      if (d.ops[i].mem.segment == ZYDIS_REGISTER_FS) segment = 4;
      if (d.ops[i].mem.segment == ZYDIS_REGISTER_GS) segment = 5;
    }
  const uint16_t avoid = (1u << kRax) | (1u << kRbx) | (ga.flags_live ? (1u << kRcx) : 0);
  const unsigned rs = e.TakeScratch(avoid);
  ga.addr_reg = rs;
  auto& a = e.a;
  const x86::Gp r = Gpr64Reg(rs);
  a.movzx(r.r32(), x86::al);
  if (d.insn.address_width == 32)
    a.lea(r.r32(), x86::ptr(x86::ebx, r.r32()));
  else
    a.lea(r, x86::ptr(x86::rbx, r));
  if (segment >= 0) {
    const unsigned t = e.TakeScratch(avoid | (1u << rs));
    a.mov(Gpr64Reg(t), Ctx(segment == 4 ? XLAT_CTX_OFF(fs_base) : XLAT_CTX_OFF(gs_base)));
    a.lea(r, x86::ptr(r, Gpr64Reg(t)));
    e.Restore(t);
  }
  EmitGuardedAccess(e, ga, [&e, r] { e.a.mov(x86::al, x86::byte_ptr(r)); });
  e.Restore(rs);
}

void EmitBitMemInsn(BlockEmitter& e, const GuestInsn& gi) {
  // bt/bts/btr/btc [mem], reg: the register is a signed bit offset that can
  // reach far outside the operand. The unit accessed is at
  //   EA + (offset SAR log2(bits)) * (bits / 8)
  // and the bit within it is offset & (bits - 1). Both are computed without
  // touching flags; the native instruction then runs on [unit], masked bit.
  const DecodedInsn& d = *gi.d;
  const int mi = d.MemOperand();
  const ZydisDecodedOperand& op = d.ops[mi];
  const ZydisDecodedOperand& bitreg = d.ops[1];
  const unsigned bits = op.size;  // 16, 32 or 64
  const unsigned log2bits = bits == 16 ? 4 : bits == 32 ? 5 : 6;
  GuardedAccess ga{};
  ga.size = static_cast<uint16_t>(bits / 8);
  ga.access = static_cast<uint8_t>(d.mnemonic() == ZYDIS_MNEMONIC_BT ? kAccessRead : kAccessRead | kAccessWrite);
  ga.flags_live = (gi.flags_live_in & kArithFlags) != 0;
  const AddressExpr expr = AddressOf(d, op);
  const uint16_t avoid = GprsUsed(d) | (ga.flags_live ? (1u << kRcx) : 0);
  const unsigned rs = e.TakeScratch(avoid);
  const unsigned rt = e.TakeScratch(avoid | (1u << rs));
  const unsigned ru = e.TakeScratch(avoid | (1u << rs) | (1u << rt));
  ga.addr_reg = rs;
  auto& a = e.a;
  const x86::Gp S = Gpr64Reg(rs), T = Gpr64Reg(rt), U = Gpr64Reg(ru);
  const int off_reg = GprNumber(bitreg.reg.value);
  EmitGuestAddress(e, rs, rt, expr);
  if (bits == 16)
    a.movsx(T, x86::gpw(off_reg));
  else if (bits == 32)
    a.movsxd(T, x86::gpd(off_reg));
  else
    a.mov(T, x86::gpq(off_reg));
  a.mov(U.r32(), log2bits);
  a.sarx(T, T, U);
  a.lea(S, x86::ptr(S, T, bits == 16 ? 1 : bits == 32 ? 2 : 3));
  a.pext(U, x86::gpq(off_reg), Ctx(XLAT_CTX_OFF(bit_offset_mask) + 8 * static_cast<int32_t>(log2bits - 4)));
  e.Restore(rt);
  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
  size_t len = 0;
  const ZydisRegister masked = ZydisRegisterEncode(
      bits == 16 ? ZYDIS_REGCLASS_GPR16 : bits == 32 ? ZYDIS_REGCLASS_GPR32 : ZYDIS_REGCLASS_GPR64,
      static_cast<ZyanU8>(ru));
  ReencodeWithBase(d, rs, bytes, &len, 1, masked);
  const InsnBytes code(bytes, len);
  EmitGuardedAccess(e, ga, [&e, code] { e.Embed(code.bytes, code.len); });
  e.Restore(ru);
  e.Restore(rs);
}

}  // namespace xlat
