// How interrupts travel: a device drives an IrqLine (level), an interrupt
// controller (8259 PIC pair, I/O APIC) turns lines into vectors for the local
// APIC, and the local APIC is the CPU's InterruptSource.
//
// All device code runs on the vCPU thread. When an interrupt becomes
// deliverable, the source calls the `kick` it was given, which makes the
// vCPU leave translated code at the next block boundary (or wake from hlt)
// and ask HasPending()/Acknowledge().
#pragma once

#include <cstdint>
#include <functional>

namespace xlat {

// One interrupt request line, level-triggered (edge-triggered inputs see the
// rising edge).
class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void Set(bool level) = 0;
  void Raise() { Set(true); }
  void Lower() { Set(false); }
  void Pulse() {
    Set(true);
    Set(false);
  }
};

// A line that calls a function: how a controller exposes its inputs.
class FunctionIrqLine : public IrqLine {
 public:
  explicit FunctionIrqLine(std::function<void(bool)> fn) : fn_(std::move(fn)) {}
  void Set(bool level) override { fn_(level); }

 private:
  std::function<void(bool)> fn_;
};

// What the CPU asks at an instruction boundary where RFLAGS.IF = 1.
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  // A maskable interrupt is waiting (given the current task priority).
  virtual bool HasPending() = 0;
  // The CPU takes it: returns its vector (and moves it to in-service), or -1
  // if it went away (the CPU then does nothing).
  virtual int Acknowledge() = 0;
};

// Model-specific registers a device owns (the local APIC's x2APIC range and
// TSC deadline). Return false for an MSR the device does not have.
class MsrDevice {
 public:
  virtual ~MsrDevice() = default;
  virtual bool ReadMsr(uint32_t msr, uint64_t* value) = 0;
  virtual bool WriteMsr(uint32_t msr, uint64_t value) = 0;  // false also for a bad value (#GP)
  // CR8 is the local APIC's task priority, TPR[7:4], in xAPIC and x2APIC
  // mode alike. A device without one leaves CR8 a plain register.
  virtual bool HasTaskPriority() const { return false; }
  virtual uint64_t GetCr8() const { return 0; }
  virtual void SetCr8(uint64_t) {}
};

}  // namespace xlat
