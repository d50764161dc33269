// Native checks of the noise op (no Node): fused kernels against the literal formula, forward
// and backward, on CPU and, when a GPU is present, CUDA against CPU for every dtype.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "common/philox.h"
#include "common/philox_cpu.h"
#include "ops/noise.h"
#include "ops/noise_impl.h"
#include "tests/test_main.h"

using noisynn::NoiseKind;
using noisynn::NoiseParams;

namespace {

const std::vector<NoiseKind> kKinds = {NoiseKind::None, NoiseKind::Linear, NoiseKind::Optimal, NoiseKind::Gaussian,
                                       NoiseKind::SaltPepper};

struct Case {
  std::vector<int64_t> shape;
  int64_t axis;
};
const std::vector<Case> kCases = {{{7}, 0},          {{5, 3}, 1},    {{4, 6, 5}, 0},   {{4, 6, 5}, 2},
                                  {{3, 4, 2, 5}, 2}, {{1, 9, 4}, 0}, {{16, 50, 12}, 0}};

NoiseParams params(NoiseKind kind, int64_t axis, bool detach = false) {
  NoiseParams p;
  p.kind = kind;
  p.axis = axis;
  p.strength = kind == NoiseKind::SaltPepper ? 0.4 : kind == NoiseKind::Gaussian ? 0.7 : 0.3;
  p.mean = 0.1;
  p.std = 0.5;
  p.seed = 1234567;
  p.offset = 3;
  p.detach = detach;
  return p;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kCPU).to(at::kDouble) - b.to(at::kCPU).to(at::kDouble)).abs().max().item<double>();
}

at::Tensor grad_of(const at::Tensor& x0, const at::Tensor& w, const NoiseParams& p, bool reference) {
  at::Tensor x = x0.detach().clone().requires_grad_(true);
  at::Tensor y = reference ? noisynn::inject_noise_reference(x, p) : noisynn::inject_noise(x, p);
  (y * w).sum().backward();
  return x.grad();
}

}  // namespace

NN_TEST("cpu Philox stream equals the scalar generator on every vector path (uniform, normal, 32-bit carries)") {
  // Each vectorized CPU path this machine can run (AVX-512, AVX2, portable loops) against the
  // per-block scalar code the CUDA kernel runs, bit for bit (the build passes -ffp-contract=off),
  // including groups of blocks that straddle a carry into the high counter word.
  const uint64_t starts[] = {0, 3, (1ull << 32) - 7, (1ull << 33) - 16, 0xFFFFFFFFFFFFFFF0ull};
  const int64_t counts[] = {1, 15, 16, 17, 53};
  auto check = [&](const char* path, uint64_t seed, uint64_t offset, uint64_t b0, int64_t n, bool normal) {
    std::vector<float> got(4 * n);
    noisynn::rng::philox_blocks_on_path(path, b0, n, offset, seed, normal, got.data());
    for (int64_t i = 0; i < n; ++i) {
      const noisynn::rng::Block blk = noisynn::rng::philox4x32_10(b0 + i, offset, seed);
      float want[4];
      if (normal) noisynn::rng::normal4(blk, want);
      else noisynn::rng::uniform4(blk, want);
      for (int w = 0; w < 4; ++w) {
        if (got[4 * i + w] != want[w]) {
          NN_EXPECT(false, path << ": seed " << seed << " offset " << offset << " block " << b0 + i << " word " << w
                                << ": " << got[4 * i + w] << " != " << want[w]
                                << (normal ? " (normal)" : " (uniform)"));
          return;
        }
      }
    }
  };
  int paths_run = 0;
  for (const char* path : {"portable", "avx2", "avx512"}) {
    float probe[4];
    if (!noisynn::rng::philox_blocks_on_path(path, 0, 1, 0, 0, false, probe)) continue;  // this CPU lacks it
    ++paths_run;
    for (uint64_t seed : {0ull, 1234567ull, 0xDEADBEEFCAFEF00Dull})
      for (uint64_t offset : {0ull, 5ull, 1ull << 40})
        for (uint64_t b0 : starts)
          for (int64_t n : counts)
            for (bool normal : {false, true}) check(path, seed, offset, b0, n, normal);
  }
  NN_EXPECT(paths_run >= 1, "the portable path always runs");
  NN_EXPECT(noisynn::impl::cpu_kernels_parallel(),
            "the kernels were compiled without -fopenmp against an OpenMP libtorch: they run on one thread");
  std::printf("     (Philox paths checked: %d; the kernels use %s)\n", paths_run, noisynn::rng::philox_cpu_path());
  return true;
}

