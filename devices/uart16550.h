// A National Semiconductor 16550A UART, the PC's COM port (COM1: ports
// 0x3f8-0x3ff, ISA IRQ 4), as Linux's 8250 driver probes and drives it.
//
// Registers (offset from the base; DLAB is LCR bit 7):
//   0  RBR (read) / THR (write) / DLL (DLAB)     4  MCR
//   1  IER / DLM (DLAB)                          5  LSR
//   2  IIR (read) / FCR (write)                  6  MSR
//   3  LCR                                       7  SCR
//
// Transmit. A byte written to THR goes to the output sink at once: the line is
// infinitely fast, so LSR.THRE and LSR.TEMT read 1 whenever the guest looks.
// The THRE *interrupt* is what must be exact, because the 8250 driver is built
// around it: it is set when THR empties (after every byte written), cleared by
// a THR write or by an IIR read that reports it, and set again when the guest
// turns IER.ETBEI on while THR is empty (the driver's start_tx() only sets
// ETBEI and waits for that interrupt; its startup test checks the re-trigger).
// This is QEMU's model, as is the fixed modem status (CTS, DSR and DCD on).
//
// Receive. Host bytes arrive in a SerialInputQueue (filled by the terminal's
// reader thread). The UART takes them on the vCPU thread, only as many as the
// receive FIFO (16 bytes, or 1 holding register with FIFOs off) has room for,
// so nothing typed is ever lost to an overrun: in PollInput(), which a Clock
// timer runs soon after a Push(), and on every RBR and LSR read. With FIFOs on
// the "received data available" interrupt waits for the FCR trigger level
// (1, 4, 8 or 14; Linux uses 8) and a character-timeout interrupt reports the
// bytes below it once no byte has arrived or been read for four character
// times at the programmed divisor and frame format (0.35 ms at 115200 8N1).
// A break (Ctrl-A b on the terminal) arrives as a NUL character with LSR.BI,
// which Linux turns into a magic SysRq prefix.
//
// Loopback (MCR bit 4): THR feeds the receiver instead of the sink, and the
// modem outputs drive the modem inputs (RTS->CTS, DTR->DSR, OUT1->RI,
// OUT2->DCD) with their delta bits; Linux's probe checks MSR here. Host input
// waits in the queue while loopback is on.
//
// The IRQ line is the IIR "interrupt pending" state, as in QEMU (the PC board's
// OUT2 gate is not modelled). All methods run on the vCPU thread except
// SerialInputQueue's Push/PushBreak.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "devices/clock.h"
#include "devices/interrupts.h"

namespace xlat {

class PortBus;

// Host -> guest bytes of one serial port. The only device object another
// thread touches: the host reader pushes, the vCPU pops.
class SerialInputQueue {
 public:
  // One queue entry: a byte, or kBreak for a break condition.
  static constexpr uint16_t kBreak = 0x100;

  // Any thread. Appends, then calls the waker unless a wake-up is already
  // outstanding (one that no Pop() has answered yet).
  void Push(std::span<const uint8_t> bytes);
  void PushBreak();
  // vCPU thread: takes up to out.size() entries (bytes or kBreak) and
  // answers any outstanding wake-up.
  size_t Pop(std::span<uint16_t> out);
  size_t size() const;

  // What Push calls (under the queue's lock, so that after SetWaker returns the
  // old waker is no longer running). Set by the UART.
  void SetWaker(std::function<void()> waker);

 private:
  void PushLocked(uint16_t entry);
  mutable std::mutex mu_;
  std::deque<uint16_t> entries_;
  std::function<void()> waker_;
  bool wake_outstanding_ = false;
};

class Uart16550 {
 public:
  static constexpr uint16_t kCom1Base = 0x3f8;  // ISA IRQ 4
  static constexpr unsigned kFifoSize = 16;
  static constexpr unsigned kClockHz = 1843200;  // divisor 1 = 115200 baud

  // `irq`: the ISA IRQ line (4 for COM1), may be null. `out`: where transmitted
  // bytes go (the terminal). The clock must outlive the UART.
  Uart16550(Clock& clock, IrqLine* irq, std::function<void(uint8_t)> out);
  ~Uart16550();
  Uart16550(const Uart16550&) = delete;
  Uart16550& operator=(const Uart16550&) = delete;

  // Ports base..base+7.
  void Register(PortBus& ports, uint16_t base = kCom1Base);
  // Power-on state (QEMU's): LCR 0, divisor 12 (9600 baud), MCR OUT2, FIFOs
  // off, no interrupts enabled. The host input queue keeps its contents.
  void Reset();

  // Where the host reader puts what the user types.
  SerialInputQueue& input() { return input_; }
  // vCPU thread: takes queued host input into the receiver if it has room.
  // Runs by itself (a Clock timer after each Push); callable at any time.
  void PollInput();

  // Register access by offset 0-7 (the port handlers call these).
  uint8_t Read(unsigned offset);
  void Write(unsigned offset, uint8_t value);

  // Inspection (tests, debugging).
  bool irq_level() const { return irq_level_; }
  unsigned rx_count() const { return rx_count_; }

 private:
  uint8_t ComputeIir() const;
  void UpdateIrq();
  uint8_t ReadLsr();
  uint8_t ReadRbr();
  void WriteIer(uint8_t value);
  void WriteFcr(uint8_t value);
  void WriteMcr(uint8_t value);
  // Puts one character (or a break) into the receiver, as the shift register
  // would: sets OE and drops it if there is no room.
  void Receive(uint16_t entry);
  void ClearRxFifo();
  void PullHostInput();
  bool fifo_enabled() const { return fcr_ & 1; }
  bool loopback() const { return mcr_ & 0x10; }  // MCR.LOOP
  unsigned rx_capacity() const { return fifo_enabled() ? kFifoSize : 1; }
  unsigned rx_trigger() const;
  uint8_t ModemInputs() const;
  // Four character times, from the divisor and LCR's frame format.
  uint64_t RxTimeoutNs() const;
  void TouchRxTimeout();
  void ArmRxTimeout(uint64_t deadline);
  void OnRxTimeout(uint64_t generation);

  Clock& clock_;
  IrqLine* irq_;
  std::function<void(uint8_t)> out_;
  SerialInputQueue input_;
  // PollInput timers are scheduled from the reader thread and are not
  // cancelled one by one: each holds a weak reference to this token, which
  // dies with the UART.
  std::shared_ptr<Uart16550*> alive_;

  // Registers.
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
  uint16_t divisor_ = 12;
  uint8_t msr_ = 0;          // modem inputs (bits 4-7) and deltas (bits 0-3)
  uint8_t lsr_errors_ = 0;   // OE, PE, FE, BI (bits 1-4): sticky until LSR is read
  uint8_t last_rx_ = 0;      // what RBR reads when the receiver is empty

  // Receiver FIFO (capacity 1 with FIFOs off): data and per-character error bits.
  std::array<uint8_t, kFifoSize> rx_data_{};
  std::array<uint8_t, kFifoSize> rx_flags_{};
  unsigned rx_head_ = 0, rx_count_ = 0;

  // Interrupt conditions that are events rather than levels.
  bool thr_ipending_ = false;
  bool timeout_ipending_ = false;
  bool irq_level_ = false;

  // Character timeout: the deadline moves with every receive or RBR read; one
  // Clock timer is armed at a time and re-armed if the deadline moved.
  uint64_t rx_timeout_deadline_ = 0;
  bool timeout_timer_armed_ = false;
  Clock::TimerId timeout_timer_id_ = 0;
  uint64_t timeout_generation_ = 0;
};

}  // namespace xlat
