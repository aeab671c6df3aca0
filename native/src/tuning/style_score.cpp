// Style scores of built-in-model images (style_score.h).
// defines: score_style, StyleScore::json, builtin_model_manifest_json
#include "tuning/style_score.h"

#include <cstdio>
#include <filesystem>

#include "builtin/checker.h"
#include "builtin/model.h"
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

std::string builtin_model_manifest_json(const std::string& dir) {
  const std::string d = std::filesystem::absolute(dir).lexically_normal().string();
  const int S = builtin::kBuiltinImageSize;
  return "{\"format\": \"dimba-model-manifest\", \"version\": 1, \"id\": \"dimba-builtin-32\", \"resolution\": " +
         std::to_string(S) + ", \"dimba\": {\"config\": \"" + d + "/dimba.json\", \"weights\": \"" + d +
         "/dimba.safetensors\"}, \"text_encoder\": {\"folder\": \"" + d + "/t5\", \"tokenizer\": \"" + d +
         "/spiece.model\"}, \"vae\": null, \"defaults\": {\"steps\": 20, \"guidance\": 4.0, \"width\": " +
         std::to_string(S) + ", \"height\": " + std::to_string(S) + "}}";
}

}  // namespace dimba
