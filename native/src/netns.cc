// Network namespaces, the iproute2 way: a file under /run/netns bind-mounted onto a namespace.
// All switching happens on a libuv pool thread (a thread's network namespace is its own) and the
// thread is always switched back before it returns to the pool; never on the JavaScript thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "common.h"
#include "netns.h"

namespace merak {
namespace {

const char* kRunDir = "/run/netns";

}  // namespace

InsideWork ParseInsideWork(const Napi::Object& o) {
  InsideWork w;
  if (o.Has("sysctls") && o.Get("sysctls").IsArray()) {
    Napi::Array a = o.Get("sysctls").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Array kv = a.Get(i).As<Napi::Array>();
      w.sysctls.emplace_back(kv.Get(0u).ToString().Utf8Value(), kv.Get(1u).ToString().Utf8Value());
    }
  }
  if (o.Has("sockets") && o.Get("sockets").IsArray()) {
    Napi::Array a = o.Get("sockets").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Array s = a.Get(i).As<Napi::Array>();
      w.sockets.push_back({s.Get(0u).ToNumber().Int32Value(), s.Get(1u).ToNumber().Int32Value(),
                           s.Get(2u).ToNumber().Int32Value()});
    }
  }
  if (o.Has("listen") && o.Get("listen").IsObject()) {
    Napi::Object l = o.Get("listen").As<Napi::Object>();
    w.listen_ip = l.Get("ip").ToString().Utf8Value();
    w.listen_port = l.Get("port").ToNumber().Int32Value();
  }
  if (o.Has("namespaceFd")) w.namespace_fd = o.Get("namespaceFd").ToBoolean().Value();
  return w;
}

namespace {

// Makes /run/netns exist and be a shared mount, so namespaces mounted there are seen by every
// mount namespace (what `ip netns add` does). Done once per process.
int EnsureRunDir(SysError* e) {
  static std::mutex mu;
  static bool done = false;
  std::lock_guard<std::mutex> lock(mu);
  if (done) return 0;
  if (mkdir(kRunDir, 0755) != 0 && errno != EEXIST) {
    *e = {errno, "mkdir", kRunDir};
    return -1;
  }
  if (mount("", kRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL) {
      *e = {errno, "mount", kRunDir};
      return -1;
    }
    if (mount(kRunDir, kRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      *e = {errno, "mount", kRunDir};
      return -1;
    }
    if (mount("", kRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
      *e = {errno, "mount", kRunDir};
      return -1;
    }
  }
  done = true;
  return 0;
}

int WriteSysctl(const std::string& key, const std::string& value, SysError* e) {
  std::string path = "/proc/sys/" + key;
  for (size_t i = 10; i < path.size(); i++)
    if (path[i] == '.') path[i] = '/';
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *e = {errno, "open", path};
    return -1;
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n < 0) {
    *e = {err, "write", path};
    return -1;
  }
  return 0;
}

// A listening IPv4 TCP socket on ip:port (SO_REUSEADDR, as servers bind), pushed onto `fds`.
int OpenListener(const std::string& ip, int port, std::vector<int>* fds, SysError* e) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port < 0 || port > 65535 || inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    *e = {EINVAL, "listen", ip + ":" + std::to_string(port)};
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *e = {errno, "socket", ""};
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const char* step = "bind";
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    step = "listen";
    if (listen(fd, 511) == 0) {
      fds->push_back(fd);
      return 0;
    }
  }
  *e = {errno, step, ip + ":" + std::to_string(port)};
  close(fd);
  return -1;
}

// Runs the inside work in the calling thread's current namespace; on failure closes what it opened.
int DoInside(const InsideWork& w, std::vector<int>* fds, SysError* e) {
  for (const auto& kv : w.sysctls)
    if (WriteSysctl(kv.first, kv.second, e) != 0) return -1;
  for (const auto& s : w.sockets) {
    int fd = socket(s.domain, s.type | SOCK_CLOEXEC | SOCK_NONBLOCK, s.protocol);
    if (fd < 0) {
      *e = {errno, "socket", ""};
      for (int f : *fds) close(f);
      fds->clear();
      return -1;
    }
    fds->push_back(fd);
  }
  if (!w.listen_ip.empty() && OpenListener(w.listen_ip, w.listen_port, fds, e) != 0) {
    for (int f : *fds) close(f);
    fds->clear();
    return -1;
  }
  if (w.namespace_fd) {
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *e = {errno, "open", "/proc/thread-self/ns/net"};
      for (int f : *fds) close(f);
      fds->clear();
      return -1;
    }
    fds->push_back(fd);
  }
  return 0;
}

// Switches the thread back; a pool thread left in a foreign namespace would poison later work.
void Restore(int orig) {
  if (setns(orig, CLONE_NEWNET) != 0) {
    perror("merak-native: cannot switch a pool thread back to its network namespace");
    abort();
  }
  close(orig);
}

