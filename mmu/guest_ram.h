// Guest physical RAM: one anonymous host mapping; guest physical address p is
// host address base() + p for p < size(). Everything outside RAM is a device
// or reads as all-ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace xlat {

struct GuestPhysAddr {
  uint64_t value = 0;
  constexpr GuestPhysAddr() = default;
  constexpr explicit GuestPhysAddr(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const GuestPhysAddr&) const = default;
};

struct GuestVirtAddr {
  uint64_t value = 0;
  constexpr GuestVirtAddr() = default;
  constexpr explicit GuestVirtAddr(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const GuestVirtAddr&) const = default;
};

class GuestRam {
 public:
  // Maps `bytes` of zeroed guest RAM. Returns nullptr and sets *error when the
  // host cannot provide it.
  static std::unique_ptr<GuestRam> Create(uint64_t bytes, std::string* error);
  ~GuestRam();
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  uint64_t size() const { return size_; }
  uint8_t* base() const { return base_; }

  // True when [pa, pa+len) lies entirely inside RAM (overflow-safe).
  bool Contains(GuestPhysAddr pa, uint64_t len) const {
    return pa.value <= size_ && len <= size_ - pa.value;
  }
  // Host pointer for a range inside RAM, or nullptr.
  uint8_t* HostPtr(GuestPhysAddr pa, uint64_t len) const {
    return Contains(pa, len) ? base_ + pa.value : nullptr;
  }
  bool Write(GuestPhysAddr pa, std::span<const uint8_t> bytes);
  // All of RAM back to zeros (a machine reset), without touching it: the
  // host drops the pages and hands out zeroed ones on the next access.
  void Zero();
  bool Read(GuestPhysAddr pa, std::span<uint8_t> out) const;

 private:
  GuestRam(uint8_t* base, uint64_t size) : base_(base), size_(size) {}
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace xlat
