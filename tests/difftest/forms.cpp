#include "tests/difftest/forms.h"

#include <cctype>
#include <map>

namespace difftest {

namespace {

constexpr OpInfo kOpInfo[] = {
    {"", OpClass::kNone, 0, 0},
    {"r8", OpClass::kGpr, 1, 0},
    {"r16", OpClass::kGpr, 2, 0},
    {"r32", OpClass::kGpr, 4, 0},
    {"r64", OpClass::kGpr, 8, 0},
    {"al", OpClass::kGprFixed, 1, 0},
    {"ax", OpClass::kGprFixed, 2, 0},
    {"eax", OpClass::kGprFixed, 4, 0},
    {"rax", OpClass::kGprFixed, 8, 0},
    {"cl", OpClass::kGprFixed, 1, 0},
    {"dx", OpClass::kGprFixed, 2, 0},
    {"r16bo", OpClass::kBitOff, 2, 0},
    {"r32bo", OpClass::kBitOff, 4, 0},
    {"r64bo", OpClass::kBitOff, 8, 0},
    {"imm8", OpClass::kImm, 1, 0},
    {"imm16", OpClass::kImm, 2, 0},
    {"imm32", OpClass::kImm, 4, 0},
    {"imm64", OpClass::kImm, 8, 0},
    {"simm8", OpClass::kImm, 1, 0},
    {"1", OpClass::kImm, 1, 0},
    {"m8", OpClass::kMem, 1, 0},
    {"m16", OpClass::kMem, 2, 0},
    {"m32", OpClass::kMem, 4, 0},
    {"m64", OpClass::kMem, 8, 0},
    {"m80", OpClass::kMem, 10, 0},
    {"m128", OpClass::kMem, 16, 0},
    {"m256", OpClass::kMem, 32, 0},
    {"m512", OpClass::kMem, 512, 0},
    {"m28env", OpClass::kMem, 28, 0},
    {"m108", OpClass::kMem, 108, 0},
    {"mline", OpClass::kMem, 1, 64},
    {"agen", OpClass::kAgen, 0, 0},
    {"xmm", OpClass::kVec, 16, 0},
    {"ymm", OpClass::kVec, 32, 0},
    {"xmm(is4)", OpClass::kVec, 16, 0},
    {"ymm(is4)", OpClass::kVec, 32, 0},
    {"xmm0", OpClass::kVec, 16, 0},
    {"mm", OpClass::kMmx, 8, 0},
    {"st0", OpClass::kX87, 10, 0},
    {"st(i)", OpClass::kX87, 10, 0},
};
static_assert(sizeof(kOpInfo) / sizeof(kOpInfo[0]) == static_cast<size_t>(Op::kCount));

}  // namespace

const OpInfo& Info(Op op) { return kOpInfo[static_cast<size_t>(op)]; }

const char* CatName(Cat c) {
  static const char* const kNames[] = {"gp", "bmi", "stack", "string", "control", "sse", "avx", "fma", "x87", "mmx",
                                       "fault"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Cat::kCount));
  return kNames[static_cast<size_t>(c)];
}

bool Form::has_mem() const { return mem_index() >= 0; }

int Form::mem_index() const {
  for (int i = 0; i < nops; i++) {
    const OpClass c = Info(ops[i]).cls;
    if (c == OpClass::kMem || c == OpClass::kAgen) return i;
  }
  return -1;
}

std::string DefaultFormName(const Form& f) {
  std::string s;
  if (f.flags & kFLock) s += "lock ";
  if (f.flags & kFRep) s += "rep ";
  if (f.flags & kFRepe) s += "repe ";
  if (f.flags & kFRepne) s += "repne ";
  std::string m = ZydisMnemonicGetString(f.mnemonic) ? ZydisMnemonicGetString(f.mnemonic) : "?";
  for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  s += m;
  for (int i = 0; i < f.nops; i++) {
    s += (i == 0) ? " " : ", ";
    s += Info(f.ops[i]).name;
  }
  if (f.flags & kFA32) s += " (a32)";
  return s;
}

Form& FormTable::Add(ZydisMnemonic m, Sig ops, uint32_t flags) {
  Form f;
  f.mnemonic = m;
  for (Op o : ops) f.ops[f.nops++] = o;
  f.flags = flags;
  f.cat = cat_;
  f.weight = weight_;
  f.name = DefaultFormName(f);
  forms_.push_back(f);
  return forms_.back();
}

void FormTable::Family(std::initializer_list<ZydisMnemonic> ms, std::initializer_list<Sig> sigs, uint32_t flags) {
  for (ZydisMnemonic m : ms)
    for (const Sig& s : sigs) Add(m, s, flags);
}

Form& FormTable::Custom(const std::string& name, GenFn gen, uint32_t flags, ZydisMnemonic m, int64_t param,
                        int64_t param2) {
  Form f;
  f.name = name;
  f.mnemonic = m;
  f.flags = flags;
  f.cat = cat_;
  f.weight = weight_;
  f.gen = gen;
  f.param = param;
  f.param2 = param2;
  forms_.push_back(f);
  return forms_.back();
}

std::vector<Form> FormTable::Finish() {
  std::map<std::string, int> seen;
  for (auto& f : forms_) {
    const int n = ++seen[f.name];
    if (n > 1) f.name += "#" + std::to_string(n);
  }
  return forms_;
}

const std::vector<Form>& AllForms() {
  static const std::vector<Form> forms = [] {
    FormTable t;
    AddGpForms(t);
    AddStackStringControlForms(t);
    AddSseForms(t);
    AddAvxForms(t);
    AddX87MmxForms(t);
    return t.Finish();
  }();
  return forms;
}

}  // namespace difftest
