// CPU kernels of the noise op: fused, parallel (at::parallel_for), never a k-by-k matrix.
//
// x is viewed as [outer, k, inner] (k along the mixing axis). linear and gaussian are one
// streaming pass (read x, write out); optimal sums along the axis and writes out tile by tile
// (k rows x a column chunk, held in L2 between the two), so it too reads x from memory once;
// saltPepper takes the tensor's global max and min, then makes one streaming pass.
// The streaming passes walk contiguous spans, so the hardware prefetchers see long runs. The
// random kinds draw from the Philox stream of common/philox.h, vectorized (AVX-512 or AVX2 where
// the CPU has them) in common/philox_cpu.cc.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSE2__)
#define NOISYNN_STREAM_STORES 1
#endif

#include "common/philox_cpu.h"
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

// The last-level cache's size from sysfs (glibc's sysconf reports 320 MB for this VM's 32 MB L3,
// from the host's CPUID); 32 MB when it cannot be read.
int64_t last_level_cache_bytes() {
  int64_t best = 0;
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level(dir + "level"), size(dir + "size");
    int lv = 0;
    std::string text;
    if (!(level >> lv) || !(size >> text) || text.empty()) continue;
    int64_t bytes = std::atoll(text.c_str());
    if (text.back() == 'K') bytes <<= 10;
    if (text.back() == 'M') bytes <<= 20;
    if (lv >= 2 && bytes > best) best = bytes;
  }
  return best > 0 ? best : int64_t{32} << 20;
}

// Outputs at least the size of the last-level cache are written with non-temporal stores: they
// would be evicted before anything reads them, and a plain store first reads each line it
// writes (so a streaming pass moved three bytes per byte of output instead of two). Measured at
// [64,197,768] (39 MB, L3 32 MB): optimal 3.8-4.0 ms to 2.2-2.9 ms (1.28-1.41x a
// copy), linear 2.6-2.9 ms to 2.0-2.4 ms (1.01-1.04x). Smaller outputs keep plain
// stores, so the next op finds them in cache.
std::atomic<int64_t>& stream_threshold() {
  static std::atomic<int64_t> threshold{last_level_cache_bytes()};
  return threshold;
}

bool stream_output(int64_t bytes) { return bytes >= stream_threshold().load(std::memory_order_relaxed); }

// Four floats in a GCC / Clang vector (SSE on x86-64, NEON on arm64), loaded unaligned.
typedef float Float4 __attribute__((vector_size(16)));
inline Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// out[j] = f(j) for j in [b, e). With `stream` (float, on x86-64) the 16-byte-aligned body goes
// through fv(j), the same formula on a Float4, stored non-temporally; the head up to alignment and
// the tail use f. fv is a generic lambda, so it is instantiated for float only.
template <typename scalar_t, typename F, typename FV>
inline void fill_span(scalar_t* out, int64_t b, int64_t e, bool stream, F f, FV fv) {
  int64_t j = b;
#if NOISYNN_STREAM_STORES
  if constexpr (std::is_same_v<scalar_t, float>) {
    if (stream) {
      for (; j < e && (reinterpret_cast<uintptr_t>(out + j) & 15) != 0; ++j) out[j] = f(j);
      for (; j + 4 <= e; j += 4) _mm_stream_ps(out + j, static_cast<__m128>(fv(j)));
    }
  }
#else
  (void)stream;
  (void)fv;
#endif
  for (; j < e; ++j) out[j] = f(j);
}

// Non-temporal stores are weakly ordered: each task fences its own before it ends.
inline void stream_fence(bool stream) {
#if NOISYNN_STREAM_STORES
  if (stream) _mm_sfence();
#else
  (void)stream;
#endif
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
  const bool stream = stream_output(g.outer * block * static_cast<int64_t>(sizeof(scalar_t)));
  for_each_span(g, [&](int64_t o, int64_t l0, int64_t l1) {
    const scalar_t* xo = x + o * block;
    scalar_t* oo = out + o * block;
    auto run = [=](int64_t b, int64_t e, int64_t d) {  // by value: see optimal_rows
      fill_span(
          oo, b, e, stream,
          [=](int64_t l) {
            const acc_t v = static_cast<acc_t>(xo[l]);
            return static_cast<scalar_t>(v + a * (static_cast<acc_t>(xo[l + d]) - v));
          },
          [=](auto l) {
            const Float4 v = load4(xo + l);
            return v + a * (load4(xo + l + d) - v);
          });
    };
    const int64_t d_first = transpose ? block - g.inner : g.inner;    // offset before `split`
    const int64_t d_second = transpose ? -g.inner : g.inner - block;  // offset from `split` on
    if (l0 < split) run(l0, std::min(l1, split), d_first);
    if (l1 > split) run(std::max(l0, split), l1, d_second);
    stream_fence(stream);
  });
}

