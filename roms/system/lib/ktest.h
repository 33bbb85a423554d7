// ktest.h — a tiny bare-metal test kernel for the system-level test programs
// of roms/system (privilege levels, interrupts and exceptions, paging).
//
// The kernel owns the whole machine: its GDT (with a 64-bit TSS), an IDT with
// a stub for each of the 256 vectors, 4-level page tables with 4 KiB pages,
// and syscall/sysret. A test case runs a piece of code (a "snippet", or a C
// function) at CPL 0 or CPL 3 with chosen registers and flags (xrun), and
// gets back the event that ended it: the exception, interrupt or syscall,
// with the whole saved frame. Every case prints one line, "PASS name" or
// "FAIL name: expected X got Y"; the program ends with "DONE n".
//
// Robustness: a case that takes an exception nobody expected prints FAIL and
// the program goes on with the next case (the dispatcher "lands" back into
// the case harness, like longjmp); the kernel state (GDT, IDT, TSS, control
// registers, MSRs, page tables) is reset before every case. #DF has its own
// IST stack that no case touches, so only a broken #DF delivery can
// triple-fault.
#ifndef XLAT_ROMS_SYSTEM_KTEST_H
#define XLAT_ROMS_SYSTEM_KTEST_H

#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))
#define ALIGNED(n) __attribute__((aligned(n)))
#define USED __attribute__((used))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

// ---- Selectors (GDT layout) ------------------------------------------------
// STAR[47:32] = KCS: syscall loads CS = KCS, SS = KCS + 8.
// STAR[63:48] = KDS: sysret loads SS = (KDS + 8) | 3, CS = (KDS + 16) | 3.
enum {
  KCS = 0x08,          // kernel code, 64-bit, DPL 0
  KDS = 0x10,          // kernel data, DPL 0
  UDS = 0x18 | 3,      // user data, DPL 3
  UCS = 0x20 | 3,      // user code, 64-bit, DPL 3
  TSS_SEL = 0x28,      // the 64-bit TSS (16-byte descriptor)
  TSS2_SEL = 0x38,     // a second TSS descriptor for the #TS cases
  NP_DATA_SEL = 0x48,  // writable data, DPL 0, not present
  NP_CODE_SEL = 0x50,  // 64-bit code, DPL 0, not present
  UDATA2_SEL = 0x58,   // writable data, DPL 3 (RPL chosen by the user)
  KDATA_RO_SEL = 0x60, // read-only data, DPL 0
  GDT_ENTRIES = 24,   // 13..23 free for test descriptors (farcall.c)
};

// ---- Vectors ---------------------------------------------------------------
enum {
  V_DE = 0, V_DB = 1, V_NMI = 2, V_BP = 3, V_OF = 4, V_BR = 5, V_UD = 6, V_NM = 7,
  V_DF = 8, V_TS = 10, V_NP = 11, V_SS = 12, V_GP = 13, V_PF = 14, V_MF = 16,
  V_AC = 17, V_MC = 18, V_XM = 19,
  V_SYSCALL80 = 0x80,  // int $0x80: gate DPL 3
  V_END = 0x81,        // int $0x81: gate DPL 3, "end of snippet"
  V_DPL0 = 0x82,       // int $0x82: gate DPL 0
  V_SYSCALL = 0x100,   // pseudo vector of a syscall instruction
  V_NONE = 0x1ff,      // no event recorded
};

// IST slots in the TSS (1-based as in the gate descriptor).
enum { IST_DF = 1, IST_SS = 2, IST_TEST = 3, IST_TEST2 = 4 };

// ---- RFLAGS, control registers, MSRs ---------------------------------------
enum {
  FL_CF = 1 << 0, FL_FIXED = 1 << 1, FL_PF = 1 << 2, FL_AF = 1 << 4, FL_ZF = 1 << 6,
  FL_SF = 1 << 7, FL_TF = 1 << 8, FL_IF = 1 << 9, FL_DF = 1 << 10, FL_OF = 1 << 11,
  FL_IOPL3 = 3 << 12, FL_NT = 1 << 14, FL_RF = 1 << 16, FL_VM = 1 << 17, FL_AC = 1 << 18,
  FL_VIF = 1 << 19, FL_VIP = 1 << 20, FL_ID = 1 << 21,
};
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_PG (1ull << 31)
#define CR4_TSD (1ull << 2)
#define CR4_PAE (1ull << 5)
#define CR4_PGE (1ull << 7)
#define CR4_PCE (1ull << 8)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_PCIDE (1ull << 17)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)
#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

// ---- Page-table entries -----------------------------------------------------
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define PAGE_SIZE 4096ull
// #PF error code bits.
#define PF_P 0x1
#define PF_W 0x2
#define PF_U 0x4
#define PF_RSVD 0x8
#define PF_I 0x10

