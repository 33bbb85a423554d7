// start.S — entry of a guest program. xlat enters here in 64-bit long mode,
// CPL 0, interrupts off, all GPRs zero, with the image loaded at its
// physical (== virtual) addresses and .bss already zero.
//
// The program gets the state a Linux process starts with: a 16-byte aligned
// stack, DF clear, x87 control word 0x37f, MXCSR 0x1f80, upper YMM halves
// clear. Then main's return value becomes the exit code.

        .section .text.start, "ax", @progbits
        .globl  _start
        .type   _start, @function
_start:
        lea     guest_stack_top(%rip), %rsp
        xor     %ebp, %ebp
        cld
        fninit                          // FCW = 0x37f, empty x87 stack
        ldmxcsr initial_mxcsr(%rip)     // all SSE exceptions masked, RN
        vzeroupper
        call    main                    // rsp is 16-aligned before the call
        mov     %eax, %edi
        call    guest_exit
1:      cli
        hlt
        jmp     1b
        .size   _start, . - _start

        .section .rodata
        .balign 4
initial_mxcsr:
        .long   0x1f80

        .section .bss
        .balign 4096
        .globl  guest_stack_bottom
guest_stack_bottom:
        .skip   1 << 20                 // 1 MiB stack
        .globl  guest_stack_top
guest_stack_top:

        .section .note.GNU-stack, "", @progbits
