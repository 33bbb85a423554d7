#include "devices/port80.h"

#include "devices/port_bus.h"

namespace xlat {

void RegisterPort80(PortBus& ports, std::function<void(uint8_t)> on_write) {
  ports.Register(
      "port80", 0x80, 1, [](uint16_t, unsigned size) -> uint32_t { return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1; },
      [on_write = std::move(on_write)](uint16_t, unsigned, uint32_t value) {
        if (on_write) on_write(static_cast<uint8_t>(value));
      });
}

}  // namespace xlat
