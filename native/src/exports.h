// Each file registers its functions on the addon's exports.
#pragma once
#include <napi.h>

namespace weft {
void InitMaps(Napi::Env env, Napi::Object exports);
void InitLinks(Napi::Env env, Napi::Object exports);
void InitRingBuffer(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
void InitBtf(Napi::Env env, Napi::Object exports);
void InitRelay(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);
void InitFdPass(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
}  // namespace weft
