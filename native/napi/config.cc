// ConfigReader and the u64 decimal parser of napi/config.h.
#include "napi/config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "napi/errors.h"

namespace noisynn {
namespace napi {

namespace {

[[noreturn]] void Mismatch(const std::string& name, const char* expected, const Napi::Value& v) {
  throw noisynn::TypeError(std::string("Expected ") + expected + " for " + name + " but received " + DescribeValue(v));
}

// Integers lib/ sends are safe integers (|v| <= 2^53 - 1): exactly representable as doubles.
int64_t IntOf(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) Mismatch(name, "integer", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9007199254740991.0) {
    throw noisynn::RangeError("Expected integer for " + name + " but received " + DescribeValue(v));
  }
  return static_cast<int64_t>(d);
}

Napi::Array ArrayOf(const Napi::Value& v, const std::string& name, const char* expected) {
  if (!v.IsArray()) Mismatch(name, expected, v);
  return v.As<Napi::Array>();
}

}  // namespace

std::string DescribeValue(const Napi::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsString()) {
    // Appended, not "'" + ...: GCC 12 warns falsely (-Wstringop-overflow) on that form here.
    std::string out = "'";
    out.append(v.As<Napi::String>().Utf8Value()).append("' (string)");
    return out;
  }
  if (v.IsNumber()) return v.ToString().Utf8Value() + " (number)";
  if (v.IsBoolean()) return v.ToString().Utf8Value() + " (boolean)";
  if (v.IsBigInt()) return v.ToString().Utf8Value() + " (bigint)";
  if (v.IsArray()) return "an array of length " + std::to_string(v.As<Napi::Array>().Length());
  if (v.IsFunction()) return "a function";
  return "an object";
}

ConfigReader::ConfigReader(const Napi::Value& value, std::string name) : name_(std::move(name)) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction()) Mismatch(name_, "object", value);
  object_ = value.As<Napi::Object>();
}

Napi::Value ConfigReader::Field(const char* key) const { return object_.Get(key); }

bool ConfigReader::Has(const char* key) const { return !Field(key).IsUndefined(); }

int64_t ConfigReader::Int(const char* key) const { return IntOf(Field(key), PathOf(key)); }

double ConfigReader::Double(const char* key) const {
  Napi::Value v = Field(key);
  if (!v.IsNumber()) Mismatch(PathOf(key), "number", v);
  return v.As<Napi::Number>().DoubleValue();
}

std::string ConfigReader::String(const char* key) const {
  Napi::Value v = Field(key);
  if (!v.IsString()) Mismatch(PathOf(key), "string", v);
  return v.As<Napi::String>().Utf8Value();
}

bool ConfigReader::Bool(const char* key) const {
  Napi::Value v = Field(key);
  if (!v.IsBoolean()) Mismatch(PathOf(key), "boolean", v);
  return v.As<Napi::Boolean>().Value();
}

uint64_t ConfigReader::U64(const char* key) const {
  Napi::Value v = Field(key);
  if (!v.IsString()) Mismatch(PathOf(key), "decimal string of an unsigned 64-bit integer", v);
  return ParseU64Decimal(v.As<Napi::String>().Utf8Value(), PathOf(key));
}

std::vector<int64_t> ConfigReader::Ints(const char* key) const {
  const std::string path = PathOf(key);
  Napi::Array a = ArrayOf(Field(key), path, "array of integers");
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = IntOf(a.Get(i), path + "[" + std::to_string(i) + "]");
  return out;
}

std::vector<float> ConfigReader::Floats(const char* key) const {
  const std::string path = PathOf(key);
  Napi::Array a = ArrayOf(Field(key), path, "array of numbers");
  std::vector<float> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) Mismatch(path + "[" + std::to_string(i) + "]", "number", v);
    out[i] = static_cast<float>(v.As<Napi::Number>().DoubleValue());
  }
  return out;
}

std::vector<ConfigReader> ConfigReader::Objects(const char* key) const {
  const std::string path = PathOf(key);
  Napi::Array a = ArrayOf(Field(key), path, "array of objects");
  std::vector<ConfigReader> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out.emplace_back(a.Get(i), path + "[" + std::to_string(i) + "]");
  return out;
}

uint64_t ParseU64Decimal(const std::string& s, const std::string& name) {
  // At most 20 digits and nothing else (strtoull alone would accept signs, spaces, hex).
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) {
    throw noisynn::RangeError("Expected a decimal unsigned 64-bit integer for " + name + " but received '" + s + "'");
  }
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE)
    throw noisynn::RangeError("Expected an integer below 2^64 for " + name + " but received '" + s + "'");
  return static_cast<uint64_t>(v);
}

}  // namespace napi
}  // namespace noisynn
