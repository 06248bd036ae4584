#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "snapshot_crc.h"
#include "test_data.h"

namespace tabvec {
namespace {

std::unique_ptr<Index> make_index(IndexOptions o) {
  std::unique_ptr<Index> ix;
  const Result r = Index::create(o, &ix);
  EXPECT_TRUE(r.ok()) << r.message;
  return ix;
}

IndexOptions opts(uint32_t dim, Metric metric = Metric::l2, Storage storage = Storage::int8) {
  IndexOptions o;
  o.dim = dim;
  o.metric = metric;
  o.storage = storage;
  return o;
}

using testing::snapshot;

void add_rows(Index& ix, const testing::Matrix& m, size_t from = 0, size_t to = SIZE_MAX, const std::string& prefix = "v") {
  for (size_t i = from; i < std::min(to, m.rows); ++i) {
    const Result r = ix.add(prefix + std::to_string(i), m.row(i), m.dim);
    ASSERT_TRUE(r.ok()) << r.message;
  }
}

std::vector<std::string> search_ids(Index& ix, const float* q, size_t dim, uint32_t k, SearchFilter filter = {}) {
  SearchParams p;
  p.k = k;
  p.filter = filter;
  SearchHits hits;
  const Result r = ix.search(q, dim, p, &hits);
  EXPECT_TRUE(r.ok()) << r.message;
  std::vector<std::string> ids;
  for (const Neighbor& h : hits) ids.emplace_back(ix.id_of(h.slot));
  return ids;
}

TEST(Index, CreateRejectsBadOptions) {
  std::unique_ptr<Index> ix;
  IndexOptions o = opts(0);
  EXPECT_EQ(Index::create(o, &ix).status, Status::invalid_argument);
  o = opts(kMaxDim + 1);
  EXPECT_EQ(Index::create(o, &ix).status, Status::invalid_argument);
  o = opts(8);
  o.max_degree = 1;
  EXPECT_EQ(Index::create(o, &ix).status, Status::invalid_argument);
  o = opts(8);
  o.alpha = std::numeric_limits<float>::quiet_NaN();
  const Result r = Index::create(o, &ix);
  EXPECT_EQ(r.status, Status::invalid_argument);
  EXPECT_NE(r.message.find("alpha"), std::string::npos) << r.message;
  EXPECT_EQ(ix, nullptr);
}

TEST(Index, EmptyIndexReservesAlmostNothing) {
  for (uint32_t dim : {8u, 384u, 1536u}) {
    auto ix = make_index(opts(dim));
    EXPECT_LE(ix->memory().total_reserved(), 64u * 1024) << dim;
    EXPECT_EQ(ix->memory().graph.reserved, 0u);
  }
}

TEST(Index, TinyStoreSearchesExactlyWithoutAGraph) {
  auto ix = make_index(opts(4));
  const float v[5][4] = {{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0}, {3, 0, 0, 0}, {10, 10, 10, 10}};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ix->add("p" + std::to_string(i), v[i], 4).ok());
  EXPECT_EQ(ix->size(), 5u);
  EXPECT_EQ(ix->memory().graph.reserved, 0u);
  const float q[4] = {2.2f, 0, 0, 0};
  EXPECT_EQ(search_ids(*ix, q, 4, 3), (std::vector<std::string>{"p2", "p3", "p1"}));
  // A store of a handful of vectors costs a few KiB, not megabytes.
  EXPECT_LE(ix->memory().total_reserved(), 16u * 1024);
}

TEST(Index, FailedCallsChangeNothing) {
  for (Metric metric : {Metric::l2, Metric::cosine}) {
    auto ix = make_index(opts(8, metric));
    const testing::Matrix m = testing::random_matrix(300, 8, 5);
    add_rows(*ix, m);
    const std::vector<uint8_t> before = snapshot(*ix);
    std::vector<float> v(m.row(0), m.row(0) + 8);

    EXPECT_EQ(ix->add("new", v.data(), 7).status, Status::dimension_mismatch);
    v[3] = std::numeric_limits<float>::quiet_NaN();
    Result r = ix->add("new", v.data(), 8);
    EXPECT_EQ(r.status, Status::non_finite_value);
    EXPECT_NE(r.message.find("component 3 is NaN"), std::string::npos) << r.message;
    v[3] = -std::numeric_limits<float>::infinity();
    EXPECT_EQ(ix->add("new", v.data(), 8).status, Status::non_finite_value);
    v[3] = 0;
    EXPECT_EQ(ix->add("v7", v.data(), 8).status, Status::duplicate_id);
    EXPECT_EQ(ix->add("", v.data(), 8).status, Status::invalid_argument);
    EXPECT_EQ(ix->remove("nope").status, Status::unknown_id);
    EXPECT_EQ(ix->set_metadata("nope", "{}").status, Status::unknown_id);
    EXPECT_EQ(ix->upsert("v1", v.data(), 9).status, Status::dimension_mismatch);
    std::vector<float> out(8);
    EXPECT_EQ(ix->get_vector("nope", out.data(), 8).status, Status::unknown_id);

    // A batch with one bad item adds none of them.
    const testing::Matrix batch = testing::random_matrix(3, 8, 99);
    std::vector<float> flat = batch.values;
    const std::string_view ids_dup[3] = {"a", "b", "a"};
    EXPECT_EQ(ix->add_batch(3, ids_dup, flat.data(), flat.size(), nullptr).status, Status::duplicate_id);
    const std::string_view ids_ok[3] = {"a", "b", "c"};
    flat[20] = std::numeric_limits<float>::infinity();
    r = ix->add_batch(3, ids_ok, flat.data(), flat.size(), nullptr);
    EXPECT_EQ(r.status, Status::non_finite_value);
    EXPECT_NE(r.message.find("item 2"), std::string::npos) << r.message;

    if (metric == Metric::cosine) {
      const std::vector<float> zero(8, 0.0f);
      EXPECT_EQ(ix->add("z", zero.data(), 8).status, Status::zero_vector);
      SearchHits hits;
      EXPECT_EQ(ix->search(zero.data(), 8, SearchParams(), &hits).status, Status::zero_vector);
    }
    SearchParams p;
    p.k = 0;
    SearchHits hits;
    EXPECT_EQ(ix->search(m.row(0), 8, p, &hits).status, Status::invalid_argument);
    EXPECT_EQ(snapshot(*ix), before) << "a failed call modified the index";
    EXPECT_EQ(ix->size(), 300u);
  }
}

TEST(Index, StoredVectorsAreFoundAndBufferMerges) {
  for (Storage storage : {Storage::int8, Storage::float32}) {
    auto ix = make_index(opts(32, Metric::l2, storage));
    const testing::Matrix m = testing::random_matrix(2000, 32, 11);
    add_rows(*ix, m);
    EXPECT_GT(ix->memory().graph.reserved, 0u);
    EXPECT_LT(ix->pending(), 256u);
    for (size_t i = 0; i < m.rows; i += 97) {
      const auto ids = search_ids(*ix, m.row(i), 32, 1);
      ASSERT_EQ(ids.size(), 1u);
      EXPECT_EQ(ids[0], "v" + std::to_string(i));
    }
  }
}

// Under cosine a unit vector's int8 code is not of unit length (every
// component is rounded), so a code dot product is divided by both codes'
// lengths: a stored vector is at distance ~0 from itself (its code differs
// from the query's only where a retrain re-encoded it: worst 6e-5 here,
// 3e-3 without the division), before and after a snapshot (the lengths are
// derived from the codes at load, never stored).
TEST(Index, CosineCodesAreScaledByTheirLength) {
  auto ix = make_index(opts(64, Metric::cosine));
  const testing::Matrix m = testing::random_matrix(1500, 64, 21);
  add_rows(*ix, m);
  EXPECT_EQ(ix->memory().vectors.used, 1500u * (64 + 4));
  const std::vector<uint8_t> bytes = snapshot(*ix);
  std::unique_ptr<Index> loaded;
  ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 0, &loaded).ok());
  SearchParams p;
  p.k = 3;
  for (Index* index : {ix.get(), loaded.get()}) {
    for (size_t i = 0; i < m.rows; i += 101) {
      SearchHits hits;
      ASSERT_TRUE(index->search(m.row(i), 64, p, &hits).ok());
      ASSERT_EQ(hits.size(), 3u);
      EXPECT_EQ(index->id_of(hits[0].slot), "v" + std::to_string(i));
      EXPECT_NEAR(hits[0].distance, 0.0f, 2e-4f) << i;
      // The others: close to the exact cosine distance of the float vectors.
      const float* a = m.row(i);
      const float* b = m.row(std::stoul(std::string(index->id_of(hits[1].slot)).substr(1)));
      double dot = 0, na = 0, nb = 0;
      for (size_t j = 0; j < 64; ++j) dot += double(a[j]) * b[j], na += double(a[j]) * a[j], nb += double(b[j]) * b[j];
      EXPECT_NEAR(hits[1].distance, 1 - dot / std::sqrt(na * nb), 0.01) << i;
    }
  }
}

