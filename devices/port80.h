// Port 0x80, the POST code port. Firmware writes its progress codes here;
// Linux writes to it as an I/O delay (outb_p(), io_delay=0x80, the default),
// after many accesses to slow ISA devices. Writes are kept (the last code,
// for debugging) and handed to `on_write` if given; reads return 0xff, as on
// QEMU.
#pragma once

#include <cstdint>
#include <functional>

namespace xlat {

class PortBus;

class Port80 {
 public:
  explicit Port80(std::function<void(uint8_t)> on_write = nullptr) : on_write_(std::move(on_write)) {}
  Port80(const Port80&) = delete;
  Port80& operator=(const Port80&) = delete;

  void Register(PortBus& ports);
  void Reset() { last_code_ = 0; }

  uint8_t last_code() const { return last_code_; }

 private:
  std::function<void(uint8_t)> on_write_;
  uint8_t last_code_ = 0;
};

}  // namespace xlat