// Column chunk for the reductions along the mixing axis: runs of up to 4 KB of floats per row
// (the running max and min of a chunk then stay in L1), and enough tiles that every thread gets
// several.
constexpr int64_t kMaxReduceChunk = 1024;
int64_t reduce_chunk(const Geometry& g) {
  const int64_t threads = std::max(1, at::get_num_threads());
  int64_t c = (g.outer * g.inner + 4 * threads - 1) / (4 * threads);
  c = std::max<int64_t>(64, std::min<int64_t>(kMaxReduceChunk, c));
  c = (c + 15) / 16 * 16;
  return std::min(c, g.inner);
}

// Column chunk for optimal's fused tiles: as reduce_chunk, and small enough that a tile's k rows
// (k * chunk values) stay in L2 between the pass that sums them and the pass that writes out.
int64_t optimal_chunk(const Geometry& g, size_t value_bytes) {
  constexpr int64_t kTileBytes = 256 << 10;
  const int64_t fit = kTileBytes / std::max<int64_t>(1, g.k * static_cast<int64_t>(value_bytes));
  const int64_t c = std::min(reduce_chunk(g), std::max<int64_t>(16, fit / 16 * 16));
  return std::min(c, g.inner);
}

// Adds rows 0..k-1 of a k x w tile (row stride `stride`) into sum[0, w): four rows per sweep
// over the running sums, then the rest one by one. Every optimal path sums in this order, which
// is what its bits are.
template <typename scalar_t, typename acc_t>
inline void add_rows_in_fours(const scalar_t* xo, int64_t k, int64_t stride, int64_t w, acc_t* sum) {
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const scalar_t* x0 = xo + i * stride;
    const scalar_t *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;
    for (int64_t j = 0; j < w; ++j)
      sum[j] += (static_cast<acc_t>(x0[j]) + static_cast<acc_t>(x1[j])) +
                (static_cast<acc_t>(x2[j]) + static_cast<acc_t>(x3[j]));
  }
  for (; i < k; ++i) {
    const scalar_t* xi = xo + i * stride;
    for (int64_t j = 0; j < w; ++j) sum[j] += static_cast<acc_t>(xi[j]);
  }
}

// optimal when the mixing axis is the last one (inner = 1: a 1-D tensor, or [.., k] mixed along
// k). Each row's sum is one serial chain (add_rows_in_fours on a one-column tile, so the same
// bits as the tiles); then the output is one parallel streaming pass. (The tiles were
// one element wide here: 13x a copy for a 1-D tensor of 4M, 8.6x at [4096,1024] along 1.)
template <typename scalar_t>
void optimal_rows_contiguous(const scalar_t* x, scalar_t* out, const Geometry& g) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t inv = static_cast<acc_t>(1) / static_cast<acc_t>(g.k + 1);
  const int64_t k = g.k;
  std::vector<acc_t> sums(static_cast<size_t>(g.outer));
  acc_t* sp = sums.data();
  at::parallel_for(0, g.outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(k, 1)), [=](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      acc_t sum = 0;
      add_rows_in_fours(x + o * k, k, /*stride=*/1, /*w=*/1, &sum);
      sp[o] = sum;
    }
  });
  const bool stream = stream_output(g.outer * k * static_cast<int64_t>(sizeof(scalar_t)));
  for_each_span(g, [&](int64_t o, int64_t l0, int64_t l1) {
    const scalar_t* xo = x + o * k;
    const acc_t sum = sp[o];
    fill_span(
        out + o * k, l0, l1, stream,
        [=](int64_t l) { return static_cast<scalar_t>((static_cast<acc_t>(xo[l]) + sum) * inv); },
        [=](auto l) { return (load4(xo + l) + sum) * inv; });
    stream_fence(stream);
  });
}

