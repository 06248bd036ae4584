#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "distance.h"
#include "quantizer.h"
#include "test_data.h"

namespace tabvec {
namespace {

const size_t kDims[] = {1, 3, 4, 15, 16, 17, 100, 128, 384, 768, 1536};

double reference_l2(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return s;
}
double reference_dot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(a[i]) * b[i];
  return s;
}
int64_t reference_l2_i8(const int8_t* a, const int8_t* b, size_t n) {
  int64_t s = 0;
  for (size_t i = 0; i < n; ++i) s += (int64_t(a[i]) - b[i]) * (int64_t(a[i]) - b[i]);
  return s;
}
int64_t reference_dot_i8(const int8_t* a, const int8_t* b, size_t n) {
  int64_t s = 0;
  for (size_t i = 0; i < n; ++i) s += int64_t(a[i]) * b[i];
  return s;
}

int64_t reference_dot_i8_i16(const int8_t* code, const int16_t* query, size_t n) {
  int64_t s = 0;
  for (size_t i = 0; i < n; ++i) s += int64_t(code[i]) * query[i];
  return s;
}

// What l2_i8_i16 promises, spelled out: sum (q - k c)^2 - |q|^2.
int64_t reference_l2_i8_i16(const int8_t* code, const int16_t* query, size_t n, int32_t k) {
  int64_t s = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t d = int64_t(query[i]) - int64_t(k) * code[i];
    s += d * d - int64_t(query[i]) * query[i];
  }
  return s;
}

std::vector<int8_t> random_codes(size_t n, uint64_t seed) {
  const testing::Matrix m = testing::random_matrix(1, n, seed, -127.49f, 127.49f);
  std::vector<int8_t> codes(n);
  for (size_t i = 0; i < n; ++i) codes[i] = int8_t(std::lround(m.values[i]));
  return codes;
}

// An int16 query as encode_query makes them for `dim`: within +-127 query_fineness(dim).
std::vector<int16_t> random_query(size_t n, size_t dim, uint64_t seed) {
  const float most = 127.0f * float(query_fineness(dim));
  const testing::Matrix m = testing::random_matrix(1, n, seed, -most - 0.49f, most + 0.49f);
  std::vector<int16_t> query(n);
  for (size_t i = 0; i < n; ++i) query[i] = int16_t(std::lround(m.values[i]));
  return query;
}

// Float kernels reorder sums, so they match the double reference to a
// relative tolerance scaled by the sum of magnitudes.
void expect_close(double got, double want, double magnitude) {
  EXPECT_NEAR(got, want, 1e-5 * magnitude + 1e-6);
}

TEST(Distance, ScalarFloatKernelsMatchReference) {
  for (size_t dim : kDims) {
    SCOPED_TRACE(dim);
    const testing::Matrix m = testing::random_matrix(2, dim, 1000 + dim);
    const float* a = m.row(0);
    const float* b = m.row(1);
    expect_close(scalar::l2_sq_f32(a, b, dim), reference_l2(a, b, dim), reference_l2(a, b, dim));
    expect_close(scalar::dot_f32(a, b, dim), reference_dot(a, b, dim), double(dim));
  }
}

TEST(Distance, ScalarCodeKernelsAreExact) {
  for (size_t dim : kDims) {
    SCOPED_TRACE(dim);
    const std::vector<int8_t> a = random_codes(dim, 7 + dim), b = random_codes(dim, 9000 + dim);
    EXPECT_EQ(scalar::l2_sq_i8(a.data(), b.data(), dim), reference_l2_i8(a.data(), b.data(), dim));
    EXPECT_EQ(scalar::dot_i8(a.data(), b.data(), dim), reference_dot_i8(a.data(), b.data(), dim));
  }
}

TEST(Distance, CodeKernelsAtExtremesDoNotOverflow) {
  // The largest dimension the index accepts, every component at opposite extremes.
  const size_t dim = 16384;
  const std::vector<int8_t> hi(dim, 127), lo(dim, -127);
  const Kernels l2 = select_kernels(Metric::l2), dot = select_kernels(Metric::inner_product);
  EXPECT_EQ(l2.code_kernel(hi.data(), lo.data(), dim), int64_t(dim) * 254 * 254);
  EXPECT_EQ(dot.code_kernel(hi.data(), lo.data(), dim), -int64_t(dim) * 127 * 127);
  EXPECT_EQ(dot.code_kernel(hi.data(), hi.data(), dim), int64_t(dim) * 127 * 127);
}

TEST(Distance, ScalarQueryKernelIsExact) {
  for (size_t dim : kDims) {
    SCOPED_TRACE(dim);
    const std::vector<int8_t> code = random_codes(dim, 13 + dim);
    const std::vector<int16_t> query = random_query(dim, dim, 17 + dim);
    EXPECT_EQ(scalar::dot_i8_i16(code.data(), query.data(), dim), reference_dot_i8_i16(code.data(), query.data(), dim));
    const int32_t k = query_fineness(dim);
    EXPECT_EQ(scalar::l2_i8_i16(code.data(), query.data(), dim, k), reference_l2_i8_i16(code.data(), query.data(), dim, k));
  }
}

