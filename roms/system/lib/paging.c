// paging.c — the kernel's 4-level page tables and a frame pool for tests.
//
// PML4 slot 0 maps [0, 64 MiB) virtual == physical with 4 KiB pages
// (P|W|U|A|D, executable), page 0 left unmapped to catch null pointers.
// Slot 1 is the per-case scratch region of fresh_va(); slots 2..255 are
// handed out whole by fresh_region(). Before each case, paging_reset() drops
// slots 1..255, refills the frame pool from its start and reloads CR3, so a
// case starts with nothing of the previous case mapped.
#include "ktest.h"

static uint64_t kpml4[512] ALIGNED(4096);
static uint64_t kpdpt[512] ALIGNED(4096);
static uint64_t kpd[512] ALIGNED(4096);
static uint64_t kpt[IDENTITY_BYTES / (512 * PAGE_SIZE)][512] ALIGNED(4096);
uint64_t* g_kpml4 = kpml4;

extern const char __image_end[];
static uint64_t next_frame = POOL_BASE;
static int next_slot = 2;
static uint64_t next_scratch;

#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U)
#define SCRATCH_REGION (1ull << 39)

uint64_t alloc_frame(void) {
  if (next_frame >= POOL_END) {
    guest_printf("FAIL fatal: frame pool exhausted\n");
    guest_exit(3);
  }
  uint64_t pa = next_frame;
  next_frame += PAGE_SIZE;
  memset((void*)(uintptr_t)pa, 0, PAGE_SIZE);
  return pa;
}

uint64_t* new_address_space(void) {
  uint64_t* pml4 = (uint64_t*)(uintptr_t)alloc_frame();
  pml4[0] = kpml4[0];
  return pml4;
}

uint64_t fresh_region(void) {
  if (next_slot >= 256) {
    guest_printf("FAIL fatal: no fresh PML4 slot left\n");
    guest_exit(3);
  }
  return (uint64_t)next_slot++ << 39;
}

uint64_t fresh_va(void) {
  next_scratch += 2 * PAGE_SIZE;  // a guard page between two scratch pages
  return SCRATCH_REGION + next_scratch;
}

uint64_t* pt_entry(uint64_t* pml4, uint64_t va, int level, int create) {
  uint64_t* table = pml4;
  for (int l = 4; l > level; l--) {
    uint64_t* e = &table[(va >> (12 + 9 * (l - 1))) & 511];
    if (!(*e & PTE_P)) {
      if (!create) return 0;
      *e = alloc_frame() | TABLE_FLAGS;
    }
    table = (uint64_t*)(uintptr_t)(*e & PTE_ADDR);
  }
  return &table[(va >> (12 + 9 * (level - 1))) & 511];
}

void map_page(uint64_t* pml4, uint64_t va, uint64_t pa, uint64_t flags) {
  *pt_entry(pml4, va, 1, 1) = pa | flags;
}

uint64_t new_page(uint64_t flags, uint64_t* pa) {
  uint64_t va = fresh_va();
  uint64_t frame = alloc_frame();
  map_page(kpml4, va, frame, flags);
  if (pa) *pa = frame;
  return va;
}

int max_phys_bits(void) {
  uint32_t a, b, c, d;
  cpuid(0x80000000u, 0, &a, &b, &c, &d);
  if (a < 0x80000008u) return 36;
  cpuid(0x80000008u, 0, &a, &b, &c, &d);
  return a & 0xff;
}

// Writes an entry only when it differs: under a translator that
// write-protects page tables, a store to one is not free.
static inline void set_entry(uint64_t* e, uint64_t v) {
  if (*e != v) *e = v;
}

// The identity map of slot 0; cases may have changed some of its entries.
static void identity_map(void) {
  const uint64_t leaf = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
  for (uint64_t i = 0; i < IDENTITY_BYTES / PAGE_SIZE; i++) set_entry(&kpt[i / 512][i % 512], i ? (i * PAGE_SIZE) | leaf : 0);
  for (uint64_t j = 0; j < ARRAY_SIZE(kpt); j++) set_entry(&kpd[j], (uint64_t)(uintptr_t)kpt[j] | TABLE_FLAGS | PTE_A);
  for (uint64_t j = ARRAY_SIZE(kpt); j < 512; j++) set_entry(&kpd[j], 0);
  set_entry(&kpdpt[0], (uint64_t)(uintptr_t)kpd | TABLE_FLAGS | PTE_A);
  for (int j = 1; j < 512; j++) set_entry(&kpdpt[j], 0);
  set_entry(&kpml4[0], (uint64_t)(uintptr_t)kpdpt | TABLE_FLAGS | PTE_A);
}

void paging_init(void) {
  if ((uint64_t)(uintptr_t)__image_end > POOL_BASE) {
    guest_printf("FAIL fatal: the image ends at 0x%lx, above the frame pool\n", (uint64_t)(uintptr_t)__image_end);
    guest_exit(3);
  }
  identity_map();
  write_cr3((uint64_t)(uintptr_t)kpml4);
}

void paging_reset(void) {
  identity_map();
  for (int i = 1; i < 512; i++) set_entry(&kpml4[i], 0);
  next_frame = POOL_BASE;
  next_slot = 2;
  next_scratch = 0;
  write_cr3((uint64_t)(uintptr_t)kpml4);
}
