// Loading a freestanding ELF64 x86-64 executable (-kernel FILE) into guest RAM.
//
// The file is read whole into host memory (at most a given size), validated,
// and only then copied: every PT_LOAD segment goes to its physical address
// p_paddr, its bytes past p_filesz up to p_memsz are zeroed. The guest starts
// in flat long mode with RAM identity-mapped (virtual == physical), so the
// entry point e_entry is checked against the segments' virtual ranges and
// translated to the physical address it was loaded at, as QEMU's ELF loader
// does; for the usual image linked with p_vaddr == p_paddr that is e_entry.
//
// Everything is checked with overflow-safe arithmetic on bounded reads, so
// that a hostile file produces a one-line error and never a crash. The two
// steps are separate so that the file can be judged before RAM exists:
//   ParseElf()  -- the file alone: header, program headers, segment ranges,
//                  entry point;
//   PlaceElf()  -- where it goes: every segment below `limit` (the start of
//                  the region at the top of RAM the board reserves), copied.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xlat {

class GuestRam;

struct ElfSegment {
  unsigned index = 0;  // program header number, for messages
  uint64_t paddr = 0;  // guest physical load address
  uint64_t vaddr = 0;
  uint64_t file_offset = 0;
  uint64_t file_size = 0;
  uint64_t mem_size = 0;  // >= file_size, > 0
  bool executable = false;
};

struct ElfImage {
  uint64_t entry = 0;                 // guest physical address of the first instruction
  std::vector<ElfSegment> segments;   // PT_LOAD with p_memsz > 0, sorted by paddr, disjoint
};

// Reads at most max_bytes of the file at `path`. False with *error ("cannot
// open: ...", "file too large ...") otherwise; the message does not name the file.
bool ReadFileBounded(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* out, std::string* error);

// Validates an ELF file held in memory. False with a one-line *error (not
// naming the file) on the first problem.
bool ParseElf(std::span<const uint8_t> file, ElfImage* image, std::string* error);

// Copies the segments of a parsed image into `ram` (guest physical address 0
// at ram[0]). Every segment must end at or below `limit` (clamped to the RAM
// size). False with *error, and RAM untouched, if one does not.
bool PlaceElf(std::span<const uint8_t> file, const ElfImage& image, std::span<uint8_t> ram, uint64_t limit,
              std::string* error);
bool PlaceElf(std::span<const uint8_t> file, const ElfImage& image, GuestRam& ram, uint64_t limit,
              std::string* error);

}  // namespace xlat
