#!/usr/bin/env python3
"""Writes the seed corpus of the guest-code fuzzer (tests/fuzz/corpus/).

Each seed is a header (fuzz_machine.h, struct Header: 176 bytes, every field
XORed with its default so zeros are a sane machine) and guest code assembled
with GNU as (Intel syntax). The seeds cover each kind of rewrite and each
hostile situation once, so that libFuzzer starts from inputs that reach deep
into the translator and the VMM. The files are committed; rerun this script
(it needs binutils) after editing the list:

    tests/fuzz/make_seeds.py [OUTPUT_DIR]
"""
import os
import struct
import subprocess
import sys
import tempfile

HEADER = struct.Struct("<BBBBHHHHI8s16s16QQ")
assert HEADER.size == 176

# mode bits
CPL3, NO_IDT, TRAP_GATES, IST, SHORT_IDT, NO_AM, NO_WP, NO_NXE = (1 << i for i in range(8))
# paging bits
WINDOW, WINDOW_PA1, WINDOW_PA2, WINDOW_USER, WINDOW_WRITE, BIG, BIG_PA1, BIG_PA2 = (1 << i for i in range(8))
# misc bits
NO_PGE, TSD, GS_RAW, PRECISE, TINY_CACHE, NO_MMIO, TRACES = (1 << i for i in range(7))
# data_map: high nibble target, low nibble flag toggles
(OWN, CODE_ALIAS, PAGE_TABLES, SYS, LAST_RAM, PAST_RAM, MMIO, TOP4G, TOPPHYS, PAGE0, STACK_ALIAS,
 NEIGHBOUR, RSVD_BIT, IGNORED_BITS) = range(14)
D_NOTPRESENT, D_READONLY, D_SUPERVISOR, D_EXEC = 1, 2, 4, 8
# code_flags per page (4 bits each): not present, writable, supervisor, NX
C_NOTPRESENT, C_WRITABLE, C_SUPERVISOR, C_NX = 1, 2, 4, 8
# register kinds (XORed with the default: rsp -> STACK(3), others -> DATA(2))
(K_RAW, K_CODE, K_DATA, K_STACK, K_WINDOW, K_SYS, K_SMALL, K_ZERO, K_NC_LOW, K_NC_HIGH, K_TOP, K_BIG,
 K_HOST_CTX, K_HOST_CACHE, K_HOST_RAM, K_LOW32) = range(16)
REGS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
TF, IF, DF, AC, IOPL3 = 1 << 8, 1 << 9, 1 << 10, 1 << 18, 3 << 12


def header(mode=0, paging=0, misc=0, code_flags=0, mxcsr=0x1f80, fcw=0x37f, rflags=0, data=None,
           regs=None, seed=0):
    """regs: {name: (kind, value)}; data: {page: (target, flag_toggles)}."""
    data_map = bytearray(8)
    for page, (target, flags) in (data or {}).items():
        data_map[page] = (target << 4) | flags
    kinds = bytearray(16)
    vals = [0] * 16
    for i, r in enumerate(REGS):
        default = 3 if r == "rsp" else 2
        kind, val = (regs or {}).get(r, (default, 0x40 * i))
        kinds[i] = kind ^ default
        vals[i] = val & (2**64 - 1)
    return HEADER.pack(mode, paging, misc, 0, code_flags, mxcsr ^ 0x1f80, fcw ^ 0x37f, 0, rflags,
                       bytes(data_map), bytes(kinds), *vals, seed)


def assemble(src):
    with tempfile.TemporaryDirectory() as d:
        s, o, b = (os.path.join(d, n) for n in ("a.s", "a.o", "a.bin"))
        with open(s, "w") as f:
            f.write(".intel_syntax noprefix\n.text\n" + src + "\n")
        subprocess.run(["as", "--64", "-o", o, s], check=True)
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", o, b], check=True)
        with open(b, "rb") as f:
            return f.read()


