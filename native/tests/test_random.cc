// Native checks of the randomness against references outside the kernels: Philox4x32-10 against
// the published Random123 known-answer vectors, the gaussian kind against Box-Muller computed in
// double with libm from those checked words, and the distributions of the gaussian and
// salt-and-pepper kinds against their laws (moments, Kolmogorov-Smirnov, binomial counts).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/philox.h"
#include "common/philox_cpu.h"
#include "ops/noise.h"
#include "tests/test_main.h"

namespace {

using noisynn::NoiseKind;
using noisynn::NoiseParams;

// Random123 1.14, tests/kat_vectors, the three "philox4x32 10" lines: counter (4 words), key
// (2 words), expected output (4 words).
struct Kat {
  uint32_t ctr[4];
  uint32_t key[2];
  uint32_t out[4];
};
const Kat kKats[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

// The kernels' mapping (common/philox.h): counter {block lo, block hi, offset lo, offset hi}, key = seed.
uint64_t block_of(const Kat& k) { return uint64_t(k.ctr[0]) | (uint64_t(k.ctr[1]) << 32); }
uint64_t offset_of(const Kat& k) { return uint64_t(k.ctr[2]) | (uint64_t(k.ctr[3]) << 32); }
uint64_t seed_of(const Kat& k) { return uint64_t(k.key[0]) | (uint64_t(k.key[1]) << 32); }

// The uniform the kernels make of a word: its top 24 bits plus one half, rounded to float (the
// sum needs 25 bits: ties go to even, so the top word gives exactly 1), over 2^24.
double uniform_of(uint32_t word) {
  return static_cast<double>(static_cast<float>(double(word >> 8) + 0.5)) / 16777216.0;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Kolmogorov-Smirnov statistic of `xs` (sorted in place) against `cdf`.
template <typename Cdf>
double ks_statistic(std::vector<double>& xs, Cdf cdf) {
  std::sort(xs.begin(), xs.end());
  const double n = static_cast<double>(xs.size());
  double d = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double f = cdf(xs[i]);
    d = std::max({d, f - double(i) / n, double(i + 1) / n - f});
  }
  return d;
}

// 1.95 / sqrt(n) is the KS critical value at p = 0.001: a correct generator fails it once in a
// thousand seeds, and these seeds are fixed, so the test is deterministic.
double ks_limit(size_t n) { return 1.95 / std::sqrt(static_cast<double>(n)); }

}  // namespace

NN_TEST("Philox4x32-10 gives the Random123 known answers (scalar code and every CPU vector path)") {
  for (const Kat& k : kKats) {
    const noisynn::rng::Block b = noisynn::rng::philox4x32_10(block_of(k), offset_of(k), seed_of(k));
    for (int w = 0; w < 4; ++w) {
      NN_EXPECT(b.v[w] == k.out[w],
                "counter " << std::hex << k.ctr[0] << " word " << w << ": " << b.v[w] << " != " << k.out[w]);
    }
    // The vector paths return uniforms: the uniform of each known word, exactly.
    for (const char* path : {"portable", "avx2", "avx512"}) {
      float u[4];
      if (!noisynn::rng::philox_blocks_on_path(path, block_of(k), 1, offset_of(k), seed_of(k), false, u)) continue;
      for (int w = 0; w < 4; ++w) {
        NN_EXPECT(static_cast<double>(u[w]) == uniform_of(k.out[w]),
                  path << ": uniform of word " << w << " is " << u[w] << ", expected " << uniform_of(k.out[w]));
      }
    }
  }
  return true;
}

NN_TEST("gaussian noise equals Box-Muller in double (libm) on the known-answer Philox words") {
  // Element e takes lane e & 3 of block e >> 2 of the stream keyed by (seed, offset): with seed 0
  // and offset 0, block 0 is the all-zero known answer, and the blocks after it come from the
  // scalar generator that the known answers check. Normals are computed here from those words.
  const Kat& k = kKats[0];
  NoiseParams p;
  p.kind = NoiseKind::Gaussian;
  p.axis = 0;
  p.strength = 0.5;
  p.mean = 0.25;
  p.std = 2.0;
  p.seed = seed_of(k);
  p.offset = offset_of(k);
  constexpr int64_t kBlocks = 64;
  at::Tensor x = torch::zeros({4 * kBlocks}, at::kDouble);
  at::Tensor y = noisynn::inject_noise(x, p);
  const double* yp = y.data_ptr<double>();
  double worst = 0;
  for (int64_t b = 0; b < kBlocks; ++b) {
    const noisynn::rng::Block blk = noisynn::rng::philox4x32_10(static_cast<uint64_t>(b), p.offset, p.seed);
    if (b == 0) {
      for (int w = 0; w < 4; ++w) NN_EXPECT(blk.v[w] == k.out[w], "block 0 is the known answer");
    }
    for (int pair = 0; pair < 2; ++pair) {
      const double u_r = uniform_of(blk.v[2 * pair]), u_a = uniform_of(blk.v[2 * pair + 1]);
      const double r = std::sqrt(-2.0 * std::log(u_r));
      const double z[2] = {r * std::cos(2 * M_PI * u_a), r * std::sin(2 * M_PI * u_a)};
      for (int j = 0; j < 2; ++j) {
        const double want = p.strength * (p.mean + p.std * z[j]);
        worst = std::max(worst, std::abs(yp[4 * b + 2 * pair + j] - want));
      }
    }
  }
  // The kernels compute in float (24-bit uniforms, polynomial log and sincos): 1e-5 of s*d*|z|.
  NN_EXPECT(worst < 2e-5, "largest difference from libm Box-Muller " << worst);
  return true;
}

NN_TEST("gaussian noise has its law: mean, variance and a Kolmogorov-Smirnov test against N(m, d)") {
  for (uint64_t seed : {1ull, 0xC0FFEEull}) {
    NoiseParams p;
    p.kind = NoiseKind::Gaussian;
    p.axis = 0;
    p.strength = 1.0;
    p.mean = 0.5;
    p.std = 1.5;
    p.seed = seed;
    p.offset = 7;
    constexpr int64_t n = 1 << 18;
    at::Tensor y = noisynn::inject_noise(torch::zeros({n}, at::kDouble), p);
    std::vector<double> z(y.data_ptr<double>(), y.data_ptr<double>() + n);
    double mean = 0, var = 0;
    for (double v : z) mean += v;
    mean /= n;
    for (double v : z) var += (v - mean) * (v - mean);
    var /= n - 1;
    // 5 standard errors: the mean's is d / sqrt(n), the variance's d^2 sqrt(2 / n).
    NN_EXPECT(std::abs(mean - 0.5) < 5 * 1.5 / std::sqrt(double(n)), "mean " << mean);
    NN_EXPECT(std::abs(var - 2.25) < 5 * 2.25 * std::sqrt(2.0 / n), "variance " << var);
    const double d = ks_statistic(z, [](double v) { return normal_cdf((v - 0.5) / 1.5); });
    NN_EXPECT(d < ks_limit(z.size()),
              "KS statistic " << d << " above " << ks_limit(z.size()) << " (seed " << seed << ")");
  }
  return true;
}

NN_TEST("the stream's uniforms pass a Kolmogorov-Smirnov test against U(0, 1), and so do its block ends") {
  constexpr int64_t kBlocks = 1 << 16;
  std::vector<float> u(4 * kBlocks);
  noisynn::rng::philox_blocks(0, kBlocks, 3, 99, false, u.data());
  std::vector<double> all(u.begin(), u.end());
  const double d = ks_statistic(all, [](double v) { return v; });
  NN_EXPECT(d < ks_limit(all.size()), "KS statistic " << d);
  // Lane 3 alone: a lane that repeated or correlated with the block number would show here.
  std::vector<double> lane;
  for (int64_t b = 0; b < kBlocks; ++b) lane.push_back(u[4 * b + 3]);
  const double d3 = ks_statistic(lane, [](double v) { return v; });
  NN_EXPECT(d3 < ks_limit(lane.size()), "lane 3 KS statistic " << d3);
  return true;
}

NN_TEST("salt-and-pepper noise hits each element with probability p/2 per extreme, independently") {
  NoiseParams p;
  p.kind = NoiseKind::SaltPepper;
  p.axis = 0;
  p.strength = 0.2;
  p.seed = 4242;
  p.offset = 1;
  constexpr int64_t n = 1 << 18;
  // Values strictly inside (-1, 1) with the extremes planted at both ends.
  at::Tensor x = torch::linspace(-0.5, 0.5, n, at::kDouble);
  x[0] = -1.0;
  x[n - 1] = 1.0;
  at::Tensor y = noisynn::inject_noise(x, p);
  const double* yp = y.data_ptr<double>();
  const double* xp = x.data_ptr<double>();
  int64_t salt = 0, pepper = 0, kept = 0, bad = 0, runs = 0;
  bool prev = false;
  for (int64_t i = 1; i < n - 1; ++i) {
    const bool hit = yp[i] != xp[i];
    if (yp[i] == 1.0) ++salt;
    else if (yp[i] == -1.0) ++pepper;
    else if (yp[i] == xp[i]) ++kept;
    else ++bad;
    runs += hit && !prev;
    prev = hit;
  }
  const double m = double(n - 2);
  // Binomial(m, 0.1) per extreme: 5 standard deviations.
  const double sd = std::sqrt(m * 0.1 * 0.9);
  NN_EXPECT(bad == 0, bad << " elements took a value other than x, the max or the min");
  NN_EXPECT(std::abs(salt - 0.1 * m) < 5 * sd, "salt count " << salt << ", expected " << 0.1 * m);
  NN_EXPECT(std::abs(pepper - 0.1 * m) < 5 * sd, "pepper count " << pepper << ", expected " << 0.1 * m);
  // Independent hits form runs at rate q(1-q) per element (q = 0.2); clustering would show fewer.
  const double want_runs = m * 0.2 * 0.8;
  NN_EXPECT(std::abs(runs - want_runs) < 5 * std::sqrt(want_runs),
            "runs of hits " << runs << ", expected " << want_runs);
  return true;
}
