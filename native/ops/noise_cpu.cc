// CPU kernels of the noise op: fused, parallel (at::parallel_for), one read and one write of x.
//
// x is viewed as [outer, k, inner]. Work is split into tiles of (outer index, inner chunk);
// each tile walks the k slices of its chunk, so the rows it re-reads (x_{i+1} for linear,
// the sum pass for optimal and saltPepper) are still in cache: memory sees one pass.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/Dispatch.h>

#include <algorithm>
#include <vector>

#include "common/philox.h"
#include "ops/noise.h"
#include "ops/noise_impl.h"

namespace noisynn {
namespace impl {

namespace {

// Elements per tile along `inner`: the k rows of a tile (k * chunk elements) should fit in L2.
int64_t chunk_for(const Geometry& g, int64_t budget_elems) {
  int64_t c = budget_elems / std::max<int64_t>(g.k, 1);
  c = std::max<int64_t>(c, 64);
  c = (c + 15) / 16 * 16;
  return std::min(c, g.inner);
}

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
// the GPU. Written as loops over 16 independent blocks so the compiler vectorizes the rounds and
// the Box-Muller arithmetic; built for AVX2 and for the x86-64 baseline, chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
void philox_blocks(uint64_t block0, int64_t count, uint64_t offset, uint64_t seed, bool normal, float* out) {
  constexpr int L = 16;
  for (int64_t base = 0; base < count; base += L) {
    uint32_t c0[L], c1[L], c2[L], c3[L];
    for (int l = 0; l < L; ++l) {
      const uint64_t b = block0 + static_cast<uint64_t>(base + l);
      c0[l] = static_cast<uint32_t>(b);
      c1[l] = static_cast<uint32_t>(b >> 32);
      c2[l] = static_cast<uint32_t>(offset);
      c3[l] = static_cast<uint32_t>(offset >> 32);
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      for (int l = 0; l < L; ++l) {
        const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0[l];
        const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2[l];
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
        c1[l] = static_cast<uint32_t>(p1);
        c3[l] = static_cast<uint32_t>(p0);
        c0[l] = n0;
        c2[l] = n2;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    float r0[L], r1[L], r2[L], r3[L];
    if (normal) {
      for (int l = 0; l < L; ++l) {
        rng::box_muller(rng::uniform_open(c0[l]), rng::uniform_open(c1[l]), &r0[l], &r1[l]);
        rng::box_muller(rng::uniform_open(c2[l]), rng::uniform_open(c3[l]), &r2[l], &r3[l]);
      }
    } else {
      for (int l = 0; l < L; ++l) {
        r0[l] = rng::uniform_open(c0[l]);
        r1[l] = rng::uniform_open(c1[l]);
        r2[l] = rng::uniform_open(c2[l]);
        r3[l] = rng::uniform_open(c3[l]);
      }
    }
    const int64_t n = std::min<int64_t>(L, count - base);
    float* o = out + 4 * base;
    for (int64_t l = 0; l < n; ++l) {
      o[4 * l] = r0[l];
      o[4 * l + 1] = r1[l];
      o[4 * l + 2] = r2[l];
      o[4 * l + 3] = r3[l];
    }
  }
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

template <typename scalar_t>
void linear_rows(const scalar_t* x, scalar_t* out, const Geometry& g, double a_d, bool transpose) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t a = static_cast<acc_t>(a_d);
  // forward: out_i = x_i + a (x_{i+1} - x_i); backward (transpose): g_i + a (g_{i-1} - g_i).
  for_each_tile(g, chunk_for(g, 1 << 16), [&](int64_t o, int64_t j0, int64_t j1) {
    const scalar_t* xo = x + o * g.k * g.inner;
    scalar_t* oo = out + o * g.k * g.inner;
    for (int64_t i = 0; i < g.k; ++i) {
      const int64_t n = transpose ? (i == 0 ? g.k - 1 : i - 1) : (i + 1 == g.k ? 0 : i + 1);
      const scalar_t* xi = xo + i * g.inner;
      const scalar_t* xn = xo + n * g.inner;
      scalar_t* oi = oo + i * g.inner;
      for (int64_t j = j0; j < j1; ++j) {
        const acc_t v = static_cast<acc_t>(xi[j]);
        oi[j] = static_cast<scalar_t>(v + a * (static_cast<acc_t>(xn[j]) - v));
      }
    }
  });
}

template <typename scalar_t>
void optimal_rows(const scalar_t* x, scalar_t* out, const Geometry& g) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t inv = static_cast<acc_t>(1) / static_cast<acc_t>(g.k + 1);
  // out_i = (x_i + sum_j x_j) / (k + 1); symmetric, so the backward is the same map on the grad.
  const int64_t chunk = chunk_for(g, 1 << 16);
  for_each_tile(g, chunk, [&](int64_t o, int64_t j0, int64_t j1) {
    std::vector<acc_t> sum(j1 - j0, acc_t(0));
    const scalar_t* xo = x + o * g.k * g.inner;
    scalar_t* oo = out + o * g.k * g.inner;
    for (int64_t i = 0; i < g.k; ++i) {
      const scalar_t* xi = xo + i * g.inner;
      for (int64_t j = j0; j < j1; ++j) sum[j - j0] += static_cast<acc_t>(xi[j]);
    }
    for (int64_t i = 0; i < g.k; ++i) {
      const scalar_t* xi = xo + i * g.inner;
      scalar_t* oi = oo + i * g.inner;
      for (int64_t j = j0; j < j1; ++j) oi[j] = static_cast<scalar_t>((static_cast<acc_t>(xi[j]) + sum[j - j0]) * inv);
    }
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

template <typename scalar_t>
void salt_pepper_rows(const scalar_t* x, scalar_t* out, const Geometry& g, double p, uint64_t seed, uint64_t offset) {
  const float half_p = static_cast<float>(p * 0.5), pf = static_cast<float>(p);
  for_each_tile(g, chunk_for(g, 1 << 16), [&](int64_t o, int64_t j0, int64_t j1) {
    std::vector<scalar_t> hi(x + o * g.k * g.inner + j0, x + o * g.k * g.inner + j1);
    std::vector<scalar_t> lo(hi);
    const scalar_t* xo = x + o * g.k * g.inner;
    for (int64_t i = 1; i < g.k; ++i) {
      const scalar_t* xi = xo + i * g.inner;
      scalar_t* hp = hi.data() - j0;
      scalar_t* lp = lo.data() - j0;
      for (int64_t j = j0; j < j1; ++j) {
        // Loads first, then value selects: the form the vectorizer turns into max/min.
        const scalar_t v = xi[j], h = hp[j], l = lp[j];
        hp[j] = v > h ? v : h;
        lp[j] = v < l ? v : l;
      }
    }
    for (int64_t i = 0; i < g.k; ++i) {
      const int64_t base = (o * g.k + i) * g.inner;
      for_each_random<false>(base + j0, base + j1, seed, offset, [&](int64_t e, float u) {
        // Two plain selects (not nested) so the loop vectorizes: u < p/2 takes the max,
        // p/2 <= u < p the min, the rest keep x.
        const int64_t j = e - base - j0;
        const scalar_t xv = x[e], lv = lo[j], hv = hi[j];
        const scalar_t v = u < pf ? lv : xv;
        out[e] = u < half_p ? hv : v;
      });
    }
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
      case NoiseKind::SaltPepper: salt_pepper_rows(xp, op, g, strength, useed, uoff); break;
      case NoiseKind::None: out.copy_(x); break;
    }
  });
  return out;
}

at::Tensor backward_cpu(const at::Tensor& grad_in, int64_t kind, int64_t axis, double strength, int64_t seed,
                        int64_t offset, bool detach) {
  const Geometry g = check_and_geometry(grad_in, axis, "inject_noise_backward");
  const at::Tensor grad = grad_in.contiguous();
  const auto k = static_cast<NoiseKind>(kind);
  // The noise term carries no gradient under detach; gaussian noise is additive: identity.
  if (detach || k == NoiseKind::None || k == NoiseKind::Gaussian) return grad.clone();
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
