// BpfObject: one ELF object opened and loaded through libbpf. It owns the
// program and map fds until close(); attach points live in links.cc so a link
// outlives the object that loaded its program.
#pragma once
#include <bpf/libbpf.h>
#include <napi.h>

namespace weft {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

 private:
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  struct bpf_object* Live(Napi::Env env);

  struct bpf_object* obj_ = nullptr;
  bool loaded_ = false;
};

}  // namespace weft
