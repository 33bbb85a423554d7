#include "cpu/trace.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>

namespace xlat {

uint32_t g_trace_mask = 0;

Tracer& Tracer::Get() {
  static Tracer tracer;
  return tracer;
}

void Tracer::Configure(uint32_t mask, FILE* out, size_t flight_records) {
  std::lock_guard<std::mutex> lock(mu_);
  out_ = out;
  flight_records_ = flight_records;
  g_trace_mask = mask;
}

bool Tracer::Passes(uint64_t rip, unsigned cpl) const {
  if (cpl_filter_ >= 0 && static_cast<unsigned>(cpl_filter_) != cpl) return false;
  if (ranges_.empty()) return true;
  for (const TraceRange& r : ranges_)
    if (rip >= r.begin && rip < r.end) return true;
  return false;
}

void Tracer::Printf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  const size_t len = std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1);
  std::lock_guard<std::mutex> lock(mu_);
  if (flight_records_) return Record(buf, len);
  std::fwrite(buf, 1, len, out_ ? out_ : stderr);
}

void Tracer::Write(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (flight_records_) return Record(text.data(), text.size());
  std::fputs(text.c_str(), out_ ? out_ : stderr);
}

void Tracer::Record(const char* text, size_t n) {
  if (ring_.size() < flight_records_) {
    ring_.emplace_back(text, n);
    return;
  }
  ring_[ring_next_].assign(text, n);
  ring_next_ = (ring_next_ + 1) % ring_.size();
}

void Tracer::DumpFlightRecorder(const char* why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!flight_records_) return;
  FILE* f = out_ ? out_ : stderr;
  std::fprintf(f, "==== xlat flight recorder: the last %zu events (%s) ====\n", ring_.size(), why);
  for (size_t i = 0; i < ring_.size(); ++i) std::fputs(ring_[(ring_next_ + i) % ring_.size()].c_str(), f);
  std::fprintf(f, "==== end of the flight recorder ====\n");
  std::fflush(f);
}

bool Tracer::OpenPerfMap(std::string* error) {
  char path[64];
  std::snprintf(path, sizeof path, "/tmp/perf-%d.map", static_cast<int>(getpid()));
  perf_map_ = std::fopen(path, "w");
  if (!perf_map_) {
    *error = std::string("--perf-map: cannot write ") + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void Tracer::AddPerfMapEntry(const void* host_code, uint32_t host_size, uint64_t guest_rip) {
  const std::string sym = Symbol(guest_rip);
  std::fprintf(perf_map_, "%lx %x guest:%016" PRIx64 "%s%s\n", reinterpret_cast<unsigned long>(host_code), host_size,
               guest_rip, sym.empty() ? "" : " ", sym.c_str());
}

bool ParseTraceFilter(const std::string& spec, const std::function<bool(const std::string&, uint64_t*)>& lookup,
                      std::vector<TraceRange>* out, std::string* error) {
  auto number = [&](const std::string& s, uint64_t* v) {
    if (s.empty()) return false;
    char* end = nullptr;
    *v = std::strtoull(s.c_str(), &end, 0);
    if (*end == 0) return true;
    return lookup && lookup(s, v);
  };
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    const std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    TraceRange r{};
    size_t dots = item.find("..");
    size_t op = item.find_first_of("+-", 1);
    uint64_t a = 0, b = 0;
    if (dots != std::string::npos) {
      if (!number(item.substr(0, dots), &a) || !number(item.substr(dots + 2), &b) || b < a) goto bad;
      r = {a, b + 1};
    } else if (op != std::string::npos) {
      if (!number(item.substr(0, op), &a) || !number(item.substr(op + 1), &b)) goto bad;
      r = item[op] == '+' ? TraceRange{a, a + b} : TraceRange{a - b, a};
    } else {
      if (!number(item, &a)) goto bad;
      r = {a, a + (lookup ? 0x10000 : 1)};  // a function name alone: its first 64 KiB
    }
    out->push_back(r);
    continue;
  bad:
    *error = "cannot parse '" + item + "': give ADDR+SIZE, ADDR-SIZE, ADDR..END" +
             (lookup ? " or a symbol of the guest" : " (the guest has no symbols)");
    return false;
  }
  return true;
}

}  // namespace xlat
