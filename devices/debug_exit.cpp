#include "devices/debug_exit.h"

#include "devices/port_bus.h"

namespace xlat {

void RegisterDebugExit(PortBus& ports, std::function<void(int status)> exit) {
  ports.Register("isa-debug-exit", 0xf4, 1, nullptr, [exit = std::move(exit)](uint16_t, unsigned, uint32_t value) {
    exit(static_cast<int>(((value << 1) | 1) & 0xff));
  });
}

}  // namespace xlat