// A search query is coded as int16, query_fineness times finer than the int8
// codes on the same range: only the stored vector's rounding is left, so the
// distances a search returns are closer to the exact float distances than
// those of the same query coded as int8 (what search did before), for every
// metric. Each hit's old distance is recomputed here from its code.
TEST(Index, SearchQueryCodedFinerGivesCloserDistances) {
  const size_t dim = 64;
  const testing::Matrix m = testing::random_matrix(1000, dim, 41);
  const testing::Matrix queries = testing::random_matrix(40, dim, 43);
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    SCOPED_TRACE(metric_name(metric));
    auto ix = make_index(opts(dim, metric));
    add_rows(*ix, m);
    const ScalarQuantizer& quantizer = ix->quantizer();
    const double step = quantizer.step();
    SearchParams p;
    p.k = 10;
    p.list_size = 100;
    double error_int16 = 0, error_int8 = 0;
    size_t count = 0;
    for (size_t qi = 0; qi < queries.rows; ++qi) {
      std::vector<float> q(queries.row(qi), queries.row(qi) + dim);
      if (metric == Metric::cosine) {
        double norm = 0;
        for (float x : q) norm += double(x) * x;
        for (float& x : q) x = float(x / std::sqrt(norm));
      }
      std::vector<int8_t> q8(dim);
      quantizer.encode(q.data(), dim, q8.data());
      SearchHits hits;
      ASSERT_TRUE(ix->search(q.data(), dim, p, &hits).ok());
      ASSERT_EQ(hits.size(), 10u);
      for (const Neighbor& h : hits) {
        std::vector<float> decoded(dim);
        ASSERT_TRUE(ix->get_vector(ix->id_of(h.slot), decoded.data(), dim).ok());
        std::vector<int8_t> code(dim);
        quantizer.encode(decoded.data(), dim, code.data());
        const float* x = m.row(std::stoul(std::string(ix->id_of(h.slot)).substr(1)));
        double l2 = 0, dot = 0, xx = 0, qq = 0;
        int64_t code_l2 = 0, code_dot = 0, code_xx = 0, code_qq = 0;
        for (size_t j = 0; j < dim; ++j) {
          l2 += (double(q[j]) - x[j]) * (double(q[j]) - x[j]);
          dot += double(q[j]) * x[j], xx += double(x[j]) * x[j], qq += double(q[j]) * q[j];
          code_l2 += (int64_t(q8[j]) - code[j]) * (int64_t(q8[j]) - code[j]);
          code_dot += int64_t(q8[j]) * code[j], code_xx += int64_t(code[j]) * code[j], code_qq += int64_t(q8[j]) * q8[j];
        }
        double exact = 0, int8_query = 0;
        switch (metric) {
          case Metric::l2: exact = l2, int8_query = step * step * double(code_l2); break;
          case Metric::inner_product: exact = -dot, int8_query = -step * step * double(code_dot); break;
          case Metric::cosine:
            exact = 1 - dot / std::sqrt(xx * qq);
            int8_query = 1 - double(code_dot) / std::sqrt(double(code_xx) * double(code_qq));
            break;
        }
        error_int16 += std::abs(h.distance - exact);
        error_int8 += std::abs(int8_query - exact);
        ++count;
      }
    }
    error_int16 /= count;
    error_int8 /= count;
    std::printf("[ query   ] %s %zux%zu: mean |distance - exact| int8 query %.3g, int16 query %.3g\n",
                metric_name(metric), m.rows, dim, error_int8, error_int16);
    EXPECT_LT(error_int16, 0.8 * error_int8);
  }
}

