// NoisyViT: timm's VisionTransformer (class token, learned position embedding, pre-norm blocks).
#pragma once

#include <memory>
#include <vector>

#include "models/model.h"

namespace noisynn {
namespace models {

// Field for field timm's VisionTransformer arguments of the same meaning.
struct VitConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  double dropout =
      0.0;  // timm's drop_rate: after the position embedding, in the MLP and attention output, before the head
  double drop_path = 0.0;  // timm's drop_path_rate: stochastic depth, rising linearly from 0 to this at the last block
  uint64_t init_seed = 0;
};

// Scaled dot-product attention over [B, heads, N, head_dim] as the models run it (the fused kernel
// on libtorch 2.x), and the literal formula it must agree with.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale);
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale);

// Throws c10::ValueError naming the first inconsistent field.
void validate_vit_config(const VitConfig& c);

struct VitBlockImpl;

class VisionTransformer : public Model {
 public:
  explicit VisionTransformer(const VitConfig& config);

  at::Tensor forward(const at::Tensor& x) override;
  std::string family() const override { return "vit"; }
  int64_t in_channels() const override { return config_.in_channels; }
  int64_t num_classes() const override { return config_.num_classes; }
  int64_t image_size() const override { return config_.image_size; }
  const VitConfig& config() const { return config_; }

 protected:
  void validate_noise(const NoiseSiteConfig& config) const override;

 private:
  VitConfig config_;
  int64_t grid_ = 0;  // patches per side
  torch::nn::Conv2d patch_proj_{nullptr};
  at::Tensor cls_token_, pos_embed_;
  std::vector<std::shared_ptr<VitBlockImpl>> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace models
}  // namespace noisynn
