// Shared helpers: errno-carrying errors and a promise-based worker base.
#pragma once
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace merak {

// A failed syscall: what was called, on what, and the errno.
struct SysError {
  int err = 0;
  std::string syscall;
  std::string path;
};

// Builds a JS Error with .code ("EEXIST"), .errno, .syscall and .path, like Node's fs errors.
inline Napi::Error MakeSysError(Napi::Env env, const SysError& e) {
  const char* name = strerrorname_np(e.err);
  std::string code = name ? name : "UNKNOWN";
  std::string msg = code + ": " + strerror(e.err) + ", " + e.syscall;
  if (!e.path.empty()) msg += " '" + e.path + "'";
  Napi::Error error = Napi::Error::New(env, msg);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, e.err));
  error.Set("syscall", Napi::String::New(env, e.syscall));
  if (!e.path.empty()) error.Set("path", Napi::String::New(env, e.path));
  return error;
}

// An AsyncWorker that settles a promise; subclasses fill `failure` or override Resolve.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Fail(int err, const std::string& syscall, const std::string& path = "") {
    failed_ = true;
    failure_ = SysError{err, syscall, path};
  }
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (failed_) {
      deferred_.Reject(MakeSysError(Env(), failure_).Value());
    } else {
      deferred_.Resolve(Result(Env()));
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  bool failed_ = false;
  SysError failure_;
};

}  // namespace merak