// The query scale keeps |sum code * query| <= 2^31 - 1 at every dimension the
// index accepts; at the largest, every component at the extremes (same sign
// and opposite) is the largest sum there is, and it is exact.
TEST(Distance, QueryKernelAtExtremesDoesNotOverflow) {
  EXPECT_EQ(query_fineness(1), 258);  // the int16 limit: 127 * 258 = 32766
  EXPECT_EQ(query_fineness(512), 258);
  EXPECT_EQ(query_fineness(784), 169);
  const size_t dim = 16384;  // kMaxDim
  EXPECT_EQ(query_fineness(dim), 8);
  for (size_t d : {size_t(1), size_t(100), size_t(513), size_t(784), size_t(4096), dim}) {
    const int64_t most = 127 * int64_t(query_fineness(d));
    EXPECT_LE(most, 32767) << d;
    EXPECT_LE(int64_t(d) * 127 * most, int64_t(std::numeric_limits<int32_t>::max())) << d;
    const int64_t finer = most + 127;  // one level finer
    EXPECT_TRUE(finer > 32767 || int64_t(d) * 127 * finer > int64_t(std::numeric_limits<int32_t>::max()))
        << d << ": the finest query that fits";
  }
  const int16_t most = int16_t(127 * query_fineness(dim));
  const std::vector<int8_t> hi(dim, 127), lo(dim, -127);
  const std::vector<int16_t> qhi(dim, most), qlo(dim, int16_t(-most));
  const int64_t extreme = int64_t(dim) * 127 * most;
  EXPECT_EQ(extreme, 2114060288);
  const int32_t fineness = query_fineness(dim);
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    const Kernels k = select_kernels(metric);
    EXPECT_EQ(k.query_dot(hi.data(), qhi.data(), dim), extreme);
    EXPECT_EQ(k.query_dot(lo.data(), qlo.data(), dim), extreme);
    EXPECT_EQ(k.query_dot(hi.data(), qlo.data(), dim), -extreme);
    EXPECT_EQ(k.query_dot(lo.data(), qhi.data(), dim), -extreme);
    // The farthest a query can be from a code: every component at opposite extremes.
    EXPECT_EQ(k.query_l2(hi.data(), qlo.data(), dim, fineness), reference_l2_i8_i16(hi.data(), qlo.data(), dim, fineness));
    EXPECT_EQ(k.query_l2(hi.data(), qhi.data(), dim, fineness), reference_l2_i8_i16(hi.data(), qhi.data(), dim, fineness));
  }
  EXPECT_EQ(scalar::dot_i8_i16(hi.data(), qhi.data(), dim), extreme);
  EXPECT_EQ(scalar::dot_i8_i16(hi.data(), qlo.data(), dim), -extreme);
  EXPECT_EQ(scalar::l2_i8_i16(hi.data(), qlo.data(), dim, fineness) + int64_t(dim) * most * most,
            int64_t(dim) * (2 * int64_t(most)) * (2 * int64_t(most)));
}

TEST(Distance, EdgeValues) {
  const Kernels k = select_kernels(Metric::l2);
  const std::vector<float> zero(17, 0.0f), tiny(17, std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(k.float_kernel(zero.data(), zero.data(), 17), 0.0f);
  EXPECT_EQ(k.float_kernel(tiny.data(), tiny.data(), 17), 0.0f);
  const std::vector<float> big(16, 1e20f);
  EXPECT_TRUE(std::isinf(k.float_kernel(big.data(), zero.data(), 16)));  // overflow is visible, not wrapped
}

TEST(Distance, SelectedKernelsMatchScalar) {
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    const Kernels k = select_kernels(metric);
    for (size_t dim : kDims) {
      SCOPED_TRACE(dim);
      const testing::Matrix m = testing::random_matrix(2, dim, 77 + dim, -3, 3);
      const std::vector<int8_t> a = random_codes(dim, 5 * dim), b = random_codes(dim, 11 * dim + 1);
      const bool is_l2 = metric == Metric::l2;
      const double want = is_l2 ? reference_l2(m.row(0), m.row(1), dim) : reference_dot(m.row(0), m.row(1), dim);
      expect_close(k.float_kernel(m.row(0), m.row(1), dim), want, is_l2 ? want : 9.0 * dim);
      EXPECT_EQ(k.code_kernel(a.data(), b.data(), dim),
                is_l2 ? reference_l2_i8(a.data(), b.data(), dim) : reference_dot_i8(a.data(), b.data(), dim));
      const std::vector<int16_t> q = random_query(dim, dim, 3 * dim + 5);
      EXPECT_EQ(k.query_dot(a.data(), q.data(), dim), reference_dot_i8_i16(a.data(), q.data(), dim));
      EXPECT_EQ(k.query_l2(a.data(), q.data(), dim, query_fineness(dim)),
                reference_l2_i8_i16(a.data(), q.data(), dim, query_fineness(dim)));
    }
  }
}

