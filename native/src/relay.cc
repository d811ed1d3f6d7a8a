// A socket-to-socket relay inside the kernel: splice(2) through a pipe per
// direction, driven by one epoll thread, so the bytes of a plain TCP
// connection the proxy has already routed never cross into JavaScript.
// Semantics match proxy/pipe.ts: an end on one side becomes a shutdown(WR) on
// the other while the reverse direction keeps flowing; an error or reset on
// either side resets both (SO_LINGER 0, armed from the start so that a dying
// process resets too); a full pipe stops reading, so a slow
// reader slows its writer. Completions go back to JS through one
// thread-safe function: (id, bytes a→b, bytes b→a, reset).
// A direction holds a pipe only while bytes sit in it: an empty pipe goes back to a
// small pool of spares, so an idle connection costs its two sockets and nothing more,
// and a short one creates no pipe of its own.
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "errors.h"
#include "exports.h"

namespace weft {
namespace {

constexpr size_t kSpliceMax = 1 << 20;
constexpr int kPipeSize = 256 * 1024;
// Empty pipes kept for the next direction that has bytes to move (two fds each).
constexpr size_t kSparePipes = 64;

struct Dir {
  int from = -1;
  int to = -1;
  int pipe[2] = {-1, -1};
  size_t inPipe = 0;
  bool eof = false;   // the reading side sent FIN
  bool shut = false;  // ...and it was passed on as shutdown(SHUT_WR)
  uint64_t bytes = 0;
};

struct Conn {
  uint32_t id;
  int a;
  int b;
  Dir ab;
  Dir ba;
  bool reset = false;
  bool finished = false;
};

// A connection taken out of the relay to move to another process (the agent that takes
// over): its two sockets, its two pipes (with whatever bytes are in them) and its state.
struct Moved {
  uint32_t id;  // this process's id (0 for one being imported)
  int a;
  int b;
  Dir ab;
  Dir ba;
};

struct Done {
  uint32_t id;
  double ab;
  double ba;
  bool reset;
};

// SO_LINGER {1,0} while a connection is live: when the socket is closed, by the relay
// on a reset or by the kernel because the process died, the peer gets RST, never a FIN
// that would make a cut-off transfer look complete. Cleared only for an orderly close.
bool SetAbortive(int fd, bool on) {
  linger l{on ? 1 : 0, 0};
  return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0;
}

class Relay {
 public:
  static Relay& Get() {
    static Relay* r = new Relay();
    return *r;
  }

  void SetCallback(Napi::Env env, Napi::Function cb) {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) throw Napi::Error::New(env, "relay: already started");
    tsfn_ = Napi::ThreadSafeFunction::New(env, cb, "weft-relay", 0, 1);
    // Idle relays must not keep the process alive.
    tsfn_.Unref(env);
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) WEFT_THROW_ERRNO(env, "epoll_create1");
    started_ = true;
    std::thread([this] { Loop(); }).detach();
  }

