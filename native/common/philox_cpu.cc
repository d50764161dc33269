// The vectorized CPU paths of the Philox stream (common/philox_cpu.h) and the choice among them.
#include "common/philox_cpu.h"

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

__attribute__((target("avx512f"))) void philox_blocks_avx512(uint64_t block0, int64_t count, uint64_t offset,
                                                             uint64_t seed, bool normal, float* out) {
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

const char* philox_cpu_path() {
  static const char* names[] = {"portable", "avx2", "avx512"};
  return names[static_cast<int>(best_philox_path())];
}

}  // namespace rng
}  // namespace noisynn
