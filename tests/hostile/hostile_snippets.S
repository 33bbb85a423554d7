// Guest code for hostile_test.cpp: each snippet is copied to the guest's code
// pages at 0x400000 (tests/fuzz/fuzz_machine.h has the layout) and run there;
// it is data in this binary, never executed by the host. Labels named
// NAME_LABEL mark the instructions a test expects to fault.
//
// Register conventions on entry (the machine's defaults): rbx, rsi, rdi, rdx
// point into the data pages (0x600000...), rsp at the stack (0x7fe100).
.intel_syntax noprefix
.section .rodata.hostile_guest, "a"

#define BEGIN(n) .globl n##_begin, n##_end; .balign 16; n##_begin:
#define END(n) n##_end:
#define LABEL(n, l) .globl n##_##l; n##_##l:

// ---- Memory outside RAM ---------------------------------------------------

// rbx -> a page whose frame is not RAM: reads are all-ones, writes vanish.
BEGIN(unbacked_rw)
  mov rax, [rbx]
  mov r10d, [rbx + 0xffc]
  movzx r11d, word ptr [rbx + 7]          // misaligned
  mov qword ptr [rbx + 8], 0x1234         // ignored
  mov r12, [rbx + 8]
  movdqu xmm0, [rbx + 0x100]
  movq r13, xmm0
  mov rsi, rbx                            // rep movsb from it into RAM (the stack page)
  lea rdi, [rsp - 64]
  mov ecx, 16
  rep movsb
  mov r14, [rsp - 64]
  hlt
END(unbacked_rw)

// rbx -> the last page of RAM, rbx + 0x1000 -> just past it.
BEGIN(ram_end_straddle)
  mov rax, [rbx + 0xffc]
  mov qword ptr [rbx + 0xffc], 0          // the RAM half is written, the rest vanishes
  mov rcx, [rbx + 0xff8]
  hlt
END(ram_end_straddle)

// rax -> 1 GiB window at physical 1 GiB (past the 8 MiB of RAM).
BEGIN(window_rw)
  mov rax, 0x40123000
  mov rcx, [rax]
  mov [rax], rdx
  mov rdx, [rax]
  hlt
END(window_rw)

// The guest's own PML4 (mapped at rbx): entry 1 -> a PDPT past the end of
// RAM. The walk reads all-ones: present, reserved bits set.
BEGIN(pdpt_past_ram)
  mov qword ptr [rbx + 8], 0x800007
  mov rax, 0x8000000000
LABEL(pdpt_past_ram, fault)
  mov rcx, [rax]
  hlt
END(pdpt_past_ram)

// The guest's own PML4 (at rbx): entry 1 -> a PDPT whose frame has bits above
// MAXPHYADDR (40).
BEGIN(pml4e_reserved)
  mov rax, 0x0000100000000007
  mov [rbx + 8], rax
  mov rax, 0x8000000000
LABEL(pml4e_reserved, fault)
  mov rcx, [rax]
  hlt
END(pml4e_reserved)

// Execution of whatever rbx points at.
BEGIN(jump_rbx)
  jmp rbx
END(jump_rbx)

// Executes the last 16 bytes of RAM through the 1 GiB window (PA 0): nops
// run into physical 8 MiB, which is not RAM.
BEGIN(run_off_ram)
  mov rax, 0x40000000 + 0x800000 - 16
  jmp rax
END(run_off_ram)

// ---- Host addresses -----------------------------------------------------------

// rbx holds a host address (of the vCPU context, the code cache...).
BEGIN(host_read)
LABEL(host_read, fault)
  mov rax, [rbx]
  hlt
END(host_read)

BEGIN(host_write)
LABEL(host_write, fault)
  mov [rbx], rax
  hlt
END(host_write)

BEGIN(host_call)
LABEL(host_call, insn)
  call rbx
LABEL(host_call, next)
  hlt
END(host_call)

BEGIN(host_push)
LABEL(host_push, fault)
  push rax
  hlt
END(host_push)

BEGIN(host_rep_movs)
  mov rsi, rbx
  mov rdi, rdx
  mov ecx, 64
LABEL(host_rep_movs, fault)
  rep movsb
  hlt
END(host_rep_movs)

// ---- Non-canonical ---------------------------------------------------------

// rcx holds the address.
BEGIN(nc_read)
LABEL(nc_read, fault)
  mov rax, [rcx]
  hlt
END(nc_read)

BEGIN(nc_read_byte)
LABEL(nc_read_byte, fault)
  mov al, [rcx]
  hlt
END(nc_read_byte)

BEGIN(nc_write)
LABEL(nc_write, fault)
  mov qword ptr [rcx], 0x1234
  hlt