SEEDS = [
    ("nop_hlt", {}, "nop; hlt"),
    ("alu_loop", {}, "mov ecx, 100\n1: add rax, rcx\nimul rdx, rax, 3\ndec ecx\njnz 1b\nhlt"),
    ("memory_rw", {}, "mov rax, [rbx]\nmov [rsi+8], rax\nadd qword ptr [rdi], 5\n"
                      "movzx ecx, byte ptr [rbx+rcx*2+7]\nxchg [rdx], eax\nlock xadd [rdx+8], rcx\nhlt"),
    ("stack_call", {}, "push rax\npush rbx\ncall 1f\npop rcx\npop rdx\nhlt\n1: push rbp\nmov rbp, rsp\n"
                       "enter 32, 3\nleave\npop rbp\nret"),
    ("indirect", {}, "lea rax, [rip+1f]\njmp rax\nud2\n1: lea rcx, [rip+2f]\ncall rcx\nhlt\n2: ret 0"),
    ("strings", {}, "mov ecx, 300\nrep movsb\nmov ecx, 40\nrep stosq\nmov ecx, 10\nrepe cmpsb\n"
                    "std\nmov ecx, 50\nrep movsw\ncld\nlodsq\nscasd\nhlt"),
    ("strings_cross", {"data": {1: (NEIGHBOUR, 0), 2: (PAST_RAM, 0)}},
     "mov rsi, 0x600ff0\nmov rdi, 0x601ff8\nmov ecx, 8000\nrep movsb\nhlt"),
    ("cpl3_syscall", {"mode": CPL3}, "mov eax, 60\nsyscall"),
    ("cpl3_int80", {"mode": CPL3}, "int 0x80"),
    ("cpl3_cli", {"mode": CPL3}, "cli"),
    ("cpl3_hlt", {"mode": CPL3}, "hlt"),
    ("cpl3_io", {"mode": CPL3, "rflags": IOPL3}, "mov dx, 0x3f8\nout dx, al\nin al, dx\ncli\nsti\nint3"),
    ("cpl3_supervisor_data", {"mode": CPL3, "data": {0: (OWN, D_SUPERVISOR)}}, "mov rax, [rbx]\nint3"),
    ("cpl3_ac", {"mode": CPL3, "rflags": AC}, "mov rax, [rbx+1]\nmovaps xmm0, [rbx+8]\nint3"),
    ("int3", {}, "int3"),
    ("ud2", {}, "ud2"),
    ("div0", {}, "xor ecx, ecx\ndiv rcx"),
    ("div_overflow", {"regs": {"rdx": (K_RAW, 5), "rcx": (K_RAW, 2)}}, "div rcx"),
    ("pf_unmapped", {}, "mov rax, [0x12345678]"),
    ("pf_readonly", {"data": {0: (OWN, D_READONLY)}}, "mov rax, [rbx]\nmov [rbx], rax"),
    ("pf_no_wp", {"mode": NO_WP, "data": {0: (OWN, D_READONLY)}}, "mov [rbx], rax\nhlt"),
    ("pf_nx_fetch", {"data": {0: (OWN, 0)}}, "jmp rbx"),
    ("pf_reserved_bit", {"data": {0: (RSVD_BIT, 0)}}, "mov rax, [rbx]"),
    ("pf_no_nxe", {"mode": NO_NXE}, "mov rax, [rbx]\nhlt"),
    ("smc_alias", {"data": {0: (CODE_ALIAS, 0)}, "regs": {"rdx": (K_DATA, 0)}},
     "mov byte ptr [rdx+30], 0x90\nmov byte ptr [rdx+31], 0xf4\n" + "nop\n" * 22 + "ud2\nud2"),
    ("smc_direct", {"code_flags": C_WRITABLE},
     "lea rax, [rip+1f]\nmov byte ptr [rax], 0xf4\n1: ud2\nud2"),
    ("smc_same_block", {"code_flags": C_WRITABLE},
     "lea rax, [rip+1f]\nmov dword ptr [rax], 0x90909090\n1: int3\nint3\nint3\nint3\nhlt"),
    ("smc_rep_over_code", {"code_flags": C_WRITABLE},
     "lea rdi, [rip+1f]\nmov al, 0x90\nmov ecx, 80\nrep stosb\n1:\n" + "ud2\n" * 40 + "hlt"),
    ("mmio_rw", {"data": {0: (MMIO, 0)}}, "mov eax, [rbx]\nmov [rbx+4], eax\nmov rcx, [rbx+0xffc]\n"
                                            "movdqu xmm0, [rbx+16]\nmov ecx, 16\nmov rsi, rbx\nrep lodsb\nhlt"),
    ("past_ram_rw", {"data": {0: (PAST_RAM, 0), 1: (TOPPHYS, 0), 2: (TOP4G, 0)}},
     "mov rax, [rbx]\nmov [rbx], rax\nmov rcx, [rbx+0x1000]\nmov rdx, [rbx+0x2000]\nmov [rbx+0x1008], rdx\nhlt"),
    ("last_ram_page_cross", {"data": {0: (LAST_RAM, 0), 1: (PAST_RAM, 0)}}, "mov rax, [rbx+0xffc]\n"
                                                                            "mov [rbx+0xffe], eax\nhlt"),
    ("page_tables_write", {"data": {0: (PAGE_TABLES, 0)}, "regs": {"rbx": (K_DATA, 0)}},
     "mov rax, [rbx]\nmov qword ptr [rbx+8], 0x83\nmov rax, 0x8000000000\nmov rcx, [rax]\nmov qword ptr [rbx], 0\n"
     "mov rdx, [rsi]\nhlt"),
    ("exec_mmio", {"data": {0: (MMIO, D_EXEC)}}, "jmp rbx"),
    ("exec_past_ram", {"data": {0: (PAST_RAM, D_EXEC)}}, "jmp rbx"),
    ("exec_page_tables", {"data": {0: (PAGE_TABLES, D_EXEC)}}, "jmp rbx"),
    ("run_off_code", {"code_flags": C_WRITABLE | (C_NOTPRESENT << 4)},
     "mov rdi, 0x400fff\nmov byte ptr [rdi], 0x48\njmp rdi"),  # an instruction that continues on a missing page
    ("run_off_end", {}, "mov rax, 0x403ff0\njmp rax"),
    ("window_beyond_ram", {"paging": WINDOW | WINDOW_WRITE}, "mov rax, 0x40800000\nmov rcx, [rax]\n"
                                                              "mov [rax], rcx\nmov rdx, [rax-8]\nhlt"),
    ("window_mmio_hole", {"paging": WINDOW | WINDOW_PA1 | WINDOW_WRITE},
     "mov rax, 0x7ee00000\nmov ecx, [rax+0x20]\nmov [rax+0x20], ecx\nmov rax, 0x7ec00000\nmov edx, [rax]\nhlt"),
    ("big_page_past_ram", {"paging": BIG | BIG_PA2}, "mov rax, 0x1000000\nmov rcx, [rax]\nmov [rax+8], rcx\nhlt"),
    ("big_page_straddle", {"paging": BIG | BIG_PA1}, "mov rax, 0x11ffff8\nmov rcx, [rax]\nmov rdx, [rax+8]\nhlt"),
    ("noncanonical", {"regs": {"rcx": (K_NC_LOW, 0xffc), "rdx": (K_NC_HIGH, 0x1000)}},
     "mov rax, [rcx]\nmov rax, [rdx-8]\nhlt"),
    ("noncanonical_stack", {"regs": {"rsp": (K_NC_LOW, 0x1000)}}, "push rax\nhlt"),
    ("noncanonical_jump", {}, "mov rax, 0x0000800000000000\njmp rax"),
    ("wrap_top", {"regs": {"rbx": (K_TOP, 4)}}, "mov rax, [rbx]\nmov [rbx], rax\nhlt"),
    ("host_ctx_addr", {"regs": {"rbx": (K_HOST_CTX, 0), "rcx": (K_HOST_CACHE, 0), "rdx": (K_HOST_RAM, 0)}},
     "mov rax, [rbx]\nmov [rbx], rax\nmov rax, [rcx]\nmov rax, [rdx]\njmp rcx"),
    ("host_cache_exec", {"regs": {"rcx": (K_HOST_CACHE, 0)}}, "call rcx"),
    ("host_stack_as_guest_rsp", {"regs": {"rsp": (K_HOST_CTX, 0x800)}}, "push rax\npush rbx\ncall 1f\n1: hlt"),
    ("iretq_to_cpl3", {}, "lea rax, [rip+1f]\npush 0x23\npush 0x7ff000\npushfq\npush 0x2b\npush rax\niretq\n"
                          "1: mov rax, [rbx]\nint3"),
    ("sysret", {}, "lea rcx, [rip+1f]\nmov r11d, 0x202\nsysretq\n1: syscall"),
    ("swapgs_msrs", {}, "swapgs\nmov ecx, 0xc0000082\nrdmsr\nwrmsr\nmov ecx, 0xc0000101\nrdmsr\n"
                        "mov rax, gs:[8]\nrdtsc\nrdtscp\ncpuid\nhlt"),
    ("cr3_invlpg", {}, "mov rax, cr3\nmov cr3, rax\ninvlpg [rbx]\nmov rax, cr0\nmov cr0, rax\n"
                       "mov rax, cr4\nmov cr4, rax\nmov rax, [rbx]\nhlt"),
    ("lidt_garbage", {}, "lidt [rbx]\nint3"),
    ("lgdt_garbage", {}, "lgdt [rbx]\nmov ax, 0x18\nmov ds, ax\nint3"),
    ("segments", {}, "mov ax, 0x23\nmov ds, ax\nmov ax, 0x33\nmov es, ax\nhlt"),
    ("ltr_lldt", {}, "mov ax, 0x30\nltr ax\nlldt ax\nhlt"),
    ("far_jmp_mem", {}, "mov qword ptr [rbx], 0\nmov word ptr [rbx+8], 0x10\nlea rax, [rip+1f]\n"
                        "mov [rbx], rax\nrex.w jmp fword ptr [rbx]\n1: hlt"),
    ("far_ret", {}, "lea rax, [rip+1f]\npush 0x10\npush rax\nrex.w retf\n1: hlt"),
    ("xsave_xrstor", {}, "xor edx, edx\nmov eax, 7\nxsave [rbx]\nxrstor [rbx]\nhlt"),
    ("xrstor_garbage", {}, "mov eax, 7\nxor edx, edx\nmov qword ptr [rbx+512], -1\nxrstor [rbx]\nhlt"),
    ("fxsave", {}, "fxsave [rbx]\nfxrstor [rbx]\nhlt"),
    ("ldmxcsr_bad", {}, "mov dword ptr [rbx], 0xffffffff\nldmxcsr [rbx]\nhlt"),
    ("sse_fault", {"mxcsr": 0x1f80 & ~0x200}, "xorps xmm1, xmm1\ndivss xmm0, xmm1\nhlt"),
    ("x87_fault", {"fcw": 0x37f & ~0x4}, "fld1\nfldz\nfdivp\nfwait\nhlt"),
    ("avx", {}, "vmovdqu ymm0, [rbx]\nvpaddd ymm1, ymm0, ymm0\nvmovdqu [rsi], ymm1\n"
                "vpgatherdd ymm2, [rbx+ymm3*1], ymm4\nhlt"),
    ("misaligned_sse", {}, "movaps xmm0, [rbx+8]\nhlt"),
    ("cmpxchg16b_misaligned", {}, "lock cmpxchg16b [rbx+8]\nhlt"),
    ("maskmov", {}, "pcmpeqb xmm1, xmm1\nmaskmovdqu xmm0, xmm1\nhlt"),
    ("bt_far", {"regs": {"rcx": (K_RAW, 0x7fff)}}, "bts [rbx], rcx\nbt [rbx], rcx\nhlt"),
    ("single_step", {"rflags": TF}, "nop\nnop\nhlt"),
    ("debug_exit", {}, "mov al, 3\nout 0xf4, al\nhlt"),
    ("serial", {}, "mov dx, 0x3f8\nmov al, 0x41\nout dx, al\nadd dx, 5\nin al, dx\nhlt"),
    ("spin", {}, "jmp ."),
    ("spin_cli", {}, "cli\n1: jmp 1b"),
    ("double_fault", {"regs": {"rsp": (K_NC_LOW, 0x1000)}, "mode": 0}, "mov rax, [0x12345678]"),
    ("triple_fault", {}, "lidt [rbx]\nmov rax, [0x12345678]"),
    ("no_idt_int", {"mode": NO_IDT}, "int 0x41"),
    ("short_idt_int", {"mode": SHORT_IDT}, "int 0x41"),
    ("trap_gates", {"mode": TRAP_GATES | CPL3}, "int3"),
    ("ist", {"mode": IST | CPL3}, "mov rax, [0x12345678]"),
    ("tiny_cache", {"misc": TINY_CACHE},
     "\n".join(f"mov rax, {i}\njmp 1{i % 10}f\n1{i % 10}:" for i in range(300)) + "\nhlt"),
    ("precise_flags", {"misc": PRECISE}, "add rax, rbx\nmov rcx, [0x12345678]"),
    # Handlers that jmp to each other through registers: traces (cpu/vcpu_traces.cpp).
    ("trace_dispatch", {"misc": TRACES},
     "lea r9, [rip + 1f]\nlea r10, [rip + 2f]\nmov ecx, 1000\n"
     "1: add rax, [rbx]\njmp r10\n2: adc rdx, 1\ndec ecx\njz 3f\njmp r9\n3: hlt"),
    ("gs_base_raw", {"misc": GS_RAW, "regs": {"rax": (K_RAW, 0x600000)}}, "mov rcx, gs:[0]\nmov gs:[8], rcx\nhlt"),
]

