// Map operations: lookup, update, delete, next key and batch dump, on a raw fd
// (mapLookup(fd, ...)) or on a MapHandle (what BpfMap uses). Keys and values
// are Buffers whose layout the TS side owns (layout.ts).
//
// The kernel copies key_size and value_size bytes (per possible CPU for per-CPU
// maps) whatever a buffer's length, so every call checks its buffers against
// the map's real sizes first: a wrong size is a RangeError naming the map and
// both sizes, never a copy past a buffer's end. The raw-fd functions ask the
// kernel for the sizes on each call (an fd number, once closed, may name another
// map); a MapHandle asks once, holding a duplicate fd of its own that nothing
// else can close, and so costs no extra syscall per call.
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

// What the kernel holds for a map: its name and the bytes a call passes.
struct MapShape {
  std::string name;
  size_t keySize;
  // value_size, or round_up(value_size, 8) per possible CPU for per-CPU maps.
  size_t valueBytes;
};

static bool PerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static MapShape ShapeOf(Napi::Env env, int fd, const std::string& fn) {
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  uint32_t len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0)
    WEFT_THROW_ERRNO(env, fn + ": bpf_obj_get_info_by_fd (map)");
  MapShape s{mi.name, mi.key_size, mi.value_size};
  if (PerCpu(mi.type)) {
    int cpus = libbpf_num_possible_cpus();
    if (cpus < 0) ThrowErrno(env, -cpus, fn + ": possible CPUs");
    s.valueBytes = ((static_cast<size_t>(mi.value_size) + 7) / 8) * 8 * static_cast<size_t>(cpus);
  }
  return s;
}

static std::string Where(const char* fn, const MapShape& m) {
  return std::string(fn) + ": map '" + m.name + "': ";
}

[[noreturn]] static void SizeError(Napi::Env env, const char* fn, const MapShape& m,
                                   const char* what, double got, size_t want) {
  std::string g = got >= 0 && got < 1e15 ? std::to_string(static_cast<uint64_t>(got)) : "not";
  throw Napi::RangeError::New(env, Where(fn, m) + what + " is " + g + " bytes, the map's is " +
                                       std::to_string(want));
}

// A Buffer of exactly `want` bytes.
static uint8_t* Sized(Napi::Env env, const Napi::Value& v, const char* fn, const MapShape& m,
                      const char* what, size_t want) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(env, Where(fn, m) + what + " must be a Buffer");
  auto b = v.As<Napi::Buffer<uint8_t>>();
  if (b.Length() != want) SizeError(env, fn, m, what, static_cast<double>(b.Length()), want);
  return b.Data();
}

// A size the caller expects, which must be the map's.
static void ExpectSize(Napi::Env env, const Napi::Value& v, const char* fn, const MapShape& m,
                       const char* what, size_t want) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, Where(fn, m) + what + " must be a number");
  double got = v.As<Napi::Number>().DoubleValue();
  if (got != static_cast<double>(want)) SizeError(env, fn, m, what, got, want);
}

static int FdArg(const Napi::CallbackInfo& info, const char* fn) {
  if (!info[0].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": the map fd must be a number");
  return info[0].As<Napi::Number>().Int32Value();
}

// The operations, once the map's shape is known.

