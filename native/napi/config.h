// The one reader of the flat config objects that lib/ sends, and the one u64 decimal parser.
//
// lib/ validates every option once and hands the addon a flat, fully defaulted object; the
// bindings read it field by field through ConfigReader, which throws a TypeError (RangeError for
// a value out of range) naming the field when lib/ and the addon disagree:
//
//   ConfigReader r(info[1], "noise");
//   c.layer = r.Int("layer");   // "Expected integer for noise.layer but received '3' (string)"
//   c.params.seed = r.U64("seed");
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace noisynn {
namespace napi {

class ConfigReader {
 public:
  // Throws a TypeError naming `name` unless `value` is an object.
  ConfigReader(const Napi::Value& value, std::string name);

  // Whether the field is present (not undefined): for fields newer callers add.
  bool Has(const char* key) const;
  int64_t Int(const char* key) const;  // a safe integer
  double Double(const char* key) const;
  std::string String(const char* key) const;
  bool Bool(const char* key) const;
  // A decimal string of an unsigned 64-bit integer (seeds, Philox offsets: JS numbers cannot
  // carry 64 bits).
  uint64_t U64(const char* key) const;
  std::vector<int64_t> Ints(const char* key) const;
  std::vector<float> Floats(const char* key) const;
  // An array of nested config objects, named "<name>.<key>[i]".
  std::vector<ConfigReader> Objects(const char* key) const;

  const std::string& name() const { return name_; }

 private:
  Napi::Value Field(const char* key) const;
  std::string PathOf(const char* key) const { return name_ + "." + key; }

  Napi::Object object_;
  std::string name_;
};

// A decimal string holding an unsigned 64-bit integer: at most 20 digits and nothing else (no
// sign, space or hex). Throws RangeError naming `name` otherwise.
uint64_t ParseU64Decimal(const std::string& s, const std::string& name);

// A JS value as lib/validate.ts's describe() prints it: 1.5 (number), 'x' (string), an object.
std::string DescribeValue(const Napi::Value& v);

}  // namespace napi
}  // namespace noisynn