// ---- Register files, frames, events -----------------------------------------
// The sixteen GPRs in encoding order.
struct regs {
  uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
};
#define REG_BIT(name) (1u << (offsetof(struct regs, name) / 8))

// What the stubs of entry.S leave on the stack, lowest address first: the
// common stub's part (CR4 and CR0 values to restore on return, 0 for none; a
// pad; the RFLAGS the handler started with; the GPRs), the vector stub's part
// (vector, error code or 0), then the processor's frame.
// A syscall entry builds the same layout (vector V_SYSCALL, rip = rcx,
// rflags = r11, cs/ss = the user selectors).
struct frame {
  uint64_t restore_cr4, restore_cr0, pad, handler_rflags;
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;
};

// One delivered event as the dispatcher saw it.
struct event {
  uint64_t vector, error, cr2;
  struct regs r;  // GPRs at the event; r.rsp is the frame's RSP
  uint64_t rip, cs, rflags, rsp, ss;
  uint64_t frame_addr;      // address of the processor frame (its RIP slot)
  uint64_t handler_rflags;  // RFLAGS when the handler started
  uint64_t handler_cs, handler_ss;
  int depth;                // 1 for an event in normal code, 2 inside a handler...
  uint16_t fsw;             // x87 status word at the event (from fxsave)
  uint16_t fop;
  uint32_t mxcsr;
  uint64_t fip;             // x87 last instruction pointer (fxsave64)
  uint64_t xmm0[2];         // XMM0 at the event
};

// A hook sees every event first (after it is logged). It may change the frame
// and resume, or decline.
enum { HOOK_DECLINE = 0, HOOK_RESUME = 1, HOOK_SYSRET = 2 };
typedef int (*hook_fn)(struct frame* f, const struct event* ev);
extern hook_fn g_hook;

// The last events (oldest first), cleared at each case start.
#define EVENT_LOG_SIZE 64
extern struct event g_log[EVENT_LOG_SIZE];
extern int g_nlog;

// ---- Running code -----------------------------------------------------------
// What xrun loads before it jumps: every GPR (rsp included) and the iretq frame.
struct run {
  struct regs r;
  uint64_t rip, rflags, cs, ss;
};
// Sets up a run of code at CPL 3 (user selectors, user stack, RFLAGS 0x2) or
// CPL 0 (kernel selectors, the run stack); every other GPR gets a distinct
// pattern value (0x1100 + n * 0x1111...), so that a test can check the GPRs
// of an event against what it started with.
void run_init(struct run* run, int cpl, const void* rip);
// Enters the code through iretq and returns when an event ends it: an
// exception, an interrupt, or a syscall that no hook resumed. *ev is that
// event; returns its vector.
uint64_t xrun(const struct run* run, struct event* ev);
// Runs fn(arg) at the given CPL; returns fn's result in ev->r.rax (the
// function returns into `int $0x81`).
uint64_t xrun_fn(int cpl, uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t rflags, struct event* ev);

// Stacks: the top of the user stack and of the CPL-0 run stack (16-aligned).
extern uint8_t g_user_stack[], g_run_stack[];
uint64_t user_stack_top(void);
uint64_t run_stack_top(void);
uint64_t rsp0_top(void);                 // TSS.RSP0 by default
uint64_t ist_top(int ist);               // the default IST stack tops

// ---- Snippets ---------------------------------------------------------------
// SNIPPET(name, "asm") places the asm in .text.snippets under the label name;
// labels inside it that C code needs are declared with SNIPPET_LABEL.
#define SNIPPET(name, body)                                                                  \
  extern const char name[];                                                                  \
  __asm__(".pushsection .text.snippets,\"ax\",@progbits\n\t.balign 16\n" #name ":\n" body \
          "\n\t.popsection\n")
#define SNIPPET_LABEL(name) extern const char name[]
#define ADDR(sym) ((uint64_t)(uintptr_t)(sym))

// ---- Kernel state -----------------------------------------------------------
struct gate_desc {
  uint16_t off_lo, sel;
  uint8_t ist, type_attr;
  uint16_t off_mid;
  uint32_t off_hi, zero;
};
struct tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];  // offset 0x04: RSP0, RSP1, RSP2
  uint64_t ist[8];  // offset 0x1c: ist[0] is the reserved quadword, IST1 at 0x24 ... IST7 at 0x54
  uint64_t reserved2;
  uint16_t reserved3, iomap_base;
  uint8_t iomap[8192 + 1];  // I/O permission bitmap and its 0xff terminator
} __attribute__((packed));
_Static_assert(offsetof(struct tss64, iomap_base) == 0x66, "64-bit TSS layout");

extern struct gate_desc g_idt[256];
extern uint64_t g_gdt[GDT_ENTRIES];
extern struct tss64 g_tss;
extern uint64_t g_default_cr0, g_default_cr4, g_default_efer;
extern uint64_t* g_kpml4;  // the kernel address space

