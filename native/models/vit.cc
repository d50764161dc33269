// NoisyViT: blocks, the model, its noise sites. Module names follow timm so that state-dict
// keys (patch_embed.proj.weight, blocks.N.attn.qkv.weight, head.bias, ...) match timm's.
#include "models/vit.h"

#include <torch/version.h>

#include <cmath>

namespace noisynn {
namespace models {

namespace F = torch::nn::functional;

namespace {

// timm's LayerNorm for ViT uses eps 1e-6 (PyTorch's default is 1e-5).
torch::nn::LayerNorm make_layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6));
}

// Stochastic depth per sample, scaled by 1 / keep like timm's DropPath.
at::Tensor drop_path(const at::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  at::Tensor mask = at::empty(shape, x.options()).bernoulli_(keep).div_(keep);
  return x * mask;
}

}  // namespace

// softmax(q k^T * scale) v over [B, heads, N, head_dim]. libtorch 2.x has the fused kernel timm's
// ViT calls (F.scaled_dot_product_attention: flash / memory-efficient on CUDA, a fused CPU kernel);
// 1.13 gets the literal formula. tests/test_models.cc checks the two agree.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
  return attention_reference(q, k, v, scale);
#endif
}

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  return at::matmul(at::softmax(at::matmul(q * scale, k.transpose(-2, -1)), -1), v);
}

namespace {

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int64_t dim, int64_t heads, double proj_drop) : heads(heads), proj_drop(proj_drop) {
    qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, dim * 3).bias(true)));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    scale = 1.0 / std::sqrt(static_cast<double>(dim / heads));
  }

  at::Tensor forward(const at::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
    // [B, N, 3, heads, head_dim] -> [3, B, heads, N, head_dim], as timm reshapes qkv.
    at::Tensor qkv_out = qkv->forward(x).reshape({B, N, 3, heads, C / heads}).permute({2, 0, 3, 1, 4});
    at::Tensor out = attention(qkv_out[0], qkv_out[1], qkv_out[2], scale).transpose(1, 2).reshape({B, N, C});
    return F::dropout(proj->forward(out), F::DropoutFuncOptions().p(proj_drop).training(is_training()));
  }

  int64_t heads;
  double proj_drop;
  double scale;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t dim, int64_t hidden, double drop) : drop(drop) {
    fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
  }

  at::Tensor forward(const at::Tensor& x) {
    auto opts = F::DropoutFuncOptions().p(drop).training(is_training());
    at::Tensor h = F::dropout(at::gelu(fc1->forward(x)), opts);  // exact (erf) GELU, as nn.GELU()
    return F::dropout(fc2->forward(h), opts);
  }

  double drop;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace

// A pre-norm transformer block; the noise site, when it is this block, sits on the LayerNorm
// output that feeds qkv ('attention', the residual path untouched) or on the block input ('block').
struct VitBlockImpl : torch::nn::Module {
  VitBlockImpl(int64_t dim, int64_t heads, int64_t hidden, double drop, double drop_path_rate)
      : drop_path_rate(drop_path_rate) {
    norm1 = register_module("norm1", make_layer_norm(dim));
    attn = register_module("attn", Attention(dim, heads, drop));
    norm2 = register_module("norm2", make_layer_norm(dim));
    mlp = register_module("mlp", Mlp(dim, hidden, drop));
  }

  at::Tensor forward(at::Tensor x, NoiseSite* site, int64_t grid) {
    if (site != nullptr && site->config().site == NoiseSiteKind::Block) x = site->apply_to_tokens(x, grid, grid);
    at::Tensor h = norm1->forward(x);
    if (site != nullptr && site->config().site == NoiseSiteKind::Attention) h = site->apply_to_tokens(h, grid, grid);
    x = x + drop_path(attn->forward(h), drop_path_rate, is_training());
    return x + drop_path(mlp->forward(norm2->forward(x)), drop_path_rate, is_training());
  }

  double drop_path_rate;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
};

