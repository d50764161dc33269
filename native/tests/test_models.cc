// Native checks of the runtime pieces under the models: the fused attention of libtorch 2.x
// against the literal formula (values and gradients), and the caching CPU allocator.
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define NN_HAVE_MALLINFO2 1  // glibc's heap figures, to see which blocks glibc holds
#endif

#include "common/cpu_allocator.h"
#include "models/vit.h"
#include "tests/test_main.h"

namespace {

double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  return (a - b).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

}  // namespace

NN_TEST("attention equals the literal softmax(q k^T * scale) v, forward and backward") {
  // The shapes of the models: the mini ViT on Fashion-MNIST (50 tokens, 4 heads of 16) and
  // ViT-Tiny (197 tokens, 3 heads of 64).
  struct Shape {
    int64_t batch, heads, tokens, dim;
  };
  for (const Shape s : {Shape{8, 4, 50, 16}, Shape{2, 3, 197, 64}}) {
    torch::manual_seed(5);
    auto make = [&] { return torch::randn({s.batch, s.heads, s.tokens, s.dim}).requires_grad_(true); };
    at::Tensor q = make(), k = make(), v = make();
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.dim));
    at::Tensor fused = noisynn::models::attention(q, k, v, scale);
    at::Tensor ref = noisynn::models::attention_reference(q, k, v, scale);
    NN_EXPECT(rel_diff(fused, ref) < 1e-5, "forward, " << s.tokens << " tokens: " << rel_diff(fused, ref));
    at::Tensor w = torch::randn(fused.sizes());
    auto grads = [&](const at::Tensor& out) { return torch::autograd::grad({(out * w).sum()}, {q, k, v}); };
    auto gf = grads(fused), gr = grads(ref);
    for (size_t i = 0; i < 3; ++i) {
      NN_EXPECT(rel_diff(gf[i], gr[i]) < 1e-5, "gradient "
                                                   << "qkv"[i] << ", " << s.tokens
                                                   << " tokens: " << rel_diff(gf[i], gr[i]));
    }
  }
  std::printf("     (libtorch %s: %s)\n", TORCH_VERSION,
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
              "at::scaled_dot_product_attention"
#else
              "the literal formula"
#endif
  );
  return true;
}

NN_TEST("the caching CPU allocator reuses freed blocks, stays under its cap and gives memory back") {
  namespace mem = noisynn::cpu_memory;
  // Size classes: at most 25% above the request, 64-byte granular, 2 MB granular above 64 MB.
  for (size_t n : {size_t{1}, size_t{64}, size_t{65}, size_t{300}, size_t{1000}, size_t{123457}, size_t{9} << 20,
                   (size_t{100} << 20) + 1}) {
    const size_t c = mem::size_class(n);
    NN_EXPECT(c >= n && (n <= 256 || c <= n + n / 4 + (size_t{2} << 20)), n << " -> " << c);
    NN_EXPECT(c % 64 == 0, n << " -> " << c);
  }
  mem::Stats before = mem::stats();
  NN_EXPECT(before.installed, "the native test program installs the allocator (apply_runtime_defaults)");
  void* first = nullptr;
  {
    at::Tensor a = at::empty({1 << 20});  // 4 MB
    first = a.data_ptr();
  }
  at::Tensor b = at::empty({1 << 20});
  NN_EXPECT(b.data_ptr() == first, "a freed block of the same size class is handed out again");
  NN_EXPECT(mem::stats().hits > before.hits, "hit counted");
  NN_EXPECT(reinterpret_cast<uintptr_t>(first) % (size_t{2} << 20) == 0,
            "blocks of 2 MB or more are huge-page aligned");
  {
    std::vector<at::Tensor> many;
    for (int i = 0; i < 64; ++i) many.push_back(at::ones({1 << 18}));
    for (const auto& t : many) NN_EXPECT(t.sum().item<float>() == float(1 << 18), "memory reused is usable");
  }
  mem::Stats after = mem::stats();
  NN_EXPECT(after.cached_bytes <= after.cap_bytes, after.cached_bytes << " cached over a cap of " << after.cap_bytes);
  mem::release_cached();
  NN_EXPECT(mem::stats().cached_bytes == 0, "release_cached empties the cache");
  return true;
}

// Resident memory of this process, from /proc/self/statm (0 where that is not available).
static int64_t resident_bytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  const int got = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return got == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGE_SIZE) : 0;
}

NN_TEST("memory the caching CPU allocator gives back leaves the process (large blocks are its own mappings)") {
  namespace mem = noisynn::cpu_memory;
  if (resident_bytes() == 0) return true;  // no /proc: nothing to measure
  mem::release_cached();
  // Blocks of 1-4 MB: glibc serves such sizes from its heaps once its mmap threshold has grown
  // (as it does in a process that has run for a while), and freed in the middle of a heap they
  // stay resident. The allocator maps them itself instead: glibc's figures do not grow by them.
#ifdef NN_HAVE_MALLINFO2
  const struct mallinfo2 glibc_before = mallinfo2();
#endif
  const int64_t base = resident_bytes();
  {
    std::vector<at::Tensor> blocks;
    for (int i = 0; i < 48; ++i) blocks.push_back(at::ones({(int64_t{1} << 18) * (1 + i % 4)}));  // 1-4 MB each
#ifdef NN_HAVE_MALLINFO2
    const struct mallinfo2 glibc_during = mallinfo2();
    const int64_t grew = static_cast<int64_t>(glibc_during.uordblks + glibc_during.hblkhd) -
                         static_cast<int64_t>(glibc_before.uordblks + glibc_before.hblkhd);
    NN_EXPECT(grew < (int64_t{8} << 20), "glibc holds " << (grew >> 20) << " MB of the 120 MB of blocks");
#endif
  }
  const int64_t cached = mem::stats().cached_bytes;
  NN_EXPECT(cached >= (int64_t{100} << 20), "the freed blocks are cached: " << (cached >> 20) << " MB");
  const int64_t held = resident_bytes();
  NN_EXPECT(held - base >= (int64_t{90} << 20), "while cached they stay resident: +" << ((held - base) >> 20) << " MB");
  mem::release_cached();
  const int64_t after = resident_bytes();
  NN_EXPECT(held - after >= (int64_t{90} << 20), "release_cached returned only " << ((held - after) >> 20) << " MB of "
                                                                                 << (cached >> 20)
                                                                                 << " MB to the system");
  return true;
}
