#include "devices/ioapic.h"

#include <utility>

#include "devices/mmio_bus.h"

namespace xlat {

namespace {

// MMIO offsets.
constexpr uint64_t kRegSelect = 0x00, kWindow = 0x10, kEoi = 0x40;
// Indirect registers.
constexpr uint8_t kRegId = 0x00, kRegVersion = 0x01, kRegArbitration = 0x02, kRegRedirection = 0x10;
// Version 0x20 (has the EOI register), highest redirection entry 23.
constexpr uint32_t kVersion = 0x20 | ((IoApic::kPins - 1) << 16);

// Redirection entry bits.
constexpr uint64_t kDeliveryStatus = 1ull << 12, kRemoteIrr = 1ull << 14, kLevel = 1ull << 15, kMasked = 1ull << 16;
constexpr uint64_t kLogical = 1ull << 11;
constexpr uint64_t kReadOnly = kDeliveryStatus | kRemoteIrr;

template <size_t... I>
std::array<FunctionIrqLine, IoApic::kPins> MakeInputs(IoApic* ioapic, std::index_sequence<I...>) {
  return {FunctionIrqLine([ioapic](bool level) { ioapic->SetPin(I, level); })...};
}

}  // namespace

IoApic::IoApic(DeliverFn deliver, uint8_t id)
    : deliver_(std::move(deliver)), inputs_(MakeInputs(this, std::make_index_sequence<kPins>())), initial_id_(id) {
  Reset();
}

void IoApic::Reset() {
  id_ = initial_id_;
  regsel_ = 0;
  rte_.fill(kMasked);
  irr_ = 0;  // line levels are the devices' and survive
}

void IoApic::Register(MmioBus& mmio, uint64_t base) {
  mmio.Register(
      "ioapic", base, kMmioSize, [this](uint64_t offset, unsigned) -> uint64_t { return ReadMmio(offset); },
      [this](uint64_t offset, unsigned, uint64_t value) { WriteMmio(offset, static_cast<uint32_t>(value)); });
}

uint32_t IoApic::ReadMmio(uint64_t offset) {
  switch (offset) {
    case kRegSelect: return regsel_;
    case kWindow: return ReadRegister(regsel_);
    default: return 0;
  }
}

void IoApic::WriteMmio(uint64_t offset, uint32_t value) {
  switch (offset) {
    case kRegSelect:
      regsel_ = static_cast<uint8_t>(value);
      break;
    case kWindow:
      WriteRegister(regsel_, value);
      break;
    case kEoi:
      Eoi(static_cast<uint8_t>(value));
      break;
    default:
      break;
  }
}

uint32_t IoApic::ReadRegister(uint8_t index) const {
  switch (index) {
    case kRegId:
    case kRegArbitration:
      return static_cast<uint32_t>(id_) << 24;
    case kRegVersion:
      return kVersion;
    default:
      break;
  }
  if (index >= kRegRedirection && index < kRegRedirection + 2 * kPins) {
    const uint64_t rte = rte_[(index - kRegRedirection) / 2];
    return (index & 1) ? static_cast<uint32_t>(rte >> 32) : static_cast<uint32_t>(rte);
  }
  return 0;
}

void IoApic::WriteRegister(uint8_t index, uint32_t value) {
  if (index == kRegId) {
    id_ = (value >> 24) & 0xf;
    return;
  }
  if (index < kRegRedirection || index >= kRegRedirection + 2 * kPins) return;
  const unsigned pin = (index - kRegRedirection) / 2;
  uint64_t& rte = rte_[pin];
  if (index & 1) {
    rte = (rte & 0xffffffffull) | (static_cast<uint64_t>(value) << 32);
  } else {
    rte = (rte & ~0xffffffffull) | (value & ~kReadOnly) | (rte & kReadOnly);
    // An edge entry has no remote IRR (Linux clears a stuck one this way on
    // I/O APICs without the EOI register).
    if (!(rte & kLevel)) rte &= ~kRemoteIrr;
    // A level entry follows its line from now on.
    if (rte & kLevel) {
      if (line_level_ & (1u << pin)) irr_ |= 1u << pin;
      else irr_ &= ~(1u << pin);
    }
  }
  Service();
}

void IoApic::SetPin(unsigned pin, bool level) {
  if (pin >= kPins) return;
  const uint32_t bit = 1u << pin;
  const bool was = line_level_ & bit;
  if (level) line_level_ |= bit;
  else line_level_ &= ~bit;
  const uint64_t rte = rte_[pin];
  if (rte & kLevel) {
    if (level) irr_ |= bit;
    else irr_ &= ~bit;
  } else if (level && !was && !(rte & kMasked)) {
    irr_ |= bit;  // a rising edge; lost if masked
  }
  Service();
}

void IoApic::Eoi(uint8_t vector) {
  bool cleared = false;
  for (uint64_t& rte : rte_) {
    if ((rte & 0xff) == vector && (rte & kRemoteIrr)) {
      rte &= ~kRemoteIrr;
      cleared = true;
    }
  }
  if (cleared) Service();
}

void IoApic::Service() {
  for (unsigned pin = 0; pin < kPins; pin++) {
    const uint32_t bit = 1u << pin;
    uint64_t& rte = rte_[pin];
    if (!(irr_ & bit) || (rte & kMasked)) continue;
    const bool level = rte & kLevel;
    if (level && (rte & kRemoteIrr)) continue;  // waiting for the EOI
    ApicMessage m;
    m.vector = static_cast<uint8_t>(rte);
    m.mode = static_cast<ApicMessage::Mode>((rte >> 8) & 7);
    m.logical = rte & kLogical;
    m.level = level;
    m.destination = static_cast<uint32_t>(rte >> 56);
    if (!m.logical && m.destination == 0xff) m.destination = 0xffffffff;  // physical broadcast
    if (!level) irr_ &= ~bit;
    const bool accepted = deliver_(m);
    // An accepted level-triggered fixed or lowest-priority interrupt waits
    // for its EOI (as KVM: a message nobody took does not wedge the pin).
    if (level && accepted &&
        (m.mode == ApicMessage::Mode::kFixed || m.mode == ApicMessage::Mode::kLowestPriority))
      rte |= kRemoteIrr;
  }
}

}  // namespace xlat
