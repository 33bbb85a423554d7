// Guest kernel symbols: a sorted table {address, size, type, name}, filled
// from a System.map, an ELF vmlinux's .symtab, or the kernel's own kallsyms
// tables found in its memory (or in its uncompressed image).
//
// Why kallsyms: Debian ships a placeholder System.map (the real one is in an
// 858 MB -dbg package), but every Debian kernel is built with
// CONFIG_KALLSYMS_ALL, so its .rodata holds every text and data symbol,
// compressed. scripts/kallsyms.c writes (Linux 4.6 to 6.1; 6.4 moved tables):
//
//   kallsyms_offsets       s32[num_syms]   (CONFIG_KALLSYMS_BASE_RELATIVE)
//   kallsyms_relative_base u64             (_text, relocated with the kernel)
//   kallsyms_num_syms      u32
//   kallsyms_names         num_syms entries: a length byte (0x80 set: a second
//                          byte holds length >> 7, since 6.1), then that many
//                          token numbers; the first character of the expanded
//                          name is nm's type letter
//   kallsyms_markers       u32[(num_syms + 255) / 256]: offset in names of
//                          every 256th entry
//   kallsyms_token_table   256 NUL-terminated strings; a character that
//                          appears in some symbol is its own token
//   kallsyms_token_index   u16[256]: offset of each token in the table
//
// each table label aligned to 8 bytes. With CONFIG_KALLSYMS_ABSOLUTE_PERCPU
// (x86-64 SMP) an offset >= 0 is an absolute address (per-CPU variables, from
// 0) and a negative one means relative_base - 1 - offset; without it, every
// address is relative_base + (u32)offset. Since 6.4 the order is num_syms,
// names, markers, token_table, token_index, offsets, relative_base; both are
// handled (6.2 and 6.3 put kallsyms_seqs_of_names before the token table:
// not handled).
//
// Finding them: the token table holds the digits as their own tokens, in
// order ("0\0" "1\0" ... "9\0", 20 bytes that almost never occur elsewhere);
// the token index after it must describe exactly that table; the markers
// end just before it, strictly increasing from 0; kallsyms_num_syms sits
// before the names, which must walk to the markers' start with every 256th
// entry where the markers say. Nothing is assumed that these checks do not
// confirm.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xlat {

struct KernelSymbol {
  uint64_t address = 0;
  uint64_t size = 0;  // up to the next symbol at a higher address (0: unknown)
  char type = '?';    // nm's letter: T/t text, D/d data, B/b bss, R/r rodata, W/w V/v weak, A/a absolute
  std::string name;
  bool IsAbsolute() const { return type == 'A' || type == 'a'; }
  bool IsText() const { return type == 'T' || type == 't' || type == 'W' || type == 'w'; }
  bool IsGlobal() const { return type >= 'A' && type <= 'Z'; }
};

class SymbolTable {
 public:
  void Add(uint64_t address, char type, std::string name);
  // Sorts by address (stable: equal addresses keep their order) and fills
  // the sizes: call after the last Add().
  void Finish();

  size_t size() const { return syms_.size(); }
  bool empty() const { return syms_.empty(); }
  const std::vector<KernelSymbol>& symbols() const { return syms_; }

  // The lowest-addressed symbol of that name, or nullptr.
  const KernelSymbol* FindByName(std::string_view name) const;
  // The symbol whose extent covers `address` (absolute ones never do), and
  // the offset into it; nullptr if none does.
  const KernelSymbol* FindByAddress(uint64_t address, uint64_t* offset = nullptr) const;
  // "name+0xoff" ("name" at offset 0), or "" when no symbol covers it.
  std::string Describe(uint64_t address) const;
  // A copy with every symbol that is not absolute moved by `delta` (KASLR).
  SymbolTable Relocated(uint64_t delta) const;

 private:
  std::vector<KernelSymbol> syms_;
  std::vector<uint32_t> by_name_;  // indices sorted by (name, address)
};

// Reads guest (or image) memory by virtual address; false if any of it is unreadable.
using MemoryReader = std::function<bool(uint64_t va, void* out, size_t n)>;

// Where the tables are (virtual addresses) and what they say.
struct KallsymsTables {
  uint64_t offsets = 0;
  uint64_t relative_base_at = 0;
  uint64_t relative_base = 0;  // its value: the address of _text
  uint64_t num_syms_at = 0;
  uint32_t num_syms = 0;
  uint64_t names = 0;
  uint64_t markers = 0;
  uint64_t token_table = 0;
  uint64_t token_index = 0;
  bool absolute_percpu = false;
};

// Searches [begin, end) for the tables (unreadable pages are skipped).
// False with *error when they are not there.
bool FindKallsyms(const MemoryReader& read, uint64_t begin, uint64_t end, KallsymsTables* tables,
                  std::string* error);
// Expands every symbol. False with *error when the tables do not decode.
bool DecodeKallsyms(const MemoryReader& read, const KallsymsTables& tables, SymbolTable* out, std::string* error);

// "ffffffff81000000 T _text" lines (nm -n / System.map). Debian's placeholder
// System.map is recognized and refused with a message that says where the
// real one is.
bool ParseSystemMap(std::string_view text, SymbolTable* out, std::string* error);
// The .symtab of an ELF64 file (a vmlinux with symbols).
bool ParseElfSymbols(std::span<const uint8_t> file, SymbolTable* out, std::string* error);
// Either of the two, by looking at the file.
bool ParseSymbolFile(std::span<const uint8_t> file, SymbolTable* out, std::string* error);

}  // namespace xlat