template <typename scalar_t>
void optimal_rows(const scalar_t* x, scalar_t* out, const Geometry& g) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t inv = static_cast<acc_t>(1) / static_cast<acc_t>(g.k + 1);
  // out_i = (x_i + sum_j x_j) / (k + 1); symmetric, so the backward is the same map on the grad.
  // One pass over memory, by tiles of k rows x a column chunk: sum the tile's columns, then
  // write its out rows while the tile is still in L2 (a whole-tensor sum, then a second
  // streaming pass, read x from memory twice: 2.8x a copy at [64,197,768]).
  if (g.inner == 1) return optimal_rows_contiguous(x, out, g);
  const int64_t block = g.k * g.inner;
  const int64_t chunk = optimal_chunk(g, sizeof(scalar_t));
  // By value (as in gaussian_all): through references, inv and the geometry would be reloaded
  // after every store to out, which might alias them.
  const int64_t k = g.k, inner = g.inner;
  const bool stream = stream_output(g.outer * block * static_cast<int64_t>(sizeof(scalar_t)));
  for_each_tile(g, chunk, [=](int64_t o, int64_t j0, int64_t j1) {
    acc_t sum[kMaxReduceChunk];  // optimal_chunk is at most reduce_chunk
    const int64_t w = j1 - j0;
    std::fill(sum, sum + w, acc_t(0));
    const scalar_t* xo = x + o * block + j0;
    scalar_t* oo = out + o * block + j0;
    add_rows_in_fours(xo, k, inner, w, sum);
    for (int64_t i = 0; i < k; ++i) {
      const scalar_t* xi = xo + i * inner;
      fill_span(
          oo + i * inner, 0, w, stream,
          [&](int64_t j) { return static_cast<scalar_t>((static_cast<acc_t>(xi[j]) + sum[j]) * inv); },
          [&](auto j) { return (load4(xi + j) + load4(sum + j)) * inv; });
    }
    stream_fence(stream);
  });
}

template <typename scalar_t>
void gaussian_all(const scalar_t* x, scalar_t* out, int64_t n, double s, double m, double d, uint64_t seed,
                  uint64_t offset, const rng::Interleave& il) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t sa = static_cast<acc_t>(s), ma = static_cast<acc_t>(m), da = static_cast<acc_t>(d);
  const bool stream = stream_output(n * static_cast<int64_t>(sizeof(scalar_t)));
  at::parallel_for(0, (n + 3) / 4, 2048, [&](int64_t b0, int64_t b1) {
    if constexpr (std::is_same_v<scalar_t, float>) {
      // Fused with the stream (philox_cpu.h): 4.6 ms against 5.6 ms at [64,197,768] (bench/RESULTS.md).
      rng::for_each_global_piece(b0 * 4, std::min(n, b1 * 4), il, [&](int64_t l0, int64_t l1, int64_t g0) {
        rng::add_scaled_normals(g0, l1 - l0, seed, offset, x + l0, out + l0, sa, ma, da, stream);
      });
    } else {
      // By value: captured by reference, the scalars were reloaded after every store to out (which
      // might alias them), and the loop stayed scalar.
      rng::for_each_random<true>(b0 * 4, std::min(n, b1 * 4), il, seed, offset, [=](int64_t e, float z) {
        out[e] = static_cast<scalar_t>(static_cast<acc_t>(x[e]) + sa * (ma + da * static_cast<acc_t>(z)));
      });
    }
  });
}

// The official salt-and-pepper rule: the salt and the pepper are the max and the min of the whole
// tensor (one scalar each; NaN anywhere makes both NaN, as torch.max / torch.min propagate it).
template <typename scalar_t>
struct Extremes {
  scalar_t hi, lo;
  bool nan;
};

