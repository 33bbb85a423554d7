// traces.c — a threaded-code interpreter, the shape traces are made for
// (cpu/vcpu_traces.cpp): handlers on one page, each ending with an indirect
// jmp to the next (through a register or straight through the table), run
// over bytecode programs that repeat, so that the hot handlers become trace
// heads and their paths traces.
//
// What a trace must get right, and the handlers that ask it:
//  - flags that flow through the indirect jmp into the next handler (the
//    dispatch is flag-free: lea): adc, setc, pushf, an inc followed by jc
//    read them first, so a guard into them cannot stand;
//  - a partial writer first (rol, inc), then a reader of an older flag;
//  - flags that flow into the trace's own start when it goes back there;
//  - jccs inside handlers (side exits of the trace), a call and its ret
//    (where a trace stops), two dispatch sites in one handler chosen by data
//    (guards that miss), and a register file in memory (access checks shared
//    across handlers).
// Several programs, from short and regular to long and data-driven; each
// reports a hash of its registers, register file and final flags.
#include "check.h"

// trace_vm_run(prog, iterations, state): state[0..2] = A, B, C in and out,
// state[3] = the flags at the end, state[8..23] = the register file.
uint64_t trace_vm_run(const uint8_t* prog, uint64_t iterations, uint64_t* state);

// The dispatches: the next opcode, pc past it, and a jmp through a
// register (DREG) or through the table (DMEM). Neither touches the flags.
#define DREG "movzbl (%rsi), %eax\n\tlea 1(%rsi), %rsi\n\tmov tv_table(,%rax,8), %rdx\n\tjmp *%rdx\n\t"
#define DMEM "movzbl (%rsi), %eax\n\tlea 1(%rsi), %rsi\n\tjmp *tv_table(,%rax,8)\n\t"

__asm__(
    ".pushsection .text.tracevm,\"ax\",@progbits\n\t"
    ".balign 4096\n\t"
    ".globl trace_vm_run\n"
    "trace_vm_run:\n\t"
    "push %rbx\n\tpush %rbp\n\tpush %r12\n\tpush %r13\n\tpush %r14\n\tpush %r15\n\t"
    "mov %rdi, %r12\n\t"  // program start
    "mov %rsi, %rcx\n\t"  // iterations left
    "mov %rdx, %r13\n\t"  // state
    "mov 0(%r13), %r8\n\tmov 8(%r13), %r9\n\tmov 16(%r13), %r10\n\t"
    "lea 64(%r13), %r14\n\t"  // register file
    "mov %r12, %rsi\n\t"
    "xor %eax, %eax\n\txor %ebx, %ebx\n\t" DREG
    // 0: end of the program: again, or leave.
    "tv_loop:\n\t"
    "dec %rcx\n\tjz tv_done\n\tmov %r12, %rsi\n\t" DREG
    // 1: A += B, its flags on into the next handler.
    "tv_add:\n\t"
    "add %r9, %r8\n\t" DREG
    // 2: B += C + CF (the CF of the handler before).
    "tv_adc:\n\t"
    "adc %r10, %r9\n\t" DMEM
    // 3: inc leaves CF alone: jc reads the one from before.
    "tv_incjc:\n\t"
    "inc %r10\n\tjc 1f\n\txor $0x55, %r10\n"
    "1:\n\t" DREG
    // 4: rol writes CF and OF only; xor then writes them all.
    "tv_rol:\n\t"
    "rol $7, %r8\n\txor %r9, %r8\n\t" DREG
    // 5: imul writes every flag.
    "tv_imul:\n\t"
    "imul %r10, %r9\n\tlea 3(%r9), %r9\n\t" DMEM
    // 6: setc first.
    "tv_setc:\n\t"
    "setc %bl\n\tmovzbl %bl, %ebx\n\tadd %rbx, %r10\n\t" DREG
    // 7: pushf first: every flag, through the VMM's virtual RFLAGS.
    "tv_pushf:\n\t"
    "pushfq\n\tpop %rbx\n\tand $0x8d5, %ebx\n\tadd %rbx, %r10\n\t" DREG
    // 8: a jcc inside the handler.
    "tv_cmpjb:\n\t"
    "cmp %r9, %r8\n\tjb 1f\n\tsub %r9, %r8\n"
    "1:\n\t"
    "add $1, %r9\n\t" DREG
    // 9: the register file, indexed by A.
    "tv_regfile:\n\t"
    "mov %r8, %rbx\n\tand $15, %ebx\n\tmov (%r14,%rbx,8), %rdx\n\tadd %rdx, %r10\n\t"
    "mov %r9, (%r14,%rbx,8)\n\t" DMEM
    // 10: a call and its ret.
    "tv_call:\n\t"
    "call tv_helper\n\t" DREG
    // 11: two dispatch sites, chosen by A.
    "tv_branchy:\n\t"
    "test $1, %r8b\n\tjz 1f\n\t" DMEM
    "1:\n\t"
    "add $0x1234, %r8\n\t" DREG
    // 12: B -= A, its flags on into the next handler.
    "tv_sub:\n\t"
    "sub %r8, %r9\n\t" DMEM
    // 13: B changes before any flag is written (an add's operand: what a
    // lazily saved flag stands for must not be made again from it).
    "tv_moveb:\n\t"
    "mov %r10, %r9\n\tshr $3, %r9\n\tadd $1, %rbx\n\tadd %rbx, %r8\n\t" DREG
    "tv_helper:\n\t"
    "add %r8, %r10\n\tret\n"
    "tv_done:\n\t"
    "pushfq\n\tpop %rax\n\tmov %rax, 24(%r13)\n\t"
    "mov %r8, 0(%r13)\n\tmov %r9, 8(%r13)\n\tmov %r10, 16(%r13)\n\t"
    "pop %r15\n\tpop %r14\n\tpop %r13\n\tpop %r12\n\tpop %rbp\n\tpop %rbx\n\t"
    "ret\n\t"
    ".popsection\n\t"
    ".pushsection .rodata\n\t"
    ".balign 8\n"
    "tv_table:\n\t"
    ".quad tv_loop, tv_add, tv_adc, tv_incjc, tv_rol, tv_imul, tv_setc, tv_pushf\n\t"
    ".quad tv_cmpjb, tv_regfile, tv_call, tv_branchy, tv_sub, tv_moveb\n\t"
    ".popsection\n");

