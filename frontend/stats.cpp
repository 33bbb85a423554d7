#include <algorithm>
#include "frontend/stats.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace xlat {
namespace {

constexpr unsigned kExitReasons = static_cast<unsigned>(ExitReason::kCount);

// One line of the human report says what an exit reason means.
const char* ExitReasonHelp(ExitReason r) {
  switch (r) {
    case ExitReason::kNone: return "no reason recorded";
    case ExitReason::kBranch: return "direct branch not chained yet";
    case ExitReason::kLookupMiss: return "indirect branch missed the jump cache";
    case ExitReason::kEmulate: return "sensitive instruction emulated";
    case ExitReason::kException: return "guest exception";
    case ExitReason::kPoll: return "interrupt or stop noticed";
    case ExitReason::kCodeInvalidated: return "store hit running code";
    case ExitReason::kTraceHead: return "hot indirect-branch target: trace recorded";
    case ExitReason::kCount: break;
  }
  return "";
}

// a / b, 0 when b is 0 (so that every derived figure is a plain number).
double Ratio(double a, double b) { return b == 0 ? 0.0 : a / b; }

std::string Printf(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string Duration(uint64_t ns) {
  if (ns >= 1'000'000'000ull) return Printf("%.3f s", ns / 1e9);
  if (ns >= 1'000'000ull) return Printf("%.3f ms", ns / 1e6);
  if (ns >= 1'000ull) return Printf("%.3f us", ns / 1e3);
  return std::to_string(ns) + " ns";
}

std::string Rate(double per_second) {
  if (per_second >= 1e9) return Printf("%.2f G/s", per_second / 1e9);
  if (per_second >= 1e6) return Printf("%.2f M/s", per_second / 1e6);
  if (per_second >= 1e3) return Printf("%.2f k/s", per_second / 1e3);
  return Printf("%.0f /s", per_second);
}

std::string Percent(double part, double whole) {
  return whole == 0 ? std::string() : Printf("(%.1f%%)", 100.0 * part / whole);
}

// The derived figures, computed once for both formats.
struct Derived {
  double host_bytes_per_guest_byte;
  double guest_insns_per_translate_second;
  double direct_branches_chained_pct;
  double translate_time_pct;  // of run_ns
  double code_cache_used_pct;
  uint64_t exits_total;
  uint64_t exceptions_total;
  double exits_per_million_insns;        // 0 when instructions were not counted
  double flag_exits_per_million_insns;   // ... of cli, sti, pushf and popf
};

// Emulation exits of the instructions that read or write RFLAGS.IF/IOPL, which
// translated code handles inline in the common case.
uint64_t FlagInsnExits(const Stats& s) {
  uint64_t n = 0;
  for (const auto& [name, count] : s.emulated_by_mnemonic)
    if (name == "cli" || name == "sti" || name.rfind("pushf", 0) == 0 || name.rfind("popf", 0) == 0) n += count;
  return n;
}

Derived Derive(const Stats& s) {
  Derived d{};
  d.host_bytes_per_guest_byte = Ratio(s.host_bytes_emitted, s.guest_bytes_translated);
  d.guest_insns_per_translate_second = Ratio(s.guest_insns_translated * 1e9, s.translate_ns);
  d.direct_branches_chained_pct = 100.0 * Ratio(s.links_made, s.direct_branch_sites);
  d.translate_time_pct = 100.0 * Ratio(s.translate_ns, s.run_ns);
  d.code_cache_used_pct = 100.0 * Ratio(s.cache_bytes_used, s.cache_bytes_capacity);
  for (uint64_t n : s.exits) d.exits_total += n;
  for (uint64_t n : s.exceptions) d.exceptions_total += n;
  d.exits_per_million_insns = 1e6 * Ratio(d.exits_total, s.guest_insns);
  d.flag_exits_per_million_insns = 1e6 * Ratio(FlagInsnExits(s), s.guest_insns);
  return d;
}

// The human report: "    label          value  note" rows under section titles.
class Table {
 public:
  void Section(const char* title) { out_ += std::string("  ") + title + "\n"; }
  void Row(const std::string& label, const std::string& value, const std::string& note = "") {
    char buf[160];
    std::snprintf(buf, sizeof buf, "    %-34s %16s", label.c_str(), value.c_str());
    out_ += buf;
    if (!note.empty()) out_ += "  " + note;
    out_ += "\n";
  }
  void Row(const std::string& label, uint64_t value, const std::string& note = "") {
    Row(label, std::to_string(value), note);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Builds one JSON object; keys are emitted as given (callers use plain ASCII names).
class JsonObject {
 public:
  void Add(const char* key, uint64_t v) { Key(key) += std::to_string(v); }
  void Add(const char* key, double v) {
    // JSON has no NaN or infinity; every derived figure is finite, but be safe.
    Key(key) += std::isfinite(v) ? Printf("%.6g", v) : std::string("0");
  }
  void Add(const char* key, const char* v) { Key(key) += std::string("\"") + v + "\""; }
  void Add(const char* key, const JsonObject& o) { Key(key) += o.Close(); }
  std::string Close(int indent = 1) const {
    // Nested objects stay on one line; the top level puts one member per line.
    if (indent == 0) return "{\n  " + Join(",\n  ") + "\n}\n";
    return "{" + Join(", ") + "}";
  }

 private:
  std::string& Key(const char* key) {
    members_.push_back(std::string("\"") + key + "\": ");
    return members_.back();
  }
  std::string Join(const char* sep) const {
    std::string s;
    for (size_t i = 0; i < members_.size(); ++i) s += (i ? sep : "") + members_[i];
    return s;
  }
  std::vector<std::string> members_;
};

std::string ExitKey(unsigned r) {
  const char* name = ExitReasonName(static_cast<ExitReason>(r));
  return std::string(name) == "unknown" ? "reason_" + std::to_string(r) : name;
}

std::string VectorKey(unsigned v) {
  const char* name = ExceptionName(v);
  return name ? name : "vector_" + std::to_string(v);
}

}  // namespace

const char* ExitReasonName(ExitReason r) {
  // No default: a new ExitReason makes the compiler ask for its name here.
  switch (r) {
    case ExitReason::kNone: return "none";
    case ExitReason::kBranch: return "branch";
    case ExitReason::kLookupMiss: return "lookup_miss";
    case ExitReason::kEmulate: return "emulate";
    case ExitReason::kException: return "exception";
    case ExitReason::kPoll: return "poll";
    case ExitReason::kCodeInvalidated: return "code_invalidated";
    case ExitReason::kTraceHead: return "trace_head";
    case ExitReason::kCount: break;
  }
  return "unknown";
}

const char* ExceptionName(unsigned vector) {
  static const char* const kNames[32] = {
      "DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", nullptr, "TS", "NP", "SS", "GP", "PF", nullptr,
      "MF", "AC", "MC", "XM", "VE", "CP", nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, "HV", "VC",
      "SX", nullptr};
  return vector < 32 ? kNames[vector] : nullptr;
}

std::string FormatStats(const Stats& s) {
  const Derived d = Derive(s);
  Table t;
  t.Section("Translator");
  t.Row("blocks translated", s.blocks_translated);
  t.Row("  loop exits translated ahead", s.loop_exits_ahead, "with the loop, before they ran");
  t.Row("guest instructions translated", s.guest_insns_translated);
  t.Row("  copied unchanged", s.insns_copied, Percent(s.insns_copied, s.guest_insns_translated));
  t.Row("  memory operand rewritten", s.insns_mem_rewritten, Percent(s.insns_mem_rewritten, s.guest_insns_translated));
  t.Row("  implicit memory rewritten", s.insns_implicit_mem, Percent(s.insns_implicit_mem, s.guest_insns_translated));
  t.Row("  control flow", s.insns_control, Percent(s.insns_control, s.guest_insns_translated));
  t.Row("  emulated by the VMM", s.insns_callout, Percent(s.insns_callout, s.guest_insns_translated));
  t.Row("  virtualized inline", s.insns_virtual, Percent(s.insns_virtual, s.guest_insns_translated));
  t.Row("  undefined (#UD)", s.insns_undefined, Percent(s.insns_undefined, s.guest_insns_translated));
  t.Row("guest bytes translated", s.guest_bytes_translated);
  t.Row("host bytes emitted", s.host_bytes_emitted);
  t.Row("host bytes per guest byte", Printf("%.2f", d.host_bytes_per_guest_byte));
  t.Row("time translating", Duration(s.translate_ns),
        s.run_ns ? Printf("(%.1f%% of run)", d.translate_time_pct) : std::string());
  t.Row("guest instructions translated/s", Rate(d.guest_insns_per_translate_second));

  t.Section("Code cache");
  t.Row("bytes used", s.cache_bytes_used, Percent(s.cache_bytes_used, s.cache_bytes_capacity));
  t.Row("capacity", s.cache_bytes_capacity);
  t.Row("flushes", s.cache_flushes);

  t.Section("Branches");
  t.Row("direct branch sites", s.direct_branch_sites);
  t.Row("direct branches chained", s.links_made, Percent(s.links_made, s.direct_branch_sites));
  t.Row("  past the pool spills", s.links_past_spills, "source and target keep the same pool registers");
  t.Row("side exits", s.side_exits, "jcc the block went on past (forward, or back but no loop)");
  t.Row("flag saves before indirect ones", s.flag_saves);
  t.Row("  in one store", s.flag_saves_one_store, "known flags, or which add/sub/cmp made them");
  t.Row("jump cache fills", s.jump_cache_fills);
  t.Row("traces", s.traces_built, "hot paths across indirect jmps translated as one block");
  t.Row("  guards", s.trace_guards, "indirect jmps a trace goes on past (other targets leave)");
  t.Row("  recordings abandoned", s.trace_recordings_abandoned, "hot heads that gave no trace (and count no more)");

  t.Section("Exits");
  for (unsigned r = 0; r < kExitReasons; ++r) {
    if (r == static_cast<unsigned>(ExitReason::kNone) && s.exits[r] == 0) continue;
    t.Row(ExitKey(r), s.exits[r], ExitReasonHelp(static_cast<ExitReason>(r)));
  }
  t.Row("total", d.exits_total);
  if (s.guest_insns) {
    t.Row("guest instructions executed", s.guest_insns);
    t.Row("exits per million instructions", Printf("%.1f", d.exits_per_million_insns));
    t.Row("  of cli/sti/pushf/popf", Printf("%.2f", d.flag_exits_per_million_insns));
  }
  if (!s.emulated_by_mnemonic.empty()) {
    // The instructions behind the emulation exits, most frequent first.
    std::vector<std::pair<uint64_t, std::string>> by_count;
    for (const auto& [name, count] : s.emulated_by_mnemonic) by_count.push_back({count, name});
    std::sort(by_count.rbegin(), by_count.rend());
    for (size_t i = 0; i < by_count.size() && i < 12; ++i)
      t.Row("  emulated " + by_count[i].second, by_count[i].first);
  }
  t.Row("syscall kept inline", s.inline_syscalls, "no exit: user to kernel in translated code");
  t.Row("sysretq kept inline", s.inline_sysrets, "no exit: kernel to user in translated code");
  t.Row("interrupts delivered", s.interrupts);
  t.Row("MMIO accesses", s.mmio);
  t.Row("port accesses", s.port_io);
  t.Row("time idle in hlt", Duration(s.idle_ns));

  t.Section("Memory slow paths");
  t.Row("TLB misses", s.tlb_misses);
  t.Row("TLB fills", s.tlb_fills);
  t.Row("TLB flushes", s.tlb_flushes);
  t.Row("page-crossing accesses", s.page_crossings);
  t.Row("access groups (one check each)", s.mem_groups);
  t.Row("access group checks declined", s.mem_group_declines);
  t.Row("spans checked once", s.spans_checked, "before a loop or at a block's start: bounded-index or invariant accesses");
  t.Row("windows moving with their loop", s.loop_stride_windows, "a loop's accesses through its counter, checked a page at a time");
  t.Row("bounce-buffer accesses", s.bounced_accesses);
  t.Row("string ops done by the VMM", s.string_ops);
  t.Row("string ops done inline", s.inline_string_ops);
  t.Row("code invalidations", s.code_invalidations);
  t.Row("host signals from guest code", s.host_signals);

  t.Section("Shadow paging");
  t.Row("address spaces cached", s.shadow_spaces);
  t.Row("switches served from the cache", s.space_switches_cached);
  t.Row("switches to a new address space", s.space_switches_built);
  t.Row("CR3 reloads (nothing dropped)", s.cr3_reloads);
  t.Row("TLB entries restored", s.tlb_entries_restored);
  t.Row("page-table pages watched", s.pt_pages_watched);
  t.Row("stores to page-table pages", s.pt_write_faults);
  t.Row("blocks left after a revocation", s.revocation_leaves, "a callout write-protected a page: checks made again");
  t.Row("page-table pages released", s.pt_pages_released);
  t.Row("ranges invalidated", s.shadow_invalidations);

  t.Section("Exceptions");
  for (unsigned v = 0; v < 32; ++v) {
    if (s.exceptions[v] == 0) continue;
    const char* name = ExceptionName(v);
    t.Row(name ? "#" + std::string(name) + " (" + std::to_string(v) + ")" : "vector " + std::to_string(v),
          s.exceptions[v]);
  }
  if (d.exceptions_total == 0) t.Row("none", 0);

  t.Section("Run time");
  t.Row("run", Duration(s.run_ns));
  if (s.run_ns) {
    // The parts are measured apart; what is left is the VMM's handling of exits.
    const uint64_t measured = s.guest_code_ns + s.translate_ns + s.callout_ns + s.device_ns + s.idle_ns;
    const uint64_t rest = s.run_ns > measured ? s.run_ns - measured : 0;
    auto part = [&](const char* label, uint64_t ns) {
      t.Row(label, Duration(ns) + Printf("  (%4.1f%%)", 100.0 * Ratio(ns, s.run_ns)));
    };
    part("  translated code", s.guest_code_ns);
    part("  translator", s.translate_ns);
    part("  VMM callouts (TLB misses, ...)", s.callout_ns);
    part("  VMM exits (emulation, lookups)", rest);
    part("  device models", s.device_ns);
    part("  idle in hlt", s.idle_ns);
    t.Section("Time from each kind of exit until guest code ran again");
    for (unsigned r = 0; r < kExitReasons; ++r) {
      if (!s.exits[r] || !s.exit_ns[r]) continue;
      t.Row(ExitKey(r), Duration(s.exit_ns[r]), Printf("%.2f us each", Ratio(s.exit_ns[r], s.exits[r] * 1e3)));
    }
  }
  return "xlat statistics\n" + t.Take();
}

std::string FormatStatsJson(const Stats& s) {
  const Derived d = Derive(s);
  JsonObject translator;
  translator.Add("blocks_translated", s.blocks_translated);
  translator.Add("loop_exits_ahead", s.loop_exits_ahead);
  translator.Add("guest_insns_translated", s.guest_insns_translated);
  translator.Add("guest_bytes_translated", s.guest_bytes_translated);
  translator.Add("host_bytes_emitted", s.host_bytes_emitted);
  translator.Add("translate_ns", s.translate_ns);
  translator.Add("insns_copied", s.insns_copied);
  translator.Add("insns_mem_rewritten", s.insns_mem_rewritten);
  translator.Add("insns_implicit_mem", s.insns_implicit_mem);
  translator.Add("insns_control", s.insns_control);
  translator.Add("insns_callout", s.insns_callout);
  translator.Add("insns_undefined", s.insns_undefined);

  JsonObject cache;
  cache.Add("cache_flushes", s.cache_flushes);
  cache.Add("cache_bytes_used", s.cache_bytes_used);
  cache.Add("cache_bytes_capacity", s.cache_bytes_capacity);

  JsonObject branches;
  branches.Add("direct_branch_sites", s.direct_branch_sites);
  branches.Add("side_exits", s.side_exits);
  branches.Add("flag_saves", s.flag_saves);
  branches.Add("flag_saves_one_store", s.flag_saves_one_store);
  branches.Add("links_made", s.links_made);
  branches.Add("links_past_spills", s.links_past_spills);
  branches.Add("jump_cache_fills", s.jump_cache_fills);
  branches.Add("traces", s.traces_built);
  branches.Add("trace_guards", s.trace_guards);
  branches.Add("trace_recordings_abandoned", s.trace_recordings_abandoned);

  JsonObject exits;
  for (unsigned r = 0; r < kExitReasons; ++r) exits.Add(ExitKey(r).c_str(), s.exits[r]);
  JsonObject inline_virt;  // sensitive control transfers that did not exit
  inline_virt.Add("syscalls", s.inline_syscalls);
  inline_virt.Add("sysrets", s.inline_sysrets);
  JsonObject exit_ns;
  for (unsigned r = 0; r < kExitReasons; ++r) exit_ns.Add(ExitKey(r).c_str(), s.exit_ns[r]);
  JsonObject time;
  time.Add("guest_code_ns", s.guest_code_ns);
  time.Add("translate_ns", s.translate_ns);
  time.Add("callout_ns", s.callout_ns);
  time.Add("device_ns", s.device_ns);
  time.Add("idle_ns", s.idle_ns);
  const uint64_t measured = s.guest_code_ns + s.translate_ns + s.callout_ns + s.device_ns + s.idle_ns;
  time.Add("exit_handling_ns", s.run_ns > measured ? s.run_ns - measured : uint64_t{0});
  time.Add("exit_ns", exit_ns);

  JsonObject memory;
  memory.Add("tlb_misses", s.tlb_misses);
  memory.Add("tlb_fills", s.tlb_fills);
  memory.Add("tlb_flushes", s.tlb_flushes);
  memory.Add("page_crossings", s.page_crossings);
  memory.Add("mem_groups", s.mem_groups);
  memory.Add("mem_group_declines", s.mem_group_declines);
  memory.Add("loop_spans_checked", s.spans_checked);  // (the key from when only loops had spans)
  memory.Add("loop_stride_windows", s.loop_stride_windows);
  memory.Add("bounced_accesses", s.bounced_accesses);
  memory.Add("string_ops", s.string_ops);
  memory.Add("inline_string_ops", s.inline_string_ops);
  memory.Add("code_invalidations", s.code_invalidations);
  memory.Add("host_signals", s.host_signals);

  JsonObject shadow;
  shadow.Add("shadow_spaces", s.shadow_spaces);
  shadow.Add("space_switches_cached", s.space_switches_cached);
  shadow.Add("space_switches_built", s.space_switches_built);
  shadow.Add("cr3_reloads", s.cr3_reloads);
  shadow.Add("tlb_entries_restored", s.tlb_entries_restored);
  shadow.Add("pt_pages_watched", s.pt_pages_watched);
  shadow.Add("pt_write_faults", s.pt_write_faults);
  shadow.Add("revocation_leaves", s.revocation_leaves);
  shadow.Add("pt_pages_released", s.pt_pages_released);
  shadow.Add("shadow_invalidations", s.shadow_invalidations);

  JsonObject exceptions;
  for (unsigned v = 0; v < 32; ++v) exceptions.Add(VectorKey(v).c_str(), s.exceptions[v]);

  JsonObject derived;
  derived.Add("host_bytes_per_guest_byte", d.host_bytes_per_guest_byte);
  derived.Add("guest_insns_per_translate_second", d.guest_insns_per_translate_second);
  derived.Add("direct_branches_chained_pct", d.direct_branches_chained_pct);
  derived.Add("translate_time_pct", d.translate_time_pct);
  derived.Add("code_cache_used_pct", d.code_cache_used_pct);
  derived.Add("exits_total", d.exits_total);
  derived.Add("exceptions_total", d.exceptions_total);
  derived.Add("guest_insns", s.guest_insns);
  derived.Add("exits_per_million_insns", d.exits_per_million_insns);
  derived.Add("flag_exits_per_million_insns", d.flag_exits_per_million_insns);

  JsonObject top;
  top.Add("schema", "xlat-stats/1");
  top.Add("translator", translator);
  top.Add("code_cache", cache);
  top.Add("branches", branches);
  top.Add("exits", exits);
  top.Add("inline", inline_virt);
  top.Add("memory", memory);
  top.Add("shadow_paging", shadow);
  top.Add("exceptions", exceptions);
  top.Add("run_ns", s.run_ns);
  top.Add("time", time);
  top.Add("derived", derived);
  return top.Close(0);
}

}  // namespace xlat
