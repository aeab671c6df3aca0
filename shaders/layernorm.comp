// The portable (shared-memory tree) variant of layernorm.glsl.
#version 450
#include "layernorm.glsl"
