// btfStructs(objectPath, prefix) -> the structs an object's BTF describes, so a
// test can prove the TS layout and the compiled C agree byte for byte.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <napi.h>

#include <string>

#include "errors.h"
#include "exports.h"
#include "libbpf_log.h"

namespace weft {

// The declared name of a member's type: a typedef (__u32, __be16) keeps its
// name; an array becomes "elem[n]".
static std::string TypeName(const struct btf* btf, uint32_t id) {
  const struct btf_type* t = btf__type_by_id(btf, id);
  while (t && (btf_is_const(t) || btf_is_volatile(t))) {
    id = t->type;
    t = btf__type_by_id(btf, id);
  }
  if (!t) return "?";
  if (btf_is_array(t)) {
    const struct btf_array* a = btf_array(t);
    return TypeName(btf, a->type) + "[" + std::to_string(a->nelems) + "]";
  }
  if (btf_is_composite(t)) return std::string("struct ") + btf__name_by_offset(btf, t->name_off);
  return btf__name_by_offset(btf, t->name_off);
}

static Napi::Value BtfStructs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  std::string prefix = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  LibbpfCapture capture;
  struct btf* btf = btf__parse(path.c_str(), nullptr);
  int err = libbpf_get_error(btf);
  if (err) ThrowErrno(env, -err, "btf__parse " + path, capture.text());
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (uint32_t id = 1; id < btf__type_cnt(btf); id++) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (!btf_is_struct(t)) continue;
    std::string name = btf__name_by_offset(btf, t->name_off);
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    Napi::Object s = Napi::Object::New(env);
    s.Set("name", name);
    s.Set("size", t->size);
    Napi::Array members = Napi::Array::New(env);
    const struct btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
      Napi::Object mo = Napi::Object::New(env);
      mo.Set("name", btf__name_by_offset(btf, m->name_off));
      mo.Set("bitOffset", btf_member_bit_offset(t, i));
      mo.Set("bitSize", btf_member_bitfield_size(t, i));
      mo.Set("size", static_cast<double>(btf__resolve_size(btf, m->type)));
      mo.Set("type", TypeName(btf, m->type));
      members.Set(i, mo);
    }
    s.Set("members", members);
    out.Set(n++, s);
  }
  btf__free(btf);
  return out;
}

void InitBtf(Napi::Env env, Napi::Object exports) {
  exports.Set("btfStructs", Napi::Function::New(env, BtfStructs));
}

}  // namespace weft
