#include "object.h"

#include <errno.h>

#include <string>

#include "errors.h"
#include "libbpf_log.h"

namespace weft {

Napi::Function BpfObject::Init(Napi::Env env) {
  return DefineClass(env, "BpfObject",
                     {
                         InstanceMethod("load", &BpfObject::Load),
                         InstanceMethod("programs", &BpfObject::Programs),
                         InstanceMethod("maps", &BpfObject::Maps),
                         InstanceMethod("close", &BpfObject::Close),
                     });
}

// new BpfObject(path, pinRoot | null): opens (parses) the ELF. With a pin root,
// maps marked for pinning are shared through it; without one, pinning is
// switched off so an object never lands in the default /sys/fs/bpf.
BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  std::string pinRoot = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";

  LibbpfCapture capture;
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!pinRoot.empty()) opts.pin_root_path = pinRoot.c_str();
  struct bpf_object* obj = bpf_object__open_file(path.c_str(), &opts);
  int err = libbpf_get_error(obj);
  if (err) ThrowErrno(env, -err, "open " + path, capture.text());
  if (pinRoot.empty()) {
    struct bpf_map* map;
    bpf_object__for_each_map(map, obj) { bpf_map__set_pin_path(map, nullptr); }
  }
  obj_ = obj;
}

BpfObject::~BpfObject() {
  if (obj_) bpf_object__close(obj_);
}

struct bpf_object* BpfObject::Live(Napi::Env env) {
  if (!obj_) ThrowErrno(env, EBADF, "object is closed");
  return obj_;
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  struct bpf_object* obj = Live(info.Env());
  LibbpfCapture capture;
  int err = bpf_object__load(obj);
  if (err) {
    // Nothing of a failed load stays in the kernel: libbpf closes what it made.
    std::string log = capture.text();
    std::string name = bpf_object__name(obj);
    bpf_object__close(obj_);
    obj_ = nullptr;
    ThrowErrno(info.Env(), -err, "load " + name, log);
  }
  loaded_ = true;
  return info.Env().Undefined();
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* obj = Live(env);
  Napi::Array out = Napi::Array::New(env);
  struct bpf_program* prog;
  uint32_t i = 0;
  bpf_object__for_each_program(prog, obj) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", bpf_program__name(prog));
    p.Set("section", bpf_program__section_name(prog));
    const char* type = libbpf_bpf_prog_type_str(bpf_program__type(prog));
    const char* attach = libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(prog));
    p.Set("type", type ? type : "unknown");
    p.Set("attachType", attach ? attach : "unknown");
    p.Set("fd", loaded_ ? bpf_program__fd(prog) : -1);
    out.Set(i++, p);
  }
  return out;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* obj = Live(env);
  Napi::Array out = Napi::Array::New(env);
  struct bpf_map* map;
  uint32_t i = 0;
  bpf_object__for_each_map(map, obj) {
    Napi::Object m = Napi::Object::New(env);
    const char* type = libbpf_bpf_map_type_str(bpf_map__type(map));
    const char* pin = bpf_map__pin_path(map);
    m.Set("name", bpf_map__name(map));
    m.Set("type", type ? type : "unknown");
    m.Set("keySize", bpf_map__key_size(map));
    m.Set("valueSize", bpf_map__value_size(map));
    m.Set("maxEntries", bpf_map__max_entries(map));
    m.Set("fd", loaded_ ? bpf_map__fd(map) : -1);
    m.Set("pinPath", pin ? Napi::Value(Napi::String::New(env, pin)) : env.Null());
    out.Set(i++, m);
  }
  return out;
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
  loaded_ = false;
  return info.Env().Undefined();
}

}  // namespace weft
