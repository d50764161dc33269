// Readers of the standard dataset files (IDX, CIFAR binary, raw decoded pixels) into a Dataset.
//
// Every reader bounds-checks what it reads: a wrong magic number, a header that disagrees with
// the bytes present, a truncated or corrupt gzip stream or an out-of-range label throws a
// std::runtime_error whose message names the file; nothing is read past what the file holds.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace noisynn {
namespace data {

// The header of an IDX file (the MNIST format): element type code and dimensions.
struct IdxHeader {
  int type_code = 0;  // 0x08 unsigned byte (the only type the image datasets use)
  std::vector<int64_t> dims;
};

// Reads only the header of an IDX file, gzip-compressed or raw (detected from the content).
IdxHeader read_idx_header(const std::string& path);

// Reads a whole uint8 IDX file (gzip or raw) into a uint8 tensor shaped like its dims.
at::Tensor read_idx(const std::string& path);

// An MNIST-format dataset: an idx3 image file [N, H, W] and an idx1 label file [N] whose counts
// agree and whose labels are below num_classes. Images become [N, 1, H, W].
DatasetPtr load_idx_dataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes);

// The CIFAR binary format: records of `label_bytes` label bytes then 3x32x32 pixels (CHW).
// CIFAR-10: label_bytes 1, label_index 0. CIFAR-100: label_bytes 2 (coarse, fine), label_index 0
// for the coarse label or 1 for the fine one.
struct CifarFormat {
  int64_t label_bytes = 1;
  int64_t label_index = 0;
  int64_t num_classes = 10;
};

// Concatenates the records of `files`, in order. Each file's size must be a whole number of records.
DatasetPtr load_cifar_dataset(const std::vector<std::string>& files, const CifarFormat& format);

// Number of records in a CIFAR binary file, from its size; throws when it is not a whole number.
int64_t cifar_record_count(const std::string& path, const CifarFormat& format);

// A dataset from decoded pixels laid out [N, H, W, C] (what image decoders produce); copied into
// the loader's [N, C, H, W] layout.
DatasetPtr dataset_from_hwc_pixels(const uint8_t* pixels, int64_t n, int64_t h, int64_t w, int64_t c, at::Tensor labels,
                                   int64_t num_classes);

}  // namespace data
}  // namespace noisynn
