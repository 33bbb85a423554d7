// A 64 KiB "firmware" for QEMU's -bios that does only what xlat's vCPU setup
// does for a Linux boot: from the reset vector it enters 64-bit mode with the
// page tables (CR3), GDT and registers that LoadLinux() built, and jumps to
// the kernel. Guest RAM is filled by -device loader beforehand. It lets QEMU
// check the loader's output on the real kernel, apart from xlat's CPU.
// Assembled with -DENTRY=... -DCR3=... -DBOOT_PARAMS=... -DGDT_BASE=...
// -DGDT_LIMIT=... -DSTACK_TOP=..., linked at 0xffff0000 (the top 64 KiB of 4 GiB).
        .text
        .code16
start16:
        cli
        lgdtl   %cs:(rom_gdt_ptr - 0xffff0000)
        movl    %cr0, %eax
        orl     $1, %eax                      // CR0.PE
        movl    %eax, %cr0
        ljmpl   $0x08, $start32

        .code32
start32:
        movl    $0x18, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        movl    %cr4, %eax
        orl     $0x20, %eax                   // CR4.PAE
        movl    %eax, %cr4
        movl    $CR3, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx             // EFER
        rdmsr
        orl     $0x900, %eax                  // LME | NXE
        wrmsr
        movl    %cr0, %eax
        orl     $0x80010000, %eax             // CR0.PG | CR0.WP
        movl    %eax, %cr0
        ljmpl   $0x10, $start64

        .code64
start64:
        movq    $STACK_TOP, %rsp
        lgdt    loader_gdt_ptr(%rip)          // the loader's GDT
        pushq   $0x10                         // __BOOT_CS
        leaq    1f(%rip), %rax
        pushq   %rax
        lretq
1:      movl    $0x18, %eax                   // __BOOT_DS
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        movl    %eax, %fs
        movl    %eax, %gs
        movq    $BOOT_PARAMS, %rsi
        movq    $ENTRY, %rax
        jmp     *%rax

        .balign 8
rom_gdt:
        .quad   0
        .quad   0x00cf9b000000ffff            // 0x08: 32-bit code
        .quad   0x00af9b000000ffff            // 0x10: 64-bit code
        .quad   0x00cf93000000ffff            // 0x18: flat data
rom_gdt_ptr:
        .word   rom_gdt_ptr - rom_gdt - 1
        .long   rom_gdt
loader_gdt_ptr:
        .word   GDT_LIMIT
        .quad   GDT_BASE

        .code16
        .org    0xfff0                        // the reset vector, 0xfffffff0 (CS base 0xffff0000)
        .byte   0xe9                          // jmp rel16 to start16
        .word   (start16 - (. + 2)) & 0xffff
        .org    0x10000
