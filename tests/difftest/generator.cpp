#include "tests/difftest/generator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace difftest {

namespace {

constexpr ZydisRegister kR64[16] = {
    ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RBX,
    ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI,
    ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,  ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11,
    ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15};
constexpr ZydisRegister kR32[16] = {
    ZYDIS_REGISTER_EAX,  ZYDIS_REGISTER_ECX,  ZYDIS_REGISTER_EDX,  ZYDIS_REGISTER_EBX,
    ZYDIS_REGISTER_ESP,  ZYDIS_REGISTER_EBP,  ZYDIS_REGISTER_ESI,  ZYDIS_REGISTER_EDI,
    ZYDIS_REGISTER_R8D,  ZYDIS_REGISTER_R9D,  ZYDIS_REGISTER_R10D, ZYDIS_REGISTER_R11D,
    ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_R13D, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R15D};
constexpr ZydisRegister kR16[16] = {
    ZYDIS_REGISTER_AX,   ZYDIS_REGISTER_CX,   ZYDIS_REGISTER_DX,   ZYDIS_REGISTER_BX,
    ZYDIS_REGISTER_SP,   ZYDIS_REGISTER_BP,   ZYDIS_REGISTER_SI,   ZYDIS_REGISTER_DI,
    ZYDIS_REGISTER_R8W,  ZYDIS_REGISTER_R9W,  ZYDIS_REGISTER_R10W, ZYDIS_REGISTER_R11W,
    ZYDIS_REGISTER_R12W, ZYDIS_REGISTER_R13W, ZYDIS_REGISTER_R14W, ZYDIS_REGISTER_R15W};
constexpr ZydisRegister kR8[16] = {
    ZYDIS_REGISTER_AL,   ZYDIS_REGISTER_CL,   ZYDIS_REGISTER_DL,   ZYDIS_REGISTER_BL,
    ZYDIS_REGISTER_SPL,  ZYDIS_REGISTER_BPL,  ZYDIS_REGISTER_SIL,  ZYDIS_REGISTER_DIL,
    ZYDIS_REGISTER_R8B,  ZYDIS_REGISTER_R9B,  ZYDIS_REGISTER_R10B, ZYDIS_REGISTER_R11B,
    ZYDIS_REGISTER_R12B, ZYDIS_REGISTER_R13B, ZYDIS_REGISTER_R14B, ZYDIS_REGISTER_R15B};
constexpr ZydisRegister kR8Hi[4] = {ZYDIS_REGISTER_AH, ZYDIS_REGISTER_CH, ZYDIS_REGISTER_DH, ZYDIS_REGISTER_BH};

constexpr int kRsp = 4;

}  // namespace

Gen::Gen(uint64_t seed, const GenOptions& opt, GenStats* stats) : rng_(seed), opt_(opt), stats_(stats) {
  if (stats_ && stats_->per_form.size() != AllForms().size()) stats_->per_form.assign(AllForms().size(), 0);
}

ZydisRegister Gen::Gpr(int i, int bytes) {
  switch (bytes) {
    case 1: return kR8[i];
    case 2: return kR16[i];
    case 4: return kR32[i];
    default: return kR64[i];
  }
}

int Gen::PickGpr(uint16_t avoid) {
  const uint16_t forbidden = avoid | reserved_ | (1u << kRsp);
  if (forbidden == 0xffff) return -1;
  for (;;) {
    const int r = static_cast<int>(rng_.Below(16));
    if (!((forbidden >> r) & 1)) return r;
  }
}

ZydisRegister Gen::PickGpr8(uint16_t avoid, int* gpr_index) {
  if (rng_.Below(5) == 0) {
    for (int t = 0; t < 8; t++) {
      const int i = static_cast<int>(rng_.Below(4));
      if (!(((avoid | reserved_) >> i) & 1)) {
        *gpr_index = i;
        return kR8Hi[i];
      }
    }
  }
  const int i = PickGpr(avoid);
  *gpr_index = i;
  return i < 0 ? ZYDIS_REGISTER_NONE : kR8[i];
}

