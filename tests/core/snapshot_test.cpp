#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "snapshot.h"
#include "snapshot_crc.h"
#include "snapshot_fixtures.h"
#include "checksum.h"
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
  IndexOptions rerank_f16 = graph;
  rerank_f16.rerank = Rerank::float16;
  IndexOptions rerank_f32_cosine = graph;
  rerank_f32_cosine.metric = Metric::cosine;
  rerank_f32_cosine.rerank = Rerank::float32;
  return {{"staged", tiny, 5, false},
          {"int8-graph-tombstones", graph, 700, true},
          {"float32-cosine", cosine_f32, 300, true},
          {"inner-product", ip, 100, false},
          {"rerank-float16-tombstones", rerank_f16, 1500, true},
          {"rerank-float32-cosine", rerank_f32_cosine, 300, true}};
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

// SnapshotWriter copies the snapshot out through a small buffer; the pieces,
// in order, are the snapshot's bytes, trailer checksum included.
TEST(Snapshot, PiecesInOrderAreTheSnapshot) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    auto ix = build(c.options, c.n, 9, c.deletes);
    const std::vector<uint8_t> whole = snapshot(*ix);
    for (size_t window : {size_t(1), size_t(3), size_t(64), size_t(1000), size_t(4096), whole.size()}) {
      std::vector<uint8_t> pieces(whole.size(), 0xAA), buffer(window);
      SnapshotWriter writer;
      ASSERT_EQ(writer.start(*ix), whole.size());
      for (size_t at = 0; at < whole.size(); at += window) {
        const size_t len = std::min(window, whole.size() - at);
        ASSERT_EQ(writer.write(buffer.data(), window), len);
        std::copy_n(buffer.begin(), len, pieces.begin() + at);
      }
      EXPECT_EQ(writer.remaining(), 0u);
      EXPECT_EQ(writer.write(buffer.data(), window), 0u);
      ASSERT_TRUE(pieces == whole) << "window " << window;
    }
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
  future[offsetof(SnapshotHeader, version)] = kSnapshotVersion + 1;
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
  for (uint32_t version : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE(version);
    const std::vector<uint8_t> hostile = testing::forged_free_slots(70000, /*truncated=*/true, version);
    EXPECT_LT(hostile.size(), 71000u);
    std::unique_ptr<Index> ix;
    const Result r = Index::deserialize(hostile.data(), hostile.size(), 0, &ix);
    EXPECT_EQ(r.status, Status::corrupt_snapshot) << r.message;
    EXPECT_EQ(ix, nullptr);
    // The same shape, complete, is a valid empty store.
    const std::vector<uint8_t> valid = testing::forged_free_slots(300, /*truncated=*/false, version);
    const Result loaded = Index::deserialize(valid.data(), valid.size(), 0, &ix);
    ASSERT_TRUE(loaded.ok()) << loaded.message;
    EXPECT_EQ(ix->size(), 0u);
  }
}

// The sizes in a format 2 header, each forged one step up and down with the
// checksum fixed up: every one is refused, and nothing is handed out.
TEST(Snapshot, ForgedSectionSizesAreRejected) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> good = snapshot(*build(c.options, c.n, 11, c.deletes));
    ASSERT_EQ(good[offsetof(SnapshotHeader, version)], kSnapshotVersion);
    struct Field {
      size_t at, bytes;
    };
    const Field fields[] = {{offsetof(SnapshotHeader, slot_count), 4},     {offsetof(SnapshotHeader, graph_size), 4},
                            {offsetof(SnapshotHeader, metadata_count), 4}, {offsetof(SnapshotHeader, rerank), 4},
                            {offsetof(SnapshotHeader, edge_count), 8},     {offsetof(SnapshotHeader, id_bytes), 8},
                            {offsetof(SnapshotHeader, metadata_bytes), 8}};
    for (const Field& f : fields) {
      for (int64_t delta : {int64_t(1), int64_t(-1), int64_t(1) << 20}) {
        std::vector<uint8_t> bad = good;
        uint64_t v = 0;
        std::memcpy(&v, &bad[f.at], f.bytes);
        if (v == 0 && delta < 0) continue;
        v += uint64_t(delta);
        std::memcpy(&bad[f.at], &v, f.bytes);
        reseal(bad);
        std::unique_ptr<Index> out;
        const Result r = Index::deserialize(bad.data(), bad.size(), 0, &out);
        if (f.at == offsetof(SnapshotHeader, graph_size) && r.ok()) continue;  // a larger graph is legal
        // A store holding no code yet (all staged) has no tier records: any tier is legal.
        if (f.at == offsetof(SnapshotHeader, rerank) && std::string(c.name) == "staged" && v < kRerankCount) {
          EXPECT_TRUE(r.ok()) << r.message;
          continue;
        }
        EXPECT_EQ(r.status, Status::corrupt_snapshot) << "field at " << f.at << " + " << delta << ": " << r.message;
        EXPECT_EQ(out, nullptr);
      }
    }
  }
}

