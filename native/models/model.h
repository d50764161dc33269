// The interface every NoisyNN model shares: forward, the noise site, train/eval, weight names.
//
// Other native code (the trainer) holds models through this header only: it needs forward(),
// the torch::nn::Module parameters, train()/eval(), to(), and the per-model lock below.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ops/noise.h"

namespace noisynn {
namespace dist {
class Group;
}
namespace models {

// The modes in which the noise is applied: module.train(true), module.train(false), or both.
enum class NoiseWhen { Train, Eval, Always };
// The mixing axis: the batch (the official code) or the rows of the token / feature grid.
enum class NoiseAxis { Batch, Spatial };
// ViT only: on the LayerNorm output feeding qkv (official), or on the tokens entering the block.
enum class NoiseSiteKind { Attention, Block };
// Data-parallel training: mix over the global batch of all ranks (as one process with the whole
// batch would) or over each rank's local batch. Without a process group both are the local batch.
enum class NoiseScope { Local, Global };

NoiseWhen parse_noise_when(const std::string& s);
NoiseAxis parse_noise_axis(const std::string& s);
NoiseSiteKind parse_noise_site(const std::string& s);
NoiseScope parse_noise_scope(const std::string& s);
const char* noise_site_name(NoiseSiteKind s);

// Where and when a model injects noise. `params.axis` and `params.offset` are filled per call.
struct NoiseSiteConfig {
  NoiseParams params;
  NoiseAxis axis = NoiseAxis::Batch;
  NoiseWhen when = NoiseWhen::Train;
  NoiseSiteKind site = NoiseSiteKind::Attention;  // ViT only; ResNets inject at a block's input
  NoiseScope scope = NoiseScope::Global;
  int64_t layer = 0;  // ViT: block index in [0, depth)
  int64_t stage = 4;  // ResNet: stage 1..4 (torchvision's layer1..layer4)
  int64_t block = 0;  // ResNet: block index within the stage
};

// Applies the configured noise to one tensor and advances the Philox offset by the number of
// elements it noised, so every forward draws fresh noise and (seed, offset) replays it.
class NoiseSite {
 public:
  void configure(const NoiseSiteConfig& config) { config_ = config; }
  const NoiseSiteConfig& config() const { return config_; }
  bool active(bool training) const;

  // Tokens [B, 1 + H*W, C], class token first: only the patch tokens are noised. 'spatial'
  // mixes the rows of the H x W token grid.
  at::Tensor apply_to_tokens(const at::Tensor& tokens, int64_t grid_h, int64_t grid_w);
  // A feature map [B, C, H, W]; 'spatial' mixes its rows (axis 2).
  at::Tensor apply_to_feature_map(const at::Tensor& x);

  uint64_t offset() const { return offset_.load(); }
  void set_offset(uint64_t offset) { offset_.store(offset); }

  // The data-parallel group that 'global' scope mixes over. The trainer sets it for the span of
  // its collective calls (a step, a batch evaluation), which every rank makes; any other forward
  // (model.forward, probes) mixes the local batch.
  void set_group(std::shared_ptr<dist::Group> group) { group_ = std::move(group); }

 private:
  at::Tensor inject(const at::Tensor& x, int64_t axis);

  NoiseSiteConfig config_;
  std::atomic<uint64_t> offset_{0};
  std::shared_ptr<dist::Group> group_;
};

// Seconds of each of `iterations` forward + backward passes of `site` alone on tokens
// [B, 1 + grid_h*grid_w, C] (all-ones output gradient), as inside a training step: what noise
// adds to a step, timed natively (bench/models.js).
std::vector<double> time_noise_site(NoiseSite& site, const at::Tensor& tokens, int64_t grid_h, int64_t grid_w,
                                    int64_t iterations);

// A NoisyNN model. Parameter and buffer names are those of timm (ViT) and torchvision (ResNet).
// train(true) / train(false) select dropout, BatchNorm statistics and whether the noise applies.
class Model : public torch::nn::Module {
 public:
  // x: [B, in_channels, H, W] float32 on the model's device; returns logits [B, num_classes].
  virtual at::Tensor forward(const at::Tensor& x) = 0;

  virtual std::string family() const = 0;  // "vit" | "resnet"
  virtual int64_t in_channels() const = 0;
  virtual int64_t num_classes() const = 0;
  // The input height and width the model requires, or 0 when any size works.
  virtual int64_t image_size() const { return 0; }

  // Validates `config` against this architecture (layer in range, site allowed) and installs it.
  void set_noise(const NoiseSiteConfig& config);
  const NoiseSiteConfig& noise() const { return noise_.config(); }
  // The Philox offset of the next noise draw: part of a training checkpoint's RNG state.
  uint64_t noise_offset() const { return noise_.offset(); }
  void set_noise_offset(uint64_t offset) { noise_.set_offset(offset); }
  // Applies the model's noise site to a tensor as the model would (tests and probes).
  NoiseSite& noise_site() { return noise_; }

  int64_t num_parameters() const;
  // Parameters then buffers, under their timm / torchvision names: what saveWeights writes.
  std::vector<std::pair<std::string, at::Tensor>> state_dict() const;
  at::Device device() const;
  // Bytes held by parameters and buffers (reported to the JS garbage collector).
  int64_t state_bytes() const;

  // Serialises forward, training steps, device moves and weight loading on one model, which
  // JS may start concurrently from several worker threads.
  std::mutex& mutex() { return mutex_; }

  // Throws c10::ValueError unless x is [B, in_channels, H, W] with the required size, on the
  // model's device; converts other floating dtypes to float32.
  at::Tensor check_input(const at::Tensor& x) const;

 protected:
  virtual void validate_noise(const NoiseSiteConfig& config) const = 0;
  NoiseSite noise_;

 private:
  std::mutex mutex_;
};

// Weight initialisation helpers with an explicit generator, so a model's initial weights
// depend on its seed only (not on the global RNG other threads may be using).
void init_trunc_normal(const at::Tensor& t, double std, at::Generator& gen);
void init_uniform(const at::Tensor& t, double bound, at::Generator& gen);
void init_kaiming_normal_fan_out(const at::Tensor& t, at::Generator& gen);
// PyTorch's default Conv/Linear init (kaiming_uniform with a = sqrt(5), bias U(+-1/sqrt(fan_in))).
void init_torch_default(const at::Tensor& weight, const at::Tensor& bias, at::Generator& gen);

}  // namespace models
}  // namespace noisynn
