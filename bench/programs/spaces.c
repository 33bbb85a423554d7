// spaces.c — switching between guest address spaces, as a kernel switching
// processes does. Two address spaces share a global kernel mapping (this
// program's code and data: 2 MiB pages with G set, CR4.PGE on) and each maps
// its own PAGES 4 KiB pages at the same user virtual addresses. The loop
// writes CR3 to switch and then touches every page of the new space.
//
// It measures what a CR3 write costs the emulator: an emulator that flushes
// its TLB on every CR3 write walks PAGES page tables after each switch; one
// that keeps recent address spaces (xlat's shadow spaces) does not.
//
// Ring 0 only (it writes CR3): a guest image, no native build.
#include "common.h"

#define PAGES 64
#define SWITCHES 200000
#define USER_VA 0x8000000000ull  // PML4 slot 1

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_PS 0x80ull
#define PTE_G 0x100ull

static uint64_t pml4[2][512] __attribute__((aligned(4096)));
static uint64_t kernel_pdpt[512] __attribute__((aligned(4096)));
static uint64_t kernel_pd[512] __attribute__((aligned(4096)));
static uint64_t user_pdpt[2][512] __attribute__((aligned(4096)));
static uint64_t user_pd[2][512] __attribute__((aligned(4096)));
static uint64_t user_pt[2][512] __attribute__((aligned(4096)));
static uint64_t frames[2][PAGES][512] __attribute__((aligned(4096)));

static uint64_t Addr(const void* p) { return (uint64_t)(uintptr_t)p; }

static void WriteCr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }

int main(void) {
  // The kernel: the first GiB identity-mapped with global 2 MiB pages.
  for (uint64_t i = 0; i < 512; i++) kernel_pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PS | PTE_G;
  kernel_pdpt[0] = Addr(kernel_pd) | PTE_P | PTE_W;
  for (int s = 0; s < 2; s++) {
    pml4[s][0] = Addr(kernel_pdpt) | PTE_P | PTE_W;
    pml4[s][1] = Addr(user_pdpt[s]) | PTE_P | PTE_W;
    user_pdpt[s][0] = Addr(user_pd[s]) | PTE_P | PTE_W;
    user_pd[s][0] = Addr(user_pt[s]) | PTE_P | PTE_W;
    for (int p = 0; p < PAGES; p++) {
      user_pt[s][p] = Addr(frames[s][p]) | PTE_P | PTE_W;
      frames[s][p][0] = (uint64_t)(s * 1000 + p);
    }
  }
  uint64_t cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | (1ull << 7)) : "memory");  // PGE
  WriteCr3(Addr(pml4[0]));

  uint64_t sum = 0;
  for (uint32_t i = 0; i < SWITCHES; i++) {
    const int s = i & 1;
    WriteCr3(Addr(pml4[s]));
    volatile uint64_t* page = (volatile uint64_t*)(uintptr_t)USER_VA;
    for (int p = 0; p < PAGES; p++, page += 512) {
      sum += page[0];
      page[1] = i;
    }
  }
  // Each space reads its own values: (0 + 1 + ... + 63) and (1000 * 64 + that), SWITCHES / 2 times each.
  guest_printf("spaces: %d switches, %d pages each, sum=%lu last=%lu\n", SWITCHES, PAGES, sum, frames[1][PAGES - 1][1]);
  return 0;
}
