// One Dimba forward pass from JS, for tools and tests that work below the pipeline:
//   loadDimba(configPath, weightsPath, {weights?: 'f32'|'bf16'|'f16',
//                                       backend?: 'auto'|'cpu'|'vulkan'|'cuda'}) -> Promise<handle>
//     handle: {inChannels, outChannels, captionChannels, patchSize, backend, backendReason};
//     a backend that is not available rejects with E_BACKEND_UNAVAILABLE
//   dimbaForward(handle, {x, t, y, mask?, batch, height, width, textLength})
//     -> Promise<Float32Array>  out [B, out_channels, H, W]
// x [B, in, H, W], t [B], y [B, 1, L, caption_channels] are Float32Arrays; mask [B, L] (1 keeps
// a token; the first sum(mask_b) tokens are kept, MODEL.md 2.6). Loading and the forward run
// on the libuv pool; a model runs one forward at a time (its activation arena is not
// reentrant), so calls on one handle queue on its mutex.
// defines: register_dimba_exports
#include "addon/dimba_bindings.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "addon/async_work.h"
#include "addon/backend_bindings.h"
#include "backend/select.h"
#include "io/json.h"
#include "models/dimba.h"

namespace dimba_addon {
namespace {

const napi_type_tag kDimbaTag = {0x3f6b2d91c4e85a07ull, 0xb1c07e5d2a9f4683ull};

struct DimbaRef {
  DimbaRef(dimba::DimbaModel m, const dimba::BackendChoice& be)
      : model(std::move(m)), backend(be.backend->name), backend_reason(be.reason) {}
  dimba::DimbaModel model;
  std::string backend, backend_reason;
  std::mutex busy;
};

dimba::DType weight_dtype(Napi::Env env, const Napi::Value& options) {
  if (options.IsUndefined()) return dimba::DType::F32;
  if (!options.IsObject()) throw_invalid(env, "loadDimba: options must be an object");
  Napi::Value w = options.As<Napi::Object>().Get("weights");
  if (w.IsUndefined()) return dimba::DType::F32;
  std::string s = w.IsString() ? std::string(w.As<Napi::String>()) : "";
  if (s == "f32") return dimba::DType::F32;
  if (s == "bf16") return dimba::DType::BF16;
  if (s == "f16") return dimba::DType::F16;
  throw_invalid(env, "loadDimba: weights must be 'f32', 'bf16' or 'f16'");
}

Napi::Value LoadDimba(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw_invalid(env, "loadDimba(configPath, weightsPath, options?) needs two path strings");
  std::string config = info[0].As<Napi::String>(), weights = info[1].As<Napi::String>();
  dimba::DType dtype = weight_dtype(env, info.Length() > 2 ? info[2] : env.Undefined());
  const std::string backend =
      info.Length() > 2 && info[2].IsObject() ? backend_option(env, info[2].As<Napi::Object>(), "loadDimba") : "auto";
  return PromiseWorker<std::shared_ptr<DimbaRef>>::start(
      env,
      [=] {
        auto cfg = dimba::DimbaConfig::from_json(
            dimba::parse_json_untrusted(dimba::read_text_file(config), config));
        const dimba::BackendChoice be = dimba::choose_backend(backend);
        return std::make_shared<DimbaRef>(dimba::DimbaModel::load_file(weights, cfg, dtype, *be.backend), be);
      },
      [](Napi::Env env, std::shared_ptr<DimbaRef>& ref) -> Napi::Value {
        auto* held = new std::shared_ptr<DimbaRef>(ref);
        auto ext = Napi::External<std::shared_ptr<DimbaRef>>::New(
            env, held, [](Napi::Env, std::shared_ptr<DimbaRef>* p) { delete p; });
        ext.TypeTag(&kDimbaTag);
        const dimba::DimbaConfig& c = ref->model.config();
        Napi::Object handle = Napi::Object::New(env);
        handle.DefineProperty(Napi::PropertyDescriptor::Value("native", ext, napi_default));
        handle.Set("inChannels", c.in_channels);
        handle.Set("outChannels", c.out_channels);
        handle.Set("captionChannels", c.caption_channels);
        handle.Set("patchSize", c.patch_size);
        handle.Set("backend", ref->backend);
        handle.Set("backendReason", ref->backend_reason);
        return handle;
      });
}

// A Float32Array field of `o` holding exactly `n` values, copied (the forward runs later, on
// another thread, while JS may reuse its buffers).
std::vector<float> floats(Napi::Env env, const Napi::Object& o, const char* key, size_t n) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(env, std::string("dimbaForward: ") + key + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (a.ElementLength() != n)
    throw_invalid(env, std::string("dimbaForward: ") + key + " holds " + std::to_string(a.ElementLength()) +
                           " values, the sizes need " + std::to_string(n));
  return std::vector<float>(a.Data(), a.Data() + n);
}

int positive(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 1 && d <= 1 << 20) || d != double(int(d)))
    throw_invalid(env, std::string("dimbaForward: ") + key + " must be a positive integer");
  return int(d);
}

Napi::Value DimbaForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject())
    throw_invalid(env, "dimbaForward(handle, inputs) needs a handle from loadDimba and an inputs object");
  Napi::Value n = info[0].As<Napi::Object>().Get("native");
  if (!n.IsExternal() || !n.As<Napi::External<void>>().CheckTypeTag(&kDimbaTag))
    throw_invalid(env, "dimbaForward: the first argument is not a handle from loadDimba");
  std::shared_ptr<DimbaRef> ref = *n.As<Napi::External<std::shared_ptr<DimbaRef>>>().Data();
  const dimba::DimbaConfig& c = ref->model.config();
  Napi::Object in = info[1].As<Napi::Object>();
  const int B = positive(env, in, "batch"), H = positive(env, in, "height"), W = positive(env, in, "width"),
            L = positive(env, in, "textLength");
  std::vector<float> x = floats(env, in, "x", size_t(B) * c.in_channels * H * W);
  std::vector<float> t = floats(env, in, "t", size_t(B));
  std::vector<float> y = floats(env, in, "y", size_t(B) * L * c.caption_channels);
  std::vector<int> lens;
  if (!in.Get("mask").IsUndefined()) {
    std::vector<float> mask = floats(env, in, "mask", size_t(B) * L);
    for (int b = 0; b < B; ++b) {
      int len = 0;
      for (int i = 0; i < L; ++i) len += mask[size_t(b) * L + i] != 0.f;
      lens.push_back(len);
    }
  }
  return PromiseWorker<std::vector<float>>::start(
      env,
      [=]() {
        std::vector<float> out(size_t(B) * c.out_channels * H * W);
        std::lock_guard<std::mutex> lock(ref->busy);
        ref->model.forward(out.data(), x.data(), t.data(), y.data(), lens.empty() ? nullptr : lens.data(), B, H, W,
                           L);
        return out;
      },
      [](Napi::Env env, std::vector<float>& out) -> Napi::Value {
        Napi::Float32Array a = Napi::Float32Array::New(env, out.size());
        std::copy(out.begin(), out.end(), a.Data());
        return a;
      });
}

}  // namespace

void register_dimba_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("loadDimba", Napi::Function::New(env, LoadDimba));
  exports.Set("dimbaForward", Napi::Function::New(env, DimbaForward));
}

}  // namespace dimba_addon
