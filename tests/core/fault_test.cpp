// Allocation-failure injection, as SQLite tests its malloc failures: this
// binary replaces the global allocation functions so that, once armed, the
// N-th allocation and every one after it fail. Each operation runs once for
// every N its allocations reach; after each failure the index must equal its
// snapshot from before the call (or, where only upkeep was cut short, hold
// exactly what the call promised), and it must keep working.
//
// The core takes memory only through the nothrow operator new (tabvec::allocate),
// so an allocation through the throwing one, e.g. a std::vector growing inside
// the core, shows up here as a std::bad_alloc escaping the operation: a failure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "index.h"
#include "fault_injection.h"
#include "snapshot_crc.h"
#include "test_data.h"

namespace tabvec {
namespace {

using testing::snapshot;

std::unique_ptr<Index> restore(const std::vector<uint8_t>& bytes) {
  std::unique_ptr<Index> ix;
  const Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &ix);
  EXPECT_TRUE(r.ok()) << r.message;
  return ix;
}

// What a caller can observe: every id with its metadata and stored vector.
std::string contents(Index& ix, const std::vector<std::string>& ids) {
  std::string out;
  std::vector<float> v(ix.options().dim);
  for (const std::string& id : ids) {
    if (!ix.contains(id)) continue;
    out += id + "=" + std::string(ix.metadata_of(ix.slot_of(id))) + ":";
    EXPECT_TRUE(ix.get_vector(id, v.data(), v.size()).ok());
    for (float x : v) out += std::to_string(x) + ",";
    out += ";";
  }
  return out + "size=" + std::to_string(ix.size());
}

struct Fixture {
  IndexOptions options;
  size_t vectors = 0;  // added one by one (so the graph is linked incrementally)
  size_t deleted = 0;  // tombstones made by removing some of them
  bool metadata = true;
};

std::unique_ptr<Index> build(const Fixture& f, const testing::Matrix& data) {
  std::unique_ptr<Index> ix;
  EXPECT_TRUE(Index::create(f.options, &ix).ok());
  for (size_t i = 0; i < f.vectors; ++i) {
    const std::string meta = f.metadata && i % 3 == 0 ? "{\"n\":" + std::to_string(i) + "}" : "";
    EXPECT_TRUE(ix->add("v" + std::to_string(i), data.row(i), data.dim, meta).ok());
  }
  // Removes linked vectors until `deleted` tombstones stand (buffered ones are freed at once).
  for (size_t i = 0; ix->tombstones() < f.deleted && i < f.vectors; ++i)
    EXPECT_TRUE(ix->remove("v" + std::to_string(i * 7 % f.vectors)).ok());
  return ix;
}

using Operation = std::function<Result(Index&)>;

// Runs `op` on a fresh fixture with the N-th and later allocations failing,
// for N = 0, 1, ... until an N is never reached. Returns how many failing runs there were.
size_t inject_every_allocation(const Fixture& f, const testing::Matrix& data, const Operation& op,
                               const std::vector<std::string>& ids) {
  // What the operation does with all the memory it wants.
  std::unique_ptr<Index> reference = build(f, data);
  const Result expected = op(*reference);
  const std::string expected_contents = contents(*reference, ids);
  size_t failures = 0;
  for (long n = 0;; ++n) {
    std::unique_ptr<Index> ix = build(f, data);
    const std::vector<uint8_t> before = snapshot(*ix);
    const std::string before_contents = contents(*ix, ids);
    injection = {true, n, false};
    Result r;
    bool threw = false;
    try {
      r = op(*ix);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const bool reached = injection.failed;
    injection = {};
    EXPECT_FALSE(threw) << "allocation " << n << " went through the throwing operator new";
    if (threw) return failures;
    if (!reached) {
      EXPECT_EQ(r.status, expected.status) << r.message;
      return failures;
    }
    ++failures;
    if (r.ok()) {
      // Only upkeep (linking, consolidation, compaction) was cut short: the
      // call did everything it promised, and the index still round-trips.
      EXPECT_EQ(expected.status, Status::ok) << "allocation " << n;
      EXPECT_EQ(contents(*ix, ids), expected_contents) << "allocation " << n;
    } else {
      EXPECT_EQ(r.status, Status::out_of_memory) << "allocation " << n << ": " << r.message;
      EXPECT_TRUE(snapshot(*ix) == before) << "allocation " << n << " failed the call but changed the index";
      EXPECT_EQ(contents(*ix, ids), before_contents) << "allocation " << n;
    }
    const std::vector<uint8_t> after = snapshot(*ix);
    std::unique_ptr<Index> reloaded = restore(after);
    if (!reloaded) return failures;
    EXPECT_TRUE(snapshot(*reloaded) == after) << "allocation " << n;
    // It keeps working: the operation now succeeds as it did with memory to spare
    // (an add that succeeded already finds its id taken, as it should).
    if (!r.ok()) {
      const Result again = op(*ix);
      EXPECT_EQ(again.status, expected.status) << "allocation " << n << ": " << again.message;
      EXPECT_EQ(contents(*ix, ids), expected_contents) << "allocation " << n;
    }
    if (::testing::Test::HasFailure()) return failures;
  }
}

class FaultInjection : public ::testing::Test {
 protected:
  static constexpr uint32_t kDim = 12;
  testing::Matrix data = testing::random_matrix(600, kDim, 99);
  std::vector<std::string> ids;
  void SetUp() override {
    for (size_t i = 0; i < data.rows; ++i) ids.push_back("v" + std::to_string(i));
    ids.push_back("new");
  }
  Fixture fixture(size_t vectors, size_t deleted = 0, Metric metric = Metric::l2,
                  Storage storage = Storage::int8, Rerank rerank = Rerank::none) const {
    Fixture f;
    f.options.dim = kDim;
    f.options.metric = metric;
    f.options.storage = storage;
    f.options.rerank = rerank;
    f.options.max_degree = 8;
    f.options.build_list_size = 16;
    f.vectors = vectors;
    f.deleted = deleted;
    return f;
  }
  void run(const Fixture& f, const Operation& op) {
    const size_t failures = inject_every_allocation(f, data, op, ids);
    EXPECT_GT(failures, 0u) << "the operation allocated nothing, so nothing was tested";
  }
  Operation add_row(size_t row, std::string id = "new", std::string meta = "{\"m\":1}") {
    return [this, row, id, meta](Index& ix) { return ix.add(id, data.row(row), kDim, meta); };
  }
};

TEST_F(FaultInjection, AddToEmptyIndex) { run(fixture(0), add_row(500)); }
TEST_F(FaultInjection, AddWhileQuantizerIsUntrained) { run(fixture(5), add_row(500)); }
TEST_F(FaultInjection, AddThatTrainsTheQuantizer) { run(fixture(15), add_row(500)); }
TEST_F(FaultInjection, AddThatFillsTheBufferAndLinks) { run(fixture(31), add_row(500)); }
// 240 slots fill the first four chunks (16 + 32 + 64 + 128), so the next add needs new ones.
TEST_F(FaultInjection, AddToALinkedGraph) { run(fixture(240), add_row(500)); }
TEST_F(FaultInjection, AddFloat32Cosine) { run(fixture(240, 0, Metric::cosine, Storage::float32), add_row(500)); }
// The re-ranking tier grows with the codes, in the same all-or-nothing step.
TEST_F(FaultInjection, AddWithAFloat16Tier) {
  run(fixture(240, 0, Metric::cosine, Storage::int8, Rerank::float16), add_row(500));
}
TEST_F(FaultInjection, UpsertWithAFloat32Tier) {
  run(fixture(600, 0, Metric::l2, Storage::int8, Rerank::float32),
      [this](Index& ix) { return ix.upsert("v3", data.row(500), kDim, "{\"upserted\":true}"); });
}
TEST_F(FaultInjection, SearchThatReranks) {
  run(fixture(600, 20, Metric::l2, Storage::int8, Rerank::float16), [this](Index& ix) {
    SearchParams p;
    p.k = 10;
    p.rerank_factor = 4;
    SearchHits hits;
    return ix.search(data.row(550), kDim, p, &hits);
  });
}
TEST_F(FaultInjection, AddOutsideTheQuantizerRange) {
  std::vector<float> far(kDim, 50.0f);
  run(fixture(240), [far](Index& ix) { return ix.add("new", far.data(), far.size()); });
}

// Inputs are built outside the operations: only the index's own allocations are counted.
TEST_F(FaultInjection, BulkBatchIntoEmptyIndex) {
  std::vector<std::string> names;
  for (size_t i = 0; i < 100; ++i) names.push_back("b" + std::to_string(i));
  const std::vector<std::string_view> views(names.begin(), names.end());
  const std::vector<std::string_view> meta(100, "{\"batch\":true}");
  run(fixture(0), [&](Index& ix) { return ix.add_batch(100, views.data(), data.row(400), 100 * kDim, meta.data(), true); });
}

TEST_F(FaultInjection, BatchIntoLinkedGraph) {
  std::vector<std::string> names;
  for (size_t i = 0; i < 40; ++i) names.push_back("b" + std::to_string(i));
  const std::vector<std::string_view> views(names.begin(), names.end());
  run(fixture(200, 10), [&](Index& ix) { return ix.add_batch(40, views.data(), data.row(400), 40 * kDim, nullptr, true); });
}

TEST_F(FaultInjection, UpsertLinkedRecord) {
  run(fixture(240), [this](Index& ix) { return ix.upsert("v3", data.row(500), kDim, "{\"upserted\":true}"); });
}
TEST_F(FaultInjection, UpsertBufferedRecord) {
  run(fixture(239), [this](Index& ix) { return ix.upsert("v238", data.row(500), kDim, "{\"upserted\":true}"); });
}
TEST_F(FaultInjection, UpsertStagedRecord) {
  run(fixture(5), [this](Index& ix) { return ix.upsert("v2", data.row(500), kDim, "{\"upserted\":true}"); });
}

TEST_F(FaultInjection, SetMetadata) {
  const std::string meta = '"' + std::string(3000, 'x') + '"';
  run(fixture(100), [&meta](Index& ix) { return ix.set_metadata("v4", meta); });
}

TEST_F(FaultInjection, RemoveThatTriggersConsolidation) {
  // The 256th tombstone is more than a quarter of the graph: consolidation runs.
  Fixture f = fixture(600, 255);
  f.metadata = false;
  run(f, [](Index& ix) {
    EXPECT_EQ(ix.tombstones(), 255u);
    return ix.remove("v1");
  });
}

TEST_F(FaultInjection, Consolidate) {
  run(fixture(400, 60), [](Index& ix) { return ix.consolidate(); });
}

TEST_F(FaultInjection, Search) {
  run(fixture(300, 20), [this](Index& ix) {
    SearchParams p;
    p.k = 10;
    p.list_size = 100;
    SearchHits hits;
    return ix.search(data.row(550), kDim, p, &hits);
  });
}

TEST_F(FaultInjection, SearchWithSelectiveFilter) {
  run(fixture(300, 20), [this](Index& ix) {
    SearchParams p;
    p.k = 10;
    p.filter.accept = [](void*, uint32_t slot) { return slot % 50 == 0; };
    SearchHits hits;
    return ix.search(data.row(550), kDim, p, &hits);
  });
}

TEST_F(FaultInjection, Deserialize) {
  std::unique_ptr<Index> source = build(fixture(300, 20), data);
  const std::vector<uint8_t> bytes = snapshot(*source);
  size_t failures = 0;
  for (long n = 0;; ++n) {
    std::unique_ptr<Index> ix;
    injection = {true, n, false};
    Result r;
    bool threw = false;
    try {
      r = Index::deserialize(bytes.data(), bytes.size(), 0, &ix);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const bool reached = injection.failed;
    injection = {};
    ASSERT_FALSE(threw) << "allocation " << n << " went through the throwing operator new";
    if (!reached) {
      ASSERT_TRUE(r.ok()) << r.message;
      EXPECT_TRUE(snapshot(*ix) == bytes);
      break;
    }
    ++failures;
    ASSERT_EQ(r.status, Status::out_of_memory) << "allocation " << n << ": " << r.message;
    ASSERT_EQ(ix, nullptr);
  }
  EXPECT_GT(failures, 10u);
}

TEST_F(FaultInjection, CreateAndLinkPending) {
  // Linking run by hand: it stops when memory runs out and resumes later.
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(fixture(0).options, &ix).ok());
  std::vector<std::string> names;
  for (size_t i = 0; i < 200; ++i) names.push_back("b" + std::to_string(i));
  std::vector<std::string_view> views(names.begin(), names.end());
  ASSERT_TRUE(ix->add_batch(200, views.data(), data.row(0), 200 * kDim, nullptr, false).ok());
  size_t stalls = 0;
  for (long n = 0; ix->pending() > 0; n = (n + 7) % 40) {
    const size_t before = ix->pending();
    injection = {true, n, false};
    const size_t after = ix->link_pending(50);
    const bool reached = injection.failed;
    injection = {};
    EXPECT_EQ(ix->link_stalled(), reached);
    EXPECT_LE(after, before);
    stalls += reached ? 1 : 0;
    std::unique_ptr<Index> copy = restore(snapshot(*ix));
    ASSERT_NE(copy, nullptr);
  }
  EXPECT_GT(stalls, 0u);
  EXPECT_EQ(ix->size(), 200u);
  SearchParams p;
  SearchHits hits;
  ASSERT_TRUE(ix->search(data.row(7), kDim, p, &hits).ok());
  ASSERT_EQ(hits.size(), 10u);
  EXPECT_EQ(ix->id_of(hits[0].slot), "b7");
}

}  // namespace
}  // namespace tabvec
