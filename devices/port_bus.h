// The I/O port bus: devices register a port range with read/write handlers.
// Unclaimed ports read as all-ones and ignore writes, as on a PC.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace xlat {

class PortBus {
 public:
  using ReadFn = std::function<uint32_t(uint16_t port, unsigned size)>;
  using WriteFn = std::function<void(uint16_t port, unsigned size, uint32_t value)>;

  void Register(std::string name, uint16_t first, uint16_t count, ReadFn read, WriteFn write);
  uint32_t Read(uint16_t port, unsigned size);
  void Write(uint16_t port, unsigned size, uint32_t value);
  // Host TSC ticks spent in the devices' handlers (the statistics' time split).
  uint64_t busy_ticks() const { return busy_ticks_; }

 private:
  struct Range {
    std::string name;
    uint16_t first;
    uint16_t count;
    ReadFn read;
    WriteFn write;
  };
  const Range* Find(uint16_t port) const;
  std::vector<Range> ranges_;
  uint64_t busy_ticks_ = 0;
};

}  // namespace xlat