TEST(Index, GetVectorReturnsStoredValues) {
  auto f = make_index(opts(16, Metric::l2, Storage::float32));
  auto q = make_index(opts(16));
  const testing::Matrix m = testing::random_matrix(100, 16, 3, -5, 5);
  add_rows(*f, m);
  add_rows(*q, m);
  std::vector<float> out(16);
  ASSERT_TRUE(f->get_vector("v42", out.data(), 16).ok());
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(out[i], m.row(42)[i]);
  ASSERT_TRUE(q->get_vector("v42", out.data(), 16).ok());
  for (size_t i = 0; i < 16; ++i) EXPECT_NEAR(out[i], m.row(42)[i], 10.0 * 1.2 / 254 + 1e-4);
}

TEST(Index, QuantizerFollowsDriftingData) {
  auto ix = make_index(opts(8));
  const testing::Matrix small = testing::random_matrix(500, 8, 21, 0, 1);
  const testing::Matrix large = testing::random_matrix(500, 8, 22, 50, 100);
  add_rows(*ix, small, 0, SIZE_MAX, "s");
  add_rows(*ix, large, 0, SIZE_MAX, "l");
  // Both populations stay distinguishable after the range grew 100-fold.
  EXPECT_EQ(search_ids(*ix, large.row(7), 8, 1)[0], "l7");
  const auto near_small = search_ids(*ix, small.row(3), 8, 10);
  for (const auto& id : near_small) EXPECT_EQ(id[0], 's');
}

