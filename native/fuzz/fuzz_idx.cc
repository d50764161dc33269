// libFuzzer harness: the IDX reader (plain or gzip, detected from the content) on one file, and
// the MNIST-format dataset loader on an image file and a label file cut from one input.
//
// Contract: every input either loads or throws std::exception (a message naming the file);
// what loads holds exactly the bytes its header declares; nothing crashes or reads out of bounds.
#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "data/readers.h"
#include "fuzz/fuzz_input.h"

using noisynn::fuzz::MemFile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    MemFile file(data, size);
    try {
      const at::Tensor t = noisynn::data::read_idx(file.path());
      const noisynn::data::IdxHeader h = noisynn::data::read_idx_header(file.path());
      if (t.sizes() != at::IntArrayRef(h.dims)) noisynn::fuzz::violated("read_idx shape differs from its header");
      if (t.scalar_type() != at::kByte) noisynn::fuzz::violated("read_idx did not return uint8");
    } catch (const std::exception&) {
    }
  }
  // Two files: the first two bytes say where the label file starts.
  if (size >= 2) {
    const size_t cut = std::min<size_t>(size - 2, (size_t(data[0]) << 8) | data[1]);
    MemFile images(data + 2, cut);
    MemFile labels(data + 2 + cut, size - 2 - cut);
    try {
      auto ds = noisynn::data::load_idx_dataset(images.path(), labels.path(), 10);
      for (int64_t i = 0; i < ds->size(); ++i) {
        if (ds->label(i) < 0 || ds->label(i) >= 10) noisynn::fuzz::violated("label outside [0, 10)");
      }
    } catch (const std::exception&) {
    }
  }
  return 0;
}
