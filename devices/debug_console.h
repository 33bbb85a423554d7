// A transmit-only serial port on 0x3f8: every byte written to the data
// register goes to the host, the line status register always says "transmitter
// empty". Enough for freestanding guests; the PC platform replaces it with a
// full 16550A.
#pragma once

#include <cstdint>
#include <functional>

namespace xlat {
class PortBus;
void RegisterDebugConsole(PortBus& ports, std::function<void(uint8_t)> out);
}  // namespace xlat
