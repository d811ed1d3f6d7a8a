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

// Reads errno before anything else in the statement can clobber it (building
// the message may allocate), then throws.
#define WEFT_THROW_ERRNO(env, what)        \
  do {                                     \
    int weft_errno_ = errno;               \
    ::weft::ThrowErrno(env, weft_errno_, what); \
  } while (0)
