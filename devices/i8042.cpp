#include "devices/i8042.h"

#include "devices/port_bus.h"

namespace xlat {

namespace {

constexpr uint16_t kDataPort = 0x60, kCommandPort = 0x64, kPort92 = 0x92;

// Status register.
constexpr uint8_t kStatusObf = 0x01, kStatusSys = 0x04, kStatusCmd = 0x08, kStatusUnlocked = 0x10,
                  kStatusAuxData = 0x20, kStatusTimeout = 0x40;

// Command byte (controller RAM byte 0).
constexpr uint8_t kCtrKbdInt = 0x01, kCtrAuxInt = 0x02, kCtrSys = 0x04, kCtrKbdDis = 0x10, kCtrAuxDis = 0x20,
                  kCtrXlate = 0x40;

// Output port.
constexpr uint8_t kOutNotReset = 0x01, kOutA20 = 0x02, kOutKbdObf = 0x10, kOutAuxObf = 0x20;

// Keyboard replies.
constexpr uint8_t kKbdAck = 0xfa, kKbdResend = 0xfe, kKbdBatOk = 0xaa, kKbdEcho = 0xee;

}  // namespace

I8042::I8042(IrqLine* kbd_irq, IrqLine* aux_irq, std::function<void()> reset)
    : kbd_irq_(kbd_irq), aux_irq_(aux_irq), reset_(std::move(reset)) {
  Reset();
}

void I8042::Register(PortBus& ports) {
  auto read = [this](uint16_t port, unsigned) -> uint32_t { return ReadPort(port); };
  auto write = [this](uint16_t port, unsigned, uint32_t value) { WritePort(port, static_cast<uint8_t>(value)); };
  ports.Register("i8042-data", kDataPort, 1, read, write);
  ports.Register("i8042-cmd", kCommandPort, 1, read, write);
  ports.Register("port92", kPort92, 1, read, write);
}

void I8042::Reset() {
  ram_.fill(0);
  ram_[0] = kCtrKbdInt | kCtrSys | kCtrAuxDis | kCtrXlate;
  output_port_ = 0xcc | kOutA20 | kOutNotReset;  // QEMU's: the unused pins read 1
  port92_ &= kOutA20;                            // a reset clears the reset bit only
  pending_command_ = 0;
  last_write_was_command_ = false;
  out_full_ = false;
  out_ = OutByte{0, false, false};
  controller_queue_.clear();
  keyboard_queue_.clear();
  keyboard_pending_ = 0;
  scan_set_ = 2;
  scanning_ = true;
  UpdateIrq();
}

uint8_t I8042::ReadPort(uint16_t port) {
  switch (port) {
    case kDataPort:
      return ReadData();
    case kCommandPort:
      return ReadStatus();
    case kPort92:
      return port92_;
  }
  return 0xff;
}

void I8042::WritePort(uint16_t port, uint8_t value) {
  switch (port) {
    case kDataPort:
      WriteData(value);
      break;
    case kCommandPort:
      WriteCommand(value);
      break;
    case kPort92: {
      const uint8_t before = port92_;
      port92_ = value;
      if ((value & 1) && !(before & 1) && reset_) reset_();  // fast reset on the rising edge
      return;
    }
  }
  Refill();
  UpdateIrq();
}

uint8_t I8042::ReadStatus() const {
  uint8_t status = kStatusUnlocked;  // the keyboard lock switch is open
  if (out_full_) status |= kStatusObf;
  if (out_full_ && out_.aux) status |= kStatusAuxData;
  if (out_full_ && out_.timeout) status |= kStatusTimeout;
  if (ram_[0] & kCtrSys) status |= kStatusSys;
  if (last_write_was_command_) status |= kStatusCmd;
  return status;  // the input buffer is never full: commands act at once
}

uint8_t I8042::ReadData() {
  const uint8_t value = out_.value;  // an empty buffer reads its last byte again
  if (out_full_) {
    out_full_ = false;
    UpdateIrq();  // the line drops...
    Refill();
    UpdateIrq();  // ...and rises again for the next byte: an edge
  }
  return value;
}

void I8042::Reply(uint8_t value, bool aux, bool timeout) { controller_queue_.push_back(OutByte{value, aux, timeout}); }

void I8042::Refill() {
  if (out_full_) return;
  std::deque<OutByte>* from = nullptr;
  if (!controller_queue_.empty()) {
    from = &controller_queue_;
  } else if (!keyboard_queue_.empty() && !(ram_[0] & kCtrKbdDis)) {
    from = &keyboard_queue_;
  }
  if (!from) return;
  out_ = from->front();
  from->pop_front();
  out_full_ = true;
}

void I8042::UpdateIrq() {
  const bool kbd = out_full_ && !out_.aux && (ram_[0] & kCtrKbdInt);
  const bool aux = out_full_ && out_.aux && (ram_[0] & kCtrAuxInt);
  if (kbd != kbd_level_) {
    kbd_level_ = kbd;
    if (kbd_irq_) kbd_irq_->Set(kbd);
  }
  if (aux != aux_level_) {
    aux_level_ = aux;
    if (aux_irq_) aux_irq_->Set(aux);
  }
}

// ---- Controller commands (port 0x64) ----

void I8042::WriteCommand(uint8_t command) {
  last_write_was_command_ = true;
  pending_command_ = 0;
  if (command >= 0x20 && command <= 0x3f) {  // read controller RAM (0x20: command byte)
    Reply(ram_[command & 0x1f]);
    return;
  }
  if (command >= 0x60 && command <= 0x7f) {  // write controller RAM: the data byte follows
    pending_command_ = command;
    return;
  }
  if (command >= 0xf0) {  // pulse output port bits 0-3 low for 6 us: bit 0 is the CPU reset line
    if (!(command & 1) && reset_) reset_();
    return;
  }
  switch (command) {
    case 0xa4:  // password installed? no
      Reply(0xf1);
      break;
    case 0xa7:  // disable the aux port
      ram_[0] |= kCtrAuxDis;
      break;
    case 0xa8:  // enable the aux port
      ram_[0] &= ~kCtrAuxDis;
      break;
    case 0xa9:  // aux interface test: no error
    case 0xab:  // keyboard interface test: no error
      Reply(0x00);
      break;
    case 0xaa:  // controller self test: passed
      Reply(0x55);
      break;
    case 0xad:  // disable the keyboard port
      ram_[0] |= kCtrKbdDis;
      break;
    case 0xae:  // enable the keyboard port
      ram_[0] &= ~kCtrKbdDis;
      break;
    case 0xc0:  // read input port: keyboard not inhibited
      Reply(0x80);
      break;
    case 0xd0: {  // read output port
      uint8_t value = output_port_ & ~(kOutKbdObf | kOutAuxObf);
      if (out_full_) value |= out_.aux ? kOutAuxObf : kOutKbdObf;
      Reply(value);
      break;
    }
    case 0xd1:  // write output port
    case 0xd2:  // write the keyboard output buffer
    case 0xd3:  // write the aux output buffer (loopback)
    case 0xd4:  // write to the aux device
      pending_command_ = command;
      break;
    case 0xdd:  // A20 off (HP Vectra)
      output_port_ &= ~kOutA20;
      break;
    case 0xdf:  // A20 on
      output_port_ |= kOutA20;
      break;
    case 0xe0:  // read test inputs
      Reply(0x00);
      break;
    default:
      break;  // unknown or unneeded (0xa1 version, 0xc1-0xc3 polls, 0xca/0xcb mode): ignored
  }
}

// ---- Data (port 0x60): a command's parameter, or a byte for the keyboard ----

void I8042::WriteData(uint8_t value) {
  last_write_was_command_ = false;
  const uint8_t command = pending_command_;
  pending_command_ = 0;
  if (command >= 0x60 && command <= 0x7f) {
    ram_[command & 0x1f] = value;
    return;
  }
  switch (command) {
    case 0xd1:
      WriteOutputPort(value);
      break;
    case 0xd2:
      Reply(value);
      break;
    case 0xd3:
      Reply(value, /*aux=*/true);
      break;
    case 0xd4:
      // Nothing is plugged into the aux port: the controller times out.
      Reply(kKbdResend, /*aux=*/true, /*timeout=*/true);
      break;
    default:
      // Sending to the keyboard enables its port, as on QEMU's controller.
      ram_[0] &= ~kCtrKbdDis;
      KeyboardReceive(value);
      break;
  }
}

void I8042::WriteOutputPort(uint8_t value) {
  output_port_ = value;
  if (!(value & kOutNotReset) && reset_) reset_();
}

// ---- The PS/2 keyboard (QEMU's replies) ----

void I8042::KeyboardReceive(uint8_t value) {
  if (keyboard_pending_) {
    const uint8_t command = keyboard_pending_;
    keyboard_pending_ = 0;
    if (command == 0xf0 && value == 0) {  // get the scan code set
      KeyboardReply(kKbdAck);
      static constexpr uint8_t kTranslated[4] = {0, 0x43, 0x41, 0x3f};
      KeyboardReply((ram_[0] & kCtrXlate) ? kTranslated[scan_set_] : scan_set_);
      return;
    }
    if (command == 0xf0 && value <= 3) scan_set_ = value;
    KeyboardReply(kKbdAck);  // 0xed LEDs, 0xf3 typematic rate: accepted
    return;
  }
  switch (value) {
    case 0xed:  // set LEDs
    case 0xf0:  // scan code set
    case 0xf3:  // typematic rate
      keyboard_pending_ = value;
      KeyboardReply(kKbdAck);
      break;
    case 0xee:
      KeyboardReply(kKbdEcho);
      break;
    case 0xf2:  // identify: an MF2 keyboard, as the controller translates it
      KeyboardReply(kKbdAck);
      KeyboardReply(0xab);
      KeyboardReply((ram_[0] & kCtrXlate) ? 0x41 : 0x83);
      break;
    case 0xf4:  // enable scanning
      scanning_ = true;
      KeyboardReply(kKbdAck);
      break;
    case 0xf5:  // disable scanning, defaults
      scanning_ = false;
      scan_set_ = 2;
      KeyboardReply(kKbdAck);
      break;
    case 0xf6:  // defaults
      scanning_ = true;
      scan_set_ = 2;
      KeyboardReply(kKbdAck);
      break;
    case 0xf7:
    case 0xf8:
    case 0xf9:
    case 0xfa:
    case 0xfb:
    case 0xfc:
    case 0xfd:  // set 3 key modes
      KeyboardReply(kKbdAck);
      break;
    case 0xff:  // reset and self test
      keyboard_queue_.clear();
      scanning_ = true;
      scan_set_ = 2;
      KeyboardReply(kKbdAck);
      KeyboardReply(kKbdBatOk);
      break;
    default:
      KeyboardReply(kKbdResend);
      break;
  }
}

}  // namespace xlat