uint64_t Gen::RandomStackPointer() {
  uint64_t v = kStackLo + 256 + rng_.Below(kStackHi - kStackLo - 512);
  switch (rng_.Below(10)) {
    case 0: v |= 0xfff; v -= rng_.Range(0, 15); break;  // next to a page end
    case 1: break;                                      // misaligned
    case 2: v &= ~uint64_t{3}; break;
    default: v &= ~uint64_t{7}; break;
  }
  return v;
}

uint64_t Gen::RandomDataAddress(uint64_t room, uint64_t align) {
  uint64_t v = kDataVa + 64 + rng_.Below(kDataBytes - room - 128);
  return v & ~(align - 1);
}

bool Gen::EmitMovImm(int gpr, uint64_t value) {
  ZydisEncoderRequest r = MakeRequest(ZYDIS_MNEMONIC_MOV);
  AddReg(r, kR64[gpr]);
  AddImm(r, value);
  if (gpr == kRsp) {
    rsp_ = value;
    rsp_write_ok_ = true;
  }
  return b_.Emit(r);
}

bool Gen::EnsureStack(int64_t below, int64_t above) {
  if (rsp_ >= kStackLo + static_cast<uint64_t>(below) && rsp_ + static_cast<uint64_t>(above) <= kStackHi) return true;
  if (reserved_ & (1u << kRsp)) return false;
  uint64_t v;
  for (int t = 0;; t++) {
    v = RandomStackPointer();
    if (v >= kStackLo + static_cast<uint64_t>(below) && v + static_cast<uint64_t>(above) <= kStackHi) break;
    if (t > 100) return false;
  }
  return EmitMovImm(kRsp, v);
}

