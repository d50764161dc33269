// An in-memory image-classification dataset: the storage every reader fills and the loader reads.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>

namespace noisynn {
namespace data {

// Images are a contiguous CPU tensor [N, C, H, W] of uint8 (pixels 0..255) or float32 (values
// used as they are); labels a contiguous int64 tensor [N] with every label in [0, numClasses).
// Immutable once built, so any number of loader threads may read it without locking.
class Dataset {
 public:
  // Checks the invariants above (c10::ValueError, a JS RangeError, when one fails) and makes
  // both tensors contiguous.
  Dataset(at::Tensor images, at::Tensor labels, int64_t num_classes);

  int64_t size() const { return images_.size(0); }
  int64_t channels() const { return images_.size(1); }
  int64_t height() const { return images_.size(2); }
  int64_t width() const { return images_.size(3); }
  int64_t num_classes() const { return num_classes_; }
  // at::kByte or at::kFloat.
  at::ScalarType dtype() const { return images_.scalar_type(); }

  const at::Tensor& images() const { return images_; }
  const at::Tensor& labels() const { return labels_; }
  int64_t label(int64_t i) const { return label_data_[i]; }
  // The first byte of sample i (C*H*W elements of dtype()).
  const void* sample_data(int64_t i) const;

 private:
  at::Tensor images_;
  at::Tensor labels_;
  const int64_t* label_data_ = nullptr;
  int64_t num_classes_ = 0;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

}  // namespace data
}  // namespace noisynn
