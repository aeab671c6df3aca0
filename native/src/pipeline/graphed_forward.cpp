// GraphedForward (graphed_forward.h): the first call runs the forward plainly (it grows the
// model's arena and the backend's op scratch, which a capture must not see), then captures it;
// later calls replay. Non-epsilon models get forward()'s last step on the host (answer_in_eps).
// defines: GraphedForward
#include "pipeline/graphed_forward.h"

#include <cstring>

namespace dimba {

std::unique_ptr<GraphedForward> GraphedForward::create(DimbaModel& model, const float* y2, const int* y_lens, int h,
                                                       int w, int L) {
  if (std::strcmp(model.backend().name, "cuda") != 0) return nullptr;
  std::unique_ptr<GraphedForward> g(new GraphedForward(model, h, w, L));  // frees what follows on a throw
  const Backend& be = g->be_;
  const size_t y_bytes = size_t(2) * L * model.config().caption_channels * sizeof(float);
  g->x_ = static_cast<float*>(be.alloc(g->in_n_ * sizeof(float)));
  g->t_ = static_cast<float*>(be.alloc(2 * sizeof(float)));
  g->out_ = static_cast<float*>(be.alloc(g->out_n_ * sizeof(float)));
  g->y_ = static_cast<float*>(be.alloc(y_bytes));
  g->lens_ = static_cast<int*>(be.alloc(2 * sizeof(int)));
  be.upload(g->y_, y2, y_bytes);
  be.upload(g->lens_, y_lens, 2 * sizeof(int));
  return g;
}

GraphedForward::GraphedForward(DimbaModel& model, int h, int w, int L)
    : model_(model),
      be_(model.backend()),
      h_(h),
      w_(w),
      L_(L),
      in_n_(size_t(2) * model.config().in_channels * h * w),
      out_n_(size_t(2) * model.config().out_channels * h * w) {}

GraphedForward::~GraphedForward() {
  graph_.reset();
  for (void* p : {static_cast<void*>(x_), static_cast<void*>(t_), static_cast<void*>(y_), static_cast<void*>(out_),
                  static_cast<void*>(lens_)})
    if (p) be_.free(p);
}

void GraphedForward::forward(float* out2, const float* in2, const float* t2) {
  be_.upload(x_, in2, in_n_ * sizeof(float));
  be_.upload(t_, t2, 2 * sizeof(float));
  auto body = [this] { model_.forward_device(out_, x_, t_, y_, lens_, 2, h_, w_, L_); };
  if (graph_) {
    cuda_graph_launch(*graph_);
  } else {
    body();
    be_.synchronize();
    graph_ = cuda_graph_capture(body);
  }
  be_.download(out2, out_, out_n_ * sizeof(float));
  model_.answer_in_eps(out2, in2, t2, 2, h_, w_);
}

}  // namespace dimba
