// The re-ranking tier (IndexOptions::rerank): exact vectors beside the int8
// codes, half precision, exact answers for small stores and re-scored ones
// for large stores.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "index.h"
#include "snapshot_crc.h"
#include "test_data.h"

namespace tabvec {
namespace {

uint16_t half_of(float x) {
  uint16_t h;
  encode_float16(&x, 1, &h);
  return h;
}

float decoded(uint16_t h) {
  float x;
  decode_float16(&h, 1, &x);
  return x;
}

TEST(Float16, EveryFiniteHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t half = uint16_t(h);
    const bool finite = (h & 0x7C00) != 0x7C00;
    EXPECT_EQ(float16_finite(&half, 1), finite) << h;
    if (!finite) continue;
    const float x = decoded(half);
    ASSERT_TRUE(std::isfinite(x)) << h;
    ASSERT_EQ(half_of(x), half) << h << " decodes to " << x;
  }
  // Decoding against the definition: (-1)^s 2^(e-15) (1 + m/1024), or 2^-24 m when e = 0.
  for (uint32_t h : {0x0001u, 0x03FFu, 0x0400u, 0x3C00u, 0x3C01u, 0x7BFFu, 0xC000u, 0x8001u}) {
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    const double magnitude = e == 0 ? std::ldexp(double(m), -24) : std::ldexp(1.0 + m / 1024.0, int(e) - 15);
    EXPECT_EQ(double(decoded(uint16_t(h))), h & 0x8000 ? -magnitude : magnitude) << h;
  }
}

TEST(Float16, RoundsToNearestEven) {
  // Halfway between 1 and the next half (1 + 2^-10) goes to 1; between that and 1 + 2^-9, up.
  EXPECT_EQ(half_of(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(half_of(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(half_of(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // Subnormal halves count units of 2^-24, with the same rule.
  EXPECT_EQ(half_of(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(half_of(3 * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(half_of(-std::ldexp(1.0f, -24)), 0x8001);
  EXPECT_EQ(half_of(-0.0f), 0x8000);
  // A mantissa carry moves into the exponent; the largest half stays finite.
  EXPECT_EQ(half_of(std::nextafter(2.0f, 0.0f)), 0x4000);
  EXPECT_EQ(half_of(65504.0f), 0x7BFF);
  EXPECT_EQ(half_of(65519.0f), 0x7BFF);
  // Every float rounds to a half within half a unit in the last place.
  testing::Matrix m = testing::random_matrix(1, 20000, 7, -70000, 70000);
  for (float x : m.values) {
    if (std::fabs(x) > kMaxFloat16) continue;
    for (float scale : {1.0f, 1e-3f, 1e-6f}) {
      const float v = x * scale;
      const float back = decoded(half_of(v));
      const float ulp = std::max(std::ldexp(1.0f, -24), std::ldexp(1.0f, std::ilogb(v) - 10));
      EXPECT_LE(std::fabs(back - v), ulp / 2) << v;
    }
  }
}

IndexOptions tier(uint32_t dim, Metric metric, Rerank rerank) {
  IndexOptions o;
  o.dim = dim;
  o.metric = metric;
  o.rerank = rerank;
  return o;
}

std::unique_ptr<Index> build(const IndexOptions& o, const testing::Matrix& base) {
  std::unique_ptr<Index> ix;
  EXPECT_TRUE(Index::create(o, &ix).ok());
  for (size_t i = 0; i < base.rows; ++i) {
    const Result r = ix->add("v" + std::to_string(i), base.row(i), base.dim);
    EXPECT_TRUE(r.ok()) << r.message;
  }
  ix->link_pending();
  return ix;
}

// The distance of the store's metric, in double, between a query and a
// vector as the store keeps it (under cosine, of unit length already).
double exact(Metric metric, const float* q, const float* v, size_t dim) {
  double dot = 0, qq = 0, l2 = 0;
  for (size_t i = 0; i < dim; ++i) {
    dot += double(q[i]) * v[i];
    qq += double(q[i]) * q[i];
    l2 += (double(q[i]) - v[i]) * (double(q[i]) - v[i]);
  }
  if (metric == Metric::l2) return l2;
  if (metric == Metric::inner_product) return -dot;
  return 1 - dot / std::sqrt(qq);
}

// Brute force over what the store keeps (get_vector: the tier's vectors).
std::vector<std::pair<double, std::string>> truth(Index& ix, const testing::Matrix& base, const float* q, size_t k) {
  std::vector<std::pair<double, std::string>> all;
  std::vector<float> v(base.dim);
  for (size_t i = 0; i < base.rows; ++i) {
    const std::string id = "v" + std::to_string(i);
    if (!ix.contains(id)) continue;
    EXPECT_TRUE(ix.get_vector(id, v.data(), v.size()).ok());
    all.emplace_back(exact(ix.options().metric, q, v.data(), base.dim), id);
  }
  std::sort(all.begin(), all.end());
  all.resize(std::min(k, all.size()));
  return all;
}

TEST(Rerank, SmallStoresAnswerExactlyForEveryMetric) {
  const testing::Matrix base = testing::clustered_matrix(500, 24, 12, 5);
  const testing::Matrix queries = testing::clustered_matrix(30, 24, 12, 5, 1);
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    for (Rerank rerank : {Rerank::float16, Rerank::float32}) {
      SCOPED_TRACE(std::string(metric_name(metric)) + " " + rerank_name(rerank));
      auto ix = build(tier(24, metric, rerank), base);
      ASSERT_LE(base.rows, kExactScanSlots);
      for (size_t q = 0; q < queries.rows; ++q) {
        SearchParams p;
        p.k = 10;
        SearchHits hits;
        ASSERT_TRUE(ix->search(queries.row(q), 24, p, &hits).ok());
        const auto want = truth(*ix, base, queries.row(q), 10);
        ASSERT_EQ(hits.size(), want.size());
        for (size_t i = 0; i < hits.size(); ++i) {
          EXPECT_EQ(std::string(ix->id_of(hits[i].slot)), want[i].second) << "query " << q << " rank " << i;
          EXPECT_NEAR(hits[i].distance, want[i].first, 1e-4 * std::max(1.0, std::fabs(want[i].first)));
        }
      }
    }
  }
}

// Past kExactScanSlots the walk runs on the codes; what it returns carries
// exact distances, and recall beats the codes alone.
TEST(Rerank, LargeStoresReturnExactDistancesAndBetterRecall) {
  const size_t n = 6000, dim = 48;
  const testing::Matrix base = testing::clustered_matrix(n, dim, 40, 9);
  const testing::Matrix queries = testing::clustered_matrix(60, dim, 40, 9, 1);
  for (Metric metric : {Metric::l2, Metric::cosine}) {
    SCOPED_TRACE(metric_name(metric));
    auto codes = build(tier(dim, metric, Rerank::none), base);
    auto reranked = build(tier(dim, metric, Rerank::float32), base);
    double hit_codes = 0, hit_reranked = 0;
    for (size_t q = 0; q < queries.rows; ++q) {
      const auto want = truth(*reranked, base, queries.row(q), 10);
      auto count = [&](Index& ix) {
        SearchParams p;
        p.k = 10;
        SearchHits hits;
        EXPECT_TRUE(ix.search(queries.row(q), dim, p, &hits).ok());
        size_t found = 0;
        std::vector<float> v(dim);
        for (const Neighbor& h : hits) {
          const std::string id(ix.id_of(h.slot));
          for (const auto& w : want) found += w.second == id;
          if (&ix != reranked.get()) continue;
          EXPECT_TRUE(ix.get_vector(id, v.data(), dim).ok());
          const double d = exact(metric, queries.row(q), v.data(), dim);
          EXPECT_NEAR(h.distance, d, 1e-4 * std::max(1.0, std::fabs(d))) << id;
        }
        return double(found) / want.size();
      };
      hit_codes += count(*codes);
      hit_reranked += count(*reranked);
    }
    std::printf("[ rerank  ] %s %zux%zu: recall@10 codes %.4f, re-ranked x2 %.4f\n", metric_name(metric), n, dim,
                hit_codes / queries.rows, hit_reranked / queries.rows);
    EXPECT_GE(hit_reranked, hit_codes);
    EXPECT_GE(hit_reranked / queries.rows, 0.97);
  }
}

TEST(Rerank, OptionsAreChecked) {
  std::unique_ptr<Index> ix;
  IndexOptions o = tier(8, Metric::l2, Rerank::float32);
  o.storage = Storage::float32;
  EXPECT_EQ(Index::create(o, &ix).status, Status::invalid_argument);
  o = tier(8, Metric::l2, Rerank(kRerankCount));
  EXPECT_EQ(Index::create(o, &ix).status, Status::invalid_argument);
  ASSERT_TRUE(Index::create(tier(8, Metric::l2, Rerank::float16), &ix).ok());
  const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(ix->add("a", v, 8).ok());
  for (uint32_t factor : {0u, kMaxRerankFactor + 1}) {
    SearchParams p;
    p.rerank_factor = factor;
    SearchHits hits;
    const Result r = ix->search(v, 8, p, &hits);
    EXPECT_EQ(r.status, Status::invalid_argument) << factor;
    EXPECT_NE(r.message.find("rerankFactor"), std::string::npos) << r.message;
  }
}

// float16 cannot hold what float32 can: such a vector is refused, and the
// store is left as it was.
TEST(Rerank, Float16RefusesComponentsBeyondItsRange) {
  for (Metric metric : {Metric::l2, Metric::inner_product}) {
    std::unique_ptr<Index> ix;
    ASSERT_TRUE(Index::create(tier(4, metric, Rerank::float16), &ix).ok());
    const float fine[4] = {65504, -65504, 1, 0};
    ASSERT_TRUE(ix->add("fine", fine, 4).ok());
    const std::vector<uint8_t> before = testing::snapshot(*ix);
    const float big[4] = {1, 2, -70000, 4};
    Result r = ix->add("big", big, 4);
    EXPECT_EQ(r.status, Status::invalid_argument);
    EXPECT_NE(r.message.find("component 2 is beyond the +-65504"), std::string::npos) << r.message;
    EXPECT_EQ(ix->upsert("fine", big, 4).status, Status::invalid_argument);
    const std::string_view ids[2] = {"x", "y"};
    const float pair[8] = {1, 1, 1, 1, 1, 1, 1, 70000};
    r = ix->add_batch(2, ids, pair, 8, nullptr);
    EXPECT_EQ(r.status, Status::invalid_argument);
    EXPECT_NE(r.message.find("item 1"), std::string::npos) << r.message;
    EXPECT_EQ(testing::snapshot(*ix), before);
    float out[4];
    ASSERT_TRUE(ix->get_vector("fine", out, 4).ok());
    EXPECT_EQ(std::vector<float>(out, out + 4), std::vector<float>(fine, fine + 4));
  }
  // Under cosine the tier keeps unit vectors: any length is fine.
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(tier(4, Metric::cosine, Rerank::float16), &ix).ok());
  const float big[4] = {1e18f, 2, -7e17f, 4};
  EXPECT_TRUE(ix->add("big", big, 4).ok());
}

// The tier's bytes are a component of their own, kept in step with the slots.
TEST(Rerank, MemoryIsAccountedAndGivenBack) {
  const testing::Matrix base = testing::random_matrix(3000, 32, 3);
  for (Rerank rerank : {Rerank::none, Rerank::float16, Rerank::float32}) {
    SCOPED_TRACE(rerank_name(rerank));
    auto ix = build(tier(32, Metric::l2, rerank), base);
    const size_t per_slot = rerank == Rerank::none ? 0 : rerank == Rerank::float16 ? 64 : 128;
    const MemoryStats m = ix->memory();
    EXPECT_EQ(m.rerank.used, 3000 * per_slot);
    EXPECT_GE(m.rerank.reserved, m.rerank.used);
    EXPECT_LE(m.rerank.reserved, m.rerank.used + 256 * 1024);
    EXPECT_EQ(m.total_reserved(), m.vectors.reserved + m.rerank.reserved + m.graph.reserved + m.ids.reserved +
                                      m.metadata.reserved + m.buffer.reserved + m.other.reserved);
    // Nothing is reserved before the first vector.
    std::unique_ptr<Index> empty;
    ASSERT_TRUE(Index::create(tier(32, Metric::l2, rerank), &empty).ok());
    EXPECT_EQ(empty->memory().rerank.reserved, 0u);
  }
}

// Upsert, delete, consolidate and a snapshot keep the tier in step with the
// codes: every live id still finds itself first, with distance 0.
TEST(Rerank, TierFollowsEveryChange) {
  const size_t n = 2500, dim = 16;
  const testing::Matrix base = testing::random_matrix(n, dim, 21);
  const testing::Matrix moved = testing::random_matrix(n, dim, 22);
  auto ix = build(tier(dim, Metric::l2, Rerank::float32), base);
  for (size_t i = 0; i < n; i += 3) ASSERT_TRUE(ix->remove("v" + std::to_string(i)).ok());
  for (size_t i = 1; i < n; i += 3) ASSERT_TRUE(ix->upsert("v" + std::to_string(i), moved.row(i), dim).ok());
  ASSERT_TRUE(ix->consolidate().ok());
  for (size_t i = 0; i < n; i += 3) ASSERT_TRUE(ix->add("v" + std::to_string(i), moved.row(i), dim).ok());
  ix->link_pending();
  const std::vector<uint8_t> bytes = testing::snapshot(*ix);
  std::unique_ptr<Index> copy;
  ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 0, &copy).ok());
  for (Index* x : {ix.get(), copy.get()}) {
    for (size_t i = 0; i < n; ++i) {
      const float* v = i % 3 == 2 ? base.row(i) : moved.row(i);
      SearchParams p;
      p.k = 1;
      SearchHits hits;
      ASSERT_TRUE(x->search(v, dim, p, &hits).ok());
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(std::string(x->id_of(hits[0].slot)), "v" + std::to_string(i));
      EXPECT_EQ(hits[0].distance, 0.0f);
    }
  }
}

// Damage in the tier's section is found on load.
TEST(Rerank, DamagedTierRecordsAreRejected) {
  const testing::Matrix base = testing::random_matrix(50, 8, 2);
  for (Rerank rerank : {Rerank::float16, Rerank::float32}) {
    auto ix = build(tier(8, Metric::l2, rerank), base);
    std::vector<uint8_t> bytes = testing::snapshot(*ix);
    // The tier's section follows the states and the codes.
    const size_t at = sizeof(SnapshotHeader) + 50 + 50 * 8;
    if (rerank == Rerank::float16) {
      bytes[at + 1] = 0x7C;  // an infinite half
      bytes[at] = 0;
    } else {
      const float nan = std::nanf("");
      std::memcpy(&bytes[at], &nan, 4);
    }
    testing::reseal(bytes);
    std::unique_ptr<Index> out;
    const Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &out);
    EXPECT_EQ(r.status, Status::corrupt_snapshot) << rerank_name(rerank);
    EXPECT_NE(r.message.find("not finite"), std::string::npos) << r.message;
  }
}

}  // namespace
}  // namespace tabvec

namespace tabvec {
namespace {

// Staged vectors enter the tier when the quantizer trains: a snapshot whose
// staged floats float16 cannot hold is refused on load (found by review: it
// loaded, then encoded 70000 as a NaN half and wrote a snapshot it refused).
TEST(Rerank, StagedVectorsBeyondFloat16AreRefusedOnLoad) {
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    SCOPED_TRACE(metric_name(metric));
    std::unique_ptr<Index> ix;
    ASSERT_TRUE(Index::create(tier(4, metric, Rerank::float16), &ix).ok());
    const float a[4] = {1, 2, 3, 4}, b[4] = {4, 3, 2, 1};
    ASSERT_TRUE(ix->add("a", a, 4).ok());
    ASSERT_TRUE(ix->add("b", b, 4).ok());
    std::vector<uint8_t> bytes = testing::snapshot(*ix);
    // The header, 2 states, no codes and no tier rows yet, then the staged section: u32 slot, 4 floats.
    const size_t at = sizeof(SnapshotHeader) + 2 + 4;
    const float big = 70000.0f;
    std::memcpy(&bytes[at], &big, 4);
    testing::reseal(bytes);
    std::unique_ptr<Index> loaded;
    const Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &loaded);
    EXPECT_EQ(r.status, Status::corrupt_snapshot) << r.message;
    EXPECT_EQ(loaded, nullptr);
  }
  // The encoder itself saturates rather than make an infinity or flip the sign.
  for (float x : {65520.0f, 70000.0f, 3e5f, 1e30f}) {
    EXPECT_EQ(half_of(x), 0x7BFF) << x;
    EXPECT_EQ(half_of(-x), 0xFBFF) << x;
  }
}

}  // namespace
}  // namespace tabvec
