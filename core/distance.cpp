#include "distance.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

namespace tabvec {

// The scalar loops are written so that native compilers vectorize them
// (independent accumulators, int32 sums for codes); they are also the
// reference the SIMD kernels are tested against.
namespace scalar {

// In a SIMD build these loops only finish the SIMD kernels' last components
// (under 16 for l2_i8_i16, 8 for the other integer kernels, 4 for floats):
// kept plain, not vectorized or unrolled, for size.
#ifdef __wasm_simd128__
#define TABVEC_TAIL_LOOP _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")
#else
#define TABVEC_TAIL_LOOP
#endif

float l2_sq_f32(const float* a, const float* b, size_t dim) {
  float acc[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    for (size_t j = 0; j < 4; ++j) {
      const float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  }
  float sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  TABVEC_TAIL_LOOP
  for (; i < dim; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

float dot_f32(const float* a, const float* b, size_t dim) {
  float acc[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= dim; i += 4) {
    for (size_t j = 0; j < 4; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  TABVEC_TAIL_LOOP
  for (; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

int32_t l2_sq_i8(const int8_t* a, const int8_t* b, size_t dim) {
  int32_t sum = 0;
  TABVEC_TAIL_LOOP
  for (size_t i = 0; i < dim; ++i) {
    const int32_t d = int32_t(a[i]) - int32_t(b[i]);
    sum += d * d;
  }
  return sum;
}

int32_t dot_i8(const int8_t* a, const int8_t* b, size_t dim) {
  int32_t sum = 0;
  TABVEC_TAIL_LOOP
  for (size_t i = 0; i < dim; ++i) sum += int32_t(a[i]) * int32_t(b[i]);
  return sum;
}

int32_t dot_i8_i16(const int8_t* code, const int16_t* query, size_t dim) {
  int32_t sum = 0;
  TABVEC_TAIL_LOOP
  for (size_t i = 0; i < dim; ++i) sum += int32_t(code[i]) * int32_t(query[i]);
  return sum;
}

int64_t l2_i8_i16(const int8_t* code, const int16_t* query, size_t dim, int32_t fineness) {
  int32_t dot = 0, squared = 0;
  TABVEC_TAIL_LOOP
  for (size_t i = 0; i < dim; ++i) {
    dot += int32_t(code[i]) * int32_t(query[i]);
    squared += int32_t(code[i]) * int32_t(code[i]);
  }
  return int64_t(fineness) * (int64_t(fineness) * squared - 2 * int64_t(dot));
}

}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd {

static inline float horizontal_sum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static inline int32_t horizontal_sum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
         wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

float l2_sq_f32(const float* a, const float* b, size_t dim) {
  // Two accumulators hide the add latency; the tail goes to the scalar kernel.
  v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    const v128_t d0 = wasm_f32x4_sub(wasm_v128_load(a + i), wasm_v128_load(b + i));
    const v128_t d1 = wasm_f32x4_sub(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(d0, d0));
    acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(d1, d1));
  }
  if (i + 4 <= dim) {
    const v128_t d0 = wasm_f32x4_sub(wasm_v128_load(a + i), wasm_v128_load(b + i));
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(d0, d0));
    i += 4;
  }
  return horizontal_sum(wasm_f32x4_add(acc0, acc1)) + scalar::l2_sq_f32(a + i, b + i, dim - i);
}

float dot_f32(const float* a, const float* b, size_t dim) {
  v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  if (i + 4 <= dim) {
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    i += 4;
  }
  return horizontal_sum(wasm_f32x4_add(acc0, acc1)) + scalar::dot_f32(a + i, b + i, dim - i);
}

// Codes are widened to i16 and multiplied with i32x4.dot_i16x8_s, which sums
// adjacent products into i32 lanes: no float round trip, no overflow for
// |code| <= 127 (a lane gains at most 2 * 254^2 per step; dim is capped at 16384).
int32_t l2_sq_i8(const int8_t* a, const int8_t* b, size_t dim) {
  v128_t acc = wasm_i32x4_splat(0);
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const v128_t va = wasm_v128_load(a + i), vb = wasm_v128_load(b + i);
    const v128_t lo = wasm_i16x8_sub(wasm_i16x8_extend_low_i8x16(va), wasm_i16x8_extend_low_i8x16(vb));
    const v128_t hi = wasm_i16x8_sub(wasm_i16x8_extend_high_i8x16(va), wasm_i16x8_extend_high_i8x16(vb));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(lo, lo));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(hi, hi));
  }
  if (i + 8 <= dim) {
    const v128_t lo = wasm_i16x8_sub(wasm_i16x8_load8x8(a + i), wasm_i16x8_load8x8(b + i));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(lo, lo));
    i += 8;
  }
  return horizontal_sum_i32(acc) + scalar::l2_sq_i8(a + i, b + i, dim - i);
}

int32_t dot_i8(const int8_t* a, const int8_t* b, size_t dim) {
  v128_t acc = wasm_i32x4_splat(0);
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const v128_t va = wasm_v128_load(a + i), vb = wasm_v128_load(b + i);
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(va),
                                                   wasm_i16x8_extend_low_i8x16(vb)));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(va),
                                                   wasm_i16x8_extend_high_i8x16(vb)));
  }
  if (i + 8 <= dim) {
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(a + i), wasm_i16x8_load8x8(b + i)));
    i += 8;
  }
  return horizontal_sum_i32(acc) + scalar::dot_i8(a + i, b + i, dim - i);
}

