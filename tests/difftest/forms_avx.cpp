// VEX-encoded forms: AVX, AVX2, FMA, F16C, VEX AES/PCLMUL, gathers. VEX
// memory operands need no alignment (except the vmova*/vmovnt* forms), so
// they are placed anywhere, across page boundaries too.
#include "tests/difftest/composites.h"
#include "tests/difftest/forms.h"

namespace difftest {

namespace {
using enum Op;
}

void AddAvxForms(FormTable& t) {
  t.SetCategory(Cat::kAvx);
  t.SetWeight(1.0f);
  const std::initializer_list<FormTable::Sig> k3 = {{kXmm, kXmm, kXmm}, {kXmm, kXmm, kM128}, {kYmm, kYmm, kYmm},
                                                    {kYmm, kYmm, kM256}};
  const std::initializer_list<FormTable::Sig> k3I = {{kXmm, kXmm, kXmm, kI8}, {kXmm, kXmm, kM128, kI8},
                                                     {kYmm, kYmm, kYmm, kI8}, {kYmm, kYmm, kM256, kI8}};
  const std::initializer_list<FormTable::Sig> k2 = {{kXmm, kXmm}, {kXmm, kM128}, {kYmm, kYmm}, {kYmm, kM256}};
  const std::initializer_list<FormTable::Sig> k2I = {{kXmm, kXmm, kI8}, {kXmm, kM128, kI8}, {kYmm, kYmm, kI8},
                                                     {kYmm, kM256, kI8}};

  t.Family({ZYDIS_MNEMONIC_VADDPS, ZYDIS_MNEMONIC_VADDPD, ZYDIS_MNEMONIC_VSUBPS, ZYDIS_MNEMONIC_VSUBPD,
            ZYDIS_MNEMONIC_VMULPS, ZYDIS_MNEMONIC_VMULPD, ZYDIS_MNEMONIC_VDIVPS, ZYDIS_MNEMONIC_VDIVPD,
            ZYDIS_MNEMONIC_VMINPS, ZYDIS_MNEMONIC_VMAXPD, ZYDIS_MNEMONIC_VANDPS, ZYDIS_MNEMONIC_VANDNPD,
            ZYDIS_MNEMONIC_VORPS, ZYDIS_MNEMONIC_VXORPD, ZYDIS_MNEMONIC_VUNPCKLPS, ZYDIS_MNEMONIC_VUNPCKHPD,
            ZYDIS_MNEMONIC_VHADDPS, ZYDIS_MNEMONIC_VHSUBPD, ZYDIS_MNEMONIC_VADDSUBPS,
            ZYDIS_MNEMONIC_VPADDB, ZYDIS_MNEMONIC_VPADDW, ZYDIS_MNEMONIC_VPADDD, ZYDIS_MNEMONIC_VPADDQ,
            ZYDIS_MNEMONIC_VPSUBB, ZYDIS_MNEMONIC_VPSUBD, ZYDIS_MNEMONIC_VPSUBQ, ZYDIS_MNEMONIC_VPADDSB,
            ZYDIS_MNEMONIC_VPADDUSW, ZYDIS_MNEMONIC_VPSUBSW, ZYDIS_MNEMONIC_VPMULLW, ZYDIS_MNEMONIC_VPMULHW,
            ZYDIS_MNEMONIC_VPMULHUW, ZYDIS_MNEMONIC_VPMULUDQ, ZYDIS_MNEMONIC_VPMULLD, ZYDIS_MNEMONIC_VPMULDQ,
            ZYDIS_MNEMONIC_VPMADDWD, ZYDIS_MNEMONIC_VPMADDUBSW, ZYDIS_MNEMONIC_VPAVGB, ZYDIS_MNEMONIC_VPMINUB,
            ZYDIS_MNEMONIC_VPMAXSW, ZYDIS_MNEMONIC_VPMINSD, ZYDIS_MNEMONIC_VPMAXUD, ZYDIS_MNEMONIC_VPSADBW,
            ZYDIS_MNEMONIC_VPAND, ZYDIS_MNEMONIC_VPANDN, ZYDIS_MNEMONIC_VPOR, ZYDIS_MNEMONIC_VPXOR,
            ZYDIS_MNEMONIC_VPCMPEQB, ZYDIS_MNEMONIC_VPCMPEQQ, ZYDIS_MNEMONIC_VPCMPGTD, ZYDIS_MNEMONIC_VPCMPGTQ,
            ZYDIS_MNEMONIC_VPACKSSWB, ZYDIS_MNEMONIC_VPACKUSDW, ZYDIS_MNEMONIC_VPUNPCKLBW,
            ZYDIS_MNEMONIC_VPUNPCKHQDQ, ZYDIS_MNEMONIC_VPSHUFB, ZYDIS_MNEMONIC_VPHADDD, ZYDIS_MNEMONIC_VPSIGNW,
            ZYDIS_MNEMONIC_VPSLLVD, ZYDIS_MNEMONIC_VPSLLVQ, ZYDIS_MNEMONIC_VPSRLVD, ZYDIS_MNEMONIC_VPSRLVQ,
            ZYDIS_MNEMONIC_VPSRAVD, ZYDIS_MNEMONIC_VPERMILPS, ZYDIS_MNEMONIC_VPERMILPD},
           k3);
  t.Family({ZYDIS_MNEMONIC_VPERMD, ZYDIS_MNEMONIC_VPERMPS}, {{kYmm, kYmm, kYmm}, {kYmm, kYmm, kM256}});
  t.Family({ZYDIS_MNEMONIC_VPSLLW, ZYDIS_MNEMONIC_VPSRLD, ZYDIS_MNEMONIC_VPSRAW, ZYDIS_MNEMONIC_VPSLLQ},
           {{kXmm, kXmm, kXmm}, {kYmm, kYmm, kXmm}, {kYmm, kYmm, kM128}, {kXmm, kXmm, kI8}, {kYmm, kYmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPSLLDQ, ZYDIS_MNEMONIC_VPSRLDQ}, {{kXmm, kXmm, kI8}, {kYmm, kYmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VSQRTPS, ZYDIS_MNEMONIC_VSQRTPD, ZYDIS_MNEMONIC_VRCPPS, ZYDIS_MNEMONIC_VRSQRTPS,
            ZYDIS_MNEMONIC_VCVTDQ2PS, ZYDIS_MNEMONIC_VCVTPS2DQ, ZYDIS_MNEMONIC_VCVTTPS2DQ, ZYDIS_MNEMONIC_VPABSB,
            ZYDIS_MNEMONIC_VPABSD, ZYDIS_MNEMONIC_VMOVSHDUP, ZYDIS_MNEMONIC_VMOVSLDUP, ZYDIS_MNEMONIC_VPTEST,
            ZYDIS_MNEMONIC_VTESTPS, ZYDIS_MNEMONIC_VTESTPD},
           k2);
  t.Family({ZYDIS_MNEMONIC_VCVTPD2PS, ZYDIS_MNEMONIC_VCVTTPD2DQ}, {{kXmm, kXmm}, {kXmm, kYmm}, {kXmm, kM256}});
  t.Family({ZYDIS_MNEMONIC_VCVTPS2PD, ZYDIS_MNEMONIC_VCVTDQ2PD}, {{kXmm, kXmm}, {kYmm, kXmm}, {kYmm, kM128}});
  t.Family({ZYDIS_MNEMONIC_VSHUFPS, ZYDIS_MNEMONIC_VSHUFPD, ZYDIS_MNEMONIC_VBLENDPS, ZYDIS_MNEMONIC_VBLENDPD,
            ZYDIS_MNEMONIC_VDPPS, ZYDIS_MNEMONIC_VPBLENDW, ZYDIS_MNEMONIC_VPBLENDD, ZYDIS_MNEMONIC_VPALIGNR,
            ZYDIS_MNEMONIC_VMPSADBW, ZYDIS_MNEMONIC_VCMPPS, ZYDIS_MNEMONIC_VCMPPD},
           k3I);
  t.Family({ZYDIS_MNEMONIC_VROUNDPS, ZYDIS_MNEMONIC_VROUNDPD, ZYDIS_MNEMONIC_VPSHUFD, ZYDIS_MNEMONIC_VPSHUFHW,
            ZYDIS_MNEMONIC_VPSHUFLW, ZYDIS_MNEMONIC_VPERMILPS, ZYDIS_MNEMONIC_VPERMILPD},
           k2I);
  t.Family({ZYDIS_MNEMONIC_VPERMQ, ZYDIS_MNEMONIC_VPERMPD}, {{kYmm, kYmm, kI8}, {kYmm, kM256, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPERM2F128, ZYDIS_MNEMONIC_VPERM2I128}, {{kYmm, kYmm, kYmm, kI8}, {kYmm, kYmm, kM256, kI8}});
  t.Family({ZYDIS_MNEMONIC_VINSERTF128, ZYDIS_MNEMONIC_VINSERTI128}, {{kYmm, kYmm, kXmm, kI8}, {kYmm, kYmm, kM128, kI8}});
  t.Family({ZYDIS_MNEMONIC_VEXTRACTF128, ZYDIS_MNEMONIC_VEXTRACTI128}, {{kXmm, kYmm, kI8}, {kM128, kYmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VBLENDVPS, ZYDIS_MNEMONIC_VBLENDVPD, ZYDIS_MNEMONIC_VPBLENDVB},
           {{kXmm, kXmm, kXmm, kXmmIs4}, {kXmm, kXmm, kM128, kXmmIs4}, {kYmm, kYmm, kYmm, kYmmIs4},
            {kYmm, kYmm, kM256, kYmmIs4}});

  // ---- scalar ----
  t.Family({ZYDIS_MNEMONIC_VADDSS, ZYDIS_MNEMONIC_VMULSS, ZYDIS_MNEMONIC_VMINSS, ZYDIS_MNEMONIC_VSQRTSS,
            ZYDIS_MNEMONIC_VCVTSS2SD, ZYDIS_MNEMONIC_VRCPSS},
           {{kXmm, kXmm, kXmm}, {kXmm, kXmm, kM32}});
  t.Family({ZYDIS_MNEMONIC_VSUBSD, ZYDIS_MNEMONIC_VDIVSD, ZYDIS_MNEMONIC_VMAXSD, ZYDIS_MNEMONIC_VSQRTSD,
            ZYDIS_MNEMONIC_VCVTSD2SS},
           {{kXmm, kXmm, kXmm}, {kXmm, kXmm, kM64}});
  t.Family({ZYDIS_MNEMONIC_VCOMISS, ZYDIS_MNEMONIC_VUCOMISS}, {{kXmm, kXmm}, {kXmm, kM32}});
  t.Family({ZYDIS_MNEMONIC_VCOMISD, ZYDIS_MNEMONIC_VUCOMISD}, {{kXmm, kXmm}, {kXmm, kM64}});
  t.Family({ZYDIS_MNEMONIC_VCMPSS, ZYDIS_MNEMONIC_VROUNDSS}, {{kXmm, kXmm, kXmm, kI8}, {kXmm, kXmm, kM32, kI8}});
  t.Family({ZYDIS_MNEMONIC_VCMPSD, ZYDIS_MNEMONIC_VROUNDSD}, {{kXmm, kXmm, kXmm, kI8}, {kXmm, kXmm, kM64, kI8}});
  t.Family({ZYDIS_MNEMONIC_VCVTSI2SS, ZYDIS_MNEMONIC_VCVTSI2SD},
           {{kXmm, kXmm, kR32}, {kXmm, kXmm, kR64}, {kXmm, kXmm, kM32}, {kXmm, kXmm, kM64}});
  t.Family({ZYDIS_MNEMONIC_VCVTTSS2SI}, {{kR32, kXmm}, {kR64, kM32}});
  t.Family({ZYDIS_MNEMONIC_VCVTSD2SI}, {{kR64, kXmm}, {kR32, kM64}});

  // ---- moves ----
  t.Family({ZYDIS_MNEMONIC_VMOVAPS, ZYDIS_MNEMONIC_VMOVAPD, ZYDIS_MNEMONIC_VMOVDQA},
           {{kXmm, kM128}, {kM128, kXmm}, {kYmm, kYmm}, {kYmm, kM256}, {kM256, kYmm}}, kFAlignVec);
  t.Family({ZYDIS_MNEMONIC_VMOVUPS, ZYDIS_MNEMONIC_VMOVUPD, ZYDIS_MNEMONIC_VMOVDQU},
           {{kXmm, kM128}, {kM128, kXmm}, {kYmm, kYmm}, {kYmm, kM256}, {kM256, kYmm}});
  t.Family({ZYDIS_MNEMONIC_VLDDQU}, {{kXmm, kM128}, {kYmm, kM256}});
  t.Family({ZYDIS_MNEMONIC_VMOVNTPS, ZYDIS_MNEMONIC_VMOVNTDQ}, {{kM128, kXmm}, {kM256, kYmm}}, kFAlignVec);
  t.Family({ZYDIS_MNEMONIC_VMOVNTDQA}, {{kXmm, kM128}, {kYmm, kM256}}, kFAlignVec);
  t.Family({ZYDIS_MNEMONIC_VMOVSS}, {{kXmm, kXmm, kXmm}, {kXmm, kM32}, {kM32, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VMOVSD}, {{kXmm, kXmm, kXmm}, {kXmm, kM64}, {kM64, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VMOVD}, {{kXmm, kR32}, {kR32, kXmm}, {kXmm, kM32}, {kM32, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VMOVQ}, {{kXmm, kR64}, {kR64, kXmm}, {kXmm, kM64}, {kM64, kXmm}, {kXmm, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VMOVHPS, ZYDIS_MNEMONIC_VMOVLPD}, {{kXmm, kXmm, kM64}, {kM64, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VMOVHLPS, ZYDIS_MNEMONIC_VMOVLHPS}, {{kXmm, kXmm, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VMOVDDUP}, {{kXmm, kM64}, {kYmm, kYmm}, {kYmm, kM256}});
  t.Family({ZYDIS_MNEMONIC_VMOVMSKPS, ZYDIS_MNEMONIC_VPMOVMSKB}, {{kR32, kXmm}, {kR32, kYmm}});
  t.Family({ZYDIS_MNEMONIC_VPEXTRB}, {{kR32, kXmm, kI8}, {kM8, kXmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPEXTRW}, {{kR32, kXmm, kI8}, {kM16, kXmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPEXTRD, ZYDIS_MNEMONIC_VEXTRACTPS}, {{kR32, kXmm, kI8}, {kM32, kXmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPEXTRQ}, {{kR64, kXmm, kI8}, {kM64, kXmm, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPINSRB}, {{kXmm, kXmm, kR32, kI8}, {kXmm, kXmm, kM8, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPINSRW}, {{kXmm, kXmm, kR32, kI8}, {kXmm, kXmm, kM16, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPINSRD}, {{kXmm, kXmm, kR32, kI8}, {kXmm, kXmm, kM32, kI8}});
  t.Family({ZYDIS_MNEMONIC_VINSERTPS}, {{kXmm, kXmm, kXmm, kI8}, {kXmm, kXmm, kM32, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPINSRQ}, {{kXmm, kXmm, kR64, kI8}, {kXmm, kXmm, kM64, kI8}});
  t.Family({ZYDIS_MNEMONIC_VBROADCASTSS}, {{kXmm, kM32}, {kYmm, kM32}, {kXmm, kXmm}, {kYmm, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VBROADCASTSD}, {{kYmm, kM64}, {kYmm, kXmm}});
  t.Family({ZYDIS_MNEMONIC_VBROADCASTF128, ZYDIS_MNEMONIC_VBROADCASTI128}, {{kYmm, kM128}});
  t.Family({ZYDIS_MNEMONIC_VPBROADCASTB}, {{kXmm, kXmm}, {kYmm, kM8}});
  t.Family({ZYDIS_MNEMONIC_VPBROADCASTW}, {{kYmm, kXmm}, {kXmm, kM16}});
  t.Family({ZYDIS_MNEMONIC_VPBROADCASTD}, {{kXmm, kXmm}, {kYmm, kM32}});
  t.Family({ZYDIS_MNEMONIC_VPBROADCASTQ}, {{kYmm, kXmm}, {kXmm, kM64}});
  t.Family({ZYDIS_MNEMONIC_VPMOVSXBW, ZYDIS_MNEMONIC_VPMOVZXWD, ZYDIS_MNEMONIC_VPMOVSXDQ},
           {{kXmm, kM64}, {kYmm, kXmm}, {kYmm, kM128}});
  t.Family({ZYDIS_MNEMONIC_VPMOVZXBD, ZYDIS_MNEMONIC_VPMOVSXWQ}, {{kXmm, kM32}, {kYmm, kM64}});
  t.Family({ZYDIS_MNEMONIC_VPMOVZXBQ}, {{kXmm, kM16}, {kYmm, kM32}});
  // Masked loads and stores: masked-off lanes never fault, the rest may
  // straddle a page.
  t.Family({ZYDIS_MNEMONIC_VMASKMOVPS, ZYDIS_MNEMONIC_VMASKMOVPD, ZYDIS_MNEMONIC_VPMASKMOVD, ZYDIS_MNEMONIC_VPMASKMOVQ},
           {{kXmm, kXmm, kM128}, {kYmm, kYmm, kM256}, {kM128, kXmm, kXmm}, {kM256, kYmm, kYmm}});
  t.Family({ZYDIS_MNEMONIC_VZEROUPPER, ZYDIS_MNEMONIC_VZEROALL}, {{}});
  t.Family({ZYDIS_MNEMONIC_VSTMXCSR}, {{kM32}});
  t.Custom("vldmxcsr m32 (exceptions masked)", GenLdmxcsr, 0, ZYDIS_MNEMONIC_VLDMXCSR, 1);
  t.Custom("vmaskmovdqu xmm, xmm ([rdi])", GenMaskedStore, 0, ZYDIS_MNEMONIC_VMASKMOVDQU, 0);

  // ---- AES / PCLMUL (VEX.128), F16C ----
  t.Family({ZYDIS_MNEMONIC_VAESENC, ZYDIS_MNEMONIC_VAESENCLAST, ZYDIS_MNEMONIC_VAESDEC, ZYDIS_MNEMONIC_VAESDECLAST},
           {{kXmm, kXmm, kXmm}, {kXmm, kXmm, kM128}});
  t.Family({ZYDIS_MNEMONIC_VAESIMC}, {{kXmm, kXmm}, {kXmm, kM128}});
  t.Family({ZYDIS_MNEMONIC_VAESKEYGENASSIST}, {{kXmm, kXmm, kI8}, {kXmm, kM128, kI8}});
  t.Family({ZYDIS_MNEMONIC_VPCLMULQDQ}, {{kXmm, kXmm, kXmm, kI8}, {kXmm, kXmm, kM128, kI8}});
  t.Family({ZYDIS_MNEMONIC_VCVTPH2PS}, {{kXmm, kXmm}, {kXmm, kM64}, {kYmm, kXmm}, {kYmm, kM128}});
  t.Family({ZYDIS_MNEMONIC_VCVTPS2PH}, {{kXmm, kXmm, kI8}, {kM64, kXmm, kI8}, {kXmm, kYmm, kI8}, {kM128, kYmm, kI8}});

  // ---- gathers (VSIB) ----
  struct GatherDef {
    ZydisMnemonic m;
    int index_bytes;
  };
  const GatherDef kGathers[] = {
      {ZYDIS_MNEMONIC_VGATHERDPS, 4}, {ZYDIS_MNEMONIC_VGATHERDPD, 4}, {ZYDIS_MNEMONIC_VGATHERQPS, 8},
      {ZYDIS_MNEMONIC_VGATHERQPD, 8}, {ZYDIS_MNEMONIC_VPGATHERDD, 4}, {ZYDIS_MNEMONIC_VPGATHERDQ, 4},
      {ZYDIS_MNEMONIC_VPGATHERQD, 8}, {ZYDIS_MNEMONIC_VPGATHERQQ, 8}};
  for (const GatherDef& gd : kGathers) {
    Form f;
    f.mnemonic = gd.m;
    const std::string n = DefaultFormName(f);
    t.Custom(n + " (xmm)", GenGather, 0, gd.m, gd.index_bytes, 16);
    t.Custom(n + " (ymm)", GenGather, 0, gd.m, gd.index_bytes, 32);
  }

  // ---- FMA ----
  t.SetCategory(Cat::kFma);
  t.Family({ZYDIS_MNEMONIC_VFMADD132PS, ZYDIS_MNEMONIC_VFMADD213PD, ZYDIS_MNEMONIC_VFMADD231PS,
            ZYDIS_MNEMONIC_VFMSUB132PD, ZYDIS_MNEMONIC_VFMSUB213PS, ZYDIS_MNEMONIC_VFMSUB231PD,
            ZYDIS_MNEMONIC_VFNMADD132PS, ZYDIS_MNEMONIC_VFNMADD213PD, ZYDIS_MNEMONIC_VFNMADD231PS,
            ZYDIS_MNEMONIC_VFNMSUB132PD, ZYDIS_MNEMONIC_VFNMSUB213PS, ZYDIS_MNEMONIC_VFNMSUB231PD,
            ZYDIS_MNEMONIC_VFMADDSUB132PS, ZYDIS_MNEMONIC_VFMADDSUB231PD, ZYDIS_MNEMONIC_VFMSUBADD213PS,
            ZYDIS_MNEMONIC_VFMSUBADD231PD},
           k3);
  t.Family({ZYDIS_MNEMONIC_VFMADD132SS, ZYDIS_MNEMONIC_VFMADD231SS, ZYDIS_MNEMONIC_VFMSUB213SS,
            ZYDIS_MNEMONIC_VFNMADD231SS, ZYDIS_MNEMONIC_VFNMSUB132SS},
           {{kXmm, kXmm, kXmm}, {kXmm, kXmm, kM32}});
  t.Family({ZYDIS_MNEMONIC_VFMADD213SD, ZYDIS_MNEMONIC_VFMSUB231SD, ZYDIS_MNEMONIC_VFNMADD132SD,
            ZYDIS_MNEMONIC_VFNMSUB213SD},
           {{kXmm, kXmm, kXmm}, {kXmm, kXmm, kM64}});
}

}  // namespace difftest
