// Benchmark of the fused noise op against the literal formula and a plain copy, on CPU and
// (when present) CUDA. Prints ratios measured in this one run. No Node needed.
//   noisynn_native_bench [cpu|cuda|all] [reps]
// On CPU it ends with the floor under the random kinds: the Philox numbers alone against a copy.
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "common/philox_cpu.h"
#include "common/threads.h"
#include "ops/noise.h"

using noisynn::NoiseKind;
using noisynn::NoiseParams;

namespace {

void sync(const at::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Median seconds of `reps` runs after two warm-ups.
double time_it(const at::Device& d, int reps, const std::function<void()>& f) {
  f();
  f();
  sync(d);
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    sync(d);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

// Medians of a and b timed in alternation (a, b, a, b, ...), so both see the same allocator
// and cache state: a copy timed in a separate loop can land on page-faulting fresh mappings
// while the loop after it reuses freed memory (or the other way round), which alone moved
// the copy's time by 5x on the 2-core VM.
std::pair<double, double> time_pair(const at::Device& d, int reps, const std::function<void()>& a,
                                    const std::function<void()>& b) {
  for (int i = 0; i < 2; ++i) {
    a();
    b();
  }
  sync(d);
  std::vector<double> ta, tb;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    a();
    sync(d);
    auto t1 = std::chrono::steady_clock::now();
    b();
    sync(d);
    auto t2 = std::chrono::steady_clock::now();
    ta.push_back(std::chrono::duration<double>(t1 - t0).count());
    tb.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  return {median(ta), median(tb)};
}

// The ViT token grids (batch axis, the official site) and the geometries that once ran slowly on
// the GPU: the last axis (inner = 1), a ResNet row of 7 (the spatial axis of a 7x7 map) and a
// 1-D tensor (one long column).
struct Case {
  std::vector<int64_t> shape;
  int64_t axis;
};
const std::vector<Case> kCases = {
    {{128, 196, 192}, 0}, {{64, 197, 768}, 0}, {{4096, 1024}, 1}, {{32, 512, 7, 7}, 2}, {{1 << 22}, 0}};

std::string describe(const Case& c) {
  std::string s = "[";
  for (size_t i = 0; i < c.shape.size(); ++i) s += (i ? "," : "") + std::to_string(c.shape[i]);
  return s + "]@" + std::to_string(c.axis);
}

void bench_device(const at::Device& dev, int reps) {
  std::printf("\n== %s (threads %d)\n", dev.str().c_str(), at::get_num_threads());
  std::printf("%-20s %-10s %10s %10s %12s %12s %10s %12s\n", "shape@axis", "kind", "fwd ms", "copy ms", "fwd/copy",
              "fused f+b", "literal f+b", "speedup");
  for (const Case& c : kCases) {
    at::Tensor x = torch::randn(c.shape, at::TensorOptions().device(dev));
    at::Tensor w = torch::randn(c.shape, at::TensorOptions().device(dev));
    // The literal formula builds the k x k quality matrix: skip it where that is too large.
    const bool literal = x.size(c.axis) <= 4096;
    for (auto kind : {NoiseKind::Linear, NoiseKind::Optimal, NoiseKind::Gaussian, NoiseKind::SaltPepper}) {
      NoiseParams p;
      p.kind = kind;
      p.axis = c.axis;
      p.strength = kind == NoiseKind::SaltPepper ? 0.1 : kind == NoiseKind::Gaussian ? 1.0 : 0.3;
      p.seed = 42;
      // The copy allocates its output like the op does: x.clone().
      const auto [copy, fwd] = time_pair(
          dev, reps, [&] { at::Tensor y = x.clone(); },
          [&] {
            at::NoGradGuard g;
            at::Tensor y = noisynn::inject_noise(x, p);
          });
      auto fb = [&](bool reference) {
        at::Tensor xr = x.detach().requires_grad_(true);
        at::Tensor y = reference ? noisynn::inject_noise_reference(xr, p) : noisynn::inject_noise(xr, p);
        y.backward(w);
      };
      const double fused_fb = time_it(dev, reps, [&] { fb(false); });
      const double literal_fb = literal ? time_it(dev, std::max(3, reps / 3), [&] { fb(true); }) : 0.0;
      std::printf("%-20s %-10s %10.3f %10.3f %11.2fx %10.3fms", describe(c).c_str(), noisynn::noise_kind_name(kind),
                  fwd * 1e3, copy * 1e3, fwd / copy, fused_fb * 1e3);
      if (literal) std::printf(" %10.3fms %11.1fx\n", literal_fb * 1e3, literal_fb / fused_fb);
      else std::printf(" %10s %12s\n", "-", "-");
      if (dev.is_cuda()) {
        const double bytes = 2.0 * x.numel() * x.element_size();
        std::printf("%-20s %-10s   bandwidth: fused %.0f GB/s, d2d copy %.0f GB/s, fused/copy %.2f\n", "", "",
                    bytes / fwd / 1e9, bytes / copy / 1e9, copy / fwd);
      }
    }
  }
}

// The floor under the random kinds on this CPU: the Philox numbers alone (uniforms for
// saltPepper, normals for gaussian), drawn on the op's threads into an L1 buffer and never
// written out, against a copy of the same tensor. The fused op cannot take less than this.
void bench_stream_floor(int reps) {
  std::printf("\n== cpu: the stream alone, no memory traffic (threads %d, Philox path %s)\n", at::get_num_threads(),
              noisynn::rng::philox_cpu_path());
  std::printf("%-20s %-10s %10s %10s %12s\n", "shape", "numbers", "draw ms", "copy ms", "draw/copy");
  for (const Case& c : kCases) {
    if (c.axis != 0 || c.shape.size() != 3) continue;  // the ViT grids
    at::Tensor x = torch::randn(c.shape);
    const int64_t blocks = (x.numel() + 3) / 4;
    for (bool normal : {false, true}) {
      std::atomic<uint32_t> sink{0};
      const auto [copy, draw] = time_pair(
          at::Device(at::kCPU), reps, [&] { at::Tensor y = x.clone(); },
          [&] {
            at::parallel_for(0, blocks, 2048, [&](int64_t b0, int64_t b1) {
              float buf[1024];
              uint32_t acc = 0;
              for (int64_t b = b0; b < b1; b += 256) {
                noisynn::rng::philox_blocks(static_cast<uint64_t>(b), std::min<int64_t>(256, b1 - b), 7, 42, normal,
                                            buf);
                acc += static_cast<uint32_t>(buf[b & 255] * 1000.0f);
              }
              sink += acc;
            });
          });
      std::printf("%-20s %-10s %10.3f %10.3f %11.2fx\n", describe(c).c_str(), normal ? "normal" : "uniform", draw * 1e3,
                  copy * 1e3, draw / copy);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  noisynn::apply_runtime_defaults();
  std::string which = argc > 1 ? argv[1] : "all";
  int reps = argc > 2 ? std::atoi(argv[2]) : 15;
  std::printf("noisynn noise-op benchmark: libtorch %s, float32, batch axis\n", TORCH_VERSION);
  std::printf("fwd/copy: fused forward time over a plain copy of x (goal <= 2.5)\n");
  std::printf("speedup: literal formula forward+backward over fused forward+backward (goal >= 20)\n");
  if (which == "cpu" || which == "all") {
    bench_device(at::Device(at::kCPU), reps);
    bench_stream_floor(reps);
  }
  if ((which == "cuda" || which == "all") && torch::cuda::is_available()) bench_device(at::Device(at::kCUDA), reps * 4);
  if (which == "cuda" && !torch::cuda::is_available()) {
    std::printf("no CUDA device\n");
    return 1;
  }
  return 0;
}