  // Takes copies of both fds; the caller keeps (and closes) its own.
  uint32_t Add(Napi::Env env, int a, int b) {
    if (!started_) throw Napi::Error::New(env, "relay: not started");
    // The loop handles no event while a connection is half registered: it could
    // otherwise finish and free it between the two ADDs.
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = new Conn();
    c->id = next_.fetch_add(1);
    c->a = fcntl(a, F_DUPFD_CLOEXEC, 0);
    c->b = c->a < 0 ? -1 : fcntl(b, F_DUPFD_CLOEXEC, 0);
    if (c->a < 0 || c->b < 0) {
      int err = errno;
      if (c->a >= 0) close(c->a);
      delete c;
      errno = err;
      WEFT_THROW_ERRNO(env, "dup");
    }
    // No pipe yet (Pump takes one when bytes move), and nothing to set: both sockets are
    // libuv's, non-blocking from their start (dup shares that), and pipe.ts armed their
    // SO_LINGER {1,0} when it joined them.
    c->ab.from = c->a;
    c->ab.to = c->b;
    c->ba.from = c->b;
    c->ba.to = c->a;
    // Edge-triggered: a side already readable (or writable) at ADD is reported at once.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c->a, &ev) != 0 ||
        epoll_ctl(epfd_, EPOLL_CTL_ADD, c->b, &ev) != 0) {
      int err = errno;
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c->a, nullptr);
      Free(c);
      errno = err;
      WEFT_THROW_ERRNO(env, "epoll_ctl");
    }
    live_[c->id] = c;
    return c->id;
  }

  // Takes every live connection out of the relay, fds and all (the caller owns them
  // from here). Nothing is read or written in between: the bytes wait in the sockets'
  // buffers and the pipes, which move with them.
  std::vector<Moved> Export() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Moved> out;
    out.reserve(live_.size());
    for (auto& kv : live_) {
      Conn* c = kv.second;
      // The next agent takes a pipe per direction (the handover sends six fds a connection).
      for (Dir* d : {&c->ab, &c->ba})
        if (d->pipe[0] < 0) TakePipe(*d);
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c->a, nullptr);
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c->b, nullptr);
      out.push_back(Moved{c->id, c->a, c->b, c->ab, c->ba});
      c->a = c->b = -1;
      for (Dir* d : {&c->ab, &c->ba}) d->pipe[0] = d->pipe[1] = -1;
      // An event the loop already holds may still name it: freed after the loop's batch.
      c->finished = true;
      retired_.push_back(c);
    }
    live_.clear();
    return out;
  }

  // Relays a connection another process exported; owns the fds from here.
  uint32_t Import(Napi::Env env, const Moved& m) {
    if (!started_) throw Napi::Error::New(env, "relay: not started");
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = new Conn();
    c->id = next_.fetch_add(1);
    c->a = m.a;
    c->b = m.b;
    c->ab = m.ab;
    c->ba = m.ba;
    c->ab.from = c->a;
    c->ab.to = c->b;
    c->ba.from = c->b;
    c->ba.to = c->a;
    for (int fd : {c->a, c->b}) {
      int fl = fcntl(fd, F_GETFL);
      if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
      SetAbortive(fd, true);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c->a, &ev) != 0 ||
        epoll_ctl(epfd_, EPOLL_CTL_ADD, c->b, &ev) != 0) {
      int err = errno;
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c->a, nullptr);
      Free(c);
      errno = err;
      WEFT_THROW_ERRNO(env, "epoll_ctl");
    }
    live_[c->id] = c;
    return c->id;
  }

  // Resets a live connection now (a revoked one): both sockets closed with RST. The
  // loop may hold an event for it already, so its memory goes after the loop's next batch.
  void Reset(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(id);
    if (it == live_.end()) return;
    Conn* c = it->second;
    c->reset = true;
    Finish(c);
    for (int* fd : {&c->a, &c->b, &c->ab.pipe[0], &c->ab.pipe[1], &c->ba.pipe[0], &c->ba.pipe[1]}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    retired_.push_back(c);
  }

  // Moves what it can in one direction; false on an error that resets the connection.
  // A pipe is taken only for the move and given back once it is empty again.
  bool Pump(Dir& d) {
    bool ok = PumpWithPipe(d);
    if (d.pipe[0] >= 0 && d.inPipe == 0) GivePipe(d);
    return ok;
  }

  bool PumpWithPipe(Dir& d) {
    for (;;) {
      bool progress = false;
      if (!d.eof && d.inPipe < static_cast<size_t>(kPipeSize)) {
        if (d.pipe[0] < 0 && !TakePipe(d)) return false;
        ssize_t n = splice(d.from, nullptr, d.pipe[1], nullptr, kSpliceMax,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
          d.inPipe += static_cast<size_t>(n);
          progress = true;
        } else if (n == 0) {
          d.eof = true;
          progress = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          return false;
        }
      }
      if (d.inPipe > 0) {
        ssize_t m = splice(d.pipe[0], nullptr, d.to, nullptr, d.inPipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (m > 0) {
          d.inPipe -= static_cast<size_t>(m);
          d.bytes += static_cast<uint64_t>(m);
          progress = true;
        } else if (m < 0 && errno != EAGAIN && errno != EINTR) {
          return false;
        }
      }
      if (d.eof && d.inPipe == 0 && !d.shut) {
        shutdown(d.to, SHUT_WR);
        d.shut = true;
      }
      if (!progress) return true;
    }
  }

  // A spare pipe, or a new one (errno set when none can be made).
  bool TakePipe(Dir& d) {
    if (!spare_.empty()) {
      d.pipe[0] = spare_.back().first;
      d.pipe[1] = spare_.back().second;
      spare_.pop_back();
      return true;
    }
    if (pipe2(d.pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
      d.pipe[0] = d.pipe[1] = -1;
      return false;
    }
    // Larger pipes mean fewer wakeups; the default stays if the system says no.
    fcntl(d.pipe[1], F_SETPIPE_SZ, kPipeSize);
    return true;
  }

  // An empty pipe back to the spares (or closed, when there are enough).
  void GivePipe(Dir& d) {
    if (spare_.size() < kSparePipes) {
      spare_.emplace_back(d.pipe[0], d.pipe[1]);
    } else {
      close(d.pipe[0]);
      close(d.pipe[1]);
    }
    d.pipe[0] = d.pipe[1] = -1;
  }

 private:
  static void Free(Conn* c) {
    for (Dir* d : {&c->ab, &c->ba}) {
      if (d->pipe[0] >= 0) close(d->pipe[0]);
      if (d->pipe[1] >= 0) close(d->pipe[1]);
    }
    if (c->a >= 0) close(c->a);
    if (c->b >= 0) close(c->b);
    delete c;
  }

  void Finish(Conn* c) {
    c->finished = true;
    live_.erase(c->id);
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c->a, nullptr);
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c->b, nullptr);
    // A reset stays abortive (RST, as pipe.ts's resetAndDestroy), as both sockets are
    // from their join; both directions ended cleanly: an ordinary close, whose FINs
    // already went out.
    if (!c->reset) {
      SetAbortive(c->a, false);
      SetAbortive(c->b, false);
    }
    auto* done = new Done{c->id, static_cast<double>(c->ab.bytes),
                          static_cast<double>(c->ba.bytes), c->reset};
    napi_status s = tsfn_.NonBlockingCall(done, [](Napi::Env env, Napi::Function cb, Done* d) {
      cb.Call({Napi::Number::New(env, d->id), Napi::Number::New(env, d->ab),
               Napi::Number::New(env, d->ba), Napi::Boolean::New(env, d->reset)});
      delete d;
    });
    if (s != napi_ok) delete done;
  }

  void Loop() {
    std::vector<epoll_event> events(256);
    std::vector<Conn*> finished;
    for (;;) {
      int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; i++) {
        auto* c = static_cast<Conn*>(events[i].data.ptr);
        if (c->finished) continue;
        bool ok = Pump(c->ab) && Pump(c->ba);
        if (!ok) c->reset = true;
        if (!ok || (c->ab.shut && c->ba.shut)) {
          Finish(c);
          finished.push_back(c);
        }
      }
      // Freed after the batch: an event later in it may name the same connection.
      for (Conn* c : finished) Free(c);
      finished.clear();
      for (Conn* c : retired_) Free(c);
      retired_.clear();
    }
  }

  std::mutex mu_;
  bool started_ = false;
  int epfd_ = -1;
  std::atomic<uint32_t> next_{1};
  std::unordered_map<uint32_t, Conn*> live_;
  std::vector<std::pair<int, int>> spare_;
  Napi::ThreadSafeFunction tsfn_;
  std::vector<Conn*> retired_;
};

