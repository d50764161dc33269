// A small strict JSON reader and string quoting, enough for safetensors headers; ATen-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace noisynn {
namespace json {

// Malformed JSON; the caller prefixes the message with where the document came from.
struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Value {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool boolean = false;
  bool is_uint = false;  // a non-negative integer that fits in uint64
  uint64_t uint_value = 0;
  std::string str;  // a String's text, or a Number's literal text
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> members;  // in document order; keys are unique

  // The member named `key` of an Object, or nullptr.
  const Value* member(const char* key) const;
};

// Parses one JSON document from data[0, size): never reads past the end, refuses duplicate
// keys, trailing characters and nesting deeper than `max_depth`. Throws JsonError; its messages
// call the document `subject` ("unexpected end of the JSON header").
Value parse(const char* data, size_t size, const char* subject = "the JSON text", int max_depth = 64);

// Whether s is well-formed UTF-8 (JSON text must be).
bool valid_utf8(const std::string& s);

// s as a JSON string literal, quotes included.
std::string quote(const std::string& s);

}  // namespace json
}  // namespace noisynn
