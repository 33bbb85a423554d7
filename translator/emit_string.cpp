#include "translator/emit_string.h"

#include "cpu/flags_slot.h"
#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "translator/emit_memory.h"

namespace xlat {

using namespace asmjit;

namespace {

// log2 of the element size of the inline forms.
unsigned ElementShift(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_STOSW: return 1;
    case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_STOSD: return 2;
    case ZYDIS_MNEMONIC_MOVSQ: case ZYDIS_MNEMONIC_STOSQ: return 3;
    default: return 0;
  }
}

// (Only ever asked of string instructions: MOVSD is also SSE's scalar move.)
bool IsMovs(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_MOVSB || m == ZYDIS_MNEMONIC_MOVSW || m == ZYDIS_MNEMONIC_MOVSD ||
         m == ZYDIS_MNEMONIC_MOVSQ;
}

// reg = host address of [va, va + n) when that range lies in one page the
// inline TLB has for `access`; else to `slow` (with va unchanged). t is a
// scratch. va is canonical-checked too: a non-canonical one could hit an
// empty entry's wrapped tag.
void EmitRangeLookup(BlockEmitter& e, const x86::Gp& reg, const x86::Gp& va, const x86::Gp& n, const x86::Gp& t,
                     bool write, const Label& slow) {
  auto& a = e.a;
  const int32_t tag = write ? CtxTlbWriteTagOff(e.priv) : CtxTlbReadTagOff(e.priv);
  const int32_t host = write ? CtxTlbWriteHostOff(e.priv) : CtxTlbHostPageOff(e.priv);
  a.mov(t, va);
  a.sar(t, 47);
  a.add(t, 1);
  a.cmp(t, 1);  // bits 63:47 all equal
  a.ja(slow);
  EmitTlbIndex(a, t, va);
  a.mov(reg, va);
  a.add(reg, CtxIndexed(tag, t, 3));  // offset in the page, if the tag matches
  a.add(reg, n);
  a.cmp(reg, 4096);                   // and the range ends within it
  a.ja(slow);
  a.sub(reg, n);
  a.add(reg, CtxIndexed(host, t, 3));
}

}  // namespace

bool InlineStringForm(const DecodedInsn& d) {
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ:
      break;
    default:
      return false;
  }
  if (d.insn.meta.category != ZYDIS_CATEGORY_STRINGOP) return false;  // SSE's movsd
  if (!d.HasPrefix(ZYDIS_ATTRIB_HAS_REP) || d.insn.address_width != 64) return false;
  for (unsigned i = 0; i < d.insn.operand_count; ++i)
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[i].mem.segment != ZYDIS_REGISTER_DS &&
        d.ops[i].mem.segment != ZYDIS_REGISTER_ES)
      return false;  // an fs:/gs: source
  return true;
}

unsigned InlineStringPoolRegs(const DecodedInsn& d) {
  if (!InlineStringForm(d)) return 0;
  return IsMovs(d.mnemonic()) ? 4 : 3;
}

void EmitString(BlockEmitter& e, const GuestInsn& gi) {
  auto& a = e.a;
  const DecodedInsn& d = *gi.d;
  Label slow = a.newLabel(), after = a.newLabel();
  const bool movs = IsMovs(d.mnemonic());
  const uint16_t avoid = GprsUsed(d) | (1u << kRcx) | (1u << kRdi) | (1u << kRsi) | (1u << kRax);
  // Pool registers only: the slow path below must find every other register
  // holding the guest's value.
  const bool inline_form = InlineStringForm(d) && e.PoolFreeCount(avoid) >= InlineStringPoolRegs(d);
  // Flags the guest still reads are saved before the checks (which clobber
  // them) and restored after, and before the VMM's path.
  const bool keep_flags = (gi.flags_live_in & kArithFlags) != 0;
  if (inline_form) {
    const unsigned shift = ElementShift(d.mnemonic());
    const unsigned rn = e.TakeScratch(avoid);
    const unsigned rd = e.TakeScratch(avoid | (1u << rn));
    const unsigned rt = e.TakeScratch(avoid | (1u << rn) | (1u << rd));
    const unsigned rsrc = movs ? e.TakeScratch(avoid | (1u << rn) | (1u << rd) | (1u << rt)) : 16;
    const x86::Gp N = Gpr64Reg(rn), D = Gpr64Reg(rd), T = Gpr64Reg(rt);
    Label done = a.newLabel();
    const Label to_vmm = keep_flags ? a.newLabel() : slow;
    if (keep_flags) EmitSaveGuestFlags(a);
    a.test(x86::rcx, x86::rcx);
    a.jz(done);  // nothing to move, nothing to check
    // Backwards (DF set), or with the guest's alignment checks on the host
    // (a misaligned stosq would raise #AC mid-copy): the VMM's.
    a.cmp(Ctx(XLAT_CTX_OFF(host_alignment_check)), 0);
    a.jne(to_vmm);
    if (!keep_flags) EmitSaveGuestFlags(a);
    a.test(Ctx(XLAT_CTX_OFF(flags_slot), 4), static_cast<uint32_t>(kFlagDF));
    a.jnz(to_vmm);
    a.cmp(x86::rcx, static_cast<int32_t>(4096u >> shift));
    a.ja(to_vmm);
    a.lea(N, x86::ptr(0, x86::rcx, shift));  // bytes
    EmitRangeLookup(e, D, x86::rdi, N, T, /*write=*/true, to_vmm);
    if (movs) EmitRangeLookup(e, Gpr64Reg(rsrc), x86::rsi, N, T, /*write=*/false, to_vmm);
    // Natively on the host addresses; the guest's rdi and rsi wait in D and
    // the source register, then move on by N.
    a.xchg(x86::rdi, D);
    if (movs) a.xchg(x86::rsi, Gpr64Reg(rsrc));
    a.embed(d.bytes, d.length());
    a.lea(x86::rdi, x86::ptr(D, N));
    if (movs) a.lea(x86::rsi, x86::ptr(Gpr64Reg(rsrc), N));
    a.bind(done);
    if (movs) e.Restore(rsrc);  // (pool registers: nothing to reload)
    e.Restore(rt);
    e.Restore(rd);
    e.Restore(rn);
    a.inc(Ctx(XLAT_CTX_OFF(inline_string_ops)));
    if (keep_flags) EmitRestoreGuestFlags(a);
    a.jmp(after);
    if (keep_flags) {
      a.bind(to_vmm);
      EmitRestoreGuestFlags(a);
      a.jmp(slow);
    }
  }
  // The VMM does it. Only pool registers are displaced here (the inline
  // path gave its own back); the VMM takes their guest values from the
  // spill slots (which the string instruction cannot change: the pool holds
  // no register it names).
  a.bind(slow);
  Site s{};
  s.kind = SiteKind::kString;
  const uint32_t id = e.NewSite(s);
  const Label resume = a.newLabel();
  e.ResolveLater(resume, id, &Site::resume_after);
  e.JumpToThunk(id, e.thunks.vmm_call);
  a.bind(resume);
  a.bind(after);
}

}  // namespace xlat
