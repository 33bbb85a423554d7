#include "devices/debug_console.h"

#include "devices/port_bus.h"

namespace xlat {

void RegisterDebugConsole(PortBus& ports, std::function<void(uint8_t)> out) {
  constexpr uint16_t kBase = 0x3f8;
  constexpr uint16_t kLineStatus = 5;
  constexpr uint32_t kTransmitterEmpty = 0x60;  // THRE | TEMT
  ports.Register(
      "debug-console", kBase, 8,
      [](uint16_t port, unsigned) -> uint32_t { return port - kBase == kLineStatus ? kTransmitterEmpty : 0; },
      [out = std::move(out)](uint16_t port, unsigned, uint32_t value) {
        if (port == kBase) out(static_cast<uint8_t>(value));
      });
}

}  // namespace xlat