// The sliced CRC-32 of the core agrees with the bit-at-a-time definition at
// every length and alignment, and with the standard check value.
TEST(Snapshot, Crc32MatchesTheReference) {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 131 + (i >> 3));
  for (size_t offset : {0, 1, 3, 7}) {
    for (size_t len : {0, 1, 15, 16, 17, 31, 33, 255, 900}) {
      EXPECT_EQ(crc32(data.data() + offset, len), testing::crc32(data.data() + offset, len)) << offset << "+" << len;
    }
  }
  const char* check = "123456789";
  EXPECT_EQ(crc32(reinterpret_cast<const uint8_t*>(check), 9), 0xCBF43926u);
}

// The core's XXH64, fed in pieces of any size, agrees with the one-pass
// definition at every length and alignment, and with published values.
TEST(Snapshot, Xxh64MatchesTheReference) {
  auto bytes = [](const char* s) { return reinterpret_cast<const uint8_t*>(s); };
  EXPECT_EQ(xxh64(bytes(""), 0), 0xEF46DB3751D8E999u);
  EXPECT_EQ(xxh64(bytes("a"), 1), 0xD24EC4F1A98C6E5Bu);
  EXPECT_EQ(xxh64(bytes("abc"), 3), 0x44BC2CF5AD770999u);
  EXPECT_EQ(testing::xxh64(bytes("abc"), 3), 0x44BC2CF5AD770999u);
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 131 + (i >> 3));
  for (size_t offset : {0, 1, 3, 7}) {
    for (size_t len : {0, 1, 3, 4, 7, 8, 15, 31, 32, 33, 63, 64, 65, 255, 900}) {
      const uint64_t want = testing::xxh64(data.data() + offset, len);
      EXPECT_EQ(xxh64(data.data() + offset, len), want) << offset << "+" << len;
      for (size_t piece : {1, 5, 31, 32, 33}) {
        Xxh64 h{};
        for (size_t at = 0; at < len; at += piece) h.update(data.data() + offset + at, std::min(piece, len - at));
        EXPECT_EQ(h.digest(), want) << offset << "+" << len << " in pieces of " << piece;
      }
    }
  }
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> bytes;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    uint8_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
  }
  return bytes;
}

void expect_same_hits(Index& a, Index& b, const testing::Matrix& q) {
  for (size_t i = 0; i < q.rows; ++i) {
    SearchHits ha, hb;
    ASSERT_TRUE(a.search(q.row(i), q.dim, SearchParams(), &ha).ok());
    ASSERT_TRUE(b.search(q.row(i), q.dim, SearchParams(), &hb).ok());
    ASSERT_EQ(ha.size(), hb.size());
    for (size_t j = 0; j < ha.size(); ++j) {
      EXPECT_EQ(ha[j].slot, hb[j].slot);
      EXPECT_EQ(ha[j].distance, hb[j].distance);
    }
  }
}

