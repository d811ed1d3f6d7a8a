// Map operations on fds: lookup, update, delete, next key and batch dump.
// Keys and values are Buffers whose layout the TS side owns (layout.ts).
#include <bpf/bpf.h>
#include <errno.h>
#include <napi.h>

#include <vector>

#include "errors.h"
#include "exports.h"

namespace weft {

static int Fd(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

static Napi::Buffer<uint8_t> Buf(const Napi::Value& v) { return v.As<Napi::Buffer<uint8_t>>(); }

// mapLookup(fd, key, valueSize) -> Buffer | null
static Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto key = Buf(info[1]);
  uint32_t valueSize = info[2].As<Napi::Number>().Uint32Value();
  auto value = Napi::Buffer<uint8_t>::New(env, valueSize);
  if (bpf_map_lookup_elem(Fd(info[0]), key.Data(), value.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    WEFT_THROW_ERRNO(env, "bpf_map_lookup_elem");
  }
  return value;
}

// mapUpdate(fd, key, value, flags)
static Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t flags = info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : uint64_t(BPF_ANY);
  if (bpf_map_update_elem(Fd(info[0]), Buf(info[1]).Data(), Buf(info[2]).Data(), flags) != 0)
    WEFT_THROW_ERRNO(env, "bpf_map_update_elem");
  return env.Undefined();
}

// mapDelete(fd, key) -> whether an entry was there
static Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (bpf_map_delete_elem(Fd(info[0]), Buf(info[1]).Data()) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    WEFT_THROW_ERRNO(env, "bpf_map_delete_elem");
  }
  return Napi::Boolean::New(env, true);
}

// mapNextKey(fd, key | null, keySize) -> Buffer | null at the end
static Napi::Value MapNextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t keySize = info[2].As<Napi::Number>().Uint32Value();
  auto next = Napi::Buffer<uint8_t>::New(env, keySize);
  const void* cur = info[1].IsBuffer() ? Buf(info[1]).Data() : nullptr;
  if (bpf_map_get_next_key(Fd(info[0]), cur, next.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    WEFT_THROW_ERRNO(env, "bpf_map_get_next_key");
  }
  return next;
}

// mapLookupBatch(fd, keySize, valueSize, chunk) -> { keys, values, count }:
// the whole map in few syscalls. Throws EINVAL/ENOTSUP where the map type has
// no batch support; the caller falls back to next-key iteration.
static Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info[0]);
  uint32_t keySize = info[1].As<Napi::Number>().Uint32Value();
  uint32_t valueSize = info[2].As<Napi::Number>().Uint32Value();
  uint32_t chunk = info[3].As<Napi::Number>().Uint32Value();
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

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
}

}  // namespace weft
