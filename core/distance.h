// Distance kernels over float32 vectors and 8-bit codes.
//
// Every kernel returns a "smaller is closer" value. The index picks one kernel
// pair when it is configured (see select_kernels); nothing here holds state.
// Builds with __wasm_simd128__ get 128-bit WASM SIMD versions, every build has
// the scalar ones, and tests compare the two.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tabvec {

enum class Metric : uint8_t { l2 = 0, inner_product = 1, cosine = 2 };
constexpr int kMetricCount = int(Metric::cosine) + 1;

// The name the JS API uses for a metric ("l2", "ip", "cosine").
const char* metric_name(Metric m);

// float32 kernels: squared L2 and dot product.
using FloatKernel = float (*)(const float* a, const float* b, size_t dim);
// int8 kernels: sum of squared differences and dot product, exact in int32.
using CodeKernel = int32_t (*)(const int8_t* a, const int8_t* b, size_t dim);
// A search query against int8 codes: the dot product of a code with the query
// coded as int16 (ScalarQuantizer::encode_query), exact in int32 within the
// bound query_fineness() keeps.
using QueryKernel = int32_t (*)(const int8_t* code, const int16_t* query, size_t dim);
// The same query's squared L2 distance to a code less |query|^2 (a constant
// the caller adds once per query), in the query's units, where the code is
// `fineness` times coarser: sum (q - k c)^2 - |q|^2 = k (k |c|^2 - 2 q.c).
// Computing |c|^2 here, in the pass that reads the code anyway, spares
// keeping 4 bytes a vector for it.
using QueryL2Kernel = int64_t (*)(const int8_t* code, const int16_t* query, size_t dim, int32_t fineness);

namespace scalar {
float l2_sq_f32(const float* a, const float* b, size_t dim);
float dot_f32(const float* a, const float* b, size_t dim);
int32_t l2_sq_i8(const int8_t* a, const int8_t* b, size_t dim);
int32_t dot_i8(const int8_t* a, const int8_t* b, size_t dim);
int32_t dot_i8_i16(const int8_t* code, const int16_t* query, size_t dim);
int64_t l2_i8_i16(const int8_t* code, const int16_t* query, size_t dim, int32_t fineness);
}  // namespace scalar

#ifdef __wasm_simd128__
namespace simd {
float l2_sq_f32(const float* a, const float* b, size_t dim);
float dot_f32(const float* a, const float* b, size_t dim);
int32_t l2_sq_i8(const int8_t* a, const int8_t* b, size_t dim);
int32_t dot_i8(const int8_t* a, const int8_t* b, size_t dim);
int32_t dot_i8_i16(const int8_t* code, const int16_t* query, size_t dim);
int64_t l2_i8_i16(const int8_t* code, const int16_t* query, size_t dim, int32_t fineness);
}  // namespace simd
#endif

// True when this build carries SIMD kernels (used by stats and tests).
bool simd_enabled();

struct Kernels {
  FloatKernel float_kernel;  // l2_sq_f32 for L2, dot_f32 otherwise
  CodeKernel code_kernel;    // l2_sq_i8 for L2, dot_i8 otherwise: code to code (graph build)
  QueryKernel query_dot;     // dot_i8_i16: a search query to a code (inner product, cosine)
  QueryL2Kernel query_l2;    // l2_i8_i16: a search query to a code (L2)
};

// The fastest kernels this build has for the metric.
Kernels select_kernels(Metric metric);

// A float kernel's raw value (squared L2, or a dot product) as a distance.
inline float float_distance(Metric metric, float raw) {
  switch (metric) {
    case Metric::l2: return raw;
    case Metric::inner_product: return -raw;
    case Metric::cosine: return 1.0f - raw;
  }
  return raw;
}

}  // namespace tabvec
