// merak-native: only what JavaScript cannot do (see README in this folder).
#include <napi.h>

namespace merak {
void InitNetns(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitLane(Napi::Env env, Napi::Object exports);
}  // namespace merak

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  merak::InitNetns(env, exports);
  merak::InitSocket(env, exports);
  merak::InitLane(env, exports);
  return exports;
}

NODE_API_MODULE(merak_native, Init)
