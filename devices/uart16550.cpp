#include "devices/uart16550.h"

#include <algorithm>

#include "devices/port_bus.h"

namespace xlat {

namespace {

// Register offsets.
constexpr unsigned kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

// IER: what may interrupt.
constexpr uint8_t kIerRdi = 0x01;   // received data available (and character timeout)
constexpr uint8_t kIerThri = 0x02;  // THR empty
constexpr uint8_t kIerRlsi = 0x04;  // receiver line status (errors, break)
constexpr uint8_t kIerMsi = 0x08;   // modem status change

// IIR: the highest-priority pending interrupt, in the low nibble.
constexpr uint8_t kIirNoInt = 0x01, kIirMsi = 0x00, kIirThri = 0x02, kIirRdi = 0x04, kIirRlsi = 0x06,
                  kIirTimeout = 0x0c, kIirIdMask = 0x0f, kIirFifosEnabled = 0xc0;

// FCR.
constexpr uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02, kFcrClearTx = 0x04, kFcrStored = 0xc9;

// LCR.
constexpr uint8_t kLcrDlab = 0x80;

// MCR.
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;

// LSR.
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrBi = 0x10, kLsrThre = 0x20, kLsrTemt = 0x40,
                  kLsrFifoError = 0x80;
constexpr uint8_t kLsrErrors = 0x1e;  // OE, PE, FE, BI

// MSR: deltas in the low nibble, input levels in the high one.
constexpr uint8_t kMsrDcts = 0x01, kMsrDdsr = 0x02, kMsrTeri = 0x04, kMsrDdcd = 0x08, kMsrDeltas = 0x0f;
constexpr uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

constexpr uint64_t kNsPerSec = 1'000'000'000;

}  // namespace

// ---- SerialInputQueue ----

void SerialInputQueue::PushLocked(uint16_t entry) { entries_.push_back(entry); }

void SerialInputQueue::Push(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (uint8_t b : bytes) PushLocked(b);
  if (!wake_outstanding_ && waker_) {
    wake_outstanding_ = true;
    waker_();
  }
}

void SerialInputQueue::PushBreak() {
  std::lock_guard<std::mutex> lock(mu_);
  PushLocked(kBreak);
  if (!wake_outstanding_ && waker_) {
    wake_outstanding_ = true;
    waker_();
  }
}

size_t SerialInputQueue::Pop(std::span<uint16_t> out) {
  std::lock_guard<std::mutex> lock(mu_);
  wake_outstanding_ = false;
  const size_t n = std::min(out.size(), entries_.size());
  for (size_t i = 0; i < n; i++) {
    out[i] = entries_.front();
    entries_.pop_front();
  }
  return n;
}

size_t SerialInputQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void SerialInputQueue::SetWaker(std::function<void()> waker) {
  std::lock_guard<std::mutex> lock(mu_);
  waker_ = std::move(waker);
  wake_outstanding_ = false;
}

// ---- Uart16550 ----

Uart16550::Uart16550(Clock& clock, IrqLine* irq, std::function<void(uint8_t)> out)
    : clock_(clock), irq_(irq), out_(std::move(out)), alive_(std::make_shared<Uart16550*>(this)) {
  Reset();
  // Runs on the reader thread: asks the clock to run PollInput on the vCPU
  // thread as soon as possible (the clock kicks the vCPU for it).
  std::weak_ptr<Uart16550*> weak = alive_;
  Clock* c = &clock_;
  input_.SetWaker([c, weak] {
    c->Schedule(c->NowNs(), [weak] {
      if (auto self = weak.lock()) (*self)->PollInput();
    });
  });
}

Uart16550::~Uart16550() {
  input_.SetWaker(nullptr);  // no reader-thread waker runs after this
  if (timeout_timer_armed_) clock_.Cancel(timeout_timer_id_);
}

void Uart16550::Register(PortBus& ports, uint16_t base) {
  // Wider accesses are split into byte accesses to consecutive registers, as
  // QEMU does; Linux only uses byte accesses.
  ports.Register(
      "uart16550", base, 8,
      [this, base](uint16_t port, unsigned size) -> uint32_t {
        uint32_t value = 0;
        for (unsigned i = 0; i < size; i++) {
          const unsigned offset = port - base + i;
          value |= static_cast<uint32_t>(offset < 8 ? Read(offset) : 0xff) << (8 * i);
        }
        return value;
      },
      [this, base](uint16_t port, unsigned size, uint32_t value) {
        for (unsigned i = 0; i < size; i++) {
          const unsigned offset = port - base + i;
          if (offset < 8) Write(offset, static_cast<uint8_t>(value >> (8 * i)));
        }
      });
}

void Uart16550::Reset() {
  ier_ = 0;
  lcr_ = 0;
  mcr_ = kMcrOut2;
  scr_ = 0;
  fcr_ = 0;
  divisor_ = 12;
  lsr_errors_ = 0;
  last_rx_ = 0;
  ClearRxFifo();
  thr_ipending_ = false;
  msr_ = ModemInputs();
  if (timeout_timer_armed_) clock_.Cancel(timeout_timer_id_);
  timeout_timer_armed_ = false;
  ++timeout_generation_;
  UpdateIrq();
}

// ---- Register access ----

uint8_t Uart16550::Read(unsigned offset) {
  uint8_t value = 0xff;
  switch (offset) {
    case kRbrThr:
      value = (lcr_ & kLcrDlab) ? static_cast<uint8_t>(divisor_) : ReadRbr();
      break;
    case kIer:
      value = (lcr_ & kLcrDlab) ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
      break;
    case kIirFcr:
      value = ComputeIir();
      // Reading IIR acknowledges a THRE interrupt it reports (the others are
      // cleared by servicing their cause).
      if ((value & kIirIdMask) == kIirThri) thr_ipending_ = false;
      break;
    case kLcr:
      value = lcr_;
      break;
    case kMcr:
      value = mcr_;
      break;
    case kLsr:
      value = ReadLsr();
      break;
    case kMsr:
      value = msr_;
      msr_ &= ~kMsrDeltas;
      break;
    case kScr:
      value = scr_;
      break;
  }
  UpdateIrq();
  return value;
}

void Uart16550::Write(unsigned offset, uint8_t value) {
  switch (offset) {
    case kRbrThr:
      if (lcr_ & kLcrDlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xff00) | value);
        break;
      }
      // THR: the byte leaves at once, so THR is empty again when the write
      // completes and the THRE interrupt condition is set anew.
      if (loopback()) {
        Receive(value);
      } else if (out_) {
        out_(value);
      }
      thr_ipending_ = true;
      break;
    case kIer:
      if (lcr_ & kLcrDlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0x00ff) | (value << 8));
      } else {
        WriteIer(value);
      }
      break;
    case kIirFcr:
      WriteFcr(value);
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      WriteMcr(value);
      break;
    case kLsr:
    case kMsr:
      break;  // factory test registers on real parts: ignored
    case kScr:
      scr_ = value;
      break;
  }
  UpdateIrq();
}

