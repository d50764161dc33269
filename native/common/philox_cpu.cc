// The vectorized CPU paths of the Philox stream (common/philox_cpu.h) and the choice among them.
#include "common/philox_cpu.h"

#include <atomic>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "common/philox.h"

namespace noisynn {
namespace rng {

namespace {

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

// Words to numbers: r[w][l] from word w of block l.
NOISYNN_ALWAYS_INLINE void philox_numbers(const Lanes& c, bool normal, float (&r)[4][kLanes]) {
  if (normal) {
    for (int l = 0; l < kLanes; ++l) {
      rng::box_muller(rng::uniform_open(c[0][l]), rng::uniform_open(c[1][l]), &r[0][l], &r[1][l]);
      rng::box_muller(rng::uniform_open(c[2][l]), rng::uniform_open(c[3][l]), &r[2][l], &r[3][l]);
    }
  } else {
    for (int w = 0; w < 4; ++w)
      for (int l = 0; l < kLanes; ++l) r[w][l] = rng::uniform_open(c[w][l]);
  }
}

// Words to numbers, interleaved back into stream order: block l's word w is out[4 l + w].
NOISYNN_ALWAYS_INLINE void philox_finish(const Lanes& c, bool normal, int64_t n, float* out) {
  float r[4][kLanes];
  philox_numbers(c, normal, r);
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

// The fused kernels' element formulas, in float: their AVX-512 bodies compute the same on 16
// lanes, and their edges and their portable path call these.
inline float scaled_normal(float x, float z, float s, float m, float d) { return x + s * (m + d * z); }
inline float salt_pepper_select(float x, float u, float half_p, float p, float salt, float pepper) {
  const float v = u < p ? pepper : x;  // a load, then two plain selects (not nested): vectorizes
  return u < half_p ? salt : v;
}

// f(i, v) for stream elements g0 + i, i in [0, g1 - g0), with their numbers.
template <bool Normal, typename F>
void stream_apply(int64_t g0, int64_t g1, int64_t base, uint64_t seed, uint64_t offset, F f) {
  for_each_random_run<Normal>(g0, g1, seed, offset, [&](int64_t b, int64_t e, const float* v) {
    for (int64_t g = b; g < e; ++g) f(g - base, v[g - b]);
  });
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
// AVX-512: each word of 8 blocks in the low halves of 64-bit lanes, so one vpmuludq gives the
// whole 64-bit product (hi by a shift, lo its low half as it stands) where 32-bit lanes need two
// multiplies, shifts and blends. The high halves carry junk that nothing reads: the products use
// only the low halves, and a xor's junk goes only into the next products. Four groups of 8 blocks
// run interleaved (16 of the 32 registers), the three-way xors in one vpternlogd; the words are
// packed back to 32-bit lanes for the arithmetic. Measured on Zen 4, in L1 on 2 threads: uniforms
// 2.47-2.94 ms to 2.19-2.23 ms, normals 4.93-5.39 to 4.53-4.54 ms per 9.7M (bench/RESULTS.md). (avx512f implies FMA to
// GCC; the build passes -ffp-contract=off so the Box-Muller arithmetic rounds exactly as on the other paths.)
// philox_finish for a whole group of 16 blocks, the interleave as two rounds of vpermt2ps
// (inlined into a loop, the compiler's own interleave became scalar extracts).
__attribute__((target("avx512f"))) NOISYNN_ALWAYS_INLINE void philox_finish_avx512(const Lanes& c, bool normal,
                                                                                   int64_t n, float* out) {
  if (n < kLanes) return philox_finish(c, normal, n, out);
  alignas(64) float r[4][kLanes];
  philox_numbers(c, normal, r);
  // Pairs of words (w, w + 1) of blocks 0-7 and 8-15, then blocks 4q..4q+3's four words.
  const __m512i pair_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i pair_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i quad_lo = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i quad_hi = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const __m512 r0 = _mm512_load_ps(r[0]), r1 = _mm512_load_ps(r[1]), r2 = _mm512_load_ps(r[2]),
               r3 = _mm512_load_ps(r[3]);
  const __m512 a_lo = _mm512_permutex2var_ps(r0, pair_lo, r1), a_hi = _mm512_permutex2var_ps(r0, pair_hi, r1);
  const __m512 b_lo = _mm512_permutex2var_ps(r2, pair_lo, r3), b_hi = _mm512_permutex2var_ps(r2, pair_hi, r3);
  _mm512_storeu_ps(out, _mm512_permutex2var_ps(a_lo, quad_lo, b_lo));
  _mm512_storeu_ps(out + 16, _mm512_permutex2var_ps(a_lo, quad_hi, b_lo));
  _mm512_storeu_ps(out + 32, _mm512_permutex2var_ps(a_hi, quad_lo, b_hi));
  _mm512_storeu_ps(out + 48, _mm512_permutex2var_ps(a_hi, quad_hi, b_hi));
}

__attribute__((target("avx512f"))) NOISYNN_ALWAYS_INLINE void philox_run_avx512(uint64_t block0, int64_t count,
                                                                                uint64_t offset, uint64_t seed,
                                                                                bool normal, float* out) {
  constexpr int kGroups = 4;  // of 8 blocks: 32 blocks per iteration
  const __m512i m0 = _mm512_set1_epi64(0xD2511F53u);
  const __m512i m1 = _mm512_set1_epi64(0xCD9E8D57u);
  const __m512i iota = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i low_halves = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i off_lo = _mm512_set1_epi64(static_cast<uint32_t>(offset));
  const __m512i off_hi = _mm512_set1_epi64(static_cast<uint32_t>(offset >> 32));
  for (int64_t base = 0; base < count; base += kGroups * 8) {
    __m512i x[4][kGroups];
    for (int g = 0; g < kGroups; ++g) {
      // 64-bit block numbers: the low word as it stands (its high half is junk to the products),
      // the high word shifted down.
      const __m512i b = _mm512_add_epi64(
          _mm512_set1_epi64(static_cast<long long>(block0 + static_cast<uint64_t>(base + 8 * g))), iota);
      x[0][g] = b;
      x[1][g] = _mm512_srli_epi64(b, 32);
      x[2][g] = off_lo;
      x[3][g] = off_hi;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      const __m512i vk0 = _mm512_set1_epi64(k0), vk1 = _mm512_set1_epi64(k1);
      for (int g = 0; g < kGroups; ++g) {
        const __m512i p0 = _mm512_mul_epu32(x[0][g], m0);  // lo0 in the low half, hi0 above
        const __m512i p1 = _mm512_mul_epu32(x[2][g], m1);
        x[0][g] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p1, 32), x[1][g], vk0, 0x96);  // hi1 ^ c1 ^ k0
        x[2][g] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p0, 32), x[3][g], vk1, 0x96);  // hi0 ^ c3 ^ k1
        x[1][g] = p1;
        x[3][g] = p0;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    for (int h = 0; h < kGroups / 2; ++h) {
      const int64_t first = base + 16 * h;
      if (first >= count) break;
      Lanes c;
      for (int w = 0; w < 4; ++w)
        _mm512_storeu_si512(&c[w][0], _mm512_permutex2var_epi32(x[w][2 * h], low_halves, x[w][2 * h + 1]));
      philox_finish_avx512(c, normal, std::min<int64_t>(kLanes, count - first), out + 4 * first);
    }
  }
}

__attribute__((target("avx512f"))) void philox_blocks_avx512(uint64_t block0, int64_t count, uint64_t offset,
                                                             uint64_t seed, bool normal, float* out) {
  philox_run_avx512(block0, count, offset, seed, normal, out);
}

// The fused kernels (philox_cpu.h). The body goes 128 elements (32 blocks, one iteration of
// philox_run_avx512) at a time from a global element that is a multiple of 128; the head and
// the tail go through stream_apply with the same float formulas.
constexpr int64_t kFused = 128;

// Stores 16 floats at p: non-temporal when `nt` (p is then 64-byte aligned).
__attribute__((target("avx512f"))) NOISYNN_ALWAYS_INLINE void store16(float* p, __m512 v, bool nt) {
  if (nt) _mm512_stream_ps(p, v);
  else _mm512_storeu_ps(p, v);
}

__attribute__((target("avx512f"))) void add_scaled_normals_avx512(int64_t g0, int64_t count, uint64_t seed,
                                                                  uint64_t offset, const float* x, float* out, float s,
                                                                  float m, float d, bool stream) {
  auto scalar = [=](int64_t i, float z) { out[i] = scaled_normal(x[i], z, s, m, d); };
  const int64_t body = std::min(count, (kFused - g0 % kFused) % kFused);
  stream_apply<true>(g0, g0 + body, g0, seed, offset, scalar);
  int64_t i = body;
  const bool nt = stream && (reinterpret_cast<uintptr_t>(out + i) & 63) == 0;
  const __m512 vs = _mm512_set1_ps(s), vm = _mm512_set1_ps(m), vd = _mm512_set1_ps(d);
  alignas(64) float z[kFused];
  for (; i + kFused <= count; i += kFused) {
    philox_run_avx512(static_cast<uint64_t>((g0 + i) / 4), kFused / 4, offset, seed, true, z);
    for (int v = 0; v < kFused; v += 16) {
      const __m512 t = _mm512_mul_ps(vs, _mm512_add_ps(vm, _mm512_mul_ps(vd, _mm512_load_ps(z + v))));
      store16(out + i + v, _mm512_add_ps(_mm512_loadu_ps(x + i + v), t), nt);
    }
  }
  if (nt) _mm_sfence();
  stream_apply<true>(g0 + i, g0 + count, g0, seed, offset, scalar);
}

__attribute__((target("avx512f"))) void select_by_uniforms_avx512(int64_t g0, int64_t count, uint64_t seed,
                                                                  uint64_t offset, const float* x, float* out,
                                                                  float half_p, float p, float salt, float pepper,
                                                                  bool stream) {
  auto scalar = [=](int64_t i, float u) { out[i] = salt_pepper_select(x[i], u, half_p, p, salt, pepper); };
  const int64_t body = std::min(count, (kFused - g0 % kFused) % kFused);
  stream_apply<false>(g0, g0 + body, g0, seed, offset, scalar);
  int64_t i = body;
  const bool nt = stream && (reinterpret_cast<uintptr_t>(out + i) & 63) == 0;
  const __m512 vh = _mm512_set1_ps(half_p), vp = _mm512_set1_ps(p);
  const __m512 vsalt = _mm512_set1_ps(salt), vpepper = _mm512_set1_ps(pepper);
  alignas(64) float u[kFused];
  for (; i + kFused <= count; i += kFused) {
    philox_run_avx512(static_cast<uint64_t>((g0 + i) / 4), kFused / 4, offset, seed, false, u);
    for (int v = 0; v < kFused; v += 16) {
      const __m512 uv = _mm512_load_ps(u + v);
      // u < p takes the pepper, u < p/2 the salt over it (ordered compares: u is never NaN).
      __m512 r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(uv, vp, _CMP_LT_OQ), _mm512_loadu_ps(x + i + v), vpepper);
      r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(uv, vh, _CMP_LT_OQ), r, vsalt);
      store16(out + i + v, r, nt);
    }
  }
  if (nt) _mm_sfence();
  stream_apply<false>(g0 + i, g0 + count, g0, seed, offset, scalar);
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

void philox_blocks_with(PhiloxPath path, uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal,
                        float* out) {
  switch (path) {
#ifdef NOISYNN_X86_AVX2
    case PhiloxPath::Avx512: return philox_blocks_avx512(block0, count, offset, seed, normal, out);
    case PhiloxPath::Avx2: return philox_blocks_avx2(block0, count, offset, seed, normal, out);
#endif
    default: return philox_blocks_portable(block0, count, offset, seed, normal, out);
  }
}

}  // namespace

void philox_blocks(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal, float* out) {
  static const PhiloxPath path = best_philox_path();
  philox_blocks_with(path, block0, count, offset, seed, normal, out);
}

bool philox_blocks_on_path(const char* path, uint64_t block0, int64_t count, uint64_t offset, uint64_t seed,
                           bool normal, float* out) {
  const PhiloxPath best = best_philox_path();
  PhiloxPath want;
  if (std::strcmp(path, "best") == 0) want = best;
  else if (std::strcmp(path, "portable") == 0) want = PhiloxPath::Portable;
  else if (std::strcmp(path, "avx2") == 0) want = PhiloxPath::Avx2;
  else if (std::strcmp(path, "avx512") == 0) want = PhiloxPath::Avx512;
  else return false;
  // A path runs only where the CPU has its instructions (avx512 machines also have avx2).
  if (static_cast<int>(want) > static_cast<int>(best)) return false;
  philox_blocks_with(want, block0, count, offset, seed, normal, out);
  return true;
}

namespace {

std::atomic<bool>& fused_enabled() {
  static std::atomic<bool> enabled{true};
  return enabled;
}

}  // namespace

bool fused_kernels() {
  static const bool have = best_philox_path() == PhiloxPath::Avx512;
  return have && fused_enabled().load(std::memory_order_relaxed);
}

bool set_fused_kernels(bool enabled) { return fused_enabled().exchange(enabled); }

void add_scaled_normals(int64_t g0, int64_t count, uint64_t seed, uint64_t offset, const float* x, float* out, float s,
                        float m, float d, bool stream) {
#ifdef NOISYNN_X86_AVX2
  if (fused_kernels()) return add_scaled_normals_avx512(g0, count, seed, offset, x, out, s, m, d, stream);
#endif
  (void)stream;
  stream_apply<true>(g0, g0 + count, g0, seed, offset,
                     [=](int64_t i, float z) { out[i] = scaled_normal(x[i], z, s, m, d); });
}

void select_by_uniforms(int64_t g0, int64_t count, uint64_t seed, uint64_t offset, const float* x, float* out,
                        float half_p, float p, float salt, float pepper, bool stream) {
#ifdef NOISYNN_X86_AVX2
  if (fused_kernels())
    return select_by_uniforms_avx512(g0, count, seed, offset, x, out, half_p, p, salt, pepper, stream);
#endif
  (void)stream;
  stream_apply<false>(g0, g0 + count, g0, seed, offset,
                      [=](int64_t i, float u) { out[i] = salt_pepper_select(x[i], u, half_p, p, salt, pepper); });
}

const char* philox_cpu_path() {
  static const char* names[] = {"portable", "avx2", "avx512"};
  return names[static_cast<int>(best_philox_path())];
}

}  // namespace rng
}  // namespace noisynn
