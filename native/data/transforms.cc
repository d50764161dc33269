// Transforms as composed index maps: crops and flips cost nothing until the one fused output pass.
#include "data/transforms.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace noisynn {
namespace data {

namespace {

uint64_t Mix64(uint64_t z) {
  // splitmix64's finaliser: a bijection with full avalanche.
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSampleDomain = 0x5a4d504c45ULL;  // "SAMPLE"-ish tags keep the streams apart
constexpr uint64_t kShuffleDomain = 0x53485546ULL;

// A view of a source image through a composed crop/flip/pad map: output pixel (y, x) reads
// source pixel (ay*y + by, ax*x + bx) when that lies inside [y0, y1) x [x0, x1), else zero.
struct View {
  const void* data = nullptr;
  bool is_float = false;
  int64_t src_h = 0, src_w = 0;  // the buffer's rows and columns
  int64_t h = 0, w = 0;          // the view's size
  int64_t ay = 1, by = 0, ax = 1, bx = 0;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;

  void reset(const void* d, bool f, int64_t rows, int64_t cols) {
    data = d;
    is_float = f;
    src_h = h = rows;
    src_w = w = cols;
    ay = ax = 1;
    by = bx = 0;
    y0 = x0 = 0;
    y1 = rows;
    x1 = cols;
  }

  // The window of size (nh, nw) whose origin is (oy, ox) in this view's coordinates, mirrored
  // as asked. What lies outside this view's own extent becomes padding.
  void compose(int64_t oy, int64_t ox, int64_t nh, int64_t nw, bool flip_y, bool flip_x) {
    const int64_t ya = by, yb = ay * (h - 1) + by;
    y0 = std::max(y0, std::min(ya, yb));
    y1 = std::min(y1, std::max(ya, yb) + 1);
    const int64_t xa = bx, xb = ax * (w - 1) + bx;
    x0 = std::max(x0, std::min(xa, xb));
    x1 = std::min(x1, std::max(xa, xb) + 1);
    if (flip_y) {
      by = ay * (oy + nh - 1) + by;
      ay = -ay;
    } else {
      by = ay * oy + by;
    }
    if (flip_x) {
      bx = ax * (ox + nw - 1) + bx;
      ax = -ax;
    } else {
      bx = ax * ox + bx;
    }
    h = nh;
    w = nw;
  }

  // The output columns [lo, hi) whose source column is inside [x0, x1).
  void valid_columns(int64_t* lo, int64_t* hi) const {
    int64_t a, b;
    if (ax == 1) {
      a = x0 - bx;
      b = x1 - bx;
    } else {
      a = bx - x1 + 1;
      b = bx - x0 + 1;
    }
    *lo = std::clamp<int64_t>(a, 0, w);
    *hi = std::clamp<int64_t>(b, *lo, w);
  }

  template <typename T>
  float at(int64_t c, int64_t y, int64_t x) const {
    const int64_t sy = ay * y + by, sx = ax * x + bx;
    if (sy < y0 || sy >= y1 || sx < x0 || sx >= x1) return 0.f;
    return static_cast<float>(static_cast<const T*>(data)[(c * src_h + sy) * src_w + sx]);
  }
};

// The fused pass: out[c][y][x] = view(c, y, x) * mul[c] + add[c]. Padding reads as zero.
template <typename T>
void Gather(const View& v, int64_t channels, const float* mul, const float* add, float* out) {
  const T* src = static_cast<const T*>(v.data);
  int64_t lo, hi;
  v.valid_columns(&lo, &hi);
  for (int64_t c = 0; c < channels; ++c) {
    const float m = mul[c], a = add[c];
    for (int64_t y = 0; y < v.h; ++y) {
      float* o = out + (c * v.h + y) * v.w;
      const int64_t sy = v.ay * y + v.by;
      if (sy < v.y0 || sy >= v.y1 || lo >= hi) {
        std::fill(o, o + v.w, a);
        continue;
      }
      std::fill(o, o + lo, a);
      std::fill(o + hi, o + v.w, a);
      const T* row = src + (c * v.src_h + sy) * v.src_w + v.bx;
      if (v.ax == 1) {
        for (int64_t x = lo; x < hi; ++x) o[x] = static_cast<float>(row[x]) * m + a;
      } else {
        for (int64_t x = lo; x < hi; ++x) o[x] = static_cast<float>(row[-x]) * m + a;
      }
    }
  }
}

// Source coordinate and weight for bilinear resizing with half-pixel centres.
struct Tap {
  int64_t i0, i1;
  float w1;
};

std::vector<Tap> Taps(int64_t in, int64_t out, bool nearest) {
  std::vector<Tap> taps(out);
  const double scale = double(in) / double(out);
  for (int64_t i = 0; i < out; ++i) {
    if (nearest) {
      const int64_t s = std::min<int64_t>(static_cast<int64_t>(std::floor(i * scale)), in - 1);
      taps[i] = {s, s, 0.f};
      continue;
    }
    double f = (i + 0.5) * scale - 0.5;
    if (f < 0) f = 0;
    int64_t i0 = std::min<int64_t>(static_cast<int64_t>(f), in - 1);
    int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    taps[i] = {i0, i1, static_cast<float>(f - double(i0))};
  }
  return taps;
}

// Resizes the view into `dst` (float, [channels, nh, nw], in source units).
template <typename T>
void Resize(const View& v, int64_t channels, int64_t nh, int64_t nw, bool nearest, float* dst) {
  const std::vector<Tap> ty = Taps(v.h, nh, nearest), tx = Taps(v.w, nw, nearest);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < nh; ++y) {
      const Tap& a = ty[y];
      float* o = dst + (c * nh + y) * nw;
      for (int64_t x = 0; x < nw; ++x) {
        const Tap& b = tx[x];
        const float top = v.at<T>(c, a.i0, b.i0) * (1.f - b.w1) + v.at<T>(c, a.i0, b.i1) * b.w1;
        const float bottom = v.at<T>(c, a.i1, b.i0) * (1.f - b.w1) + v.at<T>(c, a.i1, b.i1) * b.w1;
        o[x] = top * (1.f - a.w1) + bottom * a.w1;
      }
    }
  }
}

// torchvision's centre offset: round-half-to-even of the margin when cropping, and the
// floor of half the shortfall as padding when the crop is larger.
int64_t CenterOffset(int64_t in, int64_t out) {
  if (out > in) return -((out - in) / 2);
  return static_cast<int64_t>(std::nearbyint((in - out) / 2.0));
}

}  // namespace