TEST(Index, RetrainingDoesNotCompoundHeadroom) {
  // Data that only ever drifts upwards: each new vector lies just past the
  // current range and forces a retrain. The lower end of the range must stay
  // near the lowest stored value, not widen by the headroom every time.
  auto ix = make_index(opts(4));
  const testing::Matrix base = testing::random_matrix(32, 4, 31, 0, 1);
  add_rows(*ix, base);
  std::vector<float> v(4, 0.5f);
  for (int round = 0; round < 20; ++round) {
    v[0] = ix->quantizer().range().hi + 0.01f;
    ASSERT_TRUE(ix->add("up" + std::to_string(round), v.data(), 4).ok());
  }
  const float top = v[0];
  const QuantizerRange r = ix->quantizer().range();
  EXPECT_GE(r.hi, top);
  EXPECT_GT(r.lo, -0.15f * top) << "the range widened on the side no data reached";
}

TEST(Index, RejectsVectorsWhoseDistancesWouldOverflow) {
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    auto ix = make_index(opts(4, metric, Storage::float32));
    const std::vector<float> huge = {3e19f, 3e19f, 0.0f, 1.0f};
    const Result r = ix->add("huge", huge.data(), 4);
    EXPECT_EQ(r.status, Status::non_finite_value) << r.message;
    EXPECT_EQ(ix->size(), 0u);
    // Very long but below the limit, and very short under cosine: accepted,
    // and every distance stays finite.
    const std::vector<float> long_ok = {1e18f, -1e18f, 1e18f, 0.0f};
    const std::vector<float> tiny = {1e-40f, 0.0f, -1e-40f, 0.0f};
    ASSERT_TRUE(ix->add("long", long_ok.data(), 4).ok());
    ASSERT_TRUE(ix->add("tiny", tiny.data(), 4).ok());
    SearchHits hits;
    SearchParams p;
    p.k = 2;
    ASSERT_TRUE(ix->search(long_ok.data(), 4, p, &hits).ok());
    ASSERT_EQ(hits.size(), 2u);
    for (const Neighbor& h : hits) EXPECT_TRUE(std::isfinite(h.distance)) << int(metric);
  }
}

TEST(Index, GraphOfOnlyTombstonesStillSnapshots) {
  // One vector linked, then deleted: the graph holds only a tombstone, which
  // stays the entry point until consolidate, and the snapshot must load.
  IndexOptions o = opts(4);
  o.max_buffer = 8;
  auto ix = make_index(o);
  const float v[4] = {1, 2, 3, 4};
  ASSERT_TRUE(ix->add("only", v, 4).ok());
  ix->link_pending(1);
  ASSERT_TRUE(ix->remove("only").ok());
  ix->link_pending();
  std::vector<uint8_t> bytes = snapshot(*ix);
  std::unique_ptr<Index> copy;
  Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &copy);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_TRUE(copy->add("next", v, 4).ok());
  EXPECT_EQ(search_ids(*copy, v, 4, 5), std::vector<std::string>{"next"});
}

