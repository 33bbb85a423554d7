#include "devices/acpi_pm.h"

#include "devices/port_bus.h"

namespace xlat {

namespace {

constexpr uint64_t kNsPerSec = 1'000'000'000;
constexpr uint16_t kStsClearable = AcpiPm::kTmrSts | AcpiPm::kBmSts | AcpiPm::kGblSts | AcpiPm::kPwrbtnSts |
                                   AcpiPm::kSlpbtnSts | AcpiPm::kRtcSts | 0x4000 /* PCIEXP_WAKE */ |
                                   AcpiPm::kWakSts;
// PM1_EN: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN, PCIEXP_WAKE_DIS.
constexpr uint16_t kEnWritable = 0x0001 | 0x0020 | 0x0100 | 0x0200 | 0x0400 | 0x4000;
// Status events that raise the SCI when enabled (the same bit in PM1_EN).
constexpr uint16_t kSciEvents = AcpiPm::kGblSts | AcpiPm::kPwrbtnSts | AcpiPm::kSlpbtnSts | AcpiPm::kRtcSts;
// Reset control register (PIIX 0xcf9).
constexpr uint8_t kRstCpu = 0x04, kResetControlKept = 0x0a;  // SYS_RST, FULL_RST

uint32_t AllOnes(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

// Bytes [offset, offset + size) of a little-endian register block, all-ones
// past its end.
uint32_t ReadBytes(uint64_t block, unsigned block_size, unsigned offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; i++) {
    const unsigned b = offset + i;
    const uint32_t byte = b < block_size ? (block >> (8 * b)) & 0xff : 0xff;
    value |= byte << (8 * i);
  }
  return value;
}

// Which bits of the 16-bit register at `reg` an access of `size` bytes at
// `offset` covers, and the value it brings for them.
struct Covered {
  uint16_t mask = 0, value = 0;
};
Covered Cover(unsigned reg, unsigned offset, unsigned size, uint32_t value) {
  Covered c;
  for (unsigned i = 0; i < size; i++) {
    const unsigned b = offset + i;
    if (b < reg || b >= reg + 2) continue;
    const unsigned shift = 8 * (b - reg);
    c.mask |= static_cast<uint16_t>(0xff << shift);
    c.value |= static_cast<uint16_t>(((value >> (8 * i)) & 0xff) << shift);
  }
  return c;
}

}  // namespace

AcpiPm::AcpiPm(std::function<uint64_t()> now_ns, IrqLine* sci, std::function<void()> poweroff,
               std::function<void()> reset, AcpiPmPorts ports)
    : now_ns_(std::move(now_ns)),
      sci_(sci),
      poweroff_(std::move(poweroff)),
      reset_(std::move(reset)),
      ports_(ports) {
  timer_origin_ns_ = now_ns_();
  Reset();
}

void AcpiPm::Register(PortBus& ports) {
  auto read = [this](uint16_t port, unsigned size) -> uint32_t { return ReadPort(port, size); };
  auto write = [this](uint16_t port, unsigned size, uint32_t value) { WritePort(port, size, value); };
  ports.Register("acpi-pm1-evt", ports_.pm1a_evt, 4, read, write);
  ports.Register("acpi-pm1-cnt", ports_.pm1a_cnt, 2, read, write);
  ports.Register("acpi-pm-tmr", ports_.pm_tmr, 4, read, write);
  ports.Register("reset-control", ports_.reset, 1, read, write);
}

void AcpiPm::Reset() {
  pm1_sts_ = 0;
  pm1_en_ = 0;
  pm1_cnt_ = 0;
  reset_control_ = 0;
  tmr_sts_epoch_ = Ticks() >> 31;
  UpdateSci();
}

uint64_t AcpiPm::Ticks() const {
  const uint64_t now = now_ns_();
  const uint64_t ns = now > timer_origin_ns_ ? now - timer_origin_ns_ : 0;
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ns) * kAcpiPmTimerHz / kNsPerSec);
}

uint32_t AcpiPm::timer() const { return static_cast<uint32_t>(Ticks()); }

uint16_t AcpiPm::pm1_status() const {
  uint16_t status = pm1_sts_;
  if ((Ticks() >> 31) != tmr_sts_epoch_) status |= kTmrSts;
  return status;
}

void AcpiPm::PressPowerButton() {
  pm1_sts_ |= kPwrbtnSts;
  UpdateSci();
}

void AcpiPm::UpdateSci() {
  const bool level = (pm1_sts_ & pm1_en_ & kSciEvents) != 0;  // SCI_EN is always set
  if (level == sci_level_) return;
  sci_level_ = level;
  if (sci_) sci_->Set(level);
}

uint32_t AcpiPm::ReadPort(uint16_t port, unsigned size) {
  if (port >= ports_.pm1a_evt && port < ports_.pm1a_evt + 4) {
    const uint64_t block = pm1_status() | static_cast<uint32_t>(pm1_en_) << 16;
    return ReadBytes(block, 4, port - ports_.pm1a_evt, size);
  }
  if (port >= ports_.pm1a_cnt && port < ports_.pm1a_cnt + 2)
    return ReadBytes(pm1_control(), 2, port - ports_.pm1a_cnt, size);
  if (port >= ports_.pm_tmr && port < ports_.pm_tmr + 4) return ReadBytes(timer(), 4, port - ports_.pm_tmr, size);
  if (port == ports_.reset) return ReadBytes(reset_control_, 1, 0, size);
  return AllOnes(size);
}

void AcpiPm::WritePort(uint16_t port, unsigned size, uint32_t value) {
  if (port >= ports_.pm1a_evt && port < ports_.pm1a_evt + 4) {
    const unsigned offset = port - ports_.pm1a_evt;
    const Covered sts = Cover(0, offset, size, value);
    const Covered en = Cover(2, offset, size, value);
    const uint16_t clear = sts.value & sts.mask & kStsClearable;
    pm1_sts_ &= ~clear;
    if (clear & kTmrSts) tmr_sts_epoch_ = Ticks() >> 31;
    pm1_en_ = static_cast<uint16_t>((pm1_en_ & ~en.mask) | (en.value & en.mask & kEnWritable));
    UpdateSci();
    return;
  }
  if (port >= ports_.pm1a_cnt && port < ports_.pm1a_cnt + 2) {
    const Covered cnt = Cover(0, port - ports_.pm1a_cnt, size, value);
    const uint16_t kept = kBmRld | kSlpTypMask;
    pm1_cnt_ = static_cast<uint16_t>((pm1_cnt_ & ~(cnt.mask & kept)) | (cnt.value & cnt.mask & kept));
    if ((cnt.mask & kSlpEn) && (cnt.value & kSlpEn)) {
      const unsigned slp_typ = (pm1_cnt_ & kSlpTypMask) >> 10;
      if (slp_typ == kAcpiS5SlpTyp && poweroff_) poweroff_();
    }
    return;
  }
  if (port >= ports_.pm_tmr && port < ports_.pm_tmr + 4) return;  // read-only
  if (port == ports_.reset) {
    const uint8_t byte = static_cast<uint8_t>(value);
    reset_control_ = byte & kResetControlKept;
    if ((byte & kRstCpu) && reset_) reset_();
  }
}

}  // namespace xlat
