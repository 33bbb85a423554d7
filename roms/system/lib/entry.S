// entry.S — the test kernel's ways in and out of handlers.
//
//   isr_stubs     256 stubs, 16 bytes apart (isr_stubs + 16 * vector): push a
//                 0 error code where the processor pushes none, push the
//                 vector, go to isr_common.
//   isr_common    pushes the GPRs, the handler's RFLAGS and a pad (struct
//                 frame in ktest.h), saves x87/SSE with fxsave64, calls
//                 kdispatch(frame, fxsave area), restores and returns with
//                 iretq. kdispatch may have changed every field of the frame.
//   syscall_entry LSTAR: builds the same frame on the syscall stack (vector
//                 0x100, rip = rcx, rflags = r11) and returns with sysretq
//                 (kdispatch returned 1) or iretq (it returned 0).
//   xrun_enter    loads every GPR from g_run and enters g_run.rip with iretq.
//   ksetjmp       saves the callee-saved registers; the dispatcher "returns"
//                 to it a second time (value 1) by rewriting a frame.
//
// Frame size: the processor aligns RSP to 16 and pushes 5 quadwords (6 with
// an error code); with the stub's pushes every vector leaves 7 + 15 + 4 = 26
// quadwords, so the frame and the fxsave area below it are 16-byte aligned.

        .set    RUN_RAX, 0
        .set    RUN_RCX, 8
        .set    RUN_RDX, 16
        .set    RUN_RBX, 24
        .set    RUN_RSP, 32
        .set    RUN_RBP, 40
        .set    RUN_RSI, 48
        .set    RUN_RDI, 56
        .set    RUN_R8, 64
        .set    RUN_R9, 72
        .set    RUN_R10, 80
        .set    RUN_R11, 88
        .set    RUN_R12, 96
        .set    RUN_R13, 104
        .set    RUN_R14, 112
        .set    RUN_R15, 120
        .set    RUN_RIP, 128
        .set    RUN_RFLAGS, 136
        .set    RUN_CS, 144
        .set    RUN_SS, 152

        .set    UDS, 0x1b
        .set    UCS, 0x23

        .text
        .balign 16
        .globl  isr_stubs
isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16
        // Vectors whose exceptions push an error code: #DF #TS #NP #SS #GP
        // #PF #AC #CP #VC #SX.
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        pushq   $0
        .endif
        pushq   $vec
        jmp     isr_common
        .set    vec, vec + 1
        .endr

        // Saves what isr_common and syscall_entry have in common: the GPRs,
        // the handler's RFLAGS, a pad, and the CR0/CR4 to restore on the
        // way out. A handler always runs with x87/SSE usable (the C code is
        // compiled for x86-64-v3): if the interrupted code had set CR0.EM or
        // CR0.TS, or cleared CR4.OSFXSR, the stub undoes that and remembers
        // the value (0 in the slot: nothing to restore). Then fxsave64, and
        // kdispatch(frame, fxsave area).
        .macro  SAVE_AND_DISPATCH
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushfq                          // handler_rflags: nothing changed the flags yet
        pushq   $2                      // then run with TF, IF, DF, NT, AC, IOPL clear: after a
        popfq                           // syscall with a small SFMASK they may be the user's
        subq    $24, %rsp               // pad, restore_cr0, restore_cr4
        movq    $0, 8(%rsp)
        movq    $0, 0(%rsp)
        movq    %cr0, %rax
        testb   $0xc, %al               // EM | TS
        jz      91f
        movq    %rax, 8(%rsp)
        andq    $~0xc, %rax
        movq    %rax, %cr0
91:     movq    %cr4, %rax
        btq     $9, %rax                // OSFXSR
        jc      92f
        movq    %rax, 0(%rsp)
        orq     $0x600, %rax            // OSFXSR | OSXMMEXCPT
        movq    %rax, %cr4
92:     movq    %rsp, %rbx              // struct frame *
        subq    $512, %rsp
        fxsave64 (%rsp)
        movq    %rbx, %rdi
        movq    %rsp, %rsi
        cld
        call    kdispatch
        fxrstor64 (%rsp)
        movq    %rbx, %rsp
        movq    8(%rsp), %rcx
        testq   %rcx, %rcx
        jz      93f
        movq    %rcx, %cr0