// Two handlers that jmp to each other through registers, the one at 2
// translated first (so its counter runs out first: the trace starts there)
// and reading CF first, made by the last instruction of the one at 1 before
// its jmp: the trace goes back to its start with the flags made again after
// its last guard (lazily saved: an add; saved whole: a neg). Nothing else
// in the loop writes a flag before that writer (rorx, lea, movzx).
// flag_loop_*(iterations, seed) returns what the adcs added up.
uint64_t flag_loop_add(uint64_t iterations, uint64_t seed);
uint64_t flag_loop_neg(uint64_t iterations, uint64_t seed);
#define FLAG_LOOP(name, writer)                                                         \
  __asm__(".pushsection .text.tracevm,\"ax\",@progbits\n\t.balign 256\n\t"            \
          ".globl " #name "\n" #name ":\n\t"                                            \
          "push %rbx\n\tmov %rdi, %rcx\n\tmov %rsi, %rax\n\tmov %rsi, %rbx\n\t"         \
          "xor %r8d, %r8d\n\t"                                                         \
          "lea 1f(%rip), %r9\n\tlea 2f(%rip), %rdx\n\tjmp *%rdx\n"                      \
          "1: rorx $13, %rbx, %rbx\n\tlea 0x9e37(%rbx,%rax), %rax\n\t" writer "\n\tjmp *%rdx\n" \
          "2: adc $0, %r8\n\tdec %rcx\n\tjz 3f\n\tjmp *%r9\n"                             \
          "3: mov %r8, %rax\n\tpop %rbx\n\tret\n\t"                                      \
          ".popsection\n")
FLAG_LOOP(flag_loop_add, "add %rbx, %rax");
FLAG_LOOP(flag_loop_neg, "movzbl %al, %esi\n\tneg %rsi");
#undef FLAG_LOOP

enum { kOps = 14 };

static uint8_t prog[256];
static uint64_t state[24];

// A program of `n` random handlers (from `mask`), then the end.
static void MakeProgram(unsigned n, uint64_t seed, unsigned mask) {
  Rng r = {seed};
  for (unsigned i = 0; i < n; i++) {
    unsigned op;
    do op = 1 + (unsigned)(RngNext(&r) % (kOps - 1));
    while (!(mask & (1u << op)));
    prog[i] = (uint8_t)op;
  }
  prog[n] = 0;
}

static void Run(const char* name, unsigned n, uint64_t seed, unsigned mask, uint64_t iterations) {
  MakeProgram(n, seed, mask);
  for (int i = 0; i < 24; i++) state[i] = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
  trace_vm_run(prog, iterations, state);
  state[3] &= FLAGS_MASK;
  REPORT_HASH(name, state, sizeof state);
}

int main(void) {
  const unsigned all = 0x3ffe;
  // Handlers that write every flag before they read one, or read none:
  // their guards stand, and a short loop becomes one trace.
  const unsigned plain = (1u << 1) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 9) | (1u << 12) | (1u << 13);
  Run("plain-short", 6, 11, plain, 40000);
  Run("plain-long", 60, 12, plain, 4000);
  // Flag readers after the jmp: the trace ends at their guards.
  Run("flag-readers", 12, 13, plain | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 7), 20000);
  Run("calls", 10, 14, plain | (1u << 10), 20000);
  Run("data-driven", 16, 15, plain | (1u << 11), 20000);
  Run("everything", 24, 16, all, 10000);
  Run("everything-long", 120, 17, all, 2000);
  REPORT("flags-into-the-start-lazily", flag_loop_add(100000, 0x243f6a8885a308d3ull));
  REPORT("flags-into-the-start-whole", flag_loop_neg(100000, 0x13198a2e03707344ull));
  return 0;
}
