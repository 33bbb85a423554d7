// guest.c — the bare-metal side of guest.h: serial console, debug exit,
// rdtsc, and the mem* functions the compiler calls.
//
// Machine contract (see roms/README.md): 64-bit long mode, CPL 0, RAM
// identity-mapped, no interrupts. Port 0x3f8 is a 16550-style transmit
// register whose line status (0x3fd) reports "transmitter empty"; an outl to
// port 0xf4 ends the run with status (value << 1) | 1.
#include "guest.h"

enum {
  kSerialData = 0x3f8,
  kSerialLineStatus = 0x3fd,
  kLineStatusTxEmpty = 0x20,
  kDebugExitPort = 0xf4,
};

static inline void OutByte(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void OutLong(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t InByte(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

void guest_putc(char c) {
  // Like a real UART driver: wait for the transmitter, then write.
  while ((InByte(kSerialLineStatus) & kLineStatusTxEmpty) == 0) {
  }
  OutByte(kSerialData, (uint8_t)c);
}

void guest_exit(int code) {
  OutLong(kDebugExitPort, (uint32_t)code);
  for (;;) __asm__ volatile("cli; hlt");  // only if the exit port is missing
}

uint64_t guest_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

// The string instructions do the work: short, and on Zen/Ice Lake and later
// (FSRM) as fast as a vector loop. The direction flag is clear by the ABI.
void* memcpy(void* dst, const void* src, size_t n) {
  void* d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  void* d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  if ((uintptr_t)dst - (uintptr_t)src >= n) return memcpy(dst, src, n);  // no harmful overlap
  // dst lies inside [src, src + n): copy from the end, backwards.
  void* d = (char*)dst + n - 1;
  const void* s = (const char*)src + n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory", "cc");
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char* x = (const unsigned char*)a;
  const unsigned char* y = (const unsigned char*)b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
