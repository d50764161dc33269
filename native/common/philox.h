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
NOISYNN_HD float uniform_open(uint32_t bits) { return (static_cast<float>(bits >> 8) + 0.5f) * (1.0f / 16777216.0f); }

// Four uniforms in (0, 1) for one block.
NOISYNN_HD void uniform4(const Block& b, float out[4]) {
  out[0] = uniform_open(b.v[0]);
  out[1] = uniform_open(b.v[1]);
  out[2] = uniform_open(b.v[2]);
  out[3] = uniform_open(b.v[3]);
}

// Bit casts that nvcc and host compilers both vectorize.
NOISYNN_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
#endif
}
NOISYNN_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// log(x) for x in (0, 1], branch-free (so loops over it vectorize): x = m 2^e with m in
// [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its odd series
// to s^9 (relative error below 2e-7, float rounding dominates). The same code runs on CPU and GPU,
// so both draw the same normals up to float contraction.
NOISYNN_HD float log_unit(float x) {
  const uint32_t bits = float_bits(x);
  const uint32_t m_bits = (bits & 0x007fffffu) | 0x3f800000u;  // mantissa as a float in [1, 2)
  // Halve m (one off its exponent) when it is above sqrt(2), with masks rather than branches.
  const uint32_t big = 0u - static_cast<uint32_t>(m_bits > 0x3fb504f3u);  // sqrt(2)
  const float m = bits_float(m_bits - (big & 0x00800000u));
  const int32_t e = static_cast<int32_t>((bits >> 23) & 0xff) - 127 + static_cast<int32_t>(big & 1u);
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  const float p = 1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9))));
  return 2.0f * s * p + static_cast<float>(e) * 0.693147180559945f;
}

// sin(2 pi u) and cos(2 pi u), branch-free: reduce u to the nearest quarter turn q/4 and a
// remainder angle in [-pi/4, pi/4], evaluate Taylor polynomials there (error < 4e-8), rotate by q.
// u must be in (0, 1) (a uniform_open draw): the quarter turn is then rounded by truncation.
NOISYNN_HD void sincos_turns(float u, float* sin_out, float* cos_out) {
  const float q = static_cast<float>(static_cast<int32_t>(u * 4.0f + 0.5f));
  const float a = (u - q * 0.25f) * 6.2831853071795864f;
  const float a2 = a * a;
  const float sn = a * (1.0f + a2 * (-1.0f / 6 + a2 * (1.0f / 120 + a2 * (-1.0f / 5040 + a2 * (1.0f / 362880)))));
  const float cs = 1.0f + a2 * (-0.5f + a2 * (1.0f / 24 + a2 * (-1.0f / 720 + a2 * (1.0f / 40320))));
  // Rotate by k quarter turns with bit operations (no branches, so loops vectorize):
  // sin(a + k pi/2) is sn, cs, -sn, -cs and cos(a + k pi/2) is cs, -sn, -cs, sn for k = 0..3.
  const uint32_t k = static_cast<uint32_t>(static_cast<int32_t>(q));
  const uint32_t swap = 0u - (k & 1u);
  const uint32_t sn_bits = float_bits(sn), cs_bits = float_bits(cs);
  const uint32_t s_bits = (swap & cs_bits) | (~swap & sn_bits);
  const uint32_t c_bits = (swap & sn_bits) | (~swap & cs_bits);
  *sin_out = bits_float(s_bits ^ ((k & 2u) << 30));
  *cos_out = bits_float(c_bits ^ (((k + 1u) & 2u) << 30));
}

// Two standard normals from two uniforms (Box-Muller).
NOISYNN_HD void box_muller(float u_radius, float u_angle, float* z0, float* z1) {
  const float r = sqrtf(-2.0f * log_unit(u_radius));
  float s, c;
  sincos_turns(u_angle, &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

// Four standard normals for one block: Box-Muller on lanes (0,1) and (2,3).
NOISYNN_HD void normal4(const Block& b, float out[4]) {
  box_muller(uniform_open(b.v[0]), uniform_open(b.v[1]), &out[0], &out[1]);
  box_muller(uniform_open(b.v[2]), uniform_open(b.v[3]), &out[2], &out[3]);
}

}  // namespace rng
}  // namespace noisynn
