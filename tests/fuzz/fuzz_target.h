// The fuzz target's entry, shared by the libFuzzer build and the standalone
// runner (standalone_main.cpp) that replays inputs in the normal build.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xlat::fuzz {

// Runs one input; aborts (after a report on stderr) when an invariant fails.
int RunOneInput(const uint8_t* data, size_t size);

// Named in crash reports (the standalone runner sets it per file).
void SetCurrentInputName(const char* name);

// True in the libFuzzer build (a weak libFuzzer symbol is present).
bool HaveLibFuzzer();

}  // namespace xlat::fuzz
