// IDX (MNIST-format, gzip or raw) and CIFAR binary readers, bounds-checked against the bytes present.
#include "data/readers.h"

#if NOISYNN_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace noisynn {
namespace data {

namespace {

constexpr int kIdxUnsignedByte = 0x08;
// Sanity bound on one file's payload: far above any image dataset, far below what a corrupt
// header could otherwise make us allocate before noticing the file is too short.
constexpr uint64_t kMaxPayloadBytes = uint64_t(1) << 34;
// Deflate expands at most 1032:1 (zlib's technical details: a 258-byte match per two bits, at
// best), so a gzip file of S bytes holds at most 1032 S bytes of data: a header declaring more is
// refused before anything is allocated for it.
constexpr uint64_t kMaxDeflateRatio = 1032;
// A gzip file's data is read into a buffer that starts this large (or at the declared size, if
// smaller) and doubles as the data arrives, so memory follows the bytes actually decompressed,
// not the header's claim.
constexpr uint64_t kFirstGzipChunk = uint64_t(1) << 20;

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::string Hex(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

#if NOISYNN_HAVE_ZLIB
// A gzip or plain file read through zlib (gzread passes plain files through unchanged).
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) {
      Fail(path, std::string("cannot open (") + (errno ? std::strerror(errno) : "out of memory") + ")");
    }
    gzbuffer(file_, 1 << 17);
  }
  ~GzFile() {
    if (file_ != nullptr) gzclose(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  // Corrupt compressed data, a truncated gzip stream or an I/O error throws.
  size_t Read(void* dst, size_t n) {
    size_t total = 0;
    auto* out = static_cast<uint8_t*>(dst);
    while (total < n) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
      int got = gzread(file_, out + total, chunk);
      if (got < 0) ThrowError();
      if (got == 0) break;
      total += static_cast<size_t>(got);
    }
    if (total < n) CheckClean();
    return total;
  }

  bool compressed() const { return gzdirect(file_) == 0; }

 private:
  // gzread reports a gzip stream cut short as a plain end of data plus a pending error.
  void CheckClean() {
    int errnum = Z_OK;
    const char* msg = gzerror(file_, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) ThrowWith(errnum, msg);
  }
  [[noreturn]] void ThrowError() {
    int errnum = Z_OK;
    const char* msg = gzerror(file_, &errnum);
    ThrowWith(errnum, msg);
  }
  [[noreturn]] void ThrowWith(int errnum, const char* msg) {
    std::string detail = msg != nullptr && *msg ? msg : "unknown zlib error";
    // zlib prefixes its messages with the path, which ours already carry.
    if (detail.compare(0, path_.size() + 2, path_ + ": ") == 0) detail = detail.substr(path_.size() + 2);
    if (errnum == Z_ERRNO) detail = std::strerror(errno);
    if (errnum == Z_BUF_ERROR) Fail(path_, "truncated gzip stream (" + detail + ")");
    if (errnum == Z_DATA_ERROR) Fail(path_, "corrupt gzip data (" + detail + ")");
    Fail(path_, "read error (" + detail + ")");
  }

  std::string path_;
  gzFile file_ = nullptr;
};
#else
// Built without zlib (the Node-free native programs on a machine without zlib's headers, e.g. a
// GPU box that only carries PyTorch): plain files only, and a clear error for gzip ones.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    errno = 0;
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr)
      Fail(path, std::string("cannot open (") + (errno ? std::strerror(errno) : "unknown error") + ")");
    const int b0 = std::fgetc(file_), b1 = std::fgetc(file_);
    if (b0 == 0x1f && b1 == 0x8b) {
      std::fclose(file_);
      file_ = nullptr;
      Fail(path,
           "gzip-compressed, but this build has no zlib (install zlib's headers, e.g. zlib1g-dev, and rebuild, or "
           "gunzip the file)");
    }
    std::rewind(file_);
  }
  ~GzFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  size_t Read(void* dst, size_t n) {
    const size_t got = std::fread(dst, 1, n, file_);
    if (got < n && std::ferror(file_)) Fail(path_, std::string("read error (") + std::strerror(errno) + ")");
    return got;
  }

  bool compressed() const { return false; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};
