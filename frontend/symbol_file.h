// The guest kernel's symbols as an ELF file gdb loads (symbol-file, or
// automatically through qXfer:exec-file:read).
//
// What gdb needs for `break start_kernel` with no debug information: a
// minimal symbol of a text kind. gdb (elfread.c) takes a symbol's kind from
// the flags of its *section*: in an executable section it is a function
// (mst_text, or mst_file_text when local), in another allocated one data or
// bss; an absolute symbol (SHN_ABS) is mst_abs, which `break` refuses as
// "not a function". So the file has sections at the guest kernel's run-time
// addresses -- SHT_NOBITS, so that the file stays small and gdb reads the
// bytes from the target -- and every symbol in the section that holds it:
//
//   ELF header (ET_EXEC, EM_X86_64, entry = the kernel's entry)
//   [1..k]  the kernel's sections (.text, .rodata, .data, .init.text, .bss,
//           ...) as SHT_NOBITS with their flags (or, without the image's
//           section headers, one section per run of text or data symbols)
//   .symtab (locals first, as ELF wants), .strtab, .shstrtab
//
// Absolute symbols (per-CPU offsets from 0) are left out: as addresses they
// would name every small number.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "frontend/kallsyms.h"

namespace xlat {

struct SymbolFileSection {
  std::string name;
  uint64_t address = 0;
  uint64_t size = 0;
  bool code = false;
  bool writable = false;
};

// Sections made from the symbols themselves: each maximal run of text
// symbols, or of other symbols, in address order, becomes one section up to
// where the next run starts (the last ends with its last symbol's size).
std::vector<SymbolFileSection> SectionsFromSymbols(const SymbolTable& symbols);

// The ELF file's bytes.
std::vector<uint8_t> BuildSymbolFile(const SymbolTable& symbols, std::span<const SymbolFileSection> sections,
                                     uint64_t entry);

// Writes it to `path` (created or replaced). False with *error.
bool WriteSymbolFile(const std::string& path, const SymbolTable& symbols,
                     std::span<const SymbolFileSection> sections, uint64_t entry, std::string* error);

}  // namespace xlat
