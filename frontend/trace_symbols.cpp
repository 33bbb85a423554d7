#include "frontend/trace_symbols.h"

#include <cstdio>

namespace xlat {

std::unique_ptr<TraceSymbols> TraceSymbols::ForElf(std::span<const uint8_t> elf_file) {
  auto t = std::make_unique<TraceSymbols>();
  std::string ignored;
  if (ParseElfSymbols(elf_file, &t->elf_, &ignored)) t->elf_.Finish();
  return t;
}

std::unique_ptr<TraceSymbols> TraceSymbols::ForLinux(std::span<const uint8_t> bzimage, const std::string& symbols_path,
                                                     std::string* error) {
  auto t = std::make_unique<TraceSymbols>();
  t->kernel_ = GuestKernelSymbols::Prepare(bzimage, symbols_path, error);
  if (!t->kernel_) return nullptr;
  if (!t->kernel_->note().empty())
    std::fprintf(stderr, "xlat: warning: no guest kernel symbols for traces: %s\n", t->kernel_->note().c_str());
  return t;
}

bool TraceSymbols::ready() const { return kernel_ ? kernel_->ready() : !elf_.empty(); }

std::string TraceSymbols::Describe(uint64_t va) const {
  if (kernel_) return kernel_->ready() ? kernel_->symbols().Describe(va) : std::string();
  return elf_.Describe(va);
}

bool TraceSymbols::Lookup(const std::string& name, uint64_t* va) const {
  const SymbolTable* table = kernel_ ? (kernel_->ready() ? &kernel_->symbols() : nullptr) : &elf_;
  const KernelSymbol* s = table ? table->FindByName(name) : nullptr;
  if (!s) return false;
  *va = s->address;
  return true;
}

void TraceSymbols::ApplyBreakpoints(Vcpu& vcpu) {
  const std::set<uint64_t>& want = kernel_ ? kernel_->entry_breakpoints() : std::set<uint64_t>();
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    vcpu.SetBreakpoint(*it, false);
    it = applied_.erase(it);
  }
  for (uint64_t a : want)
    if (applied_.insert(a).second) vcpu.SetBreakpoint(a, true);
}

void TraceSymbols::OnKernelLoaded(Vcpu& vcpu, uint64_t ram_bytes) {
  if (!kernel_) return;
  kernel_->OnKernelLoaded(ram_bytes);
  ApplyBreakpoints(vcpu);
}

RunOutcome RunFindingKernelSymbols(Vcpu& vcpu, TraceSymbols& symbols, const std::function<RunOutcome()>& run_guest,
                                   const std::function<void()>& on_ready) {
  for (;;) {
    RunOutcome out = run_guest();
    GuestKernelSymbols* k = symbols.kernel();
    const bool entry_stop = out.kind == RunOutcome::Kind::kDebugStop &&
                            out.debug_reason == RunOutcome::DebugReason::kBreakpoint && k &&
                            symbols.applied_.count(vcpu.ctx().rip);
    if (!entry_stop) {
      symbols.applied_.clear();
      if (k) k->StopSearching();
      return out;
    }
    std::string message;
    if (k->OnEntryBreakpoint(vcpu, &message)) {
      symbols.ApplyBreakpoints(vcpu);  // the search is over: all of them go
      if (!message.empty()) std::fprintf(stderr, "xlat: %s\n", message.c_str());
      on_ready();
    }
  }
}

}  // namespace xlat
