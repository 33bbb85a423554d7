// The machinery behind a Vcpu: thunks, translator, TLB maintenance, the
// dispatch loop, the handler for sites that call the VMM in the middle of a
// block, and the VMM's own accesses to guest memory. One per vCPU; it lives
// on the vCPU's thread while Run() runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <set>
#include <unordered_map>
#include <vector>

#include "codecache/code_cache.h"
#include "cpu/delivery.h"
#include "cpu/thunks.h"
#include "cpu/vcpu.h"
#include "mmu/page_walker.h"
#include "mmu/tlb.h"
#include "translator/decoder.h"
#include "translator/translator.h"

namespace xlat {

struct GuestFault {
  uint8_t vector = 0;
  uint32_t error_code = 0;
  bool has_error = false;
  uint64_t cr2 = 0;
};

// Exception vectors.
enum : uint8_t {
  kVecDE = 0, kVecDB = 1, kVecBP = 3, kVecOF = 4, kVecUD = 6, kVecNM = 7, kVecDF = 8, kVecTS = 10,
  kVecNP = 11, kVecSS = 12, kVecGP = 13, kVecPF = 14, kVecMF = 16, kVecAC = 17, kVecXM = 19,
};

class VcpuRuntime {
 public:
  explicit VcpuRuntime(Vcpu& vcpu);
  ~VcpuRuntime();
  bool Init(std::string* error);

  RunOutcome Run();
  void FlushTranslations();

  // ---- Guest state changes with consequences. ----
  void WriteCr0(uint64_t v);
  void WriteCr3(uint64_t v);
  void WriteCr4(uint64_t v);
  void InvalidatePage(uint64_t va);
  // The guest's TSC offset or CR4.TSD changed: rdtsc may no longer run natively.
  void UpdateTscMode();
  // CR0.EM or CR4.OSFXSR may have changed: x87/MMX/SSE may raise instead of running.
  void UpdateFpuControl();
  FpuControl CurrentFpuControl() const;
  // The mapping of guest virtual memory may have changed: drop what depends on it.
  void FlushAddressSpace();

  // ---- VMM accesses to guest memory, as the guest at its current CPL. ----
  // `supervisor`: an implicit system access (descriptor tables, the TSS,
  // the stack of an event delivery) made with CPL 0 rights whatever the CPL.
  // `walk`, if given, receives the walk (faulting or not) of a canonical va.
  bool Translate(uint64_t va, AccessKind kind, uint64_t* pa, GuestFault* f, bool supervisor = false,
                 WalkResult* walk = nullptr);
  // Translate, for a data access that translated code could have made, and
  // the walk goes into the inline TLB as a miss of that code would put it
  // (watched for coherence; writable only where translated code may store).
  // For the VMM's string operations: a rep stos on a page the TLB did not
  // hold goes inline the next time.
  bool TranslateAndFill(uint64_t va, AccessKind kind, uint64_t* pa, GuestFault* f);
  bool ReadVirt(uint64_t va, void* out, size_t n, GuestFault* f, AccessKind kind = AccessKind::kRead,
                bool supervisor = false);
  bool WriteVirt(uint64_t va, const void* in, size_t n, GuestFault* f, bool supervisor = false);
  // Physical accesses: RAM, or all-ones / ignored outside it. Writes drop the
  // translations of code they touch.
  void ReadPhys(uint64_t pa, void* out, size_t n);
  void WritePhys(uint64_t pa, const void* in, size_t n);
  // After the VMM stored to [pa, pa + n): drops translations of code there
  // (if the block the VMM was called from is among them,
  // TakeRunningBlockHit() says so) and what changed page-table entries there
  // mapped. Every VMM store to guest RAM goes through it.
  void InvalidateCode(uint64_t pa, size_t n);
  void DropCodeAt(uint64_t pa, size_t n);  // the code half of InvalidateCode
  void DropFpuDependentCode();             // blocks marked Block::depends_on_fpu_control
  void DropBlock(Block* b);                // out of the jump cache and the code cache's index
  // Whether guest stores to physical page pa_page must leave translated code:
  // it holds translated code or page tables the caches depend on.
  bool StoresTrap(uint64_t pa_page) const;
  // Puts a walk (already recorded) of the page at `va`, in guest RAM at
  // `host`, into the inline TLB as translated code's miss finds it: writable
  // only once the guest's dirty bit is set (so the walk that sets it
  // happens) and where stores need not trap; not at all on a page a debugger
  // watches, whose accesses must reach the VMM.
  void FillTlb(uint64_t va, const WalkResult& w, uint8_t* host);
  bool TakeRunningBlockHit() {
    bool hit = running_hit_;
    running_hit_ = false;
    return hit;
  }

