#include "devices/mmio_bus.h"

#include <x86intrin.h>

#include <cinttypes>

#include "cpu/trace.h"

namespace xlat {

void MmioBus::Register(std::string name, uint64_t base, uint64_t length, ReadFn read, WriteFn write) {
  ranges_.push_back(Range{std::move(name), base, length, std::move(read), std::move(write)});
}

const MmioBus::Range* MmioBus::Find(uint64_t pa) const {
  for (const Range& r : ranges_)
    if (pa >= r.base && pa - r.base < r.length) return &r;
  return nullptr;
}

bool MmioBus::Read(uint64_t pa, unsigned size, uint64_t* value) {
  const uint64_t t0 = __rdtsc();
  const Range* r = Find(pa);
  if (!r || !r->read)
    *value = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
  else
    *value = r->read(pa - r->base, size);
  busy_ticks_ += __rdtsc() - t0;
  if (TraceOn(kLogIo))
    Tracer::Get().Printf("io: mmio read%u  pa=%#" PRIx64 " -> %#" PRIx64 " (%s)\n", size * 8, pa, *value,
                         r ? r->name.c_str() : "none");
  if (!r && TraceOn(kLogGuestErrors))
    Tracer::Get().Printf("guest_errors: %u-bit read of pa %#" PRIx64 ", which no device decodes (reads %#" PRIx64 ")\n",
                         size * 8, pa, *value);
  return r != nullptr;
}

bool MmioBus::Write(uint64_t pa, unsigned size, uint64_t value) {
  const Range* r = Find(pa);
  if (TraceOn(kLogIo))
    Tracer::Get().Printf("io: mmio write%u pa=%#" PRIx64 " <- %#" PRIx64 " (%s)\n", size * 8, pa, value,
                         r ? r->name.c_str() : "none");
  if (!r && TraceOn(kLogGuestErrors))
    Tracer::Get().Printf("guest_errors: %u-bit write of %#" PRIx64 " to pa %#" PRIx64 ", which no device decodes (dropped)\n",
                         size * 8, value, pa);
  const uint64_t t0 = __rdtsc();
  if (r && r->write) r->write(pa - r->base, size, value);
  busy_ticks_ += __rdtsc() - t0;
  return r != nullptr;
}

}  // namespace xlat