93:     movq    0(%rsp), %rcx
        testq   %rcx, %rcx
        jz      94f
        movq    %rcx, %cr4
94:     addq    $32, %rsp               // restore_cr4, restore_cr0, pad, handler_rflags
        .endm

        .macro  POP_GPRS
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        .endm

        .balign 16
isr_common:
        SAVE_AND_DISPATCH
        POP_GPRS
        addq    $16, %rsp               // vector, error code
        .globl  isr_iretq
isr_iretq:
        iretq

        .balign 16
        .globl  syscall_entry
syscall_entry:
        movq    %rsp, g_sys_user_rsp(%rip)
        movq    g_sys_stack_top(%rip), %rsp
        pushq   $UDS                    // ss (used only if the return is an iretq)
        pushq   g_sys_user_rsp(%rip)    // rsp
        pushq   %r11                    // rflags
        pushq   $UCS                    // cs
        pushq   %rcx                    // rip
        pushq   $0                      // error code
        pushq   $0x100                  // vector: V_SYSCALL
        SAVE_AND_DISPATCH
        cmpl    $0, %eax                // ZF: return with iretq
        POP_GPRS                        // pops leave the flags alone
        jz      1f
        movq    16(%rsp), %rcx          // frame rip
        movq    32(%rsp), %r11          // frame rflags
        movq    40(%rsp), %rsp          // frame rsp
        .globl  sys_sysretq
sys_sysretq:
        sysretq
1:      addq    $16, %rsp
        iretq

        .balign 16
        .globl  xrun_enter
xrun_enter:
        pushq   g_run+RUN_SS(%rip)
        pushq   g_run+RUN_RSP(%rip)
        pushq   g_run+RUN_RFLAGS(%rip)
        pushq   g_run+RUN_CS(%rip)
        pushq   g_run+RUN_RIP(%rip)
        movq    g_run+RUN_RAX(%rip), %rax
        movq    g_run+RUN_RCX(%rip), %rcx
        movq    g_run+RUN_RDX(%rip), %rdx
        movq    g_run+RUN_RBX(%rip), %rbx
        movq    g_run+RUN_RBP(%rip), %rbp
        movq    g_run+RUN_RSI(%rip), %rsi
        movq    g_run+RUN_RDI(%rip), %rdi
        movq    g_run+RUN_R8(%rip), %r8
        movq    g_run+RUN_R9(%rip), %r9
        movq    g_run+RUN_R10(%rip), %r10
        movq    g_run+RUN_R11(%rip), %r11
        movq    g_run+RUN_R12(%rip), %r12
        movq    g_run+RUN_R13(%rip), %r13
        movq    g_run+RUN_R14(%rip), %r14
        movq    g_run+RUN_R15(%rip), %r15
        iretq

        // int ksetjmp(struct kjmp *j): rbx rbp r12 r13 r14 r15 rsp rip.
        .balign 16
        .globl  ksetjmp
ksetjmp:
        movq    %rbx, 0(%rdi)
        movq    %rbp, 8(%rdi)
        movq    %r12, 16(%rdi)
        movq    %r13, 24(%rdi)
        movq    %r14, 32(%rdi)
        movq    %r15, 40(%rdi)
        leaq    8(%rsp), %rax
        movq    %rax, 48(%rdi)
        movq    (%rsp), %rax
        movq    %rax, 56(%rdi)
        xorl    %eax, %eax
        ret

        // Runs a C function at the run's CPL: rbx = function, rdi = argument.
        .pushsection .text.snippets, "ax", @progbits
        .balign 16
        .globl  fn_trampoline
fn_trampoline:
        call    *%rbx
        int     $0x81
        .popsection

        // void reload_segments(uint16_t cs, uint16_t ds): far return to cs,
        // then ds into DS, ES and SS; FS and GS become null.
        .text
        .balign 16
        .globl  reload_segments
reload_segments:
        movzwl  %di, %edi
        pushq   %rdi
        leaq    1f(%rip), %rax
        pushq   %rax
        lretq
1:      movw    %si, %ds
        movw    %si, %es
        movw    %si, %ss
        xorl    %eax, %eax
        movw    %ax, %fs
        movw    %ax, %gs
        ret

        .section .note.GNU-stack, "", @progbits
