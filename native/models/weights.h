// Weight import/export in safetensors with timm (ViT) and torchvision (ResNet) key names.
#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace noisynn {
namespace models {

// What a load matched. `mismatched` entries read "name (file [a, b], model [c, d])".
struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;     // in the model, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the model
  std::vector<std::string> mismatched;  // in both, different shapes
};

// Loads a safetensors file into the model's parameters and buffers, converting dtypes (and
// devices) as needed. Strict: any missing key, unexpected key or shape mismatch throws one
// error listing all of them, and nothing is changed. Not strict: matching tensors are loaded,
// the rest reported. Either way a file that fails to parse changes nothing.
// BatchNorm's num_batches_tracked may be absent (torchvision's published checkpoints predate
// it); it is then reset to 0, as PyTorch does.
LoadReport load_weights(Model& model, const std::string& path, bool strict);

// Writes every parameter and buffer (float32 as held) atomically.
void save_weights(const Model& model, const std::string& path);

}  // namespace models
}  // namespace noisynn