TEST(Index, ConsolidateDuringABulkRoundKeepsTheEntryInTheGraph) {
  // A bulk round links its medoid first; deleting that medoid and
  // consolidating before the round finishes must pick the new entry among
  // linked slots, never among vectors still waiting in the buffer.
  auto ix = make_index(opts(4, Metric::l2, Storage::float32));
  const testing::Matrix m = testing::random_matrix(40, 4, 77);
  std::vector<std::string> ids;
  for (size_t i = 0; i < m.rows; ++i) ids.push_back("v" + std::to_string(i));
  auto add_deferred = [&](size_t i) {
    const std::string_view id = ids[i];
    return ix->add_batch(1, &id, m.row(i), 4, nullptr, /*link_now=*/false);
  };
  for (size_t i = 0; i < m.rows; ++i) ASSERT_TRUE(add_deferred(i).ok());
  ix->link_pending(1);  // starts a two-pass round and links only the medoid
  for (size_t i = 0; i < m.rows; ++i) {  // re-add everything: the medoid becomes a tombstone
    ASSERT_TRUE(ix->remove(ids[i]).ok());
    ASSERT_TRUE(add_deferred(i).ok());
  }
  ASSERT_EQ(ix->tombstones(), 1u);
  ASSERT_TRUE(ix->consolidate().ok());
  std::vector<uint8_t> bytes = snapshot(*ix);
  std::unique_ptr<Index> copy;
  const Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &copy);
  ASSERT_TRUE(r.ok()) << r.message;
  copy->link_pending();
  for (size_t i = 0; i < m.rows; i += 7) EXPECT_EQ(search_ids(*copy, m.row(i), 4, 1)[0], ids[i]);
}

TEST(Index, RemoveHidesAndConsolidateReusesSlots) {
  auto ix = make_index(opts(16));
  const testing::Matrix m = testing::random_matrix(3000, 16, 8);
  add_rows(*ix, m);
  ASSERT_TRUE(ix->link_pending() == 0);
  for (size_t i = 0; i < 3000; i += 3) ASSERT_TRUE(ix->remove("v" + std::to_string(i)).ok());
  EXPECT_EQ(ix->size(), 2000u);
  EXPECT_FALSE(ix->contains("v0"));
  EXPECT_TRUE(ix->contains("v1"));
  for (size_t i = 0; i < 3000; i += 150) {
    for (const auto& id : search_ids(*ix, m.row(i), 16, 10)) ASSERT_NE(std::stoul(id.substr(1)) % 3, 0u) << id;
  }
  ASSERT_TRUE(ix->consolidate().ok());
  EXPECT_EQ(ix->tombstones(), 0u);
  const size_t reserved = ix->memory().total_reserved();
  add_rows(*ix, m, 0, 1000, "again");  // reuses the freed slots
  ix->link_pending();
  EXPECT_LE(ix->memory().total_reserved(), reserved + 64 * 1024);
  EXPECT_EQ(search_ids(*ix, m.row(9), 16, 1)[0], "again9");
  EXPECT_EQ(search_ids(*ix, m.row(10), 16, 1)[0], "v10");
}

TEST(Index, ReAddingARemovedIdWorks) {
  auto ix = make_index(opts(4));
  const float a[4] = {1, 2, 3, 4}, b[4] = {-1, -2, -3, -4};
  ASSERT_TRUE(ix->add("x", a, 4).ok());
  ASSERT_TRUE(ix->remove("x").ok());
  EXPECT_EQ(ix->remove("x").status, Status::unknown_id);
  ASSERT_TRUE(ix->add("x", b, 4).ok());
  std::vector<float> out(4);
  ASSERT_TRUE(ix->get_vector("x", out.data(), 4).ok());
  EXPECT_EQ(out[0], -1);
}

TEST(Index, UpsertReplacesVectorAndMetadata) {
  auto ix = make_index(opts(8, Metric::l2, Storage::float32));
  const testing::Matrix m = testing::random_matrix(600, 8, 4);
  add_rows(*ix, m);
  ASSERT_TRUE(ix->upsert("v5", m.row(500), 8, R"({"moved":true})").ok());
  EXPECT_EQ(ix->size(), 600u);
  const auto ids = search_ids(*ix, m.row(500), 8, 2);
  EXPECT_TRUE((ids == std::vector<std::string>{"v5", "v500"}) || (ids == std::vector<std::string>{"v500", "v5"}));
  EXPECT_EQ(ix->metadata_of(ix->slot_of("v5")), R"({"moved":true})");
  ASSERT_TRUE(ix->upsert("fresh", m.row(1), 8).ok());
  EXPECT_EQ(ix->size(), 601u);
}