bool Gen::EmitGeneric(const Form& f) {
  if (f.flags & kFStack) {
    if (!EnsureStack(128, 128)) return false;
  }
  const int mi = f.mem_index();
  const bool want_a32 = (f.flags & kFA32) ||
                        (mi >= 0 && !(f.flags & kFNoA32) && Info(f.ops[mi]).cls == OpClass::kMem && rng_.Chance(0.06));

  ZydisEncoderRequest r = MakeRequest(f.mnemonic);
  if (f.flags & kFLock) r.prefixes |= ZYDIS_ATTRIB_HAS_LOCK;
  if (f.flags & kFRep) r.prefixes |= ZYDIS_ATTRIB_HAS_REP;
  if (f.flags & kFRepe) r.prefixes |= ZYDIS_ATTRIB_HAS_REPE;
  if (f.flags & kFRepne) r.prefixes |= ZYDIS_ATTRIB_HAS_REPNE;

  // Registers whose value the item controls (bit offsets) stay out of the
  // address computation.
  uint16_t controlled = 0;
  int bo_reg = -1;
  uint64_t bo_value = 0;
  for (int i = 0; i < f.nops; i++) {
    if (Info(f.ops[i]).cls == OpClass::kBitOff) {
      bo_reg = PickGpr(0);
      if (bo_reg < 0) return false;
      controlled |= static_cast<uint16_t>(1u << bo_reg);
      const int64_t bits = rng_.Range(-2048, 2047);
      const int w = Info(f.ops[i]).size;
      // The register is read at its operand size: garbage above it tests
      // that the translator sign-extends the right width.
      const uint64_t mask = w == 8 ? ~uint64_t{0} : ((uint64_t{1} << (8 * w)) - 1);
      bo_value = (static_cast<uint64_t>(bits) & mask) | (rng_.Next() & ~mask);
    }
  }

  MemPlan plan;
  bool have_plan = false;
  if (mi >= 0 && Info(f.ops[mi]).cls == OpClass::kMem) {
    const OpInfo& mo = Info(f.ops[mi]);
    MemReq q;
    q.size = mo.size;
    q.align = 1;
    if ((f.flags & kFAlignVec) && (mo.size == 16 || mo.size == 32)) q.align = mo.size;
    if (f.flags & kFAlign16) q.align = 16;
    if (bo_reg >= 0) {
      q.foot_lo = -(256 + 8);
      q.foot_hi = 256 + 8;
    }
    q.a32 = want_a32;
    q.allow_cross = !(f.flags & kFNoCross);
    q.allow_rsp_base = !neutral() && !(f.flags & (kFStack | kFNoRspBase)) && rng_.Chance(0.06);
    q.avoid = controlled;
    if (!PlanMem(q, &plan)) return false;
    have_plan = true;
  }

  for (int i = 0; i < f.nops; i++) {
    const Op op = f.ops[i];
    const OpInfo& in = Info(op);
    switch (op) {
      case Op::kR8: {
        int gi;
        const ZydisRegister reg = PickGpr8(controlled, &gi);
        if (reg == ZYDIS_REGISTER_NONE) return false;
        AddReg(r, reg);
        break;
      }
      case Op::kR16: case Op::kR32: case Op::kR64: {
        const int gi = PickGpr(controlled);
        if (gi < 0) return false;
        AddReg(r, Gpr(gi, in.size));
        break;
      }
      case Op::kAl: AddReg(r, ZYDIS_REGISTER_AL); break;
      case Op::kAx: AddReg(r, ZYDIS_REGISTER_AX); break;
      case Op::kEax: AddReg(r, ZYDIS_REGISTER_EAX); break;
      case Op::kRax: AddReg(r, ZYDIS_REGISTER_RAX); break;
      case Op::kCl: AddReg(r, ZYDIS_REGISTER_CL); break;
      case Op::kDx: AddReg(r, ZYDIS_REGISTER_DX); break;
      case Op::kBo16: case Op::kBo32: case Op::kBo64: AddReg(r, Gpr(bo_reg, in.size)); break;
      case Op::kI8: AddImm(r, rng_.Chance(0.3) ? rng_.Below(8) : rng_.Below(256)); break;
      case Op::kI16: AddImm(r, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(rng_.Next())))); break;
      case Op::kI32: AddImm(r, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(rng_.Interesting())))); break;
      case Op::kI64: AddImm(r, rng_.Interesting()); break;
      case Op::kS8: AddImm(r, static_cast<uint64_t>(rng_.Range(-128, 127))); break;
      case Op::kOne: AddImm(r, 1); break;
      case Op::kXmm: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + rng_.Below(16))); break;
      case Op::kYmm: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_YMM0 + rng_.Below(16))); break;
      case Op::kXmmIs4: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + rng_.Below(16)), true); break;
      case Op::kYmmIs4: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_YMM0 + rng_.Below(16)), true); break;
      case Op::kXmm0: AddReg(r, ZYDIS_REGISTER_XMM0); break;
      case Op::kMm: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_MM0 + rng_.Below(8))); break;
      case Op::kSt0: AddReg(r, ZYDIS_REGISTER_ST0); break;
      case Op::kSti: {
        const int depth = std::max(fpu_depth_, 1);
        AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_ST0 + rng_.Below(static_cast<uint64_t>(depth))));
        break;
      }
      case Op::kMAgen: {
        // lea: any registers, any values; no access happens.
        ZydisEncoderOperand o;
        std::memset(&o, 0, sizeof o);
        o.type = ZYDIS_OPERAND_TYPE_MEMORY;
        const bool a32 = rng_.Chance(0.15);
        o.mem.size = a32 ? 4 : 8;
        if (rng_.Chance(0.2)) {
          o.mem.base = a32 ? ZYDIS_REGISTER_EIP : ZYDIS_REGISTER_RIP;
          o.mem.displacement = static_cast<int64_t>(a32 ? kLowVa + rng_.Below(kLowBytes)
                                                        : kCodeVa + rng_.Below(kCodeBytes + kDataBytes));
        } else {
          auto name = [&](int gi) { return a32 ? kR32[gi] : kR64[gi]; };
          const unsigned m = static_cast<unsigned>(rng_.Below(3));
          if (m != 1) o.mem.base = name(static_cast<int>(rng_.Below(16)));
          if (m != 0) {
            int x;
            do x = static_cast<int>(rng_.Below(16)); while (x == kRsp);
            o.mem.index = name(x);
            o.mem.scale = static_cast<uint8_t>(1u << rng_.Below(4));
          }
          o.mem.displacement = rng_.Chance(0.5) ? rng_.Range(-128, 127) : static_cast<int32_t>(rng_.Next());
        }
        AddOperand(r, o);
        break;
      }
      default:
        if (in.cls == OpClass::kMem) {
          AddOperand(r, MemOperand(plan, in.enc_size ? in.enc_size : in.size));
          break;
        }
        return false;
    }
  }

  if (bo_reg >= 0 && !EmitMovImm(bo_reg, bo_value)) return false;
  if (have_plan && !EmitMemSetup(plan)) return false;
  if (!b_.Emit(r)) return false;
  if (f.flags & kFStack) add_rsp(f.rsp_delta);
  if (f.flags & kFX87) set_fpu_depth(fpu_depth_ + f.fpu_delta);
  if (f.flags & kFMmx) set_fpu_depth(8);
  return true;
}

