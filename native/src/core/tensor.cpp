// Tensor allocation and float-format conversion (see tensor.h).
#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

namespace dimba {

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw EngineError(ErrorCode::InvalidArgument, "negative dim in shape " + shape_str(shape));
    if (d != 0 && n > (int64_t(1) << 62) / d)
      throw EngineError(ErrorCode::InvalidArgument, "shape too large: " + shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::shared_ptr<void> aligned_alloc_shared(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) throw EngineError(ErrorCode::OutOfMemory, "cannot allocate " + std::to_string(bytes) + " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Tensor Tensor::empty(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  size_t n = size_t(shape_numel(t.shape));
  if (n > (size_t(1) << 62) / dtype_size(dtype)) throw EngineError(ErrorCode::InvalidArgument, "tensor too large");
  t.storage = aligned_alloc_shared(n * dtype_size(dtype));
  t.data = t.storage.get();
  return t;
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.data, 0, t.nbytes());
  return t;
}

Tensor Tensor::view(void* data, DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  shape_numel(t.shape);
  t.data = data;
  return t;
}

Tensor Tensor::reshaped(std::vector<int64_t> new_shape) const {
  if (shape_numel(new_shape) != numel())
    throw EngineError(ErrorCode::InvalidArgument, "reshape " + shape_str(shape) + " -> " + shape_str(new_shape));
  Tensor t = *this;
  t.shape = std::move(new_shape);
  return t;
}

void convert_to_f32(float* dst, const void* src, DType src_dtype, size_t n) {
  switch (src_dtype) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::F64: {  // golden/reference files only
      const double* s = static_cast<const double*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = float(s[i]);
      return;
    }
    default:
      throw EngineError(ErrorCode::InvalidArgument, std::string("not a float dtype: ") + dtype_name(src_dtype));
  }
}

void convert_from_f32(void* dst, DType dst_dtype, const float* src, size_t n) {
  switch (dst_dtype) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    default:
      throw EngineError(ErrorCode::InvalidArgument, std::string("not a float dtype: ") + dtype_name(dst_dtype));
  }
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  Tensor out = Tensor::empty(dtype, t.shape);
  size_t n = size_t(t.numel());
  if (t.dtype == dtype) {
    std::memcpy(out.data, t.data, t.nbytes());
  } else if (dtype == DType::F32) {
    convert_to_f32(static_cast<float*>(out.data), t.data, t.dtype, n);
  } else if (t.dtype == DType::F32) {
    convert_from_f32(out.data, dtype, static_cast<const float*>(t.data), n);
  } else {
    Tensor tmp = to_dtype(t, DType::F32);
    convert_from_f32(out.data, dtype, tmp.f32(), n);
  }
  return out;
}

}  // namespace dimba