// The query is int16 already (widened once per search, not per distance):
// per 16 components two sign-extending code loads (i16x8.load8x8), two query
// loads, two dots into two accumulators. In Node this ran 10-20% faster per
// distance than a v128 load and extend_low/high with one accumulator (384 and
// 512 dims). Each lane sums a subset of the products, so it stays within the
// bound query_fineness() keeps for the whole sum.
int32_t dot_i8_i16(const int8_t* code, const int16_t* query, size_t dim) {
  v128_t acc0 = wasm_i32x4_splat(0), acc1 = wasm_i32x4_splat(0);
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    acc0 = wasm_i32x4_add(acc0, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(code + i), wasm_v128_load(query + i)));
    acc1 = wasm_i32x4_add(acc1, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(code + i + 8), wasm_v128_load(query + i + 8)));
  }
  if (i + 8 <= dim) {
    acc0 = wasm_i32x4_add(acc0, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(code + i), wasm_v128_load(query + i)));
    i += 8;
  }
  return horizontal_sum_i32(wasm_i32x4_add(acc0, acc1)) + scalar::dot_i8_i16(code + i, query + i, dim - i);
}

// dot_i8_i16's 16-component loop (the rest is the scalar tail's), with each
// code's dot product with itself beside it (|c|^2 <= dim * 127^2 fits every lane).
int64_t l2_i8_i16(const int8_t* code, const int16_t* query, size_t dim, int32_t fineness) {
  v128_t dot0 = wasm_i32x4_splat(0), dot1 = wasm_i32x4_splat(0), squared = wasm_i32x4_splat(0);
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const v128_t c0 = wasm_i16x8_load8x8(code + i), c1 = wasm_i16x8_load8x8(code + i + 8);
    dot0 = wasm_i32x4_add(dot0, wasm_i32x4_dot_i16x8(c0, wasm_v128_load(query + i)));
    dot1 = wasm_i32x4_add(dot1, wasm_i32x4_dot_i16x8(c1, wasm_v128_load(query + i + 8)));
    squared = wasm_i32x4_add(squared, wasm_i32x4_add(wasm_i32x4_dot_i16x8(c0, c0), wasm_i32x4_dot_i16x8(c1, c1)));
  }
  const int64_t k = fineness;
  const int64_t head = k * (k * horizontal_sum_i32(squared) - 2 * int64_t(horizontal_sum_i32(wasm_i32x4_add(dot0, dot1))));
  return head + scalar::l2_i8_i16(code + i, query + i, dim - i, fineness);
}

}  // namespace simd
#endif

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::l2: return "l2";
    case Metric::inner_product: return "ip";
    case Metric::cosine: return "cosine";
  }
  return "unknown_metric";
}

bool simd_enabled() {
#ifdef __wasm_simd128__
  return true;
#else
  return false;
#endif
}

Kernels select_kernels(Metric metric) {
#ifdef __wasm_simd128__
  namespace k = simd;
#else
  namespace k = scalar;
#endif
  if (metric == Metric::l2) return {k::l2_sq_f32, k::l2_sq_i8, k::dot_i8_i16, k::l2_i8_i16};
  return {k::dot_f32, k::dot_i8, k::dot_i8_i16, k::l2_i8_i16};
}

}  // namespace tabvec
