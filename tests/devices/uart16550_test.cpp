// The 16550A as Linux's 8250 driver probes and drives it: the autoconfig
// probes, THRE interrupt semantics, receive FIFO trigger levels, the
// character timeout, loopback, and the host input queue.
#include "devices/uart16550.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "devices/port_bus.h"

namespace xlat {
namespace {

constexpr unsigned RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
                   MSR = 6, SCR = 7;

struct RecordingIrq : IrqLine {
  bool level = false;
  int rising_edges = 0;
  void Set(bool l) override {
    if (l && !level) rising_edges++;
    level = l;
  }
};

class UartTest : public ::testing::Test {
 protected:
  UartTest() : uart(clock, &irq, [this](uint8_t b) { out.push_back(static_cast<char>(b)); }) {}

  void Push(const std::string& s) {
    uart.input().Push(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  // Waits past the character timeout and runs the clock's expired timers, as
  // the vCPU does after the clock kicks it.
  void WaitAndRunTimers(std::chrono::microseconds us = std::chrono::microseconds(3000)) {
    std::this_thread::sleep_for(us);
    clock.RunExpired();
  }
  std::string ReadAll() {
    std::string s;
    while (uart.Read(LSR) & 0x01) s.push_back(static_cast<char>(uart.Read(RBR)));
    return s;
  }
  // 115200 8N1 with FIFOs at trigger level `fcr`'s, as Linux programs it.
  void SetupLikeLinux(uint8_t fcr) {
    uart.Write(LCR, 0x83);
    uart.Write(DLL, 1);
    uart.Write(DLM, 0);
    uart.Write(LCR, 0x03);
    uart.Write(FCR, fcr);
    uart.Write(MCR, 0x0b);  // DTR, RTS, OUT2
  }

  Clock clock;
  RecordingIrq irq;
  std::string out;
  Uart16550 uart;
};

TEST_F(UartTest, ScratchAndIerProbe) {
  // autoconfig(): IER must read back 0 and 0x0f, and bits 4-7 do not exist.
  uart.Write(IER, 0);
  EXPECT_EQ(uart.Read(IER) & 0x0f, 0);
  uart.Write(IER, 0x0f);
  EXPECT_EQ(uart.Read(IER), 0x0f);
  uart.Write(IER, 0xff);
  EXPECT_EQ(uart.Read(IER), 0x0f);  // no Xscale UUE bit
  uart.Write(IER, 0);
  uart.Write(SCR, 0xa5);
  EXPECT_EQ(uart.Read(SCR), 0xa5);
}

TEST_F(UartTest, LoopbackModemStatusProbe) {
  // autoconfig(): MCR = LOOP | OUT2 | RTS must give MSR high nibble 0x90.
  const uint8_t save = uart.Read(MCR);
  uart.Write(MCR, 0x10 | 0x0a);
  EXPECT_EQ(uart.Read(MSR) & 0xf0, 0x90);
  uart.Write(MCR, 0x10 | 0x05);  // DTR -> DSR, OUT1 -> RI
  EXPECT_EQ(uart.Read(MSR) & 0xf0, 0x60);
  uart.Write(MCR, save);
  EXPECT_EQ(uart.Read(MSR) & 0xf0, 0xb0);  // out of loopback: CTS, DSR, DCD
}

TEST_F(UartTest, IdentifiesAs16550A) {
  uart.Write(LCR, 0xbf);
  uart.Write(FCR, 0);  // the probe's EFR write; on a 16550A it is FCR
  uart.Write(LCR, 0);
  uart.Write(FCR, 0x01);
  EXPECT_EQ(uart.Read(IIR) >> 6, 3);  // FIFOs enabled: a 16550A
  // No EFR under DLAB (would read 0 on a 16650), no 64-byte FIFO bit.
  uart.Write(LCR, 0x80);
  EXPECT_NE(uart.Read(IIR), 0);
  uart.Write(LCR, 0xbf);
  EXPECT_NE(uart.Read(IIR), 0);
  uart.Write(LCR, 0);
  uart.Write(FCR, 0x21);
  EXPECT_EQ(uart.Read(IIR) >> 5, 6);  // bit 5 stays clear: not a 16750
  uart.Write(FCR, 0);
  EXPECT_EQ(uart.Read(IIR), 0x01);
}

TEST_F(UartTest, DivisorLatch) {
  uart.Write(LCR, 0x80);
  uart.Write(DLL, 0x34);
  uart.Write(DLM, 0x12);
  EXPECT_EQ(uart.Read(DLL), 0x34);
  EXPECT_EQ(uart.Read(DLM), 0x12);
  uart.Write(LCR, 0x03);
  EXPECT_EQ(uart.Read(LCR), 0x03);
  EXPECT_EQ(uart.Read(IER), 0);  // IER again, not DLM
  uart.Write(THR, 'x');
  EXPECT_EQ(out, "x");  // a data write, not the divisor
}

TEST_F(UartTest, TransmitGoesToSinkAndThrIsAlwaysEmpty) {
  for (char c : std::string("hello")) {
    EXPECT_EQ(uart.Read(LSR) & 0x60, 0x60);
    uart.Write(THR, static_cast<uint8_t>(c));
  }
  EXPECT_EQ(out, "hello");
  EXPECT_EQ(uart.Read(LSR) & 0x60, 0x60);
  EXPECT_FALSE(irq.level);  // no interrupt enabled
}

TEST_F(UartTest, ThreInterruptRetriggersWhenIerIsWritten) {
  // serial8250_do_startup()'s test: IER = THRI must raise THRE at once, an IIR
  // read acknowledges it, and IER = 0 then THRI raises it again.
  uart.Write(IER, 0x02);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0x02);
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0x01);
  uart.Write(IER, 0x00);
  uart.Write(IER, 0x02);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0x02);
  // Rewriting IER with ETBEI already on does not re-raise it (rising edge only).
  uart.Write(IER, 0x02);
  EXPECT_EQ(uart.Read(IIR), 0x01);
  // Writing THR does: THR empties again once the byte is gone.
  uart.Write(THR, 'a');
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0x02);
  // Turning ETBEI off drops the line.
  uart.Write(THR, 'b');
  EXPECT_TRUE(irq.level);
  uart.Write(IER, 0);
  EXPECT_FALSE(irq.level);
}

