// NoisyCNN: torchvision's ResNet (BasicBlock / Bottleneck), plus a small-image stem.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "models/model.h"

namespace noisynn {
namespace models {

enum class ResNetBlock { Basic, Bottleneck };
// 'imagenet': torchvision's 7x7 stride-2 conv and 3x3 max-pool. 'small': a 3x3 stride-1 conv and
// no max-pool, for 28 and 32 pixel inputs (the usual CIFAR ResNet stem).
enum class ResNetStem { ImageNet, Small };

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::Basic;
  std::array<int64_t, 4> layers{{2, 2, 2, 2}};  // blocks per stage
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  ResNetStem stem = ResNetStem::ImageNet;
  uint64_t init_seed = 0;
};

ResNetBlock parse_resnet_block(const std::string& s);
ResNetStem parse_resnet_stem(const std::string& s);

// Throws c10::ValueError naming the first inconsistent field.
void validate_resnet_config(const ResNetConfig& c);

struct ResidualBlockImpl;

class ResNet : public Model {
 public:
  explicit ResNet(const ResNetConfig& config);

  at::Tensor forward(const at::Tensor& x) override;
  std::string family() const override { return "resnet"; }
  int64_t in_channels() const override { return config_.in_channels; }
  int64_t num_classes() const override { return config_.num_classes; }
  const ResNetConfig& config() const { return config_; }

 protected:
  void validate_noise(const NoiseSiteConfig& config) const override;

 private:
  ResNetConfig config_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::array<std::vector<std::shared_ptr<ResidualBlockImpl>>, 4> stages_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace models
}  // namespace noisynn