Rng Rng::ForSample(uint64_t seed, uint64_t epoch, uint64_t index) {
  return Rng(Mix64(Mix64(Mix64(seed ^ kSampleDomain) + epoch * kGolden) + index));
}

Rng Rng::ForShuffle(uint64_t seed, uint64_t epoch) {
  return Rng(Mix64(Mix64(seed ^ kShuffleDomain) + epoch * kGolden));
}

uint64_t Rng::next() {
  state_ += kGolden;
  return Mix64(state_);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

uint64_t Rng::below(uint64_t n) {
  // Rejection keeps it unbiased: accept only draws below the largest multiple of n.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = next();
    if (r >= threshold) return r % n;
  }
}

TransformPipeline::TransformPipeline(std::vector<TransformSpec> specs, int64_t channels, int64_t height, int64_t width)
    : specs_(std::move(specs)), channels_(channels), in_h_(height), in_w_(width) {
  TORCH_CHECK_VALUE(channels >= 1 && height >= 1 && width >= 1, "transform input shape must be positive");
  int64_t h = height, w = width;
  std::vector<float> mean(channels, 0.f), std(channels, 1.f);
  for (size_t i = 0; i < specs_.size(); ++i) {
    const TransformSpec& s = specs_[i];
    switch (s.kind) {
      case TransformKind::RandomCrop:
        TORCH_CHECK_VALUE(s.height >= 1 && s.width >= 1 && s.padding >= 0, "randomCrop: invalid size or padding");
        TORCH_CHECK_VALUE(s.height <= h + 2 * s.padding && s.width <= w + 2 * s.padding, "randomCrop: size ", s.height,
                          "x", s.width, " is larger than the ", h, "x", w, " image plus padding ", s.padding);
        h = s.height;
        w = s.width;
        break;
      case TransformKind::CenterCrop:
      case TransformKind::Resize:
        TORCH_CHECK_VALUE(s.height >= 1 && s.width >= 1, "crop or resize: invalid size");
        h = s.height;
        w = s.width;
        break;
      case TransformKind::HorizontalFlip:
      case TransformKind::VerticalFlip:
        TORCH_CHECK_VALUE(s.p >= 0 && s.p <= 1, "flip: probability must be in [0, 1]");
        break;
      case TransformKind::Normalize:
        TORCH_CHECK_VALUE(i + 1 == specs_.size(), "normalize must be the last transform");
        TORCH_CHECK_VALUE(int64_t(s.mean.size()) == channels && int64_t(s.std.size()) == channels,
                          "normalize: mean and std need one value per channel (", channels, ")");
        for (int64_t c = 0; c < channels; ++c) {
          TORCH_CHECK_VALUE(s.std[c] > 0 && std::isfinite(s.std[c]) && std::isfinite(s.mean[c]),
                            "normalize: std must be positive and finite");
          mean[c] = s.mean[c];
          std[c] = s.std[c];
        }
        break;
    }
  }
  out_h_ = h;
  out_w_ = w;
  mul_u8_.resize(channels);
  mul_f32_.resize(channels);
  add_.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    mul_u8_[c] = static_cast<float>(1.0 / (255.0 * std[c]));
    mul_f32_[c] = static_cast<float>(1.0 / std[c]);
    add_[c] = static_cast<float>(-mean[c] / std[c]) + 0.f;  // + 0 turns -0 into 0
  }
}

