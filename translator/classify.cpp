#include "translator/classify.h"

#include <array>

namespace xlat {
namespace {

struct Rule {
  ZydisMnemonic mnemonic;
  InsnKind kind;
};

// Every mnemonic that is not handled by the default rule.
constexpr Rule kRules[] = {
    // Control flow.
    {ZYDIS_MNEMONIC_JMP, InsnKind::kJmp},
    {ZYDIS_MNEMONIC_JB, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JBE, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JL, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JLE, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JNB, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JNBE, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JNL, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JNLE, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JNO, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JNP, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JNS, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JNZ, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JO, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JP, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JS, InsnKind::kJcc}, {ZYDIS_MNEMONIC_JZ, InsnKind::kJcc},
    {ZYDIS_MNEMONIC_JRCXZ, InsnKind::kLoop}, {ZYDIS_MNEMONIC_JECXZ, InsnKind::kLoop},
    {ZYDIS_MNEMONIC_LOOP, InsnKind::kLoop}, {ZYDIS_MNEMONIC_LOOPE, InsnKind::kLoop},
    {ZYDIS_MNEMONIC_LOOPNE, InsnKind::kLoop},
    {ZYDIS_MNEMONIC_CALL, InsnKind::kCall},
    {ZYDIS_MNEMONIC_RET, InsnKind::kRet},
    // Stack.
    {ZYDIS_MNEMONIC_PUSH, InsnKind::kPush},
    {ZYDIS_MNEMONIC_POP, InsnKind::kPop},
    {ZYDIS_MNEMONIC_LEAVE, InsnKind::kLeave},
    {ZYDIS_MNEMONIC_ENTER, InsnKind::kEnter},
    // Implicit or unusual memory operands.
    {ZYDIS_MNEMONIC_XLAT, InsnKind::kXlat},
    {ZYDIS_MNEMONIC_BT, InsnKind::kBitMem}, {ZYDIS_MNEMONIC_BTS, InsnKind::kBitMem},
    {ZYDIS_MNEMONIC_BTR, InsnKind::kBitMem}, {ZYDIS_MNEMONIC_BTC, InsnKind::kBitMem},
    {ZYDIS_MNEMONIC_MOVSB, InsnKind::kString}, {ZYDIS_MNEMONIC_MOVSW, InsnKind::kString},
    {ZYDIS_MNEMONIC_MOVSD, InsnKind::kString}, {ZYDIS_MNEMONIC_MOVSQ, InsnKind::kString},
    {ZYDIS_MNEMONIC_STOSB, InsnKind::kString}, {ZYDIS_MNEMONIC_STOSW, InsnKind::kString},
    {ZYDIS_MNEMONIC_STOSD, InsnKind::kString}, {ZYDIS_MNEMONIC_STOSQ, InsnKind::kString},
    {ZYDIS_MNEMONIC_LODSB, InsnKind::kString}, {ZYDIS_MNEMONIC_LODSW, InsnKind::kString},
    {ZYDIS_MNEMONIC_LODSD, InsnKind::kString}, {ZYDIS_MNEMONIC_LODSQ, InsnKind::kString},
    {ZYDIS_MNEMONIC_CMPSB, InsnKind::kString}, {ZYDIS_MNEMONIC_CMPSW, InsnKind::kString},
    {ZYDIS_MNEMONIC_CMPSD, InsnKind::kString}, {ZYDIS_MNEMONIC_CMPSQ, InsnKind::kString},
    {ZYDIS_MNEMONIC_SCASB, InsnKind::kString}, {ZYDIS_MNEMONIC_SCASW, InsnKind::kString},
    {ZYDIS_MNEMONIC_SCASD, InsnKind::kString}, {ZYDIS_MNEMONIC_SCASQ, InsnKind::kString},
    {ZYDIS_MNEMONIC_MASKMOVQ, InsnKind::kCallout}, {ZYDIS_MNEMONIC_MASKMOVDQU, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_VMASKMOVDQU, InsnKind::kCallout},
    // Gathers (VSIB: one address per element).
    {ZYDIS_MNEMONIC_VPGATHERDD, InsnKind::kCallout}, {ZYDIS_MNEMONIC_VPGATHERDQ, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_VPGATHERQD, InsnKind::kCallout}, {ZYDIS_MNEMONIC_VPGATHERQQ, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_VGATHERDPS, InsnKind::kCallout}, {ZYDIS_MNEMONIC_VGATHERDPD, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_VGATHERQPS, InsnKind::kCallout}, {ZYDIS_MNEMONIC_VGATHERQPD, InsnKind::kCallout},
    // XSAVE family: the request mask must be limited to the guest's XCR0.
    {ZYDIS_MNEMONIC_XSAVE, InsnKind::kCallout}, {ZYDIS_MNEMONIC_XSAVE64, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_XRSTOR, InsnKind::kCallout}, {ZYDIS_MNEMONIC_XRSTOR64, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_XSAVEOPT, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_XSAVEOPT64, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_XSAVEC, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_XSAVEC64, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_XSAVES, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_XSAVES64, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_XRSTORS, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_XRSTORS64, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_XGETBV, InsnKind::kCallout}, {ZYDIS_MNEMONIC_XSETBV, InsnKind::kCallout},
    // They store the x87 last-instruction pointer, which the host has as an
    // address in the code cache: the VMM stores the guest's (cpu/fpu_save.h).
    {ZYDIS_MNEMONIC_FNSTENV, InsnKind::kCallout}, {ZYDIS_MNEMONIC_FNSAVE, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_FXSAVE, InsnKind::kCallout}, {ZYDIS_MNEMONIC_FXSAVE64, InsnKind::kCallout},
    // Cache write-back hints: no architectural effect on a coherent machine.
    {ZYDIS_MNEMONIC_CLFLUSH, InsnKind::kDrop}, {ZYDIS_MNEMONIC_CLFLUSHOPT, InsnKind::kDrop},
    {ZYDIS_MNEMONIC_CLWB, InsnKind::kDrop},
    // Serializing: translated code is kept coherent with stores to it when
    // they happen (SMC), so nothing is left to wait for. The Linux kernel
    // serializes with it after patching its own text (sync_core), where it
    // would otherwise use an iretq to itself: a VMM exit each time.
    {ZYDIS_MNEMONIC_SERIALIZE, InsnKind::kDrop},
    // Sensitive: privileged, or different in a host user process.
    {ZYDIS_MNEMONIC_CLI, InsnKind::kCallout}, {ZYDIS_MNEMONIC_STI, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_PUSHF, InsnKind::kCallout}, {ZYDIS_MNEMONIC_PUSHFQ, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_POPF, InsnKind::kCallout}, {ZYDIS_MNEMONIC_POPFQ, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_IN, InsnKind::kCallout}, {ZYDIS_MNEMONIC_OUT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_INSB, InsnKind::kCallout}, {ZYDIS_MNEMONIC_INSW, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_INSD, InsnKind::kCallout}, {ZYDIS_MNEMONIC_OUTSB, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_OUTSW, InsnKind::kCallout}, {ZYDIS_MNEMONIC_OUTSD, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_HLT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_LGDT, InsnKind::kCallout}, {ZYDIS_MNEMONIC_LIDT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_SGDT, InsnKind::kCallout}, {ZYDIS_MNEMONIC_SIDT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_LLDT, InsnKind::kCallout}, {ZYDIS_MNEMONIC_SLDT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_LTR, InsnKind::kCallout}, {ZYDIS_MNEMONIC_STR, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_SMSW, InsnKind::kCallout}, {ZYDIS_MNEMONIC_LMSW, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_CLTS, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_RDMSR, InsnKind::kCallout}, {ZYDIS_MNEMONIC_WRMSR, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_CPUID, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_RDTSC, InsnKind::kCallout}, {ZYDIS_MNEMONIC_RDTSCP, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_RDPID, InsnKind::kCallout}, {ZYDIS_MNEMONIC_RDPMC, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_SYSCALL, InsnKind::kCallout}, {ZYDIS_MNEMONIC_SYSRET, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_SYSENTER, InsnKind::kCallout}, {ZYDIS_MNEMONIC_SYSEXIT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_INT, InsnKind::kCallout}, {ZYDIS_MNEMONIC_INT1, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_INT3, InsnKind::kCallout}, {ZYDIS_MNEMONIC_INTO, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_IRET, InsnKind::kCallout}, {ZYDIS_MNEMONIC_IRETD, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_IRETQ, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_SWAPGS, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_INVLPG, InsnKind::kCallout}, {ZYDIS_MNEMONIC_INVPCID, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_WBINVD, InsnKind::kCallout}, {ZYDIS_MNEMONIC_INVD, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_LAR, InsnKind::kCallout}, {ZYDIS_MNEMONIC_LSL, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_VERR, InsnKind::kCallout}, {ZYDIS_MNEMONIC_VERW, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_MONITOR, InsnKind::kCallout}, {ZYDIS_MNEMONIC_MWAIT, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_VMCALL, InsnKind::kCallout}, {ZYDIS_MNEMONIC_VMMCALL, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_UD0, InsnKind::kCallout}, {ZYDIS_MNEMONIC_UD1, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_UD2, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_MOV, InsnKind::kMem},  // refined below for segment registers
    {ZYDIS_MNEMONIC_LSS, InsnKind::kCallout}, {ZYDIS_MNEMONIC_LFS, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_LGS, InsnKind::kCallout},
    {ZYDIS_MNEMONIC_RSM, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_RDFSBASE, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_RDGSBASE, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_WRFSBASE, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_WRGSBASE, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_RDRAND, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_RDSEED, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_RDPKRU, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_WRPKRU, InsnKind::kUndefined},
    {ZYDIS_MNEMONIC_STAC, InsnKind::kUndefined}, {ZYDIS_MNEMONIC_CLAC, InsnKind::kUndefined},
};

// Extensions the guest CPU has (CPUID reports exactly these; see cpu/cpuid.cpp).
bool ExtensionSupported(ZydisISAExt ext) {
  switch (ext) {
    case ZYDIS_ISA_EXT_BASE: case ZYDIS_ISA_EXT_LONGMODE: case ZYDIS_ISA_EXT_X87:
    case ZYDIS_ISA_EXT_MMX: case ZYDIS_ISA_EXT_SSE: case ZYDIS_ISA_EXT_SSE2:
    case ZYDIS_ISA_EXT_SSE3: case ZYDIS_ISA_EXT_SSSE3: case ZYDIS_ISA_EXT_SSE4:
    case ZYDIS_ISA_EXT_AVX: case ZYDIS_ISA_EXT_AVX2: case ZYDIS_ISA_EXT_AVX2GATHER:
    case ZYDIS_ISA_EXT_FMA: case ZYDIS_ISA_EXT_F16C: case ZYDIS_ISA_EXT_BMI1:
    case ZYDIS_ISA_EXT_BMI2: case ZYDIS_ISA_EXT_ADOX_ADCX: case ZYDIS_ISA_EXT_LZCNT:
    case ZYDIS_ISA_EXT_MOVBE: case ZYDIS_ISA_EXT_AES: case ZYDIS_ISA_EXT_AVXAES:
    case ZYDIS_ISA_EXT_PCLMULQDQ: case ZYDIS_ISA_EXT_PAUSE: case ZYDIS_ISA_EXT_CLFSH:
    case ZYDIS_ISA_EXT_XSAVE: case ZYDIS_ISA_EXT_RDTSCP: case ZYDIS_ISA_EXT_RDPID:
    case ZYDIS_ISA_EXT_MONITOR: case ZYDIS_ISA_EXT_CLFLUSHOPT: case ZYDIS_ISA_EXT_CLWB:
    case ZYDIS_ISA_EXT_SERIALIZE:
      return true;
    default:
      return false;
  }
}

// Hints that occupy the NOP space: they are no-ops on the guest CPU whatever
// extension Zydis files them under (endbr64 is everywhere in a CET-enabled
// kernel; prefetches never fault).
constexpr Rule kHints[] = {
    {ZYDIS_MNEMONIC_NOP, InsnKind::kDrop},
    {ZYDIS_MNEMONIC_ENDBR64, InsnKind::kDrop}, {ZYDIS_MNEMONIC_ENDBR32, InsnKind::kDrop},
    {ZYDIS_MNEMONIC_PREFETCHNTA, InsnKind::kDrop}, {ZYDIS_MNEMONIC_PREFETCHT0, InsnKind::kDrop},
    {ZYDIS_MNEMONIC_PREFETCHT1, InsnKind::kDrop}, {ZYDIS_MNEMONIC_PREFETCHT2, InsnKind::kDrop},
    {ZYDIS_MNEMONIC_PREFETCH, InsnKind::kDrop}, {ZYDIS_MNEMONIC_PREFETCHW, InsnKind::kDrop},
};

struct Table {
  std::array<int8_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> kind;
  constexpr Table() : kind() {
    for (auto& k : kind) k = -1;
    for (const Rule& r : kRules) kind[r.mnemonic] = static_cast<int8_t>(r.kind);
  }
};
constexpr Table kTable;

bool IsHint(ZydisMnemonic m) {
  for (const Rule& r : kHints)
    if (r.mnemonic == m) return true;
  return false;
}

// True when the instruction touches memory the translator would not see: a
// hidden memory operand that no rule rewrites. Running such an instruction
// natively would reach host memory, so it is refused (#UD) instead.
bool HasHiddenMemory(const DecodedInsn& d) {
  for (unsigned i = d.insn.operand_count_visible; i < d.insn.operand_count; ++i)
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[i].mem.type != ZYDIS_MEMOP_TYPE_AGEN) return true;
  return false;
}

// Moves to and from segment, control and debug registers (all spelled
// "mov" by Zydis), and pushes and pops of segment registers.
bool TouchesSystemRegister(const DecodedInsn& d) {
  for (unsigned i = 0; i < d.insn.operand_count_visible; ++i) {
    if (d.ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    const ZydisRegisterClass c = ZydisRegisterGetClass(d.ops[i].reg.value);
    if (c == ZYDIS_REGCLASS_SEGMENT || c == ZYDIS_REGCLASS_CONTROL || c == ZYDIS_REGCLASS_DEBUG) return true;
  }
  return false;
}

}  // namespace

const char* InsnKindName(InsnKind k) {
  static const char* const kNames[] = {"copy", "mem", "bitmem", "xlat", "push", "pop", "leave", "enter",
                                       "jmp", "jcc", "loop", "call", "ret", "string", "callout", "drop",
                                       "undefined", "virtual"};
  return kNames[static_cast<unsigned>(k)];
}

// Intel SDM vol. 3A 2.5 (CR0.EM, CR0.TS, CR0.MP) and Table 13-1, vol. 2
// Table 2-21: the x87 unit is #NM under EM or TS (fwait only with MP as
// well); MMX and SSE are #UD under EM (and SSE without OSFXSR), else #NM
// under TS; VEX-encoded vector instructions and the xsave family ignore EM
// and are #NM under TS. #UD comes first. fxsave/fxrstor under EM are #NM as
// AMD documents (Intel's current manual says #UD).
int FpuControlFault(const DecodedInsn& d, const FpuControl& fc) {
  constexpr int kNM = 7, kUD = 6;
  if (fc.normal()) return -1;
  const ZydisMnemonic m = d.mnemonic();
  switch (m) {
    case ZYDIS_MNEMONIC_XSAVE: case ZYDIS_MNEMONIC_XSAVE64: case ZYDIS_MNEMONIC_XSAVEC:
    case ZYDIS_MNEMONIC_XSAVEC64: case ZYDIS_MNEMONIC_XSAVEOPT: case ZYDIS_MNEMONIC_XSAVEOPT64:
    case ZYDIS_MNEMONIC_XSAVES: case ZYDIS_MNEMONIC_XSAVES64: case ZYDIS_MNEMONIC_XRSTOR:
    case ZYDIS_MNEMONIC_XRSTOR64: case ZYDIS_MNEMONIC_XRSTORS: case ZYDIS_MNEMONIC_XRSTORS64:
      return fc.ts && fc.osxsave ? kNM : -1;  // (without OSXSAVE the VMM raises the #UD)
    case ZYDIS_MNEMONIC_FWAIT:
      return fc.ts && fc.mp ? kNM : -1;
    case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXSAVE64: case ZYDIS_MNEMONIC_FXRSTOR:
    case ZYDIS_MNEMONIC_FXRSTOR64:
      return fc.em || fc.ts ? kNM : -1;
    default:
      break;
  }
  if (d.insn.meta.isa_ext == ZYDIS_ISA_EXT_X87) return fc.em || fc.ts ? kNM : -1;
  // MMX and SSE instructions are told apart by the state they use: MMX
  // registers, XMM/YMM registers or MXCSR. Fences, prefetches, movnti,
  // popcnt, crc32, and VEX-encoded BMI use neither.
  bool mmx = d.insn.meta.isa_ext == ZYDIS_ISA_EXT_MMX, sse = false;  // emms has no operands
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = d.ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    const ZydisRegisterClass cls = ZydisRegisterGetClass(op.reg.value);
    mmx |= cls == ZYDIS_REGCLASS_MMX;
    sse |= cls == ZYDIS_REGCLASS_XMM || cls == ZYDIS_REGCLASS_YMM || cls == ZYDIS_REGCLASS_ZMM ||
           op.reg.value == ZYDIS_REGISTER_MXCSR;
  }
  if (!mmx && !sse) return -1;
  if (d.insn.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY) {
    if (sse && (fc.em || !fc.osfxsr)) return kUD;
    if (mmx && fc.em) return kUD;
  }
  return fc.ts ? kNM : -1;
}