bool Gen::EmitFpuFixups(const Form& f) {
  if (!(f.flags & kFX87)) return true;
  const int need = f.fpu_need;
  const int delta = f.fpu_delta;
  static constexpr ZydisMnemonic kPushes[] = {ZYDIS_MNEMONIC_FLD1, ZYDIS_MNEMONIC_FLDZ, ZYDIS_MNEMONIC_FLDPI,
                                              ZYDIS_MNEMONIC_FLDL2E, ZYDIS_MNEMONIC_FLDLN2};
  while (fpu_depth_ < need) {
    if (neutral()) return false;
    if (!b_.Emit(MakeRequest(rng_.Pick(kPushes)))) return false;
    fpu_depth_++;
  }
  while (fpu_depth_ + delta > 8) {
    if (neutral()) return false;
    ZydisEncoderRequest r = MakeRequest(ZYDIS_MNEMONIC_FSTP);
    AddReg(r, ZYDIS_REGISTER_ST0);
    if (!b_.Emit(r)) return false;
    fpu_depth_--;
  }
  return true;
}

bool Gen::Eligible(const Form& f) const {
  if (neutral()) {
    if (f.flags & (kFStack | kFControl | kFNotNeutral)) return false;
    if (f.fpu_delta != 0) return false;
    if ((f.flags & kFX87) && fpu_depth_ < f.fpu_need) return false;
  }
  return true;
}

int Gen::PickForm() {
  if (cumulative_.empty()) {
    const auto& forms = AllForms();
    double sum = 0;
    for (size_t i = 0; i < forms.size(); i++) {
      if (opt_.enabled && !(*opt_.enabled)[i]) continue;
      if (forms[i].weight <= 0) continue;
      sum += forms[i].weight;
      candidates_.push_back(static_cast<int>(i));
      cumulative_.push_back(sum);
    }
    if (candidates_.empty()) return -1;
  }
  const auto& forms = AllForms();
  for (int t = 0; t < 64; t++) {
    const double x = rng_.Unit() * cumulative_.back();
    const size_t k = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), x) -
                                         cumulative_.begin());
    const int i = candidates_[std::min(k, candidates_.size() - 1)];
    if (Eligible(forms[i])) return i;
  }
  return -1;
}

bool Gen::Validate(size_t from, const Form& f) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const auto& code = b_.bytes();
  size_t off = from;
  ZydisMnemonic last = ZYDIS_MNEMONIC_INVALID;
  while (off < code.size()) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code.data() + off, code.size() - off, &insn, ops))) {
      // A deliberate #UD (lock on a register operand) does not decode; it
      // is the item's last instruction.
      return (f.flags & kFFault) != 0;
    }
    if (insn.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY && insn.encoding != ZYDIS_INSTRUCTION_ENCODING_VEX)
      return false;
    for (int i = 0; i < insn.operand_count; i++) {
      const ZydisDecodedOperand& o = ops[i];
      if (o.type != ZYDIS_OPERAND_TYPE_REGISTER || !(o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
      const ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, o.reg.value);
      for (int g = 0; g < 16; g++) {
        if (kR64[g] != big) continue;
        if ((reserved_ >> g) & 1) return false;
        if (g == kRsp && !(f.flags & (kFStack | kFControl)) && !rsp_write_ok_) return false;
      }
    }
    last = insn.mnemonic;
    off += insn.length;
  }
  if (!f.gen && last != f.mnemonic) return false;
  return true;
}

