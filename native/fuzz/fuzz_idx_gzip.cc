// libFuzzer harness: gzip-compressed IDX files. The input is an IDX stream (what the mutator
// changes meaningfully); the harness compresses it and then damages the compressed bytes as two
// control bytes ask, so the reader meets valid, truncated, corrupt, padded and multi-member
// gzip files whose contents the fuzzer steers.
//
// Input: [mode, cut_hi, cut_lo, idx bytes...]. mode & 7: 0 as compressed, 1 truncated at cut,
// 2 one byte at cut flipped, 3 garbage after the stream, 4 split into two gzip members at cut.
// (mode >> 3) & 7 is the compression level (0 = stored blocks).
#include <ATen/ATen.h>
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "data/readers.h"
#include "fuzz/fuzz_input.h"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size, int level) {
  z_stream s{};
  // windowBits 15 + 16: a gzip wrapper, as gzip(1) and Python's gzip module write.
  if (deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<uint8_t> out(deflateBound(&s, size) + 32);
  s.next_in = const_cast<uint8_t*>(data);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int mode = data[0] & 7;
  const int level = (data[0] >> 3) & 7;
  const size_t cut = (size_t(data[1]) << 8) | data[2];
  const uint8_t* idx = data + 3;
  const size_t n = size - 3;
  std::vector<uint8_t> file;
  if (mode == 4) {
    const size_t at = std::min(cut, n);
    file = gzip(idx, at, level);
    const std::vector<uint8_t> second = gzip(idx + at, n - at, level);
    file.insert(file.end(), second.begin(), second.end());
  } else {
    file = gzip(idx, n, level);
    if (mode == 1) file.resize(std::min(cut, file.size()));
    if (mode == 2 && !file.empty()) file[cut % file.size()] ^= 0x5a;
    if (mode == 3) file.insert(file.end(), {0x00, 0x1f, 0x8b, 0x42});
  }
  noisynn::fuzz::MemFile f(file.data(), file.size());
  try {
    const at::Tensor t = noisynn::data::read_idx(f.path());
    if (t.numel() > static_cast<int64_t>(n))
      noisynn::fuzz::violated("read_idx returned more bytes than were compressed");
  } catch (const std::exception&) {
  }
  return 0;
}
