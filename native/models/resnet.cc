// NoisyCNN: residual blocks, the ResNet, its noise site. Module names follow torchvision so that
// state-dict keys (conv1.weight, bn1.running_mean, layer1.0.conv1.weight, fc.weight, ...) match.
#include "models/resnet.h"

namespace noisynn {
namespace models {

namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

torch::nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

}  // namespace

// A residual block: torchvision's BasicBlock (two 3x3 convs) or Bottleneck (1x1, 3x3 with the
// stride, 1x1 to 4x width: "ResNet v1.5"), with a 1x1 conv + BN downsample when shapes change.
struct ResidualBlockImpl : torch::nn::Module {
  ResidualBlockImpl(ResNetBlock kind, int64_t in, int64_t planes, int64_t stride) : kind(kind) {
    const int64_t expansion = kind == ResNetBlock::Basic ? 1 : 4;
    if (kind == ResNetBlock::Basic) {
      conv1 = register_module("conv1", conv3x3(in, planes, stride));
      bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
      conv2 = register_module("conv2", conv3x3(planes, planes, 1));
      bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
    } else {
      conv1 = register_module("conv1", conv1x1(in, planes, 1));
      bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
      conv2 = register_module("conv2", conv3x3(planes, planes, stride));
      bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
      conv3 = register_module("conv3", conv1x1(planes, planes * expansion, 1));
      bn3 = register_module("bn3", torch::nn::BatchNorm2d(planes * expansion));
    }
    if (stride != 1 || in != planes * expansion) {
      downsample = register_module("downsample", torch::nn::Sequential(conv1x1(in, planes * expansion, stride),
                                                                       torch::nn::BatchNorm2d(planes * expansion)));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor out = at::relu(bn1->forward(conv1->forward(x)));
    if (kind == ResNetBlock::Basic) {
      out = bn2->forward(conv2->forward(out));
    } else {
      out = at::relu(bn2->forward(conv2->forward(out)));
      out = bn3->forward(conv3->forward(out));
    }
    at::Tensor identity = downsample.is_empty() ? x : downsample->forward(x);
    return at::relu(out + identity);
  }

  ResNetBlock kind;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};

ResNetBlock parse_resnet_block(const std::string& s) {
  if (s == "basic") return ResNetBlock::Basic;
  if (s == "bottleneck") return ResNetBlock::Bottleneck;
  TORCH_CHECK_VALUE(false, "Expected one of 'basic', 'bottleneck' for block but received '", s, "'");
}

ResNetStem parse_resnet_stem(const std::string& s) {
  if (s == "imagenet") return ResNetStem::ImageNet;
  if (s == "small") return ResNetStem::Small;
  TORCH_CHECK_VALUE(false, "Expected one of 'imagenet', 'small' for stem but received '", s, "'");
}

void validate_resnet_config(const ResNetConfig& c) {
  for (size_t i = 0; i < c.layers.size(); ++i) {
    TORCH_CHECK_VALUE(c.layers[i] > 0, "Expected positive integer for layers[", i, "] but received ", c.layers[i]);
  }
  TORCH_CHECK_VALUE(c.in_channels > 0, "Expected positive integer for inChannels but received ", c.in_channels);
  TORCH_CHECK_VALUE(c.num_classes > 0, "Expected positive integer for numClasses but received ", c.num_classes);
}

ResNet::ResNet(const ResNetConfig& config) : config_(config) {
  validate_resnet_config(config);
  if (config.stem == ResNetStem::ImageNet) {
    conv1_ = register_module(
        "conv1",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(config.in_channels, 64, 7).stride(2).padding(3).bias(false)));
  } else {
    conv1_ = register_module("conv1", conv3x3(config.in_channels, 64, 1));
  }
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));

  const int64_t expansion = config.block == ResNetBlock::Basic ? 1 : 4;
  int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    const int64_t planes = int64_t{64} << s;
    auto stage = register_module("layer" + std::to_string(s + 1), torch::nn::ModuleList());
    for (int64_t b = 0; b < config.layers[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      auto block = std::make_shared<ResidualBlockImpl>(config.block, in, planes, stride);
      stage->push_back(block);
      stages_[s].push_back(block);
      in = planes * expansion;
    }
  }
  fc_ = register_module("fc", torch::nn::Linear(in, config.num_classes));

  // torchvision's init: kaiming-normal (fan_out, relu) convs, BatchNorm weight 1 / bias 0 (the
  // libtorch default), PyTorch's default Linear init for fc.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(config.init_seed);
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) init_kaiming_normal_fan_out(conv->weight, gen);
  }
  init_torch_default(fc_->weight, fc_->bias, gen);

  NoiseSiteConfig noise;
  noise.site = NoiseSiteKind::Block;
  noise.stage = 4;
  noise.block = config.layers[3] - 1;
  noise_.configure(noise);
}

void ResNet::validate_noise(const NoiseSiteConfig& c) const {
  TORCH_CHECK_VALUE(c.stage >= 1 && c.stage <= 4,
                    "Expected integer between 1 and 4 for noise.layer.stage but received ", c.stage);
  const int64_t n = config_.layers[c.stage - 1];
  TORCH_CHECK_VALUE(c.block >= 0 && c.block < n, "Expected integer between ", -n, " and ", n - 1,
                    " for noise.layer.block but received ", c.block);
  TORCH_CHECK_VALUE(c.site == NoiseSiteKind::Block, "Expected 'block' for noise.site but received '",
                    noise_site_name(c.site), "' (a ResNet injects noise at the input of a residual block)");
}

at::Tensor ResNet::forward(const at::Tensor& input) {
  at::Tensor x = at::relu(bn1_->forward(conv1_->forward(check_input(input))));
  if (config_.stem == ResNetStem::ImageNet) x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});

  const bool noisy = noise_.active(is_training());
  const NoiseSiteConfig& site = noise_.config();
  for (int s = 0; s < 4; ++s) {
    for (size_t b = 0; b < stages_[s].size(); ++b) {
      if (noisy && site.stage == s + 1 && site.block == static_cast<int64_t>(b)) x = noise_.apply_to_feature_map(x);
      x = stages_[s][b]->forward(x);
    }
  }
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

}  // namespace models
}  // namespace noisynn
