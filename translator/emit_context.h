// The state shared by every rewrite while one block is being emitted: the
// AsmJit assembler, the guest instructions, which guest registers are
// displaced into spill slots, the cold code deferred to the end of the block,
// and the sites and native spans the block will carry.
//
// Emitted code reaches the vCPU context through GS: `Ctx(offset)` is
// gs:[disp32]. A rewrite that needs scratch registers takes them with
// TakeScratch() and gives them back with Restore(). Every site and native
// span records the displaced set at its point, which is what lets the VMM and
// the signal handler rebuild precise guest registers anywhere.
//
// Scratch registers come first from the block's pool: registers that no
// instruction of the block names. They are spilled once at the block's entry
// and stay displaced until the block leaves, so rewrites inside the block
// take and give them back for free, and a loop that branches back to its own
// block keeps them displaced across iterations (no store-to-load chain
// through the spill slots). Only when the pool is exhausted does a rewrite
// spill a register around one instruction.
#pragma once

#include <asmjit/x86.h>

#include <cstdint>
#include <vector>

#include "codecache/block.h"
#include "codecache/site.h"
#include "translator/checked_span.h"
#include "translator/decoder.h"
#include "translator/inline_function.h"

namespace xlat {

class CodeCache;
struct Thunks;
struct Stats;

namespace x86 = asmjit::x86;

inline x86::Mem Ctx(int32_t off, uint32_t size = 8) {
  x86::Mem m = x86::ptr_abs(static_cast<uint64_t>(static_cast<int64_t>(off)), size);
  m.setSegment(x86::gs);
  return m;
}
// gs:[index*scale + off]
inline x86::Mem CtxIndexed(int32_t off, const x86::Gp& index, uint32_t shift, uint32_t size = 8) {
  x86::Mem m = x86::ptr_abs(static_cast<uint64_t>(static_cast<int64_t>(off)), index.r64(), shift, size);
  m.setSegment(x86::gs);
  return m;
}

x86::Gp Gpr64Reg(unsigned n);

// One guest instruction as the block driver hands it to a rewrite.
struct MemGroup;

struct GuestInsn {
  const DecodedInsn* d = nullptr;   // the translator's (a DecodedInsn is over a kilobyte: not copied)
  const MemGroup* group = nullptr;  // the access group it belongs to, if any
  int32_t group_offset = 0;         // its access's address minus the group's lowest byte
  int32_t span_offset = -1;         // its access's displacement in the loop's span (checked_span.h), or -1
  int8_t stride_group = -1;         // the loop's moving window it runs in (checked_span.h), or -1
  int64_t index_bound = -1;         // its memory operand's index is at most this (IndexBoundAt), or -1
  uint32_t flags_live_in = 0;   // arithmetic flags live just before it (RFLAGS bit mask)
  uint32_t flags_live_out = 0;  // ... just after it
  uint16_t index = 0;           // position in the block
};

// Deferred emission: cold code, and the native part of an access that is
// emitted twice (hot path and bounce path). Held inline (inline_function.h):
// a block queues dozens, and translation speed is part of run time.
using EmitFn = InlineFunction<void(), 64>;
using ColdFn = InlineFunction<void(), 224>;

class BlockEmitter {
 public:
  // What a block's emission collects besides code. The translator keeps one
  // across blocks so that their capacity is reused, not reallocated per block.
  struct Buffers;

  BlockEmitter(CodeCache& cache, const Thunks& thunks, PrivClass priv, asmjit::CodeHolder& code, Buffers& buffers);

  x86::Assembler a;
  CodeCache& cache;
  const Thunks& thunks;
  const PrivClass priv;

  // ---- Registers. ----
  // Picks a GPR not in `avoid` (bit mask; rsp is always avoided) whose guest
  // value is safe in its spill slot: a free pool register, or another one,
  // spilled now.
  unsigned TakeScratch(uint16_t avoid);
  // Takes a specific register as scratch (spilling it unless it is a pool register).
  void Displace(unsigned reg);
  // Gives a scratch back: a pool register stays displaced, any other gets its
  // guest value reloaded. True if a reload was emitted.
  bool Restore(unsigned reg);
  // Forgets that reg is displaced without reloading it (the instruction just
  // wrote the guest's new value into it).
  void Undisplace(unsigned reg) { displaced_ &= static_cast<uint16_t>(~(1u << reg)); }
  // Reloads every displaced register, pool included (before the block leaves).
  void RestoreAll();
  uint16_t displaced() const { return displaced_; }
  // After the flags save before an indirect branch, the guest's flags live in
  // ctx.flags_lahf: sites and spans record it so the VMM reads them there.
  void MarkFlagsSaved() { flags_saved_ = true; }
  // Past a trace's guard, once an instruction has written every flag: the
  // host's are the guest's again.
  void MarkFlagsLive() { flags_saved_ = false; }

  // The pool. SpillPool() emits the stores of an entry path; StartPool()
  // marks the pool displaced and free for the body.
  void SetPool(uint16_t pool) { pool_ = pool; }
  uint16_t pool() const { return pool_; }
  bool PoolHasFree(uint16_t avoid) const { return (pool_ & ~pool_busy_ & ~avoid) != 0; }
  unsigned PoolFreeCount(uint16_t avoid) const {
    return static_cast<unsigned>(__builtin_popcount(pool_ & ~pool_busy_ & ~avoid & 0xffff));
  }
  // A pool register no rewrite holds now, or -1 (scratch for a sequence
  // that takes no other in between); rax first, whose use needs no parking.
  int IdlePoolRegister() const {
    const uint16_t idle = pool_ & ~pool_busy_ & displaced_;
    if (idle & 1u) return 0;
    return idle ? __builtin_ctz(idle) : -1;
  }
  void SpillPool(uint16_t regs);
  void StartPool();

