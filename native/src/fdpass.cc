// Passing file descriptors between two unrelated processes (an agent and the
// one that takes over from it): a unix SOCK_SEQPACKET socket, one message per
// sendmsg(2), the fds in an SCM_RIGHTS control message. Node cannot do this
// itself outside its own child processes' IPC channels. Every socket here is
// non-blocking; calls that would block return null (JS retries on its loop).
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errors.h"
#include "exports.h"

namespace weft {
namespace {

// Fds one message carries at most (the kernel's own limit, SCM_MAX_FD, is 253).
constexpr size_t kMaxFds = 64;
// Bytes one message carries at most.
constexpr size_t kMaxBytes = 64 * 1024;

bool Address(const std::string& path, sockaddr_un* a) {
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  if (path.size() + 1 > sizeof(a->sun_path)) return false;
  memcpy(a->sun_path, path.data(), path.size());
  return true;
}

// fdListen(path) -> fd: a listening SOCK_SEQPACKET socket at path, mode 0600 before it
// accepts anyone (connect() fails until listen()).
Napi::Value FdListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  sockaddr_un a;
  if (!Address(path, &a)) ThrowErrno(env, ENAMETOOLONG, "handover socket path " + path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) WEFT_THROW_ERRNO(env, "socket(AF_UNIX)");
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      chmod(path.c_str(), 0600) != 0 || listen(fd, 4) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    ThrowErrno(env, err, "handover socket " + path);
  }
  return Napi::Number::New(env, fd);
}

// fdAccept(listenFd) -> { fd, pid, uid } | null (nobody waiting).
Napi::Value FdAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int lfd = info[0].As<Napi::Number>().Int32Value();
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR) return env.Null();
    WEFT_THROW_ERRNO(env, "accept(handover)");
  }
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "SO_PEERCRED");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", fd);
  o.Set("pid", static_cast<double>(cred.pid));
  o.Set("uid", static_cast<double>(cred.uid));
  return o;
}

// fdConnect(path) -> fd, connected and non-blocking.
Napi::Value FdConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  sockaddr_un a;
  if (!Address(path, &a)) ThrowErrno(env, ENAMETOOLONG, "handover socket path " + path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) WEFT_THROW_ERRNO(env, "socket(AF_UNIX)");
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "connect " + path);
  }
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  return Napi::Number::New(env, fd);
}

// fdSend(fd, data: Buffer, fds: number[]) -> true, or false when the socket is full.
// The fds stay the caller's (the kernel passes duplicates).
Napi::Value FdSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto data = info[1].As<Napi::Buffer<char>>();
  Napi::Array arr = info[2].As<Napi::Array>();
  if (arr.Length() > kMaxFds)
    ThrowErrno(env, EINVAL, "fdSend: " + std::to_string(arr.Length()) + " fds, at most " +
                                std::to_string(kMaxFds) + " per message");
  if (data.Length() > kMaxBytes || data.Length() == 0)
    ThrowErrno(env, EMSGSIZE, "fdSend: message of " + std::to_string(data.Length()) +
                                  " bytes (1 to " + std::to_string(kMaxBytes) + ")");
  std::vector<int> fds(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++)
    fds[i] = arr.Get(i).As<Napi::Number>().Int32Value();
  iovec iov{data.Data(), data.Length()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return Napi::Boolean::New(env, true);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Napi::Boolean::New(env, false);
    WEFT_THROW_ERRNO(env, "sendmsg(SCM_RIGHTS)");
  }
}

// fdRecv(fd) -> { data: Buffer, fds: number[] } | null (nothing yet); data empty at EOF.
// The fds received are the caller's (close-on-exec).
Napi::Value FdRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::vector<char> buf(kMaxBytes);
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  for (;;) {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return env.Null();
    WEFT_THROW_ERRNO(env, "recvmsg(SCM_RIGHTS)");
  }
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int* p = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (size_t i = 0; i < count; i++) fds.push_back(p[i]);
  }
  if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
    // A message larger than the bounds: its fds are not kept half-way.
    for (int f : fds) close(f);
    ThrowErrno(env, EMSGSIZE, "recvmsg(SCM_RIGHTS): message over " + std::to_string(kMaxBytes) +
                                  " bytes or " + std::to_string(kMaxFds) + " fds");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(n)));
  Napi::Array arr = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) arr.Set(i, fds[i]);
  o.Set("fds", arr);
  return o;
}

}  // namespace

void InitFdPass(Napi::Env env, Napi::Object exports) {
  exports.Set("fdListen", Napi::Function::New(env, FdListen));
  exports.Set("fdAccept", Napi::Function::New(env, FdAccept));
  exports.Set("fdConnect", Napi::Function::New(env, FdConnect));
  exports.Set("fdSend", Napi::Function::New(env, FdSend));
  exports.Set("fdRecv", Napi::Function::New(env, FdRecv));
  exports.Set("fdMaxPerMessage", Napi::Number::New(env, kMaxFds));
}

}  // namespace weft