bool DependsOnFpuControl(const DecodedInsn& d) {
  // Every condition FpuControlFault tests is met by this one control state.
  constexpr FpuControl kEveryTrap{.em = true, .osfxsr = false, .ts = true, .mp = true, .osxsave = true};
  return FpuControlFault(d, kEveryTrap) >= 0;
}

InsnKind Classify(const DecodedInsn& d) {
  if (IsHint(d.insn.mnemonic)) return InsnKind::kDrop;
  if (!ExtensionSupported(d.insn.meta.isa_ext)) return InsnKind::kUndefined;
  // Segment register moves and pushes would read or write host selectors;
  // control and debug registers are privileged.
  if (TouchesSystemRegister(d)) return InsnKind::kCallout;
  int8_t k = kTable.kind[d.insn.mnemonic];
  int mem = d.MemOperand();
  if (k >= 0) {
    InsnKind kind = static_cast<InsnKind>(k);
    // movsd/cmpsd name both string instructions and SSE2 scalar-double ones.
    // (The string forms have only implicit operands.)
    if (kind == InsnKind::kString && d.insn.operand_count_visible > 0) {
      if (HasHiddenMemory(d)) return InsnKind::kUndefined;
      return mem >= 0 ? InsnKind::kMem : InsnKind::kCopy;
    }
    if (kind == InsnKind::kBitMem && mem < 0) return InsnKind::kCopy;
    if (kind == InsnKind::kBitMem && d.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) return InsnKind::kMem;
    if (kind == InsnKind::kMem) kind = mem >= 0 ? InsnKind::kMem : InsnKind::kCopy;
    if ((kind == InsnKind::kMem || kind == InsnKind::kCopy || kind == InsnKind::kBitMem) && HasHiddenMemory(d))
      return InsnKind::kUndefined;
    return kind;
  }
  if (HasHiddenMemory(d)) return InsnKind::kUndefined;
  return mem >= 0 ? InsnKind::kMem : InsnKind::kCopy;
}

}  // namespace xlat
