// Kernel feature probes: what this kernel offers, asked of the kernel itself
// rather than guessed from its version (vendors backport; configs differ).
//   probeProgType(name)  -> bool  e.g. "sk_lookup"   (libbpf loads a trivial program)
//   probeMapType(name)   -> bool  e.g. "ringbuf"     (libbpf creates a tiny map)
//   probeHelper(progType, helperId) -> bool  the helper is callable from that type
//   kernelEnumValue(enum, value) -> number | null  from the kernel's own BTF
//     (/sys/kernel/btf/vmlinux): which helpers, attach types and link types it knows.
//   releaseKernelBtf()   gives back the parsed kernel BTF (about 5 MiB), once the probes are done
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <napi.h>

#include <string>

#include "errors.h"
#include "exports.h"
#include "libbpf_log.h"

namespace weft {

// Names as libbpf spells them; the enums are small, so a scan is enough.
static int ProgTypeByName(const std::string& name) {
  for (int t = 0; t < 128; t++) {
    const char* s = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(t));
    if (s && name == s) return t;
  }
  return -1;
}

static int MapTypeByName(const std::string& name) {
  for (int t = 0; t < 128; t++) {
    const char* s = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(t));
    if (s && name == s) return t;
  }
  return -1;
}

static Napi::Value ProbeProgType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  int t = ProgTypeByName(name);
  if (t < 0) throw Napi::TypeError::New(env, "libbpf knows no program type '" + name + "'");
  LibbpfCapture capture;  // a missing type is an answer, not something to log
  return Napi::Boolean::New(env, libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(t), nullptr) == 1);
}

static Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  int t = MapTypeByName(name);
  if (t < 0) throw Napi::TypeError::New(env, "libbpf knows no map type '" + name + "'");
  LibbpfCapture capture;
  return Napi::Boolean::New(env, libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(t), nullptr) == 1);
}

static Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  int t = ProgTypeByName(name);
  if (t < 0) throw Napi::TypeError::New(env, "libbpf knows no program type '" + name + "'");
  uint32_t helper = info[1].As<Napi::Number>().Uint32Value();
  LibbpfCapture capture;
  int r = libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(t), static_cast<enum bpf_func_id>(helper), nullptr);
  return Napi::Boolean::New(env, r == 1);
}

static struct btf* vmlinux = nullptr;

static Napi::Value KernelEnumValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string enumName = info[0].As<Napi::String>();
  std::string valueName = info[1].As<Napi::String>();
  if (!vmlinux) {
    LibbpfCapture capture;
    struct btf* b = btf__load_vmlinux_btf();
    int err = libbpf_get_error(b);
    if (err) ThrowErrno(env, -err, "btf__load_vmlinux_btf", capture.text());
    vmlinux = b;  // kept until releaseKernelBtf: one parse serves a whole check
  }
  int id = btf__find_by_name_kind(vmlinux, enumName.c_str(), BTF_KIND_ENUM);
  if (id < 0) return env.Null();
  const struct btf_type* t = btf__type_by_id(vmlinux, id);
  const struct btf_enum* e = btf_enum(t);
  for (uint16_t i = 0; i < btf_vlen(t); i++, e++) {
    if (valueName == btf__name_by_offset(vmlinux, e->name_off)) return Napi::Number::New(env, e->val);
  }
  return env.Null();
}

static Napi::Value ReleaseKernelBtf(const Napi::CallbackInfo& info) {
  btf__free(vmlinux);
  vmlinux = nullptr;
  return info.Env().Undefined();
}

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeProgType", Napi::Function::New(env, ProbeProgType));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  exports.Set("kernelEnumValue", Napi::Function::New(env, KernelEnumValue));
  exports.Set("releaseKernelBtf", Napi::Function::New(env, ReleaseKernelBtf));
}

}  // namespace weft
