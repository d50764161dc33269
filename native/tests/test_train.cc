// Native checks of the models and the trainer together (no Node): noisy models learn a toy task
// on CPU, and, when a GPU is present, CUDA training steps follow the CPU ones, bf16 autocast
// trains, and a resumed CUDA run with dropout replays the uninterrupted one. These are the
// paths scripts/gpu-check.sh exists to exercise on a machine without Node.
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "models/resnet.h"
#include "models/vit.h"
#include "tests/test_main.h"
#include "train/trainer.h"

namespace {

using namespace noisynn;

constexpr int64_t kClasses = 4;

// A separable toy task on 1x28x28 images: class c is a bright band of rows 7c .. 7c+6 over
// Gaussian background noise.
std::pair<at::Tensor, at::Tensor> toy_batch(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  at::Tensor labels = torch::arange(n, at::kLong).remainder(kClasses);
  at::Tensor bands = torch::zeros({kClasses, 28, 28});
  for (int64_t c = 0; c < kClasses; ++c) bands[c].narrow(0, 7 * c, 7).fill_(1.5);
  at::Tensor images = 0.5 * torch::randn({n, 1, 28, 28}) + bands.index_select(0, labels).unsqueeze(1);
  return {images, labels};
}

std::shared_ptr<models::Model> tiny_vit(NoiseKind kind, double dropout = 0.0) {
  models::VitConfig c;
  c.image_size = 28;
  c.patch_size = 7;
  c.in_channels = 1;
  c.num_classes = kClasses;
  c.embed_dim = 32;
  c.depth = 2;
  c.num_heads = 2;
  c.dropout = dropout;
  c.init_seed = 5;
  auto m = std::make_shared<models::VisionTransformer>(c);
  models::NoiseSiteConfig noise;
  noise.params.kind = kind;
  noise.params.strength = kind == NoiseKind::SaltPepper ? 0.1 : kind == NoiseKind::Gaussian ? 0.5 : 0.3;
  noise.params.seed = 9;
  noise.layer = c.depth - 1;
  m->set_noise(noise);
  return m;
}

std::shared_ptr<models::Model> tiny_resnet(NoiseKind kind) {
  models::ResNetConfig c;
  c.layers = {{1, 1, 1, 1}};
  c.in_channels = 1;
  c.num_classes = kClasses;
  c.stem = models::ResNetStem::Small;
  c.init_seed = 5;
  auto m = std::make_shared<models::ResNet>(c);
  models::NoiseSiteConfig noise;
  noise.params.kind = kind;
  noise.params.strength = kind == NoiseKind::SaltPepper ? 0.1 : 0.3;
  noise.params.seed = 9;
  noise.site = models::NoiseSiteKind::Block;
  noise.stage = 4;
  noise.block = 0;
  m->set_noise(noise);
  return m;
}

train::TrainerOptions options(double lr, bool mixed_precision = false) {
  train::TrainerOptions o;
  o.optimizer.lr = lr;
  o.schedule.kind = train::ScheduleKind::Constant;
  o.mixed_precision = mixed_precision;
  o.seed = 3;
  return o;
}

// Loss of each of `steps` training steps on one fixed batch.
std::vector<double> train_losses(const std::shared_ptr<models::Model>& model, const train::TrainerOptions& o, int steps,
                                 const at::Tensor& images, const at::Tensor& labels) {
  train::Trainer trainer(model, o);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) losses.push_back(trainer.step(images, labels).loss);
  return losses;
}

bool cuda() { return torch::cuda::is_available(); }

}  // namespace

NN_TEST("train: noisy ViT and ResNet learn a separable toy task on cpu (every noise kind)") {
  auto [images, labels] = toy_batch(64, 1);
  for (auto kind : {NoiseKind::Optimal, NoiseKind::Linear, NoiseKind::Gaussian, NoiseKind::SaltPepper}) {
    const auto vit = train_losses(tiny_vit(kind), options(3e-3), 60, images, labels);
    NN_EXPECT(vit.back() < 0.5 * vit.front(),
              "vit " << noise_kind_name(kind) << ": loss " << vit.front() << " -> " << vit.back());
  }
  const auto cnn = train_losses(tiny_resnet(NoiseKind::Linear), options(3e-3), 12, images, labels);
  NN_EXPECT(cnn.back() < 0.5 * cnn.front(), "resnet linear: loss " << cnn.front() << " -> " << cnn.back());
  return true;
}