// The extremes of x[b, e), continuing r. Plain scalar code: a running max/min is a reduction the
// compiler vectorizes only under fast-math.
template <typename scalar_t>
Extremes<scalar_t> extremes_span(const scalar_t* x, int64_t b, int64_t e, Extremes<scalar_t> r) {
  for (int64_t i = b; i < e; ++i) {
    const scalar_t v = x[i];
    r.hi = v > r.hi ? v : r.hi;
    r.lo = v < r.lo ? v : r.lo;
    r.nan |= v != v;
  }
  return r;
}

// float and double: four 16-byte vectors of running extremes (GCC/Clang vector extensions: SSE on
// x86-64, NEON on arm64). 'v > h ? v : h' lane by lane is what maxps computes, so no reduction is
// reassociated and the result is exact. Measured at [64,197,768]: the scalar loop took ~3.5 ms of
// a saltPepper forward.
template <typename scalar_t>
Extremes<scalar_t> extremes_span_vec(const scalar_t* x, int64_t b, int64_t e, Extremes<scalar_t> r) {
  typedef scalar_t V __attribute__((vector_size(16)));
  constexpr int64_t kLanes = sizeof(V) / sizeof(scalar_t);
  constexpr int64_t kStep = 4 * kLanes;
  if (e - b < kStep) return extremes_span(x, b, e, r);
  auto load = [x](int64_t i) {
    V v;
    std::memcpy(&v, x + i, sizeof(V));
    return v;
  };
  V h0 = load(b), h1 = load(b + kLanes), h2 = load(b + 2 * kLanes), h3 = load(b + 3 * kLanes);
  V l0 = h0, l1 = h1, l2 = h2, l3 = h3;
  auto n0 = h0 != h0, n1 = h1 != h1, n2 = h2 != h2, n3 = h3 != h3;
  int64_t i = b + kStep;
  for (; i + kStep <= e; i += kStep) {
    const V v0 = load(i), v1 = load(i + kLanes), v2 = load(i + 2 * kLanes), v3 = load(i + 3 * kLanes);
    h0 = v0 > h0 ? v0 : h0;
    h1 = v1 > h1 ? v1 : h1;
    h2 = v2 > h2 ? v2 : h2;
    h3 = v3 > h3 ? v3 : h3;
    l0 = v0 < l0 ? v0 : l0;
    l1 = v1 < l1 ? v1 : l1;
    l2 = v2 < l2 ? v2 : l2;
    l3 = v3 < l3 ? v3 : l3;
    n0 |= v0 != v0;
    n1 |= v1 != v1;
    n2 |= v2 != v2;
    n3 |= v3 != v3;
  }
  r = extremes_span(x, i, e, r);
  for (const V& h : {h0, h1, h2, h3})
    for (int64_t k = 0; k < kLanes; ++k) r.hi = h[k] > r.hi ? h[k] : r.hi;
  for (const V& l : {l0, l1, l2, l3})
    for (int64_t k = 0; k < kLanes; ++k) r.lo = l[k] < r.lo ? l[k] : r.lo;
  const auto n = n0 | n1 | n2 | n3;
  for (int64_t k = 0; k < kLanes; ++k) r.nan |= n[k] != 0;
  return r;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define NOISYNN_EXTREMES_AVX512 1
// extremes_span_vec on one 16-lane AVX-512 register each for the max and the min: element b + i
// goes to lane i % 16 as it goes to lane i % 4 of vector (i / 4) % 4 there, maxps(v, h) is
// 'v > h ? v : h' and the lanes are combined in the same order, so the result is the same bits
// (which of +0 and -0 wins a tie included). Measured at [64,197,768]: ~1 ms of a 3.2 ms
// saltPepper forward on SSE.
// (GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own pass-through operands, as in
// common/philox_cpu.cc; nothing here is uninitialized.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) Extremes<float> extremes_span_avx512(const float* x, int64_t b, int64_t e,
                                                                        Extremes<float> r) {
  if (e - b < 16) return extremes_span(x, b, e, r);
  __m512 h = _mm512_loadu_ps(x + b), l = h;
  __mmask16 nan = _mm512_cmp_ps_mask(h, h, _CMP_UNORD_Q);
  int64_t i = b + 16;
  for (; i + 16 <= e; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    h = _mm512_max_ps(v, h);
    l = _mm512_min_ps(v, l);
    nan = static_cast<__mmask16>(nan | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
  }
  r = extremes_span(x, i, e, r);
  alignas(64) float hs[16], ls[16];
  _mm512_store_ps(hs, h);
  _mm512_store_ps(ls, l);
  for (int k = 0; k < 16; ++k) r.hi = hs[k] > r.hi ? hs[k] : r.hi;
  for (int k = 0; k < 16; ++k) r.lo = ls[k] < r.lo ? ls[k] : r.lo;
  r.nan |= nan != 0;
  return r;
}
#pragma GCC diagnostic pop
#endif

template <typename scalar_t>
Extremes<scalar_t> global_extremes(const scalar_t* x, int64_t n) {
  const Extremes<scalar_t> first{x[0], x[0], false};
  return at::parallel_reduce(
      0, n, 1 << 15, first,
      [&](int64_t b, int64_t e, Extremes<scalar_t> r) {
#if NOISYNN_EXTREMES_AVX512
        if constexpr (std::is_same_v<scalar_t, float>) {
          if (rng::fused_kernels()) return extremes_span_avx512(x, b, e, r);
        }
#endif
        if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
          return extremes_span_vec(x, b, e, r);
        } else {
          return extremes_span(x, b, e, r);
        }
      },
      [](Extremes<scalar_t> a, Extremes<scalar_t> c) {
        return Extremes<scalar_t>{c.hi > a.hi ? c.hi : a.hi, c.lo < a.lo ? c.lo : a.lo, a.nan || c.nan};
      });
}

