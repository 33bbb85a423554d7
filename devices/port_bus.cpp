#include "devices/port_bus.h"

#include <x86intrin.h>

#include <cinttypes>

#include "cpu/trace.h"

namespace xlat {

void PortBus::Register(std::string name, uint16_t first, uint16_t count, ReadFn read, WriteFn write) {
  ranges_.push_back(Range{std::move(name), first, count, std::move(read), std::move(write)});
}

const PortBus::Range* PortBus::Find(uint16_t port) const {
  for (const Range& r : ranges_)
    if (port >= r.first && port - r.first < r.count) return &r;
  return nullptr;
}

uint32_t PortBus::Read(uint16_t port, unsigned size) {
  const uint64_t t0 = __rdtsc();
  const Range* r = Find(port);
  const uint32_t v = !r || !r->read ? (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1) : r->read(port, size);
  busy_ticks_ += __rdtsc() - t0;
  if (TraceOn(kLogIo))
    Tracer::Get().Printf("io: in%c  port=%#06x -> %#x (%s)\n", "bw?l"[size - 1], port, v, r ? r->name.c_str() : "none");
  if (!r && TraceOn(kLogGuestErrors))
    Tracer::Get().Printf("guest_errors: in%c from port %#06x, which no device decodes (reads %#x)\n", "bw?l"[size - 1],
                         port, v);
  return v;
}

void PortBus::Write(uint16_t port, unsigned size, uint32_t value) {
  const Range* r = Find(port);
  if (TraceOn(kLogIo))
    Tracer::Get().Printf("io: out%c port=%#06x <- %#x (%s)\n", "bw?l"[size - 1], port, value, r ? r->name.c_str() : "none");
  if (!r && TraceOn(kLogGuestErrors))
    Tracer::Get().Printf("guest_errors: out%c of %#x to port %#06x, which no device decodes (dropped)\n",
                         "bw?l"[size - 1], value, port);
  const uint64_t t0 = __rdtsc();
  if (r && r->write) r->write(port, size, value);
  busy_ticks_ += __rdtsc() - t0;
}

}  // namespace xlat