#ifdef __wasm_simd128__
TEST(Distance, SimdMatchesScalarOnRandomAndUnalignedInputs) {
  ASSERT_TRUE(simd_enabled());
  for (size_t dim : kDims) {
    for (size_t shift : {0, 1, 3}) {  // unaligned starts exercise v128 loads off 16-byte boundaries
      SCOPED_TRACE(::testing::Message() << "dim " << dim << " shift " << shift);
      const testing::Matrix m = testing::random_matrix(2, dim + shift, 31 * dim + shift, -10, 10);
      const float* a = m.row(0) + shift;
      const float* b = m.row(1) + shift;
      const double l2 = scalar::l2_sq_f32(a, b, dim);
      expect_close(simd::l2_sq_f32(a, b, dim), l2, l2);
      expect_close(simd::dot_f32(a, b, dim), scalar::dot_f32(a, b, dim), 100.0 * dim);
      const std::vector<int8_t> ca = random_codes(dim + shift, dim), cb = random_codes(dim + shift, dim + 99);
      EXPECT_EQ(simd::l2_sq_i8(ca.data() + shift, cb.data() + shift, dim),
                scalar::l2_sq_i8(ca.data() + shift, cb.data() + shift, dim));
      EXPECT_EQ(simd::dot_i8(ca.data() + shift, cb.data() + shift, dim),
                scalar::dot_i8(ca.data() + shift, cb.data() + shift, dim));
      const std::vector<int16_t> q = random_query(dim + shift, dim, 7 * dim + shift);
      EXPECT_EQ(simd::dot_i8_i16(ca.data() + shift, q.data() + shift, dim),
                scalar::dot_i8_i16(ca.data() + shift, q.data() + shift, dim));
      EXPECT_EQ(simd::dot_i8_i16(ca.data() + shift, q.data() + shift, dim),
                reference_dot_i8_i16(ca.data() + shift, q.data() + shift, dim));
      const int32_t k = query_fineness(dim);
      EXPECT_EQ(simd::l2_i8_i16(ca.data() + shift, q.data() + shift, dim, k),
                reference_l2_i8_i16(ca.data() + shift, q.data() + shift, dim, k));
    }
  }
}

TEST(Distance, SimdMatchesScalarAtCodeExtremes) {
  for (size_t dim : kDims) {
    SCOPED_TRACE(dim);
    std::vector<int8_t> a(dim), b(dim);
    for (size_t i = 0; i < dim; ++i) {
      a[i] = (i % 2) ? 127 : -127;
      b[i] = (i % 3) ? -127 : 127;
    }
    EXPECT_EQ(simd::l2_sq_i8(a.data(), b.data(), dim), scalar::l2_sq_i8(a.data(), b.data(), dim));
    EXPECT_EQ(simd::dot_i8(a.data(), b.data(), dim), scalar::dot_i8(a.data(), b.data(), dim));
    const int16_t most = int16_t(127 * query_fineness(dim));
    std::vector<int16_t> q(dim);
    for (size_t i = 0; i < dim; ++i) q[i] = (i % 5) ? most : int16_t(-most);
    EXPECT_EQ(simd::dot_i8_i16(a.data(), q.data(), dim), scalar::dot_i8_i16(a.data(), q.data(), dim));
    EXPECT_EQ(simd::dot_i8_i16(a.data(), q.data(), dim), reference_dot_i8_i16(a.data(), q.data(), dim));
    EXPECT_EQ(simd::l2_i8_i16(a.data(), q.data(), dim, query_fineness(dim)),
              reference_l2_i8_i16(a.data(), q.data(), dim, query_fineness(dim)));
  }
}
#endif

// Which kernels the core library was compiled with, checked against what the
// build says this test binary is for (TABVEC_EXPECT_SIMD, set per binary by
// CMake): a SIMD binary linked to a scalar core, or the reverse, fails here.
TEST(Distance, KernelsAreTheOnesThisBuildIsFor) {
  EXPECT_EQ(simd_enabled(), bool(TABVEC_EXPECT_SIMD));
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    const Kernels k = select_kernels(metric);
    const bool l2 = metric == Metric::l2;
#ifdef __wasm_simd128__
    if (TABVEC_EXPECT_SIMD) {
      EXPECT_EQ(k.float_kernel, l2 ? &simd::l2_sq_f32 : &simd::dot_f32);
      EXPECT_EQ(k.code_kernel, l2 ? &simd::l2_sq_i8 : &simd::dot_i8);
      EXPECT_EQ(k.query_dot, &simd::dot_i8_i16);
      EXPECT_EQ(k.query_l2, &simd::l2_i8_i16);
      continue;
    }
#endif
    EXPECT_EQ(k.float_kernel, l2 ? &scalar::l2_sq_f32 : &scalar::dot_f32);
    EXPECT_EQ(k.code_kernel, l2 ? &scalar::l2_sq_i8 : &scalar::dot_i8);
    EXPECT_EQ(k.query_dot, &scalar::dot_i8_i16);
    EXPECT_EQ(k.query_l2, &scalar::l2_i8_i16);
  }
}

}  // namespace
}  // namespace tabvec
