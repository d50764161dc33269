// Counter-based random numbers (Philox4x32-10) shared by the CPU and CUDA kernels, so one
// (seed, offset) gives the same noise on every device. Free of ATen: nvcc compiles it alone.
//
// Stream layout: element e of a contiguous tensor takes lane (e & 3) of the Philox block
// numbered (e >> 2), with counter {block lo, block hi, offset lo, offset hi} and key = seed.
// Distinct offsets are independent streams (models bump the offset once per forward pass).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define NOISYNN_HD __host__ __device__ __forceinline__
#else
#define NOISYNN_HD inline
#endif

namespace noisynn {
namespace rng {

struct Block {
  uint32_t v[4];
};

NOISYNN_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
#if defined(__CUDA_ARCH__)
  *hi = __umulhi(a, b);
  return a * b;
#else
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
#endif
}

// Philox4x32 with 10 rounds (Salmon et al., SC'11): 4 random 32-bit words per counter.
NOISYNN_HD Block philox4x32_10(uint64_t block, uint64_t offset, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32);
  uint32_t c2 = static_cast<uint32_t>(offset), c3 = static_cast<uint32_t>(offset >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

// A float in (0, 1): 24 random bits, centred in their bucket so log() never sees 0.
NOISYNN_HD float uniform_open(uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

// Four uniforms in (0, 1) for one block.
NOISYNN_HD void uniform4(const Block& b, float out[4]) {
  out[0] = uniform_open(b.v[0]);
  out[1] = uniform_open(b.v[1]);
  out[2] = uniform_open(b.v[2]);
  out[3] = uniform_open(b.v[3]);
}

// Four standard normals for one block: Box-Muller on lanes (0,1) and (2,3).
NOISYNN_HD void normal4(const Block& b, float out[4]) {
  const float two_pi = 6.2831853071795864f;
  float u0 = uniform_open(b.v[0]), u1 = uniform_open(b.v[1]);
  float u2 = uniform_open(b.v[2]), u3 = uniform_open(b.v[3]);
  float r0 = sqrtf(-2.0f * logf(u0));
  float r1 = sqrtf(-2.0f * logf(u2));
  out[0] = r0 * cosf(two_pi * u1);
  out[1] = r0 * sinf(two_pi * u1);
  out[2] = r1 * cosf(two_pi * u3);
  out[3] = r1 * sinf(two_pi * u3);
}

}  // namespace rng
}  // namespace noisynn
