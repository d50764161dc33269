// CPU kernels of the noise op: fused, parallel (at::parallel_for), never a k-by-k matrix.
//
// x is viewed as [outer, k, inner] (k along the mixing axis). linear and gaussian are one
// streaming pass (read x, write out); optimal and saltPepper first reduce along the axis (sum,
// max/min) by column chunks into a buffer of outer * inner values, then make one streaming pass.
// The streaming passes walk contiguous spans, so the hardware prefetchers see long runs. The
// random kinds draw from the Philox stream of common/philox.h, vectorized below with AVX-512 or
// AVX2 where the CPU has them.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/Dispatch.h>

#include <algorithm>
#include <limits>
#include <string>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <vector>

#include "common/philox.h"
#include "ops/noise.h"
#include "ops/noise_impl.h"

namespace noisynn {
namespace impl {

namespace {

// Calls f(tile_outer, j0, j1) for every tile, in parallel.
template <typename F>
void for_each_tile(const Geometry& g, int64_t chunk, F f) {
  const int64_t chunks = (g.inner + chunk - 1) / chunk;
  const int64_t tiles = g.outer * chunks;
  // Grain: enough tiles per task that a task moves at least ~32K elements.
  const int64_t per_tile = chunk * g.k;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(per_tile, 1));
  at::parallel_for(0, tiles, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t o = t / chunks;
      const int64_t j0 = (t % chunks) * chunk;
      f(o, j0, std::min(j0 + chunk, g.inner));
    }
  });
}

// The Philox stream for blocks [block0, block0 + count) into out[4 * count]: uniforms, or normals
// (Box-Muller on lanes (0,1) and (2,3)), exactly as rng::philox4x32_10 / normal4 compute them on
// the GPU. Work goes in groups of 16 independent blocks held as four word arrays c[w][lane]: the
// rounds run on them with AVX-512 or AVX2 intrinsics, whichever the CPU has (plain loops
// elsewhere), and the uniform / Box-Muller arithmetic is written as loops over the lanes that the
// compiler vectorizes. All paths give bit-identical numbers (tests/test_noise.cc checks it).
constexpr int kLanes = 16;
using Lanes = uint32_t[4][kLanes];

#if defined(__GNUC__)
#define NOISYNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define NOISYNN_ALWAYS_INLINE inline
#endif

NOISYNN_ALWAYS_INLINE void philox_counters(uint64_t block0, uint64_t offset, Lanes& c) {
  for (int l = 0; l < kLanes; ++l) {
    const uint64_t b = block0 + static_cast<uint64_t>(l);
    c[0][l] = static_cast<uint32_t>(b);
    c[1][l] = static_cast<uint32_t>(b >> 32);
    c[2][l] = static_cast<uint32_t>(offset);
    c[3][l] = static_cast<uint32_t>(offset >> 32);
  }
}