TEST_F(UartTest, ReceiveTriggerLevelAndCharacterTimeout) {
  SetupLikeLinux(0x81);  // FIFO on, trigger 8 (Linux's 16550A setting)
  uart.Write(IER, 0x01);
  EXPECT_EQ(uart.Read(IIR), 0xc1);

  Push("abc");
  uart.PollInput();
  EXPECT_EQ(uart.rx_count(), 3u);
  EXPECT_EQ(uart.Read(IIR), 0xc1) << "below the trigger level: no interrupt yet";
  EXPECT_FALSE(irq.level);
  // Four character times at 115200 8N1 are ~0.35 ms.
  WaitAndRunTimers();
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0xcc);
  EXPECT_EQ(uart.Read(RBR), 'a');  // reading clears the timeout
  EXPECT_EQ(uart.Read(IIR), 0xc1);
  EXPECT_FALSE(irq.level);
  WaitAndRunTimers();  // still two bytes there: it times out again
  EXPECT_EQ(uart.Read(IIR), 0xcc);
  EXPECT_EQ(ReadAll(), "bc");
  EXPECT_FALSE(irq.level);
  WaitAndRunTimers();
  EXPECT_EQ(uart.Read(IIR), 0xc1) << "empty FIFO: no timeout";

  Push("0123456789");
  uart.PollInput();
  EXPECT_EQ(uart.Read(IIR), 0xc4) << "at the trigger level: data available";
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(ReadAll(), "0123456789");
  EXPECT_FALSE(irq.level);
}

