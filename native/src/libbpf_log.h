// libbpf reports through one global print callback. While a call is being made
// on this thread its messages are captured, so the error for that call can
// carry them (verifier log included); otherwise they go to stderr only when
// WEFT_LIBBPF_DEBUG is set, so the agent's output stays its own.
#pragma once
#include <string>

namespace weft {

void InstallLibbpfLogger();

class LibbpfCapture {
 public:
  LibbpfCapture();
  ~LibbpfCapture();
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string* prev_;
};

}  // namespace weft