NOISYNN_ALWAYS_INLINE void philox_rounds_portable(uint64_t seed, Lanes& c) {
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c[0][l];
      const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c[2][l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c[1][l] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c[3][l] ^ k1;
      c[1][l] = static_cast<uint32_t>(p1);
      c[3][l] = static_cast<uint32_t>(p0);
      c[0][l] = n0;
      c[2][l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// Words to numbers, interleaved back into stream order: block l's word w is out[4 l + w].
NOISYNN_ALWAYS_INLINE void philox_finish(const Lanes& c, bool normal, int64_t n, float* out) {
  float r[4][kLanes];
  if (normal) {
    for (int l = 0; l < kLanes; ++l) {
      rng::box_muller(rng::uniform_open(c[0][l]), rng::uniform_open(c[1][l]), &r[0][l], &r[1][l]);
      rng::box_muller(rng::uniform_open(c[2][l]), rng::uniform_open(c[3][l]), &r[2][l], &r[3][l]);
    }
  } else {
    for (int w = 0; w < 4; ++w)
      for (int l = 0; l < kLanes; ++l) r[w][l] = rng::uniform_open(c[w][l]);
  }
  for (int64_t l = 0; l < n; ++l)
    for (int w = 0; w < 4; ++w) out[4 * l + w] = r[w][l];
}

void philox_blocks_portable(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal, float* out) {
  for (int64_t base = 0; base < count; base += kLanes) {
    Lanes c;
    philox_counters(block0 + static_cast<uint64_t>(base), offset, c);
    philox_rounds_portable(seed, c);
    philox_finish(c, normal, std::min<int64_t>(kLanes, count - base), out + 4 * base);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define NOISYNN_X86_AVX2 1
// (hi, lo) of the 32x32-bit products a * m in every lane: vpmuludq multiplies the even lanes,
// so the odd lanes go through a second multiply after a 64-bit shift; blends put them back.
__attribute__((target("avx2"))) inline __m256i mulhilo_avx2(__m256i a, __m256i m, __m256i* hi) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

__attribute__((target("avx2"))) void philox_blocks_avx2(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed,
                                                       bool normal, float* out) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i iota[2] = {_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)};
  const __m256i off_lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
  const __m256i off_hi = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
  for (int64_t base = 0; base < count; base += kLanes) {
    Lanes c;
    // Counters in registers (block numbers block + lane, carrying into the high word): scalar
    // stores read back as vectors would stall on store forwarding.
    const uint64_t b = block0 + static_cast<uint64_t>(base);
    const __m256i b_lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(b)));
    const __m256i b_hi = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(b >> 32)));
    // Two independent groups of 8 lanes per word, so the multiplies of one hide the other's latency.
    __m256i x[4][2];
    for (int h = 0; h < 2; ++h) {
      x[0][h] = _mm256_add_epi32(b_lo, iota[h]);
      const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(b_lo, sign), _mm256_xor_si256(x[0][h], sign));
      x[1][h] = _mm256_sub_epi32(b_hi, carry);
      x[2][h] = off_lo;
      x[3][h] = off_hi;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0)), vk1 = _mm256_set1_epi32(static_cast<int>(k1));
      for (int h = 0; h < 2; ++h) {
        __m256i hi0, hi1;
        const __m256i lo0 = mulhilo_avx2(x[0][h], m0, &hi0);
        const __m256i lo1 = mulhilo_avx2(x[2][h], m1, &hi1);
        x[0][h] = _mm256_xor_si256(_mm256_xor_si256(hi1, x[1][h]), vk0);
        x[2][h] = _mm256_xor_si256(_mm256_xor_si256(hi0, x[3][h]), vk1);
        x[1][h] = lo1;
        x[3][h] = lo0;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    for (int w = 0; w < 4; ++w)
      for (int h = 0; h < 2; ++h) _mm256_storeu_si256(reinterpret_cast<__m256i*>(&c[w][8 * h]), x[w][h]);
    philox_finish(c, normal, std::min<int64_t>(kLanes, count - base), out + 4 * base);
  }
}

// GCC 12's AVX-512 intrinsic headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_epi32() pass-through operands; nothing here is uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// AVX-512: 16 lanes per register, the three-way xors in one vpternlogd, and 32 registers, so two
// groups of 16 blocks run interleaved. (avx512f implies FMA to GCC; the build passes
// -ffp-contract=off so the Box-Muller arithmetic rounds exactly as on the other paths.)
__attribute__((target("avx512f"))) inline __m512i mulhilo_avx512(__m512i a, __m512i m, __m512i* hi) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  // vpmulld for the low words: measured 15% faster on Zen 4 than a shift-and-blend.
  return _mm512_mullo_epi32(a, m);
}