TEST(Index, FilterAppliesDuringTraversalAndStillFillsK) {
  auto ix = make_index(opts(16));
  const testing::Matrix m = testing::random_matrix(5000, 16, 17);
  add_rows(*ix, m);
  struct Ctx {
    Index* ix;
    uint32_t modulo;
    size_t calls = 0;
  } ctx{ix.get(), 2};
  SearchFilter filter;
  filter.context = &ctx;
  filter.accept = [](void* c, uint32_t slot) {
    auto* x = static_cast<Ctx*>(c);
    ++x->calls;
    return std::stoul(std::string(x->ix->id_of(slot)).substr(1)) % x->modulo == 0;
  };
  for (uint32_t modulo : {2u, 100u, 2500u}) {
    ctx.modulo = modulo;
    const auto ids = search_ids(*ix, m.row(123), 16, 10, filter);
    EXPECT_EQ(ids.size(), std::min<size_t>(10, 5000 / modulo)) << modulo;
    for (const auto& id : ids) EXPECT_EQ(std::stoul(id.substr(1)) % modulo, 0u);
  }
  // Without exhaustive fallback, the filter is consulted only for nodes the beam reaches.
  ctx.modulo = 2;
  ctx.calls = 0;
  search_ids(*ix, m.row(5), 16, 10, filter);
  EXPECT_LT(ctx.calls, 2500u);
}

TEST(Index, TiesAreBrokenDeterministically) {
  auto a = make_index(opts(4));
  auto b = make_index(opts(4));
  const float same[4] = {1, 1, 1, 1};
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(a->add("t" + std::to_string(i), same, 4).ok());
    ASSERT_TRUE(b->add("t" + std::to_string(i), same, 4).ok());
  }
  const auto ra = search_ids(*a, same, 4, 10);
  EXPECT_EQ(ra, search_ids(*b, same, 4, 10));
  EXPECT_EQ(ra, search_ids(*a, same, 4, 10));
  ASSERT_EQ(ra.size(), 10u);
}

TEST(Index, BatchAddCanDeferLinkingForProgress) {
  auto ix = make_index(opts(16));
  const testing::Matrix m = testing::random_matrix(4000, 16, 31);
  std::vector<std::string> names;
  for (size_t i = 0; i < m.rows; ++i) names.push_back("b" + std::to_string(i));
  std::vector<std::string_view> ids(names.begin(), names.end());
  ASSERT_TRUE(ix->add_batch(m.rows, ids.data(), m.values.data(), m.values.size(), nullptr, false).ok());
  EXPECT_EQ(ix->size(), 4000u);
  size_t remaining = ix->pending(), steps = 0;
  EXPECT_GE(remaining, 4000u);
  // Searching while unlinked uses the exact buffer scan.
  EXPECT_EQ(search_ids(*ix, m.row(77), 16, 1)[0], "b77");
  while (remaining > 0) {
    const size_t next = ix->link_pending(500);
    ASSERT_LT(next, remaining);
    remaining = next;
    ++steps;
  }
  EXPECT_GE(steps, 8u);  // two passes over 4000 nodes in steps of 500
  EXPECT_EQ(search_ids(*ix, m.row(77), 16, 1)[0], "b77");
}

TEST(Index, MetadataIsStoredPerVector) {
  auto ix = make_index(opts(4));
  const float v[4] = {1, 2, 3, 4};
  ASSERT_TRUE(ix->add("m", v, 4, R"({"lang":"en"})").ok());
  EXPECT_EQ(ix->metadata_of(ix->slot_of("m")), R"({"lang":"en"})");
  ASSERT_TRUE(ix->set_metadata("m", R"({"lang":"de"})").ok());
  EXPECT_EQ(ix->metadata_of(ix->slot_of("m")), R"({"lang":"de"})");
  ASSERT_TRUE(ix->set_metadata("m", "").ok());
  EXPECT_EQ(ix->metadata_of(ix->slot_of("m")), "");
  EXPECT_EQ(ix->memory().metadata.used, 4u * 1);  // the handle array; no strings left
}

