// The in-memory dataset's invariants, checked once so the loader threads can trust them.
#include "data/dataset.h"

#include <c10/util/Exception.h>

namespace noisynn {
namespace data {

Dataset::Dataset(at::Tensor images, at::Tensor labels, int64_t num_classes) : num_classes_(num_classes) {
  TORCH_CHECK_VALUE(images.defined() && images.dim() == 4, "dataset images must be a 4-d tensor [N, C, H, W], got ",
                    images.defined() ? images.dim() : 0, " dimensions");
  TORCH_CHECK_VALUE(images.scalar_type() == at::kByte || images.scalar_type() == at::kFloat,
                    "dataset images must be uint8 or float32, got ", images.scalar_type());
  TORCH_CHECK_VALUE(images.size(1) >= 1 && images.size(2) >= 1 && images.size(3) >= 1,
                    "dataset images must have at least one channel, row and column, got shape ", images.sizes());
  TORCH_CHECK_VALUE(labels.defined() && labels.dim() == 1 && labels.scalar_type() == at::kLong,
                    "dataset labels must be a 1-d int64 tensor");
  TORCH_CHECK_VALUE(labels.size(0) == images.size(0), "dataset has ", images.size(0), " images but ", labels.size(0),
                    " labels");
  TORCH_CHECK_VALUE(num_classes >= 1, "dataset must have at least one class, got ", num_classes);
  images_ = images.device().is_cpu() ? images.contiguous() : images.cpu().contiguous();
  labels_ = labels.device().is_cpu() ? labels.contiguous() : labels.cpu().contiguous();
  label_data_ = labels_.data_ptr<int64_t>();
  for (int64_t i = 0; i < labels_.size(0); ++i) {
    TORCH_CHECK_VALUE(label_data_[i] >= 0 && label_data_[i] < num_classes, "label ", label_data_[i], " of sample ", i,
                      " is outside [0, ", num_classes, ")");
  }
}

const void* Dataset::sample_data(int64_t i) const {
  const int64_t per_sample = channels() * height() * width();
  const auto* base = static_cast<const uint8_t*>(images_.data_ptr());
  return base + i * per_sample * static_cast<int64_t>(images_.element_size());
}

}  // namespace data
}  // namespace noisynn