#endif

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string DimsString(const std::vector<int64_t>& dims) {
  std::ostringstream s;
  for (size_t i = 0; i < dims.size(); ++i) s << (i ? "x" : "") << dims[i];
  return s.str();
}

IdxHeader ParseIdxHeader(GzFile& f, const std::string& path) {
  uint8_t magic[4];
  size_t got = f.Read(magic, 4);
  if (got < 4) Fail(path, "truncated: " + std::to_string(got) + " bytes, too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4) {
    Fail(path, "not an IDX file (bad magic number " + Hex(BigEndian32(magic), 8) +
                   "; expected 0x000008NN with NN the number of dimensions, 1 to 4)");
  }
  IdxHeader h;
  h.type_code = magic[2];
  if (h.type_code != kIdxUnsignedByte) {
    Fail(path, "unsupported IDX element type " + Hex(h.type_code, 2) + " (image datasets use unsigned bytes, 0x08)");
  }
  const int ndims = magic[3];
  uint8_t dims[16];
  got = f.Read(dims, 4 * ndims);
  if (got < size_t(4 * ndims)) Fail(path, "truncated IDX header (" + std::to_string(ndims) + " dimensions declared)");
  for (int i = 0; i < ndims; ++i) h.dims.push_back(BigEndian32(dims + 4 * i));
  return h;
}

uint64_t Product(const std::vector<int64_t>& dims, const std::string& path) {
  uint64_t total = 1;
  for (int64_t d : dims) {
    if (d != 0 && total > kMaxPayloadBytes / uint64_t(d)) {
      Fail(path, "IDX header declares an implausible size " + DimsString(dims) + " (corrupt header?)");
    }
    total *= uint64_t(d);
  }
  return total;
}

}  // namespace

IdxHeader read_idx_header(const std::string& path) {
  GzFile f(path);
  return ParseIdxHeader(f, path);
}

at::Tensor read_idx(const std::string& path) {
  GzFile f(path);
  IdxHeader h = ParseIdxHeader(f, path);
  const uint64_t bytes = Product(h.dims, path);
  const auto truncated = [&](uint64_t have) {
    Fail(path, "truncated: the header declares " + DimsString(h.dims) + " = " + std::to_string(bytes) +
                   " bytes of data but the file holds " + std::to_string(have));
  };
  // The file's size bounds what it can hold: refuse a header that claims more before allocating.
  std::ifstream probe(path, std::ios::binary | std::ios::ate);
  const uint64_t file_size = probe ? uint64_t(probe.tellg()) : 0;
  const uint64_t header = 4 + 4 * h.dims.size();
  if (!f.compressed() && file_size < header + bytes) truncated(file_size - std::min(file_size, header));
  if (f.compressed() && bytes / kMaxDeflateRatio > file_size) {
    Fail(path, "truncated or corrupt: the header declares " + DimsString(h.dims) + " = " + std::to_string(bytes) +
                   " bytes of data, more than a " + std::to_string(file_size) + "-byte gzip file can hold");
  }
  at::Tensor out;
  if (!f.compressed()) {
    out = at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions().dtype(at::kByte));
    const size_t got = f.Read(out.data_ptr(), bytes);
    if (got < bytes) truncated(got);
  } else {
    // Grow with the data: a lying header costs at most twice what the stream really holds.
    uint64_t capacity = std::min(bytes, kFirstGzipChunk), got = 0;
    out = at::empty({static_cast<int64_t>(capacity)}, at::TensorOptions().dtype(at::kByte));
    while (true) {
      got += f.Read(out.data_ptr<uint8_t>() + got, capacity - got);
      if (got < capacity) truncated(got);
      if (capacity == bytes) break;
      capacity = std::min(bytes, 2 * capacity);
      out.resize_({static_cast<int64_t>(capacity)});  // keeps the bytes read so far
    }
  }
  uint8_t extra[1];
  if (f.Read(extra, 1) != 0) {
    Fail(path, "holds more data than its header declares (" + DimsString(h.dims) + "); wrong or corrupt file?");
  }
  return out.view(h.dims);
}