__attribute__((target("avx512f"))) void philox_blocks_avx512(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed,
                                                           bool normal, float* out) {
  constexpr int kGroups = 2;
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i off_lo = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
  const __m512i off_hi = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t base = 0; base < count; base += kGroups * kLanes) {
    __m512i x[4][kGroups];
    for (int g = 0; g < kGroups; ++g) {
      const uint64_t b = block0 + static_cast<uint64_t>(base + g * kLanes);
      const __m512i b_lo = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b)));
      const __m512i b_hi = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(b >> 32)));
      x[0][g] = _mm512_add_epi32(b_lo, iota);
      x[1][g] = _mm512_mask_add_epi32(b_hi, _mm512_cmplt_epu32_mask(x[0][g], b_lo), b_hi, one);  // carry
      x[2][g] = off_lo;
      x[3][g] = off_hi;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      const __m512i vk0 = _mm512_set1_epi32(static_cast<int>(k0)), vk1 = _mm512_set1_epi32(static_cast<int>(k1));
      for (int g = 0; g < kGroups; ++g) {
        __m512i hi0, hi1;
        const __m512i lo0 = mulhilo_avx512(x[0][g], m0, &hi0);
        const __m512i lo1 = mulhilo_avx512(x[2][g], m1, &hi1);
        x[0][g] = _mm512_ternarylogic_epi32(hi1, x[1][g], vk0, 0x96);  // hi1 ^ c1 ^ k0
        x[2][g] = _mm512_ternarylogic_epi32(hi0, x[3][g], vk1, 0x96);  // hi0 ^ c3 ^ k1
        x[1][g] = lo1;
        x[3][g] = lo0;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    for (int g = 0; g < kGroups; ++g) {
      const int64_t first = base + g * kLanes;
      if (first >= count) break;
      Lanes c;
      for (int w = 0; w < 4; ++w) _mm512_storeu_si512(&c[w][0], x[w][g]);
      philox_finish(c, normal, std::min<int64_t>(kLanes, count - first), out + 4 * first);
    }
  }
}

#pragma GCC diagnostic pop
#endif

enum class PhiloxPath { Portable = 0, Avx2 = 1, Avx512 = 2 };

PhiloxPath best_philox_path() {
#ifdef NOISYNN_X86_AVX2
  if (__builtin_cpu_supports("avx512f")) return PhiloxPath::Avx512;
  if (__builtin_cpu_supports("avx2")) return PhiloxPath::Avx2;
#endif
  return PhiloxPath::Portable;
}

inline void philox_blocks_on(PhiloxPath path, uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal,
                             float* out) {
  switch (path) {
#ifdef NOISYNN_X86_AVX2
    case PhiloxPath::Avx512: return philox_blocks_avx512(block0, count, offset, seed, normal, out);
    case PhiloxPath::Avx2: return philox_blocks_avx2(block0, count, offset, seed, normal, out);
#endif
    default: return philox_blocks_portable(block0, count, offset, seed, normal, out);
  }
}

inline void philox_blocks(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal, float* out) {
  static const PhiloxPath path = best_philox_path();
  philox_blocks_on(path, block0, count, offset, seed, normal, out);
}

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

// Calls f(o, l0, l1) for spans [l0, l1) of the outer block o's k * inner elements, in parallel
// over the whole tensor in contiguous spans of at least 32K elements:
// streaming order, so the hardware prefetchers see long runs.
template <typename F>
void for_each_span(const Geometry& g, F f) {
  constexpr int64_t kGrain = 1 << 15;
  const int64_t block = g.k * g.inner;
  at::parallel_for(0, g.outer * block, kGrain, [&](int64_t e0, int64_t e1) {
    while (e0 < e1) {
      const int64_t o = e0 / block, l0 = e0 - o * block;
      const int64_t l1 = std::min(block, l0 + (e1 - e0));
      f(o, l0, l1);
      e0 += l1 - l0;
    }
  });
}

