#include "devices/port_bus.h"

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
  const Range* r = Find(port);
  if (!r || !r->read) return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
  return r->read(port, size);
}

void PortBus::Write(uint16_t port, unsigned size, uint32_t value) {
  const Range* r = Find(port);
  if (r && r->write) r->write(port, size, value);
}

}  // namespace xlat
