// A kernel lane: namespace creations, netlink sends and ethtool ioctls run in the order they were
// queued, one batch at a time on a libuv pool thread. The JS thread never waits in the kernel (an
// rtnetlink request runs inside sendto(), RTNL lock included), and the lane's own requests never
// contend with each other for that lock. Whatever is queued while a batch runs forms the next one.
#include <linux/ethtool.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "common.h"
#include "netns.h"
#include "socket.h"

namespace merak {
namespace {

struct Job {
  enum class Kind { kNetnsCreate, kSend, kEthtool };

  Job(Napi::Env env, Kind k) : kind(k), deferred(Napi::Promise::Deferred::New(env)) {}

  Kind kind;
  Napi::Promise::Deferred deferred;
  // kNetnsCreate
  std::string name;
  InsideWork work;
  // kSend: the socket stays referenced and its fd held until the job settled.
  Socket* socket = nullptr;
  Napi::ObjectReference socket_ref;
  std::vector<uint8_t> data;
  // kSend (the held fd) and kEthtool (the caller's fd, which it keeps open until settled)
  int fd = -1;
  std::string ifname;
  uint32_t cmd = 0;
  uint32_t value = 0;
  // Outcome
  std::vector<int> fds;
  double sent = 0;
  bool failed = false;
  SysError error;
};

void Run(Job* j) {
  switch (j->kind) {
    case Job::Kind::kNetnsCreate:
      if (CreateNamespace(j->name, j->work, &j->fds, &j->error) != 0) j->failed = true;
      return;
    case Job::Kind::kSend: {
      sockaddr_nl to{};
      to.nl_family = AF_NETLINK;  // nl_pid 0: the kernel
      ssize_t n;
      do {
        n = sendto(j->fd, j->data.data(), j->data.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof(to));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        j->failed = true;
        j->error = {errno, "sendto", ""};
      } else {
        j->sent = static_cast<double>(n);
      }
      return;
    }
    case Job::Kind::kEthtool: {
      ethtool_value ev{};
      ev.cmd = j->cmd;
      ev.data = j->value;
      ifreq ifr{};
      memcpy(ifr.ifr_name, j->ifname.c_str(), j->ifname.size());
      ifr.ifr_data = reinterpret_cast<char*>(&ev);
      if (ioctl(j->fd, SIOCETHTOOL, &ifr) != 0) {
        j->failed = true;
        j->error = {errno, "ioctl(SIOCETHTOOL)", j->ifname};
      }
      return;
    }
  }
}

class Lane;

class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, Lane* lane, Napi::Object lane_object, std::vector<std::unique_ptr<Job>> jobs)
      : Napi::AsyncWorker(env), lane_(lane), lane_ref_(Napi::Persistent(lane_object)), jobs_(std::move(jobs)) {}

  void Execute() override {
    for (auto& j : jobs_) Run(j.get());
  }
  void OnOK() override;

 private:
  Lane* lane_;
  Napi::ObjectReference lane_ref_;
  std::vector<std::unique_ptr<Job>> jobs_;
};

class Lane : public Napi::ObjectWrap<Lane> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Lane",
                       {InstanceMethod("netnsCreate", &Lane::NetnsCreate), InstanceMethod("sendTo", &Lane::SendTo),
                        InstanceMethod("ethtoolSetValue", &Lane::EthtoolSetValue)});
  }

  // new Lane(maxBatch): at most maxBatch jobs per pool visit, so results flow back while more run.
  explicit Lane(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Lane>(info) {
    if (info.Length() > 0 && info[0].IsNumber()) max_batch_ = std::max(1u, info[0].As<Napi::Number>().Uint32Value());
  }

  // Called on the JS thread when a batch has settled.
  void Done() {
    running_ = false;
    Kick(Env());
  }

 private:
  Napi::Value Enqueue(Napi::Env env, std::unique_ptr<Job> job) {
    Napi::Promise p = job->deferred.Promise();
    queue_.push_back(std::move(job));
    Kick(env);
    return p;
  }

  void Kick(Napi::Env env) {
    if (running_ || queue_.empty()) return;
    std::vector<std::unique_ptr<Job>> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    running_ = true;
    (new BatchWorker(env, this, Value(), std::move(batch)))->Queue();
  }

  // netnsCreate(name, work) -> Promise<fds>, as the module-level netnsCreate.
  Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto job = std::make_unique<Job>(env, Job::Kind::kNetnsCreate);
    job->name = info[0].As<Napi::String>().Utf8Value();
    if (!ValidName(job->name)) {
      Napi::TypeError::New(env, "invalid namespace name").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    job->work = ParseInsideWork(info[1].As<Napi::Object>());
    return Enqueue(env, std::move(job));
  }

  // sendTo(socket, data) -> Promise<bytes sent>: one datagram to the kernel (netlink port 0).
  Napi::Value SendTo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Socket* socket = info[0].IsObject() ? SocketFromObject(info[0].As<Napi::Object>()) : nullptr;
    if (socket == nullptr) {
      Napi::TypeError::New(env, "sendTo: not a native socket").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto job = std::make_unique<Job>(env, Job::Kind::kSend);
    job->fd = SocketHoldFd(socket);
    if (job->fd < 0) {
      job->deferred.Reject(Napi::Error::New(env, "socket is closed").Value());
      return job->deferred.Promise();
    }
    job->socket = socket;
    job->socket_ref = Napi::Persistent(info[0].As<Napi::Object>());
    Napi::Buffer<uint8_t> data = info[1].As<Napi::Buffer<uint8_t>>();
    job->data.assign(data.Data(), data.Data() + data.Length());
    return Enqueue(env, std::move(job));
  }

  // ethtoolSetValue(fd, ifname, cmd, value) -> Promise<void>; the caller keeps fd open until it settles.
  Napi::Value EthtoolSetValue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto job = std::make_unique<Job>(env, Job::Kind::kEthtool);
    job->fd = info[0].As<Napi::Number>().Int32Value();
    job->ifname = info[1].As<Napi::String>().Utf8Value();
    if (job->ifname.empty() || job->ifname.size() >= IFNAMSIZ) {
      Napi::TypeError::New(env, "invalid interface name").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    job->cmd = info[2].As<Napi::Number>().Uint32Value();
    job->value = info[3].As<Napi::Number>().Uint32Value();
    return Enqueue(env, std::move(job));
  }

  std::deque<std::unique_ptr<Job>> queue_;
  size_t max_batch_ = 32;
  bool running_ = false;
};

void BatchWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  for (auto& j : jobs_) {
    if (j->socket != nullptr) SocketReleaseFd(j->socket);
    if (j->failed) {
      j->deferred.Reject(MakeSysError(env, j->error).Value());
    } else if (j->kind == Job::Kind::kNetnsCreate) {
      j->deferred.Resolve(FdArray(env, j->fds));
    } else if (j->kind == Job::Kind::kSend) {
      j->deferred.Resolve(Napi::Number::New(env, j->sent));
    } else {
      j->deferred.Resolve(env.Undefined());
    }
  }
  lane_->Done();
}

}  // namespace

void InitLane(Napi::Env env, Napi::Object exports) { exports.Set("Lane", Lane::Define(env)); }

}  // namespace merak
