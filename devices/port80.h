// Port 0x80, the POST code port. Firmware writes its progress codes here;
// Linux writes to it as an I/O delay (outb_p(), io_delay=0x80, the default),
// after many accesses to slow ISA devices. Writes are ignored (or handed to
// `on_write`, e.g. for a trace), reads return 0xff, as on QEMU.
#pragma once

#include <cstdint>
#include <functional>

namespace xlat {
class PortBus;
void RegisterPort80(PortBus& ports, std::function<void(uint8_t)> on_write = nullptr);
}  // namespace xlat