// Gate types (type_attr without DPL): P | type.
enum { GATE_INT = 0x8e, GATE_TRAP = 0x8f };
void set_gate(int vector, uint64_t handler, uint16_t sel, int type_attr, int dpl, int ist);
uint64_t isr_address(int vector);  // the entry.S stub of a vector
// Restores the gate of a vector to its default.
void reset_gate(int vector);
// Every exception gate but #DF gets this IST: for cases that run CPL-0 code
// on a bad stack, so that a wrong exception still has somewhere to go.
void all_exceptions_on_ist(int ist);
void set_tss2_limit(uint32_t limit);  // the second TSS descriptor (base g_tss)
void load_idtr(uint64_t base, uint16_t limit);

// Everything back to the defaults: GDT, segments, TSS and TR, IDT and IDTR,
// CR0, CR4, EFER, STAR/LSTAR/SFMASK, CR3 (kernel tables), DR6/DR7, x87/SSE,
// hook, event log.
void ktest_reset(void);
// Builds everything once (call first in main).
void ktest_init(void);

// ---- Low-level helpers ------------------------------------------------------
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr2(uint64_t v) { __asm__ volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline uint16_t read_cs(void) { uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline uint16_t read_ss(void) { uint16_t v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }
static inline uint64_t read_dr6(void) { uint64_t v; __asm__ volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static inline void write_dr6(uint64_t v) { __asm__ volatile("mov %0, %%dr6" : : "r"(v)); }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t* a, uint32_t* b, uint32_t* c, uint32_t* d) {
  __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
// An address with bit 47 set and bits 63:48 clear: not canonical.
#define NONCANONICAL 0x0000800000000000ull
#define NONCANONICAL_HI 0x8000000000000000ull

// ---- Paging -------------------------------------------------------------------
// The kernel maps [0, IDENTITY_BYTES) virtual == physical with 4 KiB pages,
// user-accessible, writable, executable, except page 0. Page frames for
// tests come from a pool above the image (identity-mapped, so a table or a
// frame is reachable at its physical address).
#define IDENTITY_BYTES (64ull << 20)
#define POOL_BASE (32ull << 20)
#define POOL_END (48ull << 20)
#define LARGE_BASE (48ull << 20)  // 2 MiB frames for large-page cases: [48, 64) MiB

uint64_t alloc_frame(void);                 // a zeroed 4 KiB frame (phys == virt)
uint64_t* new_address_space(void);          // a PML4 sharing the kernel's identity map
// A fresh 512 GiB region (its own PML4 slot) never used before: its tables do
// not exist yet, so a first access walks entries nobody has cached.
uint64_t fresh_region(void);
// Pointer to the entry of va at the given level (1 = PTE, 2 = PDE, 3 = PDPTE,
// 4 = PML4E); creates missing tables (flags P|W|U) when create is set,
// returns 0 when a table is missing otherwise.
uint64_t* pt_entry(uint64_t* pml4, uint64_t va, int level, int create);
// Maps one 4 KiB page (flags get P unless PTE_P is explicitly masked out by
// passing flags with NOPRESENT).
void map_page(uint64_t* pml4, uint64_t va, uint64_t pa, uint64_t flags);
// A fresh page: allocates a frame, maps it at a fresh virtual address of the
// kernel address space with flags; returns the virtual address; *pa gets the frame.
uint64_t new_page(uint64_t flags, uint64_t* pa);
uint64_t fresh_va(void);  // an unmapped, never used virtual page (kernel space)
int max_phys_bits(void);   // CPUID 0x80000008 EAX[7:0]

// ---- Cases and reports ----------------------------------------------------------
struct kcase {
  const char* name;
  void (*fn)(void);
};
void run_case(const char* name, void (*fn)(void));
// Runs the cases (each after ktest_reset), prints DONE n; returns the exit
// code for main: 0 when every case passed.
int run_cases(const struct kcase* cases, int n);
// Parametrised cases: fn(arg) under the given name.
void run_case_arg(const char* name, void (*fn)(uint64_t), uint64_t arg);
int cases_finish(void);  // prints DONE n for run_case_arg users; exit code

// Inside a case: the first failed check prints the FAIL line; later checks
// of the same case print nothing. Each returns 1 when it held.
int expect_eq(const char* what, uint64_t want, uint64_t got);
int expect_true(const char* what, int cond);
void fail_msg(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int case_failed(void);
// The event has this vector (names the actual event when not), error code and RIP.
int expect_event(const struct event* ev, uint64_t vector, uint64_t error, uint64_t rip);
int expect_vector(const struct event* ev, uint64_t vector);
// Every GPR of the event equals the run's, except those in except_mask (REG_BIT).
int expect_regs(const struct event* ev, const struct regs* r, uint32_t except_mask);

const char* vector_name(uint64_t v);

#endif  // XLAT_ROMS_SYSTEM_KTEST_H