  // ---- Ending a run or raising an exception from VMM code. ----
  // The exception is delivered (or, before IDT delivery exists, ends the run)
  // at the next dispatch. ctx.rip must be the faulting instruction's.
  void Raise(const GuestFault& f);
  void Raise(uint8_t vector) { Raise(GuestFault{vector, 0, false, 0}); }
  void RaiseWithError(uint8_t vector, uint32_t error) { Raise(GuestFault{vector, error, true, 0}); }
  // int n / int3 / into (the gate's DPL is checked), int1 at `insn_rip`.
  // ctx.rip must be the next instruction's.
  void RaiseSoftware(uint8_t vector, uint64_t insn_rip, bool privileged = false);
  // hlt: the CPU sleeps until an interrupt it can take.
  void Halt() { halted_ = true; }
  // Interrupts stay blocked until after the next instruction (sti, mov ss).
  void SetInterruptShadow() { interrupt_shadow_ = true; }
  // mov ss / pop ss: interrupts and debug traps (a TF single-step included)
  // wait until after the next instruction (Intel SDM vol. 3A, 6.8.3).
  void SetMovSsShadow() {
    interrupt_shadow_ = true;
    step_trap_ = StepTrap::kNone;
  }
  // syscall, sysret: whether a single-step trap follows depends on the TF
  // they leave, not on the TF they began with (see Run()).
  void StepTrapFollowsNewTf() { step_trap_ = StepTrap::kByNewTf; }

  // Guest registers as the architecture sees them at a site: ctx.gpr with
  // displaced registers taken from their spill slots.
  // `flags_saved`: the guest's arithmetic flags are in ctx.flags_lahf, not in ctx.rflags.
  void MakePrecise(uint16_t displaced, bool flags_saved);

  // Decodes the guest instruction at `rip` (fetching as the guest would).
  bool DecodeAt(uint64_t rip, DecodedInsn* d, GuestFault* f);

  bool user_mode() const { return ctx_.cpl == 3; }
  PrivClass priv() const { return ctx_.cpl == 3 ? PrivClass::kUser : PrivClass::kSupervisor; }
  PagingState paging() const { return PagingState{ctx_.cr0, ctx_.cr3, ctx_.cr4, ctx_.efer}; }

  Vcpu& vcpu() { return vcpu_; }
  VcpuContext& ctx() { return ctx_; }
  Stats& stats() { return stats_; }
  InlineTlb& tlb() { return *tlb_; }
  const Thunks& thunks() const { return thunks_; }

  // Handler of the vmm_call thunk.
  static uint32_t HandleSiteThunk(VcpuContext* ctx);

  // Set by the host signal handler: a fault of natively executed guest code
  // (already made precise in ctx), or a poll.
  void OnSignalExit(const GuestFault* fault);
  // An inline sti found an interrupt waiting: it has executed; the one after
  // it runs before the interrupt is taken.
  void OnStiPoll();

  // RFLAGS.IF lives in ctx.vif while translated code runs (emit_virtual.cpp).
  void SyncFlagsToGuest() {
    ctx_.vif = ctx_.rflags & kFlagIF;
    ctx_.vflags = (ctx_.rflags & kVirtualFlagsMask) | 2;
  }
  void SyncFlagsFromGuest() { ctx_.rflags = (ctx_.rflags & ~kFlagIF) | (ctx_.vif & kFlagIF); }

 private:
  uint32_t HandleSite(uint32_t site_id);
  uint32_t HandleMemSlow(Site& site);
  uint32_t HandleMemPost(Site& site);
  uint32_t HandleMemGroup(Site& site);
  uint32_t HandleString(Site& site);
  // After a handler that revoked write access somewhere: leave the block at
  // the site's precise point instead of resuming it.
  uint32_t LeaveAfterRevocation(const Site& site);
  void HandleExit();
  Block* FindOrTranslate(uint64_t rip, bool single_step = false);
  // What every new translation gets before it runs: its trace, write
  // protection of its code pages, a jump-cache entry and links to the
  // translated targets of its exits.
  void Adopt(Block* b, PrivClass p, bool single_step);
  // A block that ends a loop with a backward jcc (Block::loop_exit): its
  // fall-through, where the loop leaves, translated and linked now if its
  // page is mapped (nothing raised).
  void TranslateLoopExit(Block& b, PrivClass p);
  // Traces (vcpu_traces.cpp). A hot block (its entry counter ran out) is
  // run one instruction at a time from there, its path recorded, until the
  // path comes back to it; that path then becomes a trace in its place.
  struct TraceRecording {
    bool active = false;
    uint64_t head = 0;  // guest VA where the path starts and must come back
    PrivClass priv = PrivClass::kSupervisor;
    uint64_t cr3 = 0;
    std::vector<uint64_t> path;  // guest VA of each instruction run
  } recording_;
  bool TracesWelcome() const;
  // The code cache key of the block at `head` now (false: not mapped).
  bool HeadKey(uint64_t head, uint64_t* key);
  // A head that gives no trace stops counting: its block is translated
  // again without the count, a sub and a jb at each of its entries for good.
  void StopCounting(uint64_t head);
  void StartTraceRecording();
  // Before each instruction while recording: adds ctx.rip to the path, or
  // ends the recording (building the trace where the path came back).
  void RecordTraceStep();
  // Translates the path as a trace at its head, in place of the block there.
  void BuildTrace(bool closes);
  static constexpr size_t kMinOpenTrace = 16;  // instructions a path that does not come back needs
  // Links a direct exit to `to`, counted in the statistics.
  void LinkExit(BlockExit& exit, Block* to);
  // The fetch callback of the translator: guest code pages by VA.
  CodePage FetchCodePage(uint64_t va_page);
  std::string FatalExceptionMessage() const;
  // Faults and traps around translated code (vcpu_traps.cpp).
  void BeforeGuestEntry();
  bool StepTrapDue(bool tf_at_start) const;  // after a run that began with TF = tf_at_start
  void TranslateFpuInstructionPointer();
  // ctx.rip, where block `b` went, is not canonical (a lookup miss or a direct exit).
  void RaiseNonCanonicalBranch(const Block* b);
  const Block* LastBlockEntered() const;  // named by the poll store
  bool ThroughStackSegment(uint64_t rip, uint64_t va);

