#include "text.h"

#include <cstdint>
#include <cstring>

#include "memory.h"

namespace tabvec {

namespace {

// Eight bytes at a time, for the texts a snapshot holds by the hundred
// thousand (ids, metadata), most of them plain ASCII: the scans jump to the
// next byte that needs a look instead of looking at every byte.
constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

uint64_t load_word(const void* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// One bit (the high bit of its byte) for each byte of w that is below n
// (n <= 128). Borrows can mark bytes above a marked one, never below it, so
// the lowest mark is exact: that is all the scans use.
uint64_t bytes_below(uint64_t w, uint64_t n) { return (w - n * kOnes) & ~w & kHighs; }
uint64_t bytes_equal(uint64_t w, uint64_t v) { return bytes_below(w ^ (v * kOnes), 1); }

// Bytes a JSON string scan must stop at: non-ASCII, control, quote, backslash.
uint64_t string_stops(uint64_t w) {
  return (w & kHighs) | bytes_below(w, 0x20) | bytes_equal(w, '"') | bytes_equal(w, '\\');
}

// The index in w (little-endian, as in WebAssembly and x86) of the byte the lowest mark is on.
size_t first_marked(uint64_t marks) { return size_t(__builtin_ctzll(marks)) >> 3; }

}  // namespace

bool valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    for (; end - p >= 8; p += 8) {
      if (const uint64_t marks = load_word(p) & kHighs) {
        p += first_marked(marks);
        break;
      }
    }
    if (p == end) break;
    const uint8_t b = *p++;
    if (b < 0x80) continue;
    uint32_t code;
    int more;
    if (b >= 0xC2 && b <= 0xDF) code = b & 0x1F, more = 1;
    else if (b >= 0xE0 && b <= 0xEF) code = b & 0x0F, more = 2;
    else if (b >= 0xF0 && b <= 0xF4) code = b & 0x07, more = 3;
    else return false;  // continuation byte, overlong lead or beyond U+10FFFF
    if (end - p < more) return false;
    for (int i = 0; i < more; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      code = code << 6 | (p[i] & 0x3F);
    }
    p += more;
    const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
    if (code < least[more] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
  }
  return true;
}

namespace {

// The containers open around the scanner's position ('{' or '['): the first
// 32 levels in place, deeper ones on the heap, so checking the usual small
// document allocates nothing (a snapshot checks one per stored entry).
class NestingStack {
 public:
  [[nodiscard]] bool try_push_back(char c) {
    if (size_ >= kInPlace && !deeper_.try_push_back(c)) return false;
    if (size_ < kInPlace) in_place_[size_] = c;
    ++size_;
    return true;
  }
  void pop_back() {
    if (size_ > kInPlace) deeper_.pop_back();
    --size_;
  }
  char back() const { return size_ > kInPlace ? deeper_.back() : in_place_[size_ - 1]; }
  bool empty() const { return size_ == 0; }

 private:
  static constexpr size_t kInPlace = 32;
  char in_place_[kInPlace];
  PodVector<char> deeper_;
  size_t size_ = 0;
};

class JsonScanner {
 public:
  explicit JsonScanner(std::string_view t) : p_(t.data()), end_(t.data() + t.size()) {}

  JsonCheck run() {
    // Containers open around the current position: '{' or '['.
    NestingStack open;
    skip_space();
    for (;;) {
      // A value.
      if (p_ == end_) return JsonCheck::invalid;
      if (*p_ == '{' || *p_ == '[') {
        if (!open.try_push_back(*p_)) return JsonCheck::out_of_memory;
        const char close = *p_ == '{' ? '}' : ']';
        ++p_;
        skip_space();
        if (p_ < end_ && *p_ == close) {
          ++p_;
          open.pop_back();
        } else {
          if (open.back() == '{' && !key()) return JsonCheck::invalid;
          continue;
        }
      } else if (!scalar()) {
        return JsonCheck::invalid;
      }
      // After a value: close containers, or a comma and the next member.
      for (;;) {
        skip_space();
        if (open.empty()) return p_ == end_ ? JsonCheck::valid : JsonCheck::invalid;
        if (p_ == end_) return JsonCheck::invalid;
        const char close = open.back() == '{' ? '}' : ']';
        if (*p_ == close) {
          ++p_;
          open.pop_back();
          continue;
        }
        if (*p_ != ',') return JsonCheck::invalid;
        ++p_;
        skip_space();
        if (open.back() == '{' && !key()) return JsonCheck::invalid;
        break;
      }
    }
  }

 private:
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  // `"name" :` then space, before a member's value.
  bool key() {
    if (!string()) return false;
    skip_space();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    skip_space();
    return true;
  }
  bool literal(std::string_view word) {
    if (size_t(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  bool digits() {
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > start;
  }
  bool number() {
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (!(p_ < end_ && *p_ >= '1' && *p_ <= '9') || !digits()) {
      return false;
    }
    if (p_ < end_ && *p_ == '.' && (++p_, !digits())) return false;
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }
  bool string() {
    if (p_ == end_ || *p_ != '"') return false;
    ++p_;
    const char* start = p_;
    bool ascii = true;
    while (p_ < end_ && *p_ != '"') {
      for (; end_ - p_ >= 8; p_ += 8) {
        if (const uint64_t marks = string_stops(load_word(p_))) {
          p_ += first_marked(marks);
          break;
        }
      }
      if (p_ == end_ || *p_ == '"') break;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c < 0x20) return false;
      if (c >= 0x80) ascii = false;
      if (c != '\\') {
        ++p_;
        continue;
      }
      if (++p_ == end_) return false;
      const char e = *p_++;
      if (e == 'u') {
        for (int i = 0; i < 4; ++i, ++p_) {
          if (p_ == end_) return false;
          const char h = *p_;
          if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return false;
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
    if (p_ == end_ || (!ascii && !valid_utf8(std::string_view(start, size_t(p_ - start))))) return false;
    ++p_;
    return true;
  }
  bool scalar() {
    switch (*p_) {
      case '"': return string();
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  const char* p_;
  const char* end_;
};

}  // namespace

JsonCheck check_json(std::string_view text) { return JsonScanner(text).run(); }

}  // namespace tabvec
