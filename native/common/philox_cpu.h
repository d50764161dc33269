// The Philox stream of common/philox.h on the CPU, many blocks at a time: AVX-512, AVX2 or
// portable code (whichever this CPU runs), bit-identical to rng::philox4x32_10 + uniform4 / normal4.
#pragma once

#include <algorithm>
#include <cstdint>

namespace noisynn {
namespace rng {

// Blocks [block0, block0 + count) of the stream keyed by (seed, offset) into out[4 * count]:
// uniforms in (0, 1), or normals (Box-Muller on lanes (0,1) and (2,3)); block l's word w is
// out[4 l + w]. Runs the best path this CPU has.
void philox_blocks(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal, float* out);

// The same on a named path: "best", "avx512", "avx2" or "portable" (the tests compare them);
// false, writing nothing, when the name is unknown or this CPU cannot run that path.
bool philox_blocks_on_path(const char* path, uint64_t block0, int64_t count, uint64_t offset, uint64_t seed,
                           bool normal, float* out);

// The path philox_blocks runs on this CPU: "avx512", "avx2" or "portable".
const char* philox_cpu_path();

// Visits [e0, e1) in runs: f(b, e, v) for consecutive [b, e) covering it in order, where v[i] is
// the uniform (or normal) number of element b + i. A run is at most 1024 elements, in L1.
template <bool Normal, typename F>
inline void for_each_random_run(int64_t e0, int64_t e1, uint64_t seed, uint64_t offset, F f) {
  constexpr int64_t kBlocks = 256;
  float buf[4 * kBlocks];
  int64_t e = e0;
  while (e < e1) {
    const int64_t b0 = e >> 2;
    const int64_t b1 = std::min<int64_t>((e1 + 3) >> 2, b0 + kBlocks);
    philox_blocks(static_cast<uint64_t>(b0), b1 - b0, offset, seed, Normal, buf);
    const int64_t stop = std::min<int64_t>(e1, b1 * 4);
    f(e, stop, buf + (e - b0 * 4));
    e = stop;
  }
}

// Visits every element index e in [e0, e1) with its uniform (or normal) number from the stream.
template <bool Normal, typename F>
inline void for_each_random(int64_t e0, int64_t e1, uint64_t seed, uint64_t offset, F f) {
  for_each_random_run<Normal>(e0, e1, seed, offset, [f](int64_t b, int64_t e, const float* v) {
    for (int64_t i = b; i < e; ++i) f(i, v[i - b]);
  });
}

// The batch interleave of data-parallel ranks (ops/noise.h, NoiseParams): local element e, in
// sample j = e / per_sample, is element (j * world + rank) * per_sample + e % per_sample of the
// global batch, whose counter it takes.
struct Interleave {
  int64_t per_sample = 1;
  int64_t rank = 0;
  int64_t world = 1;
  int64_t global(int64_t e) const {
    if (world == 1) return e;
    const int64_t j = e / per_sample;
    return (j * world + rank) * per_sample + (e - j * per_sample);
  }
};

// Splits local indices [e0, e1) into pieces that are contiguous in the global batch too (each
// sample's elements are contiguous in both): f(l0, l1, g0) for local [l0, l1) starting at global
// element g0, in order.
template <typename F>
inline void for_each_global_piece(int64_t e0, int64_t e1, const Interleave& il, F f) {
  if (il.world == 1) return f(e0, e1, e0);
  while (e0 < e1) {
    const int64_t stop = std::min(e1, (e0 / il.per_sample + 1) * il.per_sample);
    f(e0, stop, il.global(e0));
    e0 = stop;
  }
}

// for_each_random_run under an interleave: runs over local indices [e0, e1), each number that of
// its global element.
template <bool Normal, typename F>
inline void for_each_random_run(int64_t e0, int64_t e1, const Interleave& il, uint64_t seed, uint64_t offset, F f) {
  if (il.world == 1) return for_each_random_run<Normal>(e0, e1, seed, offset, f);
  for_each_global_piece(e0, e1, il, [&](int64_t l0, int64_t l1, int64_t g0) {
    const int64_t shift = g0 - l0;
    for_each_random_run<Normal>(g0, l1 + shift, seed, offset,
                                [&](int64_t b, int64_t e, const float* v) { f(b - shift, e - shift, v); });
  });
}

// The noise op's two random kinds on float tensors, fused with the stream. Element i of x and out
// takes the number of stream element g0 + i. On CPUs with AVX-512 the numbers go from registers
// through L1 straight into out, 16 lanes at a time, with non-temporal stores when `stream`;
// elsewhere (or under set_fused_kernels(false)) a loop over for_each_random_run with plain stores.
// Gaussian: out[i] = x[i] + s * (m + d * z), z the normal, in float arithmetic.
void add_scaled_normals(int64_t g0, int64_t count, uint64_t seed, uint64_t offset, const float* x, float* out, float s,
                        float m, float d, bool stream);
// Salt and pepper: out[i] = salt where u < half_p, else pepper where u < p, else x[i]; u the uniform.
void select_by_uniforms(int64_t g0, int64_t count, uint64_t seed, uint64_t offset, const float* x, float* out,
                        float half_p, float p, float salt, float pepper, bool stream);

// Whether the two above (and the noise op's AVX-512 max / min pass) run their AVX-512 paths: the
// CPU has AVX-512 and set_fused_kernels has not turned them off.
bool fused_kernels();
// Test hook: turns those AVX-512 paths on or off; returns the previous setting. The tests compare
// both ways bit for bit.
bool set_fused_kernels(bool enabled);

// for_each_random under an interleave: visits every local index e in [e0, e1) with the number of
// its global element.
template <bool Normal, typename F>
inline void for_each_random(int64_t e0, int64_t e1, const Interleave& il, uint64_t seed, uint64_t offset, F f) {
  for_each_random_run<Normal>(e0, e1, il, seed, offset, [f](int64_t b, int64_t e, const float* v) {
    for (int64_t i = b; i < e; ++i) f(i, v[i - b]);
  });
}

}  // namespace rng
}  // namespace noisynn
