// direct_run.c — runs a guest program ELF directly on the host CPU, in ring 3
// of an ordinary Linux process, with no translation at all: the reference
// point between "the native build" and "the guest build under xlat".
//
//   direct_run PROGRAM.elf
//
// It maps the PT_LOAD segments at their physical (== virtual) addresses,
// zero-fills them to p_memsz and jumps to e_entry with the GPRs zero, like
// xlat's -kernel loader. The guest's port I/O faults in ring 3; the SIGSEGV
// handler emulates exactly the two devices of the guest contract and steps
// over the instruction:
//   0x3f8 (out)  serial transmit -> stdout;   0x3fd (in) line status -> 0x60
//   0xf4  (out)  isa-debug-exit: exit status (value << 1) | 1
// Anything else that faults ends the run with status 125 and a message.
//
// What this proves: the guest ELF, its runtime and its linker script are
// right, independently of xlat. What it does not: anything that differs
// between ring 0 and ring 3 (cpuid, xgetbv and iretq see the host's ring 3).
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

enum { kSerialData = 0x3f8, kSerialLineStatus = 0x3fd, kDebugExit = 0xf4 };

static char out_buf[1 << 16];
static size_t out_len;

static void FlushOutput(void) {
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(STDOUT_FILENO, out_buf + done, out_len - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  out_len = 0;
}

static void Die(const char* what, uint64_t rip) {
  FlushOutput();
  char msg[160];
  int n = snprintf(msg, sizeof msg, "direct_run: %s at rip=%#lx\n", what, (unsigned long)rip);
  if (write(STDERR_FILENO, msg, (size_t)n) < 0) _exit(125);
  _exit(125);
}

static uint32_t PortIn(uint16_t port) { return port == kSerialLineStatus ? 0x60 : 0xffffffffu; }

static void PortOut(uint16_t port, uint32_t value) {
  if (port == kSerialData) {
    out_buf[out_len++] = (char)value;
    if (out_len == sizeof out_buf) FlushOutput();
  } else if (port == kDebugExit) {
    FlushOutput();
    _exit((int)(((value << 1) | 1) & 0xff));
  }
}

// Emulates in/out (all forms), cli and hlt at the faulting rip.
static void OnFault(int sig, siginfo_t* info, void* ctx_void) {
  (void)sig;
  (void)info;
  ucontext_t* ctx = (ucontext_t*)ctx_void;
  greg_t* regs = ctx->uc_mcontext.gregs;
  const uint8_t* pc = (const uint8_t*)regs[REG_RIP];
  const uint8_t* p = pc;
  int opsize16 = 0;
  if (*p == 0x66) {
    opsize16 = 1;
    p++;
  }
  uint8_t op = *p++;
  uint16_t port = (uint16_t)regs[REG_RDX];
  if (op == 0xe4 || op == 0xe5 || op == 0xe6 || op == 0xe7) port = *p++;
  uint64_t rax = (uint64_t)regs[REG_RAX];
  switch (op) {
    case 0xe4:
    case 0xec:  // in al
      regs[REG_RAX] = (greg_t)((rax & ~0xffull) | (PortIn(port) & 0xff));
      break;
    case 0xe5:
    case 0xed:  // in ax / eax
      if (opsize16) regs[REG_RAX] = (greg_t)((rax & ~0xffffull) | (PortIn(port) & 0xffff));
      else regs[REG_RAX] = (greg_t)(PortIn(port) & 0xffffffffu);
      break;
    case 0xe6:
    case 0xee:  // out al
      PortOut(port, (uint32_t)(rax & 0xff));
      break;
    case 0xe7:
    case 0xef:  // out ax / eax
      PortOut(port, (uint32_t)(opsize16 ? rax & 0xffff : rax & 0xffffffffu));
      break;
    case 0xfa:  // cli: no interrupts here anyway
      break;
    case 0xf4:
      Die("hlt with interrupts off (the program did not exit through port 0xf4)", (uint64_t)pc);
      break;
    default:
      Die("unexpected fault", (uint64_t)pc);
  }
  regs[REG_RIP] = (greg_t)p;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PROGRAM.elf\n", argv[0]);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    perror(argv[1]);
    return 2;
  }
  const uint8_t* file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (file == MAP_FAILED) {
    perror("mmap");
    return 2;
  }
  const Elf64_Ehdr* eh = (const Elf64_Ehdr*)file;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC) {
    fprintf(stderr, "%s: not an x86-64 ELF64 executable\n", argv[1]);
    return 2;
  }
  for (int i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr* ph = (const Elf64_Phdr*)(file + eh->e_phoff + (size_t)i * eh->e_phentsize);
    if (ph->p_type != PT_LOAD) continue;
    uint64_t start = ph->p_paddr & ~0xfffull;
    uint64_t end = (ph->p_paddr + ph->p_memsz + 0xfff) & ~0xfffull;
    void* at = mmap((void*)start, end - start, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    if (at != (void*)start) {
      fprintf(stderr, "%s: cannot map segment at %#lx\n", argv[1], (unsigned long)start);
      return 2;
    }
    memcpy((void*)ph->p_paddr, file + ph->p_offset, ph->p_filesz);
  }

  static uint8_t alt_stack[1 << 16];
  stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);

  // Enter with every GPR but rip zero; the program sets its own stack.
  __asm__ volatile(
      "movq %0, %%r15\n\t"
      "xorl %%eax, %%eax\n\txorl %%ebx, %%ebx\n\txorl %%ecx, %%ecx\n\txorl %%edx, %%edx\n\t"
      "xorl %%esi, %%esi\n\txorl %%edi, %%edi\n\txorl %%ebp, %%ebp\n\t"
      "xorl %%r8d, %%r8d\n\txorl %%r9d, %%r9d\n\txorl %%r10d, %%r10d\n\txorl %%r11d, %%r11d\n\t"
      "xorl %%r12d, %%r12d\n\txorl %%r13d, %%r13d\n\txorl %%r14d, %%r14d\n\t"
      "pushq %%r15\n\t"
      "xorl %%r15d, %%r15d\n\t"
      "ret\n\t"
      :
      : "r"(eh->e_entry)
      : "memory");
  __builtin_unreachable();
}