END(nc_write)

BEGIN(nc_moffs)
LABEL(nc_moffs, fault)
  movabs al, byte ptr ds:0xc000000000000010
  hlt
END(nc_moffs)

BEGIN(nc_jmp)
LABEL(nc_jmp, fault)
  jmp rcx
END(nc_jmp)

BEGIN(nc_call)
LABEL(nc_call, fault)
  call rcx
  hlt
END(nc_call)

BEGIN(nc_ret)
  push rcx
LABEL(nc_ret, fault)
  ret
END(nc_ret)

BEGIN(nc_push)
  mov rsp, rcx
LABEL(nc_push, fault)
  push rax
  hlt
END(nc_push)

BEGIN(nc_fs)
LABEL(nc_fs, fault)
  mov rax, fs:[0x1000]
  hlt
END(nc_fs)

// A read-only user page at 0x40000000 fills TLB set 0, then a store to the
// non-canonical 0xc000000000000008 (the same set).
BEGIN(nc_write_via_readonly_entry)
  mov rax, 0x40000000
  mov rcx, [rax + 8]
  movabs rax, 0xc000000000000008
LABEL(nc_write_via_readonly_entry, fault)
  mov qword ptr [rax], 0x1234
  hlt
END(nc_write_via_readonly_entry)

// ---- Self-modifying code: every way of writing --------------------------------
// Each calls `target` (mov eax, 0x11111111; ret), rewrites its immediate, calls
// it again, and halts with r12 = the first result, r13 = the second. Code
// page 0 is writable for these; rbx points at scratch data.
#define SMC_TARGET                                                          \
  .balign 64;                                                              \
  9: mov eax, 0x11111111; ret;                                              \
  .fill 58, 1, 0xcc

#define SMC(name, ...)                                                      \
  BEGIN(name)                                                               \
    call 9f;                                                                \
    mov r12, rax;                                                           \
    __VA_ARGS__;                                                            \
    call 9f;                                                                \
    mov r13, rax;                                                           \
    hlt;                                                                    \
    SMC_TARGET;                                                             \
  END(name)

SMC(smc_mov, mov dword ptr [rip + 9f + 1], 0x22222222)
SMC(smc_alias, lea rax, [rip + 9f + 1]; and eax, 0xfff; add rax, rdx; mov dword ptr [rax], 0x22222222)
SMC(smc_stos, lea rdi, [rip + 9f + 1]; mov eax, 0x22222222; mov ecx, 1; rep stosd)
SMC(smc_stos_backwards, lea rdi, [rip + 9f + 4]; mov al, 0x22; mov ecx, 4; std; rep stosb; cld)
SMC(smc_movs, mov dword ptr [rbx], 0x22222222; mov rsi, rbx; lea rdi, [rip + 9f + 1]; mov ecx, 4; rep movsb)
SMC(smc_push, mov rax, 0xccccccc322222222; mov r14, rsp; lea rsp, [rip + 9f + 9]; push rax; mov rsp, r14)
SMC(smc_xchg, mov eax, 0x22222222; xchg [rip + 9f + 1], eax)
SMC(smc_cmpxchg, mov eax, 0x11111111; mov ecx, 0x22222222; lock cmpxchg [rip + 9f + 1], ecx)
SMC(smc_lock_add, lock add dword ptr [rip + 9f + 1], 0x11111111)
SMC(smc_bts, bts dword ptr [rip + 9f + 1], 1)
SMC(smc_setc, stc; setc byte ptr [rip + 9f + 1])
SMC(smc_avx, mov rax, 0xccccc322222222b8; mov [rbx], rax; mov rax, 0xcccccccccccccccc; mov [rbx + 8], rax;
    mov [rbx + 16], rax; mov [rbx + 24], rax; vmovdqu ymm0, [rbx]; vmovdqu [rip + 9f], ymm0)
SMC(smc_x87, mov rax, 0xccccc322222222b8; mov [rbx], rax; fld qword ptr [rbx]; fstp qword ptr [rip + 9f])
SMC(smc_maskmov, mov rax, 0xccccc322222222b8; mov [rbx], rax; mov qword ptr [rbx + 8], -1; movdqu xmm0, [rbx]; pcmpeqb xmm1, xmm1; lea rdi, [rip + 9f]; maskmovdqu xmm0, xmm1)

// The same block rewrites an instruction ahead of it: the new one runs.
BEGIN(smc_same_block)
  mov dword ptr [rip + 1f + 1], 0x22222222
1: mov eax, 0x11111111
  mov r13, rax
  hlt
END(smc_same_block)

