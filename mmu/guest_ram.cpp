#include "mmu/guest_ram.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace xlat {

std::unique_ptr<GuestRam> GuestRam::Create(uint64_t bytes, std::string* error) {
  if (bytes == 0 || bytes % 4096 != 0) {
    *error = "guest RAM size must be a non-zero multiple of 4 KiB";
    return nullptr;
  }
  // MAP_NORESERVE: untouched guest RAM costs nothing on the host.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *error = "cannot allocate " + std::to_string(bytes >> 20) + " MiB of guest RAM: " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<GuestRam>(new GuestRam(static_cast<uint8_t*>(p), bytes));
}

GuestRam::~GuestRam() { munmap(base_, size_); }

bool GuestRam::Write(GuestPhysAddr pa, std::span<const uint8_t> bytes) {
  uint8_t* dst = HostPtr(pa, bytes.size());
  if (!dst) return false;
  std::memcpy(dst, bytes.data(), bytes.size());
  return true;
}

void GuestRam::Zero() { madvise(base_, size_, MADV_DONTNEED); }

bool GuestRam::Read(GuestPhysAddr pa, std::span<uint8_t> out) const {
  const uint8_t* src = HostPtr(pa, out.size());
  if (!src) return false;
  std::memcpy(out.data(), src, out.size());
  return true;
}

}  // namespace xlat