uint8_t Uart16550::ReadRbr() {
  if (rx_count_ == 0) return last_rx_;
  const uint8_t c = rx_data_[rx_head_];
  rx_head_ = (rx_head_ + 1) % kFifoSize;
  rx_count_--;
  last_rx_ = c;
  // Reading clears a character timeout and restarts its timer; the next
  // character's error bits show in LSR now that it is at the top.
  timeout_ipending_ = false;
  if (rx_count_ > 0) lsr_errors_ |= rx_flags_[rx_head_];
  PullHostInput();
  TouchRxTimeout();
  return c;
}

uint8_t Uart16550::ReadLsr() {
  PullHostInput();
  uint8_t value = kLsrThre | kLsrTemt | lsr_errors_;
  if (rx_count_ > 0) value |= kLsrDr;
  if (fifo_enabled()) {
    for (unsigned i = 0; i < rx_count_; i++)
      if (rx_flags_[(rx_head_ + i) % kFifoSize]) value |= kLsrFifoError;
  }
  lsr_errors_ = 0;  // reading LSR clears OE, PE, FE and BI
  return value;
}

void Uart16550::WriteIer(uint8_t value) {
  const uint8_t changed = (ier_ ^ value) & 0x0f;
  ier_ = value & 0x0f;  // bits 4-7 do not exist on a 16550A (Linux probes that)
  // Turning ETBEI on while THR is empty raises the THRE interrupt again, even
  // if an IIR read had acknowledged it: Linux's start_tx() relies on it and its
  // startup test checks it. Like QEMU (and Bochs), on the rising edge only.
  if (changed & kIerThri) thr_ipending_ = (ier_ & kIerThri) != 0;
}

void Uart16550::WriteFcr(uint8_t value) {
  // Switching the FIFOs on or off resets both.
  if ((value ^ fcr_) & kFcrEnable) value |= kFcrClearRx | kFcrClearTx;
  if (value & kFcrClearRx) ClearRxFifo();
  if (value & kFcrClearTx) thr_ipending_ = true;  // the transmit FIFO is empty
  fcr_ = value & kFcrStored;
  PullHostInput();
}

void Uart16550::WriteMcr(uint8_t value) {
  const uint8_t before = ModemInputs();
  mcr_ = value & 0x1f;
  const uint8_t after = ModemInputs();
  const uint8_t changed = before ^ after;
  uint8_t deltas = 0;
  if (changed & kMsrCts) deltas |= kMsrDcts;
  if (changed & kMsrDsr) deltas |= kMsrDdsr;
  if (changed & kMsrDcd) deltas |= kMsrDdcd;
  if ((before & kMsrRi) && !(after & kMsrRi)) deltas |= kMsrTeri;  // trailing edge only
  msr_ = after | (msr_ & kMsrDeltas) | deltas;
  PullHostInput();  // leaving loopback reconnects the host
}

