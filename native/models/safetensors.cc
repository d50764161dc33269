// safetensors reader (every length and offset checked against the file) and atomic writer.
#include "models/safetensors.h"

#include "common/durable_file.h"
#include "common/json.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#ifdef _WIN32
#include <io.h>
#include <process.h>
#define NOISYNN_GETPID _getpid
#else
#include <fcntl.h>
#include <unistd.h>
#define NOISYNN_GETPID getpid
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors stores little-endian data; this reader assumes a little-endian host"
#endif

namespace noisynn {
namespace models {

namespace {

// The format caps the JSON header at 100 MB; anything larger is a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 100000000;

// ---- dtypes ----

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  uint64_t bytes;
};

const DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* dtype_by_type(at::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (t == d.type) return &d;
  }
  return nullptr;
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

std::string errno_text() { return std::strerror(errno); }

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string where = "Invalid safetensors file '" + path + "': ";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("Cannot open weights file '" + path + "': " + errno_text());
  in.seekg(0, std::ios::end);
  const std::streamoff file_size_signed = in.tellg();
  if (file_size_signed < 0) throw std::runtime_error("Cannot read weights file '" + path + "' (is it a directory?)");
  const uint64_t file_size = static_cast<uint64_t>(file_size_signed);
  in.seekg(0, std::ios::beg);