bool TransformPipeline::random() const {
  for (const auto& s : specs_) {
    if (s.kind == TransformKind::RandomCrop || s.kind == TransformKind::HorizontalFlip ||
        s.kind == TransformKind::VerticalFlip) {
      return true;
    }
  }
  return false;
}

void TransformPipeline::apply(const void* src, at::ScalarType src_type, Rng& rng, float* out,
                              TransformScratch& scratch) const {
  TORCH_CHECK(src_type == at::kByte || src_type == at::kFloat, "transforms read uint8 or float32 images");
  const bool from_u8 = src_type == at::kByte;
  View v;
  v.reset(src, !from_u8, in_h_, in_w_);
  std::vector<float>* spare = &scratch.a;
  for (const TransformSpec& s : specs_) {
    switch (s.kind) {
      case TransformKind::RandomCrop: {
        const int64_t oy = int64_t(rng.below(uint64_t(v.h + 2 * s.padding - s.height + 1))) - s.padding;
        const int64_t ox = int64_t(rng.below(uint64_t(v.w + 2 * s.padding - s.width + 1))) - s.padding;
        v.compose(oy, ox, s.height, s.width, false, false);
        break;
      }
      case TransformKind::CenterCrop:
        v.compose(CenterOffset(v.h, s.height), CenterOffset(v.w, s.width), s.height, s.width, false, false);
        break;
      case TransformKind::HorizontalFlip:
        // Always draw, so later steps see the same stream whatever this one decided.
        if (rng.uniform() < s.p) v.compose(0, 0, v.h, v.w, false, true);
        break;
      case TransformKind::VerticalFlip:
        if (rng.uniform() < s.p) v.compose(0, 0, v.h, v.w, true, false);
        break;
      case TransformKind::Resize: {
        spare->resize(static_cast<size_t>(channels_ * s.height * s.width));
        if (v.is_float) {
          Resize<float>(v, channels_, s.height, s.width, s.nearest, spare->data());
        } else {
          Resize<uint8_t>(v, channels_, s.height, s.width, s.nearest, spare->data());
        }
        v.reset(spare->data(), true, s.height, s.width);
        spare = spare == &scratch.a ? &scratch.b : &scratch.a;
        break;
      }
      case TransformKind::Normalize: break;  // folded into the final pass
    }
  }
  const float* mul = from_u8 ? mul_u8_.data() : mul_f32_.data();
  if (v.is_float) {
    Gather<float>(v, channels_, mul, add_.data(), out);
  } else {
    Gather<uint8_t>(v, channels_, mul, add_.data(), out);
  }
}

}  // namespace data
}  // namespace noisynn
