#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "snapshot.h"
#include "snapshot_crc.h"
#include "test_data.h"

namespace tabvec {
namespace {

using testing::snapshot;

std::unique_ptr<Index> build(IndexOptions o, size_t n, uint64_t seed, bool with_deletes) {
  std::unique_ptr<Index> ix;
  EXPECT_TRUE(Index::create(o, &ix).ok());
  const testing::Matrix m = testing::random_matrix(n, o.dim, seed);
  for (size_t i = 0; i < n; ++i) {
    const std::string meta = i % 3 == 0 ? "{\"n\":" + std::to_string(i) + "}" : "";
    EXPECT_TRUE(ix->add("id-" + std::to_string(i), m.row(i), o.dim, meta).ok());
  }
  if (with_deletes) {
    for (size_t i = 0; i < n; i += 7) EXPECT_TRUE(ix->remove("id-" + std::to_string(i)).ok());
  }
  return ix;
}

using testing::reseal;

struct Case {
  const char* name;
  IndexOptions options;
  size_t n;
  bool deletes;
};

std::vector<Case> cases() {
  IndexOptions tiny;
  tiny.dim = 8;
  IndexOptions graph = tiny;
  graph.dim = 12;
  graph.max_degree = 8;
  IndexOptions cosine_f32 = graph;
  cosine_f32.metric = Metric::cosine;
  cosine_f32.storage = Storage::float32;
  IndexOptions ip = graph;
  ip.metric = Metric::inner_product;
  return {{"staged", tiny, 5, false},
          {"int8-graph-tombstones", graph, 700, true},
          {"float32-cosine", cosine_f32, 300, true},
          {"inner-product", ip, 100, false}};
}

TEST(Snapshot, RoundTripIsBitExactAndSearchesTheSame) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    auto ix = build(c.options, c.n, 3, c.deletes);
    const std::vector<uint8_t> bytes = snapshot(*ix);
    std::unique_ptr<Index> copy;
    const Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &copy);
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(snapshot(*copy), bytes);
    EXPECT_EQ(copy->size(), ix->size());
    const testing::Matrix q = testing::random_matrix(20, c.options.dim, 99);
    for (size_t i = 0; i < q.rows; ++i) {
      SearchHits a, b;
      ASSERT_TRUE(ix->search(q.row(i), c.options.dim, SearchParams(), &a).ok());
      ASSERT_TRUE(copy->search(q.row(i), c.options.dim, SearchParams(), &b).ok());
      ASSERT_EQ(a.size(), b.size());
      for (size_t j = 0; j < a.size(); ++j) {
        EXPECT_EQ(a[j].slot, b[j].slot);
        EXPECT_EQ(a[j].distance, b[j].distance);
      }
    }
    // The copy keeps working: adds, removes and a consolidation.
    const testing::Matrix more = testing::random_matrix(50, c.options.dim, 1234);
    for (size_t i = 0; i < more.rows; ++i) ASSERT_TRUE(copy->add("more-" + std::to_string(i), more.row(i), c.options.dim).ok());
    ASSERT_TRUE(copy->remove("more-3").ok());
    ASSERT_TRUE(copy->consolidate().ok());
  }
}

// serialize_window copies the snapshot out through a small buffer; the
// windows, in order, are the snapshot's bytes, trailer checksum included.
TEST(Snapshot, WindowsInOrderAreTheSnapshot) {
  IndexOptions o;
  o.dim = 24;
  auto ix = build(o, 300, 9, true);
  const std::vector<uint8_t> whole = snapshot(*ix);
  for (size_t window : {size_t(1), size_t(3), size_t(64), size_t(1000), size_t(4096), whole.size()}) {
    std::vector<uint8_t> pieces(whole.size(), 0xAA), buffer(window);
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t at = 0; at < whole.size(); at += window) {
      const size_t len = std::min(window, whole.size() - at);
      ix->serialize_window(at, buffer.data(), len, &crc);
      std::copy_n(buffer.begin(), len, pieces.begin() + at);
    }
    ASSERT_TRUE(pieces == whole) << "window " << window;
  }
}

