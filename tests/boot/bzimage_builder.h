// Synthetic bzImages for the loader's tests: a boot sector and setup code
// whose setup header says what the test asks, followed by a "kernel" of
// recognizable bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace xlat::test {

struct FakeKernel {
  unsigned setup_sects = 4;                // as written in the file (0 means 4)
  uint16_t version = 0x020f;
  uint8_t header_len = 0x6a;               // the byte at 0x201: the header ends at 0x202 + this (0x26c)
  uint8_t loadflags = 0x01;                // LOADED_HIGH
  uint16_t xloadflags = 0x0003;            // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  uint64_t kernel_bytes = 64 * 1024;       // after the setup code; syssize says this much
  uint64_t tail_bytes = 0;                 // bytes after the kernel that syssize does not count (a signature)
  uint32_t init_size = 1u << 20;
  uint32_t kernel_alignment = 2u << 20;
  uint8_t relocatable = 1;
  uint64_t pref_address = 16ull << 20;
  uint32_t cmdline_size = 2047;
  uint32_t initrd_addr_max = 0x7fffffff;
  std::string kernel_version = "6.1.0-test (xlat@tests) #1 SMP";
};

// The byte at offset i of the fake kernel (after the setup code).
inline uint8_t KernelByte(uint64_t i) { return static_cast<uint8_t>(i * 7 + 3); }

inline void PutLe(std::vector<uint8_t>& f, uint64_t off, uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i) f[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

inline std::vector<uint8_t> BuildBzImage(const FakeKernel& k = {}) {
  const uint64_t sects = k.setup_sects == 0 ? 4 : k.setup_sects;
  const uint64_t setup = (sects + 1) * 512;
  std::vector<uint8_t> f(setup + k.kernel_bytes + k.tail_bytes, 0);
  f[0x1f1] = static_cast<uint8_t>(k.setup_sects);
  PutLe(f, 0x1f4, k.kernel_bytes / 16, 4);  // syssize
  PutLe(f, 0x1fa, 0xffff, 2);               // vid_mode: normal
  PutLe(f, 0x1fe, 0xaa55, 2);               // boot_flag
  f[0x200] = 0xeb;                          // jmp short
  f[0x201] = k.header_len;
  std::memcpy(&f[0x202], "HdrS", 4);
  PutLe(f, 0x206, k.version, 2);
  if (0x500 + k.kernel_version.size() < setup) {  // kernel_version string at 0x200 + 0x300
    PutLe(f, 0x20e, 0x300, 2);
    std::memcpy(&f[0x500], k.kernel_version.c_str(), k.kernel_version.size() + 1);
  }
  f[0x211] = k.loadflags;
  PutLe(f, 0x214, 0x100000, 4);  // code32_start
  PutLe(f, 0x22c, k.initrd_addr_max, 4);
  PutLe(f, 0x230, k.kernel_alignment, 4);
  f[0x234] = k.relocatable;
  f[0x235] = 21;  // min_alignment
  PutLe(f, 0x236, k.xloadflags, 2);
  PutLe(f, 0x238, k.cmdline_size, 4);
  PutLe(f, 0x258, k.pref_address, 8);
  PutLe(f, 0x260, k.init_size, 4);
  for (uint64_t i = 0; i < k.kernel_bytes + k.tail_bytes; ++i) f[setup + i] = KernelByte(i);
  return f;
}

}  // namespace xlat::test
