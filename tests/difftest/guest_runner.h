// The side under test: something that runs a sequence as a guest and
// reports the same state the native runner does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/difftest/cpu_state.h"
#include "tests/difftest/generator.h"

namespace difftest {

class GuestRunner {
 public:
  virtual ~GuestRunner() = default;
  // Runs `s` from its initial state and data. On return `out` holds the
  // final state and `data`/`low` the final contents of the data areas.
  // False when the run did not end in hlt or a guest exception (VMM error,
  // stop request...); *note says how it ended.
  virtual bool Run(const Sequence& s, CpuState* out, std::vector<uint8_t>* data, std::vector<uint8_t>* low,
                   std::string* note) = 0;
  // Asks a run in progress to stop (the watchdog). Callable from any thread.
  virtual void RequestStop() = 0;
};

// The xlat vCPU (xlat_runner.cpp), or nullptr with *error when this binary
// was built without it (xlat_runner_stub.cpp).
// `precise_flags`: xlat keeps arithmetic flags exact at every fault
// (VcpuConfig::precise_fault_flags); without it they may differ in a #PF
// frame where they are dead (README.md).
std::unique_ptr<GuestRunner> MakeXlatRunner(std::string* error, bool precise_flags = false);

}  // namespace difftest
