// The portable (shared-memory tree) variant of attention_bias.glsl.
#version 450
#include "attention_bias.glsl"
