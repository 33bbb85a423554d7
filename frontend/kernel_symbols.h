// The guest kernel's symbols at the addresses the kernel really runs at.
//
// Where the names come from, in order of preference:
//   1. --symbols FILE: a System.map or a vmlinux with .symtab (link-time
//      addresses);
//   2. the kernel's own kallsyms tables, read on the host from the bzImage's
//      compressed kernel (uncompressed with liblzma: kernel_image.h);
//   3. the kallsyms tables in guest memory, once the kernel runs (for a
//      kernel this host cannot uncompress).
//
// When they are known: the Debian kernel is built with KASLR, so the
// decompressor picks a random physical and virtual base, relocates the
// kernel, and jumps to its first instruction (startup_64, at the physical
// load address, through an identity map). Link-time addresses are therefore
// wrong until that moment, and from then on off by one constant: the virtual
// offset. To learn it before the kernel runs a single instruction of its own,
// breakpoints are put on every address the kernel can be placed at
// (kernel_alignment multiples from LOAD_PHYSICAL_ADDR to the end of RAM with
// room for the kernel: 220 of them for Debian's with 512 MiB; setting or
// removing them all costs about 50 ms of retranslation); on a hit whose
// bytes are the kernel's first bytes, the relocated copy of
// kallsyms_relative_base (= _text) in guest RAM gives the offset (or,
// without kallsyms tables, the pointers the relocation changed). The breakpoints then go, the symbols are moved by the offset and
// written as an ELF file for gdb (symbol_file.h). From then on too, the
// kernel image can be read by its run-time virtual addresses from guest
// physical RAM, which lets gdb read start_kernel's code before the kernel's
// own page tables map it.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "frontend/kallsyms.h"
#include "frontend/kernel_image.h"
#include "frontend/symbol_file.h"

namespace xlat {

class Vcpu;
class GuestRam;

class GuestKernelSymbols {
 public:
  // From the -kernel file (a bzImage) and --symbols (may be empty). Only a
  // --symbols file that cannot be used is an error; a kernel whose symbols
  // cannot be found this way gives an object whose note() says why (they may
  // still be found in guest memory later).
  static std::unique_ptr<GuestKernelSymbols> Prepare(std::span<const uint8_t> kernel_file,
                                                     const std::string& symbols_path, std::string* error);
  ~GuestKernelSymbols();

  // Why there are no link-time symbols (empty when there are).
  const std::string& note() const { return note_; }

  // ---- Finding where the kernel runs ----
  // The kernel was (re)loaded into a machine with `ram_bytes` of RAM: forget
  // the last run-time addresses and search for the entry again.
  void OnKernelLoaded(uint64_t ram_bytes);
  // Guest virtual addresses that must carry a breakpoint while the search
  // goes on (empty when it does not).
  const std::set<uint64_t>& entry_breakpoints() const { return entry_breakpoints_; }
  bool searching() const { return !entry_breakpoints_.empty(); }
  // The vCPU stopped on one of them. True when it is the kernel's entry: the
  // run-time symbols are now known (ready()) and the search is over; a line
  // for the user is in *message. False: something else ran there; run on.
  bool OnEntryBreakpoint(Vcpu& vcpu, std::string* message);
  // The search found nothing in too long: give up (symbols may still be
  // found in guest memory).
  void StopSearching() { entry_breakpoints_.clear(); }

  // Reads the kallsyms tables from the running kernel (the kernel's text must
  // be mapped): for when the search was not possible. True when ready().
  bool FindInGuestMemory(Vcpu& vcpu, std::string* message);

  // ---- Once known ----
  bool ready() const { return ready_; }
  const SymbolTable& symbols() const { return runtime_; }
  uint64_t kaslr_offset() const { return delta_; }
  // The symbol file for gdb: its path once written (empty before).
  const std::string& symbol_file() const { return symbol_file_; }
  // Reads the kernel image by run-time virtual address from guest RAM (the
  // kernel never moves once placed). False outside the image or before ready().
  bool ReadImage(const GuestRam& ram, uint64_t va, void* out, size_t n) const;

 private:
  GuestKernelSymbols() = default;
  bool BecomeReady(uint64_t delta, uint64_t text, std::string* message);

  std::string note_;
  std::unique_ptr<VmlinuxImage> image_;  // the uncompressed kernel (bytes dropped once symbols are out)
  SymbolTable link_;                     // link-time addresses
  bool have_link_kallsyms_ = false;
  uint64_t link_relative_base_at_ = 0;   // link VA of kallsyms_relative_base
  uint64_t link_relative_base_ = 0;      // its value in the image (link-time _text)
  uint64_t link_text_ = 0;               // _text: the entry segment's vaddr
  uint64_t link_entry_va_ = 0;           // startup_64's link VA
  uint64_t image_end_va_ = 0;            // end of the kernel's segments (link VA)
  std::vector<uint8_t> entry_bytes_;     // startup_64's first bytes
  // Pointers into the kernel (link VA of a quad, its unrelocated value): the
  // relocation moves each by the virtual offset.
  std::vector<std::pair<uint64_t, uint64_t>> relocated_quads_;
  std::vector<SymbolFileSection> link_sections_;
  uint64_t alignment_ = 2 << 20;         // kernel_alignment (CONFIG_PHYSICAL_ALIGN)

  std::set<uint64_t> entry_breakpoints_;
  uint64_t false_entries_ = 0;

  bool ready_ = false;
  uint64_t delta_ = 0;
  uint64_t entry_pa_ = 0;  // where startup_64 was placed
  SymbolTable runtime_;
  std::string dir_;        // temporary directory of the symbol file
  std::string symbol_file_;
};

}  // namespace xlat
