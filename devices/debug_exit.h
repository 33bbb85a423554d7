// QEMU's isa-debug-exit on port 0xf4: a write of V ends the run with exit
// status (V << 1) | 1.
#pragma once

#include <functional>

namespace xlat {
class PortBus;
void RegisterDebugExit(PortBus& ports, std::function<void(int status)> exit);
}  // namespace xlat
