#include "devices/board.h"

#include <cstdio>

#include "cpu/trace.h"
#include "devices/debug_console.h"
#include "devices/debug_exit.h"
#include "mmu/page_table_builder.h"

namespace xlat {

std::unique_ptr<Board> Board::Create(const BoardConfig& config, std::string* error) {
  std::unique_ptr<Board> b(new Board());
  b->ram_ = GuestRam::Create(config.ram_bytes, error);
  if (!b->ram_) return nullptr;
  VcpuConfig vc;
  vc.code_cache_bytes = config.code_cache_bytes;
  vc.shadow_spaces = config.shadow_spaces;
  vc.count_guest_insns = config.count_guest_insns;
  vc.precise_fault_flags = config.precise_fault_flags;
  vc.trace_threshold = config.trace_threshold;
  b->vcpu_ = std::make_unique<Vcpu>(*b->ram_, b->ports_, b->stats_, vc);
  if (!b->vcpu_->Init(error)) return nullptr;
  auto out = config.serial_out ? config.serial_out : [](uint8_t c) { std::fputc(c, stdout); };
  RegisterDebugConsole(b->ports_, std::move(out));
  Vcpu* vcpu = b->vcpu_.get();
  RegisterDebugExit(b->ports_, [vcpu](int status) { vcpu->RequestExit(status); });
  return b;
}

Board::~Board() = default;

uint64_t Board::flat_tables_base() const {
  // The page tables, then one page for the GDT.
  return (ram_->size() - PageTableBuilder::IdentityTableBytes(ram_->size()) - 4096) & ~0xfffull;
}

bool Board::SetupFlatLongMode(uint64_t entry, std::string* error) {
  const uint64_t base = flat_tables_base();
  const uint64_t gdt_pa = ram_->size() - 4096;
  PageTableBuilder pt(*ram_, base, gdt_pa - base);
  uint64_t bytes = (ram_->size() + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  if (!pt.Map(0, 0, bytes, kPteWrite, 2ull << 20, error)) return false;
  vcpu_->ResetToLongMode(entry, pt.cr3());
  // A GDT behind the selectors the CPU starts with, as the Linux boot
  // protocol's: 0x10 = 64-bit code, 0x18 = data, both DPL 0 (entry 1 is an
  // unused null-like slot).
  const uint64_t gdt[4] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
  ram_->Write(GuestPhysAddr(gdt_pa), std::span(reinterpret_cast<const uint8_t*>(gdt), sizeof gdt));
  vcpu_->ctx().gdtr_base = gdt_pa;
  vcpu_->ctx().gdtr_limit = sizeof gdt - 1;
  return true;
}

RunOutcome Board::Run() {
  if (!started_ && TraceOn(kLogCpuReset)) Tracer::Get().Printf("cpu_reset: power on\n%s", vcpu_->DumpRegisters().c_str());
  started_ = true;
  return vcpu_->Run();
}

}  // namespace xlat