template <typename scalar_t>
void linear_rows(const scalar_t* x, scalar_t* out, const Geometry& g, double a_d, bool transpose) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t a = static_cast<acc_t>(a_d);
  // forward: out_i = x_i + a (x_{i+1} - x_i); backward (transpose): g_i + a (g_{i-1} - g_i).
  // Within an outer block the neighbour of element l is l + inner (l - inner backward), except
  // for the wrapping row, so each span is at most two loops with a constant neighbour offset;
  // the neighbour row was read one row earlier (or is read one row later) and sits in L2.
  const int64_t block = g.k * g.inner;
  const int64_t split = transpose ? g.inner : block - g.inner;  // first element of the other piece
  for_each_span(g, [&](int64_t o, int64_t l0, int64_t l1) {
    const scalar_t* xo = x + o * block;
    scalar_t* oo = out + o * block;
    auto run = [&](int64_t b, int64_t e, int64_t d) {
      for (int64_t l = b; l < e; ++l) {
        const acc_t v = static_cast<acc_t>(xo[l]);
        oo[l] = static_cast<scalar_t>(v + a * (static_cast<acc_t>(xo[l + d]) - v));
      }
    };
    const int64_t d_first = transpose ? block - g.inner : g.inner;   // offset before `split`
    const int64_t d_second = transpose ? -g.inner : g.inner - block;  // offset from `split` on
    if (l0 < split) run(l0, std::min(l1, split), d_first);
    if (l1 > split) run(std::max(l0, split), l1, d_second);
  });
}

// Column chunk for the reductions along the mixing axis: runs of up to 4 KB of floats per row
// (the running max and min of a chunk then stay in L1), and enough tiles that every thread gets
// several.
int64_t reduce_chunk(const Geometry& g) {
  const int64_t threads = std::max(1, at::get_num_threads());
  int64_t c = (g.outer * g.inner + 4 * threads - 1) / (4 * threads);
  c = std::max<int64_t>(64, std::min<int64_t>(1024, c));
  c = (c + 15) / 16 * 16;
  return std::min(c, g.inner);
}

// for_each_span, cut further at row ends: calls f(o, i, l0, l1) for elements [l0, l1) of outer
// block o, all in its row i (so column = l - i * inner), in parallel and in streaming order.
template <typename F>
void for_each_row_span(const Geometry& g, F f) {
  for_each_span(g, [&](int64_t o, int64_t b, int64_t e) {
    while (b < e) {
      const int64_t i = b / g.inner;
      const int64_t stop = std::min(e, (i + 1) * g.inner);
      f(o, i, b, stop);
      b = stop;
    }
  });
}

template <typename scalar_t>
void optimal_rows(const scalar_t* x, scalar_t* out, const Geometry& g) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t inv = static_cast<acc_t>(1) / static_cast<acc_t>(g.k + 1);
  // out_i = (x_i + sum_j x_j) / (k + 1); symmetric, so the backward is the same map on the grad.
  // Pass 1: the sums along the axis, by column chunks; pass 2: one streaming pass over x.
  std::vector<acc_t> sum(g.outer * g.inner, acc_t(0));
  const int64_t block = g.k * g.inner;
  for_each_tile(g, reduce_chunk(g), [&](int64_t o, int64_t j0, int64_t j1) {
    acc_t* so = sum.data() + o * g.inner;
    const scalar_t* xo = x + o * block;
    int64_t i = 0;
    for (; i + 4 <= g.k; i += 4) {  // four rows per sweep over the running sums
      const scalar_t* x0 = xo + i * g.inner;
      const scalar_t *x1 = x0 + g.inner, *x2 = x1 + g.inner, *x3 = x2 + g.inner;
      for (int64_t j = j0; j < j1; ++j)
        so[j] += (static_cast<acc_t>(x0[j]) + static_cast<acc_t>(x1[j])) + (static_cast<acc_t>(x2[j]) + static_cast<acc_t>(x3[j]));
    }
    for (; i < g.k; ++i) {
      const scalar_t* xi = xo + i * g.inner;
      for (int64_t j = j0; j < j1; ++j) so[j] += static_cast<acc_t>(xi[j]);
    }
  });
  for_each_row_span(g, [&](int64_t o, int64_t i, int64_t l0, int64_t l1) {
    const scalar_t* xo = x + o * block;
    scalar_t* oo = out + o * block;
    const acc_t* so = sum.data() + o * g.inner;
    const int64_t row = i * g.inner;  // element l of the block is column l - row
    for (int64_t l = l0; l < l1; ++l) oo[l] = static_cast<scalar_t>((static_cast<acc_t>(xo[l]) + so[l - row]) * inv);
  });
}