TEST(Snapshot, EveryCorruptedByteIsRejected) {
  IndexOptions o;
  o.dim = 4;
  o.max_degree = 4;
  auto ix = build(o, 40, 5, true);
  const std::vector<uint8_t> good = snapshot(*ix);
  ASSERT_LT(good.size(), 4096u);
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> bad = good;
      bad[i] ^= flip;
      std::unique_ptr<Index> out;
      const Result r = Index::deserialize(bad.data(), bad.size(), 0, &out);
      ASSERT_FALSE(r.ok()) << "byte " << i << " ^ " << int(flip) << " was accepted";
      // The checksum is checked before any field, the version included: bit rot is corruption.
      ASSERT_EQ(r.status, Status::corrupt_snapshot) << "byte " << i << ": " << r.message;
      ASSERT_EQ(out, nullptr);
    }
  }
}

TEST(Snapshot, EveryTruncationIsRejected) {
  IndexOptions o;
  o.dim = 4;
  o.max_degree = 4;
  auto ix = build(o, 40, 6, true);
  const std::vector<uint8_t> good = snapshot(*ix);
  for (size_t len = 0; len < good.size(); ++len) {
    std::unique_ptr<Index> out;
    const Result r = Index::deserialize(good.data(), len, 0, &out);
    ASSERT_EQ(r.status, Status::corrupt_snapshot) << "length " << len;
  }
}

// Hostile input: corrupted bytes with a recomputed, valid checksum. Loading
// must reject them or produce an index that works; never crash or read out
// of bounds (this suite runs under ASan/UBSan).
TEST(Snapshot, ResealedCorruptionsNeverCrash) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    IndexOptions o = c.options;
    o.dim = 4;
    o.max_degree = 4;
    auto ix = build(o, std::min<size_t>(c.n, 60), 8, c.deletes);
    const std::vector<uint8_t> good = snapshot(*ix);
    size_t accepted = 0;
    for (size_t i = 0; i + 4 < good.size(); ++i) {
      for (uint8_t value : {uint8_t(0x00), uint8_t(0x01), uint8_t(0x7F), uint8_t(0x80), uint8_t(0xFF), uint8_t(good[i] + 1)}) {
        if (value == good[i]) continue;
        std::vector<uint8_t> bad = good;
        bad[i] = value;
        reseal(bad);
        std::unique_ptr<Index> out;
        if (!Index::deserialize(bad.data(), bad.size(), 0, &out).ok()) continue;
        ++accepted;
        const float q[4] = {0.1f, 0.2f, 0.3f, 0.4f};
        SearchHits hits;
        ASSERT_TRUE(out->search(q, 4, SearchParams(), &hits).ok());
        EXPECT_TRUE(out->consolidate().ok());
        ASSERT_TRUE(out->add("after-load", q, 4).ok());
      }
    }
    // Most single-byte changes inside vector payloads are legal data.
    EXPECT_GT(accepted, 0u);
  }
}

TEST(Snapshot, RejectsForeignAndFutureBytes) {
  IndexOptions o;
  o.dim = 4;
  auto ix = build(o, 10, 1, false);
  std::vector<uint8_t> bytes = snapshot(*ix);
  std::unique_ptr<Index> out;
  std::vector<uint8_t> future = bytes;
  future[offsetof(SnapshotHeader, version)] = 2;
  EXPECT_EQ(Index::deserialize(future.data(), future.size(), 0, &out).status, Status::corrupt_snapshot);
  reseal(future);  // a later format, written whole
  EXPECT_EQ(Index::deserialize(future.data(), future.size(), 0, &out).status, Status::unsupported_version);
  const std::string text = "definitely not a tabvec snapshot, but long enough to have a header of eighty bytes..";
  EXPECT_EQ(Index::deserialize(reinterpret_cast<const uint8_t*>(text.data()), text.size(), 0, &out).status,
            Status::corrupt_snapshot);
  EXPECT_EQ(Index::deserialize(nullptr, 0, 0, &out).status, Status::corrupt_snapshot);
}

