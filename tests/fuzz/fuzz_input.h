// Reads a fuzzer's bytes as a stream of small decisions; past the end every
// read returns zero, so any input is a complete, valid program.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tabvec::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t below(uint32_t n) { return n ? byte() % n : 0; }
  // A few exact, easily hit values (ties, zero, signs) and a spread of others.
  float value() {
    const uint8_t b = byte();
    switch (b & 7) {
      case 0: return 0.0f;
      case 1: return 1.0f;
      case 2: return -1.0f;
      case 3: if (b == 3) return 70000.0f;  // beyond float16, rarely
      [[fallthrough]];
      default: return (float(b) - 128.0f) / 16.0f;
    }
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace tabvec::fuzz
