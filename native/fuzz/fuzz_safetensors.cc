// libFuzzer harness: the safetensors reader (length field, JSON header, dtypes, shapes, offsets,
// data) on one file.
//
// Contract: every input either reads or throws std::exception; what reads tiles the data buffer
// exactly (the sum of the tensors' bytes is the file size less the header).
#include <ATen/ATen.h>

#include <cstdint>
#include <stdexcept>

#include "fuzz/fuzz_input.h"
#include "models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  noisynn::fuzz::MemFile file(data, size);
  try {
    const noisynn::models::SafetensorsFile st = noisynn::models::read_safetensors(file.path());
    uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | data[i];
    uint64_t bytes = 0;
    for (const auto& kv : st.tensors) bytes += static_cast<uint64_t>(kv.second.numel()) * kv.second.element_size();
    if (bytes != size - 8 - header) noisynn::fuzz::violated("tensors do not tile the data buffer");
  } catch (const std::exception&) {
  }
  return 0;
}