uint8_t Uart16550::ModemInputs() const {
  if (!loopback()) return kMsrCts | kMsrDsr | kMsrDcd;  // a host terminal is always there
  uint8_t inputs = 0;
  if (mcr_ & kMcrRts) inputs |= kMsrCts;
  if (mcr_ & kMcrDtr) inputs |= kMsrDsr;
  if (mcr_ & kMcrOut1) inputs |= kMsrRi;
  if (mcr_ & kMcrOut2) inputs |= kMsrDcd;
  return inputs;
}

// ---- Interrupts ----

unsigned Uart16550::rx_trigger() const {
  if (!fifo_enabled()) return 1;
  static constexpr unsigned kLevels[4] = {1, 4, 8, 14};
  return kLevels[fcr_ >> 6];
}

uint8_t Uart16550::ComputeIir() const {
  uint8_t id = kIirNoInt;
  if ((ier_ & kIerRlsi) && (lsr_errors_ & kLsrErrors)) {
    id = kIirRlsi;
  } else if ((ier_ & kIerRdi) && rx_count_ >= rx_trigger()) {
    id = kIirRdi;
  } else if ((ier_ & kIerRdi) && timeout_ipending_ && rx_count_ > 0) {
    id = kIirTimeout;
  } else if ((ier_ & kIerThri) && thr_ipending_) {
    id = kIirThri;
  } else if ((ier_ & kIerMsi) && (msr_ & kMsrDeltas)) {
    id = kIirMsi;
  }
  return fifo_enabled() ? (id | kIirFifosEnabled) : id;
}

void Uart16550::UpdateIrq() {
  const bool level = !(ComputeIir() & kIirNoInt);
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq_) irq_->Set(level);
}

// ---- Receiver ----

void Uart16550::ClearRxFifo() {
  rx_head_ = 0;
  rx_count_ = 0;
  timeout_ipending_ = false;
}

void Uart16550::Receive(uint16_t entry) {
  const bool is_break = entry == SerialInputQueue::kBreak;
  const uint8_t c = is_break ? 0 : static_cast<uint8_t>(entry);
  const uint8_t flags = is_break ? kLsrBi : 0;
  if (rx_count_ >= rx_capacity()) {
    // Overrun. With FIFOs the character in the shift register is lost; the
    // 16450-style holding register is overwritten.
    lsr_errors_ |= kLsrOe;
    if (!fifo_enabled()) {
      rx_data_[rx_head_] = c;
      rx_flags_[rx_head_] = flags;
      lsr_errors_ |= flags;
    }
    return;
  }
  const unsigned tail = (rx_head_ + rx_count_) % kFifoSize;
  rx_data_[tail] = c;
  rx_flags_[tail] = flags;
  rx_count_++;
  if (rx_count_ == 1) lsr_errors_ |= flags;  // it is at the top
  TouchRxTimeout();
}

void Uart16550::PullHostInput() {
  if (loopback()) return;  // the receiver hears the transmitter only
  const unsigned room = rx_capacity() - rx_count_;
  if (room == 0) return;
  std::array<uint16_t, kFifoSize> entries;
  const size_t n = input_.Pop(std::span<uint16_t>(entries.data(), room));
  for (size_t i = 0; i < n; i++) Receive(entries[i]);
}

void Uart16550::PollInput() {
  PullHostInput();
  UpdateIrq();
}

// ---- Character timeout ----

uint64_t Uart16550::RxTimeoutNs() const {
  const unsigned data_bits = 5 + (lcr_ & 3);
  const unsigned parity_bits = (lcr_ & 0x08) ? 1 : 0;
  const unsigned stop_bits = (lcr_ & 0x04) ? 2 : 1;
  const uint64_t frame_bits = 1 + data_bits + parity_bits + stop_bits;
  const uint64_t divisor = divisor_ ? divisor_ : 0x10000;
  // One bit lasts 16 * divisor cycles of the 1.8432 MHz clock.
  return 4 * frame_bits * 16 * divisor * kNsPerSec / kClockHz;
}

void Uart16550::TouchRxTimeout() {
  if (!fifo_enabled() || rx_count_ == 0) return;
  rx_timeout_deadline_ = clock_.NowNs() + RxTimeoutNs();
  if (!timeout_timer_armed_) ArmRxTimeout(rx_timeout_deadline_);
}

void Uart16550::ArmRxTimeout(uint64_t deadline) {
  const uint64_t generation = ++timeout_generation_;
  timeout_timer_armed_ = true;
  timeout_timer_id_ = clock_.Schedule(deadline, [this, generation] { OnRxTimeout(generation); });
}

void Uart16550::OnRxTimeout(uint64_t generation) {
  if (generation != timeout_generation_) return;  // reset meanwhile
  timeout_timer_armed_ = false;
  if (!fifo_enabled() || rx_count_ == 0) return;
  if (clock_.NowNs() < rx_timeout_deadline_) {
    ArmRxTimeout(rx_timeout_deadline_);  // a character moved the deadline
    return;
  }
  timeout_ipending_ = true;
  UpdateIrq();
}

}  // namespace xlat
