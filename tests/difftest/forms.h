// The instruction forms the differential test draws from: data, not code.
//
// A form is a mnemonic with operand kinds ("add m64, r64", "vfmadd231ps ymm,
// ymm, m256", "fld m80") and flags that say how the generator must treat it
// (lock/rep prefixes, alignment, stack effect, x87 stack effect). Most forms
// are emitted by one generic routine: pick registers and immediates, place
// the memory operand in a data area with a random addressing mode (loading
// base and index registers right before the instruction), encode with the
// Zydis encoder. Forms that need a context -- a divisor that cannot trap,
// string registers, a call with a body and a ret, a gather index vector --
// name a generator function instead (composites.cpp).
//
// The table is built once (forms_*.cpp) and checked: every form must encode
// (Builder self-check) and names are unique, so `--form NAME` finds one.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace difftest {

enum class Op : uint8_t {
  kNone,
  // General-purpose registers picked at random; never rsp/spl. kR8 includes
  // ah/ch/dh/bh (the encoder refuses them next to a REX prefix; the generator
  // then draws again).
  kR8, kR16, kR32, kR64,
  // Fixed registers.
  kAl, kAx, kEax, kRax, kCl, kDx,
  // A register holding a bit offset the generator controls (bt* m, r): the
  // addressed bit stays within +-256 bytes of the operand.
  kBo16, kBo32, kBo64,
  // Immediates: kI8..kI64 full width, kS8 a small signed value that takes the
  // sign-extended imm8 encoding, kOne the constant 1 (shift-by-one forms).
  kI8, kI16, kI32, kI64, kS8, kOne,
  // Memory operands by access size in bytes.
  kM8, kM16, kM32, kM64, kM80, kM128, kM256, kM512,
  kMEnv,    // 28-byte x87 environment
  kMSave,   // 108-byte x87 state (fnsave/frstor)
  kMLine,   // clflush: encoded as 64 bytes, touches one byte
  kMAgen,   // lea: address computation only, any register values
  // Vector and x87 registers.
  kXmm, kYmm, kXmmIs4, kYmmIs4, kXmm0, kMm, kSt0, kSti,
  kCount
};

enum class OpClass : uint8_t { kNone, kGpr, kGprFixed, kBitOff, kImm, kMem, kAgen, kVec, kMmx, kX87 };

struct OpInfo {
  const char* name;
  OpClass cls;
  uint16_t size;      // register width or memory access size in bytes
  uint16_t enc_size;  // memory operand size the encoder expects (0: same as size)
};
const OpInfo& Info(Op op);

// Form flags.
enum : uint32_t {
  kFLock = 1u << 0,        // lock prefix
  kFRep = 1u << 1,         // rep prefix
  kFRepe = 1u << 2,        // repe
  kFRepne = 1u << 3,       // repne
  kFA32 = 1u << 4,         // always 32-bit addressing (0x67), operands in the low area
  kFNoA32 = 1u << 5,       // never 32-bit addressing
  kFAlignVec = 1u << 6,    // 16/32-byte memory operands must be aligned to their size
  kFAlign16 = 1u << 7,     // memory operand 16-byte aligned (cmpxchg16b, fxsave)
  kFStack = 1u << 8,       // moves rsp by rsp_delta (the generator keeps rsp in the stack area)
  kFControl = 1u << 9,     // contains control flow or call/ret (composites)
  kFFault = 1u << 10,      // deliberately faults: ends the sequence
  kFMayFault = 1u << 11,   // may fault on some data (reported, not an error)
  kFMmx = 1u << 12,        // MMX instruction: x87 tags all valid, TOP 0 afterwards
  kFX87 = 1u << 13,        // x87 instruction (fpu_need / fpu_delta apply)
  kFNoCross = 1u << 14,    // never place the memory operand across a page boundary
  kFNotNeutral = 1u << 15, // changes tracked state: not allowed inside bodies/skip regions
  kFSetsDf = 1u << 16,     // may change DF
  kFNoRspBase = 1u << 17,  // memory operand must not use rsp as base
  kFUnaligned = 1u << 18,  // informational: legacy SSE form that accepts unaligned m128
};

// Statistics categories.
enum class Cat : uint8_t { kGp, kBmi, kStack, kString, kControl, kSse, kAvx, kFma, kX87, kMmx, kFault, kCount };
const char* CatName(Cat c);

class Gen;
struct Form;
// A generator emits one item (the setup it needs and the form's instruction)
// at the builder's position. False means "cannot here" (the item is rolled
// back and another one drawn); it must not leave partial state.
using GenFn = bool (*)(Gen& g, const Form& f);

struct Form {
  std::string name;
  ZydisMnemonic mnemonic = ZYDIS_MNEMONIC_INVALID;
  uint8_t nops = 0;
  Op ops[4] = {};
  uint32_t flags = 0;
  int16_t rsp_delta = 0;  // kFStack forms: how far rsp moves
  int8_t fpu_delta = 0;   // x87 stack effect: +1 push, -1 pop, ...
  uint8_t fpu_need = 0;   // x87 registers that must be valid before
  Cat cat = Cat::kGp;
  float weight = 1.0f;
  GenFn gen = nullptr;    // nullptr: the generic generator
  int64_t param = 0;      // generator-specific
  int64_t param2 = 0;

  bool has_mem() const;
  int mem_index() const;  // index of the memory operand, or -1
};

// Builds the table. Each forms_*.cpp contributes one Add*Forms function.
class FormTable {
 public:
  using Sig = std::initializer_list<Op>;
  // One form: mnemonic + operand kinds.
  Form& Add(ZydisMnemonic m, Sig ops, uint32_t flags = 0);
  // Every mnemonic with every signature.
  void Family(std::initializer_list<ZydisMnemonic> ms, std::initializer_list<Sig> sigs, uint32_t flags = 0);
  // A form with its own generator.
  Form& Custom(const std::string& name, GenFn gen, uint32_t flags = 0, ZydisMnemonic m = ZYDIS_MNEMONIC_INVALID,
               int64_t param = 0, int64_t param2 = 0);

  // Defaults applied to forms added from now on.
  void SetCategory(Cat c) { cat_ = c; }
  void SetWeight(float w) { weight_ = w; }

  std::vector<Form>& forms() { return forms_; }
  // Makes names unique (appending #2, #3...) and returns the table.
  std::vector<Form> Finish();

 private:
  std::vector<Form> forms_;
  Cat cat_ = Cat::kGp;
  float weight_ = 1.0f;
};

void AddGpForms(FormTable& t);
void AddStackStringControlForms(FormTable& t);
void AddSseForms(FormTable& t);
void AddAvxForms(FormTable& t);
void AddX87MmxForms(FormTable& t);

// The whole table, built once.
const std::vector<Form>& AllForms();

std::string DefaultFormName(const Form& f);

}  // namespace difftest