  if (file_size < 8) {
    throw SafetensorsError(where + "the file is " + std::to_string(file_size) +
                           " bytes, shorter than the 8-byte header length");
  }
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) throw SafetensorsError(where + "cannot read the header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeaderBytes) {
    throw SafetensorsError(where + "header length " + std::to_string(header_len) + " exceeds the format's limit of " +
                           std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_len > file_size - 8) {
    throw SafetensorsError(where + "header length " + std::to_string(header_len) + " exceeds the " +
                           std::to_string(file_size - 8) + " bytes that follow it (truncated file?)");
  }
  if (header_len < 2)
    throw SafetensorsError(where + "header length " + std::to_string(header_len) + " is too short for a JSON object");
  std::string header(static_cast<size_t>(header_len), '\0');
  if (!in.read(&header[0], static_cast<std::streamsize>(header_len)))
    throw SafetensorsError(where + "cannot read the header");
  const uint64_t data_size = file_size - 8 - header_len;

  if (!json::valid_utf8(header)) throw SafetensorsError(where + "the header is not valid UTF-8");
  json::Value root;
  try {
    root = json::parse(header.data(), header.size(), "the JSON header");
  } catch (const json::JsonError& e) {
    throw SafetensorsError(where + "malformed JSON header: " + e.what());
  }
  if (root.type != json::Value::Object) throw SafetensorsError(where + "the header is not a JSON object");

  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const auto& kv : root.members) {
    const std::string& name = kv.first;
    const json::Value& info = kv.second;
    if (name == "__metadata__") {
      if (info.type != json::Value::Object) throw SafetensorsError(where + "__metadata__ is not an object");
      for (const auto& m : info.members) {
        if (m.second.type != json::Value::String)
          throw SafetensorsError(where + "__metadata__ value '" + m.first + "' is not a string");
        result.metadata[m.first] = m.second.str;
      }
      continue;
    }
    const std::string tensor = "tensor '" + name + "': ";
    if (info.type != json::Value::Object) throw SafetensorsError(where + tensor + "entry is not an object");
    const json::Value* dtype = info.member("dtype");
    const json::Value* shape = info.member("shape");
    const json::Value* offsets = info.member("data_offsets");
    if (dtype == nullptr || dtype->type != json::Value::String)
      throw SafetensorsError(where + tensor + "missing or non-string dtype");
    if (shape == nullptr || shape->type != json::Value::Array)
      throw SafetensorsError(where + tensor + "missing or non-array shape");
    if (offsets == nullptr || offsets->type != json::Value::Array || offsets->items.size() != 2) {
      throw SafetensorsError(where + tensor + "data_offsets must be an array [begin, end]");
    }
    Entry e;
    e.name = name;
    e.dtype = dtype_by_name(dtype->str);
    if (e.dtype == nullptr) {
      throw SafetensorsError(where + tensor + "unsupported dtype '" + dtype->str +
                             "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    }
    uint64_t bytes = e.dtype->bytes;
    for (const json::Value& d : shape->items) {
      if (d.type != json::Value::Number || !d.is_uint ||
          d.uint_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw SafetensorsError(where + tensor + "shape entries must be non-negative integers");
      }
      if (d.uint_value != 0 && bytes > std::numeric_limits<uint64_t>::max() / d.uint_value) {
        throw SafetensorsError(where + tensor + "shape is too large");
      }
      bytes *= d.uint_value;
      e.shape.push_back(static_cast<int64_t>(d.uint_value));
    }
    for (const json::Value& o : offsets->items) {
      if (o.type != json::Value::Number || !o.is_uint)
        throw SafetensorsError(where + tensor + "data_offsets must be non-negative integers");
    }
    e.begin = offsets->items[0].uint_value;
    e.end = offsets->items[1].uint_value;
    if (e.end < e.begin)
      throw SafetensorsError(where + tensor + "data_offsets end " + std::to_string(e.end) + " is before begin " +
                             std::to_string(e.begin));
    if (e.end > data_size) {
      throw SafetensorsError(where + tensor + "data ends at byte " + std::to_string(e.end) +
                             " but the data buffer holds only " + std::to_string(data_size) +
                             " bytes (truncated file?)");
    }
    if (e.end - e.begin != bytes) {
      throw SafetensorsError(where + tensor + "data_offsets span " + std::to_string(e.end - e.begin) +
                             " bytes but dtype " + e.dtype->name + " and its shape need " + std::to_string(bytes));
    }
    entries.push_back(std::move(e));
  }

  // The tensors must tile the data buffer: no overlap, no hole, nothing after the last one.
  std::vector<const Entry*> order;
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  for (const Entry* e : order) {
    if (e->begin != covered) {
      throw SafetensorsError(where + "tensor '" + e->name + "' starts at byte " + std::to_string(e->begin) +
                             " but the previous tensor ends at " + std::to_string(covered) +
                             " (overlapping or non-contiguous data)");
    }
    covered = e->end;
  }
  if (covered != data_size) {
    throw SafetensorsError(where + "the tensors cover " + std::to_string(covered) +
                           " bytes but the data buffer holds " + std::to_string(data_size));
  }

  const uint64_t data_start = 8 + header_len;
  for (const Entry& e : entries) {
    const bool is_bool = e.dtype->type == at::kBool;
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(is_bool ? at::kByte : e.dtype->type));
    const uint64_t n = e.end - e.begin;
    if (n > 0) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin), std::ios::beg);
      if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(n))) {
        throw SafetensorsError(where + "tensor '" + e.name + "': read failed (file changed while reading?)");
      }
    }
    // Bytes other than 0 and 1 are not valid bools for ATen; normalise through a comparison.
    result.tensors.emplace_back(e.name, is_bool ? t.ne(0) : t);
  }
  return result;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> host;
  std::set<std::string> names;
  std::ostringstream text;
  text << '{';
  bool first = true;
  if (!metadata.empty()) {
    text << "\"__metadata__\":{";
    bool first_meta = true;
    for (const auto& kv : metadata) {
      text << (first_meta ? "" : ",") << json::quote(kv.first) << ':' << json::quote(kv.second);
      first_meta = false;
    }
    text << '}';
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& kv : tensors) {
    if (kv.first == "__metadata__" || !names.insert(kv.first).second) {
      throw std::invalid_argument("safetensors: duplicate or reserved tensor name '" + kv.first + "'");
    }
    const DtypeInfo* d = dtype_by_type(kv.second.scalar_type());
    if (d == nullptr) throw std::invalid_argument("safetensors: tensor '" + kv.first + "' has an unsupported dtype");
    at::Tensor t = kv.second.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * d->bytes;
    text << (first ? "" : ",") << json::quote(kv.first) << ":{\"dtype\":\"" << d->name << "\",\"shape\":[";
    for (int64_t i = 0; i < t.dim(); ++i) text << (i ? "," : "") << t.size(i);
    text << "],\"data_offsets\":[" << offset << ',' << offset + bytes << "]}";
    first = false;
    offset += bytes;
    host.push_back(std::move(t));
  }
  text << '}';
  std::string header = text.str();
  // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
  header.append((8 - header.size() % 8) % 8, ' ');

  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp-" + std::to_string(NOISYNN_GETPID()) + "-" + std::to_string(counter++);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("Cannot write weights file '" + path + "': " + errno_text());
  auto fail = [&](const std::string& what) {
    std::string reason = errno_text();
    std::fclose(f);
    std::remove(tmp.c_str());
    throw std::runtime_error("Cannot write weights file '" + path + "': " + what + ": " + reason);
  };
  unsigned char len_bytes[8];
  uint64_t header_len = header.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((header_len >> (8 * i)) & 0xFF);
  if (std::fwrite(len_bytes, 1, 8, f) != 8 || std::fwrite(header.data(), 1, header.size(), f) != header.size())
    fail("write failed");
  for (const at::Tensor& t : host) {
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (bytes > 0 && std::fwrite(t.data_ptr(), 1, bytes, f) != bytes) fail("write failed");
  }
  if (std::fflush(f) != 0) fail("flush failed");
  if (std::fclose(f) != 0) {
    std::string reason = errno_text();
    std::remove(tmp.c_str());
    throw std::runtime_error("Cannot write weights file '" + path + "': close failed: " + reason);
  }
  try {
    commit_file(tmp, path);
  } catch (const std::exception& e) {
    throw std::runtime_error("Cannot write weights file '" + path + "': " + e.what());
  }
}

}  // namespace models
}  // namespace noisynn
