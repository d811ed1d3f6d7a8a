#include "errors.h"

#include <bpf/libbpf.h>
#include <string.h>

namespace weft {

static std::string VerifierLog(const std::string& log) {
  // libbpf wraps the kernel's log between these markers when a load fails.
  const std::string begin = "-- BEGIN PROG LOAD LOG --";
  const std::string end = "-- END PROG LOAD LOG --";
  auto b = log.find(begin);
  if (b == std::string::npos) return "";
  b += begin.size();
  auto e = log.find(end, b);
  return log.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& what,
                       const std::string& libbpfLog) {
  char buf[256];
  libbpf_strerror(err, buf, sizeof(buf));
  const char* name = strerrorname_np(err);
  std::string msg = what + ": " + buf;
  if (name) msg += std::string(" (") + name + ")";
  std::string verifier = VerifierLog(libbpfLog);
  if (!verifier.empty()) msg += "\nverifier log:\n" + verifier;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("syscall", Napi::String::New(env, what));
  if (!libbpfLog.empty()) e.Set("libbpfLog", Napi::String::New(env, libbpfLog));
  if (!verifier.empty()) e.Set("verifierLog", Napi::String::New(env, verifier));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const std::string& what,
                const std::string& libbpfLog) {
  throw ErrnoError(env, err, what, libbpfLog);
}

}  // namespace weft
