// The C++-only twin of bench/train.js: the same Fashion-MNIST loader, model, noise and trainer,
// driven by a plain C++ loop, so the Node binding's overhead can be measured as a ratio.
//   noisynn_train_bench <fashion-mnist-dir> <timed steps> [warmup steps] [batch]
// Prints one JSON line: {"steps":N,"seconds":S,"imagesPerSecond":R}.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/threads.h"
#include "data/loader.h"
#include "data/readers.h"
#include "models/vit.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <fashion-mnist-dir> <timed steps> [warmup steps] [batch]\n", argv[0]);
    return 2;
  }
  noisynn::apply_runtime_defaults();
  const std::string root = argv[1];
  const int64_t steps = std::atoll(argv[2]);
  const int64_t warmup = argc > 3 ? std::atoll(argv[3]) : 5;
  const int64_t batch = argc > 4 ? std::atoll(argv[4]) : 128;

  using namespace noisynn;
  data::DatasetPtr dataset =
      data::load_idx_dataset(root + "/train-images-idx3-ubyte.gz", root + "/train-labels-idx1-ubyte.gz", 10);
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.seed = 1;
  lo.num_workers = 2;
  lo.prefetch = 4;
  data::TransformSpec crop;
  crop.kind = data::TransformKind::RandomCrop;
  crop.height = crop.width = 28;
  crop.padding = 4;
  data::TransformSpec flip;
  flip.kind = data::TransformKind::HorizontalFlip;
  data::TransformSpec norm;
  norm.kind = data::TransformKind::Normalize;
  norm.mean = {0.286f};
  norm.std = {0.353f};
  lo.transforms = {crop, flip, norm};
  data::BatchLoader loader(dataset, lo);

  // vit_mini_patch4_28 with the default noise preset (optimal, batch axis, attention site of
  // the last block, while training): what bench/train.js builds through the public API.
  models::VitConfig vc;
  vc.image_size = 28;
  vc.patch_size = 4;
  vc.in_channels = 1;
  vc.num_classes = 10;
  vc.embed_dim = 64;
  vc.depth = 4;
  vc.num_heads = 4;
  vc.init_seed = 1;
  auto model = std::make_shared<models::VisionTransformer>(vc);
  models::NoiseSiteConfig noise;
  noise.params.kind = NoiseKind::Optimal;
  noise.params.seed = 1;
  noise.axis = models::NoiseAxis::Batch;
  noise.when = models::NoiseWhen::Train;
  noise.site = models::NoiseSiteKind::Attention;
  noise.layer = vc.depth - 1;
  model->set_noise(noise);

  train::TrainerOptions to;
  to.optimizer.lr = 1e-3;
  to.seed = 1;
  train::Trainer trainer(model, to);
  trainer.set_schedule_span(0, warmup + steps);

  // The loop runs on a spawned thread, as the addon's steps run on libuv pool threads: on the
  // main thread glibc's main malloc arena returns freed tensor memory to the OS and page-faults
  // it back every step, which made this baseline ~25% slower than the Node loop.
  int64_t done = 0, epoch = 0;
  std::chrono::steady_clock::time_point start;
  std::thread loop([&] {
    loader.reset(epoch);
    while (done < warmup + steps) {
      auto b = loader.next();
      if (!b) {
        loader.reset(++epoch);
        continue;
      }
      if (done == warmup) start = std::chrono::steady_clock::now();
      trainer.step(b->images, b->labels);
      ++done;
    }
  });
  loop.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"steps\":%lld,\"seconds\":%.4f,\"imagesPerSecond\":%.2f}\n", static_cast<long long>(steps), seconds,
              static_cast<double>(steps * batch) / seconds);
  return 0;
}
