// The portable (shared-memory tree) variant of attention.glsl.
#version 450
#include "attention.glsl"
