// The JSON reader and string quoting of common/json.h.
#include "common/json.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

namespace noisynn {
namespace json {

namespace {

class Parser {
 public:
  Parser(const char* data, size_t size, const char* subject, int max_depth)
      : p_(data), end_(data + size), subject_(subject), max_depth_(max_depth) {}

  Value parse_document() {
    Value v = parse_value(0);
    skip_ws();
    if (p_ != end_) fail("unexpected characters after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { throw JsonError(what); }

  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  void expect_literal(const char* lit) {
    size_t n = std::strlen(lit);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, lit, n) != 0) fail("invalid JSON literal");
    p_ += n;
  }

  Value parse_value(int depth) {
    if (depth > max_depth_) fail("JSON nested too deeply");
    skip_ws();
    if (p_ == end_) fail("unexpected end of " + subject_);
    Value v;
    switch (*p_) {
      case '{': parse_object(v, depth); break;
      case '[': parse_array(v, depth); break;
      case '"':
        v.type = Value::String;
        v.str = parse_string();
        break;
      case 't':
        expect_literal("true");
        v.type = Value::Bool;
        v.boolean = true;
        break;
      case 'f':
        expect_literal("false");
        v.type = Value::Bool;
        break;
      case 'n': expect_literal("null"); break;
      default: parse_number(v); break;
    }
    return v;
  }

  void parse_object(Value& v, int depth) {
    v.type = Value::Object;
    ++p_;  // '{'
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return;
    }
    std::set<std::string> seen;
    while (true) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') fail("expected a string key in a JSON object");
      std::string key = parse_string();
      if (!seen.insert(key).second) fail("duplicate key '" + key + "' in " + subject_);
      skip_ws();
      if (p_ == end_ || *p_ != ':') fail("expected ':' in a JSON object");
      ++p_;
      v.members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_ws();
      if (p_ == end_) fail("unexpected end of " + subject_);
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return;
      }
      fail("expected ',' or '}' in a JSON object");
    }
  }

  void parse_array(Value& v, int depth) {
    v.type = Value::Array;
    ++p_;  // '['
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return;
    }
    while (true) {
      v.items.push_back(parse_value(depth + 1));
      skip_ws();
      if (p_ == end_) fail("unexpected end of " + subject_);
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return;
      }
      fail("expected ',' or ']' in a JSON array");
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parse_hex4() {
    if (end_ - p_ < 4) fail("truncated \\u escape in a JSON string");
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      cp <<= 4;
      if (c >= '0' && c <= '9') cp |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') cp |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') cp |= static_cast<uint32_t>(c - 'A' + 10);
      else fail("invalid \\u escape in a JSON string");
    }
    return cp;
  }

  std::string parse_string() {
    ++p_;  // opening quote
    std::string out;
    while (true) {
      if (p_ == end_) fail("unterminated JSON string");
      unsigned char c = static_cast<unsigned char>(*p_++);
      if (c == '"') return out;
      if (c < 0x20) fail("control character in a JSON string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (p_ == end_) fail("unterminated JSON string");
      char e = *p_++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') fail("unpaired surrogate in a JSON string");
            p_ += 2;
            uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired surrogate in a JSON string");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate in a JSON string");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("invalid escape in a JSON string");
      }
    }
  }

  void parse_number(Value& v) {
    v.type = Value::Number;
    const char* start = p_;
    bool negative = false;
    if (p_ != end_ && *p_ == '-') {
      negative = true;
      ++p_;
    }
    if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) fail("invalid JSON value");
    bool overflow = false;
    uint64_t value = 0;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
        uint64_t digit = static_cast<uint64_t>(*p_ - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
        value = value * 10 + digit;
        ++p_;
      }
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) fail("invalid JSON number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) fail("invalid JSON number");
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    v.str.assign(start, p_);
    v.is_uint = integral && !negative && !overflow;
    v.uint_value = v.is_uint ? value : 0;
  }

  const char* p_;
  const char* end_;
  std::string subject_;
  int max_depth_;
};

}  // namespace

const Value* Value::member(const char* key) const {
  for (const auto& kv : members) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

Value parse(const char* data, size_t size, const char* subject, int max_depth) {
  return Parser(data, size, subject, max_depth).parse_document();
}

bool valid_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace json
}  // namespace noisynn
