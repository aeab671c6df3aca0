// The portable (shared-memory tree) variant of group_norm.glsl.
#version 450
#include "group_norm.glsl"
