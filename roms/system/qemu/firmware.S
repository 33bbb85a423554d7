// firmware.S — a 64 KiB "BIOS" for QEMU that gives a roms/system program the
// machine of xlat's -kernel contract (roms/README.md): 64-bit mode, CPL 0,
// interrupts off, RAM identity-mapped by 2 MiB pages (the first 4 GiB here),
// x87/SSE/AVX enabled, CS = 0x10 and data selectors 0x18. The program itself
// is loaded by `-device loader,file=PROGRAM.elf`; ENTRY is its e_entry.
// Assembled with -DENTRY=..., linked at 0xffff0000 (see run.sh). It lets the
// test programs run under QEMU (TCG, or KVM where the host allows it), a
// reference that is not xlat.
        .set    PML4, 0x9000
        .set    PDPT, 0xa000
        .set    PD, 0xb000              // four page directories: 0xb000..0xefff

        .text
        .code16
start16:
        cli
        lgdtl   %cs:(rom_gdt_ptr - 0xffff0000)
        movl    %cr0, %eax
        orl     $1, %eax                // CR0.PE
        movl    %eax, %cr0
        ljmpl   $0x08, $start32

        .code32
start32:
        movl    $0x18, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        // PML4[0] -> PDPT; PDPT[0..3] -> PD 0..3; PD entries: 2 MiB pages.
        movl    $PML4, %edi
        xorl    %eax, %eax
        movl    $(0x7000 / 4), %ecx
        rep stosl
        movl    $(PDPT + 0x7), PML4
        movl    $0, %ecx
1:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $(PD + 0x7), %eax
        movl    %eax, PDPT(,%ecx,8)
        incl    %ecx
        cmpl    $4, %ecx
        jb      1b
        movl    $0, %ecx
2:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $0x87, %eax             // P | W | U | PS
        movl    %eax, PD(,%ecx,8)
        movl    %ecx, %eax
        shrl    $11, %eax               // bits 32.. of the frame: i >> 11
        movl    %eax, PD + 4(,%ecx,8)
        incl    %ecx
        cmpl    $2048, %ecx
        jb      2b
        movl    %cr4, %eax
        orl     $0x40620, %eax          // PAE | OSFXSR | OSXMMEXCPT | OSXSAVE
        movl    %eax, %cr4
        movl    $PML4, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx       // EFER.LME
        rdmsr
        orl     $0x100, %eax
        wrmsr
        movl    %cr0, %eax
        andl    $~0x60000004, %eax      // EM, CD, NW off
        orl     $0x80000022, %eax       // PG | NE | MP
        movl    %eax, %cr0
        ljmpl   $0x10, $start64

        .code64
start64:
        xorl    %ecx, %ecx
        movl    $7, %eax                // XCR0 = x87 | SSE | AVX
        xorl    %edx, %edx
        xsetbv
        movl    $0x18, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        movl    %eax, %fs
        movl    %eax, %gs
        xorl    %eax, %eax
        xorl    %ecx, %ecx
        xorl    %esp, %esp
        movq    $ENTRY, %rdx
        jmp     *%rdx

        .balign 8
rom_gdt:
        .quad   0
        .quad   0x00cf9b000000ffff      // 0x08: 32-bit code
        .quad   0x00af9b000000ffff      // 0x10: 64-bit code
        .quad   0x00cf93000000ffff      // 0x18: flat data
rom_gdt_ptr:
        .word   rom_gdt_ptr - rom_gdt - 1
        .long   rom_gdt

        .code16
        .org    0xfff0                  // the reset vector, 0xfffffff0
        .byte   0xe9                    // jmp rel16 to start16
        .word   (start16 - (. + 2)) & 0xffff
        .org    0x10000