DatasetPtr load_idx_dataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes) {
  at::Tensor images = read_idx(images_path);
  if (images.dim() != 3) {
    Fail(images_path, "expected an IDX image file with 3 dimensions (count, rows, columns) but it has " +
                          std::to_string(images.dim()));
  }
  at::Tensor labels = read_idx(labels_path);
  if (labels.dim() != 1) {
    Fail(labels_path, "expected an IDX label file with 1 dimension (count) but it has " + std::to_string(labels.dim()));
  }
  if (labels.size(0) != images.size(0)) {
    Fail(labels_path, "holds " + std::to_string(labels.size(0)) + " labels but " + images_path + " holds " +
                          std::to_string(images.size(0)) + " images");
  }
  const uint8_t* l = labels.data_ptr<uint8_t>();
  for (int64_t i = 0; i < labels.size(0); ++i) {
    if (l[i] >= num_classes) {
      Fail(labels_path, "label " + std::to_string(l[i]) + " of sample " + std::to_string(i) + " is outside [0, " +
                            std::to_string(num_classes) + ")");
    }
  }
  return std::make_shared<const Dataset>(images.unsqueeze(1), labels.to(at::kLong), num_classes);
}

int64_t cifar_record_count(const std::string& path, const CifarFormat& format) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) Fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  const int64_t size = static_cast<int64_t>(f.tellg());
  const int64_t record = format.label_bytes + 3 * 32 * 32;
  if (size <= 0 || size % record != 0) {
    Fail(path, "size " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(record) +
                   "-byte CIFAR records (truncated or not a CIFAR binary file?)");
  }
  return size / record;
}

DatasetPtr load_cifar_dataset(const std::vector<std::string>& files, const CifarFormat& format) {
  TORCH_CHECK_VALUE(format.label_bytes >= 1 && format.label_index >= 0 && format.label_index < format.label_bytes,
                    "invalid CIFAR format");
  constexpr int64_t kPixels = 3 * 32 * 32;
  const int64_t record = format.label_bytes + kPixels;
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const auto& path : files) {
    counts.push_back(cifar_record_count(path, format));
    total += counts.back();
  }
  at::Tensor images = at::empty({total, 3, 32, 32}, at::TensorOptions().dtype(at::kByte));
  at::Tensor labels = at::empty({total}, at::TensorOptions().dtype(at::kLong));
  uint8_t* img = images.data_ptr<uint8_t>();
  int64_t* lab = labels.data_ptr<int64_t>();
  std::vector<uint8_t> buf;
  int64_t n = 0;
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const std::string& path = files[fi];
    std::ifstream f(path, std::ios::binary);
    if (!f) Fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
    buf.resize(static_cast<size_t>(counts[fi] * record));
    f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() != static_cast<std::streamsize>(buf.size())) Fail(path, "file shrank while being read");
    for (int64_t r = 0; r < counts[fi]; ++r, ++n) {
      const uint8_t* rec = buf.data() + r * record;
      const int64_t label = rec[format.label_index];
      if (label >= format.num_classes) {
        Fail(path, "label " + std::to_string(label) + " of record " + std::to_string(r) + " is outside [0, " +
                       std::to_string(format.num_classes) +
                       ") (corrupt file, or CIFAR-10 and CIFAR-100 files mixed up?)");
      }
      lab[n] = label;
      std::memcpy(img + n * kPixels, rec + format.label_bytes, kPixels);
    }
  }
  return std::make_shared<const Dataset>(images, labels, format.num_classes);
}

DatasetPtr dataset_from_hwc_pixels(const uint8_t* pixels, int64_t n, int64_t h, int64_t w, int64_t c, at::Tensor labels,
                                   int64_t num_classes) {
  TORCH_CHECK_VALUE(n >= 0 && h >= 1 && w >= 1 && c >= 1, "invalid image dimensions");
  at::Tensor hwc = at::from_blob(const_cast<uint8_t*>(pixels), {n, h, w, c}, at::TensorOptions().dtype(at::kByte));
  return std::make_shared<const Dataset>(hwc.permute({0, 3, 1, 2}).contiguous(), labels.to(at::kLong), num_classes);
}

}  // namespace data
}  // namespace noisynn
