// Attach points and pins on fds: BPF links (cgroup, sockops, sk_lookup/netns),
// legacy prog attach (sk_msg on a sockhash has no link on older kernels),
// queries, pins and fd bookkeeping.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errors.h"
#include "exports.h"

namespace weft {

static int Fd(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

static enum bpf_attach_type AttachType(Napi::Env env, const Napi::Value& v) {
  std::string name = v.As<Napi::String>();
  for (int t = 0; t < __MAX_BPF_ATTACH_TYPE; t++) {
    const char* s = libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(t));
    if (s && name == s) return static_cast<enum bpf_attach_type>(t);
  }
  ThrowErrno(env, EINVAL, "unknown attach type '" + name + "'");
}

// linkCreate(progFd, targetFd, attachType) -> link fd. Closing the last fd
// (and removing any pin) detaches.
static Napi::Value LinkCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  enum bpf_attach_type type = AttachType(env, info[2]);
  int fd = bpf_link_create(Fd(info[0]), Fd(info[1]), type, nullptr);
  if (fd < 0) WEFT_THROW_ERRNO(env, std::string("bpf_link_create ") + libbpf_bpf_attach_type_str(type));
  return Napi::Number::New(env, fd);
}

// linkDetach(linkFd): detaches now, even while other fds or pins hold the link.
static Napi::Value LinkDetach(const Napi::CallbackInfo& info) {
  if (bpf_link_detach(Fd(info[0])) != 0) WEFT_THROW_ERRNO(info.Env(), "bpf_link_detach");
  return info.Env().Undefined();
}

// linkUpdate(linkFd, newProgFd): swaps the program behind a link atomically, so
// an upgraded agent replaces programs without a moment unattached.
static Napi::Value LinkUpdate(const Napi::CallbackInfo& info) {
  if (bpf_link_update(Fd(info[0]), Fd(info[1]), nullptr) != 0)
    WEFT_THROW_ERRNO(info.Env(), "bpf_link_update");
  return info.Env().Undefined();
}

// progAttach(progFd, targetFd, attachType, flags)
static Napi::Value ProgAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  enum bpf_attach_type type = AttachType(env, info[2]);
  unsigned flags = info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
  if (bpf_prog_attach(Fd(info[0]), Fd(info[1]), type, flags) != 0)
    WEFT_THROW_ERRNO(env, std::string("bpf_prog_attach ") + libbpf_bpf_attach_type_str(type));
  return env.Undefined();
}

// progDetach(progFd, targetFd, attachType)
static Napi::Value ProgDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  enum bpf_attach_type type = AttachType(env, info[2]);
  if (bpf_prog_detach2(Fd(info[0]), Fd(info[1]), type) != 0)
    WEFT_THROW_ERRNO(env, std::string("bpf_prog_detach ") + libbpf_bpf_attach_type_str(type));
  return env.Undefined();
}

// progQuery(targetFd, attachType) -> ids of programs attached there
static Napi::Value ProgQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  enum bpf_attach_type type = AttachType(env, info[1]);
  std::vector<uint32_t> ids(64);
  uint32_t count = ids.size();
  uint32_t attachFlags = 0;
  if (bpf_prog_query(Fd(info[0]), type, 0, &attachFlags, ids.data(), &count) != 0)
    WEFT_THROW_ERRNO(env, std::string("bpf_prog_query ") + libbpf_bpf_attach_type_str(type));
  Napi::Array out = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; i++) out.Set(i, ids[i]);
  return out;
}

// objPin(fd, path)
static Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  std::string path = info[1].As<Napi::String>();
  if (bpf_obj_pin(Fd(info[0]), path.c_str()) != 0)
    WEFT_THROW_ERRNO(info.Env(), "bpf_obj_pin " + path);
  return info.Env().Undefined();
}

// objGet(path) -> fd of the pinned map, program or link
static Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) WEFT_THROW_ERRNO(info.Env(), "bpf_obj_get " + path);
  return Napi::Number::New(info.Env(), fd);
}

// mapInfo(fd) -> what the kernel says the map is (sizes to check a pin against)
static Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  uint32_t len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(Fd(info[0]), &mi, &len) != 0)
    WEFT_THROW_ERRNO(env, "bpf_obj_get_info_by_fd (map)");
  Napi::Object o = Napi::Object::New(env);
  const char* type = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(mi.type));
  o.Set("id", mi.id);
  o.Set("name", mi.name);
  o.Set("type", type ? type : "unknown");
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  return o;
}

// linkInfo(fd) -> { id, progId, type, attachType?, cgroupId?, netnsIno? }
static Napi::Value LinkInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_link_info li;
  memset(&li, 0, sizeof(li));
  uint32_t len = sizeof(li);
  if (bpf_obj_get_info_by_fd(Fd(info[0]), &li, &len) != 0)
    WEFT_THROW_ERRNO(env, "bpf_obj_get_info_by_fd (link)");
  Napi::Object o = Napi::Object::New(env);
  const char* type = libbpf_bpf_link_type_str(static_cast<enum bpf_link_type>(li.type));
  o.Set("id", li.id);
  o.Set("progId", li.prog_id);
  o.Set("type", type ? type : "unknown");
  if (li.type == BPF_LINK_TYPE_CGROUP) {
    o.Set("cgroupId", Napi::BigInt::New(env, static_cast<uint64_t>(li.cgroup.cgroup_id)));
    o.Set("attachType", libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(li.cgroup.attach_type)));
  } else if (li.type == BPF_LINK_TYPE_NETNS) {
    o.Set("netnsIno", li.netns.netns_ino);
    o.Set("attachType", libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(li.netns.attach_type)));
  }
  return o;
}

// dupFd(fd) -> a new fd (close-on-exec) for the same object, so a handle can
// outlive the BpfObject that created it.
static Napi::Value DupFd(const Napi::CallbackInfo& info) {
  int fd = fcntl(Fd(info[0]), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) WEFT_THROW_ERRNO(info.Env(), "dup");
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  if (close(Fd(info[0])) != 0) WEFT_THROW_ERRNO(info.Env(), "close");
  return info.Env().Undefined();
}

void InitLinks(Napi::Env env, Napi::Object exports) {
  exports.Set("linkCreate", Napi::Function::New(env, LinkCreate));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
  exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate));
  exports.Set("progAttach", Napi::Function::New(env, ProgAttach));
  exports.Set("progDetach", Napi::Function::New(env, ProgDetach));
  exports.Set("progQuery", Napi::Function::New(env, ProgQuery));
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("linkInfo", Napi::Function::New(env, LinkInfo));
  exports.Set("dupFd", Napi::Function::New(env, DupFd));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
}

}  // namespace weft
