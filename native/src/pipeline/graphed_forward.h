// The denoising loop's Dimba call replayed from a CUDA graph (issue 14): a forward is hundreds
// of kernel launches, and a graph submits them at once instead of one host call each. The
// text (y and its lengths) is uploaded once; each call uploads x and t into fixed device
// buffers, and from the second call on replays the forward captured after the first
// (DimbaModel::forward_device: fixed arena offsets, no host synchronisation). The answer
// is DimbaModel::forward's bit for bit, the same kernels in the same order (test_cuda_pipeline).
// A graph holds pointers into the model's arena and the backend's op scratch, which a forward
// of other sizes or another model (the VAE) may move: one GraphedForward serves one image's
// sampling, during which nothing else runs on the backend.
// defines: GraphedForward
#pragma once
#include <memory>

#include "backend/cuda/cuda_backend.h"
#include "models/dimba.h"

namespace dimba {

class GraphedForward {
 public:
  // Null where the model's backend has no graphs (all but CUDA). y2: (2, 1, L, Ccap), y_lens:
  // (2), both kept on the device for every call.
  static std::unique_ptr<GraphedForward> create(DimbaModel& model, const float* y2, const int* y_lens, int h, int w,
                                                int L);
  ~GraphedForward();
  GraphedForward(const GraphedForward&) = delete;
  GraphedForward& operator=(const GraphedForward&) = delete;

  // out2 (2, Cout, h, w): the model's eps for in2 (2, Cin, h, w) at t2 (2), as forward() gives.
  void forward(float* out2, const float* in2, const float* t2);

 private:
  GraphedForward(DimbaModel& model, int h, int w, int L);

  DimbaModel& model_;
  const Backend& be_;
  int h_, w_, L_;
  size_t in_n_, out_n_;
  float *x_ = nullptr, *t_ = nullptr, *y_ = nullptr, *out_ = nullptr;
  int* lens_ = nullptr;
  std::shared_ptr<CudaGraph> graph_;  // captured after the first call
};

}  // namespace dimba
