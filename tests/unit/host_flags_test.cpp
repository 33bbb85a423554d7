// HostLogicOpsDefineAf (translator/liveness.h) lets the translator take AF as
// written by and/or/xor/test. Here its answer is checked against the host
// on random operands, through sahf/lahf rather than the probe's popfq and
// pushfq: when it says yes, no operand may make the AF after depend on the
// AF before; when it says no, some operand must.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "translator/liveness.h"

namespace xlat {
namespace {

// AH after sahf(ah_in); op a, b; lahf. (sahf and lahf touch only AH and
// SF ZF AF PF CF: no stack, no red zone.)
uint8_t LahfAfter(unsigned op, uint64_t a, uint64_t b, uint8_t ah_in) {
  uint64_t rax = static_cast<uint64_t>(ah_in) << 8;
  switch (op) {
    case 0: __asm__ volatile("sahf\n\tandq %[b], %[a]\n\tlahf" : "+a"(rax), [a] "+r"(a) : [b] "r"(b) : "cc"); break;
    case 1: __asm__ volatile("sahf\n\torl %k[b], %k[a]\n\tlahf" : "+a"(rax), [a] "+r"(a) : [b] "r"(b) : "cc"); break;
    case 2: __asm__ volatile("sahf\n\txorw %w[b], %w[a]\n\tlahf" : "+a"(rax), [a] "+r"(a) : [b] "r"(b) : "cc"); break;
    default: __asm__ volatile("sahf\n\ttestb %b[b], %b[a]\n\tlahf" : "+a"(rax), [a] "+r"(a) : [b] "r"(b) : "cc"); break;
  }
  return static_cast<uint8_t>(rax >> 8);
}

TEST(HostFlags, LogicOpsDefineAfAsTheProbeSays) {
  const bool defined = HostLogicOpsDefineAf();
  std::mt19937_64 rng(7);
  bool passed_through = false;
  for (int i = 0; i < 20000; ++i) {
    const unsigned op = static_cast<unsigned>(rng() % 4);
    const uint64_t a = rng() >> (rng() % 64), b = rng() >> (rng() % 64);
    const uint8_t others = static_cast<uint8_t>(rng() & 0xc5);  // SF ZF PF CF, AF clear
    const uint8_t af_clear = LahfAfter(op, a, b, others);
    const uint8_t af_set = LahfAfter(op, a, b, others | 0x10);
    if ((af_clear ^ af_set) & 0x10) {
      passed_through = true;
      ASSERT_FALSE(defined) << "AF passed through op " << op << " a " << a << " b " << b;
    }
  }
  EXPECT_EQ(defined, !passed_through) << "the probe says AF passes through, but no operand showed it";
}

}  // namespace
}  // namespace xlat
