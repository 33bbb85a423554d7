#include "tests/difftest/selfcheck.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/difftest/forms.h"
#include "tests/difftest/generator.h"
#include "tests/difftest/report.h"

namespace difftest {

int SelfCheck(uint64_t run_seed, uint64_t sequences, int min_forms, NativeRunner& native) {
  const auto& forms = AllForms();
  int failures = 0;
  std::printf("selfcheck: %zu instruction forms\n", forms.size());
  if (static_cast<int>(forms.size()) < min_forms) {
    std::printf("FAIL: fewer than %d forms\n", min_forms);
    failures++;
  }
  auto run_both = [&](const Sequence& s, const char* what) {
    CpuState a, b;
    TraceResult tr;
    native.Run(s, &a, &tr);
    std::vector<uint8_t> d(native.data(), native.data() + kDataBytes), l(native.low(), native.low() + kLowBytes);
    native.Run(s, &b);
    std::vector<std::string> diffs = CompareStates(a, b, false);
    auto m1 = CompareBytes(d.data(), native.data(), kDataBytes, kDataVa, 4);
    auto m2 = CompareBytes(l.data(), native.low(), kLowBytes, kLowVa, 4);
    diffs.insert(diffs.end(), m1.begin(), m1.end());
    diffs.insert(diffs.end(), m2.begin(), m2.end());
    if (diffs.empty() && tr.violations.empty()) return std::make_pair(a, tr.steps);
    failures++;
    if (failures <= 5) {
      std::printf("FAIL (%s, seed %#" PRIx64 "):\n", what, s.seed);
      for (auto& v : tr.violations) std::printf("  trace: %s\n", v.c_str());
      for (auto& x : diffs) std::printf("  traced vs untraced: %s\n", x.c_str());
      std::printf("%s", DisassembleSequence(s, a.rip).c_str());
    }
    return std::make_pair(a, tr.steps);
  };

  // 1. Every form can be generated and runs within bounds.
  GenStats st;
  int unemitted = 0;
  for (size_t i = 0; i < forms.size(); i++) {
    std::vector<char> only(forms.size(), 0);
    only[i] = 1;
    GenOptions go;
    go.enabled = &only;
    go.min_items = 1;
    go.max_items = 4;
    for (int rep = 0; rep < 4; rep++) {
      Sequence s;
      std::string err;
      GenStats one;
      const uint64_t seed = SequenceSeed(run_seed ^ 0x5e1fc4ec, i * 4 + static_cast<uint64_t>(rep));
      if (!GenerateSequence(seed, go, &s, &one, &err) || one.per_form[i] == 0) {
        if (++unemitted <= 20) std::printf("FAIL: form \"%s\" cannot be generated: %s\n", forms[i].name.c_str(), err.c_str());
        failures++;
        break;
      }
      run_both(s, forms[i].name.c_str());
    }
  }
  std::printf("selfcheck: every form generated and traced: %s\n", unemitted ? "NO" : "yes");

  // 2. Random sequences: traced (bounds) vs untraced (determinism).
  const uint64_t n = sequences;
  std::map<int, int> ends;
  uint64_t steps = 0;
  int unexpected = 0;
  for (uint64_t i = 0; i < n; i++) {
    Sequence s;
    std::string err;
    GenOptions go;
    if (!GenerateSequence(SequenceSeed(run_seed, i), go, &s, &st, &err)) {
      std::printf("FAIL: generation error for sequence %" PRIu64 ": %s\n", i, err.c_str());
      failures++;
      continue;
    }
    auto [state, k] = run_both(s, "random sequence");
    ends[state.vector]++;
    steps += k;
    if (state.vector != kNoFault) {
      // Faults must come from forms that are meant to (or allowed to) fault.
      const Form* culprit = nullptr;
      for (const ItemInfo& it : s.items)
        if (state.rip >= s.entry + it.begin && state.rip < s.entry + it.end) culprit = &forms[it.form];
      if (!culprit || !(culprit->flags & (kFFault | kFMayFault))) {
        failures++;
        if (++unexpected <= 5) {
          std::printf("FAIL: unexpected fault (vector %d) in form \"%s\", seed %#" PRIx64 "\n", state.vector,
                      culprit ? culprit->name.c_str() : "?", s.seed);
          std::printf("%s", DisassembleSequence(s, state.rip).c_str());
          std::printf("%s", FormatState(state).c_str());
        }
      }
    }
  }
  PrintCoverage(st, n);
  std::printf("selfcheck: %" PRIu64 " random sequences run twice (traced, untraced), %" PRIu64
              " instructions single-stepped; endings:",
              n, steps);
  for (auto& [v, c] : ends) std::printf(" %s=%d", v == kNoFault ? "end" : ("vector" + std::to_string(v)).c_str(), c);
  std::printf("\n");
  const double faulted = 1.0 - static_cast<double>(ends[kNoFault]) / static_cast<double>(n);
  if (faulted > 0.10) {
    std::printf("FAIL: %.1f%% of sequences end in a fault (generator too careless)\n", 100 * faulted);
    failures++;
  }
  std::printf("selfcheck: %s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}

}  // namespace difftest