TEST_F(UartTest, TriggerLevels) {
  const struct {
    uint8_t fcr;
    unsigned level;
  } cases[] = {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}};
  for (const auto& c : cases) {
    uart.Reset();
    SetupLikeLinux(c.fcr);
    uart.Write(IER, 0x01);
    Push(std::string(c.level - 1, 'x'));
    uart.PollInput();
    EXPECT_EQ(uart.Read(IIR) & 0x0f, 0x01) << "fcr " << int(c.fcr);
    Push("y");
    uart.PollInput();
    EXPECT_EQ(uart.Read(IIR) & 0x0f, 0x04) << "fcr " << int(c.fcr);
    ReadAll();
  }
}

TEST_F(UartTest, HostInputWaitsForRoomInsteadOfOverrunning) {
  SetupLikeLinux(0xc1);
  std::string text;
  for (int i = 0; i < 100; i++) text.push_back(static_cast<char>('A' + i % 26));
  Push(text);
  uart.PollInput();
  EXPECT_EQ(uart.rx_count(), 16u);
  EXPECT_EQ(uart.input().size(), 84u);
  EXPECT_EQ(ReadAll(), text);
  EXPECT_EQ(uart.Read(LSR) & 0x02, 0) << "no overrun";
}

TEST_F(UartTest, NonFifoModeHoldsOneCharacter) {
  uart.Write(IER, 0x01);
  Push("xy");
  uart.PollInput();
  EXPECT_EQ(uart.rx_count(), 1u);
  EXPECT_EQ(uart.Read(IIR), 0x04);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(RBR), 'x');
  EXPECT_EQ(uart.Read(IIR), 0x04) << "the next byte moved in";
  EXPECT_EQ(uart.Read(RBR), 'y');
  EXPECT_EQ(uart.Read(IIR), 0x01);
  EXPECT_EQ(uart.Read(RBR), 'y') << "an empty RBR reads the last byte again";
  EXPECT_EQ(uart.Read(LSR) & 0x01, 0);
}

TEST_F(UartTest, PushSchedulesPollThroughTheClock) {
  std::atomic<int> kicks{0};
  clock.SetKick([&] { kicks++; });
  uart.Write(IER, 0x01);
  Push("k");
  // The clock's watcher kicks the vCPU; the vCPU runs the expired timers.
  for (int i = 0; i < 2000 && kicks == 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GT(kicks.load(), 0);
  clock.RunExpired();
  EXPECT_EQ(uart.rx_count(), 1u);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(RBR), 'k');
}

TEST_F(UartTest, PushFromAnotherThread) {
  std::thread reader([this] {
    for (int i = 0; i < 50; i++) Push("ab");
  });
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    clock.RunExpired();
    got += ReadAll();
  }
  reader.join();
  got += ReadAll();
  std::string want;
  for (int i = 0; i < 50; i++) want += "ab";
  EXPECT_EQ(got, want);
}

TEST_F(UartTest, LoopbackTransmitsIntoReceiverAndHoldsHostInput) {
  uart.Write(FCR, 0x01);
  uart.Write(MCR, 0x10);
  Push("host");
  uart.PollInput();
  EXPECT_EQ(uart.rx_count(), 0u) << "the receiver is disconnected from the host in loopback";
  uart.Write(THR, 'L');
  EXPECT_EQ(out, "") << "loopback data does not reach the line";
  EXPECT_EQ(uart.Read(LSR) & 0x01, 0x01);
  EXPECT_EQ(uart.Read(RBR), 'L');
  uart.Write(MCR, 0x0b);
  EXPECT_EQ(ReadAll(), "host");
}

TEST_F(UartTest, LoopbackOverrunReportsLineStatus) {
  uart.Write(FCR, 0x01);
  uart.Write(MCR, 0x10);
  uart.Write(IER, 0x04);  // receiver line status only
  for (int i = 0; i < 17; i++) uart.Write(THR, static_cast<uint8_t>('a' + i));
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0xc6);
  EXPECT_EQ(uart.Read(LSR) & 0x03, 0x03);  // DR | OE
  EXPECT_FALSE(irq.level) << "reading LSR clears the error";
  EXPECT_EQ(uart.Read(LSR) & 0x02, 0);
  EXPECT_EQ(ReadAll(), "abcdefghijklmnop");
}