// Snapshots that builds of older formats saved still open, hold what was put
// in them, search as recorded, and save in the current format. The hits were
// recorded by the index that wrote each file, except the int8 fixtures' (l2-int8-graph,
// ip-int8), recorded again when search began coding its query as int16
// (make_v1_fixtures.cpp --hits): their distances are closer to the exact ones now.
TEST(Snapshot, OlderFormatFixturesStillLoad) {
  for (uint32_t version : testing::kFixtureVersions) {
    for (const testing::V1Fixture& f : testing::v1_fixtures()) {
      SCOPED_TRACE(std::string(f.name) + " format " + std::to_string(version));
      const std::vector<uint8_t> v1 = read_file(testing::v1_fixture_path(f, ".tabvec", version));
      ASSERT_GT(v1.size(), 100u);
      ASSERT_EQ(v1[offsetof(SnapshotHeader, version)], version);
      std::unique_ptr<Index> old;
      const Result r = Index::deserialize(v1.data(), v1.size(), 0, &old);
      ASSERT_TRUE(r.ok()) << r.message;

      size_t live = 0;
      for (size_t i = 0; i < f.n; ++i) {
        const std::string id = testing::v1_fixture_id(i);
        ASSERT_EQ(old->contains(id), !testing::v1_fixture_removed(i)) << id;
        if (!old->contains(id)) continue;
        ++live;
        EXPECT_EQ(old->metadata_of(old->slot_of(id)), testing::v1_fixture_metadata(i)) << id;
      }
      EXPECT_EQ(old->size(), live);

      // The results recorded from the index that wrote the bytes.
      const testing::Matrix q = testing::v1_fixture_queries(f);
      FILE* hits = std::fopen(testing::v1_fixture_path(f, ".hits", version).c_str(), "r");
      ASSERT_NE(hits, nullptr);
      for (size_t i = 0; i < q.rows; ++i) {
        SearchHits h;
        ASSERT_TRUE(old->search(q.row(i), f.options.dim, SearchParams(), &h).ok());
        for (const Neighbor& n : h) {
          unsigned slot = 0;
          double distance = 0;
          ASSERT_EQ(std::fscanf(hits, "%u %lf", &slot, &distance), 2);
          EXPECT_EQ(n.slot, slot) << "query " << i;
          EXPECT_NEAR(n.distance, distance, 1e-5 * (1 + std::abs(distance))) << "query " << i;
        }
      }
      std::fclose(hits);

      // Saved again, it is the current format, loads, searches the same and keeps its bytes.
      const std::vector<uint8_t> v2 = snapshot(*old);
      EXPECT_EQ(v2[offsetof(SnapshotHeader, version)], kSnapshotVersion);
      std::unique_ptr<Index> now;
      ASSERT_TRUE(Index::deserialize(v2.data(), v2.size(), 0, &now).ok());
      EXPECT_EQ(snapshot(*now), v2);
      expect_same_hits(*old, *now, q);
      EXPECT_EQ(now->tombstones(), old->tombstones());
      EXPECT_EQ(now->pending(), old->pending());
    }
  }
}

// Fed in pieces of any size, a snapshot loads to the same index as fed
// whole; a damaged one fails the same way, and nothing fed after a failure
// is taken.
Result load_in_pieces(const std::vector<uint8_t>& bytes, size_t piece, std::unique_ptr<Index>* out) {
  SnapshotLoader loader;
  if (Result r = SnapshotLoader::start(bytes.size(), 0, &loader); !r.ok()) return r;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    const Result r = loader.feed(bytes.data() + at, std::min(piece, bytes.size() - at));
    if (!r.ok()) {
      EXPECT_EQ(loader.feed(bytes.data(), 0).status, r.status) << "a failure is final";
      return r;
    }
  }
  return loader.finish(out);
}

TEST(Snapshot, LoadsInPiecesOfAnySize) {
  std::vector<std::vector<uint8_t>> snapshots;
  for (const Case& c : cases()) snapshots.push_back(snapshot(*build(c.options, c.n, 5, c.deletes)));
  for (uint32_t version : testing::kFixtureVersions)
    for (const testing::V1Fixture& f : testing::v1_fixtures())
      snapshots.push_back(read_file(testing::v1_fixture_path(f, ".tabvec", version)));
  for (const std::vector<uint8_t>& bytes : snapshots) {
    std::unique_ptr<Index> whole;
    ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 0, &whole).ok());
    const std::vector<uint8_t> expected = snapshot(*whole);
    for (size_t piece : {size_t(1), size_t(3), size_t(16), size_t(113), size_t(4096), bytes.size()}) {
      SCOPED_TRACE(std::to_string(bytes.size()) + " bytes in pieces of " + std::to_string(piece));
      std::unique_ptr<Index> out;
      const Result r = load_in_pieces(bytes, piece, &out);
      ASSERT_TRUE(r.ok()) << r.message;
      EXPECT_EQ(snapshot(*out), expected);
    }
  }
  // Damage: the same status whole or in pieces, and no index handed over.
  const std::vector<uint8_t>& good = snapshots[1];
  for (size_t i = 0; i < good.size(); i += 97) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x04;
    std::unique_ptr<Index> whole, pieces;
    const Status expected = Index::deserialize(bad.data(), bad.size(), 0, &whole).status;
    EXPECT_EQ(expected, Status::corrupt_snapshot) << "byte " << i;
    EXPECT_EQ(load_in_pieces(bad, 61, &pieces).status, expected) << "byte " << i;
    EXPECT_EQ(pieces, nullptr);
  }
  // Fewer bytes than stated: truncated, whatever was fed.
  SnapshotLoader loader;
  ASSERT_TRUE(SnapshotLoader::start(good.size(), 0, &loader).ok());
  ASSERT_TRUE(loader.feed(good.data(), good.size() - 9).ok());
  std::unique_ptr<Index> out;
  EXPECT_EQ(loader.finish(&out).status, Status::corrupt_snapshot);
  EXPECT_EQ(out, nullptr);
  // More bytes than stated: corrupt, and the loader stays failed.
  ASSERT_TRUE(SnapshotLoader::start(good.size() - 1, 0, &loader).ok());
  EXPECT_EQ(loader.feed(good.data(), good.size()).status, Status::corrupt_snapshot);
  EXPECT_EQ(loader.finish(&out).status, Status::corrupt_snapshot);
}

