// libFuzzer harness: the strict JSON reader of common/json.h (safetensors headers), with its
// UTF-8 check and string quoting.
//
// Contract: parse() returns a value or throws JsonError, never anything else; quote() of every
// parsed string parses back to the same string.
#include <cstdint>
#include <string>

#include "common/json.h"
#include "fuzz/fuzz_input.h"

namespace {

void check_strings(const noisynn::json::Value& v) {
  using noisynn::json::Value;
  if (v.type == Value::String) {
    const std::string q = noisynn::json::quote(v.str);
    const Value back = noisynn::json::parse(q.data(), q.size());
    if (back.type != Value::String || back.str != v.str) noisynn::fuzz::violated("quote() does not round-trip");
  }
  for (const auto& item : v.items) check_strings(item);
  for (const auto& kv : v.members) check_strings(kv.second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const bool utf8 = noisynn::json::valid_utf8(std::string(text, size));
  try {
    const noisynn::json::Value v = noisynn::json::parse(text, size, "the fuzz input", 64);
    if (utf8) check_strings(v);
  } catch (const noisynn::json::JsonError&) {
  }
  return 0;
}
