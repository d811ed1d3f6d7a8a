// JS errors for failed system and libbpf calls: Error with errno, code, syscall
// (what failed) and, where libbpf said more, its messages and the verifier log.
#pragma once
#include <napi.h>

#include <string>

namespace weft {

// err is a positive errno value.
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& what,
                       const std::string& libbpfLog = "");

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const std::string& what,
                             const std::string& libbpfLog = "");

}  // namespace weft
