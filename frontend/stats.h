// What translation cost: counters kept by the translator, the code cache and
// the vCPU, printed at exit by --stats and written as JSON by --stats-json.
//
// Counters are plain integers bumped on cold paths (translation, exits,
// helpers). Nothing here is touched by translated code unless the translator
// was asked to count in-line events (Stats::count_inline), which costs a few
// flag-free instructions per counted event.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cpu/vcpu_context.h"

namespace xlat {

struct Stats {
  // Translator.
  uint64_t blocks_translated = 0;
  uint64_t loop_exits_ahead = 0;       // of those, a loop's exit translated with the loop (VcpuRuntime)
  uint64_t guest_insns_translated = 0;
  uint64_t guest_bytes_translated = 0;
  uint64_t host_bytes_emitted = 0;
  uint64_t translate_ns = 0;           // host time spent translating
  // Per-classification counts of translated guest instructions.
  uint64_t insns_copied = 0;           // register-only, bytes copied unchanged
  uint64_t insns_mem_rewritten = 0;    // explicit memory operand through the inline TLB
  uint64_t insns_implicit_mem = 0;     // push/pop/call/ret/string/... rewritten
  uint64_t insns_control = 0;          // branches
  uint64_t insns_callout = 0;          // sensitive: emulated by the VMM
  uint64_t insns_virtual = 0;          // sensitive, done inline on virtual state (cli/sti/pushf...)
  uint64_t insns_undefined = 0;        // not supported: raise #UD

  // Code cache.
  uint64_t cache_flushes = 0;
  uint64_t cache_bytes_used = 0;       // at exit
  uint64_t cache_bytes_capacity = 0;

  // Branches.
  uint64_t direct_branch_sites = 0;    // direct-branch exits emitted, each chainable once
  uint64_t links_made = 0;             // direct branches chained (patched)
  uint64_t links_past_spills = 0;      // links between blocks of one pool: past its reloads and spills
  uint64_t jump_cache_fills = 0;       // indirect targets entered into the jump cache
  uint64_t side_exits = 0;             // jcc a block continues past (its taken path leaves)
  uint64_t flag_saves = 0;             // blocks saving the flags before an indirect branch
  uint64_t flag_saves_one_store = 0;   // ... with one store: constant, or which add/sub/cmp made them
  uint64_t traces_built = 0;           // traces translated (Translator::TranslateTrace)
  uint64_t trace_guards = 0;           // indirect jmps translated as a guard inside a trace
  uint64_t trace_recordings_abandoned = 0;  // hot heads that gave no trace (their blocks count no more)

  // Guest instructions executed (of the blocks entered); 0 unless counted (--count-insns).
  uint64_t guest_insns = 0;

  // Exits to the VMM, by reason (ExitReason).
  uint64_t exits[static_cast<unsigned>(ExitReason::kCount)] = {};

  // Memory slow paths.
  uint64_t tlb_misses = 0;             // inline TLB misses handled by the helper
  uint64_t tlb_fills = 0;
  uint64_t tlb_flushes = 0;
  uint64_t page_crossings = 0;         // accesses split across two pages
  uint64_t bounced_accesses = 0;       // done through the bounce buffer (discontiguous, MMIO, code pages)
  uint64_t string_ops = 0;             // string instructions performed by the VMM
  uint64_t code_invalidations = 0;     // blocks dropped because their guest code was written
  uint64_t mem_groups = 0;             // groups of accesses translated with one shared TLB check
  uint64_t mem_group_declines = 0;     // group checks that could not stand (block translated again)
  uint64_t loop_stride_windows = 0;    // loops whose accesses move with their counter, checked a page at a time (translator/checked_span.h)
  uint64_t spans_checked = 0;     // spans of bounded or invariant accesses checked once, before a loop or at a block's start (translator/checked_span.h)
  // Shadow paging: address spaces kept across CR3 writes, page-table pages watched.
  uint64_t shadow_spaces = 0;          // address spaces cached (0: every CR3 write flushes)
  uint64_t space_switches_cached = 0;  // CR3 writes served from the cache (no refill)
  uint64_t space_switches_built = 0;   // CR3 writes to an address space not in the cache
  uint64_t cr3_reloads = 0;            // CR3 writes of the current value: nothing dropped
  uint64_t tlb_entries_restored = 0;   // inline TLB entries put back by cached switches
  uint64_t pt_pages_watched = 0;       // guest pages that became write-protected page tables
  uint64_t pt_write_faults = 0;        // guest stores to watched page-table pages
  uint64_t revocation_leaves = 0;      // blocks left at a callout that revoked write access (VcpuRuntime::LeaveAfterRevocation)
  uint64_t pt_pages_released = 0;      // watched pages released after a flood of stores
  uint64_t shadow_invalidations = 0;   // virtual ranges dropped because an entry mapping them changed
  uint64_t emulated_insns = 0;         // sensitive instructions emulated by the VMM
  std::map<std::string, uint64_t> emulated_by_mnemonic;  // ... by mnemonic
  uint64_t port_io = 0;                // port accesses (in/out/ins/outs)
  uint64_t host_signals = 0;           // faults raised by natively executed guest code

  // Guest exceptions raised (by vector).
  uint64_t exceptions[32] = {};

  uint64_t interrupts = 0;             // external interrupts delivered
  uint64_t inline_syscalls = 0;        // syscall done by translated code, no exit
  uint64_t inline_string_ops = 0;      // rep movs/stos done natively by translated code
  uint64_t inline_sysrets = 0;         // sysretq done by translated code, no exit
  uint64_t triple_faults = 0;
  uint64_t mmio = 0;                   // MMIO accesses (naturally sized pieces)
  uint64_t idle_ns = 0;                // time the vCPU slept in hlt
  // Where the run's time went (host TSC, converted with the run's own rate):
  // translated code, mid-instruction VMM callouts (TLB misses, string
  // instructions), device models (port, MMIO, timers), and per exit reason
  // the time from the exit until translated code ran again (which includes
  // any translating, device and idle time it led to).
  uint64_t guest_code_ns = 0;
  uint64_t callout_ns = 0;
  uint64_t device_ns = 0;
  uint64_t exit_ns[static_cast<unsigned>(ExitReason::kCount)] = {};
  uint64_t run_ns = 0;                 // wall time of Vcpu::Run
};

// Stable snake_case name of an exit reason ("branch", "lookup_miss", ...): the
// JSON key and the label of the report. "unknown" for a value without a name.
const char* ExitReasonName(ExitReason r);

// Short name of an exception vector: "DE", "DB", "NMI", ... "XM"; nullptr for
// reserved vectors (9, 15, 22-27, 31).
const char* ExceptionName(unsigned vector);

// Human-readable report (multi-line, aligned, ends with a newline) and JSON
// document (one object, ends with a newline). JSON keys are the field names
// above, grouped as in the report; derived ratios are JSON numbers and are 0
// when their denominator is 0. The layout is versioned by "schema".
std::string FormatStats(const Stats& s);
std::string FormatStatsJson(const Stats& s);

}  // namespace xlat