bool Gen::EmitItem(int form_index) {
  const Form& f = AllForms()[form_index];
  const Builder::Mark mark = b_.Save();
  const uint64_t rsp0 = rsp_;
  const int fpu0 = fpu_depth_;
  const bool rsp_ok0 = rsp_write_ok_;
  const size_t pending0 = pending_.size();
  const size_t protected0 = protected_.size();
  rsp_write_ok_ = false;
  bool ok = EmitFpuFixups(f);
  if (ok) ok = f.gen ? f.gen(*this, f) : EmitGeneric(f);
  if (ok && !Validate(mark.bytes, f)) {
    ok = false;
    if (stats_) stats_->validation_rejects++;
  }
  if (ok && neutral_depth_ == 0) {
    // A pending rel8 branch must still reach the end of this item.
    for (size_t i = 0; i < pending0; i++) {
      if (pending_[i].short_branch && b_.size() - pending_[i].branch_end > 127) {
        pending_[i].items_left = 0;  // bind it before this item instead
        ok = false;
      }
    }
  }
  rsp_write_ok_ = rsp_ok0;
  if (!ok) {
    b_.Restore(mark);
    rsp_ = rsp0;
    fpu_depth_ = fpu0;
    pending_.resize(pending0);
    protected_.resize(protected0);
    if (stats_) stats_->retries++;
    return false;
  }
  if (stats_) {
    stats_->per_form[form_index]++;
    stats_->items++;
  }
  return true;
}

bool Gen::EmitBody(int n, uint16_t reserve) {
  const uint16_t saved = reserved_;
  reserved_ |= reserve;
  neutral_depth_++;
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    bool done = false;
    for (int t = 0; t < 30 && !done; t++) {
      const int k = PickForm();
      if (k < 0) break;
      done = EmitItem(k);
    }
    // A body may come out shorter than asked when few forms are enabled.
  }
  neutral_depth_--;
  reserved_ = saved;
  return ok;
}

void Gen::AddPendingLabel(int label, int skip, bool short_branch, uint32_t branch_end) {
  pending_.push_back({label, skip, short_branch, branch_end});
}

void Gen::BindDuePending(bool force_all) {
  for (size_t i = 0; i < pending_.size();) {
    if (force_all || pending_[i].items_left <= 0) {
      b_.Bind(pending_[i].label);
      pending_.erase(pending_.begin() + static_cast<long>(i));
    } else {
      i++;
    }
  }
}

bool Gen::Generate(Sequence* out, std::string* error) {
  InitState(out);
  out->entry = kCodeVa + rng_.Below(kPage - 16);
  b_.Reset(out->entry);
  // Always drawn, so that a prefix (exact_items) is generated from the same
  // random stream as the full sequence.
  int n = static_cast<int>(rng_.Range(opt_.min_items, opt_.max_items));
  if (opt_.exact_items >= 0) n = opt_.exact_items;
  out->items.clear();
  for (int i = 0; i < n; i++) {
    bool done = false;
    size_t begin = 0;
    int k = -1;
    for (int t = 0; t < 400 && !done; t++) {
      BindDuePending(false);
      begin = b_.size();
      k = PickForm();
      if (k < 0) {
        // Nothing eligible here (e.g. inside a skip region with only stack
        // forms enabled): close the region.
        BindDuePending(true);
        continue;
      }
      const size_t pending_before = pending_.size();
      done = EmitItem(k);
      if (done) {
        for (size_t j = 0; j < std::min(pending_before, pending_.size()); j++) pending_[j].items_left--;
      }
    }
    if (!done) {
      *error = "could not emit an item (form " + (k >= 0 ? AllForms()[k].name : std::string("none")) + ")";
      return false;
    }
    out->items.push_back({k, static_cast<uint32_t>(begin), static_cast<uint32_t>(b_.size())});
  }
  BindDuePending(true);
  if (!b_.Resolve(error)) return false;
  out->code = b_.bytes();
  out->pool = b_.pool();
  out->end = b_.va();
  return true;
}

bool GenerateSequence(uint64_t seed, const GenOptions& opt, Sequence* out, GenStats* stats, std::string* error) {
  Gen g(seed, opt, stats);
  out->seed = seed;
  return g.Generate(out, error);
}

}  // namespace difftest
