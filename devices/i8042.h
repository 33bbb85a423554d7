// The PC keyboard controller (an Intel 8042 "KBC") on ports 0x60 (data) and
// 0x64 (status / command), with a PS/2 keyboard on its first port and nothing
// plugged into its second (mouse, "aux") port; and port 0x92, the chipset's
// "system control port A" (fast A20 and fast reset), which lives here because
// it shares the 8042's A20 and reset duties.
//
// What Linux's i8042 driver does at boot, and what answers it:
//   - flush (read 0x60 while status.OBF): the output buffer starts empty;
//   - controller self test 0xAA -> 0x55, read/write of the command byte
//     (0x20 / 0x60), port enable and disable (0xA7/0xA8, 0xAD/0xAE) mirrored
//     in the command byte, interface tests 0xA9/0xAB -> 0x00;
//   - the aux loopback 0xD3: the byte comes back with status.AUXDATA, and
//     raises IRQ 12 when the command byte enables it (the driver's AUX IRQ
//     test), so the aux port is found; bytes sent to the absent mouse (0xD4)
//     are answered at once with 0xFE and status.TIMEOUT, which makes psmouse
//     give up without waiting;
//   - the keyboard answers like QEMU's: 0xFA to commands, 0xAB 0x41 (or 0x83
//     untranslated) to Get ID, 0xAA after reset, 0xEE to echo. It sends no
//     keys yet (nothing feeds it).
// A reset request is the output-port bit 0 going low: command 0xFE (or any
// 0xF0-0xFF pulse with bit 0 clear) and 0xD1 with bit 0 clear, and port 0x92
// bit 0 rising: these call `reset` (on the vCPU thread, from inside the port
// write: it should only ask the machine to reset).
//
// IRQ 1 is "output buffer full with a keyboard byte" and IRQ 12 "with an aux
// byte", each gated by the command byte's interrupt enables. Reading 0x60
// drops the line; if another byte is waiting it is loaded and the line rises
// again within the same access, so that edge-triggered inputs see an edge.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>

#include "devices/interrupts.h"

namespace xlat {

class PortBus;

class I8042 {
 public:
  // `kbd_irq`: ISA IRQ 1; `aux_irq`: ISA IRQ 12 (either may be null; without
  // IRQ 12 Linux's aux IRQ test times out after 250 ms and it uses no aux port).
  I8042(IrqLine* kbd_irq, IrqLine* aux_irq, std::function<void()> reset);
  I8042(const I8042&) = delete;
  I8042& operator=(const I8042&) = delete;

  // Ports 0x60, 0x64 and 0x92.
  void Register(PortBus& ports);
  // As firmware leaves it: command byte 0x65 (keyboard interrupt on,
  // translation on, aux disabled, system flag), A20 on, buffers empty.
  void Reset();

  uint8_t ReadPort(uint16_t port);
  void WritePort(uint16_t port, uint8_t value);

  // Inspection (tests, debugging).
  uint8_t command_byte() const { return ram_[0]; }
  bool a20_enabled() const { return (output_port_ & 0x02) || (port92_ & 0x02); }

 private:
  struct OutByte {
    uint8_t value;
    bool aux;      // status.AUXDATA: from (or looped back as) the aux port
    bool timeout;  // status.TIMEOUT: the device did not answer
  };

  uint8_t ReadStatus() const;
  uint8_t ReadData();
  void WriteCommand(uint8_t command);
  void WriteData(uint8_t value);
  void KeyboardReceive(uint8_t value);
  void WriteOutputPort(uint8_t value);
  void Reply(uint8_t value, bool aux = false, bool timeout = false);
  void KeyboardReply(uint8_t value) { keyboard_queue_.push_back(OutByte{value, false, false}); }
  // Loads the next waiting byte into the empty output buffer.
  void Refill();
  void UpdateIrq();

  IrqLine* kbd_irq_;
  IrqLine* aux_irq_;
  std::function<void()> reset_;

  std::array<uint8_t, 32> ram_{};  // ram_[0] is the command byte
  uint8_t output_port_ = 0;        // bit 0: not in reset; bit 1: A20
  uint8_t port92_ = 0;
  uint8_t pending_command_ = 0;    // a controller command waiting for its data byte
  bool last_write_was_command_ = false;

  // The output buffer and what waits for it: the controller's own replies
  // first, then the keyboard's (held while its port is disabled).
  bool out_full_ = false;
  OutByte out_{0, false, false};
  std::deque<OutByte> controller_queue_;
  std::deque<OutByte> keyboard_queue_;

  // The PS/2 keyboard.
  uint8_t keyboard_pending_ = 0;  // a command waiting for its parameter byte
  uint8_t scan_set_ = 2;
  bool scanning_ = true;

  bool kbd_level_ = false, aux_level_ = false;
};

}  // namespace xlat