static Napi::Value Lookup(Napi::Env env, int fd, const MapShape& m, const Napi::Value& k,
                          const char* fn) {
  uint8_t* key = Sized(env, k, fn, m, "key", m.keySize);
  auto value = Napi::Buffer<uint8_t>::New(env, m.valueBytes);
  if (bpf_map_lookup_elem(fd, key, value.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    WEFT_THROW_ERRNO(env, "bpf_map_lookup_elem");
  }
  return value;
}

// Lookup and delete in one syscall (hash and LRU hash maps, Linux 5.14): what a
// consumed entry needs, at half the calls of a lookup and a delete.
static Napi::Value Take(Napi::Env env, int fd, const MapShape& m, const Napi::Value& k,
                        const char* fn) {
  uint8_t* key = Sized(env, k, fn, m, "key", m.keySize);
  auto value = Napi::Buffer<uint8_t>::New(env, m.valueBytes);
  if (bpf_map_lookup_and_delete_elem(fd, key, value.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    WEFT_THROW_ERRNO(env, "bpf_map_lookup_and_delete_elem");
  }
  return value;
}

static void Update(Napi::Env env, int fd, const MapShape& m, const Napi::Value& k,
                   const Napi::Value& v, const Napi::Value& f, const char* fn) {
  uint8_t* key = Sized(env, k, fn, m, "key", m.keySize);
  uint8_t* value = Sized(env, v, fn, m, "value", m.valueBytes);
  uint64_t flags = f.IsNumber() ? f.As<Napi::Number>().Int64Value() : uint64_t(BPF_ANY);
  if (bpf_map_update_elem(fd, key, value, flags) != 0) WEFT_THROW_ERRNO(env, "bpf_map_update_elem");
}

static Napi::Value Delete(Napi::Env env, int fd, const MapShape& m, const Napi::Value& k,
                          const char* fn) {
  uint8_t* key = Sized(env, k, fn, m, "key", m.keySize);
  if (bpf_map_delete_elem(fd, key) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    WEFT_THROW_ERRNO(env, "bpf_map_delete_elem");
  }
  return Napi::Boolean::New(env, true);
}

static Napi::Value NextKey(Napi::Env env, int fd, const MapShape& m, const Napi::Value& k,
                           const char* fn) {
  const void* cur =
      k.IsNull() || k.IsUndefined() ? nullptr : Sized(env, k, fn, m, "key", m.keySize);
  auto next = Napi::Buffer<uint8_t>::New(env, m.keySize);
  if (bpf_map_get_next_key(fd, cur, next.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    WEFT_THROW_ERRNO(env, "bpf_map_get_next_key");
  }
  return next;
}

// The whole map in few syscalls -> { keys, values, count }. Throws EINVAL/ENOTSUP
// where the map type has no batch support; the caller falls back to next-key iteration.
static Napi::Value LookupBatch(Napi::Env env, int fd, const MapShape& m, const Napi::Value& c) {
  size_t keySize = m.keySize;
  size_t valueSize = m.valueBytes;
  uint32_t chunk = c.IsNumber() ? c.As<Napi::Number>().Uint32Value() : 0;
  if (chunk == 0) chunk = 256;
  std::vector<uint8_t> keys, values;
  std::vector<uint8_t> inBatch(keySize < 8 ? 8 : keySize), outBatch(inBatch.size());
  bool first = true;
  uint32_t total = 0;
  for (;;) {
    keys.resize(static_cast<size_t>(total + chunk) * keySize);
    values.resize(static_cast<size_t>(total + chunk) * valueSize);
    uint32_t count = chunk;
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : inBatch.data(), outBatch.data(),
                                  keys.data() + static_cast<size_t>(total) * keySize,
                                  values.data() + static_cast<size_t>(total) * valueSize, &count,
                                  nullptr);
    int err = rc ? errno : 0;
    if (rc && err != ENOENT) ThrowErrno(env, err, "bpf_map_lookup_batch");
    total += count;
    if (err == ENOENT) break;
    inBatch = outBatch;
    first = false;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), static_cast<size_t>(total) * keySize));
  out.Set("values",
          Napi::Buffer<uint8_t>::Copy(env, values.data(), static_cast<size_t>(total) * valueSize));
  out.Set("count", total);
  return out;
}

// Raw-fd functions: the sizes are asked of the kernel on each call.

// mapLookup(fd, key, valueSize) -> Buffer | null
static Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, "mapLookup");
  MapShape m = ShapeOf(env, fd, "mapLookup");
  ExpectSize(env, info[2], "mapLookup", m, "value size", m.valueBytes);
  return Lookup(env, fd, m, info[1], "mapLookup");
}

// mapUpdate(fd, key, value, flags)
static Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, "mapUpdate");
  Update(env, fd, ShapeOf(env, fd, "mapUpdate"), info[1], info[2], info[3], "mapUpdate");
  return env.Undefined();
}

