#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "quantizer.h"
#include "test_data.h"

namespace tabvec {
namespace {

QuantizerRange range_of(const std::vector<float>& v) {
  QuantizerRange r;
  extend_range(r, v.data(), v.size());
  return r;
}

TEST(Quantizer, RoundTripIsWithinHalfAStepInsideTheRange) {
  const testing::Matrix m = testing::random_matrix(1, 4096, 3, -2.5f, 7.0f);
  const std::vector<float> v(m.values.begin(), m.values.end());
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    ScalarQuantizer q;
    EXPECT_FALSE(q.trained());
    q.train(metric, range_of(v));
    ASSERT_TRUE(q.trained());
    // The trained range covers the data with headroom.
    EXPECT_LT(q.range().lo, -2.5f);
    EXPECT_GT(q.range().hi, 7.0f);
    std::vector<int8_t> code(v.size());
    std::vector<float> back(v.size());
    q.encode(v.data(), v.size(), code.data());
    q.decode(code.data(), code.size(), back.data());
    for (size_t i = 0; i < v.size(); ++i) {
      ASSERT_LE(std::fabs(back[i] - v[i]), 0.5f * q.step() * 1.0001f) << "metric " << int(metric) << " at " << i;
      ASSERT_GE(code[i], -ScalarQuantizer::kMaxCode);
    }
  }
}

TEST(Quantizer, DotProductMetricsKeepOffsetZero) {
  // Products of codes are products of values only with offset 0.
  for (Metric metric : {Metric::inner_product, Metric::cosine}) {
    ScalarQuantizer q;
    q.train(metric, QuantizerRange{3.0f, 5.0f});
    EXPECT_EQ(q.offset(), 0.0f);
    EXPECT_GE(q.range().hi, 5.0f);
    EXPECT_LE(q.range().lo, -5.0f);
  }
}

TEST(Quantizer, ValuesOutsideTheRangeClampToTheEdgeCodes) {
  ScalarQuantizer q;
  q.train(Metric::l2, QuantizerRange{0.0f, 1.0f});
  const float v[3] = {-100.0f, 0.5f, 100.0f};
  int8_t code[3];
  q.encode(v, 3, code);
  EXPECT_EQ(code[0], -ScalarQuantizer::kMaxCode);  // never -128: |code| stays within 127
  EXPECT_EQ(code[2], ScalarQuantizer::kMaxCode);
}

TEST(Quantizer, ConstantDataStillGetsAUsableStep) {
  ScalarQuantizer q;
  q.train(Metric::l2, QuantizerRange{2.0f, 2.0f});
  ASSERT_TRUE(q.trained());
  const float v = 2.0f;
  int8_t code;
  float back;
  q.encode(&v, 1, &code);
  q.decode(&code, 1, &back);
  EXPECT_FLOAT_EQ(back, 2.0f);
}

TEST(Quantizer, RestoreAcceptsTrainedParametersOnly) {
  ScalarQuantizer trained;
  trained.train(Metric::l2, QuantizerRange{-1.0f, 3.0f});
  ScalarQuantizer q;
  EXPECT_TRUE(q.restore(trained.offset(), trained.step()));
  EXPECT_EQ(q.offset(), trained.offset());
  EXPECT_EQ(q.step(), trained.step());
  const float inf = std::numeric_limits<float>::infinity();
  for (auto [offset, step] : std::vector<std::pair<float, float>>{
           {0.0f, 0.0f}, {0.0f, -0.01f}, {0.0f, 1e-40f}, {std::nanf(""), 0.1f}, {inf, 0.1f}, {3e38f, 0.1f}, {0.0f, 1e30f}}) {
    ScalarQuantizer r;
    EXPECT_FALSE(r.restore(offset, step)) << offset << " " << step;
    EXPECT_FALSE(r.trained());
  }
}

}  // namespace
}  // namespace tabvec
