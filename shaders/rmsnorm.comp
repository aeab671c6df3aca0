// The portable (shared-memory tree) variant of rmsnorm.glsl.
#version 450
#include "rmsnorm.glsl"