void validate_vit_config(const VitConfig& c) {
  TORCH_CHECK_VALUE(c.image_size > 0, "Expected positive integer for imageSize but received ", c.image_size);
  TORCH_CHECK_VALUE(c.patch_size > 0, "Expected positive integer for patchSize but received ", c.patch_size);
  TORCH_CHECK_VALUE(c.image_size % c.patch_size == 0, "Expected multiple of patchSize (", c.patch_size,
                    ") for imageSize but received ", c.image_size);
  TORCH_CHECK_VALUE(c.in_channels > 0, "Expected positive integer for inChannels but received ", c.in_channels);
  TORCH_CHECK_VALUE(c.num_classes > 0, "Expected positive integer for numClasses but received ", c.num_classes);
  TORCH_CHECK_VALUE(c.embed_dim > 0, "Expected positive integer for embedDim but received ", c.embed_dim);
  TORCH_CHECK_VALUE(c.depth > 0, "Expected positive integer for depth but received ", c.depth);
  TORCH_CHECK_VALUE(c.num_heads > 0, "Expected positive integer for numHeads but received ", c.num_heads);
  TORCH_CHECK_VALUE(c.embed_dim % c.num_heads == 0, "Expected multiple of numHeads (", c.num_heads,
                    ") for embedDim but received ", c.embed_dim);
  TORCH_CHECK_VALUE(
      c.mlp_ratio > 0 && std::isfinite(c.mlp_ratio) && static_cast<int64_t>(c.embed_dim * c.mlp_ratio) > 0,
      "Expected positive finite number for mlpRatio but received ", c.mlp_ratio);
  TORCH_CHECK_VALUE(c.dropout >= 0 && c.dropout < 1, "Expected number in [0, 1) for dropout but received ", c.dropout);
  TORCH_CHECK_VALUE(c.drop_path >= 0 && c.drop_path < 1, "Expected number in [0, 1) for dropPath but received ",
                    c.drop_path);
}

VisionTransformer::VisionTransformer(const VitConfig& config) : config_(config) {
  validate_vit_config(config);
  const int64_t D = config.embed_dim;
  grid_ = config.image_size / config.patch_size;

  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj_ = patch_embed->register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, D, config.patch_size).stride(config.patch_size)));
  cls_token_ = register_parameter("cls_token", at::zeros({1, 1, D}));
  pos_embed_ = register_parameter("pos_embed", at::zeros({1, grid_ * grid_ + 1, D}));

  auto blocks = register_module("blocks", torch::nn::ModuleList());
  // timm: int(dim * mlp_ratio) hidden units; drop-path rates linspace(0, rate, depth).
  const int64_t hidden = static_cast<int64_t>(D * config.mlp_ratio);
  for (int64_t i = 0; i < config.depth; ++i) {
    double dpr =
        config.depth > 1 ? config.drop_path * static_cast<double>(i) / static_cast<double>(config.depth - 1) : 0.0;
    auto block = std::make_shared<VitBlockImpl>(D, config.num_heads, hidden, config.dropout, dpr);
    blocks->push_back(block);
    blocks_.push_back(block);
  }
  norm_ = register_module("norm", make_layer_norm(D));
  head_ = register_module("head", torch::nn::Linear(D, config.num_classes));

  // timm's init: trunc-normal(0.02) for the position embedding and every Linear (zero bias),
  // normal(1e-6) for the class token; the patch conv and LayerNorms keep PyTorch defaults.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(config.init_seed);
  init_trunc_normal(pos_embed_, 0.02, gen);
  {
    torch::NoGradGuard no_grad;
    cls_token_.normal_(0.0, 1e-6, gen);
  }
  init_torch_default(patch_proj_->weight, patch_proj_->bias, gen);
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      init_trunc_normal(linear->weight, 0.02, gen);
      torch::NoGradGuard no_grad;
      linear->bias.zero_();
    }
  }

  NoiseSiteConfig noise;
  noise.layer = config.depth - 1;
  noise_.configure(noise);
}

void VisionTransformer::validate_noise(const NoiseSiteConfig& c) const {
  TORCH_CHECK_VALUE(c.layer >= 0 && c.layer < config_.depth, "Expected integer between ", -config_.depth, " and ",
                    config_.depth - 1, " for noise.layer but received ", c.layer);
}

at::Tensor VisionTransformer::forward(const at::Tensor& input) {
  at::Tensor x = check_input(input);
  const int64_t B = x.size(0);
  // Patch embedding: [B, D, g, g] -> [B, g*g, D]; class token first, then position embedding.
  x = patch_proj_->forward(x).flatten(2).transpose(1, 2);
  x = at::cat({cls_token_.expand({B, -1, -1}), x}, 1) + pos_embed_;
  x = F::dropout(x, F::DropoutFuncOptions().p(config_.dropout).training(is_training()));

  NoiseSite* site = noise_.active(is_training()) ? &noise_ : nullptr;
  const int64_t noisy_layer = noise_.config().layer;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    x = blocks_[i]->forward(x, static_cast<int64_t>(i) == noisy_layer ? site : nullptr, grid_);
  }
  x = norm_->forward(x);
  // Class-token pooling, then timm's head dropout and the linear head.
  at::Tensor pooled = x.select(1, 0);
  pooled = F::dropout(pooled, F::DropoutFuncOptions().p(config_.dropout).training(is_training()));
  return head_->forward(pooled);
}

}  // namespace models
}  // namespace noisynn