NN_TEST("cpu fused gaussian and salt-and-pepper kernels equal the scalar stream (heads, tails, carries, store kinds)") {
  // rng::add_scaled_normals / select_by_uniforms (AVX-512 only) against the per-block scalar
  // generator and the float formulas, bit for bit: starts inside and at the edges of their
  // 128-element body, counts below, at and above it, outputs at 4-byte (not 64-byte) alignment,
  // plain and non-temporal stores, and a start where the block counter carries into its high word;
  // the fused path and the loop it replaces, which writes nothing outside [0, count).
  const int64_t starts[] = {0, 3, 125, 128, 4 * ((int64_t{1} << 32) - 9)};
  const int64_t counts[] = {1, 127, 128, 129, 1031};
  std::vector<float> x(1100 + 16), out(1100 + 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  const float s = 0.7f, m = 0.25f, d = 1.5f, half_p = 0.2f, p = 0.4f, salt = 9.0f, pepper = -9.0f;
  const uint64_t seed = 0xDEADBEEFCAFEF00Dull, offset = 5;
  int checked = 0;
  for (bool fused : {true, false}) {
    const bool before = noisynn::rng::set_fused_kernels(fused);
    for (int64_t g0 : starts)
      for (int64_t n : counts)
        for (int shift : {0, 1})
          for (bool stream : {false, true})
            for (bool normal : {false, true}) {
              const float* xs = x.data() + shift;
              float* os = out.data() + shift;
              std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN());
              if (normal) noisynn::rng::add_scaled_normals(g0, n, seed, offset, xs, os, s, m, d, stream);
              else noisynn::rng::select_by_uniforms(g0, n, seed, offset, xs, os, half_p, p, salt, pepper, stream);
              ++checked;
              for (int64_t i = 0; i < n; ++i) {
                const int64_t g = g0 + i;
                const noisynn::rng::Block blk =
                    noisynn::rng::philox4x32_10(static_cast<uint64_t>(g >> 2), offset, seed);
                float r[4];
                if (normal) noisynn::rng::normal4(blk, r);
                else noisynn::rng::uniform4(blk, r);
                const float v = r[g & 3];
                const float want = normal ? xs[i] + s * (m + d * v) : v < half_p ? salt : v < p ? pepper : xs[i];
                if (os[i] != want) {
                  NN_EXPECT(false, (normal ? "add_scaled_normals" : "select_by_uniforms")
                                       << (fused ? " (fused)" : " (loop)") << ": start " << g0 << " count " << n
                                       << " shift " << shift << " stream " << stream << " element " << i << ": "
                                       << os[i] << " != " << want);
                  noisynn::rng::set_fused_kernels(before);
                  return true;
                }
              }
              NN_EXPECT(std::isnan(out[shift + n]) && (shift == 0 || std::isnan(out[0])),
                        (normal ? "add_scaled_normals" : "select_by_uniforms")
                            << (fused ? " (fused)" : " (loop)") << " wrote outside [0, " << n << ")");
            }
    noisynn::rng::set_fused_kernels(before);
  }
  std::printf("     (cases checked: %d, the fused path on this CPU: %s)\n", checked,
              std::string(noisynn::rng::philox_cpu_path()) == "avx512" ? "yes" : "no");
  return true;
}

NN_TEST("cpu forward and backward equal the literal formula (float32, float64)") {
  for (auto dtype : {at::kFloat, at::kDouble}) {
    const double tol = dtype == at::kDouble ? 1e-12 : 3e-6;
    for (auto kind : kKinds) {
      for (const auto& c : kCases) {
        for (bool detach : {false, true}) {
          torch::manual_seed(7);
          at::Tensor x = torch::randn(c.shape, at::TensorOptions().dtype(dtype));
          at::Tensor w = torch::randn(c.shape, at::TensorOptions().dtype(dtype));
          NoiseParams p = params(kind, c.axis, detach);
          at::Tensor fused, ref;
          {
            at::NoGradGuard g;
            fused = noisynn::inject_noise(x, p);
            ref = noisynn::inject_noise_reference(x, p);
          }
          NN_EXPECT(max_diff(fused, ref) < tol, noisynn::noise_kind_name(kind)
                                                    << " forward " << c10::toString(dtype) << " axis " << c.axis << ": "
                                                    << max_diff(fused, ref));
          double gd = max_diff(grad_of(x, w, p, false), grad_of(x, w, p, true));
          NN_EXPECT(gd < tol, noisynn::noise_kind_name(kind) << " backward detach=" << detach << ": " << gd);
        }
      }
    }
  }
  return true;
}

