// The memory-mapped I/O bus: devices register a guest physical range with
// read/write handlers. Guest accesses to physical addresses outside RAM come
// here; an unclaimed address reads as all-ones and ignores writes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace xlat {

class MmioBus {
 public:
  // `offset` is relative to the registered base; size is 1, 2, 4 or 8.
  using ReadFn = std::function<uint64_t(uint64_t offset, unsigned size)>;
  using WriteFn = std::function<void(uint64_t offset, unsigned size, uint64_t value)>;

  void Register(std::string name, uint64_t base, uint64_t length, ReadFn read, WriteFn write);
  bool Claims(uint64_t pa) const { return Find(pa) != nullptr; }
  // False when no device claims pa (the value is then all-ones).
  bool Read(uint64_t pa, unsigned size, uint64_t* value);
  bool Write(uint64_t pa, unsigned size, uint64_t value);

  // Host TSC ticks spent in the devices' handlers (the statistics' time split).
  uint64_t busy_ticks() const { return busy_ticks_; }

 private:
  struct Range {
    std::string name;
    uint64_t base;
    uint64_t length;
    ReadFn read;
    WriteFn write;
  };
  const Range* Find(uint64_t pa) const;
  std::vector<Range> ranges_;
  uint64_t busy_ticks_ = 0;
};

}  // namespace xlat
