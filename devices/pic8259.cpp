#include "devices/pic8259.h"

#include <utility>

#include "devices/port_bus.h"

namespace xlat {

namespace {

constexpr unsigned kMaster = 0, kSlave = 1;
constexpr unsigned kCascadeIrq = 2;  // the master input the slave's INT drives

// ICW1 / OCW bits on the command port.
constexpr uint8_t kIcw1 = 0x10, kIcw1NeedIcw4 = 0x01, kIcw1Single = 0x02;
constexpr uint8_t kOcw3 = 0x08, kOcw3Poll = 0x04, kOcw3ReadReg = 0x02, kOcw3ReadIsr = 0x01;
constexpr uint8_t kOcw3SetSpecialMask = 0x40, kOcw3SpecialMaskValue = 0x20;
constexpr uint8_t kIcw4AutoEoi = 0x02, kIcw4SpecialFullyNested = 0x10;

template <size_t... I>
std::array<FunctionIrqLine, 16> MakeInputs(Pic8259* pic, std::index_sequence<I...>) {
  return {FunctionIrqLine([pic](bool level) { pic->SetIrq(I, level); })...};
}

}  // namespace

Pic8259::Pic8259(IrqLine* output) : inputs_(MakeInputs(this, std::make_index_sequence<16>())), output_(output) {
  // Which ELCR bits exist: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge.
  chips_[kMaster].elcr_mask = 0xf8;
  chips_[kSlave].elcr_mask = 0xde;
  Reset();
}

void Pic8259::SetOutput(IrqLine* output) {
  output_ = output;
  if (output_) output_->Set(output_level_);
}

void Pic8259::Reset() {
  // Pin levels are the devices' business and survive a reset.
  for (Chip& c : chips_) {
    const Chip old = c;
    c = Chip{};
    c.elcr_mask = old.elcr_mask;
    c.line_level = old.line_level;
  }
  UpdateIrq();
}

void Pic8259::Register(PortBus& ports) {
  auto read = [this](uint16_t port, unsigned) -> uint32_t { return ReadPort(port); };
  auto write = [this](uint16_t port, unsigned, uint32_t value) { WritePort(port, static_cast<uint8_t>(value)); };
  ports.Register("pic-master", 0x20, 2, read, write);
  ports.Register("pic-slave", 0xa0, 2, read, write);
  ports.Register("pic-elcr", 0x4d0, 2, read, write);
}

int Pic8259::HighestPriority(const Chip& c, uint8_t bits) {
  // Priority order starts just after the lowest-priority IR.
  for (int i = 0; i < 8; i++) {
    int irq = (c.lowest_priority + 1 + i) & 7;
    if (bits & (1u << irq)) return irq;
  }
  return 8;
}

int Pic8259::PendingIrq(unsigned chip) const {
  const Chip& c = chips_[chip];
  uint8_t requests = c.irr & ~c.imr;
  int irq = HighestPriority(c, requests);
  if (irq == 8) return -1;
  // Requests of lower priority than one in service wait. In special mask
  // mode, masked in-service levels do not block; in special fully nested mode
  // the master lets further slave requests through while IR2 is in service.
  uint8_t in_service = c.isr;
  if (c.special_mask) in_service &= ~c.imr;
  if (chip == kMaster && c.special_fully_nested) in_service &= ~(1u << kCascadeIrq);
  int blocking = HighestPriority(c, in_service);
  if (blocking == 8) return irq;
  // Compare positions in the rotated order.
  int pos_irq = (irq - c.lowest_priority - 1) & 7;
  int pos_blocking = (blocking - c.lowest_priority - 1) & 7;
  return pos_irq < pos_blocking ? irq : -1;
}

void Pic8259::UpdateIrq() {
  // The slave's INT is the master's IR2: an internal wire, treated as a level
  // so a second slave request after an EOI is never lost.
  SetChipInput(kMaster, kCascadeIrq, PendingIrq(kSlave) >= 0);
  bool level = PendingIrq(kMaster) >= 0;
  if (level == output_level_) return;
  output_level_ = level;
  if (output_) output_->Set(level);
}

void Pic8259::SetChipInput(unsigned chip, unsigned irq, bool level) {
  Chip& c = chips_[chip];
  const uint8_t bit = 1u << irq;
  const bool level_triggered = (c.elcr & bit) || (chip == kMaster && irq == kCascadeIrq);
  if (level_triggered) {
    if (level) c.irr |= bit;
    else c.irr &= ~bit;
  } else if (level && !(c.line_level & bit)) {
    c.irr |= bit;  // rising edge
  }
  if (level) c.line_level |= bit;
  else c.line_level &= ~bit;
}

void Pic8259::SetIrq(unsigned n, bool level) {
  if (n >= 16 || n == kCascadeIrq) return;
  SetChipInput(n / 8, n % 8, level);
  UpdateIrq();
}

void Pic8259::AckOnChip(unsigned chip, int irq) {
  Chip& c = chips_[chip];
  const uint8_t bit = 1u << irq;
  if (c.auto_eoi) {
    if (c.rotate_on_auto_eoi) c.lowest_priority = irq;
  } else {
    c.isr |= bit;
  }
  // A level-triggered request stays in IRR as long as its line is high.
  if (!(c.elcr & bit)) c.irr &= ~bit;
}

int Pic8259::Acknowledge() {
  int vector;
  int irq = PendingIrq(kMaster);
  if (irq < 0) {
    // The request went away: the 8259 answers with IR7, without setting ISR.
    vector = chips_[kMaster].vector_base + 7;
  } else {
    AckOnChip(kMaster, irq);
    if (irq == static_cast<int>(kCascadeIrq)) {
      int slave_irq = PendingIrq(kSlave);
      if (slave_irq >= 0) {
        AckOnChip(kSlave, slave_irq);
        vector = chips_[kSlave].vector_base + slave_irq;
      } else {
        vector = chips_[kSlave].vector_base + 7;  // spurious IRQ 15
      }
    } else {
      vector = chips_[kMaster].vector_base + irq;
    }
  }
  UpdateIrq();
  return vector;
}

uint8_t Pic8259::PollRead(unsigned chip) {
  // A poll is an acknowledge without INTA: bit 7 says whether there was a
  // request, bits 0-2 which.
  chips_[chip].poll = false;
  int irq = PendingIrq(chip);
  if (irq < 0) return 0;
  AckOnChip(chip, irq);
  UpdateIrq();
  return 0x80 | irq;
}

void Pic8259::WriteCommand(unsigned chip, uint8_t value) {
  Chip& c = chips_[chip];
  if (value & kIcw1) {
    // ICW1 starts initialization: clears masks and in-service state, resets
    // the edge detector (a line already high needs a new rising edge), sets
    // IR7 lowest priority and reads to IRR. ELCR is a separate register.
    // The pin levels are kept: an edge input that is already high needs a
    // new rising edge, a level input that is high is a request at once.
    const Chip old = c;
    c = Chip{};
    c.elcr = old.elcr;
    c.elcr_mask = old.elcr_mask;
    c.line_level = old.line_level;
    c.irr = old.line_level & old.elcr;
    c.init_step = 1;
    c.icw4_needed = value & kIcw1NeedIcw4;
    c.single = value & kIcw1Single;
    UpdateIrq();
    return;
  }
  if (value & kOcw3) {
    if (value & kOcw3Poll) c.poll = true;
    if (value & kOcw3ReadReg) c.read_isr = value & kOcw3ReadIsr;
    if (value & kOcw3SetSpecialMask) c.special_mask = value & kOcw3SpecialMaskValue;
    UpdateIrq();
    return;
  }
  // OCW2: R SL EOI in bits 7-5, level in bits 2-0.
  const int level = value & 7;
  switch (value >> 5) {
    case 0:  // rotate in auto-EOI mode: clear
    case 4:  // rotate in auto-EOI mode: set
      c.rotate_on_auto_eoi = value >> 7;
      break;
    case 1:    // non-specific EOI
    case 5: {  // rotate on non-specific EOI
      int irq = HighestPriority(c, c.isr);
      if (irq != 8) {
        c.isr &= ~(1u << irq);
        if (value >> 7) c.lowest_priority = irq;
      }
      break;
    }
    case 3:  // specific EOI
      c.isr &= ~(1u << level);
      break;
    case 7:  // rotate on specific EOI
      c.isr &= ~(1u << level);
      c.lowest_priority = level;
      break;
    case 6:  // set priority: `level` becomes the lowest
      c.lowest_priority = level;
      break;
    default:  // 2: no operation
      break;
  }
  UpdateIrq();
}

void Pic8259::WriteData(unsigned chip, uint8_t value) {
  Chip& c = chips_[chip];
  switch (c.init_step) {
    case 1:  // ICW2: vector base (the low 3 bits are the IR number)
      c.vector_base = value & 0xf8;
      c.init_step = c.single ? (c.icw4_needed ? 3 : 0) : 2;
      break;
    case 2:  // ICW3: cascade wiring, fixed on a PC
      c.init_step = c.icw4_needed ? 3 : 0;
      break;
    case 3:  // ICW4
      c.auto_eoi = value & kIcw4AutoEoi;
      c.special_fully_nested = value & kIcw4SpecialFullyNested;
      c.init_step = 0;
      break;
    default:  // OCW1: interrupt mask
      c.imr = value;
      break;
  }
  UpdateIrq();
}

uint32_t Pic8259::ReadPort(uint16_t port) {
  if (port == 0x4d0 || port == 0x4d1) return chips_[port & 1].elcr;
  const unsigned chip = port >= 0xa0 ? kSlave : kMaster;
  Chip& c = chips_[chip];
  if (c.poll) return PollRead(chip);
  if (port & 1) return c.imr;
  return c.read_isr ? c.isr : c.irr;
}

void Pic8259::WritePort(uint16_t port, uint8_t value) {
  if (port == 0x4d0 || port == 0x4d1) {
    Chip& c = chips_[port & 1];
    c.elcr = value & c.elcr_mask;
    // An input switched to level follows its line from now on.
    for (unsigned irq = 0; irq < 8; irq++)
      if ((c.elcr & (1u << irq)) && !(c.line_level & (1u << irq))) c.irr &= ~(1u << irq);
    UpdateIrq();
    return;
  }
  const unsigned chip = port >= 0xa0 ? kSlave : kMaster;
  if (port & 1) WriteData(chip, value);
  else WriteCommand(chip, value);
}

}  // namespace xlat