// Quantizer parameters a writer never produces, but that pass the CRC: each
// would make some distance NaN or a later retrain overflow, or give one index
// two encodings (-0).
TEST(Snapshot, RejectsForgedQuantizerParameters) {
  constexpr size_t kOffsetAt = offsetof(SnapshotHeader, quantizer_offset);
  constexpr size_t kStepAt = offsetof(SnapshotHeader, quantizer_step);
  auto forged = [](std::vector<uint8_t> bytes, size_t at, float value) {
    uint32_t u;
    std::memcpy(&u, &value, 4);
    for (int i = 0; i < 4; ++i) bytes.at(at + i) = uint8_t(u >> (8 * i));
    reseal(bytes);
    return bytes;
  };
  auto status_of = [](const std::vector<uint8_t>& bytes) {
    std::unique_ptr<Index> out;
    return Index::deserialize(bytes.data(), bytes.size(), 0, &out).status;
  };
  IndexOptions o;
  o.dim = 4;
  const std::vector<uint8_t> int8 = snapshot(*build(o, 40, 2, false));
  EXPECT_EQ(status_of(int8), Status::ok);
  EXPECT_EQ(status_of(forged(int8, kStepAt, 1e-40f)), Status::corrupt_snapshot);   // subnormal
  EXPECT_EQ(status_of(forged(int8, kStepAt, 1e30f)), Status::corrupt_snapshot);    // step^2 overflows
  EXPECT_EQ(status_of(forged(int8, kStepAt, -0.01f)), Status::corrupt_snapshot);
  EXPECT_EQ(status_of(forged(int8, kOffsetAt, 3e38f)), Status::corrupt_snapshot);  // range beyond float
  o.storage = Storage::float32;
  const std::vector<uint8_t> f32 = snapshot(*build(o, 40, 2, false));
  EXPECT_EQ(status_of(f32), Status::ok);
  EXPECT_EQ(status_of(forged(f32, kStepAt, -0.0f)), Status::corrupt_snapshot);
  EXPECT_EQ(status_of(forged(f32, kOffsetAt, -0.0f)), Status::corrupt_snapshot);
}

// A few kilobytes with a valid checksum once made the loader reserve
// slots x 64 KiB before it validated anything (and abort at 4 GiB).
TEST(Snapshot, CountsAreCheckedAgainstTheBytesBeforeReserving) {
  const std::vector<uint8_t> hostile = testing::forged_free_slots(70000, /*truncated=*/true);
  EXPECT_LT(hostile.size(), 71000u);
  std::unique_ptr<Index> ix;
  const Result r = Index::deserialize(hostile.data(), hostile.size(), 0, &ix);
  EXPECT_EQ(r.status, Status::corrupt_snapshot) << r.message;
  EXPECT_EQ(ix, nullptr);
  // The same shape, complete, is a valid empty store.
  const std::vector<uint8_t> valid = testing::forged_free_slots(300, /*truncated=*/false);
  ASSERT_TRUE(Index::deserialize(valid.data(), valid.size(), 0, &ix).ok());
  EXPECT_EQ(ix->size(), 0u);
}

TEST(Snapshot, LoadHonoursTheMemoryCap) {
  IndexOptions o;
  o.dim = 64;
  auto ix = build(o, 3000, 4, false);
  const std::vector<uint8_t> bytes = snapshot(*ix);
  std::unique_ptr<Index> out;
  EXPECT_EQ(Index::deserialize(bytes.data(), bytes.size(), 100 * 1024, &out).status, Status::memory_cap_exceeded);
  EXPECT_EQ(out, nullptr);
  ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 8 << 20, &out).ok());
}

}  // namespace
}  // namespace tabvec