// The file a namespace is mounted on. `ip netns add` creates a new empty file; here each name is
// a hard link to one unnamed empty inode (O_TMPFILE in /run/netns, kept open by this process),
// which is the same to everyone who looks (the namespace is mounted over it) but allocates no
// inode: on ext4, right after a burst of namespaces was deleted, the inode allocator skips every
// recently freed inode and a new file costs ~0.3 ms instead of ~5 µs; a link costs ~2 µs. (A new
// unnamed inode is needed only once all names of the last one are gone.) Falls back to a new file
// where O_TMPFILE or linking it is not possible. EEXIST as before.
int CreateMountPoint(const std::string& path, SysError* e) {
  static std::mutex mu;
  static int shared = -1;  // the unnamed inode; -2 once known to be unusable here
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 2 && shared != -2; attempt++) {
    if (shared == -1) {
      shared = open(kRunDir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0);
      if (shared < 0) {
        shared = -2;
        break;
      }
    }
    if (linkat(shared, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0) return 0;
    int err = errno;
    if (err == EEXIST) {
      *e = {err, "linkat", path};
      return -1;
    }
    // Start another inode when this one has as many links as the filesystem allows (EMLINK), or
    // lost its last name (ENOENT: an unnamed inode can be linked again only before its first link).
    close(shared);
    shared = err == EMLINK || err == ENOENT ? -1 : -2;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    *e = {errno, "open", path};
    return -1;
  }
  close(fd);
  return 0;
}

}  // namespace

int CreateNamespace(const std::string& name, const InsideWork& work, std::vector<int>* fds, SysError* e) {
  if (EnsureRunDir(e) != 0) return -1;
  std::string path = std::string(kRunDir) + "/" + name;
  if (CreateMountPoint(path, e) != 0) return -1;
  int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig < 0) {
    *e = {errno, "open", "/proc/thread-self/ns/net"};
    unlink(path.c_str());
    return -1;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    *e = {errno, "unshare", path};
    close(orig);
    unlink(path.c_str());
    return -1;
  }
  if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
    *e = {errno, "mount", path};
    Restore(orig);
    unlink(path.c_str());
    return -1;
  }
  int rc = DoInside(work, fds, e);
  Restore(orig);
  if (rc != 0) {
    umount2(path.c_str(), MNT_DETACH);
    unlink(path.c_str());
    return -1;
  }
  return 0;
}

namespace {

// netnsCreate(name, work): equivalent to `ip netns add NAME`, then the inside work.
class CreateWorker : public PromiseWorker {
 public:
  CreateWorker(Napi::Env env, std::string name, InsideWork work)
      : PromiseWorker(env), name_(std::move(name)), work_(std::move(work)) {}

  void Execute() override {
    SysError e;
    if (CreateNamespace(name_, work_, &fds_, &e) != 0) Fail(e.err, e.syscall, e.path);
  }
  Napi::Value Result(Napi::Env env) override { return FdArray(env, fds_); }

 private:
  std::string name_;
  InsideWork work_;
  std::vector<int> fds_;
};

// netnsEnter(path, work): the inside work in an existing namespace (a path to any nsfs file).
class EnterWorker : public PromiseWorker {
 public:
  EnterWorker(Napi::Env env, std::string path, InsideWork work)
      : PromiseWorker(env), path_(std::move(path)), work_(std::move(work)) {}

  void Execute() override {
    int target = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) return Fail(errno, "open", path_);
    int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (orig < 0) {
      int err = errno;
      close(target);
      return Fail(err, "open", "/proc/thread-self/ns/net");
    }
    if (setns(target, CLONE_NEWNET) != 0) {
      int err = errno;
      close(target);
      close(orig);
      return Fail(err, "setns", path_);
    }
    close(target);
    SysError e;
    int rc = DoInside(work_, &fds_, &e);
    Restore(orig);
    if (rc != 0) return Fail(e.err, e.syscall, e.path);
  }
  Napi::Value Result(Napi::Env env) override { return FdArray(env, fds_); }

 private:
  std::string path_;
  InsideWork work_;
  std::vector<int> fds_;
};

// netnsDelete(names): equivalent to `ip netns delete` for each; one pool task for the batch.
// Resolves to one entry per name: null when deleted, else the errno name ("ENOENT").
class DeleteWorker : public PromiseWorker {
 public:
  DeleteWorker(Napi::Env env, std::vector<std::string> names) : PromiseWorker(env), names_(std::move(names)) {}

  void Execute() override {
    results_.resize(names_.size(), 0);
    for (size_t i = 0; i < names_.size(); i++) {
      std::string path = std::string(kRunDir) + "/" + names_[i];
      if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
        results_[i] = errno;
        continue;
      }
      if (unlink(path.c_str()) != 0) results_[i] = errno;
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array a = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      const char* n = results_[i] ? strerrorname_np(results_[i]) : nullptr;
      a.Set(i, results_[i] ? Napi::Value(Napi::String::New(env, n ? n : "UNKNOWN")) : env.Null());
    }
    return a;
  }

 private:
  std::vector<std::string> names_;
  std::vector<int> results_;
};

Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (!ValidName(name)) {
    Napi::TypeError::New(env, "invalid namespace name").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new CreateWorker(env, name, ParseInsideWork(info[1].As<Napi::Object>()));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value NetnsEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* w = new EnterWorker(env, info[0].As<Napi::String>().Utf8Value(), ParseInsideWork(info[1].As<Napi::Object>()));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value NetnsDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<std::string> names;
  for (uint32_t i = 0; i < a.Length(); i++) {
    std::string n = a.Get(i).ToString().Utf8Value();
    if (!ValidName(n)) {
      Napi::TypeError::New(env, "invalid namespace name").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    names.push_back(n);
  }
  auto* w = new DeleteWorker(env, std::move(names));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Value FdArray(Napi::Env env, const std::vector<int>& fds) {
  Napi::Array a = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) a.Set(i, Napi::Number::New(env, fds[i]));
  return a;
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 255 || n == "." || n == "..") return false;
  for (char c : n)
    if (c == '/' || c == '\0') return false;
  return true;
}

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate));
  exports.Set("netnsEnter", Napi::Function::New(env, NetnsEnter));
  exports.Set("netnsDelete", Napi::Function::New(env, NetnsDelete));
}

}  // namespace merak