template <typename scalar_t>
void gaussian_all(const scalar_t* x, scalar_t* out, int64_t n, double s, double m, double d, uint64_t seed, uint64_t offset) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t sa = static_cast<acc_t>(s), ma = static_cast<acc_t>(m), da = static_cast<acc_t>(d);
  at::parallel_for(0, (n + 3) / 4, 2048, [&](int64_t b0, int64_t b1) {
    for_each_random<true>(b0 * 4, std::min(n, b1 * 4), seed, offset, [&](int64_t e, float z) {
      out[e] = static_cast<scalar_t>(static_cast<acc_t>(x[e]) + sa * (ma + da * static_cast<acc_t>(z)));
    });
  });
}

// The official salt-and-pepper rule: the salt and the pepper are the max and the min of the whole
// tensor (one scalar each; NaN anywhere makes both NaN, as torch.max / torch.min propagate it).
template <typename scalar_t>
struct Extremes {
  scalar_t hi, lo;
  bool nan;
};

template <typename scalar_t>
Extremes<scalar_t> global_extremes(const scalar_t* x, int64_t n) {
  const Extremes<scalar_t> first{x[0], x[0], false};
  return at::parallel_reduce(
      0, n, 1 << 15, first,
      [&](int64_t b, int64_t e, Extremes<scalar_t> r) {
        scalar_t h = r.hi, l = r.lo;
        bool nan = r.nan;
        for (int64_t i = b; i < e; ++i) {  // loads, then value selects: vectorizes to max/min
          const scalar_t v = x[i];
          h = v > h ? v : h;
          l = v < l ? v : l;
          nan |= v != v;
        }
        return Extremes<scalar_t>{h, l, nan};
      },
      [](Extremes<scalar_t> a, Extremes<scalar_t> c) {
        return Extremes<scalar_t>{c.hi > a.hi ? c.hi : a.hi, c.lo < a.lo ? c.lo : a.lo, a.nan || c.nan};
      });
}

template <typename scalar_t>
void salt_pepper_all(const scalar_t* x, scalar_t* out, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const float half_p = static_cast<float>(p * 0.5), pf = static_cast<float>(p);
  const Extremes<scalar_t> ex = global_extremes(x, n);
  const scalar_t salt = ex.nan ? std::numeric_limits<scalar_t>::quiet_NaN() : ex.hi;
  const scalar_t pepper = ex.nan ? std::numeric_limits<scalar_t>::quiet_NaN() : ex.lo;
  at::parallel_for(0, (n + 3) / 4, 2048, [&](int64_t b0, int64_t b1) {
    for_each_random<false>(b0 * 4, std::min(n, b1 * 4), seed, offset, [&](int64_t e, float u) {
      // Two plain selects (not nested) so the loop vectorizes: u < p/2 takes the salt,
      // p/2 <= u < p the pepper, the rest keep x.
      const scalar_t v = u < pf ? pepper : x[e];
      out[e] = u < half_p ? salt : v;
    });
  });
}

template <typename scalar_t>
void salt_pepper_grad(const scalar_t* gr, scalar_t* gx, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const float pf = static_cast<float>(p);
  at::parallel_for(0, (n + 3) / 4, 4096, [&](int64_t b0, int64_t b1) {
    for_each_random<false>(b0 * 4, std::min(n, b1 * 4), seed, offset, [&](int64_t e, float u) {
      const scalar_t gv = gr[e];  // load, then select: vectorizes
      gx[e] = u < pf ? scalar_t(0) : gv;
    });
  });
}

}  // namespace

