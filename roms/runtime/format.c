// format.c — the printf subset shared by the guest runtime and the native shim.
// One implementation for both builds keeps their outputs byte-identical.
#include "guest.h"

typedef void (*SinkFn)(char c, void* ctx);

static void PutPadded(SinkFn put, void* ctx, const char* s, int len, int width, int left, char pad) {
  int fill = width > len ? width - len : 0;
  if (!left && pad == '0' && len > 0 && (s[0] == '-' || s[0] == '+')) {  // "-0042": sign first
    put(s[0], ctx);
    s++;
    len--;
  }
  if (!left)
    for (int i = 0; i < fill; i++) put(pad, ctx);
  for (int i = 0; i < len; i++) put(s[i], ctx);
  if (left)
    for (int i = 0; i < fill; i++) put(' ', ctx);
}

// Writes the digits of v in base (10 or 16) backwards into the end of buf;
// returns the index of the first digit.
static int Digits(char* buf, int end, uint64_t v, unsigned base, int upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  int i = end;
  do {
    buf[--i] = digits[v % base];
    v /= base;
  } while (v != 0);
  return i;
}

static void Format(SinkFn put, void* ctx, const char* fmt, va_list ap) {
  for (const char* p = fmt; *p; p++) {
    if (*p != '%') {
      put(*p, ctx);
      continue;
    }
    p++;
    int left = 0, plus = 0;
    char pad = ' ';
    for (;; p++) {
      if (*p == '-') left = 1;
      else if (*p == '0') pad = '0';
      else if (*p == '+') plus = 1;
      else break;
    }
    int width = 0;
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    int longs = 0;
    while (*p == 'l' || *p == 'z') {
      longs += *p == 'z' ? 2 : 1;
      p++;
    }
    if (left) pad = ' ';
    char buf[24];
    switch (*p) {
      case 'd':
      case 'i': {
        int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
        uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        int i = Digits(buf, sizeof buf, mag, 10, 0);
        if (v < 0) buf[--i] = '-';
        else if (plus) buf[--i] = '+';
        PutPadded(put, ctx, buf + i, (int)sizeof buf - i, width, left, pad);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        int i = Digits(buf, sizeof buf, v, *p == 'u' ? 10 : 16, *p == 'X');
        PutPadded(put, ctx, buf + i, (int)sizeof buf - i, width, left, pad);
        break;
      }
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        int len = 0;
        while (s[len]) len++;
        PutPadded(put, ctx, s, len, width, left, ' ');
        break;
      }
      case 'c': {
        char c = (char)va_arg(ap, int);
        PutPadded(put, ctx, &c, 1, width, left, ' ');
        break;
      }
      case '%':
        put('%', ctx);
        break;
      case '\0':
        return;
      default:  // unknown conversion: print it as it was written
        put('%', ctx);
        put(*p, ctx);
        break;
    }
  }
}

static void PutToConsole(char c, void* ctx) {
  (void)ctx;
  guest_putc(c);
}

void guest_vprintf(const char* fmt, va_list ap) { Format(PutToConsole, 0, fmt, ap); }

void guest_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  guest_vprintf(fmt, ap);
  va_end(ap);
}

void guest_puts(const char* s) {
  while (*s) guest_putc(*s++);
  guest_putc('\n');
}

typedef struct {
  char* buf;
  size_t size;
  size_t len;
} StringSink;

static void PutToString(char c, void* ctx) {
  StringSink* s = (StringSink*)ctx;
  if (s->len + 1 < s->size) s->buf[s->len] = c;
  s->len++;
}

int guest_vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
  StringSink s = {buf, size, 0};
  Format(PutToString, &s, fmt, ap);
  if (size > 0) buf[s.len < size ? s.len : size - 1] = '\0';
  return (int)s.len;
}

int guest_snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = guest_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
