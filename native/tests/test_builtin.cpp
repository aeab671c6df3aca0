// The built-in model's world (issue 8): the procedural dataset is a pure function of the
// seed, never shows a held-out combination, renders into [-1, 1]; the vocabulary file written
// by the project is read by the real tokenizer into the intended whole-word pieces; the
// checker is honest (the dataset's own images score 100%, noise scores near chance); bad
// sizes are refused with InvalidArgument.
// defines: main (test_builtin)
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "builtin/checker.h"
#include "builtin/scenes.h"
#include "builtin/text.h"
#include "core/rng.h"
#include "harness.h"
#include "models/t5_encoder.h"
#include "text/tokenizer.h"

using namespace dimba;
using namespace dimba::builtin;

namespace {

std::vector<uint8_t> to_rgb8(const std::vector<float>& img, int S) {
  std::vector<uint8_t> rgb(size_t(S) * S * 3);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < S * S; ++p)
      rgb[size_t(p) * 3 + size_t(c)] = uint8_t(std::lround((img[size_t(c) * S * S + size_t(p)] + 1) * 127.5f));
  return rgb;
}

void dataset_is_deterministic_and_excludes_held_out() {
  std::set<std::string> captions;
  for (uint64_t i = 0; i < 2000; ++i) {
    const Scene a = sample_scene(7, i), b = sample_scene(7, i);
    CHECK(a.shape == b.shape && a.colour == b.colour && a.background == b.background && a.position == b.position &&
          a.jitter_x == b.jitter_x);
    CHECK(a.colour != a.background);
    CHECK(!is_held_out(a.shape, a.colour, a.background, a.position));
    CHECK(caption_scene(a, 7, i) == caption_scene(b, 7, i));
    captions.insert(caption_scene(a, 7, i));
  }
  CHECK(captions.size() > 1000);  // paraphrases, not one template
  // A caption without a position is a centred object, and a centred object is sometimes named so.
  int unnamed = 0, named_centre = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    const Scene s = sample_scene(7, i);
    const std::string c = caption_scene(s, 7, i);
    bool names_position = false;
    for (const char* w : {"centre", "middle", "left", "right", "top", "bottom"})
      names_position |= c.find(w) != std::string::npos;
    if (!names_position) {
      CHECK(s.position == kCentre);
      ++unnamed;
    }
    named_centre += names_position && s.position == kCentre;
  }
  CHECK(unnamed > 100 && named_centre > 100);
  int differ = 0;  // another seed is another dataset
  for (uint64_t i = 0; i < 50; ++i) differ += caption_scene(sample_scene(8, i), 8, i) != caption_scene(sample_scene(7, i), 7, i);
  CHECK(differ > 40);
  const std::vector<Scene> held = held_out_scenes();
  CHECK(held.size() >= 200);
  for (const Scene& s : held) CHECK(is_held_out(s.shape, s.colour, s.background, s.position));
}

void renders_in_range_with_antialiasing() {
  const Scene s = sample_scene(3, 5);
  const std::vector<float> img = render_scene(s, 32);
  CHECK(img.size() == 3 * 32 * 32);
  int partial = 0;
  for (float v : img) {
    CHECK(v >= -1.0001f && v <= 1.0001f);
    bool is_palette = false;
    for (const auto& p : kPalette)
      for (int c = 0; c < 3; ++c) is_palette |= std::fabs(v - (p[size_t(c)] / 127.5f - 1)) < 1e-5f;
    partial += !is_palette;
  }
  CHECK(partial > 0);  // edge pixels blend the two colours
  CHECK_THROWS_CODE(render_scene(s, 4), ErrorCode::InvalidArgument);
}

void vocabulary_file_reads_into_whole_words() {
  const Tokenizer tok = Tokenizer::from_bytes(sentencepiece_model_bytes(builtin_vocabulary()));
  CHECK(tok.id_to_piece(0) == "<pad>" && tok.eos_id() == 1 && tok.unk_id() == 2);
  const std::vector<std::string> want = {"\xE2\x96\x81" "a",    "\xE2\x96\x81" "red", "\xE2\x96\x81" "star",
                                         "\xE2\x96\x81" "on",   "\xE2\x96\x81" "a",   "\xE2\x96\x81" "blue",
                                         "\xE2\x96\x81" "background"};
  CHECK(tok.encode_pieces("a red star on a blue background") == want);
  CHECK(tok.encode_pieces("  a   red star on a blue background ") == want);  // whitespace folded
  const std::vector<std::string> comma = tok.encode_pieces("on the left, white background");
  CHECK(comma.size() == 6 && comma[3] == ",");
  Scene red_star;
  red_star.shape = 3, red_star.colour = 0, red_star.background = 4;
  CHECK(plain_caption(red_star) == "a red star on a blue background");
  red_star.colour = 1;
  CHECK(plain_caption(red_star) == "an orange star on a blue background");
  // Every caption of the grammar is whole words: no letter pieces, no <unk>.
  for (uint64_t i = 0; i < 300; ++i) {
    const Scene s = sample_scene(11, i);
    for (const std::string& c : {caption_scene(s, 11, i), full_caption(s), plain_caption(s)})
      for (int32_t id : tok.encode(c)) {
        const std::string& p = tok.id_to_piece(id);
        const bool word = p == "," || (p.rfind("\xE2\x96\x81", 0) == 0 && p.size() > 3);
        if (!word) std::printf("    '%s' -> piece '%s'\n", c.c_str(), p.c_str());
        CHECK(word);
      }
  }
  // Unknown words still tokenise (letters), never fail.
  CHECK(!tok.encode("a zebra").empty());
  const T5Tokens t = tok.encode_t5("", 24);
  CHECK(t.ids[0] == 1 && t.mask[0] == 1 && t.mask[1] == 0);
}

