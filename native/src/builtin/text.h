// The built-in model's text side (issue 8): the vocabulary of the scene grammar written as a
// SentencePiece unigram model file (read by the same text/tokenizer.h as real T5), and a small
// T5-architecture encoder whose weights are generated deterministically from a seed and kept
// frozen. Frozen weights are enough here: the vocabulary is ~50 words, a random encoder with
// residual connections keeps each token's identity separable, and its position bias is set so
// each head reads a fixed neighbour (+1, -1, +2, -2), which makes every token's vector carry the
// words beside it: cross-attention is blind to order, so without that "a red star on a blue
// background" and its swap look alike. The Dimba's cross-attention learns what the words mean
// (training the encoder would cost backward passes through T5 this engine does not implement).
// defines: builtin_vocabulary, sentencepiece_model_bytes, builtin_t5_config, builtin_t5_config_json,
//          write_builtin_text_encoder, builtin_dimba_config, builtin_dimba_config_json, write_builtin_parts,
//          builtin_dimba_init
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "training/dimba_train.h"

namespace dimba::builtin {

// Every word the grammar (scenes.cpp) uses, lower case, sorted.
std::vector<std::string> builtin_vocabulary();
// A SentencePiece ModelProto: <pad> 0, </s> 1, <unk> 2 (T5's ids), then "▁word" for every
// word (score -1), then "▁", ",", and the letters a-z (score -10) so unknown words still
// tokenise. Identity normaliser with add_dummy_prefix and remove_extra_whitespaces.
std::string sentencepiece_model_bytes(const std::vector<std::string>& words);

T5Config builtin_t5_config(int vocab_size);
std::string builtin_t5_config_json(const T5Config& c);
// folder/config.json + folder/model.safetensors (f32 from `seed`: N(0, 1/fan_in) matrices,
// q and k scaled by 0.3, unit norms, N(0, 1) embeddings, the neighbour-reading position bias).
void write_builtin_text_encoder(const std::string& folder, const T5Config& c, uint64_t seed);

// The Dimba of the built-in model: pixel space (in_channels 3, out 6), 32 px, `patch` (4 by
// default: 64 tokens, what one shared CPU core trains in the time limit), hidden 128, depth 4
// with a bidirectional Mamba block after every block, predicting x0 (DimbaConfig::prediction
// Sample; builtin/README.md says why: on eps and on v its samples were noise).
DimbaConfig builtin_dimba_config(int caption_channels, int max_length, int patch = 4, int hidden = 128);
// dimba.json as DimbaConfig::from_json reads it (prediction_type included).
std::string builtin_dimba_config_json(const DimbaConfig& c);
// A model folder's fixed parts from `seed`: dir/spiece.model, dir/t5/, dir/dimba.json (`cfg`).
void write_builtin_parts(const std::string& dir, uint64_t seed, const DimbaConfig& cfg);
// A from-scratch initialisation in the spirit of PixArt's (DiT adaLN-zero): Linear weights
// N(0, 1/fan_in), biases 0, the adaLN projection t_block and the final Linear zero (each
// block starts as the identity), Mamba A_log = log(1..Ns), D = 1, dt biases inverse-softplus
// of dt log-uniform in [1e-3, 1e-1] (the Mamba paper's init).
ParamSet builtin_dimba_init(const DimbaConfig& cfg, uint64_t seed);

}  // namespace dimba::builtin