  Vcpu& vcpu_;
  VcpuContext& ctx_;
  Stats& stats_;
  Thunks thunks_;
  std::unique_ptr<Translator> translator_;
  std::unique_ptr<InlineTlb> tlb_;
  std::unique_ptr<class MappingCaches> mapping_;
  bool fetch_global_ = false;  // the last Translate() went through a global page
  Decoder decoder_;

  // An access the slow path is doing through the bounce buffer.
  struct Bounce {
    uint64_t va = 0;
    uint32_t size = 0;
    uint64_t pa[2] = {0, 0};
    uint32_t len[2] = {0, 0};
  } bounce_;

  bool exception_pending_ = false;
  GuestEvent pending_event_;
  bool halted_ = false;
  bool interrupt_shadow_ = false;
  // What decides the single-step trap after the instruction being run.
  // kNone: no trap now (mov ss delays it; a poll ran no instruction).
  enum class StepTrap : uint8_t { kByTfAtStart, kByNewTf, kNone };
  StepTrap step_trap_ = StepTrap::kByTfAtStart;
  bool interrupts_enabled_once_ = false;
  uint64_t masked_since_ns_ = 0;  // clock time since when an interrupt has waited for IF (0: none)
  bool watchdog_armed_ = false;
  bool CheckHang(RunOutcome* out);
  void TraceBlockEntry(const Block* b);
  void TraceExit(const char* how);

 public:
  // ---- Debugging (see Vcpu). ----
  void SetBreakpoint(uint64_t va, bool on);
  void SetWatchpoint(uint64_t va, uint64_t len, WatchKind kind, bool on);
  void SetSingleStep(bool on) { debug_single_step_ = on; }
  bool HasBreakpointAt(uint64_t va) const { return breakpoints_.count(va) != 0; }
  // A watched access of `kind` overlapping [va, va + n)?
  bool Watched(uint64_t va, uint64_t n, AccessKind kind) const;
  bool PageWatched(uint64_t va_page) const;

 private:
  std::set<uint64_t> breakpoints_;
  struct Watch {
    uint64_t va, len;
    WatchKind kind;
  };
  std::vector<Watch> watches_;
  bool debug_single_step_ = false;
  uint64_t resume_over_breakpoint_ = ~0ull;  // a Run() starting at a breakpoint runs it first
  bool watch_hit_ = false;
  uint64_t watch_address_ = 0;
  bool watch_post_pending_ = false;  // a watched write is going through the bounce buffer
  bool ignore_watch_once_ = false;   // the next instruction already stopped for a watched read
  uint64_t ignore_watch_rip_ = ~0ull;
  void UpdateIrqPoll();
  // Until the guest loads an IDT, an exception ends the run with a report
  // (a bare-metal program without handlers), as in the freestanding contract.
  bool DeliverPending(RunOutcome* out);
  bool TakeInterrupt();
  bool WaitInHalt(RunOutcome* out);
  const Block* running_ = nullptr;  // the block a site handler was called from
  bool running_hit_ = false;
  Block* last_block_ = nullptr;  // for statistics and debugging
  // Decoded string instructions, by site id (reset with the code cache).
  std::unordered_map<uint32_t, DecodedInsn> string_insns_;
  // Emulate sites seen, by site: the instruction decoded once (a fetch walk
  // and a Zydis decode per exit otherwise) and its statistics counter.
  struct EmulateSite {
    DecodedInsn d;
    uint64_t* count;  // null: in/out through DX, named by the port at the time
  };
  std::unordered_map<uint32_t, EmulateSite> emulate_sites_;

  // ---- Where the time goes (Stats::guest_code_ns and the rest), in TSC ticks. ----
  uint64_t DeviceTicks() const;
  uint64_t RunTimers();  // Clock::RunExpired, counted as device time
  void PublishTimes();
  uint64_t ticks_in_guest_ = 0;     // inside enter_guest, callouts included
  uint64_t ticks_callouts_ = 0;     // in vmm_call site handlers, devices included
  uint64_t ticks_callout_devices_ = 0;
  uint64_t ticks_timers_ = 0;
  uint64_t ticks_exit_[static_cast<unsigned>(ExitReason::kCount)] = {};
  uint64_t ticks_run_ = 0, ns_run_ = 0;  // the TSC rate, measured over every Run()
};

}  // namespace xlat