void checker_is_honest() {
  Tally data, noise;
  for (int i = 0; i < 60; ++i) {
    const Scene s = sample_scene(21, uint64_t(i));
    const std::vector<uint8_t> rgb = to_rgb8(render_scene(s, 32), 32);
    data.add(s, measure_image(rgb.data(), 32));
    std::vector<float> r(rgb.size());
    fill_normal(r.data(), r.size(), 5, uint64_t(i) * r.size());
    std::vector<uint8_t> nz(rgb.size());
    for (size_t k = 0; k < nz.size(); ++k) nz[k] = uint8_t(std::clamp(127.5f + 127.5f * r[k], 0.f, 255.f));
    noise.add(s, measure_image(nz.data(), 32));
  }
  std::printf("    dataset %s\n    noise   %s\n", data.json().c_str(), noise.json().c_str());
  CHECK(data.all == data.n);
  int diagonal = 0;  // the dataset's shapes are all measured as themselves
  for (int w = 0; w < kShapes; ++w) diagonal += data.shape_as[w][w];
  CHECK(diagonal == data.n);
  CHECK(noise.rate(noise.colour) < 0.35 && noise.rate(noise.background) < 0.35);
  CHECK(noise.rate(noise.position) < 0.45 && noise.rate(noise.shape) < 0.45);
  // A plain image has no object: colour, position and shape are wrong, not guessed.
  std::vector<uint8_t> plain(32 * 32 * 3, 40);
  const Measurement m = measure_image(plain.data(), 32);
  CHECK(!m.found && m.colour == -1 && m.shape == -1 && m.position == -1);
  Tally one;
  one.add(sample_scene(21, 0), m);
  CHECK(one.shape_as[sample_scene(21, 0).shape][kShapes] == 1);  // counted as "none"
  CHECK(one.json().find("\"shape_confusion\": {\"circle\": [") != std::string::npos);
  CHECK_THROWS_CODE(measure_image(plain.data(), 2), ErrorCode::InvalidArgument);
}

// The encoder must make a caption and its colour swap differ as sets of vectors (the Dimba's
// cross-attention ignores order): each word's vector has to change with its neighbours. With
// plain random weights these distances were 0.01-0.04.
void encoder_tells_colour_roles_apart() {
  const std::string dir = "/tmp/dimba-test-builtin-t5-" + std::to_string(::getpid());
  const Tokenizer tok = Tokenizer::from_bytes(sentencepiece_model_bytes(builtin_vocabulary()));
  const T5Config c = builtin_t5_config(tok.vocab_size());
  write_builtin_text_encoder(dir, c, 0x75u);
  T5Encoder t5 = T5Encoder::load_pretrained(dir, T5WeightFormat::F32);
  for (const char* f : {"/model.safetensors", "/config.json"}) std::remove((dir + f).c_str());
  ::rmdir(dir.c_str());
  const int L = 12, D = c.d_model;
  const T5Tokens a = tok.encode_t5("a red star on a blue background", L);
  const T5Tokens b = tok.encode_t5("a blue star on a red background", L);
  std::vector<float> ya(size_t(L) * D), yb(size_t(L) * D);
  t5.forward(ya.data(), a.ids.data(), a.mask.data(), 1, L);
  t5.forward(yb.data(), b.ids.data(), b.mask.data(), 1, L);
  // token positions: a=0 red/blue=1 star=2 on=3 a=4 blue/red=5 background=6
  auto rel = [&](int ia, int ib) { return harness::rel_l2(&yb[size_t(ib) * D], &ya[size_t(ia) * D], size_t(D)); };
  const double red = rel(1, 5), star = rel(2, 2), background = rel(6, 6);
  std::printf("    word moved by its neighbours: red %.3f star %.3f background %.3f\n", red, star, background);
  CHECK(red > 0.3 && star > 0.3 && background > 0.3);
}

}  // namespace

int main() {
  RUN(dataset_is_deterministic_and_excludes_held_out);
  RUN(renders_in_range_with_antialiasing);
  RUN(vocabulary_file_reads_into_whole_words);
  RUN(checker_is_honest);
  RUN(encoder_tells_colour_roles_apart);
  return harness::summary();
}
