// The C allocator's free memory handed back to the kernel. glibc keeps what
// the process freed (TLS records, HTTP/2 frames, socket buffers of past
// connections) in its arenas, fragmented, and returns only a free top of the
// main heap on its own: after a burst of connections the agent stays as large
// as at its peak. malloc_trim(0) releases every free page of every arena.
//   mallocTrim() -> bool  whether any memory was released (false off glibc)
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "exports.h"

namespace weft {

static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
}

}  // namespace weft
