// Runs sequences in an xlat guest: one Board for the whole test, page tables
// built once (the same virtual layout as the native run, data pages mapped
// to shuffled physical pages), and per sequence: code and data written into
// guest RAM, registers and XSAVE image loaded into the vCPU context,
// translations flushed, Run() until the guest's hlt (or an exception).
#include <cstring>

#include "cpu/vcpu.h"
#include "devices/board.h"
#include "mmu/guest_ram.h"
#include "mmu/page_table_builder.h"
#include "tests/difftest/guest_runner.h"
#include "tests/difftest/layout.h"

namespace difftest {

namespace {

constexpr uint64_t kEferNxe = 1ull << 11;

class XlatRunner final : public GuestRunner {
 public:
  bool Init(std::string* error, bool precise_flags) {
    xlat::BoardConfig cfg;
    cfg.ram_bytes = kGuestRamBytes;
    cfg.precise_fault_flags = precise_flags;
    cfg.serial_out = [](uint8_t) {};
    board_ = xlat::Board::Create(cfg, error);
    if (!board_) return false;
    xlat::PageTableBuilder pt(board_->ram(), kPageTablePoolPa, kPageTablePoolBytes);
    auto map_area = [&](uint64_t va, uint64_t pa, uint64_t bytes, uint64_t flags) {
      const uint64_t n = bytes / kPage;
      for (uint64_t i = 0; i < n; i++) {
        if (!pt.Map(va + i * kPage, pa + PhysPageIndex(i, n) * kPage, kPage, flags, kPage, error)) return false;
      }
      return true;
    };
    if (!map_area(kCodeVa, kCodePa, kCodeBytes, 0)) return false;  // read-only, executable
    if (!map_area(kDataVa, kDataPa, kDataBytes, xlat::kPteWrite | xlat::kPteNx)) return false;
    if (!map_area(kLowVa, kLowPa, kLowBytes, xlat::kPteWrite | xlat::kPteNx)) return false;
    cr3_ = pt.cr3();
    code_image_.assign(kCodeBytes, 0xcc);
    return true;
  }

  bool Run(const Sequence& s, CpuState* out, std::vector<uint8_t>* data, std::vector<uint8_t>* low,
           std::string* note) override {
    xlat::GuestRam& ram = board_->ram();
    // Code: the same bytes as natively, but hlt as the terminator.
    std::fill(code_image_.begin(), code_image_.end(), 0xcc);
    std::memcpy(&code_image_[s.entry - kCodeVa], s.code.data(), s.code.size());
    code_image_[s.end - kCodeVa] = 0xf4;  // hlt
    if (!s.pool.empty()) std::memcpy(&code_image_[kPoolVa - kCodeVa], s.pool.data(), s.pool.size());
    WriteArea(ram, kCodePa, code_image_.data(), kCodeBytes);
    WriteArea(ram, kDataPa, s.data.data(), kDataBytes);
    WriteArea(ram, kLowPa, s.low.data(), kLowBytes);

    xlat::Vcpu& v = board_->vcpu();
    v.ResetToLongMode(s.entry, cr3_);
    v.ctx().efer |= kEferNxe;
    for (int i = 0; i < 16; i++) v.ctx().gpr[i] = s.init.gpr[i];
    v.ctx().rflags = (s.init.rflags & kComparedFlags) | 0x2;
    std::memcpy(v.ctx().xsave_area, s.init.xsave, xlat::kGuestXsaveBytes);
    v.FlushTranslations();

    const xlat::RunOutcome o = v.Run();

    out->Clear();
    for (int i = 0; i < 16; i++) out->gpr[i] = v.ctx().gpr[i];
    out->rip = v.ctx().rip;
    out->rflags = v.ctx().rflags;
    std::memcpy(out->xsave, v.ctx().xsave_area, xlat::kGuestXsaveBytes);
    NormalizeXsave(out->xsave);
    data->resize(kDataBytes);
    low->resize(kLowBytes);
    ReadArea(ram, kDataPa, data->data(), kDataBytes);
    ReadArea(ram, kLowPa, low->data(), kLowBytes);

    switch (o.kind) {
      case xlat::RunOutcome::Kind::kHalted:
        out->vector = kNoFault;
        return true;
      case xlat::RunOutcome::Kind::kFatalException:
        out->vector = static_cast<int>(v.ctx().exc_vector);
        out->error_code = v.ctx().exc_error_code;
        out->fault_addr = v.ctx().exc_cr2;
        return true;
      case xlat::RunOutcome::Kind::kDebugExit:
        *note = "debug exit (status " + std::to_string(o.exit_status) + ")";
        break;
      case xlat::RunOutcome::Kind::kStopped:
        *note = "stopped (watchdog: the guest did not reach its hlt in time)";
        break;
      case xlat::RunOutcome::Kind::kError:
        *note = "VMM error";
        break;
    }
    if (!o.message.empty()) *note += ": " + o.message;
    out->vector = -2;
    return false;
  }

  void RequestStop() override {
    if (board_) board_->vcpu().RequestStop();
  }

 private:
  // Areas are scattered page by page (PhysPageIndex).
  static void WriteArea(xlat::GuestRam& ram, uint64_t pa, const uint8_t* src, uint64_t bytes) {
    const uint64_t n = bytes / kPage;
    for (uint64_t i = 0; i < n; i++)
      std::memcpy(ram.HostPtr(xlat::GuestPhysAddr(pa + PhysPageIndex(i, n) * kPage), kPage), src + i * kPage, kPage);
  }
  static void ReadArea(xlat::GuestRam& ram, uint64_t pa, uint8_t* dst, uint64_t bytes) {
    const uint64_t n = bytes / kPage;
    for (uint64_t i = 0; i < n; i++)
      std::memcpy(dst + i * kPage, ram.HostPtr(xlat::GuestPhysAddr(pa + PhysPageIndex(i, n) * kPage), kPage), kPage);
  }

  std::unique_ptr<xlat::Board> board_;
  uint64_t cr3_ = 0;
  std::vector<uint8_t> code_image_;
};

}  // namespace

std::unique_ptr<GuestRunner> MakeXlatRunner(std::string* error, bool precise_flags) {
  auto r = std::make_unique<XlatRunner>();
  if (!r->Init(error, precise_flags)) return nullptr;
  return r;
}

}  // namespace difftest
