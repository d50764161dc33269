// The safetensors format (https://github.com/huggingface/safetensors): a bounds-checked reader and
// an atomic writer. Shared by model weights and training checkpoints.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data buffer; offsets are relative to its start and must tile it exactly.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace noisynn {
namespace models {

// A file that is not valid safetensors; the message names the file and what is wrong.
struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SafetensorsFile {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // in file order, CPU, the stored dtype
  std::map<std::string, std::string> metadata;
};

// Reads and validates a whole file. Throws SafetensorsError for a malformed or truncated file
// (never reads outside it) and std::runtime_error when it cannot be opened.
SafetensorsFile read_safetensors(const std::string& path);

// Writes tensors (any device; copied to CPU, contiguous) under a temporary name, fsyncs and
// renames it over `path`, so a crash leaves either the old file or the new one.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace models
}  // namespace noisynn
