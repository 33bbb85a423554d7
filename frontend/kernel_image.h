// The kernel inside a bzImage, uncompressed on the host, so that its symbols
// are known before the guest has run one instruction.
//
// A bzImage's protected-mode part is the decompressor followed by the
// compressed kernel: the setup header's payload_offset (0x248, from the
// start of the protected-mode code) and payload_length (0x24c) say where.
// Debian compresses it with XZ (x86 BCJ filter, CRC32 check); the payload is
// vmlinux.bin (the vmlinux ELF with symbols stripped but its section headers
// kept) followed by the relocation table the decompressor applies for KASLR.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xlat {

// Uncompresses the payload of a bzImage file. False with one line in *error
// (for instance a compression other than XZ: "payload is gzip-compressed").
bool DecompressBzImagePayload(std::span<const uint8_t> bzimage, std::vector<uint8_t>* out, std::string* error);

// An uncompressed vmlinux ELF viewed by the kernel's link-time virtual addresses.
class VmlinuxImage {
 public:
  struct Segment {
    uint64_t vaddr, paddr, offset, file_size, mem_size;
  };
  struct Section {
    std::string name;
    uint64_t address, size, flags;  // flags: ELF SHF_*
    uint32_t type;                  // ELF SHT_*
  };

  // Takes the ELF bytes. False with *error if they are not an x86-64 ELF executable.
  bool Parse(std::vector<uint8_t> elf, std::string* error);

  // Reads [va, va + n) of the loaded image (bytes past a segment's file size
  // read as zeros). False if any of it is outside every segment.
  bool Read(uint64_t va, void* out, size_t n) const;

  uint64_t entry() const { return entry_; }  // e_entry: the physical address of startup_64
  const std::vector<Segment>& segments() const { return segments_; }
  const std::vector<Section>& sections() const { return sections_; }
  // The segment that holds the entry (.text): its vaddr is _text, its paddr
  // LOAD_PHYSICAL_ADDR.
  const Segment* text_segment() const;
  // Drops the file bytes (after the symbols are taken out).
  void ReleaseBytes();

 private:
  std::vector<uint8_t> elf_;
  uint64_t entry_ = 0;
  std::vector<Segment> segments_;
  std::vector<Section> sections_;
};

}  // namespace xlat