// Format 1 bytes get the same scrutiny: any flipped byte or truncation is
// corruption, and resealed changes never crash the loader.
TEST(Snapshot, FormatOneCorruptionIsRejected) {
  const testing::V1Fixture f = testing::v1_fixtures()[3];
  const std::vector<uint8_t> good = read_file(testing::v1_fixture_path(f, ".tabvec"));
  ASSERT_GT(good.size(), 100u);
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x10;
    std::unique_ptr<Index> out;
    ASSERT_EQ(Index::deserialize(bad.data(), bad.size(), 0, &out).status, Status::corrupt_snapshot) << "byte " << i;
    ASSERT_EQ(out, nullptr);
  }
  for (size_t len = 0; len < good.size(); len += 7) {
    std::unique_ptr<Index> out;
    ASSERT_EQ(Index::deserialize(good.data(), len, 0, &out).status, Status::corrupt_snapshot) << "length " << len;
  }
  size_t accepted = 0;
  for (size_t i = 0; i + 4 < good.size(); ++i) {
    for (uint8_t value : {uint8_t(0x00), uint8_t(0x01), uint8_t(0xFF), uint8_t(good[i] + 1)}) {
      if (value == good[i]) continue;
      std::vector<uint8_t> bad = good;
      bad[i] = value;
      reseal(bad);
      std::unique_ptr<Index> out;
      if (!Index::deserialize(bad.data(), bad.size(), 0, &out).ok()) continue;
      ++accepted;
      SearchHits hits;
      ASSERT_TRUE(out->search(testing::v1_fixture_queries(f).row(0), f.options.dim, SearchParams(), &hits).ok());
      EXPECT_TRUE(out->consolidate().ok());
    }
  }
  EXPECT_GT(accepted, 0u);
}

// The id map a snapshot loads in one pass (IdMap::assign) finds every id and
// keeps growing, splitting and shrinking as one built id by id, at sizes on
// and around its bucket-count steps.
TEST(Snapshot, LoadedIdMapKeepsWorking) {
  IndexOptions o;
  o.dim = 4;
  o.max_buffer = 64;
  for (size_t n : {size_t(1), size_t(31), size_t(32), size_t(33), size_t(64), size_t(65), size_t(100), size_t(1500)}) {
    SCOPED_TRACE(n);
    auto ix = build(o, n, 12, false);
    const std::vector<uint8_t> bytes = snapshot(*ix);
    std::unique_ptr<Index> copy;
    ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 0, &copy).ok());
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(copy->slot_of("id-" + std::to_string(i)), ix->slot_of("id-" + std::to_string(i)));
    EXPECT_FALSE(copy->contains("id-" + std::to_string(n)));
    const testing::Matrix more = testing::random_matrix(70, o.dim, 13);
    for (size_t i = 0; i < more.rows; ++i) ASSERT_TRUE(copy->add("more-" + std::to_string(i), more.row(i), o.dim).ok());
    for (size_t i = 0; i < n; i += 3) ASSERT_TRUE(copy->remove("id-" + std::to_string(i)).ok());
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(copy->contains("id-" + std::to_string(i)), i % 3 != 0) << i;
    for (size_t i = 0; i < more.rows; ++i) ASSERT_TRUE(copy->contains("more-" + std::to_string(i))) << i;
    EXPECT_EQ(copy->add("id-1", more.row(0), o.dim).status, n > 1 ? Status::duplicate_id : Status::ok);
  }
}

// Two live slots with one id (checksum fixed up) are refused.
TEST(Snapshot, RepeatedIdsAreRejected) {
  IndexOptions o;
  o.dim = 4;
  auto ix = build(o, 40, 14, false);
  std::vector<uint8_t> bytes = snapshot(*ix);
  const std::string from = "id-12", to = "id-11";
  auto at = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
  ASSERT_NE(at, bytes.end());
  std::copy(to.begin(), to.end(), at);
  reseal(bytes);
  std::unique_ptr<Index> out;
  const Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &out);
  EXPECT_EQ(r.status, Status::corrupt_snapshot);
  EXPECT_NE(r.message.find("appears twice"), std::string::npos) << r.message;
  EXPECT_EQ(out, nullptr);
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
