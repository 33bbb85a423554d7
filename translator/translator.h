// The translator: guest code at a guest virtual address -> a Block in the
// code cache. It decodes a basic block (Zydis), classifies each instruction
// (classify.h), computes flag liveness, and hands each instruction to the
// rewrite for its kind (emit_*.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <asmjit/core.h>

#include "codecache/code_cache.h"
#include "cpu/lazy_flags.h"
#include "translator/classify.h"
#include "translator/decoder.h"

namespace xlat {

class BlockEmitter;
struct Thunks;
struct Stats;

// A guest code page as the translator sees it.
struct CodePage {
  bool ok = false;
  uint64_t pa = 0;                // guest physical address of the page
  const uint8_t* host = nullptr;  // its 4096 bytes
  uint32_t pf_error = 0;          // #PF error code when !ok
  bool global = false;            // mapped by a global page
};
// Maps a 4 KiB-aligned guest VA to its code page (walking the guest's page
// tables for an instruction fetch at the block's privilege).
using CodeFetcher = std::function<CodePage(uint64_t va_page)>;

struct TranslateResult {
  enum class Kind { kOk, kFetchFault, kCacheFull } kind = Kind::kOk;
  Block* block = nullptr;
  uint64_t fault_va = 0;   // kFetchFault: CR2
  uint32_t pf_error = 0;   // kFetchFault: #PF error code
};

class Translator {
 public:
  Translator(CodeCache& cache, const Thunks& thunks, Stats& stats);
  ~Translator();

  // Treat the flags as live before every instruction (VcpuConfig::precise_fault_flags).
  void set_precise_fault_flags(bool on) { precise_fault_flags_ = on; }
  // rdtsc may run natively: the guest's TSC is the host's (no offset) and
  // CR4.TSD does not restrict it. Translations depend on it: flush on change.
  void set_native_rdtsc(bool on) { native_rdtsc_ = on; }
  // Every block adds its instruction count to ctx.guest_insns_entered when
  // entered (three flag-free instructions). For measurements, not speed.
  void set_count_guest_insns(bool on) { count_guest_insns_ = on; }
  bool native_rdtsc() const { return native_rdtsc_; }
  // Follow direct jmps to code on the same page within a block (default on;
  // off where one block per run of consecutive code is wanted, as when
  // bench/translate walks a kernel's text).
  void set_follow_jumps(bool on) { follow_jumps_ = on; }
  // CR0.EM/TS/MP and CR4.OSFXSR/OSXSAVE as translations assume them (classify.h).
  // Blocks marked Block::depends_on_fpu_control depend on them: drop those on change.
  void set_fpu_control(const FpuControl& fc) { fpu_control_ = fc; }
  const FpuControl& fpu_control() const { return fpu_control_; }
  // cli/sti at CPL 1 and 2 depend on IOPL; the inline form is for CPL 0
  // only. Once the guest runs in those rings, supervisor code sends cli/sti
  // to the VMM. Translations depend on it: flush on change.
  void set_strict_iopl(bool on) { strict_iopl_ = on; }
  bool strict_iopl() const { return strict_iopl_; }
  // Blocks end before these guest VAs (debugger breakpoints); nullptr: none.
  void set_breakpoints(const std::set<uint64_t>* bps) { breakpoints_ = bps; }
  // The guest's GPRs as they are while the VMM translates (usually at the
  // block's start, which is about to run), for guesses only: a span checked
  // at a block's start that lies across a page boundary now tries the pair
  // of pages first. nullptr: no guesses.
  void set_guest_gprs(const uint64_t* gprs) { guest_gprs_ = gprs; }
  // ctx.lazy_flags_desc and ctx.lazy_flags_stub (cpu/lazy_flags.h), which
  // the translator fills as it hands out ids; nullptr: flags saved eagerly.
  void set_lazy_flags_tables(uint64_t* desc, uint64_t* stub) {
    lazy_flags_desc_ = desc;
    lazy_flags_stub_ = stub;
  }
  // The code cache was flushed: the stubs are gone, their ids free again.
  void OnCacheFlush() {
    lazy_flags_ids_.clear();
    lazy_flags_next_id_ = 1;
  }

  // Translates the block starting at guest VA `rip`. kCacheFull: the caller
  // must flush the code cache and retry.
  // `single_step`: one instruction only, for a guest with RFLAGS.TF set (the
  // block gets its own key and is never linked or put in the jump cache).
  TranslateResult Translate(uint64_t rip, PrivClass priv, const CodeFetcher& fetch, bool single_step = false);

