// kernel.c — the machine state the test kernel owns: GDT with a 64-bit TSS,
// IDT, control registers, the syscall MSRs, and how all of it is put back to
// the defaults before every case (ktest_reset).
#include "ktest.h"

// Descriptor tables and stacks. The stacks are plain .bss, identity-mapped
// and user-accessible like the rest of the image (the kernel runs without
// SMEP/SMAP); cases that need supervisor-only or unmapped memory make their
// own pages.
struct gate_desc g_idt[256] ALIGNED(4096);
uint64_t g_gdt[GDT_ENTRIES] ALIGNED(16);
struct tss64 g_tss ALIGNED(16);
uint64_t g_default_cr0, g_default_cr4, g_default_efer;

#define STACK_BYTES (16 << 10)
static uint8_t rsp0_stack[STACK_BYTES] ALIGNED(16);
static uint8_t ist_stacks[4][STACK_BYTES] ALIGNED(16);
static uint8_t sys_stack[STACK_BYTES] ALIGNED(16);
uint8_t g_user_stack[64 << 10] ALIGNED(16);
uint8_t g_run_stack[64 << 10] ALIGNED(16);
extern uint64_t g_sys_stack_top;
extern long g_nevents;

extern const char isr_stubs[], syscall_entry[];
void reload_segments(uint16_t cs, uint16_t ds);
void paging_reset(void);
void paging_init(void);

uint64_t user_stack_top(void) { return (uint64_t)(uintptr_t)(g_user_stack + sizeof g_user_stack); }
uint64_t run_stack_top(void) { return (uint64_t)(uintptr_t)(g_run_stack + sizeof g_run_stack); }
uint64_t rsp0_top(void) { return (uint64_t)(uintptr_t)(rsp0_stack + STACK_BYTES); }
uint64_t ist_top(int ist) { return (uint64_t)(uintptr_t)(ist_stacks[ist - 1] + STACK_BYTES); }
uint64_t isr_address(int vector) { return (uint64_t)(uintptr_t)isr_stubs + 16u * (unsigned)vector; }