TEST_F(UartTest, ModemStatusDeltasAndInterrupt) {
  uart.Write(MCR, 0x10);  // loopback, all outputs off
  uart.Read(MSR);         // clear the deltas of entering loopback
  uart.Write(IER, 0x08);
  EXPECT_FALSE(irq.level);
  uart.Write(MCR, 0x10 | 0x02);  // RTS -> CTS
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(uart.Read(IIR), 0x00);
  EXPECT_EQ(uart.Read(MSR), 0x10 | 0x01);  // CTS, DCTS
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(uart.Read(MSR), 0x10);
  uart.Write(MCR, 0x10 | 0x04);  // OUT1 -> RI rises: no TERI; CTS falls: DCTS
  EXPECT_EQ(uart.Read(MSR), 0x40 | 0x01);
  uart.Write(MCR, 0x10);  // RI falls: TERI
  EXPECT_EQ(uart.Read(MSR), 0x04);
}

TEST_F(UartTest, BreakArrivesAsNulWithBreakIndication) {
  SetupLikeLinux(0x01);
  uart.Write(IER, 0x05);
  Push("a");
  uart.input().PushBreak();
  Push("b");
  uart.PollInput();
  EXPECT_EQ(uart.Read(IIR), 0xc4);  // 'a' at the top has no error
  uint8_t lsr = uart.Read(LSR);
  EXPECT_EQ(lsr & 0x11, 0x01);
  EXPECT_EQ(lsr & 0x80, 0x80) << "an error character is in the FIFO";
  EXPECT_EQ(uart.Read(RBR), 'a');
  EXPECT_EQ(uart.Read(IIR), 0xc6) << "the break is at the top now";
  lsr = uart.Read(LSR);
  EXPECT_EQ(lsr & 0x11, 0x11);
  EXPECT_EQ(uart.Read(RBR), 0);
  EXPECT_EQ(uart.Read(LSR) & 0x91, 0x01);
  EXPECT_EQ(uart.Read(RBR), 'b');
}

TEST_F(UartTest, FifoControlClearsReceiver) {
  SetupLikeLinux(0x01);
  Push("abc");
  uart.PollInput();
  EXPECT_EQ(uart.rx_count(), 3u);
  uart.Write(FCR, 0x03);
  EXPECT_EQ(uart.rx_count(), 0u);
  Push("de");
  uart.PollInput();
  uart.Write(FCR, 0x00);  // turning FIFOs off resets them
  EXPECT_EQ(uart.rx_count(), 0u);
  EXPECT_EQ(uart.Read(IIR), 0x01);
}

TEST_F(UartTest, PortBusAccess) {
  PortBus bus;
  uart.Register(bus);
  bus.Write(0x3f8, 1, 'p');
  EXPECT_EQ(out, "p");
  EXPECT_EQ(bus.Read(0x3fd, 1) & 0x60, 0x60);
  bus.Write(0x3ff, 1, 0x5a);
  EXPECT_EQ(bus.Read(0x3ff, 1), 0x5au);
  // A word access covers two registers: LCR (0x3fb) and MCR (0x3fc).
  bus.Write(0x3fb, 2, 0x0b03);
  EXPECT_EQ(uart.Read(LCR), 0x03);
  EXPECT_EQ(uart.Read(MCR), 0x0b);
}

TEST_F(UartTest, ResetRestoresPowerOnState) {
  SetupLikeLinux(0xc1);
  uart.Write(IER, 0x0f);
  Push("zz");
  uart.PollInput();
  uart.Reset();
  EXPECT_EQ(uart.Read(IER), 0);
  EXPECT_EQ(uart.Read(IIR), 0x01);
  EXPECT_EQ(uart.Read(LCR), 0);
  EXPECT_EQ(uart.Read(MCR), 0x08);
  EXPECT_EQ(uart.rx_count(), 0u);
  EXPECT_FALSE(irq.level);
  uart.Write(LCR, 0x80);
  EXPECT_EQ(uart.Read(DLL), 12);
}

}  // namespace
}  // namespace xlat
