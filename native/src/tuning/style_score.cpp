// Style scores of built-in-model images (style_score.h).
// defines: score_style, StyleScore::json
#include "tuning/style_score.h"

#include <cstdio>

#include "builtin/checker.h"
#include "core/error.h"

namespace dimba {

StyleScore score_style(const std::vector<TuningSample>& images, const Style& style) {
  StyleScore s;
  int c = 0, sh = 0, bg = 0, all = 0;
  for (const TuningSample& im : images) {
    if (im.width != im.height) throw EngineError(ErrorCode::InvalidArgument, "score_style: square images only");
    const builtin::Measurement m = builtin::measure_image(im.rgb.data(), im.width);
    c += m.colour == style.colour;
    sh += m.shape == style.shape;
    bg += m.background == style.background;
    all += m.colour == style.colour && m.shape == style.shape && m.background == style.background;
    ++s.n;
  }
  if (s.n) {
    s.colour = double(c) / s.n;
    s.shape = double(sh) / s.n;
    s.background = double(bg) / s.n;
    s.all = double(all) / s.n;
  }
  return s;
}

std::string StyleScore::json() const {
  char b[160];
  std::snprintf(b, sizeof b, "{\"n\":%d,\"colour\":%.4f,\"shape\":%.4f,\"background\":%.4f,\"all\":%.4f}", n, colour,
                shape, background, all);
  return b;
}

}  // namespace dimba
