#include "devices/pc_board.h"

#include <unistd.h>

#include <cstring>
#include <string_view>

#include "cpu/trace.h"
#include "devices/acpi_pm.h"
#include "devices/acpi_tables.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/lapic.h"
#include "devices/pc_interrupts.h"
#include "devices/pci_host.h"
#include "devices/pit8254.h"
#include "devices/port80.h"
#include "devices/rtc_cmos.h"
#include "devices/uart16550.h"

namespace xlat {

namespace {

// The ACPI tables live in the BIOS area, where an OS also looks for the RSDP.
constexpr uint64_t kAcpiRegionPa = 0xe0000;
constexpr uint64_t kAcpiRegionBytes = 0x10000;
constexpr uint64_t kIoApicPa = 0xfec00000;
constexpr uint64_t kLapicPa = 0xfee00000;
// Below the I/O APIC the 32-bit PCI window; RAM must end before it.
constexpr uint64_t kMaxPcRam = 0xe0000000;

}  // namespace

std::unique_ptr<PcBoard> PcBoard::Create(const PcConfig& config, std::string* error) {
  if (config.ram_bytes > kMaxPcRam) {
    *error = "the PC machine supports at most 3584 MiB of RAM (-m)";
    return nullptr;
  }
  if (config.ram_bytes < (32ull << 20)) {
    *error = "the PC machine needs at least 32 MiB of RAM (-m) to boot Linux";
    return nullptr;
  }
  std::unique_ptr<PcBoard> b(new PcBoard());
  b->config_ = config;
  b->ram_ = GuestRam::Create(config.ram_bytes, error);
  if (!b->ram_) return nullptr;
  b->clock_ = std::make_unique<Clock>();
  VcpuConfig vc;
  vc.code_cache_bytes = config.code_cache_bytes;
  vc.shadow_spaces = config.shadow_spaces;
  vc.count_guest_insns = config.count_guest_insns;
  vc.precise_fault_flags = config.precise_fault_flags;
  vc.trace_threshold = config.trace_threshold;
  b->vcpu_ = std::make_unique<Vcpu>(*b->ram_, b->ports_, b->stats_, vc);
  if (!b->vcpu_->Init(error)) return nullptr;
  Vcpu* vcpu = b->vcpu_.get();
  PcBoard* board = b.get();
  auto kick = [vcpu] { vcpu->Kick(); };
  b->clock_->SetKick(kick);

  // Interrupt controllers; the guest TSC is the host's plus the vCPU's offset.
  auto guest_tsc = [vcpu] { return __builtin_ia32_rdtsc() + vcpu->ctx().tsc_offset; };
  b->irqs_ = std::make_unique<PcInterruptControllers>(*b->clock_, kick, guest_tsc, HostTscHz());
  b->irqs_->Register(b->ports_, b->mmio_);

  b->pit_ = std::make_unique<Pit8254>(*b->clock_, &b->irqs_->isa_irq(0));
  b->pit_->Register(b->ports_);
  b->rtc_ = std::make_unique<RtcCmos>(*b->clock_, &b->irqs_->isa_irq(8));
  b->rtc_->Register(b->ports_);
  auto sink = config.serial_out ? config.serial_out : [](uint8_t c) { (void)!write(1, &c, 1); };
  auto out = [board, sink](uint8_t c) {
    sink(c);
    board->WatchConsole(c);
  };
  b->uart_ = std::make_unique<Uart16550>(*b->clock_, &b->irqs_->isa_irq(4), std::move(out));
  b->uart_->Register(b->ports_);
  b->uart_->input().SetWaker(kick);
  auto reset = [board, vcpu] {
    board->reset_requested_ = true;
    vcpu->RequestStop();
  };
  b->i8042_ = std::make_unique<I8042>(&b->irqs_->isa_irq(1), &b->irqs_->isa_irq(12), reset);
  b->i8042_->Register(b->ports_);
  b->port80_ = std::make_unique<Port80>();
  b->port80_->Register(b->ports_);
  b->pci_ = std::make_unique<PciHost>();
  b->pci_->Register(b->ports_);
  Clock* clock = b->clock_.get();
  b->acpi_pm_ = std::make_unique<AcpiPm>([clock] { return clock->NowNs(); }, &b->irqs_->isa_irq(kAcpiSciIrq),
                                         [vcpu] { vcpu->RequestPowerOff(); }, reset);
  b->acpi_pm_->Register(b->ports_);
  RegisterDebugExit(b->ports_, [vcpu](int status) { vcpu->RequestExit(status); });

  vcpu->AttachMmio(&b->mmio_);
  vcpu->AttachClock(b->clock_.get());
  vcpu->AttachInterruptSource(&b->irqs_->cpu_source());
  vcpu->AttachMsrDevice(&b->irqs_->msrs());
  Uart16550* uart = b->uart_.get();
  vcpu->SetOnKick([uart] { uart->PollInput(); });
  vcpu->SetOnTripleFault([board] {
    if (TraceOn(kLogCpuReset))
      Tracer::Get().Printf("cpu_reset: triple fault%s\n%s", board->config_.no_reboot ? " (-no-reboot: no reset)" : "",
                           board->vcpu_->DumpRegisters().c_str());
    if (board->config_.no_reboot) return false;
    std::string err;
    return board->Reset(&err);
  });
  vcpu->SetHangTimeout(1000000000);  // a panicked or hung kernel ends the run within a second
  if (!b->BuildFirmwareTables(error)) return nullptr;
  return b;
}

PcBoard::~PcBoard() = default;

void PcBoard::WatchConsole(uint8_t c) {
  // A panicking Linux prints "---[ end Kernel panic - not syncing: <why> ]---"
  // and then spins for ever (or reboots after panic=N): the run ends here.
  //
  // The boot stub that decompresses the kernel reports a failure as
  // "\n\n<why>\n\n -- System halted" and halts with interrupts off, the
  // last line unterminated: a boot that failed, not a halt the user asked for.
  static constexpr std::string_view kStubHalted = " -- System halted";
  if (c == '\r') return;
  if (c != '\n') {
    if (console_line_.size() < 512) console_line_.push_back(static_cast<char>(c));
    if (console_line_ == kStubHalted && !config_.panic_keeps_running)
      vcpu_->RequestPanicExit("guest kernel failed to boot: " +
                              (last_console_line_.empty() ? std::string("the boot stub halted") : last_console_line_));
    return;
  }
  if (!console_line_.empty()) last_console_line_ = console_line_;
  const size_t at = console_line_.find("---[ end Kernel panic - not syncing:");
  if (at != std::string::npos && !config_.panic_keeps_running) {
    std::string why = console_line_.substr(at + 9);  // from "Kernel panic"
    if (why.size() > 5 && why.compare(why.size() - 5, 5, " ]---") == 0) why.resize(why.size() - 5);
    vcpu_->RequestPanicExit("guest " + why);
  }
  console_line_.clear();
}

bool PcBoard::BuildFirmwareTables(std::string* error) {
  AcpiConfig acpi;
  acpi.pm_ports = acpi_pm_->ports();
  auto layout = BuildAcpiTables(*ram_, kAcpiRegionPa, kAcpiRegionBytes, acpi, error);
  if (!layout) return false;
  rsdp_pa_ = layout->rsdp_pa;
  reserved_ = {
      {kAcpiRegionPa, kAcpiRegionBytes, false},  // in the BIOS area: plain reserved
      {kIoApicPa, 0x1000, false},
      {kLapicPa, 0x1000, false},
  };
  return true;
}

bool PcBoard::SetBootLoader(std::function<bool(PcBoard&, std::string*)> loader, std::string* error) {
  loader_ = std::move(loader);
  return loader_(*this, error);
}

bool PcBoard::Reset(std::string* error) {
  ++resets_;
  ram_->Zero();
  irqs_->Reset();
  pit_->Reset();
  rtc_->Reset();
  uart_->Reset();
  i8042_->Reset();
  acpi_pm_->Reset();
  if (!BuildFirmwareTables(error)) return false;
  if (!loader_ || !loader_(*this, error)) return false;
  vcpu_->FlushTranslations();
  return true;
}

RunOutcome PcBoard::Run() {
  if (!started_ && TraceOn(kLogCpuReset))
    Tracer::Get().Printf("cpu_reset: power on\n%s", vcpu_->DumpRegisters().c_str());
  started_ = true;
  for (;;) {
    RunOutcome out = vcpu_->Run();
    if (out.kind == RunOutcome::Kind::kStopped && reset_requested_) {
      reset_requested_ = false;
      if (config_.no_reboot) {
        out.kind = RunOutcome::Kind::kReboot;
        out.message = "the guest reset the machine; -no-reboot: exiting";
        return out;
      }
      if (TraceOn(kLogCpuReset))
        Tracer::Get().Printf("cpu_reset: the guest resets the machine\n%s", vcpu_->DumpRegisters().c_str());
      std::string err;
      if (!Reset(&err)) {
        out.kind = RunOutcome::Kind::kError;
        out.message = "cannot reset the machine: " + err;
        return out;
      }
      continue;
    }
    return out;
  }
}

}  // namespace xlat