NN_TEST("train cuda: fp32 steps follow the cpu steps (ViT with gaussian noise, ResNet with saltPepper)") {
  if (!cuda()) return false;
  auto [images, labels] = toy_batch(32, 2);
  const at::Device gpu(at::kCUDA, 0);
  // Same initial weights and the same Philox noise on both devices; the steps differ only by
  // float summation order (and TF32 in cuDNN convolutions), so the losses agree closely.
  for (int which = 0; which < 2; ++which) {
    auto on_cpu = which == 0 ? tiny_vit(NoiseKind::Gaussian) : tiny_resnet(NoiseKind::SaltPepper);
    auto on_gpu = which == 0 ? tiny_vit(NoiseKind::Gaussian) : tiny_resnet(NoiseKind::SaltPepper);
    on_gpu->to(gpu);
    const auto a = train_losses(on_cpu, options(1e-3), 5, images, labels);
    const auto b = train_losses(on_gpu, options(1e-3), 5, images, labels);
    for (size_t s = 0; s < a.size(); ++s) {
      NN_EXPECT(std::fabs(a[s] - b[s]) < 2e-2 * std::fabs(a[s]) + 1e-3,
                (which == 0 ? "vit" : "resnet") << " step " << s << ": cpu loss " << a[s] << ", cuda loss " << b[s]);
    }
    NN_EXPECT(on_gpu->noise_offset() == on_cpu->noise_offset(), "the noise offsets advance alike");
  }
  return true;
}

NN_TEST("train cuda: bf16 autocast steps train (ViT with optimal noise, ResNet with linear)") {
  if (!cuda()) return false;
  auto [images, labels] = toy_batch(64, 3);
  const at::Device gpu(at::kCUDA, 0);
  // The same runs as the cpu test above in fp32 end below half their first loss; bf16 must at
  // least take off 30%.
  auto vit = tiny_vit(NoiseKind::Optimal);
  vit->to(gpu);
  const auto v = train_losses(vit, options(3e-3, /*mixed_precision=*/true), 60, images, labels);
  NN_EXPECT(v.back() < 0.7 * v.front(), "vit bf16: loss " << v.front() << " -> " << v.back());
  auto cnn = tiny_resnet(NoiseKind::Linear);
  cnn->to(gpu);
  const auto c = train_losses(cnn, options(3e-3, /*mixed_precision=*/true), 12, images, labels);
  NN_EXPECT(c.back() < 0.7 * c.front(), "resnet bf16: loss " << c.front() << " -> " << c.back());
  // Autocast is scoped to the step: nothing leaks into the caller's thread.
  NN_EXPECT(torch::matmul(torch::ones({2, 2}, gpu), torch::ones({2, 2}, gpu)).scalar_type() == at::kFloat,
            "autocast is off again after a step");
  return true;
}

NN_TEST("train: with dropout, steps from a restored step counter replay the same losses (cpu, and cuda when present)") {
  // Not a structured binding: the lambda below captures them, which C++17 (the clang build) refuses.
  const auto batch = toy_batch(32, 4);
  const at::Tensor& images = batch.first;
  const at::Tensor& labels = batch.second;
  std::vector<at::Device> devices = {at::Device(at::kCPU)};
  if (cuda()) devices.emplace_back(at::kCUDA, 0);
  for (const auto& device : devices) {
    // Dropout draws from the default generator of the model's device (on a GPU, that GPU's);
    // the trainer keys it by (seed, step), so running step 3 twice, from the same weights,
    // gives the same loss.
    auto run = [&](int64_t first_step) {
      auto m = tiny_vit(NoiseKind::None, /*dropout=*/0.3);
      m->to(device);
      train::Trainer t(m, options(1e-3));
      t.set_global_step(first_step);
      return t.step(images, labels).loss;
    };
    const double a = run(3), b = run(3), c = run(4);
    NN_EXPECT(a == b, device.str() << ": same step, same dropout: " << a << " vs " << b);
    NN_EXPECT(a != c, device.str() << ": another step draws other dropout masks: " << a << " vs " << c);
  }
  return true;
}
