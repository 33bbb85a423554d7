// Entry into and exit from a natively executed sequence.
//
// dt_native_enter loads the whole guest-visible state from dt_in (the
// CpuState layout: gpr[16] at 0, rflags at 136, the XSAVE image at 192),
// rsp included, and jumps to dt_entry. The sequence ends with
// `jmp [rip+0]; .quad dt_native_exit`, or a fault whose signal handler
// points RIP at dt_native_exit; either way every register still holds the
// guest's value. dt_native_exit stores them into dt_out (no stack until rsp
// is saved), switches back to the host stack, saves the vector state and
// restores the host's.
        .intel_syntax noprefix
        .text

        .globl  dt_native_enter
        .type   dt_native_enter, @function
dt_native_enter:
        push    rbp
        push    rbx
        push    r12
        push    r13
        push    r14
        push    r15
        mov     [rip + dt_host_rsp], rsp
        mov     eax, 7
        xor     edx, edx
        xsave   [rip + dt_host_xsave]
        xrstor  [rip + dt_in + 192]
        push    qword ptr [rip + dt_in + 136]
        popfq
        mov     rax, [rip + dt_in + 0]
        mov     rcx, [rip + dt_in + 8]
        mov     rdx, [rip + dt_in + 16]
        mov     rbx, [rip + dt_in + 24]
        mov     rbp, [rip + dt_in + 40]
        mov     rsi, [rip + dt_in + 48]
        mov     rdi, [rip + dt_in + 56]
        mov     r8,  [rip + dt_in + 64]
        mov     r9,  [rip + dt_in + 72]
        mov     r10, [rip + dt_in + 80]
        mov     r11, [rip + dt_in + 88]
        mov     r12, [rip + dt_in + 96]
        mov     r13, [rip + dt_in + 104]
        mov     r14, [rip + dt_in + 112]
        mov     r15, [rip + dt_in + 120]
        mov     rsp, [rip + dt_in + 32]
        jmp     qword ptr [rip + dt_entry]
        .size   dt_native_enter, . - dt_native_enter

        .globl  dt_native_exit
        .type   dt_native_exit, @function
dt_native_exit:
        mov     [rip + dt_out + 0], rax
        mov     [rip + dt_out + 8], rcx
        mov     [rip + dt_out + 16], rdx
        mov     [rip + dt_out + 24], rbx
        mov     [rip + dt_out + 32], rsp
        mov     [rip + dt_out + 40], rbp
        mov     [rip + dt_out + 48], rsi
        mov     [rip + dt_out + 56], rdi
        mov     [rip + dt_out + 64], r8
        mov     [rip + dt_out + 72], r9
        mov     [rip + dt_out + 80], r10
        mov     [rip + dt_out + 88], r11
        mov     [rip + dt_out + 96], r12
        mov     [rip + dt_out + 104], r13
        mov     [rip + dt_out + 112], r14
        mov     [rip + dt_out + 120], r15
        mov     rsp, [rip + dt_host_rsp]
        pushfq
        pop     qword ptr [rip + dt_out + 136]
        push    2                       // clears TF (tracing), DF and the arithmetic flags
        popfq
        mov     eax, 7
        xor     edx, edx
        xsave   [rip + dt_out + 192]
        xrstor  [rip + dt_host_xsave]
        pop     r15
        pop     r14
        pop     r13
        pop     r12
        pop     rbx
        pop     rbp
        ret
        .size   dt_native_exit, . - dt_native_exit

        .bss
        .balign 64
        .globl  dt_in
dt_in:  .zero   1216
        .balign 64
        .globl  dt_out
dt_out: .zero   1216
        .balign 64
dt_host_xsave:
        .zero   4096
        .globl  dt_host_rsp
dt_host_rsp:
        .zero   8
        .globl  dt_entry
dt_entry:
        .zero   8

        .section .note.GNU-stack, "", @progbits
