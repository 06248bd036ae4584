// HybridIndex: an Index and a FullTextIndex kept in step by every write, one
// memory cap over both, and the snapshot that wraps the Index's own.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "hybrid.h"

namespace tabvec {
namespace {

constexpr uint32_t kDim = 4;

std::string terms(std::initializer_list<const char*> words) {
  std::string out;
  for (const char* w : words) out += std::string(w) + std::string(1, '\0');
  return out;
}

std::unique_ptr<HybridIndex> make(uint64_t cap = 0) {
  IndexOptions o;
  o.dim = kDim;
  o.max_memory_bytes = cap;
  std::unique_ptr<HybridIndex> h;
  EXPECT_TRUE(HybridIndex::create(o, TextOptions{}, &h).ok());
  return h;
}

std::vector<uint8_t> bytes_of(HybridIndex& h) {
  std::vector<uint8_t> out(h.serialize_start());
  EXPECT_EQ(h.serialize_write(out.data(), out.size()), out.size());
  return out;
}

Result load(const std::vector<uint8_t>& bytes, std::unique_ptr<HybridIndex>* out, size_t piece = 7) {
  HybridLoader loader;
  if (Result r = HybridLoader::start(bytes.size(), 0, &loader); !r.ok()) return r;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    if (Result r = loader.feed(bytes.data() + at, std::min(piece, bytes.size() - at)); !r.ok()) return r;
  }
  return loader.finish(out);
}

std::vector<std::string> ids_for(HybridIndex& h, const std::string& query) {
  PodVector<TextHit> hits;
  EXPECT_TRUE(h.search_text(query, 100, {}, &hits).ok());
  std::vector<std::string> ids;
  for (const TextHit& hit : hits) ids.emplace_back(h.index().id_of(hit.slot));
  return ids;
}

const float kVector[kDim] = {1, 2, 3, 4};

TEST(Hybrid, TextFollowsItsIdThroughEveryWrite) {
  auto h = make();
  const std::string a = terms({"offline", "cache"}), b = terms({"keyboard", "table"});
  ASSERT_TRUE(h->add("a", kVector, kDim, {}, {a, true}, nullptr).ok());
  ASSERT_TRUE(h->add("b", kVector, kDim, {}, {b, true}, nullptr).ok());
  ASSERT_TRUE(h->add("c", kVector, kDim, {}, {}, nullptr).ok());  // no text
  EXPECT_EQ(ids_for(*h, terms({"offline"})), std::vector<std::string>{"a"});
  EXPECT_EQ(h->text().size(), 2u);
  // A failed write changes neither half.
  const std::vector<uint8_t> before = bytes_of(*h);
  EXPECT_EQ(h->add("a", kVector, kDim, {}, {b, true}, nullptr).status, Status::duplicate_id);
  EXPECT_EQ(h->add("d", kVector, kDim - 1, {}, {b, true}, nullptr).status, Status::dimension_mismatch);
  EXPECT_EQ(h->add("d", kVector, kDim, {}, {std::string_view("no zero", 7), true}, nullptr).status, Status::invalid_argument);
  EXPECT_EQ(h->upsert("a", kVector, kDim - 1, {}, {b, true}, nullptr).status, Status::dimension_mismatch);
  EXPECT_EQ(h->remove("zzz").status, Status::unknown_id);
  EXPECT_TRUE(bytes_of(*h) == before);
  // Upsert replaces the text, or removes it when none is given.
  ASSERT_TRUE(h->upsert("a", kVector, kDim, {}, {terms({"quokka"}), true}, nullptr).ok());
  EXPECT_TRUE(ids_for(*h, terms({"offline"})).empty());
  EXPECT_EQ(ids_for(*h, terms({"quokka"})), std::vector<std::string>{"a"});
  ASSERT_TRUE(h->upsert("b", kVector, kDim, {}, {}, nullptr).ok());
  EXPECT_TRUE(ids_for(*h, terms({"keyboard"})).empty());
  ASSERT_TRUE(h->remove("a").ok());
  EXPECT_TRUE(ids_for(*h, terms({"quokka"})).empty());
  EXPECT_EQ(h->text().size(), 0u);
  // Slots freed by consolidation are reused without an old text.
  ConsolidateReport report;
  ASSERT_TRUE(h->consolidate(&report).ok());
  ASSERT_TRUE(h->add("e", kVector, kDim, {}, {terms({"fresh"}), true}, nullptr).ok());
  EXPECT_EQ(ids_for(*h, terms({"fresh"})), std::vector<std::string>{"e"});
  EXPECT_TRUE(ids_for(*h, terms({"quokka"})).empty());
}

TEST(Hybrid, AFailedWriteLeavesNothingPrepared) {
  // A write refused after its text was prepared must not change how a later
  // removal of the newest document behaves: it is taken back whole, so the
  // store is byte for byte as before that document, as in a copy that never
  // saw the failed write (another tab replaying the journal).
  auto h = make();
  auto copy = make();
  const std::string a = terms({"alpha"}), b = terms({"beta"});
  for (HybridIndex* x : {h.get(), copy.get()}) ASSERT_TRUE(x->add("a", kVector, kDim, {}, {a, true}, nullptr).ok());
  const std::vector<uint8_t> before = bytes_of(*h);
  // Valid text and vector, so the text is prepared; refused by the Index at its own cap check.
  h->index().set_max_memory_bytes(1);
  EXPECT_FALSE(h->add("b", kVector, kDim, {}, {b, true}, nullptr).ok());
  h->index().set_max_memory_bytes(0);
  EXPECT_TRUE(bytes_of(*h) == before);
  // "a" is the newest document in both: removing it takes it back whole in both.
  for (HybridIndex* x : {h.get(), copy.get()}) ASSERT_TRUE(x->remove("a").ok());
  EXPECT_EQ(h->text().removed(), 0u);
  EXPECT_TRUE(bytes_of(*h) == bytes_of(*copy));
}

TEST(Hybrid, BatchWithABadTextAddsNothing) {
  auto h = make();
  const std::vector<uint8_t> before = bytes_of(*h);
  const std::string_view ids[] = {"x", "y"};
  const float vectors[2 * kDim] = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::string good = terms({"fine"});
  const DocumentText texts[] = {{good, true}, {std::string_view("bad", 3), true}};
  EXPECT_EQ(h->add_batch(2, ids, vectors, 2 * kDim, nullptr, texts, true, nullptr).status, Status::invalid_argument);
  EXPECT_TRUE(bytes_of(*h) == before);
  const DocumentText fine[] = {{good, true}, {}};
  ASSERT_TRUE(h->add_batch(2, ids, vectors, 2 * kDim, nullptr, fine, true, nullptr).ok());
  EXPECT_EQ(ids_for(*h, terms({"fine"})), std::vector<std::string>{"x"});
}

TEST(Hybrid, OneCapCoversVectorsAndText) {
  constexpr uint64_t kCap = 300'000;
  auto h = make(kCap);
  size_t added = 0;
  Result r;
  for (; added < 10'000; ++added) {
    // New words in every document, so the vocabulary keeps growing.
    std::string text;
    for (int i = 0; i < 50; ++i) text += "w" + std::to_string(added * 50 + i) + std::string(1, '\0');
    r = h->add("id" + std::to_string(added), kVector, kDim, {}, {text, true}, nullptr);
    if (!r.ok()) break;
  }
  EXPECT_EQ(r.status, Status::memory_cap_exceeded) << r.message;
  EXPECT_GT(added, 0u);
  EXPECT_EQ(h->index().size(), added);
  EXPECT_EQ(h->text().size(), added);
  EXPECT_LE(h->index().memory().total_reserved() + h->text_memory().reserved, kCap);
  // Vectors without text fit in what is left, or are refused: never past the cap.
  for (int i = 0; i < 1000; ++i) {
    const Result more = h->add("more" + std::to_string(i), kVector, kDim, {}, {}, nullptr);
    if (!more.ok()) {
      EXPECT_EQ(more.status, Status::memory_cap_exceeded);
      break;
    }
  }
  EXPECT_LE(h->index().memory().total_reserved() + h->text_memory().reserved, kCap);
  // Removing and consolidating (the text index rebuilt) stays under it too, or is refused.
  for (size_t i = 0; i < added; i += 2) ASSERT_TRUE(h->remove("id" + std::to_string(i)).ok());
  ConsolidateReport report;
  const Result c = h->consolidate(&report);
  EXPECT_TRUE(c.ok() || c.status == Status::memory_cap_exceeded) << c.message;
  EXPECT_LE(h->index().memory().total_reserved() + h->text_memory().reserved, kCap);
  EXPECT_EQ(h->text().size(), added / 2);
}

TEST(Hybrid, SnapshotRoundTripsAndRefusesDamage) {
  auto h = make();
  for (int i = 0; i < 50; ++i) {
    const std::string t = terms({"common", i % 2 ? "odd" : "even"}) + "n" + std::to_string(i) + std::string(1, '\0');
    ASSERT_TRUE(h->add("id" + std::to_string(i), kVector, kDim, "{\"i\":1}", {t, i % 7 != 0}, nullptr).ok());
  }
  for (int i = 0; i < 50; i += 5) ASSERT_TRUE(h->remove("id" + std::to_string(i)).ok());
  const std::vector<uint8_t> bytes = bytes_of(*h);
  ASSERT_EQ(std::memcmp(bytes.data(), kHybridMagic, 8), 0);
  // Written in pieces of any size (streamed from both halves), the same bytes.
  for (const size_t piece : {size_t(1), size_t(13), size_t(4096)}) {
    std::vector<uint8_t> pieces(h->serialize_start());
    ASSERT_EQ(pieces.size(), bytes.size());
    for (size_t at = 0; at < pieces.size();) {
      const size_t n = h->serialize_write(pieces.data() + at, std::min(piece, pieces.size() - at));
      ASSERT_GT(n, 0u) << "stopped at " << at;
      at += n;
    }
    EXPECT_EQ(h->serialize_write(pieces.data(), 1), 0u);
    EXPECT_TRUE(pieces == bytes) << "pieces of " << piece;
  }
  std::unique_ptr<HybridIndex> copy;
  ASSERT_TRUE(load(bytes, &copy).ok());
  EXPECT_TRUE(bytes_of(*copy) == bytes);
  EXPECT_EQ(ids_for(*copy, terms({"odd"})), ids_for(*h, terms({"odd"})));
  // Every single-byte change is refused (the checksum covers every byte).
  for (size_t at = 0; at < bytes.size(); at += 3) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x41;
    std::unique_ptr<HybridIndex> out;
    EXPECT_FALSE(load(bad, &out).ok()) << "byte " << at;
  }
  // Cut short, or longer than stated.
  std::unique_ptr<HybridIndex> out;
  EXPECT_EQ(load(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), &out).status, Status::corrupt_snapshot);
  {
    HybridLoader loader;
    ASSERT_TRUE(HybridLoader::start(bytes.size(), 0, &loader).ok());
    ASSERT_TRUE(loader.feed(bytes.data(), bytes.size()).ok());
    EXPECT_EQ(loader.feed(bytes.data(), 1).status, Status::corrupt_snapshot);
  }
  // A later format is refused as such, before anything else is trusted.
  std::vector<uint8_t> later = bytes;
  const uint32_t version = kHybridVersion + 1;
  std::memcpy(later.data() + offsetof(HybridHeader, version), &version, 4);
  EXPECT_EQ(load(later, &out).status, Status::unsupported_version);
  // A plain Index snapshot is not a hybrid one.
  std::vector<uint8_t> plain(SnapshotWriter().start(h->index()));
  SnapshotWriter w;
  ASSERT_EQ(w.start(h->index()), plain.size());
  ASSERT_EQ(w.write(plain.data(), plain.size()), plain.size());
  EXPECT_EQ(load(plain, &out).status, Status::corrupt_snapshot);
}

}  // namespace
}  // namespace tabvec
