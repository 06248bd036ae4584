#include "quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace tabvec {

namespace {
// Training headroom: 10% of the observed span on each side. Retraining
// re-encodes every stored code, so it should be rare; 10% costs 0.2 bits.
constexpr float kHeadroom = 0.10f;
// The index refuses vectors whose squared length exceeds FLT_MAX / 4, so no
// component exceeds sqrt(FLT_MAX) / 2 and no trained range reaches
// 2 * sqrt(FLT_MAX): (|centre| + half span) * (1 + 2 * headroom) stays below it.
const float kMaxRange = 2 * std::sqrt(std::numeric_limits<float>::max());
}  // namespace

void extend_range(QuantizerRange& into, const float* v, size_t dim) {
  for (size_t i = 0; i < dim; ++i) {
    into.lo = std::min(into.lo, v[i]);
    into.hi = std::max(into.hi, v[i]);
  }
}

void ScalarQuantizer::train(Metric metric, QuantizerRange range) {
  if (metric == Metric::l2) {
    // L2 is translation invariant: centre the codes on the data.
    const float span = std::max(range.hi - range.lo, 1e-30f);
    offset_ = 0.5f * (range.lo + range.hi);
    step_ = 0.5f * span * (1 + 2 * kHeadroom) / kMaxCode;
  } else {
    // Dot products need offset 0 so the product of codes is the product of values.
    const float bound = std::max({std::fabs(range.lo), std::fabs(range.hi), 1e-30f});
    offset_ = 0;
    step_ = bound * (1 + kHeadroom) / kMaxCode;
  }
}

bool ScalarQuantizer::restore(float offset, float step) {
  // Only what train() can make from vectors the index accepts: a normal step
  // (1 / step must not overflow) and a range within kMaxRange, so that a
  // retrain stays finite and code distances (scaled by step^2) are never NaN.
  if (!std::isfinite(offset) || !(step >= std::numeric_limits<float>::min()) ||
      std::fabs(offset) + step * kMaxCode > kMaxRange)
    return false;
  offset_ = offset;
  step_ = step;
  return true;
}

QuantizerRange ScalarQuantizer::range() const {
  return {offset_ - step_ * kMaxCode, offset_ + step_ * kMaxCode};
}

void ScalarQuantizer::encode(const float* v, size_t dim, int8_t* out) const {
  const float inv = 1.0f / step_;
  for (size_t i = 0; i < dim; ++i) {
    const float q = std::nearbyint((v[i] - offset_) * inv);
    out[i] = int8_t(std::clamp(q, float(-kMaxCode), float(kMaxCode)));
  }
}

int64_t ScalarQuantizer::encode_query(const float* v, size_t dim, int32_t fineness, int16_t* out) const {
  // Not fineness / step: that overflows for the smallest steps restore() accepts
  // (1 / step does not), and an infinite factor times 0 would be NaN.
  const float inv = 1.0f / step_, scale = float(fineness), most = float(kMaxCode * fineness);
  int64_t squared = 0;  // at most dim * 32766^2 < 2^44
  // Once per search: plain, not vectorized or unrolled (size).
#ifdef __clang__
#pragma clang loop vectorize(disable) unroll(disable) interleave(disable)
#endif
  for (size_t i = 0; i < dim; ++i) {
    const int32_t q = int32_t(std::clamp(std::nearbyint((v[i] - offset_) * scale * inv), -most, most));
    out[i] = int16_t(q);
    squared += q * q;
  }
  return squared;
}

int32_t query_fineness(size_t dim) {
  constexpr int64_t kMaxSum = std::numeric_limits<int32_t>::max();
  const int64_t levels = kMaxSum / (int64_t(ScalarQuantizer::kMaxCode) * ScalarQuantizer::kMaxCode * int64_t(std::max<size_t>(dim, 1)));
  return int32_t(std::min<int64_t>(levels, std::numeric_limits<int16_t>::max() / ScalarQuantizer::kMaxCode));
}

void ScalarQuantizer::decode(const int8_t* code, size_t dim, float* out) const {
  for (size_t i = 0; i < dim; ++i) out[i] = offset_ + step_ * float(code[i]);
}

namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
constexpr uint32_t kRebias = (127 - 15) << 23;       // float exponent bias minus half's, in place
constexpr uint32_t kSmallestNormalHalf = 113 << 23;  // 2^-14 as float bits
}  // namespace

// Once per stored vector: kept small rather than vector.
void encode_float16(const float* v, size_t dim, uint16_t* out) {
#ifdef __clang__
#pragma clang loop vectorize(disable) unroll(disable)
#endif
  for (size_t i = 0; i < dim; ++i) {
    const uint32_t u = bits_of(v[i]);
    const uint32_t sign = (u >> 16) & 0x8000;
    // Beyond the largest half (never asked for: the index refuses such
    // values) it saturates rather than spill into infinity or the sign.
    const uint32_t magnitude = std::min<uint32_t>(u & 0x7FFFFFFF, 0x477FE000);  // 65504
    uint32_t h;
    if (magnitude < kSmallestNormalHalf) {
      // A subnormal half counts units of 2^-24: the float's own rounding
      // (to nearest even) gives the count.
      h = uint32_t(std::nearbyint(float_of(magnitude) * 16777216.0f));
    } else {
      // Drop 13 mantissa bits, rounding to nearest even; a carry moves into the exponent as it should.
      h = (magnitude - kRebias + 0xFFF + ((magnitude >> 13) & 1)) >> 13;
    }
    out[i] = uint16_t(sign | h);
  }
}

void decode_float16(const uint16_t* h, size_t dim, float* out) {
  // Moving exponent and mantissa into place and scaling by 2^112 decodes
  // normal and subnormal halves alike, with no branch to keep the loop vector
  // (and not unrolled: it runs a few times per query, so size matters more).
#ifdef __clang__
#pragma clang loop unroll(disable) interleave_count(1)
#endif
  for (size_t i = 0; i < dim; ++i) {
    const float magnitude = float_of(uint32_t(h[i] & 0x7FFF) << 13) * 0x1p112f;
    out[i] = float_of(bits_of(magnitude) | (uint32_t(h[i] & 0x8000) << 16));
  }
}

bool float16_finite(const uint16_t* h, size_t dim) {
  uint32_t infinite = 0;
#ifdef __clang__
#pragma clang loop unroll(disable) interleave_count(1)
#endif
  for (size_t i = 0; i < dim; ++i) infinite |= (h[i] & 0x7C00) == 0x7C00;
  return infinite == 0;
}

}  // namespace tabvec
