#include "devices/port80.h"

#include "devices/port_bus.h"

namespace xlat {

void Port80::Register(PortBus& ports) {
  ports.Register(
      "port80", 0x80, 1,
      [](uint16_t, unsigned size) -> uint32_t { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; },
      [this](uint16_t, unsigned, uint32_t value) {
        last_code_ = static_cast<uint8_t>(value);
        if (on_write_) on_write_(last_code_);
      });
}

}  // namespace xlat
