// guest.h — the whole API a guest program (roms/, bench/) may use.
//
// Every guest program is built twice from the same source:
//   NAME.elf     freestanding ELF64 run by `xlat -kernel NAME.elf` (guest.c,
//                start.S, guest.ld): output through the serial port 0x3f8,
//                exit through the isa-debug-exit port 0xf4.
//   NAME.native  an ordinary Linux executable (native_shim.c): output through
//                stdio, exit through exit(). Its stdout is the reference.
// Both builds share the formatter (format.c), so a difference in output is
// a difference in how the code ran, never in how it was printed.
//
// Exit codes: keep them in 0..127. Native exit(c) gives status c; xlat gives
// (c << 1) | 1, so only a 7-bit code survives the round trip.
#ifndef XLAT_ROMS_GUEST_H
#define XLAT_ROMS_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void guest_putc(char c);
// Writes s and then a newline, like puts().
void guest_puts(const char* s);
// printf subset: %d %i %u %x %X %s %c %% with l/ll/z length modifiers,
// '-', '+' and '0' flags and a field width (e.g. %016lx, %-8s, %+5d).
void guest_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_vprintf(const char* fmt, va_list ap);
__attribute__((noreturn)) void guest_exit(int code);
uint64_t guest_rdtsc(void);

// Formats into buf (always NUL-terminated when size > 0); returns the length
// the full output would have had, like vsnprintf.
int guest_vsnprintf(char* buf, size_t size, const char* fmt, va_list ap);
int guest_snprintf(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// The compiler emits calls to these even in freestanding code. Natively they
// are glibc's.
void* memcpy(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
void* memmove(void* dst, const void* src, size_t n);
int memcmp(const void* a, const void* b, size_t n);

#ifdef __cplusplus
}
#endif

#endif  // XLAT_ROMS_GUEST_H
