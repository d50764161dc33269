// libFuzzer harness: the checkpoint reader, Trainer::load_state (the optimizer-state file of a
// checkpoint, epoch-NNNN.optim.safetensors), into the AdamW trainer of a tiny ViT, and a training
// step after a successful load (a state that loads must be usable).
//
// Input: [mode, file...]: mode & 1 picks the SGD trainer instead. Files starting "PK\3\4" (the
// libtorch archives of older checkpoints) are skipped: that reader is libtorch's, uninstrumented,
// so coverage cannot guide it (a short blind run of it found nothing).
//
// Contract: every input either loads or throws std::exception; nothing crashes.
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "fuzz/fuzz_input.h"
#include "models/vit.h"
#include "train/trainer.h"

namespace {

std::shared_ptr<noisynn::models::Model> tiny_vit() {
  noisynn::models::VitConfig c;
  c.image_size = 8;
  c.patch_size = 4;
  c.in_channels = 1;
  c.num_classes = 3;
  c.embed_dim = 8;
  c.depth = 1;
  c.num_heads = 2;
  c.init_seed = 1;
  return std::make_shared<noisynn::models::VisionTransformer>(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if (size >= 5 && std::memcmp(data + 1, "PK\x03\x04", 4) == 0) return 0;
  static const std::shared_ptr<noisynn::models::Model> model = tiny_vit();
  static const at::Tensor images = torch::rand({2, 1, 8, 8});
  static const at::Tensor labels = torch::tensor({0, 2}, at::kLong);
  noisynn::train::TrainerOptions options;
  if (data[0] & 1) options.optimizer.kind = noisynn::train::OptimizerKind::SGD;
  // A fresh trainer per input: a half-loaded state must not leak into the next input.
  noisynn::train::Trainer trainer(model, options);
  noisynn::fuzz::MemFile file(data + 1, size - 1);
  bool loaded = false;
  try {
    trainer.load_state(file.path());
    loaded = true;
  } catch (const std::exception&) {
  }
  if (loaded) {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> saved;
    for (const auto& p : model->parameters()) saved.push_back(p.detach().clone());
    try {
      trainer.step(images, labels);
    } catch (const std::exception&) {
      // A diverged loss is refused with an error; that is fine.
    }
    // Put the shared model back, so every input starts from the same weights.
    size_t i = 0;
    for (auto& p : model->parameters()) p.detach().copy_(saved[i++]);
  }
  return 0;
}
