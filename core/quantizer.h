// 8-bit scalar quantization with one range for all dimensions.
//
// code = clamp(round((x - offset) / step), -127, 127), x ~= offset + step * code.
// A single (offset, step) pair keeps every distance an exact integer kernel:
//   L2:  |a - b|^2 ~= step^2 * sum (ca - cb)^2          (offset cancels)
//   dot: a . b     ~= step^2 * sum ca * cb  with offset 0 (inner product, cosine)
// Per-dimension ranges would need a float weight per dimension inside the hot
// loop; the recall tests and bench show the global range reaches the targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "distance.h"

namespace tabvec {

// Empty until extended: lo > hi.
struct QuantizerRange {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  bool empty() const { return lo > hi; }
};

class ScalarQuantizer {
 public:
  static constexpr int kMaxCode = 127;

  bool trained() const { return step_ > 0; }
  float offset() const { return offset_; }
  float step() const { return step_; }

  // Sets parameters covering [range.lo, range.hi] plus headroom, so that data
  // drifting slightly outside the training sample does not force a retrain.
  void train(Metric metric, QuantizerRange range);
  // Restores trained parameters read from a snapshot; false if train() could
  // not have made them.
  bool restore(float offset, float step);

  QuantizerRange range() const;

  void encode(const float* v, size_t dim, int8_t* out) const;
  void decode(const int8_t* code, size_t dim, float* out) const;
  // A search query on the same range, `fineness` times finer (step / fineness):
  // clamp(round((x - offset) * fineness / step), -127 fineness, 127 fineness).
  // With fineness = query_fineness(dim) it is scored exactly by dot_i8_i16.
  // Returns the coded query's squared length, |out|^2.
  int64_t encode_query(const float* v, size_t dim, int32_t fineness, int16_t* out) const;

 private:
  float offset_ = 0;
  float step_ = 0;
};

// How many times finer than the codes a search query is coded, for int16
// components scored against int8 codes with an int32 sum (dot_i8_i16):
// |sum code * query| <= dim * 127 * (127 fineness) must stay <= 2^31 - 1, so
// fineness = floor((2^31 - 1) / (127^2 dim)), and at most 258 for the query to
// fit int16 (127 * 258 = 32766). That is 258 up to 512 dimensions, 169 at 784,
// and 8 at kMaxDim = 16384 (16384 * 127 * 1016 = 2,114,060,288 < 2^31 - 1):
// even there the query's rounding error is 1/8 of a code's. The bound counts
// on codes in [-127, 127]: encode() clamps to it and a snapshot's codes are
// checked against it when loaded (a -128 would pass 2^31 - 1 at 784 dims).
int32_t query_fineness(size_t dim);

// Widens `into` to cover the components of one vector.
void extend_range(QuantizerRange& into, const float* v, size_t dim);

// IEEE half precision, for the re-ranking tier's float16 rows. Encoding
// rounds to nearest even; components must be finite and at most kMaxFloat16
// (index.h) in magnitude. A row read from a snapshot is checked with
// float16_finite before it is decoded.
void encode_float16(const float* v, size_t dim, uint16_t* out);
void decode_float16(const uint16_t* h, size_t dim, float* out);
bool float16_finite(const uint16_t* h, size_t dim);

}  // namespace tabvec
