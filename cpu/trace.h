// Trace dumps (-d LIST, -D FILE) and the flight recorder.
//
// Each category (frontend/log_categories.h) is one bit of g_trace_mask; a
// trace point is `if (TraceOn(kLogInt)) Trace(kLogInt, ...)`, one load and
// one branch when tracing is off. Events go to the -D file (stderr by
// default), or, with a flight recorder, into a ring of the last N events
// that is written out when the guest triple-faults, panics or hangs, or on
// SIGUSR1 -- so a crash can be debugged without tracing the whole boot.
//
// Filters keep a dump readable: guest address ranges (-dfilter, QEMU's
// syntax), the privilege level (--trace-cpl), and a symbol range
// (-dfilter with function names, resolved through the symbolizer).
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "frontend/log_categories.h"

namespace xlat {

extern uint32_t g_trace_mask;
inline bool TraceOn(uint32_t category) { return (g_trace_mask & category) != 0; }

struct TraceRange {
  uint64_t begin, end;  // [begin, end)
};

class Tracer {
 public:
  static Tracer& Get();

  // `out`: where events go (nullptr: stderr). `flight_records` > 0: keep
  // only the last N events in memory until a dump is asked for.
  void Configure(uint32_t mask, FILE* out, size_t flight_records);
  void SetAddressFilter(std::vector<TraceRange> ranges) { ranges_ = std::move(ranges); }
  void SetCplFilter(int cpl) { cpl_filter_ = cpl; }  // -1: any
  // Guest VA -> "name+0xoff" (empty if unknown). Set once symbols are known.
  void SetSymbolizer(std::function<std::string(uint64_t)> fn) { symbolize_ = std::move(fn); }

  // Whether an event at guest `rip` and `cpl` passes the filters.
  bool Passes(uint64_t rip, unsigned cpl) const;
  std::string Symbol(uint64_t va) const { return symbolize_ ? symbolize_(va) : std::string(); }

  void Printf(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void Write(const std::string& text);

  // --perf-map: /tmp/perf-PID.map lines naming each translation by its
  // guest address (and symbol), so perf(1) can attribute samples.
  bool OpenPerfMap(std::string* error);
  FILE* perf_map() const { return perf_map_; }
  void AddPerfMapEntry(const void* host_code, uint32_t host_size, uint64_t guest_rip);

  bool flight_recorder() const { return flight_records_ > 0; }
  // Writes the recorded events (with a header saying why) to the -D file or
  // stderr. Callable from a signal handler only through RequestDump().
  void DumpFlightRecorder(const char* why);
  // Async-signal-safe: asks for a dump at the next convenient point.
  void RequestDump() { dump_requested_.store(true, std::memory_order_relaxed); }
  bool TakeDumpRequest() { return dump_requested_.exchange(false, std::memory_order_relaxed); }

 private:
  FILE* out_ = nullptr;
  FILE* perf_map_ = nullptr;
  size_t flight_records_ = 0;
  // The flight recorder: a ring of strings reused in place (no allocation
  // per event once each slot has grown to its event's length); ring_next_
  // is the oldest event once the ring is full.
  std::vector<std::string> ring_;
  size_t ring_next_ = 0;
  void Record(const char* text, size_t n);
  std::vector<TraceRange> ranges_;
  int cpl_filter_ = -1;
  std::function<std::string(uint64_t)> symbolize_;
  std::atomic<bool> dump_requested_{false};
  std::mutex mu_;
};

// Parses QEMU's -dfilter: comma-separated ADDR+SIZE, ADDR-SIZE or
// ADDR..END ranges (hex with 0x or decimal); a name (or name+SIZE) is
// looked up with `lookup` (false: unknown). False with *error.
bool ParseTraceFilter(const std::string& spec, const std::function<bool(const std::string&, uint64_t*)>& lookup,
                      std::vector<TraceRange>* out, std::string* error);

}  // namespace xlat