// A failed upsert used to remove the old record before the cap check that
// failed. Across many caps, a refused upsert must leave the record as it was.
TEST(Index, UpsertRefusedByTheCapKeepsTheRecord) {
  size_t refusals = 0;
  for (uint64_t cap = 120000; cap < 180000; cap += 16) {
    IndexOptions o = opts(8);
    o.max_memory_bytes = cap;
    auto ix = make_index(o);
    const testing::Matrix m = testing::random_matrix(6, 8, 5);
    bool filled = true;
    for (size_t i = 0; i < 5 && filled; ++i)
      filled = ix->add("x" + std::to_string(i), m.row(i), 8, R"({"t":"mmmmmmmmmm"})").ok();
    if (!filled) continue;
    const std::vector<uint8_t> before = snapshot(*ix);
    const Result r = ix->upsert("x4", m.row(5), 8, R"({"t":"upserted"})");
    if (r.ok()) continue;
    ++refusals;
    ASSERT_EQ(r.status, Status::memory_cap_exceeded) << "cap " << cap << ": " << r.message;
    ASSERT_TRUE(ix->contains("x4")) << "cap " << cap;
    ASSERT_TRUE(snapshot(*ix) == before) << "cap " << cap;
  }
  EXPECT_GT(refusals, 0u);
}

// A first batch trains the quantizer itself, so none of it is staged as
// floats: nothing may be reserved for that (WASM memory never shrinks).
TEST(Index, BulkBatchReservesNoStagingRoom) {
  auto ix = make_index(opts(64));
  const testing::Matrix m = testing::random_matrix(2000, 64, 4);
  std::vector<std::string> names;
  for (size_t i = 0; i < m.rows; ++i) names.push_back("b" + std::to_string(i));
  const std::vector<std::string_view> views(names.begin(), names.end());
  ASSERT_TRUE(ix->add_batch(m.rows, views.data(), m.values.data(), m.values.size(), nullptr, false).ok());
  EXPECT_LT(ix->memory().buffer.reserved, 16 * 1024u);
  ix->link_pending();
  EXPECT_LT(ix->memory().buffer.reserved, 16 * 1024u);
}

// Found by the JS property test: with only tombstones in the graph, a new
// vector was linked from the tombstone entry, got no edges, and no search
// could reach it (size 1, zero hits) until a consolidate.
TEST(Index, VectorLinkedAfterOnlyTombstonesIsFound) {
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    auto ix = make_index(opts(4, metric, Storage::float32));
    const float a[4] = {1, 2, 3, 4}, b[4] = {4, 3, 2, 1};
    ASSERT_TRUE(ix->add("a", a, 4).ok());
    ix->link_pending();
    ASSERT_TRUE(ix->upsert("a", b, 4).ok());
    ix->link_pending();
    EXPECT_EQ(search_ids(*ix, b, 4, 5), std::vector<std::string>{"a"}) << int(metric);
    ASSERT_TRUE(ix->add("c", a, 4).ok());
    ix->link_pending();
    EXPECT_EQ(search_ids(*ix, b, 4, 5).size(), 2u) << int(metric);
  }
}

TEST(Index, MemoryCapIsNeverExceeded) {
  IndexOptions o = opts(64);
  o.max_memory_bytes = 300 * 1024;
  auto ix = make_index(o);
  const testing::Matrix m = testing::random_matrix(5000, 64, 2);
  size_t added = 0;
  Result last;
  for (size_t i = 0; i < m.rows; ++i) {
    const std::vector<uint8_t> before = i % 50 == 0 ? snapshot(*ix) : std::vector<uint8_t>();
    last = ix->add("c" + std::to_string(i), m.row(i), 64);
    if (!last.ok()) {
      EXPECT_EQ(last.status, Status::memory_cap_exceeded);
      EXPECT_NE(last.message.find("cap"), std::string::npos);
      break;
    }
    ++added;
    EXPECT_LE(ix->memory().total_reserved(), o.max_memory_bytes);
  }
  ASSERT_FALSE(last.ok()) << "the cap was never reached";
  EXPECT_GT(added, 500u);
  EXPECT_EQ(ix->size(), added);
  EXPECT_EQ(search_ids(*ix, m.row(3), 64, 1)[0], "c3");
}