  // ---- Sites and thunk calls. ----
  // Adds a site for the current instruction (guest_rip/next_rip/displaced/block
  // filled in) and returns its id.
  uint32_t NewSite(Site site);
  // mov dword gs:[ctx.site], id ; jmp thunk
  void JumpToThunk(uint32_t site_id, const uint8_t* thunk);
  // Once the block is placed, the host address of `label` goes into the
  // site's field (resume_in_place, resume_bounce, resume_after).
  void ResolveLater(const asmjit::Label& label, uint32_t site_id, uint8_t* Site::*field);

  // ---- Cold code, emitted after the block's hot path. ----
  void Cold(ColdFn fn);
  void EmitColdCode();

  // ---- Native spans (for precise faults). ----
  // Brackets host code that executes the current guest instruction natively.
  void BeginNative();
  // For cold copies, whose instruction and displaced set are not the emitter's current ones.
  void BeginNative(uint16_t displaced, uint16_t insn_index, bool flags_saved);
  bool flags_saved() const { return flags_saved_; }
  void EndNative();

  // ---- Raw guest bytes. ----
  void Embed(const uint8_t* bytes, size_t n) { a.embed(bytes, n); }

  // ---- Direct exits. ----
  // Emits `jmp rel32` to an exit stub that leaves for guest `target`; the
  // block can later be linked there. DirectExitIf: `jcc rel32`.
  void DirectExit(uint64_t target) { DirectExitImpl(target, false, x86::CondCode::kO); }
  void DirectExitIf(x86::CondCode cond, uint64_t target) { DirectExitImpl(target, true, cond); }
  // A side exit: when `cond` holds, leave for guest `target` (the registers
  // displaced now are reloaded on the way, in cold code); else go on with
  // the block, nothing changed.
  void SideExitIf(x86::CondCode cond, uint64_t target);
  // The block's way out to guest `target`: reloads every displaced register
  // and exits directly (RestoreAll, DirectExit), with a pool site before the
  // reloads when what is displaced is exactly the pool (block.h).
  void LeaveTo(uint64_t target);
  // The block's two ways out after a jcc: to `taken` when `cond` holds,
  // else to `next` (RestoreAll, DirectExitIf, DirectExit), each with a pool
  // site before the reloads when what is displaced is exactly the pool.
  void LeaveByJcc(x86::CondCode cond, uint64_t taken, uint64_t next);
  // Whether an exit taken now may skip the reloads: exactly the pool is displaced.
  bool PoolSiteFits() const { return pool_ && displaced_ == pool_; }

  uint32_t direct_exit_count = 0;  // for Stats::direct_branch_sites
  // Where a branch back to the block's own start may go (after the entry
  // spills and the poll); self_loop records that one did.
  asmjit::Label loop_head;
  bool self_loop = false;

  // The span checked before the loop head (checked_span.h): the pool
  // register holding its host base for the whole block, or -1.
  int span_reg = -1;
  bool span_indexed = false;  // its members keep their index registers
  // The windows moving with the loop's counter (checked_span.h): the pool
  // register holding each group's host base, or -1.
  int stride_reg[kMaxStrideGroups] = {-1, -1};
  // The pool register counting down the iterations the windows have left,
  // or -1 (the count is in ctx.stride_n instead).
  int stride_count_reg = -1;

  // Registers holding the host base of each active access group, by group index.
  std::vector<int>& group_reg;

  // The instruction being translated.
  const GuestInsn* insn = nullptr;
  Block* block = nullptr;         // the block under construction (not yet placed)

  // Finishes the sites and spans once the block's host address is known.
  void Finalize(uint8_t* host_base);

  // A pool site (block.h) being emitted: `at` bound at its first byte
  // (invalid: the exit has none); a jcc one goes to `reloads` until linked.
  struct PendingPoolSite {
    asmjit::Label at;
    asmjit::Label reloads;
    bool jcc;  // (value-initialized: false unless given)
  };

 private:
  void DirectExitImpl(uint64_t target, bool conditional, x86::CondCode cond,
                      const PendingPoolSite& pool_site = PendingPoolSite());

 public:
  struct PendingSpan {
    uint32_t begin, end;  // offsets in the block's code
    uint16_t insn;
    uint16_t displaced;
    bool flags_saved;
  };
  struct PendingAddr {
    asmjit::Label label;
    uint32_t site_id;
    uint8_t* Site::*field;
  };
  struct PendingExit {
    asmjit::Label patch_end;   // bound right after the rel32 field
    asmjit::Label stub;
    uint64_t target;
    PendingPoolSite pool_site;
  };

 private:
  // Records a direct exit and its site (the one its stub names, with every
  // guest register in place); returns the site's id.
  uint32_t AddExit(const PendingExit& e);

  uint16_t displaced_ = 0;
  bool flags_saved_ = false;
  uint16_t pool_ = 0;       // registers reserved for the block
  uint16_t pool_busy_ = 0;  // ... currently held by a rewrite
  Buffers& buf_;
  bool in_native_ = false;
  PendingSpan open_span_;
  asmjit::CodeHolder& code_;
};

struct BlockEmitter::Buffers {
  std::vector<ColdFn> cold;
  std::vector<PendingSpan> spans;
  std::vector<PendingAddr> addrs;
  std::vector<PendingExit> exits;
  std::vector<int> group_reg;
  void Clear() {
    cold.clear();
    spans.clear();
    addrs.clear();
    exits.clear();
    group_reg.clear();
  }
};

inline void BlockEmitter::Cold(ColdFn fn) { buf_.cold.push_back(std::move(fn)); }

}  // namespace xlat