at::Tensor forward_cpu(const at::Tensor& x_in, int64_t kind, int64_t axis, double strength, double mean,
                       double std, int64_t seed, int64_t offset, bool detach) {
  const Geometry g = check_and_geometry(x_in, axis, "inject_noise");
  check_kind(kind, "inject_noise");
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  const auto k = static_cast<NoiseKind>(kind);
  const uint64_t useed = static_cast<uint64_t>(seed), uoff = static_cast<uint64_t>(offset);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "inject_noise_cpu", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    switch (k) {
      case NoiseKind::Linear: linear_rows(xp, op, g, strength, /*transpose=*/false); break;
      case NoiseKind::Optimal: optimal_rows(xp, op, g); break;
      case NoiseKind::Gaussian: gaussian_all(xp, op, x.numel(), strength, mean, std, useed, uoff); break;
      case NoiseKind::SaltPepper: salt_pepper_all(xp, op, x.numel(), strength, useed, uoff); break;
      case NoiseKind::None: out.copy_(x); break;
    }
  });
  return out;
}

at::Tensor backward_cpu(const at::Tensor& grad_in, int64_t kind, int64_t axis, double strength, int64_t seed,
                        int64_t offset, bool detach) {
  const Geometry g = check_and_geometry(grad_in, axis, "inject_noise_backward");
  check_kind(kind, "inject_noise_backward");
  const at::Tensor grad = grad_in.contiguous();
  const auto k = static_cast<NoiseKind>(kind);
  // The noise term carries no gradient under detach; gaussian noise is additive: identity.
  if (backward_is_identity(kind, detach)) return grad.clone();
  at::Tensor gx = at::empty_like(grad, at::MemoryFormat::Contiguous);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "inject_noise_backward_cpu", [&] {
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    scalar_t* op = gx.data_ptr<scalar_t>();
    switch (k) {
      case NoiseKind::Linear: linear_rows(gp, op, g, strength, /*transpose=*/true); break;
      case NoiseKind::Optimal: optimal_rows(gp, op, g); break;
      case NoiseKind::SaltPepper:
        salt_pepper_grad(gp, op, grad.numel(), strength, static_cast<uint64_t>(seed), static_cast<uint64_t>(offset));
        break;
      default: break;
    }
  });
  return gx;
}

bool cpu_kernels_parallel() {
#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
  return false;
#else
  return true;
#endif
}

const char* philox_cpu_path() {
  static const char* names[] = {"portable", "avx2", "avx512"};
  return names[static_cast<int>(best_philox_path())];
}

bool philox_blocks_cpu(const std::string& path, uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal,
                       float* out) {
  const PhiloxPath best = best_philox_path();
  PhiloxPath want;
  if (path == "best") want = best;
  else if (path == "portable") want = PhiloxPath::Portable;
  else if (path == "avx2") want = PhiloxPath::Avx2;
  else if (path == "avx512") want = PhiloxPath::Avx512;
  else return false;
  // A path runs only where the CPU has its instructions (avx512 machines also have avx2).
  if (static_cast<int>(want) > static_cast<int>(best)) return false;
  philox_blocks_on(want, block0, count, offset, seed, normal, out);
  return true;
}

void philox_fill_cpu(at::Tensor& out, bool normal, uint64_t seed, uint64_t offset) {
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous() && out.is_cpu(), "philox_fill_cpu: contiguous float CPU tensor expected");
  float* p = out.data_ptr<float>();
  const int64_t n = out.numel();
  at::parallel_for(0, (n + 3) / 4, 4096, [&](int64_t b0, int64_t b1) {
    if (normal) {
      for_each_random<true>(b0 * 4, std::min(n, b1 * 4), seed, offset, [&](int64_t e, float v) { p[e] = v; });
    } else {
      for_each_random<false>(b0 * 4, std::min(n, b1 * 4), seed, offset, [&](int64_t e, float v) { p[e] = v; });
    }
  });
}

}  // namespace impl
}  // namespace noisynn