// A 64-bit TSS descriptor (two GDT slots): type 9 (available), present.
static void set_tss_desc(int index, uint64_t base, uint32_t limit) {
  g_gdt[index] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                 ((uint64_t)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  g_gdt[index + 1] = base >> 32;
}

static void gdt_defaults(void) {
  g_gdt[0] = 0;
  g_gdt[KCS >> 3] = 0x00af9a000000ffffull;          // code, L=1, DPL 0
  g_gdt[KDS >> 3] = 0x00cf92000000ffffull;          // data, writable, DPL 0
  g_gdt[UDS >> 3] = 0x00cff2000000ffffull;          // data, writable, DPL 3
  g_gdt[UCS >> 3] = 0x00affa000000ffffull;          // code, L=1, DPL 3
  set_tss_desc(TSS_SEL >> 3, (uint64_t)(uintptr_t)&g_tss, sizeof g_tss - 1);
  set_tss_desc(TSS2_SEL >> 3, (uint64_t)(uintptr_t)&g_tss, 0x67);
  g_gdt[NP_DATA_SEL >> 3] = 0x00cf12000000ffffull;  // data, DPL 0, P=0
  g_gdt[NP_CODE_SEL >> 3] = 0x00af1a000000ffffull;  // code, L=1, DPL 0, P=0
  g_gdt[UDATA2_SEL >> 3] = 0x00cff2000000ffffull;   // data, writable, DPL 3
  g_gdt[KDATA_RO_SEL >> 3] = 0x00cf90000000ffffull; // data, read-only, DPL 0
  for (int i = (KDATA_RO_SEL >> 3) + 1; i < GDT_ENTRIES; i++) g_gdt[i] = 0;
}

static void tss_defaults(void) {
  memset(&g_tss, 0, offsetof(struct tss64, iomap));
  g_tss.rsp[0] = rsp0_top();
  for (int i = 1; i <= 4; i++) g_tss.ist[i] = ist_top(i);
  g_tss.iomap_base = offsetof(struct tss64, iomap);
  memset(g_tss.iomap, 0xff, sizeof g_tss.iomap);  // every port denied at CPL > IOPL
}

void set_gate(int vector, uint64_t handler, uint16_t sel, int type_attr, int dpl, int ist) {
  struct gate_desc* g = &g_idt[vector];
  g->off_lo = (uint16_t)handler;
  g->sel = sel;
  g->ist = (uint8_t)ist;
  g->type_attr = (uint8_t)(type_attr | (dpl << 5));
  g->off_mid = (uint16_t)(handler >> 16);
  g->off_hi = (uint32_t)(handler >> 32);
  g->zero = 0;
}

void reset_gate(int v) {
  int dpl = (v == V_BP || v == V_OF || v == V_SYSCALL80 || v == V_END) ? 3 : 0;
  int ist = v == V_DF ? IST_DF : v == V_SS ? IST_SS : 0;
  set_gate(v, isr_address(v), KCS, GATE_INT, dpl, ist);
}

void set_tss2_limit(uint32_t limit) { set_tss_desc(TSS2_SEL >> 3, (uint64_t)(uintptr_t)&g_tss, limit); }

void all_exceptions_on_ist(int ist) {
  for (int v = 0; v < 32; v++)
    if (v != V_DF) g_idt[v].ist = (uint8_t)ist;
}

void load_idtr(uint64_t base, uint16_t limit) {
  struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {limit, base};
  __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

static void lgdt_default(void) {
  struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {sizeof g_gdt - 1, (uint64_t)(uintptr_t)g_gdt};
  __asm__ volatile("lgdt %0" : : "m"(d) : "memory");
}

static void lidt_default(void) {
  struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {sizeof g_idt - 1, (uint64_t)(uintptr_t)g_idt};
  __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

void ktest_reset(void) {
  __asm__ volatile("pushq $2; popfq" ::: "cc", "memory");  // IF, TF, AC, IOPL, NT clear
  gdt_defaults();
  lgdt_default();
  reload_segments(KCS, KDS);
  tss_defaults();
  __asm__ volatile("ltr %w0" : : "r"((uint16_t)TSS_SEL) : "memory");
  for (int v = 0; v < 256; v++) reset_gate(v);
  lidt_default();
  if (read_cr0() != g_default_cr0) write_cr0(g_default_cr0);
  if (read_cr4() != g_default_cr4) write_cr4(g_default_cr4);
  if (rdmsr(MSR_EFER) != g_default_efer) wrmsr(MSR_EFER, g_default_efer);
  // SYSCALL: CS = 0x08, SS = 0x10. SYSRET: SS = 0x18|3, CS = 0x20|3.
  wrmsr(MSR_STAR, ((uint64_t)KDS << 48) | ((uint64_t)KCS << 32));
  wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
  wrmsr(MSR_SFMASK, FL_TF | FL_DF | FL_IF | FL_IOPL3 | FL_AC | FL_NT);
  g_sys_stack_top = (uint64_t)(uintptr_t)(sys_stack + STACK_BYTES);
  paging_reset();  // kernel page tables, CR3 reload
  uint32_t mxcsr = 0x1f80;
  __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
  g_hook = 0;
  g_nlog = 0;
  g_nevents = 0;
}

void ktest_init(void) {
  // IDT first, so that anything below that faults is reported.
  gdt_defaults();
  lgdt_default();
  reload_segments(KCS, KDS);
  tss_defaults();
  __asm__ volatile("ltr %w0" : : "r"((uint16_t)TSS_SEL) : "memory");
  for (int v = 0; v < 256; v++) reset_gate(v);
  lidt_default();
  // Defaults: x87 errors as #MF (NE), supervisor writes honour R/W (WP),
  // SSE enabled with unmasked SSE errors as #XM; no TSD, UMIP, SMEP, SMAP,
  // PKE, PCE, PGE, PCIDE; syscall enabled, NX usable.
  g_default_cr0 = (read_cr0() | CR0_NE | CR0_WP | CR0_MP) & ~(CR0_EM | CR0_TS | CR0_AM);
  g_default_cr4 = (read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT) &
                  ~(CR4_TSD | CR4_PCE | CR4_UMIP | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_PGE | CR4_PCIDE);
  g_default_efer = rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE;
  paging_init();
  ktest_reset();
}
