// Sockets inside another network namespace. A socket belongs to the netns it
// was created in for life, so a short-lived thread enters the namespace,
// creates (and binds, and listens) the socket, and hands back the fd. Node's
// own threads never change namespace.
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "errors.h"
#include "exports.h"

namespace weft {

struct SocketSpec {
  std::string netns;
  int family = AF_INET;
  int type = SOCK_STREAM;
  std::string address;
  int port = -1;  // -1: do not bind
  int backlog = -1;  // -1: do not listen
  bool reuseAddr = false;
  bool reusePort = false;
  bool transparent = false;
  bool v6only = false;
  bool bindNoPort = false;  // IP_BIND_ADDRESS_NO_PORT: take the port at connect()
  bool noDelay = false;     // TCP_NODELAY (a listener's accepted sockets inherit it)
  bool abortive = false;    // SO_LINGER {1,0}: closed, it resets (pipe.ts resetIfCut)
};

struct SocketResult {
  int fd = -1;
  int err = 0;
  std::string step;
};

// Enters the netns on the calling thread (a dedicated one: never Node's own).
static SocketResult Enter(const std::string& netns) {
  SocketResult r;
  int ns = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    r.err = errno;
    r.step = "open netns";
    return r;
  }
  if (setns(ns, CLONE_NEWNET) != 0) {
    r.err = errno;
    r.step = "setns";
  }
  close(ns);
  return r;
}

// Makes one socket in the calling thread's netns.
static SocketResult Make(const SocketSpec& s) {
  SocketResult r;
  auto fail = [&](const char* step) {
    r.err = errno;
    r.step = step;
    if (r.fd >= 0) close(r.fd);
    r.fd = -1;
    return r;
  };
  r.fd = socket(s.family, s.type | SOCK_CLOEXEC, 0);
  if (r.fd < 0) return fail("socket");
  int one = 1;
  if (s.reuseAddr && setsockopt(r.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
    return fail("SO_REUSEADDR");
  if (s.reusePort && setsockopt(r.fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
    return fail("SO_REUSEPORT");
  if (s.transparent && setsockopt(r.fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) != 0)
    return fail("IP_TRANSPARENT");
  if (s.bindNoPort && setsockopt(r.fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0)
    return fail("IP_BIND_ADDRESS_NO_PORT");
  if (s.noDelay && setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    return fail("TCP_NODELAY");
  linger abortive{1, 0};
  if (s.abortive && setsockopt(r.fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive)) != 0)
    return fail("SO_LINGER");
  if (s.family == AF_INET6) {
    int v6only = s.v6only ? 1 : 0;
    if (setsockopt(r.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
      return fail("IPV6_V6ONLY");
  }
  if (s.port >= 0) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (s.family == AF_INET) {
      auto* a = reinterpret_cast<struct sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(s.port);
      if (inet_pton(AF_INET, s.address.empty() ? "0.0.0.0" : s.address.c_str(), &a->sin_addr) != 1) {
        errno = EINVAL;
        return fail("parse address");
      }
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<struct sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(s.port);
      if (inet_pton(AF_INET6, s.address.empty() ? "::" : s.address.c_str(), &a->sin6_addr) != 1) {
        errno = EINVAL;
        return fail("parse address");
      }
      len = sizeof(*a);
    }
    if (bind(r.fd, reinterpret_cast<struct sockaddr*>(&ss), len) != 0) return fail("bind");
  }
  if (s.backlog >= 0 && listen(r.fd, s.backlog) != 0) return fail("listen");
  return r;
}

// Runs fn on a fresh thread (which may change netns) and waits for it. A
// thread that cannot be started (pids.max, memory) is a JS error, not an abort.
template <typename Fn>
static void RunOnThread(Napi::Env env, Fn fn) {
  try {
    std::thread t(fn);
    t.join();
  } catch (const std::system_error& e) {
    ThrowErrno(env, e.code().value() ? e.code().value() : EAGAIN, std::string("thread for netns socket: ") + e.what());
  }
}

static SocketSpec Spec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SocketSpec s;
  s.netns = info[0].As<Napi::String>();
  Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  if (o.Has("family") && o.Get("family").As<Napi::Number>().Int32Value() == 6) s.family = AF_INET6;
  if (o.Has("type") && o.Get("type").As<Napi::String>().Utf8Value() == "udp") s.type = SOCK_DGRAM;
  if (o.Has("address")) s.address = o.Get("address").As<Napi::String>();
  if (o.Has("port")) s.port = o.Get("port").As<Napi::Number>().Int32Value();
  if (o.Has("backlog")) s.backlog = o.Get("backlog").As<Napi::Number>().Int32Value();
  s.reuseAddr = o.Has("reuseAddr") && o.Get("reuseAddr").ToBoolean();
  s.reusePort = o.Has("reusePort") && o.Get("reusePort").ToBoolean();
  s.transparent = o.Has("transparent") && o.Get("transparent").ToBoolean();
  s.v6only = o.Has("v6only") && o.Get("v6only").ToBoolean();
  s.bindNoPort = o.Has("bindNoPort") && o.Get("bindNoPort").ToBoolean();
  s.noDelay = o.Has("noDelay") && o.Get("noDelay").ToBoolean();
  s.abortive = o.Has("abortive") && o.Get("abortive").ToBoolean();
  if (s.port > 65535) ThrowErrno(env, EINVAL, "port out of range");
  return s;
}

// netnsSocket(netnsPath, { family: 4|6, type: 'tcp'|'udp', address, port,
//   backlog, reuseAddr, reusePort, transparent, v6only, bindNoPort, noDelay, abortive }) -> fd
static Napi::Value NetnsSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SocketSpec s = Spec(info);
  SocketResult r;
  RunOnThread(env, [&] {
    r = Enter(s.netns);
    if (r.err == 0) r = Make(s);
  });
  if (r.fd < 0) ThrowErrno(env, r.err, "netns socket (" + r.step + ") in " + s.netns);
  return Napi::Number::New(env, r.fd);
}

// netnsSockets(netnsPath, opts, count) -> fd[]: a batch made on one thread that
// enters the netns once, for pools on a proxy's per-connection path.
static Napi::Value NetnsSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SocketSpec s = Spec(info);
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  std::vector<int> fds;
  SocketResult r;
  RunOnThread(env, [&] {
    r = Enter(s.netns);
    for (uint32_t i = 0; r.err == 0 && i < count; i++) {
      r = Make(s);
      if (r.fd >= 0) fds.push_back(r.fd);
    }
  });
  if (r.err != 0) {
    for (int fd : fds) close(fd);
    ThrowErrno(env, r.err, "netns socket (" + r.step + ") in " + s.netns);
  }
  Napi::Array out = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) out.Set(i, fds[i]);
  return out;
}

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsSocket", Napi::Function::New(env, NetnsSocket));
  exports.Set("netnsSockets", Napi::Function::New(env, NetnsSockets));
}

}  // namespace weft