// `given`: {salt, pepper} from the caller (the global batch's), or null for x's own.
template <typename scalar_t>
void salt_pepper_all(const scalar_t* x, scalar_t* out, int64_t n, double p, uint64_t seed, uint64_t offset,
                     const rng::Interleave& il, const scalar_t* given) {
  const float half_p = static_cast<float>(p * 0.5), pf = static_cast<float>(p);
  scalar_t salt, pepper;
  if (given != nullptr) {
    salt = given[0];
    pepper = given[1];
  } else {
    const Extremes<scalar_t> ex = global_extremes(x, n);
    salt = ex.nan ? std::numeric_limits<scalar_t>::quiet_NaN() : ex.hi;
    pepper = ex.nan ? std::numeric_limits<scalar_t>::quiet_NaN() : ex.lo;
  }
  const bool stream = stream_output(n * static_cast<int64_t>(sizeof(scalar_t)));
  at::parallel_for(0, (n + 3) / 4, 2048, [&](int64_t b0, int64_t b1) {
    if constexpr (std::is_same_v<scalar_t, float>) {
      // Fused with the stream (philox_cpu.h), with the AVX-512 max / min: 2.9 ms against 4.3 ms at
      // [64,197,768] (bench/RESULTS.md).
      rng::for_each_global_piece(b0 * 4, std::min(n, b1 * 4), il, [&](int64_t l0, int64_t l1, int64_t g0) {
        rng::select_by_uniforms(g0, l1 - l0, seed, offset, x + l0, out + l0, half_p, pf, salt, pepper, stream);
      });
    } else {
      // By value (see gaussian_all), a load, then two plain selects (not nested), so the loop
      // vectorizes: u < p/2 takes the salt, p/2 <= u < p the pepper, the rest keep x. (Captured by
      // reference and with the load inside the select, it stayed scalar: 58% of the forward's time.)
      rng::for_each_random<false>(b0 * 4, std::min(n, b1 * 4), il, seed, offset, [=](int64_t e, float u) {
        const scalar_t xv = x[e];
        const scalar_t v = u < pf ? pepper : xv;
        out[e] = u < half_p ? salt : v;
      });
    }
  });
}

