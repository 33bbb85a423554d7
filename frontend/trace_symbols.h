// Names for guest addresses in trace dumps (-d), -dfilter and --perf-map.
//
// An ELF guest names its code with its own .symtab. A Linux guest's names
// come from --symbols FILE or the kernel's kallsyms tables, at the addresses
// KASLR put the kernel (frontend/kernel_symbols.h): that offset is learned
// when the kernel reaches its first instruction, by the gdb stub when there
// is one, or else by RunFindingKernelSymbols() below, which does the same
// search with breakpoints on the vCPU and nothing else. Until then, and for
// addresses no symbol covers, names are empty.
//
// Only prepared when something asks for names: uncompressing the kernel to
// read its tables takes about a second.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>

#include "cpu/vcpu.h"
#include "frontend/kallsyms.h"
#include "frontend/kernel_symbols.h"

namespace xlat {

class TraceSymbols {
 public:
  // An ELF guest: its .symtab (none is fine: then there are no names).
  static std::unique_ptr<TraceSymbols> ForElf(std::span<const uint8_t> elf_file);
  // A Linux bzImage, with --symbols FILE (may be empty). Null with *error
  // only when --symbols names a file that cannot be used.
  static std::unique_ptr<TraceSymbols> ForLinux(std::span<const uint8_t> bzimage, const std::string& symbols_path,
                                                std::string* error);

  // "name+0xoff" or "".
  std::string Describe(uint64_t va) const;
  // The address of a symbol, for -dfilter; false if unknown (yet).
  bool Lookup(const std::string& name, uint64_t* va) const;
  bool ready() const;

  // ---- Linux: finding the kernel's run-time addresses without gdb ----
  // The boot loader placed the kernel: breakpoints go where it may start.
  void OnKernelLoaded(Vcpu& vcpu, uint64_t ram_bytes);
  GuestKernelSymbols* kernel() { return kernel_.get(); }

 private:
  friend RunOutcome RunFindingKernelSymbols(Vcpu& vcpu, TraceSymbols& symbols,
                                            const std::function<RunOutcome()>& run_guest,
                                            const std::function<void()>& on_ready);
  void ApplyBreakpoints(Vcpu& vcpu);

  SymbolTable elf_;                            // an ELF guest's
  std::unique_ptr<GuestKernelSymbols> kernel_;  // a Linux guest's
  std::set<uint64_t> applied_;                 // entry breakpoints set on the vCPU
};

// Runs the guest (run_guest, e.g. PcBoard::Run) until it ends; the kernel
// entry breakpoints it stops at are consumed here, and on_ready() is called
// once the symbols are at their run-time addresses.
RunOutcome RunFindingKernelSymbols(Vcpu& vcpu, TraceSymbols& symbols, const std::function<RunOutcome()>& run_guest,
                                   const std::function<void()>& on_ready);

}  // namespace xlat