# Raw byte seeds: prefixes and encodings an assembler will not write.
RAW_SEEDS = [
    ("prefix_15_bytes", {}, bytes([0x66] * 11) + bytes([0x48, 0x8b, 0x04, 0x24]) + b"\xf4"),  # 15 bytes: ok
    ("prefix_16_bytes", {}, bytes([0x66] * 12) + bytes([0x48, 0x8b, 0x04, 0x24]) + b"\xf4"),  # 16: #GP
    ("prefix_redundant", {}, bytes([0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0xf2, 0xf3, 0x67, 0x48, 0x8b, 0x03, 0xf4])),
    ("lock_nop", {}, b"\xf0\x90\xf4"),
    ("lock_reg_add", {}, b"\xf0\x48\x01\xd8\xf4"),
    ("lock_mov", {}, b"\xf0\x48\x89\x03\xf4"),
    ("rex_rex", {}, b"\x48\x41\x8b\x03\xf4"),
    ("vex_lock", {}, b"\xf0\xc5\xfd\x6f\x03\xf4"),
    ("evex_avx512", {}, b"\x62\xf1\xfe\x48\x6f\x03\xf4"),     # vmovdqu64 zmm0, [rbx]: no AVX-512 in the guest
    ("clzero", {}, b"\x0f\x01\xfc\xf4"),                      # AMD clzero [rax]
    ("movdir64b", {}, b"\x66\x0f\x38\xf8\x03\xf4"),
    ("wrfsbase", {}, b"\xf3\x48\x0f\xae\xd0\xf4"),
    ("into_middle", {}, b"\x48\xb8\xeb\x02\xcc\xcc\xf4\x90\x90\x90\xeb\xf6\xf4"),  # jmp into the imm64
    ("invalid_opcodes", {}, b"\x0f\x0b\xd6\x0f\xff\xff\xff\xff"),
    ("ff_ff", {}, b"\xff\xff"),
    ("zeros", {}, bytes(64)),
    ("ones", {}, b"\xff" * 64),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, h, src in SEEDS:
        with open(os.path.join(out, name), "wb") as f:
            f.write(header(**h) + assemble(src))
    for name, h, code in RAW_SEEDS:
        with open(os.path.join(out, name), "wb") as f:
            f.write(header(**h) + code)
    print(f"{len(SEEDS) + len(RAW_SEEDS)} seeds in {out}")


if __name__ == "__main__":
    main()
