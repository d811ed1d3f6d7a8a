#include "libbpf_log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

namespace weft {

static thread_local std::string* g_capture = nullptr;
static bool g_debug = false;

static int Print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  char buf[4096];
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(buf, sizeof(buf), fmt, copy);
  va_end(copy);
  if (n < 0) return n;
  if (static_cast<size_t>(n) >= sizeof(buf)) {
    std::string big(n + 1, '\0');
    vsnprintf(&big[0], big.size(), fmt, ap);
    big.resize(n);
    if (g_capture) g_capture->append(big);
    if (g_debug) fputs(big.c_str(), stderr);
    return n;
  }
  // Debug-level chatter is noise in an error; keep warnings and info.
  if (g_capture && level != LIBBPF_DEBUG) g_capture->append(buf, n);
  if (g_debug) fputs(buf, stderr);
  return n;
}

void InstallLibbpfLogger() {
  g_debug = getenv("WEFT_LIBBPF_DEBUG") != nullptr;
  libbpf_set_print(Print);
}

LibbpfCapture::LibbpfCapture() : prev_(g_capture) { g_capture = &text_; }
LibbpfCapture::~LibbpfCapture() { g_capture = prev_; }

}  // namespace weft
