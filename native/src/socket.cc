// A datagram socket (netlink, raw ICMP) driven by the libuv loop: readable -> drain with
// recvfrom(MSG_DONTWAIT) -> one JS callback per drain with every datagram read. Sends are
// synchronous and non-blocking here, or queued on a kernel lane (lane.cc), which holds the fd
// open until they are done.
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "common.h"
#include "socket.h"

namespace merak {

const napi_type_tag kSocketTypeTag = {0x6d6572616b736f63ULL, 0x6b65742d7461672aULL};

namespace {

constexpr size_t kRecvBuffer = 1 << 20;

// The poll handle lives apart from the JS object: libuv frees it in its close callback, which may
// run after the wrapper is collected.
struct PollState {
  uv_poll_t handle;
  int fd;
  Socket* owner;
};

}  // namespace

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Socket",
                       {InstanceMethod("sendTo", &Socket::SendTo), InstanceMethod("setsockopt", &Socket::SetSockOpt),
                        InstanceMethod("bindNetlink", &Socket::BindNetlink), InstanceMethod("ref", &Socket::Ref),
                        InstanceMethod("unref", &Socket::Unref), InstanceMethod("close", &Socket::Close)});
  }

  // new Socket(fd, onMessages(buffers, senders), onError(err)); takes ownership of fd.
  explicit Socket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Socket>(info) {
    Napi::Env env = info.Env();
    fd_ = info[0].As<Napi::Number>().Int32Value();
    on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    state_ = new PollState{};
    state_->fd = fd_;
    state_->owner = this;
    state_->handle.data = state_;
    int rc = uv_poll_init(loop, &state_->handle, fd_);
    if (rc != 0) {
      delete state_;
      state_ = nullptr;
      Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    uv_poll_start(&state_->handle, UV_READABLE, OnReadable);
    info.This().As<Napi::Object>().TypeTag(&kSocketTypeTag);
    // Keep the wrapper alive while it is polled; released by close().
    self_ref_ = Napi::Persistent(info.This().As<Napi::Object>());
  }

  ~Socket() override { Shutdown(); }

  // The fd for a send queued elsewhere; close() leaves it open until every hold is released, so
  // the number cannot be reused by another open() while a send is pending. -1 once closed.
  int HoldFd() {
    if (fd_ < 0) return -1;
    holds_++;
    return fd_;
  }
  void ReleaseFd() {
    if (--holds_ == 0 && deferred_fd_ >= 0) {
      close(deferred_fd_);
      deferred_fd_ = -1;
    }
  }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* st = static_cast<PollState*>(handle->data);
    if (st->owner) st->owner->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = on_message_.Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      on_error_.MakeCallback(env.Global(), {MakeSysError(env, SysError{-status, "poll", ""}).Value()});
      return;
    }
    static std::vector<uint8_t> buf(kRecvBuffer);
    Napi::Array messages = Napi::Array::New(env);
    Napi::Array senders = Napi::Array::New(env);
    uint32_t count = 0;
    for (int i = 0; i < 4096 && fd_ >= 0; i++) {
      sockaddr_storage from{};
      socklen_t fromlen = sizeof(from);
      ssize_t n = recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fromlen);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        // ENOBUFS on netlink: the kernel dropped messages; the caller must resynchronise.
        on_error_.MakeCallback(env.Global(), {MakeSysError(env, SysError{errno, "recvfrom", ""}).Value()});
        continue;
      }
      Napi::Value addr = env.Null();
      if (from.ss_family == AF_INET) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&from)->sin_addr, text, sizeof(text));
        addr = Napi::String::New(env, text);
      } else if (from.ss_family == AF_NETLINK) {
        addr = Napi::Number::New(env, reinterpret_cast<sockaddr_nl*>(&from)->nl_pid);
      }
      messages.Set(count, Napi::Buffer<uint8_t>::Copy(env, buf.data(), n));
      senders.Set(count, addr);
      count++;
    }
    // One MakeCallback per drain, so promise jobs queued by the handler run right after it.
    if (count > 0) on_message_.MakeCallback(env.Global(), {messages, senders});
  }

  bool CheckOpen(Napi::Env env) {
    if (fd_ >= 0) return true;
    Napi::Error::New(env, "socket is closed").ThrowAsJavaScriptException();
    return false;
  }

  // sendTo(buf, to): to is a netlink port id (number; 0 = kernel) or an IPv4 address (string).
  Napi::Value SendTo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    sockaddr_storage to{};
    socklen_t tolen = 0;
    if (info[1].IsNumber()) {
      auto* nl = reinterpret_cast<sockaddr_nl*>(&to);
      nl->nl_family = AF_NETLINK;
      nl->nl_pid = info[1].As<Napi::Number>().Uint32Value();
      tolen = sizeof(sockaddr_nl);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&to);
      in->sin_family = AF_INET;
      std::string ip = info[1].As<Napi::String>().Utf8Value();
      if (inet_pton(AF_INET, ip.c_str(), &in->sin_addr) != 1) {
        Napi::TypeError::New(env, "sendTo: not an IPv4 address: " + ip).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      tolen = sizeof(sockaddr_in);
    }
    ssize_t n;
    do {
      n = sendto(fd_, data.Data(), data.Length(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), tolen);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      MakeSysError(env, SysError{errno, "sendto", ""}).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, static_cast<double>(n));
  }

  // setsockopt(level, name, intValue)
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int name = info[1].As<Napi::Number>().Int32Value();
    int value = info[2].As<Napi::Number>().Int32Value();
    if (setsockopt(fd_, level, name, &value, sizeof(value)) != 0)
      MakeSysError(env, SysError{errno, "setsockopt", ""}).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // bindNetlink(groups) -> the port id the kernel assigned.
  Napi::Value BindNetlink(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = info[0].As<Napi::Number>().Uint32Value();
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      MakeSysError(env, SysError{errno, "bind", ""}).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    socklen_t len = sizeof(addr);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      MakeSysError(env, SysError{errno, "getsockname", ""}).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, addr.nl_pid);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (state_) uv_ref(reinterpret_cast<uv_handle_t*>(&state_->handle));
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (state_) uv_unref(reinterpret_cast<uv_handle_t*>(&state_->handle));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    if (!self_ref_.IsEmpty()) self_ref_.Reset();
    return info.Env().Undefined();
  }

  void Shutdown() {
    // With sends still holding the fd, polling stops now and the fd closes on the last release.
    int to_close = fd_;
    if (holds_ > 0 && fd_ >= 0) {
      deferred_fd_ = fd_;
      to_close = -1;
    }
    if (state_) {
      state_->owner = nullptr;
      state_->fd = to_close;
      uv_poll_stop(&state_->handle);
      uv_close(reinterpret_cast<uv_handle_t*>(&state_->handle), [](uv_handle_t* h) {
        auto* st = static_cast<PollState*>(h->data);
        if (st->fd >= 0) close(st->fd);
        delete st;
      });
      state_ = nullptr;
    } else if (to_close >= 0) {
      close(to_close);
    }
    fd_ = -1;
  }

  int fd_ = -1;
  int holds_ = 0;
  int deferred_fd_ = -1;
  PollState* state_ = nullptr;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
  Napi::ObjectReference self_ref_;
};

