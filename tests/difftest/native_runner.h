// Runs a sequence natively on the host: the reference.
//
// The code and data areas are mapped at their fixed addresses (layout.h),
// the sequence is copied to its VA followed by a jump to dt_native_exit
// instead of the guest's hlt, and dt_native_enter loads the whole state
// (rsp included) and jumps in. A fault (SIGFPE/SIGSEGV/SIGILL/SIGBUS) raised
// by the sequence is caught on the alternate signal stack and turned into an
// exit at the faulting instruction with every register as it was, so a
// faulting run is compared like any other.
//
// With tracing on, TF single-steps the sequence and each instruction is
// checked before it executes: it lies inside the sequence, its memory
// operands stay inside the data areas (or their guard pages, or the pool),
// and stack operations happen with rsp inside the data area. That is how the
// self-check proves the generator never points an access at host memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/difftest/cpu_state.h"
#include "tests/difftest/generator.h"

namespace difftest {

struct TraceResult {
  uint64_t steps = 0;                   // instructions single-stepped inside the sequence
  std::vector<std::string> violations;  // empty when every check passed
};

class NativeRunner {
 public:
  NativeRunner() = default;
  ~NativeRunner();
  NativeRunner(const NativeRunner&) = delete;
  NativeRunner& operator=(const NativeRunner&) = delete;

  // Maps the areas at their fixed addresses. False (with *error) if the
  // host has something there.
  bool Init(std::string* error);

  // Runs `s` from its initial state and data; `out` gets the final state.
  // The data areas keep the final contents (data(), low()).
  void Run(const Sequence& s, CpuState* out, TraceResult* trace = nullptr);

  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(kDataVa); }
  const uint8_t* low() const { return reinterpret_cast<const uint8_t*>(kLowVa); }

  // Address the native terminator jumps to.
  static uint64_t ExitStub();

 private:
  void LoadCode(const Sequence& s);
  bool mapped_ = false;
  uint64_t last_code_lo_ = 0, last_code_hi_ = 0;
  void* altstack_ = nullptr;
};

}  // namespace difftest