// An instruction that straddles two pages; its immediate's last bytes are on
// the second page, which is rewritten. (Placed at 0xffd of code page 0.)
BEGIN(smc_straddle)
  call 9f
  mov r12, rax
  mov word ptr [rip + 9f + 3], 0x2222        // immediate bytes 0x1000-0x1001: the second page only
  call 9f
  mov r13, rax
  hlt
  .fill 0xffd - (. - smc_straddle_begin), 1, 0xcc
9: mov eax, 0x11111111
  ret
END(smc_straddle)

// A loop whose body is rewritten while it is chained to itself.
BEGIN(smc_chained_loop)
  xor r12d, r12d
  mov ecx, 100
1: add r12d, 1
  cmp ecx, 50
  jne 2f
  mov byte ptr [rip + 1b + 3], 2            // add r12d, 1 -> add r12d, 2
2: dec ecx
  jnz 1b
  hlt
END(smc_chained_loop)

// ---- Control flow into the middle of instructions -----------------------------
BEGIN(jump_into_middle)
  call 8f
  mov r8, rax
  lea rcx, [rip + 8f + 2]
  call rcx
  mov r9, rax
  call 8f
  mov r10, rax
  hlt
8: movabs rax, 0xccccc322222222b8
  ret
END(jump_into_middle)

// An instruction that continues on a page that is not present (code page 1):
// the fetch faults on the second page, reported at the instruction.
BEGIN(straddle_missing_page)
  mov rax, 0x400ffe
  jmp rax
  .fill 0xffe - (. - straddle_missing_page_begin), 1, 0xcc
LABEL(straddle_missing_page, fault)
  .byte 0x48, 0xb8                            // movabs rax, imm64: 8 more bytes on page 1
END(straddle_missing_page)

// ---- Prefixes ------------------------------------------------------------------
// rbx -> data; each ends in hlt when it executes, or faults.
BEGIN(prefix_15)
  .byte 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x48, 0x8b, 0x03  // 15 bytes: mov rax, [rbx]
  hlt
END(prefix_15)

BEGIN(prefix_16)
LABEL(prefix_16, fault)
  .byte 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x48, 0x8b, 0x03  // 16 bytes: #GP(0)
  hlt
END(prefix_16)

BEGIN(prefix_rex_then_66)
  mov rax, 0xaaaaaaaaaaaaaaaa
  .byte 0x48, 0x66, 0x8b, 0x03                // REX not last: ignored -> mov ax, [rbx]
  hlt
END(prefix_rex_then_66)

BEGIN(prefix_66_then_rex)
  mov rax, 0xaaaaaaaaaaaaaaaa
  .byte 0x66, 0x48, 0x8b, 0x03                // REX.W wins over 66 -> mov rax, [rbx]
  hlt
END(prefix_66_then_rex)

BEGIN(prefix_two_rex)
  .byte 0x48, 0x41, 0x8b, 0x03                // only the last REX counts -> mov eax, [r11]
  hlt
END(prefix_two_rex)

BEGIN(prefix_addr32)
  mov rax, 0x1234567800000000
  or rbx, rax                                 // upper half ignored with 67
  .byte 0x67, 0x8b, 0x03                      // mov eax, [ebx]
  hlt
END(prefix_addr32)

BEGIN(prefix_rep_on_mov)
  .byte 0xf3, 0x48, 0x8b, 0x03                // F3 on a non-string instruction: ignored
  .byte 0xf2, 0x48, 0x8b, 0x0b                // F2 likewise: mov rcx, [rbx]
  hlt
END(prefix_rep_on_mov)

BEGIN(prefix_lock_locked)
  .byte 0xf0, 0xf0, 0x48, 0x01, 0x03          // two locks on a lockable add [rbx], rax
  hlt
END(prefix_lock_locked)

#define UD_CASE(name, bytes...)                                              \
  BEGIN(name)                                                                \
  LABEL(name, fault)                                                         \
    .byte bytes;                                                             \
    hlt;                                                                     \
  END(name)

