// The C allocator's free memory handed back to the kernel. glibc keeps what
// the process freed (TLS records, HTTP/2 frames, socket buffers of past
// connections) in its arenas, fragmented, and returns only a free top of the
// main heap on its own: after a burst of connections the agent stays as large
// as at its peak. malloc_trim(0) releases every free page of every arena.
//   mallocTrim() -> Promise<bool>  whether any memory was released (false off glibc)
//   mallocFreeBytes() -> number    bytes in the arenas' free chunks (0 off glibc)
// It runs on libuv's thread pool: with 300 MiB freed in 16 KiB pieces it takes a
// quarter of a second (an madvise per free run), which the event loop must not wait
// for. glibc locks one arena at a time while trimming it, so an allocation meanwhile
// waits at most for that arena's share.
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "exports.h"

namespace weft {

class TrimWorker : public Napi::AsyncWorker {
 public:
  explicit TrimWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "weft:mallocTrim"), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
#if defined(__GLIBC__)
    released_ = malloc_trim(0) == 1;
#endif
  }

  void OnOK() override { deferred_.Resolve(Napi::Boolean::New(Env(), released_)); }

 private:
  Napi::Promise::Deferred deferred_;
  bool released_ = false;
};

// Bytes in free chunks of every arena (mallinfo2's fordblks, glibc 2.33 and later; 0
// elsewhere). Trimmed chunks stay free, so this grows when the process frees more, not
// when a trim returns pages: the agent trims when it grew since the last trim.
static Napi::Value MallocFreeBytes(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return Napi::Number::New(info.Env(), static_cast<double>(mallinfo2().fordblks));
#else
  return Napi::Number::New(info.Env(), 0);
#endif
}

static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  auto* w = new TrimWorker(info.Env());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("mallocFreeBytes", Napi::Function::New(env, MallocFreeBytes, "mallocFreeBytes"));
}

}  // namespace weft
