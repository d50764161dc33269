// libFuzzer harness: CIFAR-10 and CIFAR-100 binary batches, one or two files per dataset.
//
// Input: [format, cut_hi, cut_lo, bytes...]. format % 3: CIFAR-10, CIFAR-100 coarse labels,
// CIFAR-100 fine labels; format & 4: the bytes are split at cut into two batch files.
// Contract: loads (every label in range, images [N, 3, 32, 32]) or throws std::exception.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/readers.h"
#include "fuzz/fuzz_input.h"

using noisynn::fuzz::MemFile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  noisynn::data::CifarFormat format;
  switch (data[0] % 3) {
    case 0: format = {1, 0, 10}; break;
    case 1: format = {2, 0, 20}; break;
    default: format = {2, 1, 100}; break;
  }
  const uint8_t* body = data + 3;
  const size_t n = size - 3;
  std::vector<std::unique_ptr<MemFile>> files;
  if (data[0] & 4) {
    const size_t cut = std::min(n, (size_t(data[1]) << 8) | data[2]);
    files.push_back(std::make_unique<MemFile>(body, cut));
    files.push_back(std::make_unique<MemFile>(body + cut, n - cut));
  } else {
    files.push_back(std::make_unique<MemFile>(body, n));
  }
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f->path());
  try {
    auto ds = noisynn::data::load_cifar_dataset(paths, format);
    if (ds->channels() != 3 || ds->height() != 32 || ds->width() != 32) noisynn::fuzz::violated("CIFAR image shape");
    if (ds->size() * (format.label_bytes + 3 * 32 * 32) != static_cast<int64_t>(n))
      noisynn::fuzz::violated("CIFAR record count differs from the bytes given");
    for (int64_t i = 0; i < ds->size(); ++i) {
      if (ds->label(i) < 0 || ds->label(i) >= format.num_classes) noisynn::fuzz::violated("CIFAR label out of range");
    }
  } catch (const std::exception&) {
  }
  return 0;
}
