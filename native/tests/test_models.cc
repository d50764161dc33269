// Native checks of the model building blocks whose implementation depends on the libtorch
// version: the fused attention of libtorch 2.x against the literal formula, values and gradients.
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdio>

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
