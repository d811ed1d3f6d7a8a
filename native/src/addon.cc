// weft_native: the one addon through which TypeScript drives libbpf and the
// kernel. Every function throws a JS Error with errno and code on failure.
#include <napi.h>

#include "exports.h"
#include "libbpf_log.h"
#include "object.h"

namespace weft {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogger();
  exports.Set("BpfObject", BpfObject::Init(env));
  InitMaps(env, exports);
  InitLinks(env, exports);
  InitRingBuffer(env, exports);
  InitNetns(env, exports);
  InitBtf(env, exports);
  InitRelay(env, exports);
  InitProbe(env, exports);
  InitFdPass(env, exports);
  InitMemory(env, exports);
  return exports;
}

}  // namespace weft

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return weft::Init(env, exports);
}

NODE_API_MODULE(weft_native, InitAddon)
