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

// Visits every element index e in [e0, e1) with its uniform (or normal) number from the stream.
template <bool Normal, typename F>
inline void for_each_random(int64_t e0, int64_t e1, uint64_t seed, uint64_t offset, F f) {
  constexpr int64_t kBlocks = 256;
  float buf[4 * kBlocks];
  int64_t e = e0;
  while (e < e1) {
    const int64_t b0 = e >> 2;
    const int64_t b1 = std::min<int64_t>((e1 + 3) >> 2, b0 + kBlocks);
    philox_blocks(static_cast<uint64_t>(b0), b1 - b0, offset, seed, Normal, buf);
    const int64_t first = b0 * 4;
    const int64_t stop = std::min<int64_t>(e1, b1 * 4);
    for (; e < stop; ++e) f(e, buf[e - first]);
  }
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

// for_each_random under an interleave: visits every local index e in [e0, e1) with the number of
// its global element (each sample's elements are contiguous in both, so a run per sample).
template <bool Normal, typename F>
inline void for_each_random(int64_t e0, int64_t e1, const Interleave& il, uint64_t seed, uint64_t offset, F f) {
  if (il.world == 1) return for_each_random<Normal>(e0, e1, seed, offset, f);
  while (e0 < e1) {
    const int64_t stop = std::min(e1, (e0 / il.per_sample + 1) * il.per_sample);
    const int64_t shift = il.global(e0) - e0;
    for_each_random<Normal>(e0 + shift, stop + shift, seed, offset, [&](int64_t g, float v) { f(g - shift, v); });
    e0 = stop;
  }
}

}  // namespace rng
}  // namespace noisynn
