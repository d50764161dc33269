// Per-sample transforms run by the loader threads: crops, flips and resizes composed as index
// maps, then one fused pass that converts to float32, normalizes and writes into the batch.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <vector>

namespace noisynn {
namespace data {

// A counter-based stream: the numbers a sample gets depend only on (seed, epoch, index), never on
// which thread draws them or in which order samples are processed.
class Rng {
 public:
  static Rng ForSample(uint64_t seed, uint64_t epoch, uint64_t index);
  static Rng ForShuffle(uint64_t seed, uint64_t epoch);

  uint64_t next();
  // Uniform in [0, 1), 53 bits.
  double uniform();
  // Uniform in [0, n), unbiased; n >= 1.
  uint64_t below(uint64_t n);

 private:
  explicit Rng(uint64_t state) : state_(state) {}
  uint64_t state_;
};

enum class TransformKind { RandomCrop, CenterCrop, HorizontalFlip, VerticalFlip, Resize, Normalize };

// One step, fully resolved (sizes are explicit; the TypeScript layer expands presets and
// shorthand). Fields unused by a kind are ignored.
struct TransformSpec {
  TransformKind kind = TransformKind::Normalize;
  int64_t height = 0;  // crops and resize: output size
  int64_t width = 0;
  int64_t padding = 0;           // randomCrop: zero padding on every side before cropping
  double p = 0.5;                // flips: probability
  bool nearest = false;          // resize: nearest-neighbour instead of bilinear
  std::vector<float> mean, std;  // normalize: per channel, in [0, 1] pixel units
};

// Buffers a thread reuses across samples (resize intermediates).
struct TransformScratch {
  std::vector<float> a, b;
};

// A validated sequence of transforms for images of one input shape [C, H, W].
//
// Semantics (torchvision's, on [0, 1] pixels): randomCrop pads with zeros then crops at an
// offset drawn uniformly; centerCrop crops around the centre, zero-padding dimensions smaller
// than the crop; flips mirror with probability p; resize is bilinear with half-pixel centres
// and no antialiasing (like F.interpolate(align_corners=False)); normalize, which must come
// last, computes (x - mean) / std per channel. uint8 sources are scaled by 1/255, float32
// sources are taken as they are. Every random step draws from the stream in a fixed pattern,
// so one sample's result depends only on its Rng.
class TransformPipeline {
 public:
  TransformPipeline() = default;
  // Throws c10::ValueError (a JS RangeError) when a step does not fit the shape it receives.
  TransformPipeline(std::vector<TransformSpec> specs, int64_t channels, int64_t height, int64_t width);

  std::array<int64_t, 3> output_shape() const { return {channels_, out_h_, out_w_}; }
  bool random() const;

  // Transforms one sample (channels*height*width elements of `src_type`, at::kByte or at::kFloat)
  // into `out` (float32, output_shape() elements, contiguous CHW).
  void apply(const void* src, at::ScalarType src_type, Rng& rng, float* out, TransformScratch& scratch) const;

 private:
  std::vector<TransformSpec> specs_;
  int64_t channels_ = 0, in_h_ = 0, in_w_ = 0, out_h_ = 0, out_w_ = 0;
  // The fused final pass: out = v * mul[c] + add[c], with v in source units.
  std::vector<float> mul_u8_, mul_f32_, add_;
};

}  // namespace data
}  // namespace noisynn