namespace {

// ethtoolSetValue(fd, ifname, cmd, value): SIOCETHTOOL with a struct ethtool_value on any socket
// fd, in that socket's namespace (e.g. ETHTOOL_STXCSUM = 0x17 switches tx checksum offload, like
// `ethtool -K IF tx`). Synchronous: one ioctl.
Napi::Value EthtoolSetValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string ifname = info[1].As<Napi::String>().Utf8Value();
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    Napi::TypeError::New(env, "invalid interface name").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ethtool_value ev{};
  ev.cmd = info[2].As<Napi::Number>().Uint32Value();
  ev.data = info[3].As<Napi::Number>().Uint32Value();
  ifreq ifr{};
  memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  if (ioctl(fd, SIOCETHTOOL, &ifr) != 0)
    MakeSysError(env, SysError{errno, "ioctl(SIOCETHTOOL)", ifname}).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

Socket* SocketFromObject(Napi::Object o) { return o.CheckTypeTag(&kSocketTypeTag) ? Socket::Unwrap(o) : nullptr; }
int SocketHoldFd(Socket* s) { return s->HoldFd(); }
void SocketReleaseFd(Socket* s) { s->ReleaseFd(); }

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("Socket", Socket::Define(env));
  exports.Set("ethtoolSetValue", Napi::Function::New(env, EthtoolSetValue));
}

}  // namespace merak