NN_TEST("cpu kernels split across threads mid-row and mid-block equal the literal formula") {
  // Shapes big enough that at::parallel_for splits the streaming passes (spans start inside a
  // row and inside an outer block) and the reductions into several column chunks; 3 threads so
  // the split points are not at halves. Also the last axis (inner = 1) and a non-contiguous input.
  struct Big {
    std::vector<int64_t> shape;
    int64_t axis;
  };
  const std::vector<Big> cases = {{{3, 40, 701}, 1}, {{37, 2003}, 0}, {{5, 7, 3001}, 2}, {{2, 9, 4001}, 0}};
  const int before = at::get_num_threads();
  at::set_num_threads(3);
  for (const auto& c : cases) {
    for (bool transposed : {false, true}) {
      torch::manual_seed(11);
      at::Tensor x = torch::randn(c.shape);
      if (transposed) x = x.transpose(0, -1).contiguous().transpose(0, -1);  // same values, strided
      at::Tensor w = torch::randn(c.shape);
      for (auto kind : kKinds) {
        NoiseParams p = params(kind, c.axis);
        at::Tensor fused, ref;
        {
          at::NoGradGuard g;
          fused = noisynn::inject_noise(x, p);
          ref = noisynn::inject_noise_reference(x, p);
        }
        const double fd = max_diff(fused, ref);
        NN_EXPECT(fd < 1e-5, noisynn::noise_kind_name(kind)
                                 << " forward, shape dim " << c.shape.size() << " axis " << c.axis << ": " << fd);
        const double gd = max_diff(grad_of(x, w, p, false), grad_of(x, w, p, true));
        NN_EXPECT(gd < 1e-5, noisynn::noise_kind_name(kind) << " backward, axis " << c.axis << ": " << gd);
      }
    }
  }
  at::set_num_threads(before);
  return true;
}

NN_TEST("cpu kernels give the same bits with non-temporal stores as with plain ones, fused or not") {
  // Outputs the size of the last-level cache and more are written non-temporally; force that
  // path on small tensors, whose rows start at every alignment (odd inner), forward and backward,
  // with the fused gaussian / salt-and-pepper kernels (philox_cpu.h) on and off.
  const std::vector<Case> cases = {{{3, 40, 701}, 1}, {{37, 2003}, 0}, {{2, 9, 4001}, 0}, {{64, 3, 5}, 0}, {{5, 3}, 1}};
  for (const auto& c : cases) {
    torch::manual_seed(5);
    const at::Tensor x = torch::randn(c.shape), w = torch::randn(c.shape);
    for (auto kind : {NoiseKind::Linear, NoiseKind::Optimal, NoiseKind::Gaussian, NoiseKind::SaltPepper}) {
      const NoiseParams p = params(kind, c.axis);
      at::Tensor out[4], grad[4];
      for (int config = 0; config < 4; ++config) {
        const bool streamed = config & 1, fused = config < 2;
        const int64_t before = noisynn::impl::set_stream_store_threshold(streamed ? 0 : INT64_MAX);
        const bool fused_before = noisynn::rng::set_fused_kernels(fused);
        {
          at::NoGradGuard g;
          out[config] = noisynn::inject_noise(x, p);
        }
        grad[config] = grad_of(x, w, p, false);
        noisynn::impl::set_stream_store_threshold(before);
        noisynn::rng::set_fused_kernels(fused_before);
      }
      for (int config = 1; config < 4; ++config) {
        NN_EXPECT(torch::equal(out[0], out[config]),
                  noisynn::noise_kind_name(kind) << " forward differs, axis " << c.axis << ", config " << config);
        NN_EXPECT(torch::equal(grad[0], grad[config]),
                  noisynn::noise_kind_name(kind) << " backward differs, axis " << c.axis << ", config " << config);
      }
    }
  }
  return true;
}

NN_TEST("cpu float16 and bfloat16 follow float32 within their precision") {
  torch::manual_seed(3);
  at::Tensor x = torch::randn({32, 10, 8});
  for (auto dtype : {at::kHalf, at::kBFloat16}) {
    for (auto kind : kKinds) {
      NoiseParams p = params(kind, 0);
      at::NoGradGuard g;
      at::Tensor lo = noisynn::inject_noise(x.to(dtype), p).to(at::kFloat);
      at::Tensor hi = noisynn::inject_noise(x.to(dtype).to(at::kFloat), p);
      NN_EXPECT(max_diff(lo, hi) < (dtype == at::kHalf ? 2e-2 : 1e-1), noisynn::noise_kind_name(kind)
                                                                           << " " << c10::toString(dtype));
    }
  }
  return true;
}