  // Translates a trace: the path the guest was seen to run from `rip`
  // (`path`: the guest VA of each instruction run, in order, starting with
  // rip; `closes`: the instruction after the last goes back to rip, else
  // where it went is not known and the trace ends there). The trace follows
  // the path across jccs (the other way is a side exit) and across indirect
  // jmps, each guarded by a compare with the target the path went to (a
  // mismatch goes through the jump cache), so that a dispatch loop, an
  // interpreter's handlers one after the other, runs as one block with one
  // pool, one poll and shared access checks. It stops early where the path
  // leaves the page, turns to code it cannot follow (calls, returns, VMM
  // instructions), or where flags would be live across a guard.
  TranslateResult TranslateTrace(uint64_t rip, PrivClass priv, const CodeFetcher& fetch,
                                 const std::vector<uint64_t>& path, bool closes);

  // Blocks that end with an indirect jmp count their entries (through the
  // jump cache, and through the normal entry where the flags are dead) down
  // from `threshold` in a slot of `counters` each; the one that reaches zero
  // leaves through thunks.trace_head (a trace may start there). nullptr: no
  // counting.
  void set_trace_counters(uint32_t* counters, uint32_t threshold) {
    trace_counters_ = counters;
    trace_threshold_ = threshold;
  }

  // The most host code a block may need, with its cold code: translation
  // needs at least this much room.
  // The block with this key gets no access groups from now on (its group
  // check was declined at run time).
  void DisableGroups(uint64_t key) { no_groups_.insert(key); }
  // The block with this key counts no entries towards a trace from now on
  // (it gave none).
  void NoTraceAt(uint64_t key) { no_traces_.insert(key); }

  static constexpr uint64_t kMaxBlockHostBytes = 64 * 1024;
  static constexpr unsigned kMaxBlockInsns = 128;
  static constexpr unsigned kMaxJumpsFollowed = 4;  // per block: bounds the code duplicated

 private:
  // Arithmetic flags live at guest VA `va`, found by decoding ahead along
  // direct control flow until each flag in `want` is read or killed
  // (conservative: live when the path is unknown; flags outside `want` are
  // reported live). The bytes decoded are added to *deps. Answers are
  // remembered by guest physical address while the bytes they were read
  // from stay the same (LookaheadMemo in translator.cpp).
  uint32_t FlagsLiveAt(uint64_t va, uint32_t want, PrivClass priv, const CodeFetcher& fetch, int depth,
                       std::vector<Block::CodeRange>* deps);
  // The walk itself, from `va` on `page` (its code page, fetched).
  uint32_t WalkFlagsLiveAt(uint64_t va, CodePage page, uint32_t want, PrivClass priv, const CodeFetcher& fetch,
                           int depth, std::vector<Block::CodeRange>* deps);

  // Saves the flags after decoded[w], the last instruction to write them,
  // with one store if it can: of the flags themselves where w leaves the
  // same whatever its operands (xor eax, eax), else lazily (cpu/lazy_flags.h):
  // of the id of w's form, whose stub the block carries if the form is new.
  // The store stands for the flags until the instruction before `valid_until`
  // (where the host's flags hold the guest's again, or the block's end).
  // `*lazy`: the form stored, if lazily.
  bool SaveFlagsInOneStore(BlockEmitter& e, const std::vector<DecodedInsn>& decoded, size_t w, size_t valid_until,
                           std::optional<LazyFlagsDesc>* lazy);

  TranslateResult TranslateImpl(uint64_t rip, PrivClass priv, const CodeFetcher& fetch, bool single_step,
                                const std::vector<uint64_t>* path, bool path_closes);

  // The working storage of one translation (translator.cpp), kept across
  // blocks so that its capacity is reused rather than allocated per block.
  struct Scratch;
  std::unique_ptr<Scratch> scratch_;

  CodeCache& cache_;
  const Thunks& thunks_;
  Stats& stats_;
  Decoder decoder_;
  std::unordered_set<uint64_t> no_groups_;
  std::unordered_set<uint64_t> no_traces_;
  bool precise_fault_flags_ = false;
  bool follow_jumps_ = true;
  bool native_rdtsc_ = true;
  bool count_guest_insns_ = false;
  bool strict_iopl_ = false;
  const uint64_t* guest_gprs_ = nullptr;
  uint64_t* lazy_flags_desc_ = nullptr;
  uint64_t* lazy_flags_stub_ = nullptr;
  std::unordered_map<uint64_t, uint32_t> lazy_flags_ids_;  // packed LazyFlagsDesc -> id
  uint32_t lazy_flags_next_id_ = 1;
  // A form new with the block being translated: its id once the block is in.
  struct {
    bool valid = false;
    uint64_t desc;
    asmjit::Label stub;
  } lazy_flags_new_;
  bool depends_on_fpu_control_ = false;  // of the block being translated
  FpuControl fpu_control_;
  const std::set<uint64_t>* breakpoints_ = nullptr;
  uint32_t* trace_counters_ = nullptr;
  uint32_t trace_threshold_ = 0;
  uint32_t trace_counter_next_ = 0;
};

}  // namespace xlat