UD_CASE(ud_lock_mov, 0xf0, 0x48, 0x89, 0x03)        // lock mov [rbx], rax
UD_CASE(ud_lock_reg, 0xf0, 0x48, 0x01, 0xd8)        // lock add rax, rbx
UD_CASE(ud_lock_nop, 0xf0, 0x90)                    // lock nop
UD_CASE(ud_lock_cmp, 0xf0, 0x48, 0x39, 0x03)        // lock cmp [rbx], rax
UD_CASE(ud_66_vex, 0x66, 0xc5, 0xf9, 0x6f, 0x03)    // 66 before VEX
UD_CASE(ud_rex_vex, 0x48, 0xc5, 0xf9, 0x6f, 0x03)   // REX before VEX
UD_CASE(ud_lock_vex, 0xf0, 0xc5, 0xf9, 0x6f, 0x03)  // lock before VEX
UD_CASE(ud_f3_vex, 0xf3, 0xc5, 0xf9, 0x6f, 0x03)    // F3 before VEX
UD_CASE(ud_evex, 0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x03)  // AVX-512: not in the guest CPU
UD_CASE(ud_push_es, 0x06)                           // invalid in 64-bit mode
UD_CASE(ud_daa, 0x27)
UD_CASE(ud_pusha, 0x60)
UD_CASE(ud_salc, 0xd6)
UD_CASE(ud_far_call_imm, 0x9a, 0, 0, 0, 0, 0x10, 0)
UD_CASE(ud_into, 0xce)
UD_CASE(ud_82, 0x82, 0xc0, 0x01)
UD_CASE(ud_clzero, 0x0f, 0x01, 0xfc)                // AMD clzero [rax]: host memory if it ran
UD_CASE(ud_movdir64b, 0x66, 0x0f, 0x38, 0xf8, 0x03) // movdir64b rax, [rbx]
UD_CASE(ud_wrfsbase, 0xf3, 0x48, 0x0f, 0xae, 0xd0)  // wrfsbase rax: the host's FS
UD_CASE(ud_wrgsbase, 0xf3, 0x48, 0x0f, 0xae, 0xd8)  // wrgsbase rax: the host's GS (the vCPU context)
UD_CASE(ud_rdgsbase, 0xf3, 0x48, 0x0f, 0xae, 0xc8)  // rdgsbase rax: would leak the context's address
UD_CASE(ud_xbegin, 0xc7, 0xf8, 0, 0, 0, 0)
UD_CASE(ud_ud1, 0x0f, 0xb9, 0x03)
UD_CASE(ud_wrpkru, 0x0f, 0x01, 0xef)

// ---- Alignment checking (CPL 3, RFLAGS.AC, CR0.AM) ----------------------------------
BEGIN(ac_misaligned)
LABEL(ac_misaligned, fault)
  mov rax, [rbx + 1]
  int3
END(ac_misaligned)

// ---- The PC's devices: every MMIO offset and every port -------------------------
// (identity-mapped, CPL 0, interrupts off; see PcDevicesSurviveASweep)
BEGIN(pc_sweep)
  mov rbx, 0xfee00000                         // local APIC: every size at every offset
  xor ecx, ecx
1: mov al, [rbx + rcx]
  mov ax, [rbx + rcx]
  mov eax, [rbx + rcx]
  mov rax, [rbx + rcx]                        // the last ones cross into the unclaimed page after it
  inc ecx
  cmp ecx, 0x1000
  jb 1b
  xor ecx, ecx                                // all-ones to every register
  mov eax, -1
2: mov [rbx + rcx], eax
  add ecx, 16
  cmp ecx, 0x1000
  jb 2b
  mov rbx, 0xfec00000                         // I/O APIC: every index, all-ones data
  xor ecx, ecx
3: mov [rbx], ecx
  mov dword ptr [rbx + 0x10], -1
  mov eax, [rbx + 0x10]
  mov rax, [rbx + 0xc]                        // a qword across the window
  inc ecx
  cmp ecx, 256
  jb 3b
  xor edx, edx                                // every port read, every size
4: in al, dx
  in ax, dx
  in eax, dx
  inc edx
  cmp edx, 0x10000
  jb 4b
  xor edx, edx                                // every port written with 0, but isa-debug-exit
  xor eax, eax
5: cmp edx, 0xf4
  je 6f
  out dx, al
  out dx, ax
6: inc edx
  cmp edx, 0x10000
  jb 5b
  mov rsi, 0xfee00000                         // rep movs through MMIO both ways
  mov rdi, 0x400000
  mov ecx, 0x1000
  rep movsb
  mov rsi, 0x400000
  mov rdi, 0xfec00000
  mov ecx, 0x20
  rep movsb
  hlt
END(pc_sweep)

// ---- The host thread's state after a run ------------------------------------------
BEGIN(host_state_dirty)
  std                                         // DF set
  mov dword ptr [rbx], 0xe040                 // MXCSR: every exception unmasked, FTZ, DAZ, round up
  ldmxcsr [rbx]
  mov word ptr [rbx + 8], 0x0040              // x87: every exception unmasked
  fldcw [rbx + 8]
  pushfq
  or qword ptr [rsp], 0x40000                 // AC
  popfq
  hlt
END(host_state_dirty)

.section .note.GNU-stack, "", @progbits