NN_TEST("k = 1 is the identity for linear and optimal") {
  at::Tensor x = torch::randn({1, 9, 4});
  at::NoGradGuard g;
  for (auto kind : {NoiseKind::Linear, NoiseKind::Optimal}) {
    NN_EXPECT(max_diff(noisynn::inject_noise(x, params(kind, 0)), x) == 0, noisynn::noise_kind_name(kind));
  }
  return true;
}

NN_TEST("cuda forward and backward equal the cpu kernel (all dtypes)") {
  if (!torch::cuda::is_available()) return false;
  for (auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
    const double tol = dtype == at::kDouble ? 1e-12 : dtype == at::kFloat ? 2e-5 : dtype == at::kHalf ? 2e-2 : 1e-1;
    for (auto kind : kKinds) {
      for (const auto& c : kCases) {
        for (bool detach : {false, true}) {
          torch::manual_seed(11);
          at::Tensor x = torch::randn(c.shape).to(dtype);
          at::Tensor w = torch::randn(c.shape).to(dtype);
          NoiseParams p = params(kind, c.axis, detach);
          at::Tensor xc = x.to(at::kCUDA), wc = w.to(at::kCUDA);
          at::Tensor cpu, gpu;
          {
            at::NoGradGuard g;
            cpu = noisynn::inject_noise(x, p);
            gpu = noisynn::inject_noise(xc, p);
          }
          NN_EXPECT(gpu.is_cuda(), "result stays on the GPU");
          NN_EXPECT(max_diff(cpu, gpu) < tol * 10, noisynn::noise_kind_name(kind) << " forward " << c10::toString(dtype)
                                                                                  << ": " << max_diff(cpu, gpu));
          double gd = max_diff(grad_of(x, w, p, false), grad_of(xc, wc, p, false));
          NN_EXPECT(gd < tol * 10, noisynn::noise_kind_name(kind)
                                       << " backward " << c10::toString(dtype) << ": " << gd);
          if (dtype == at::kDouble) {
            at::NoGradGuard g;
            NN_EXPECT(max_diff(gpu, noisynn::inject_noise_reference(xc, p)) < 1e-10,
                      "cuda vs the literal formula on cuda");
          }
        }
      }
    }
  }
  return true;
}

NN_TEST("cuda large and narrow shapes equal the cpu kernel (ViT grids, last axis, ResNet rows, 1-D)") {
  if (!torch::cuda::is_available()) return false;
  // The launch shape follows the geometry: the wide column kernel for the ViT grids, the narrow
  // one (with k split in chunks over grid.z) for the last axis, a 7-wide ResNet row and a 1-D tensor.
  struct Big {
    std::vector<int64_t> shape;
    int64_t axis;
  };
  for (const Big& c : {Big{{128, 196, 192}, 0}, Big{{64, 197, 768}, 0}, Big{{4096, 1024}, 1}, Big{{32, 512, 7, 7}, 2},
                       Big{{1 << 20}, 0}, Big{{3, 100003}, 1}}) {
    at::Tensor x = torch::randn(c.shape);
    at::Tensor xc = x.to(at::kCUDA);
    at::Tensor w = torch::randn(c.shape);
    for (auto kind : kKinds) {
      NoiseParams p = params(kind, c.axis);
      {
        at::NoGradGuard g;
        const double d = max_diff(noisynn::inject_noise(x, p), noisynn::inject_noise(xc, p));
        NN_EXPECT(d < 1e-4, noisynn::noise_kind_name(kind)
                                << " forward, " << c.shape.size() << "-d axis " << c.axis << ": " << d);
      }
      const double gd = max_diff(grad_of(x, w, p, false), grad_of(xc, w.to(at::kCUDA), p, false));
      NN_EXPECT(gd < 1e-4, noisynn::noise_kind_name(kind) << " backward, axis " << c.axis << ": " << gd);
    }
  }
  return true;
}