// A batch taken back newest slot first (as a failed addMany is) gives its
// chunks back, keeping at most one spare chunk per array: the module's memory
// is shared by every store of the page, and a store holding the room of a
// batch it does not have would starve the others.
TEST(Index, RemovingTheNewestSlotsGivesTheirChunksBack) {
  auto ix = make_index(opts(256, Metric::cosine));
  const testing::Matrix m = testing::random_matrix(3000, 256, 31);
  add_rows(*ix, m, 0, 64);
  ix->link_pending();
  const size_t before = ix->memory().vectors.reserved + ix->memory().graph.reserved;
  add_rows(*ix, m, 64, 3000);
  ASSERT_GT(ix->memory().vectors.reserved, 3000u * 256);
  for (size_t i = 3000; i-- > 64;) ASSERT_TRUE(ix->remove("v" + std::to_string(i)).ok());
  ASSERT_TRUE(ix->consolidate().ok());
  EXPECT_EQ(ix->size(), 64u);
  const MemoryStats after = ix->memory();
  // One spare chunk of at most 256 KiB each for codes, code lengths and graph.
  EXPECT_LE(after.vectors.reserved + after.graph.reserved, before + 3 * 256 * 1024);
  // And the store works on: the room comes back when needed.
  add_rows(*ix, m, 64, 1000);
  EXPECT_EQ(search_ids(*ix, m.row(500), 256, 1), std::vector<std::string>{"v500"});
}

TEST(Index, MemoryAccountingIsExact) {
  auto ix = make_index(opts(128));
  const testing::Matrix m = testing::random_matrix(20000, 128, 12);
  add_rows(*ix, m);
  const MemoryStats s = ix->memory();
  EXPECT_EQ(s.vectors.used, 20000u * 128);  // the codes alone: l2 derives |code|^2 as it reads them
  EXPECT_GE(s.graph.used, (20000u - ix->pending()) * 33 * 4);
  EXPECT_LE(s.graph.used, 20000u * 33 * 4);
  for (const MemoryUse& c : {s.vectors, s.graph, s.ids, s.metadata, s.buffer, s.other}) {
    EXPECT_LE(c.used, c.reserved);
    EXPECT_LE(c.reserved, c.used + c.used / 10 + 4 * 256 * 1024 + 8192);
  }
}

}  // namespace
}  // namespace tabvec

namespace tabvec {
namespace {

// Small graphs of small degree over repeated values can leave nodes the walk
// does not reach (found by the ops fuzzer); search still returns min(k, size)
// hits, scanning every vector when the walk finds too few.
TEST(Index, SearchReturnsEveryVectorOfSmallGraphs) {
  uint64_t state = 12345;
  auto next = [&state](uint32_t below) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return uint32_t((z ^ (z >> 31)) % below);
  };
  size_t short_searches = 0, searches = 0;
  for (int round = 0; round < 3000; ++round) {
    IndexOptions o = opts(1 + next(6), next(2) ? Metric::l2 : Metric::inner_product);
    o.max_degree = 2 + next(7);
    o.build_list_size = 1 + next(32);
    o.search_list_size = 1 + next(32);
    o.max_buffer = 1 + next(12);
    auto ix = make_index(o);
    const size_t n = 2 + next(10);
    std::vector<float> values(n * o.dim);
    const float palette[] = {0.0f, 1.0f, -1.0f, 0.5f, -2.5f, 3.0f};
    for (float& v : values) v = palette[next(6)];
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) names.push_back("v" + std::to_string(i));
    const std::vector<std::string_view> ids(names.begin(), names.end());
    ASSERT_TRUE(ix->add_batch(n, ids.data(), values.data(), values.size(), nullptr).ok());
    for (size_t q = 0; q < n; ++q) {
      SearchParams p;
      p.k = uint32_t(n);
      SearchHits hits;
      ASSERT_TRUE(ix->search(&values[q * o.dim], o.dim, p, &hits).ok());
      ++searches;
      short_searches += hits.size() != n;
    }
  }
  EXPECT_EQ(short_searches, 0u) << "of " << searches << " searches";
}

}  // namespace
}  // namespace tabvec
