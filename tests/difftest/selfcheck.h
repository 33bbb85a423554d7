// The native self-check: everything that can be verified without a guest.
//
//  1. The form table has at least `min_forms` forms and every form can be
//     generated (each is generated alone and run).
//  2. `sequences` random sequences run natively twice: single-stepped with
//     TF, where every instruction is checked before it executes (inside the
//     sequence, memory operands inside the data areas, rsp inside the data
//     area for stack operations), and normally. Both runs must agree: the
//     sequences are deterministic and never touch host memory.
//  3. Only forms meant to fault fault, and fewer than 10% of sequences end in
//     a fault.
#pragma once

#include <cstdint>

#include "tests/difftest/native_runner.h"

namespace difftest {

// Prints what it checked; 0 when everything passed.
int SelfCheck(uint64_t run_seed, uint64_t sequences, int min_forms, NativeRunner& native);

}  // namespace difftest
