// Native checks of the models and the trainer together (no Node): noisy models learn a toy task
// on CPU, and, when a GPU is present, CUDA training steps follow the CPU ones, bf16 autocast
// trains, and a resumed CUDA run with dropout replays the uninterrupted one. These are the
// paths scripts/gpu-check.sh exists to exercise on a machine without Node.
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/threads.h"
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

NN_TEST("a thread's intra-op team size is its own: set on one thread, the others keep theirs") {
#if !defined(_OPENMP)
  return false;  // without OpenMP, libtorch's thread pool is process-wide: nothing to test
#endif
  const int main_before = at::get_num_threads();
  int inside = -1, inside_after_op = -1;
  std::thread([&] {
    noisynn::set_this_thread_intra_op_threads(1);
    inside = at::get_num_threads();
    // A first ATen op on the thread runs ATen's lazy init, which must not undo it.
    (void)at::ones({64, 64}).matmul(at::ones({64, 64})).sum().item<float>();
    inside_after_op = at::get_num_threads();
  }).join();
  NN_EXPECT(inside == 1 && inside_after_op == 1,
            "the thread's team: " << inside << ", after an op " << inside_after_op);
  NN_EXPECT(at::get_num_threads() == main_before,
            "the main thread's team changed from " << main_before << " to " << at::get_num_threads());
  int fresh = -1;
  std::thread([&] { fresh = at::get_num_threads(); }).join();
  NN_EXPECT(fresh == main_before, "a new thread's team is " << fresh << ", not the default " << main_before);
  return true;
}

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

NN_TEST("schedule: cosine ends at minLr on its last step, step decays count from 0, spans restart per fit") {
  train::ScheduleOptions cosine;
  cosine.kind = train::ScheduleKind::Cosine;
  cosine.total_steps = 10;
  cosine.min_lr = 0.1;
  NN_EXPECT(train::learning_rate(cosine, 1.0, 0) == 1.0, "first step at the peak");
  NN_EXPECT(std::fabs(train::learning_rate(cosine, 1.0, 9) - 0.1) < 1e-12, "last step at minLr");
  NN_EXPECT(std::fabs(train::learning_rate(cosine, 1.0, 20) - 0.1) < 1e-12, "past the span: the last step's rate");
  cosine.total_steps = 1;
  NN_EXPECT(train::learning_rate(cosine, 1.0, 0) == 1.0, "a one-step span still trains at the peak");
  cosine.total_steps = 0;
  bool threw = false;
  try {
    train::learning_rate(cosine, 1.0, 0);
  } catch (const c10::Error& e) {
    threw = std::string(e.what_without_backtrace()).find("no span yet") != std::string::npos;
  }
  NN_EXPECT(threw, "a cosine without a span throws, naming the cause");

  train::ScheduleOptions step;
  step.kind = train::ScheduleKind::Step;
  step.warmup_steps = 2;
  step.step_size = 2;
  step.gamma = 0.5;
  const std::vector<double> want = {0.05, 0.1, 0.05, 0.05, 0.025, 0.025};
  for (int64_t t = 0; t < 6; ++t) {
    NN_EXPECT(std::fabs(train::learning_rate(step, 0.1, t) - want[t]) < 1e-12,
              "step " << t << ": " << train::learning_rate(step, 0.1, t) << " vs " << want[t]);
  }

  // The trainer's span: a second span from step 4 restarts warmup and decay there.
  train::TrainerOptions o = options(1.0);
  o.schedule = cosine;
  o.schedule.warmup_steps = 1;
  train::Trainer trainer(tiny_vit(NoiseKind::None), o);
  trainer.set_schedule_span(0, 4);
  const double first = trainer.lr_at(0), last = trainer.lr_at(3);
  trainer.set_schedule_span(4, 4);
  NN_EXPECT(trainer.lr_at(4) == first && trainer.lr_at(7) == last, "the second span repeats the first");
  threw = false;
  try {
    trainer.lr_at(3);
  } catch (const c10::ValueError&) {
    threw = true;
  }
  NN_EXPECT(threw, "a step before the span's origin is refused");
  return true;
}

NN_TEST("train: labels out of [0, numClasses) and another optimizer's state are refused before any change") {
  auto [images, labels] = toy_batch(8, 5);
  auto model = tiny_vit(NoiseKind::None);
  train::Trainer trainer(model, options(1e-3));
  const at::Tensor before = model->state_dict().front().second.clone();
  std::string message;
  try {
    trainer.step(images, labels.fill_(kClasses));
  } catch (const c10::ValueError& e) {
    message = e.what_without_backtrace();
  }
  NN_EXPECT(message.find("numClasses 4 but the batch holds label 4") != std::string::npos, message);
  NN_EXPECT(trainer.global_step() == 0 && model->state_dict().front().second.equal(before), "nothing changed");

  const std::string path = (std::filesystem::temp_directory_path() / "noisynn-test-adamw.optim.safetensors").string();
  trainer.step(images, labels.fill_(1));
  trainer.save_state(path);
  train::TrainerOptions sgd = options(1e-3);
  sgd.optimizer.kind = train::OptimizerKind::SGD;
  train::Trainer other(tiny_vit(NoiseKind::None), sgd);
  message.clear();
  try {
    other.load_state(path);
  } catch (const std::exception& e) {
    message = e.what();
  }
  NN_EXPECT(message.find("it holds adamw state but this trainer's optimizer is sgd") != std::string::npos, message);
  NN_EXPECT(other.global_step() == 0, "the step counter is untouched");
  message.clear();
  try {
    other.load_state(path + ".missing");
  } catch (const std::exception& e) {
    message = e.what();
  }
  NN_EXPECT(message.find("Cannot open optimizer state") != std::string::npos, message);
  std::filesystem::remove(path);
  return true;
}