NN_TEST("saltPepper's salt and pepper are the exact max and min wherever they sit, in float and double") {
  // The reduction runs in vector lanes over blocks with a scalar tail: put the extremes in the
  // first block, the body and the tail, at lengths around the block sizes, and compare with the
  // literal formula (torch.max / torch.min).
  at::NoGradGuard g;
  NoiseParams p = params(NoiseKind::SaltPepper, 0);
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (int64_t len : {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 65, 1000, 40001}) {
      for (int64_t where : {int64_t{0}, len / 2, len - 1}) {
        torch::manual_seed(len * 3 + where);
        at::Tensor x = torch::randn({4, len}, at::TensorOptions().dtype(dtype));
        x.view({-1})[where] = 100.0;
        x.view({-1})[(where + len) % (4 * len)] = -100.0;
        at::Tensor fused = noisynn::inject_noise(x, p);
        at::Tensor ref = noisynn::inject_noise_reference(x, p);
        NN_EXPECT(fused.equal(ref), at::toString(dtype) << ", length " << len << ", extremes at " << where);
      }
    }
  }
  return true;
}

NN_TEST("saltPepper's max / min pass gives the same bits on AVX-512 as on SSE (signed-zero ties, NaN)") {
  // Which of +0 and -0 is the salt (the pepper) when both are the max (the min) depends on the
  // order a lane meets them: the AVX-512 pass keeps the SSE pass's lane order and its first-wins
  // ties, so the bits agree (compared as integers, since -0 == +0). Patterns: both signs in one
  // lane (element 16 j + 5, alternating, starting with either), zeros every 7 elements with hashed
  // signs, and the same with a NaN at each end; on a negative base (ties on the max) and a
  // positive one (ties on the min); lengths around both passes' 16-element steps.
  at::NoGradGuard g;
  NoiseParams p = params(NoiseKind::SaltPepper, 0);
  int cases = 0;
  for (int64_t len : {5, 16, 17, 33, 250, 4099}) {
    for (int pattern = 0; pattern < 8; ++pattern) {
      torch::manual_seed(len + pattern);
      const double base_sign = pattern < 4 ? -1.0 : 1.0;
      at::Tensor x = (torch::rand({3, len}) + 1.0) * base_sign;  // away from zero: the zeros are the extreme
      at::Tensor flat = x.view({-1});
      const int kind = pattern % 4;
      if (kind < 2) {
        for (int64_t j = 1; 16 * j + 5 < flat.numel(); ++j) flat[16 * j + 5] = (j + kind) % 2 ? 0.0 : -0.0;
      } else {
        for (int64_t i = 3; i < flat.numel(); i += 7) flat[i] = ((i * 2654435761u) >> 9) & 1 ? 0.0 : -0.0;
      }
      if (kind == 3) {
        flat[0] = std::numeric_limits<float>::quiet_NaN();
        flat[flat.numel() - 1] = std::numeric_limits<float>::quiet_NaN();
      }
      at::Tensor out[2];
      for (int fused = 0; fused < 2; ++fused) {
        const bool before = noisynn::rng::set_fused_kernels(fused == 1);
        out[fused] = noisynn::inject_noise(x, p);
        noisynn::rng::set_fused_kernels(before);
      }
      NN_EXPECT(out[0].view(at::kInt).equal(out[1].view(at::kInt)), "length " << len << ", pattern " << pattern);
      ++cases;
    }
  }
  NN_EXPECT(cases == 48, "ran " << cases << " cases");
  return true;
}

NN_TEST("saltPepper with a NaN: the kernel, the literal formula (and CUDA when present) agree") {
  // The salt and the pepper are the tensor's max and min; NaN propagates into both, as torch.max
  // does, so every replaced element is NaN and every kept one is untouched.
  torch::manual_seed(21);
  at::Tensor x = torch::randn({16, 50, 12});
  x.view({-1})[4321] = std::numeric_limits<float>::quiet_NaN();
  NoiseParams p = params(NoiseKind::SaltPepper, 0);
  at::NoGradGuard g;
  at::Tensor fused = noisynn::inject_noise(x, p);
  at::Tensor ref = noisynn::inject_noise_reference(x, p);
  NN_EXPECT(fused.isnan().equal(ref.isnan()), "NaN positions differ");
  NN_EXPECT(
      at::where(ref.isnan(), at::zeros_like(ref), ref).equal(at::where(fused.isnan(), at::zeros_like(fused), fused)),
      "values differ");
  const double replaced = fused.isnan().to(at::kDouble).mean().item<double>();
  NN_EXPECT(replaced > 0.3 && replaced < 0.5, "replaced fraction " << replaced << " for p = 0.4");
  if (torch::cuda::is_available()) {
    at::Tensor gpu = noisynn::inject_noise(x.to(at::kCUDA), p).to(at::kCPU);
    NN_EXPECT(gpu.isnan().equal(fused.isnan()), "CUDA NaN positions differ from the CPU's");
  }
  return true;
}