Napi::Object DirState(Napi::Env env, const Dir& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pipeRead", d.pipe[0]);
  o.Set("pipeWrite", d.pipe[1]);
  o.Set("inPipe", static_cast<double>(d.inPipe));
  o.Set("eof", d.eof);
  o.Set("shut", d.shut);
  o.Set("bytes", static_cast<double>(d.bytes));
  return o;
}

Dir DirFrom(const Napi::Object& o) {
  Dir d;
  d.pipe[0] = o.Get("pipeRead").As<Napi::Number>().Int32Value();
  d.pipe[1] = o.Get("pipeWrite").As<Napi::Number>().Int32Value();
  d.inPipe = static_cast<size_t>(o.Get("inPipe").As<Napi::Number>().Int64Value());
  d.eof = o.Get("eof").ToBoolean();
  d.shut = o.Get("shut").ToBoolean();
  d.bytes = static_cast<uint64_t>(o.Get("bytes").As<Napi::Number>().Int64Value());
  return d;
}

// relayExport() -> [{ a, b, ab, ba }]: every live relay, taken out; the fds are the caller's.
Napi::Value RelayExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Moved> moved = Relay::Get().Export();
  Napi::Array out = Napi::Array::New(env, moved.size());
  for (uint32_t i = 0; i < moved.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", static_cast<double>(moved[i].id));
    o.Set("a", moved[i].a);
    o.Set("b", moved[i].b);
    o.Set("ab", DirState(env, moved[i].ab));
    o.Set("ba", DirState(env, moved[i].ba));
    out.Set(i, o);
  }
  return out;
}

