// Generates one test sequence from a seed: an initial CPU state, initial
// contents of the data areas, and code made of N random items. An item is
// one form's instruction plus the setup it needs (base/index registers for
// its memory operand, a safe divisor, string registers...) emitted right
// before it, so every memory access lands where the generator placed it no
// matter what earlier items did to the registers.
//
// The generator tracks, exactly, what memory safety depends on: the value of
// rsp (every stack access stays inside the data area). It also tracks the
// x87 stack depth, so most x87 forms see valid registers. Forward branches
// (jcc/jmp/loop/jrcxz) skip over the next few items; items that may be
// skipped, like loop and subroutine bodies, must be "neutral": no effect on
// tracked state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/difftest/builder.h"
#include "tests/difftest/cpu_state.h"
#include "tests/difftest/forms.h"
#include "tests/difftest/layout.h"
#include "tests/difftest/rng.h"

namespace difftest {

struct ItemInfo {
  int form;        // index into AllForms()
  uint32_t begin;  // code offsets of the item's bytes (setup included)
  uint32_t end;
};

struct Sequence {
  uint64_t seed = 0;
  uint64_t entry = 0;  // VA of the first instruction
  uint64_t end = 0;    // VA of the terminator (hlt in the guest)
  std::vector<uint8_t> code;  // the bytes from entry to end
  std::vector<uint8_t> pool;  // the bytes at kPoolVa
  std::vector<ItemInfo> items;
  CpuState init;
  std::vector<uint8_t> data;  // initial contents of [kDataVa, +kDataBytes)
  std::vector<uint8_t> low;   // initial contents of [kLowVa, +kLowBytes)
};

struct GenOptions {
  int min_items = 1;
  int max_items = 40;
  int exact_items = -1;               // >= 0: exactly this many items (bisection)
  const std::vector<char>* enabled = nullptr;  // per form: may be drawn (nullptr: all)
};

// Where a memory operand goes and how it is addressed.
struct MemReq {
  uint32_t size = 1;    // bytes accessed at the effective address
  uint32_t align = 1;   // required alignment of the effective address
  int64_t foot_lo = 0;  // the accesses lie within [ea + foot_lo, ea + size + foot_hi)
  int64_t foot_hi = 0;
  bool a32 = false;     // 32-bit addressing (0x67) into the low area
  bool allow_rsp_base = false;
  bool allow_rip = true;
  bool allow_cross = true;
  bool simple = false;  // base register only (plus displacement)
  uint16_t avoid = 0;   // GPRs that base/index must not use
};

struct MemPlan {
  bool a32 = false;
  bool rip_rel = false;
  ZydisRegister base = ZYDIS_REGISTER_NONE;
  ZydisRegister index = ZYDIS_REGISTER_NONE;
  uint8_t scale = 0;
  int64_t disp = 0;
  uint64_t base_val = 0, index_val = 0;
  uint64_t ea = 0;
  uint16_t regs = 0;  // GPR mask of base and index
};

// Counters the self-check reports.
struct GenStats {
  uint64_t items = 0;
  uint64_t retries = 0;
  uint64_t validation_rejects = 0;
  uint64_t page_crossing = 0;
  uint64_t a32 = 0;
  uint64_t rip_relative = 0;
  std::vector<uint64_t> per_form;  // emitted instances per form
};

class Gen {
 public:
  Gen(uint64_t seed, const GenOptions& opt, GenStats* stats);

  bool Generate(Sequence* out, std::string* error);

  // ---- Used by the generic generator and the composites. ----
  Rng& rng() { return rng_; }
  Builder& b() { return b_; }

  // Random GPR index (0..15): never rsp, never in `avoid` or reserved.
  int PickGpr(uint16_t avoid = 0);
  // A register of the given width for GPR index i.
  static ZydisRegister Gpr(int i, int bytes);
  // Random 8-bit register (al..r15b without spl, or ah..bh); *gpr_index set.
  ZydisRegister PickGpr8(uint16_t avoid, int* gpr_index);

  bool PlanMem(const MemReq& req, MemPlan* plan);
  // mov base/index, values (and tracks rsp if it is the base).
  bool EmitMemSetup(const MemPlan& plan);
  // A memory operand for the encoder (enc_size: operand size in bytes).
  static ZydisEncoderOperand MemOperand(const MemPlan& plan, uint16_t enc_size);
  // mov r64, imm (any value).
  bool EmitMovImm(int gpr, uint64_t value);
  // Emits `mov rsp, X` if rsp is not inside the stack area with `below`
  // bytes free under it and `above` over it.
  bool EnsureStack(int64_t below, int64_t above);

  // Generic form emission (forms without their own generator).
  bool EmitGeneric(const Form& f);
  // Emits `n` random neutral items that do not write the registers in
  // `reserve` (loop and subroutine bodies).
  bool EmitBody(int n, uint16_t reserve);
  // Registers a forward branch target that is bound after `skip` more items
  // at top level (everything emitted until then is neutral).
  void AddPendingLabel(int label, int skip, bool short_branch, uint32_t branch_end);

  // Memory that items must not write while it is live (return addresses
  // pushed by a composite's call while its body runs).
  void Protect(uint64_t lo, uint64_t hi) { protected_.push_back({lo, hi}); }
  void Unprotect() { protected_.pop_back(); }
  bool Writable(uint64_t lo, uint64_t hi) const;

  // Tracked state.
  uint64_t rsp() const { return rsp_; }
  void set_rsp(uint64_t v) { rsp_ = v; }
  void add_rsp(int64_t d) { rsp_ += static_cast<uint64_t>(d); }
  int fpu_depth() const { return fpu_depth_; }
  void set_fpu_depth(int d) { fpu_depth_ = d < 0 ? 0 : (d > 8 ? 8 : d); }
  bool neutral() const { return neutral_depth_ > 0 || !pending_.empty(); }
  uint16_t reserved() const { return reserved_; }
  void note_rsp_write() { rsp_write_ok_ = true; }
  GenStats* stats() { return stats_; }
  // Picks a stack pointer value: usually 8-aligned, sometimes misaligned or
  // next to a page boundary.
  uint64_t RandomStackPointer();
  // An address in the high data area with `room` free bytes after it.
  uint64_t RandomDataAddress(uint64_t room, uint64_t align);

 private:
  bool EmitItem(int form_index);
  bool Eligible(const Form& f) const;
  int PickForm();
  bool Validate(size_t from, const Form& f);
  bool EmitFpuFixups(const Form& f);
  void InitState(Sequence* s);
  void BindDuePending(bool force_all);

  Rng rng_;
  GenOptions opt_;
  GenStats* stats_;
  Builder b_;
  uint64_t rsp_ = 0;
  int fpu_depth_ = 0;
  int neutral_depth_ = 0;
  uint16_t reserved_ = 0;
  bool rsp_write_ok_ = false;
  struct Pending {
    int label;
    int items_left;
    bool short_branch;
    uint32_t branch_end;
  };
  std::vector<Pending> pending_;
  std::vector<std::pair<uint64_t, uint64_t>> protected_;
  std::vector<int> candidates_;
  std::vector<double> cumulative_;
};

// The seed of sequence number i of a run.
inline uint64_t SequenceSeed(uint64_t run_seed, uint64_t i) {
  uint64_t x = run_seed * 0x9e3779b97f4a7c15ull + i;
  return SplitMix64(x);
}

// Convenience: generate the sequence for `seed`.
bool GenerateSequence(uint64_t seed, const GenOptions& opt, Sequence* out, GenStats* stats, std::string* error);

}  // namespace difftest
