// The subgroup-arithmetic variant of attention_bias.glsl (block_reduce.glsl), chosen at device setup.
#version 450
#extension GL_KHR_shader_subgroup_arithmetic : require
#define DIMBA_SUBGROUP 1
#include "attention_bias.glsl"
