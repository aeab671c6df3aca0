// A tuning image as the model trains on it: the reference's dataset transform (PixArt's
// T.Resize(size) then T.CenterCrop(size), ToTensor, Normalize(0.5, 0.5)): the shorter side is
// resized to `size` (the longer one to int(size * long / short)) with PIL's antialiased
// bilinear filter (a triangle whose support widens by the downscale factor), the centre
// size x size square is cut out (top = round((h - size) / 2)), and 8-bit RGB becomes planes
// in [-1, 1]. PIL rounds to 8 bits after each of its two passes; this keeps floats, so values
// differ from PIL's by at most about 1/255.
// defines: prepare_image
#pragma once
#include <cstdint>
#include <vector>

namespace dimba {

// rgb (h, w, 3) 8-bit interleaved -> (3, size, size) in [-1, 1]. Throws
// EngineError(InvalidArgument) when the image is smaller than size on either side (the model
// would train on upsampled blur) or a dimension is not positive.
std::vector<float> prepare_image(const uint8_t* rgb, int w, int h, int size);

}  // namespace dimba
