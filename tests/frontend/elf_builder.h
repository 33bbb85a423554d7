// Builds small ELF64 x86-64 executables in memory for the loader tests and
// the command-line tests: an ELF header, the program headers right after it,
// then each segment's file bytes, 16-byte aligned. Tests corrupt the result
// through the Patch helpers.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace xlat::test {

struct TestSegment {
  uint32_t type = PT_LOAD;
  uint32_t flags = PF_R | PF_X;
  uint64_t paddr = 0;
  uint64_t vaddr = 0;
  std::vector<uint8_t> bytes;  // p_filesz = bytes.size()
  uint64_t mem_size = 0;       // p_memsz; raised to bytes.size() if smaller
};

inline std::vector<uint8_t> BuildElf(uint64_t entry, const std::vector<TestSegment>& segments) {
  const size_t ph_off = sizeof(Elf64_Ehdr);
  size_t data_off = ph_off + segments.size() * sizeof(Elf64_Phdr);
  std::vector<uint8_t> out(data_off);

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_entry = entry;
  eh.e_phoff = ph_off;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<uint16_t>(segments.size());
  std::memcpy(out.data(), &eh, sizeof eh);

  for (size_t i = 0; i < segments.size(); ++i) {
    const TestSegment& s = segments[i];
    data_off = (out.size() + 15) & ~size_t{15};
    out.resize(data_off);
    out.insert(out.end(), s.bytes.begin(), s.bytes.end());
    Elf64_Phdr ph{};
    ph.p_type = s.type;
    ph.p_flags = s.flags;
    ph.p_offset = data_off;
    ph.p_vaddr = s.vaddr;
    ph.p_paddr = s.paddr;
    ph.p_filesz = s.bytes.size();
    ph.p_memsz = s.mem_size < s.bytes.size() ? s.bytes.size() : s.mem_size;
    ph.p_align = 16;
    std::memcpy(out.data() + ph_off + i * sizeof ph, &ph, sizeof ph);
  }
  return out;
}

// The guest code of the standard image: write 0x10 to isa-debug-exit (exit
// status 0x21), then halt.
inline const std::vector<uint8_t> kExitCode = {
    0xb0, 0x10,  // mov al, 0x10
    0xe6, 0xf4,  // out 0xf4, al
    0xf4,        // hlt
};

inline constexpr uint64_t kCodeAddr = 0x100000;
inline constexpr uint64_t kDataAddr = 0x101000;

// A valid two-segment image: code at 1 MiB (R+X), data with a bss tail after it (R+W).
inline std::vector<uint8_t> StandardElf() {
  TestSegment code{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0};
  TestSegment data{PT_LOAD, PF_R | PF_W, kDataAddr, kDataAddr, {1, 2, 3, 4, 5, 6, 7, 8}, 0x2000};
  return BuildElf(kCodeAddr, {code, data});
}

// Field offsets for corrupting an image.
inline size_t PhdrOffset(unsigned i) { return sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr); }

template <typename T>
void Patch(std::vector<uint8_t>& image, size_t offset, T value) {
  std::memcpy(image.data() + offset, &value, sizeof value);
}

}  // namespace xlat::test