// mapDelete(fd, key) -> whether an entry was there
static Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, "mapDelete");
  return Delete(env, fd, ShapeOf(env, fd, "mapDelete"), info[1], "mapDelete");
}

// mapNextKey(fd, key | null, keySize) -> Buffer | null at the end
static Napi::Value MapNextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, "mapNextKey");
  MapShape m = ShapeOf(env, fd, "mapNextKey");
  ExpectSize(env, info[2], "mapNextKey", m, "key size", m.keySize);
  return NextKey(env, fd, m, info[1], "mapNextKey");
}

// mapLookupBatch(fd, keySize, valueSize, chunk) -> { keys, values, count }
static Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, "mapLookupBatch");
  MapShape m = ShapeOf(env, fd, "mapLookupBatch");
  ExpectSize(env, info[1], "mapLookupBatch", m, "key size", m.keySize);
  ExpectSize(env, info[2], "mapLookupBatch", m, "value size", m.valueBytes);
  return LookupBatch(env, fd, m, info[3]);
}

// new MapHandle(fd): the map behind fd, through a duplicate fd the handle owns,
// its sizes read once. close() releases the duplicate (the caller's fd stays theirs).
class MapHandle : public Napi::ObjectWrap<MapHandle> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "MapHandle",
                       {
                           InstanceMethod("lookup", &MapHandle::JsLookup),
                           InstanceMethod("take", &MapHandle::JsTake),
                           InstanceMethod("update", &MapHandle::JsUpdate),
                           InstanceMethod("delete", &MapHandle::JsDelete),
                           InstanceMethod("nextKey", &MapHandle::JsNextKey),
                           InstanceMethod("lookupBatch", &MapHandle::JsLookupBatch),
                           InstanceMethod("close", &MapHandle::JsClose),
                           InstanceAccessor("name", &MapHandle::JsName, nullptr),
                           InstanceAccessor("keySize", &MapHandle::JsKeySize, nullptr),
                           InstanceAccessor("valueSize", &MapHandle::JsValueSize, nullptr),
                       });
  }

  explicit MapHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MapHandle>(info) {
    Napi::Env env = info.Env();
    int fd = FdArg(info, "MapHandle");
    shape_ = ShapeOf(env, fd, "MapHandle");
    fd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (fd_ < 0) WEFT_THROW_ERRNO(env, "MapHandle: dup");
  }

  ~MapHandle() override {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int Live(Napi::Env env, const char* fn) {
    if (fd_ < 0) ThrowErrno(env, EBADF, std::string(fn) + ": map '" + shape_.name + "' is closed");
    return fd_;
  }
  Napi::Value JsLookup(const Napi::CallbackInfo& info) {
    return Lookup(info.Env(), Live(info.Env(), "lookup"), shape_, info[0], "lookup");
  }
  Napi::Value JsTake(const Napi::CallbackInfo& info) {
    return Take(info.Env(), Live(info.Env(), "take"), shape_, info[0], "take");
  }
  Napi::Value JsUpdate(const Napi::CallbackInfo& info) {
    Update(info.Env(), Live(info.Env(), "update"), shape_, info[0], info[1], info[2], "update");
    return info.Env().Undefined();
  }
  Napi::Value JsDelete(const Napi::CallbackInfo& info) {
    return Delete(info.Env(), Live(info.Env(), "delete"), shape_, info[0], "delete");
  }
  Napi::Value JsNextKey(const Napi::CallbackInfo& info) {
    return NextKey(info.Env(), Live(info.Env(), "nextKey"), shape_, info[0], "nextKey");
  }
  Napi::Value JsLookupBatch(const Napi::CallbackInfo& info) {
    return LookupBatch(info.Env(), Live(info.Env(), "lookupBatch"), shape_, info[0]);
  }
  Napi::Value JsClose(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }
  Napi::Value JsName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), shape_.name);
  }
  Napi::Value JsKeySize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(shape_.keySize));
  }
  Napi::Value JsValueSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(shape_.valueBytes));
  }

  MapShape shape_;
  int fd_ = -1;
};

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("MapHandle", MapHandle::Init(env));
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
}

}  // namespace weft