template <typename scalar_t>
void salt_pepper_grad(const scalar_t* gr, scalar_t* gx, int64_t n, double p, uint64_t seed, uint64_t offset,
                      const rng::Interleave& il) {
  const float pf = static_cast<float>(p);
  const bool stream = stream_output(n * static_cast<int64_t>(sizeof(scalar_t)));
  at::parallel_for(0, (n + 3) / 4, 4096, [&](int64_t b0, int64_t b1) {
    if constexpr (std::is_same_v<scalar_t, float>) {
      // The forward's select with both extremes 0 and one threshold: u < p passes no gradient.
      rng::for_each_global_piece(b0 * 4, std::min(n, b1 * 4), il, [&](int64_t l0, int64_t l1, int64_t g0) {
        rng::select_by_uniforms(g0, l1 - l0, seed, offset, gr + l0, gx + l0, pf, pf, 0.0f, 0.0f, stream);
      });
    } else {
      rng::for_each_random<false>(b0 * 4, std::min(n, b1 * 4), il, seed, offset, [=](int64_t e, float u) {
        const scalar_t gv = gr[e];  // load, then select: vectorizes
        gx[e] = u < pf ? scalar_t(0) : gv;
      });
    }
  });
}

}  // namespace

int64_t set_stream_store_threshold(int64_t bytes) { return stream_threshold().exchange(bytes); }

at::Tensor forward_cpu(const at::Tensor& x_in, int64_t kind, int64_t axis, double strength, double mean, double std,
                       int64_t seed, int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world,
                       const c10::optional<at::Tensor>& extremes) {
  const Geometry g = check_and_geometry(x_in, axis, "inject_noise");
  check_kind(kind, "inject_noise");
  const rng::Interleave il{check_interleave(x_in, batch_rank, batch_world, extremes, "inject_noise"), batch_rank,
                           batch_world};
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  const auto k = static_cast<NoiseKind>(kind);
  const uint64_t useed = static_cast<uint64_t>(seed), uoff = static_cast<uint64_t>(offset);
  const at::Tensor given = extremes.has_value() && extremes->defined() ? extremes->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "inject_noise_cpu", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    const scalar_t* ex = given.defined() ? given.data_ptr<scalar_t>() : nullptr;
    switch (k) {
      case NoiseKind::Linear: linear_rows(xp, op, g, strength, /*transpose=*/false); break;
      case NoiseKind::Optimal: optimal_rows(xp, op, g); break;
      case NoiseKind::Gaussian: gaussian_all(xp, op, x.numel(), strength, mean, std, useed, uoff, il); break;
      case NoiseKind::SaltPepper: salt_pepper_all(xp, op, x.numel(), strength, useed, uoff, il, ex); break;
      case NoiseKind::None: out.copy_(x); break;
    }
  });
  return out;
}

at::Tensor backward_cpu(const at::Tensor& grad_in, int64_t kind, int64_t axis, double strength, int64_t seed,
                        int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world) {
  const Geometry g = check_and_geometry(grad_in, axis, "inject_noise_backward");
  check_kind(kind, "inject_noise_backward");
  const rng::Interleave il{check_interleave(grad_in, batch_rank, batch_world, c10::nullopt, "inject_noise_backward"),
                           batch_rank, batch_world};
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
        salt_pepper_grad(gp, op, grad.numel(), strength, static_cast<uint64_t>(seed), static_cast<uint64_t>(offset),
                         il);
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

void philox_fill_cpu(at::Tensor& out, bool normal, uint64_t seed, uint64_t offset, int64_t per_sample,
                     int64_t batch_rank, int64_t batch_world) {
  TORCH_CHECK(out.scalar_type() == at::kFloat && out.is_contiguous() && out.is_cpu(),
              "philox_fill_cpu: contiguous float CPU tensor expected");
  float* p = out.data_ptr<float>();
  const int64_t n = out.numel();
  const rng::Interleave il{std::max<int64_t>(per_sample, 1), batch_rank, batch_world};
  at::parallel_for(0, (n + 3) / 4, 4096, [&](int64_t b0, int64_t b1) {
    if (normal) {
      rng::for_each_random<true>(b0 * 4, std::min(n, b1 * 4), il, seed, offset, [&](int64_t e, float v) { p[e] = v; });
    } else {
      rng::for_each_random<false>(b0 * 4, std::min(n, b1 * 4), il, seed, offset, [&](int64_t e, float v) { p[e] = v; });
    }
  });
}

}  // namespace impl
}  // namespace noisynn
