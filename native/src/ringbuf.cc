// RingBuffer: a BPF ring buffer consumed on Node's own event loop. libuv polls
// the ring's epoll fd; when it is readable, every pending record is copied into
// a Buffer and handed to the JS callback, all without blocking the loop.
#include <bpf/libbpf.h>
#include <errno.h>
#include <napi.h>
#include <uv.h>

#include <vector>

#include "errors.h"
#include "exports.h"
#include "libbpf_log.h"

namespace weft {

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {
                           InstanceMethod("close", &RingBuffer::Close),
                           InstanceMethod("ref", &RingBuffer::DoRef),
                           InstanceMethod("unref", &RingBuffer::DoUnref),
                           InstanceMethod("consume", &RingBuffer::Consume),
                       });
  }

  // new RingBuffer(mapFd, (records: Buffer[]) => void)
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    LibbpfCapture capture;
    rb_ = ring_buffer__new(fd, &RingBuffer::OnSample, this, nullptr);
    if (!rb_) {
      int e = errno;
      ThrowErrno(env, e, "ring_buffer__new", capture.text());
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    int rc = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnPoll);
    if (rc != 0) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
      delete poll_;
      poll_ = nullptr;
      ThrowErrno(env, -rc, "uv_poll_start");
    }
    Ref();  // while polling, the wrapper must not be collected
  }

  ~RingBuffer() override { Shutdown(); }

 private:
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    self->pending_.emplace_back(p, p + size);
    return 0;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    if (!self || !self->rb_) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // A throwing JS listener must not unwind through libuv: hand the error to
    // Node's uncaught-exception machinery instead.
    try {
      self->Drain(env);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  // Copies out every pending record, then makes one JS call for the batch.
  size_t Drain(Napi::Env env) {
    int n = ring_buffer__consume(rb_);
    if (pending_.empty()) return n < 0 ? 0 : 0;
    Napi::Array records = Napi::Array::New(env, pending_.size());
    for (size_t i = 0; i < pending_.size(); i++)
      records.Set(i, Napi::Buffer<uint8_t>::Copy(env, pending_[i].data(), pending_[i].size()));
    size_t count = pending_.size();
    pending_.clear();
    callback_.MakeCallback(Value(), {records});
    return count;
  }

  Napi::Value Consume(const Napi::CallbackInfo& info) {
    if (!rb_) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(Drain(info.Env())));
  }

  Napi::Value DoRef(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value DoUnref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (rb_) {
      Shutdown();
      Unref();
    }
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (poll_) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
  }

  struct ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::vector<std::vector<uint8_t>> pending_;
};

void InitRingBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("RingBuffer", RingBuffer::Init(env));
}

}  // namespace weft