// relayImport({ a, b, ab, ba }) -> id: relays what relayExport gave (the fds become the relay's).
Napi::Value RelayImport(const Napi::CallbackInfo& info) {
  Napi::Object o = info[0].As<Napi::Object>();
  Moved m{0, o.Get("a").As<Napi::Number>().Int32Value(), o.Get("b").As<Napi::Number>().Int32Value(),
          DirFrom(o.Get("ab").As<Napi::Object>()), DirFrom(o.Get("ba").As<Napi::Object>())};
  return Napi::Number::New(info.Env(), Relay::Get().Import(info.Env(), m));
}

// relayStart(callback): callback(id, bytesAtoB, bytesBtoA, reset) per finished relay.
Napi::Value RelayStart(const Napi::CallbackInfo& info) {
  Relay::Get().SetCallback(info.Env(), info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// relayAdd(fdA, fdB) → id. Both fds are duplicated; the caller closes its own.
Napi::Value RelayAdd(const Napi::CallbackInfo& info) {
  int a = info[0].As<Napi::Number>().Int32Value();
  int b = info[1].As<Napi::Number>().Int32Value();
  return Napi::Number::New(info.Env(), Relay::Get().Add(info.Env(), a, b));
}

// relayReset(id): resets a live relay (both sides RST); its callback follows.
Napi::Value RelayReset(const Napi::CallbackInfo& info) {
  Relay::Get().Reset(info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

// socketAbortive(fd, on): SO_LINGER {1,0} (on) or off, for sockets JavaScript joins.
Napi::Value SocketAbortive(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (!SetAbortive(fd, info[1].As<Napi::Boolean>().Value()))
    WEFT_THROW_ERRNO(info.Env(), "setsockopt(SO_LINGER)");
  return info.Env().Undefined();
}

}  // namespace

void InitRelay(Napi::Env env, Napi::Object exports) {
  exports.Set("relayStart", Napi::Function::New(env, RelayStart));
  exports.Set("relayAdd", Napi::Function::New(env, RelayAdd));
  exports.Set("relayExport", Napi::Function::New(env, RelayExport));
  exports.Set("relayImport", Napi::Function::New(env, RelayImport));
  exports.Set("relayReset", Napi::Function::New(env, RelayReset));
  exports.Set("socketAbortive", Napi::Function::New(env, SocketAbortive));
}

}  // namespace weft
