#include "translator/emit_context.h"

#include <cstdlib>

#include "codecache/code_cache.h"
#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"

namespace xlat {

using namespace asmjit;

x86::Gp Gpr64Reg(unsigned n) { return x86::gpq(n); }

BlockEmitter::BlockEmitter(CodeCache& cache_in, const Thunks& thunks_in, PrivClass priv_in, CodeHolder& code,
                           Buffers& buffers)
    : a(&code), cache(cache_in), thunks(thunks_in), priv(priv_in), group_reg(buffers.group_reg), buf_(buffers),
      code_(code) {
  buf_.Clear();
}

namespace {

// Registers compilers use least as memory bases come first.
constexpr uint8_t kScratchOrder[] = {kR11, kR10, kR9, kR8, kRdx, kRsi, kRdi, kRax,
                                     kRcx, kRbx, kRbp, kR12, kR13, kR14, kR15};

}  // namespace

unsigned BlockEmitter::TakeScratch(uint16_t avoid) {
  avoid |= 1u << kRsp;
  const uint16_t free_pool = static_cast<uint16_t>(pool_ & ~pool_busy_ & ~avoid);
  for (uint8_t r : kScratchOrder)
    if (free_pool & (1u << r)) {
      pool_busy_ |= static_cast<uint16_t>(1u << r);
      return r;
    }
  // Outside the pool: a register no rewrite holds right now.
  avoid |= displaced_ | pool_;
  for (uint8_t r : kScratchOrder)
    if (!(avoid & (1u << r))) {
      Displace(r);
      return r;
    }
  // Every instruction names at most a handful of registers: unreachable.
  return kR11;
}

void BlockEmitter::Displace(unsigned reg) {
  const uint16_t bit = static_cast<uint16_t>(1u << reg);
  if (pool_ & bit) {
    // Taking a pool register another rewrite still holds would clobber it.
    if (pool_busy_ & bit) std::abort();
    pool_busy_ |= bit;
    return;
  }
  if (displaced_ & bit) return;
  a.mov(Ctx(CtxSpillOff(reg)), Gpr64Reg(reg));
  displaced_ |= bit;
}

bool BlockEmitter::Restore(unsigned reg) {
  const uint16_t bit = static_cast<uint16_t>(1u << reg);
  if (pool_ & bit) {
    pool_busy_ &= static_cast<uint16_t>(~bit);
    return false;
  }
  if (!(displaced_ & bit)) return false;
  a.mov(Gpr64Reg(reg), Ctx(CtxSpillOff(reg)));
  displaced_ &= static_cast<uint16_t>(~bit);
  return true;
}

void BlockEmitter::RestoreAll() {
  for (unsigned r = 0; r < 16; ++r)
    if (displaced_ & (1u << r)) a.mov(Gpr64Reg(r), Ctx(CtxSpillOff(r)));
  // The block is leaving: what follows in the hot path (another exit) has no pool.
  displaced_ = 0;
  pool_ = 0;
  pool_busy_ = 0;
}

void BlockEmitter::SpillPool(uint16_t regs) {
  for (unsigned r = 0; r < 16; ++r)
    if (regs & (1u << r)) a.mov(Ctx(CtxSpillOff(r)), Gpr64Reg(r));
}

void BlockEmitter::StartPool() {
  displaced_ |= pool_;
  pool_busy_ = 0;
}

uint32_t BlockEmitter::NewSite(Site site) {
  site.block = block;
  if (insn) {
    site.guest_rip = insn->d->rip;
    site.next_rip = insn->d->next_rip();
  }
  site.displaced = displaced_;
  site.flags_saved = flags_saved_;
  return cache.AddSite(site);
}

void BlockEmitter::JumpToThunk(uint32_t site_id, const uint8_t* thunk) {
  a.mov(Ctx(XLAT_CTX_OFF(site), 4), site_id);
  a.jmp(Imm(reinterpret_cast<uint64_t>(thunk)));
}

void BlockEmitter::ResolveLater(const Label& label, uint32_t site_id, uint8_t* Site::*field) {
  buf_.addrs.push_back({label, site_id, field});
}

void BlockEmitter::EmitColdCode() {
  // Cold emitters may queue more cold code (a stub that needs a stub).
  // (By index, and each moved out first: the vector may grow meanwhile.)
  for (size_t i = 0; i < buf_.cold.size(); ++i) {
    ColdFn fn = std::move(buf_.cold[i]);
    fn();
  }
  buf_.cold.clear();
}

void BlockEmitter::BeginNative() { BeginNative(displaced_, insn ? insn->index : 0, flags_saved_); }

void BlockEmitter::BeginNative(uint16_t displaced, uint16_t insn_index, bool flags_saved) {
  // Offsets, not labels: the Assembler writes every byte where it stays.
  open_span_.begin = static_cast<uint32_t>(a.offset());
  open_span_.insn = insn_index;
  open_span_.displaced = displaced;
  open_span_.flags_saved = flags_saved;
  in_native_ = true;
}

void BlockEmitter::EndNative() {
  open_span_.end = static_cast<uint32_t>(a.offset());
  buf_.spans.push_back(open_span_);
  in_native_ = false;
}

uint32_t BlockEmitter::AddExit(const PendingExit& e) {
  const uint32_t exit_index = static_cast<uint32_t>(buf_.exits.size());
  buf_.exits.push_back(e);
  Site s{};
  s.kind = SiteKind::kBranchExit;
  s.target = e.target;
  s.exit_index = exit_index;
  // At an exit stub every guest register is back in its host register.
  const uint16_t displaced_here = displaced_;
  displaced_ = 0;
  const uint32_t id = NewSite(s);
  displaced_ = displaced_here;
  direct_exit_count++;
  return id;
}

void BlockEmitter::DirectExitImpl(uint64_t target, bool conditional, x86::CondCode cond,
                                  const PendingPoolSite& pool_site) {
  const PendingExit e{a.newLabel(), a.newLabel(), target, pool_site};
  // Long forms always: the rel32 is what linking patches.
  if (conditional)
    a.long_().j(cond, e.stub);
  else
    a.long_().jmp(e.stub);
  a.bind(e.patch_end);
  const uint32_t id = AddExit(e);
  Cold([this, e, id] {
    a.bind(e.stub);
    JumpToThunk(id, thunks.exit);
  });
}

void BlockEmitter::SideExitIf(x86::CondCode cond, uint64_t target) {
  const Label leave = a.newLabel();
  PendingExit e{a.newLabel(), a.newLabel(), target};
  if (PoolSiteFits()) {
    // The jcc itself is the pool site: linked past the reloads, or to them.
    e.pool_site = {a.newLabel(), leave, true};
    a.bind(e.pool_site.at);
    a.long_().j(cond, leave);
  } else {
    a.j(cond, leave);
  }
  const uint32_t id = AddExit(e);
  const uint16_t displaced_here = displaced_;
  Cold([this, leave, e, id, displaced_here] {
    a.bind(leave);
    for (unsigned r = 0; r < 16; ++r)
      if (displaced_here & (1u << r)) a.mov(Gpr64Reg(r), Ctx(CtxSpillOff(r)));
    a.long_().jmp(e.stub);  // the rel32 that linking patches
    a.bind(e.patch_end);
    a.bind(e.stub);
    JumpToThunk(id, thunks.exit);
  });
}

void BlockEmitter::LeaveTo(uint64_t target) {
  if (!PoolSiteFits()) {
    RestoreAll();
    DirectExit(target);
    return;
  }
  const PendingPoolSite site{a.newLabel()};
  a.bind(site.at);
  a.embed(kPoolNop, sizeof kPoolNop);
  RestoreAll();
  DirectExitImpl(target, false, x86::CondCode::kO, site);
}

void BlockEmitter::LeaveByJcc(x86::CondCode cond, uint64_t taken, uint64_t next) {
  if (!PoolSiteFits()) {
    RestoreAll();
    DirectExitIf(cond, taken);
    DirectExit(next);
    return;
  }
  // The taken side's pool site is a jcc of the same condition that, until
  // linked past the reloads, jumps over the other side's pool site to the
  // reloads: they stay inline for both sides (and leave the flags alone).
  const PendingPoolSite taken_site{a.newLabel(), a.newLabel(), true};
  a.bind(taken_site.at);
  a.long_().j(cond, taken_site.reloads);
  const PendingPoolSite next_site{a.newLabel()};
  a.bind(next_site.at);
  a.embed(kPoolNop, sizeof kPoolNop);
  a.bind(taken_site.reloads);
  RestoreAll();
  DirectExitImpl(taken, true, cond, taken_site);
  DirectExitImpl(next, false, x86::CondCode::kO, next_site);
}

void BlockEmitter::Finalize(uint8_t* host_base) {
  auto addr = [&](const Label& l) { return host_base + code_.labelOffsetFromBase(l); };
  for (const PendingAddr& p : buf_.addrs) cache.site(p.site_id).*p.field = addr(p.label);
  block->spans.reserve(buf_.spans.size());
  for (const PendingSpan& s : buf_.spans)
    if (s.end > s.begin) block->spans.push_back(NativeSpan{s.begin, s.end, s.insn, s.displaced, s.flags_saved});
  block->exits.reserve(buf_.exits.size());
  for (const PendingExit& p : buf_.exits) {
    BlockExit be;
    be.guest_target = p.target;
    be.patch_site = addr(p.patch_end) - 4;
    be.stub = addr(p.stub);
    if (p.pool_site.at.isValid()) {
      be.pool_site = addr(p.pool_site.at);
      be.pool_site_jcc = p.pool_site.jcc;
      be.pool_reloads = p.pool_site.jcc ? addr(p.pool_site.reloads) : nullptr;
    }
    block->exits.push_back(be);
  }
}

}  // namespace xlat
