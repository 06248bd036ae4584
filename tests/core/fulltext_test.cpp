// FullTextIndex against a model written out here: BM25 computed the
// textbook way over plain maps, top-k by sorting every document.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fulltext.h"
#include "fulltext_corpus.h"

namespace tabvec {
namespace {

using testing::joined;
using Terms = std::vector<std::string>;

// What the index should hold: live documents by slot, and the removed ones
// whose postings it keeps (in the statistics) until cleanup(), except the
// newest document added since the last cleanup, which remove() takes back whole.
struct Model {
  std::map<uint32_t, Terms> live;
  std::vector<Terms> removed;
  std::vector<uint32_t> added;  // slots in the order they were given documents since the last cleanup

  void add(uint32_t slot, const Terms& terms) {
    live[slot] = terms;
    added.push_back(slot);
  }
  uint32_t main_end = 0;  // main's documents are below this slot (the last live slot at cleanup, + 1)
  void remove(uint32_t slot) {
    if (!added.empty() && added.back() == slot && slot >= main_end &&
        std::count(added.begin(), added.end(), slot) == 1) {
      added.pop_back();
    } else {
      removed.push_back(live.at(slot));
    }
    live.erase(slot);
  }
  void cleanup() {
    removed.clear();
    added.clear();
    main_end = live.empty() ? 0 : live.rbegin()->first + 1;
  }

  // Lucene's BM25: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), each query
  // term once, summed in the order the terms first appear in the query.
  std::vector<TextHit> search(const Terms& query, uint32_t k, double k1, double b,
                              const std::function<bool(uint32_t)>& accept = nullptr) const {
    std::vector<const Terms*> held;
    for (const auto& [slot, terms] : live) held.push_back(&terms);
    for (const Terms& terms : removed) held.push_back(&terms);
    double n = double(held.size()), total = 0;
    for (const Terms* t : held) total += double(t->size());
    if (n == 0) return {};
    const double avgdl = total / n;
    Terms distinct;
    for (const std::string& q : query)
      if (std::find(distinct.begin(), distinct.end(), q) == distinct.end()) distinct.push_back(q);
    std::vector<double> idf;
    for (const std::string& q : distinct) {
      double df = 0;
      for (const Terms* t : held) df += std::find(t->begin(), t->end(), q) != t->end() ? 1 : 0;
      idf.push_back(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
    }
    std::vector<TextHit> hits;
    for (const auto& [slot, terms] : live) {
      double score = 0;
      bool any = false;
      for (size_t i = 0; i < distinct.size(); ++i) {
        const double tf = double(std::count(terms.begin(), terms.end(), distinct[i]));
        if (tf == 0) continue;
        any = true;
        score += idf[i] * (tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * double(terms.size()) / avgdl)));
      }
      if (any && (!accept || accept(slot))) hits.push_back({slot, float(score)});
    }
    std::sort(hits.begin(), hits.end(), better);
    if (hits.size() > k) hits.resize(k);
    return hits;
  }
};

std::vector<TextHit> run(FullTextIndex& ix, const Terms& query, TextSearchParams params, TextSearchStats* stats = nullptr) {
  PodVector<TextHit> out;
  const Result r = ix.search(joined(query), params, &out, stats);
  EXPECT_TRUE(r.ok()) << r.message;
  return std::vector<TextHit>(out.begin(), out.end());
}

std::string describe(const std::vector<TextHit>& hits) {
  std::string s;
  for (const TextHit& h : hits) s += std::to_string(h.slot) + ":" + std::to_string(h.score) + " ";
  return s;
}

bool same(const std::vector<TextHit>& a, const std::vector<TextHit>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].slot != b[i].slot || a[i].score != b[i].score) return false;
  return true;
}

std::vector<uint8_t> bytes_of(const FullTextIndex& ix) {
  std::vector<uint8_t> out(ix.serialized_size());
  ix.serialize(out.data());
  return out;
}

class FullText : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    docs_ = testing::demo_documents(TABVEC_SOURCE_DIR);
    queries_ = testing::demo_queries(TABVEC_SOURCE_DIR);
    ASSERT_EQ(docs_.size(), 778u);
    ASSERT_EQ(queries_.size(), 69u);
    // More queries: pairs and triples of a document's terms (frequent and
    // rare ones), single terms, and terms no document has.
    std::mt19937 rng(14);
    for (int i = 0; i < 120; ++i) {
      const Terms& d = docs_[rng() % docs_.size()];
      Terms q;
      for (int j = 0, n = 1 + i % 4; j < n && !d.empty(); ++j) q.push_back(d[rng() % d.size()]);
      if (i % 10 == 0) q.push_back("zzznotaterm");
      queries_.push_back(q);
    }
    for (const char* common : {"the", "sap", "fiori", "and the", "to of a", "ui5 annotation app"})
      queries_.push_back(testing::tokenize(common));
  }
  static std::vector<Terms> docs_;
  static std::vector<Terms> queries_;

  // Every query at several k and BM25 settings, against the model.
  void expect_matches(FullTextIndex& ix, const Model& model, size_t stride = 1) {
    const struct { float k1, b; } settings[] = {{1.2f, 0.75f}, {0.0f, 0.0f}, {2.0f, 1.0f}, {0.5f, 0.3f}};
    size_t checked = 0;
    for (size_t qi = 0; qi < queries_.size(); qi += stride) {
      for (const uint32_t k : {1u, 10u, 100u}) {
        const auto& s = settings[(qi + k) % 4];
        TextSearchParams p;
        p.k = k;
        p.k1 = s.k1;
        p.b = s.b;
        const std::vector<TextHit> got = run(ix, queries_[qi], p);
        const std::vector<TextHit> want = model.search(queries_[qi], k, s.k1, s.b);
        ASSERT_TRUE(same(got, want)) << "query " << qi << " k " << k << "\n got  " << describe(got) << "\n want "
                                     << describe(want);
        ++checked;
      }
    }
    EXPECT_GT(checked, 0u);
  }
};
std::vector<Terms> FullText::docs_;
std::vector<Terms> FullText::queries_;

TEST_F(FullText, Bm25AndTopKEqualTheReferenceOnTheDemoCorpus) {
  FullTextIndex ix;
  Model model;
  for (size_t i = 0; i < docs_.size(); ++i) {
    ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
    model.add(uint32_t(i), docs_[i]);
  }
  EXPECT_EQ(ix.size(), docs_.size());
  expect_matches(ix, model);  // all in the delta
  ASSERT_TRUE(ix.cleanup().ok());
  expect_matches(ix, model);  // all in main blocks, with skipping
}

TEST_F(FullText, SkippingGivesTheSameAnswerFromFewerPostings) {
  FullTextIndex ix;
  for (size_t i = 0; i < docs_.size(); ++i) ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
  ASSERT_TRUE(ix.cleanup().ok());
  uint64_t scored_skip = 0, scored_all = 0, decoded_skip = 0, decoded_all = 0, postings = 0;
  for (const Terms& q : queries_) {
    TextSearchParams p;
    TextSearchStats with, without;
    const std::vector<TextHit> a = run(ix, q, p, &with);
    p.skip = false;
    const std::vector<TextHit> b = run(ix, q, p, &without);
    ASSERT_TRUE(same(a, b)) << describe(a) << "\n" << describe(b);
    EXPECT_EQ(with.postings, without.postings);
    EXPECT_EQ(without.decoded, without.postings);
    EXPECT_LE(with.scored, without.scored);
    scored_skip += with.scored, scored_all += without.scored;
    decoded_skip += with.decoded, decoded_all += without.decoded;
    postings += with.postings;
  }
  EXPECT_LT(scored_skip * 2, scored_all) << "skipping should save more than half the scoring on these queries";
  std::printf("[ fulltext ] k=10: scored %.3f of postings with skipping, %.3f without; decoded %.3f\n",
              double(scored_skip) / postings, double(scored_all) / postings, double(decoded_skip) / decoded_all);
}

TEST_F(FullText, RemovesAndCleanupLeaveWhatABuildFromScratchHolds) {
  FullTextIndex ix;
  Model model;
  std::mt19937 rng(7);
  const size_t n = 400;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
    model.add(uint32_t(i), docs_[i]);
  }
  ASSERT_TRUE(ix.cleanup().ok());
  // Churn: removes (of main and delta documents), slots given new documents
  // before and after a cleanup, upserts (remove + add on the same slot).
  size_t next_doc = n;
  for (int round = 0; round < 3; ++round) {
    for (int j = 0; j < 60; ++j) {
      const uint32_t slot = uint32_t(rng() % (n + 40));
      if (model.live.count(slot)) {
        ASSERT_TRUE(ix.remove(slot).ok());
        model.remove(slot);
        if (j % 3 == 0) {  // upsert
          const Terms& d = docs_[next_doc++ % docs_.size()];
          ASSERT_TRUE(ix.add(slot, joined(d)).ok());
          model.add(slot, d);
        }
      } else {
        const Terms& d = docs_[next_doc++ % docs_.size()];
        ASSERT_TRUE(ix.add(slot, joined(d)).ok());
        model.add(slot, d);
      }
    }
    // Before cleanup, removed documents still count in the statistics.
    EXPECT_EQ(ix.size(), model.live.size());
    EXPECT_EQ(ix.removed(), model.removed.size());
    expect_matches(ix, model, 3);
    if (round < 2) {
      ASSERT_TRUE(ix.cleanup().ok());
      model.cleanup();
      expect_matches(ix, model, 3);
    }
  }
  ASSERT_TRUE(ix.cleanup().ok());
  model.cleanup();
  EXPECT_EQ(ix.removed(), 0u);
  // Built from scratch from the live documents, in another order.
  FullTextIndex scratch;
  std::vector<uint32_t> slots;
  for (const auto& [slot, terms] : model.live) slots.push_back(slot);
  std::shuffle(slots.begin(), slots.end(), rng);
  for (const uint32_t slot : slots) ASSERT_TRUE(scratch.add(slot, joined(model.live[slot])).ok());
  ASSERT_TRUE(scratch.cleanup().ok());
  for (const Terms& q : queries_) {
    TextSearchParams p;
    p.k = 20;
    ASSERT_TRUE(same(run(ix, q, p), run(scratch, q, p)));
  }
  EXPECT_EQ(ix.vocabulary(), scratch.vocabulary());
  EXPECT_TRUE(bytes_of(ix) == bytes_of(scratch)) << "after cleanup the index is the same bytes as one built from scratch";
}

TEST_F(FullText, FilterKeepsOnlyAcceptedSlots) {
  FullTextIndex ix;
  Model model;
  for (size_t i = 0; i < docs_.size(); ++i) {
    ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
    model.add(uint32_t(i), docs_[i]);
  }
  for (const bool clean : {false, true}) {
    if (clean) {
      ASSERT_TRUE(ix.cleanup().ok());
    }
    struct Count {
      size_t calls = 0;
      std::set<uint32_t> seen;
      bool repeated = false;
    } count;
    for (size_t qi = 0; qi < queries_.size(); qi += 2) {
      count.seen.clear();
      TextSearchParams p;
      p.k = 10;
      p.filter.context = &count;
      p.filter.accept = [](void* c, uint32_t slot) {
        auto* count = static_cast<Count*>(c);
        ++count->calls;
        if (!count->seen.insert(slot).second) count->repeated = true;
        return slot % 3 == 0;
      };
      const std::vector<TextHit> got = run(ix, queries_[qi], p);
      const std::vector<TextHit> want = model.search(queries_[qi], 10, 1.2f, 0.75f, [](uint32_t s) { return s % 3 == 0; });
      ASSERT_TRUE(same(got, want)) << describe(got) << "\n" << describe(want);
      EXPECT_FALSE(count.repeated) << "the filter is asked once per document";
    }
    EXPECT_GT(count.calls, 0u);
  }
}

TEST_F(FullText, CleanupBecomesDueWithTheDeltaAndRemovals) {
  FullTextIndex ix;
  EXPECT_FALSE(ix.cleanup_due());
  for (uint32_t i = 0; i < 64; ++i) ASSERT_TRUE(ix.add(i, joined(docs_[i])).ok());
  EXPECT_FALSE(ix.cleanup_due());  // a small delta is cheap to scan
  for (uint32_t i = 64; i < 400; ++i) ASSERT_TRUE(ix.add(i, joined(docs_[i])).ok());
  EXPECT_TRUE(ix.cleanup_due());
  ASSERT_TRUE(ix.cleanup().ok());
  EXPECT_FALSE(ix.cleanup_due());
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(ix.remove(i).ok());
  EXPECT_TRUE(ix.cleanup_due()) << "a quarter of the documents removed";
  ASSERT_TRUE(ix.cleanup().ok());
  EXPECT_FALSE(ix.cleanup_due());
  EXPECT_EQ(ix.size(), 300u);
}

TEST_F(FullText, EmptyDocumentsAndQueries) {
  FullTextIndex ix;
  ASSERT_TRUE(ix.add(3, "").ok());  // a document without terms counts as one
  ASSERT_TRUE(ix.add(5, joined({"a", "b", "a"})).ok());
  EXPECT_TRUE(ix.has(3));
  EXPECT_EQ(ix.length(5), 3u);
  Model model;
  model.add(3, {});
  model.add(5, {"a", "b", "a"});
  for (const bool clean : {false, true}) {
    if (clean) {
      ASSERT_TRUE(ix.cleanup().ok());
    }
    EXPECT_TRUE(run(ix, {}, {}).empty());
    EXPECT_TRUE(run(ix, {"zz"}, {}).empty());
    EXPECT_TRUE(same(run(ix, {"a", "a", "b"}, {}), model.search({"a", "a", "b"}, 10, 1.2, 0.75)));
  }
  FullTextIndex none;
  EXPECT_TRUE(run(none, {"a"}, {}).empty());
  EXPECT_TRUE(none.cleanup().ok());
}

// Found by the fuzzer: a query term with postings only in the delta left its
// part of a delta document's score behind for the main documents after it.
TEST_F(FullText, TermsOnlyInTheDeltaAddNothingToMainDocuments) {
  FullTextIndex ix;
  Model model;
  ASSERT_TRUE(ix.add(31, joined({"fiori"})).ok());
  model.add(31, {"fiori"});
  ASSERT_TRUE(ix.cleanup().ok());
  ASSERT_TRUE(ix.add(0, joined({"a"})).ok());
  model.add(0, {"a"});
  for (const bool skip : {false, true}) {
    TextSearchParams p;
    p.k = 1;
    p.k1 = 0;
    p.b = 0.5f;
    p.skip = skip;
    EXPECT_TRUE(same(run(ix, {"a", "fiori"}, p), model.search({"a", "fiori"}, 1, 0, 0.5))) << skip;
    p.k = 2;
    EXPECT_TRUE(same(run(ix, {"a", "fiori"}, p), model.search({"a", "fiori"}, 2, 0, 0.5))) << skip;
  }
}

// Blocks keep their largest tf in a byte and smallest length in 16 bits,
// saturating; the bounds must still hold beyond both.
TEST_F(FullText, SaturatedBlockBoundsStillBound) {
  FullTextIndex ix;
  Model model;
  std::mt19937 rng(255);
  for (uint32_t slot = 0; slot < 300; ++slot) {
    Terms d = docs_[slot];
    if (slot % 7 == 0) d.insert(d.end(), 250 + rng() % 20, "repeat");  // tf around the byte's limit
    if (slot % 11 == 0) d.insert(d.end(), 2 + rng() % 5, "repeat");
    if (slot % 50 == 0) d.insert(d.end(), 66000, "filler");  // longer than 16 bits
    ASSERT_TRUE(ix.add(slot, joined(d)).ok());
    model.add(slot, d);
  }
  ASSERT_TRUE(ix.cleanup().ok());
  for (const Terms& q : {Terms{"repeat"}, Terms{"repeat", "filler"}, Terms{"filler", "the"}, Terms{"repeat", "sap", "app"}})
    for (const uint32_t k : {1u, 5u, 40u})
      for (const float k1 : {0.0f, 1.2f, 50.0f}) {
        TextSearchParams p;
        p.k = k;
        p.k1 = k1;
        ASSERT_TRUE(same(run(ix, q, p), model.search(q, k, k1, 0.75))) << q[0] << " k " << k << " k1 " << k1;
      }
  const std::vector<uint8_t> bytes = bytes_of(ix);
  FullTextIndex copy;
  ASSERT_TRUE(copy.deserialize(bytes.data(), bytes.size()).ok());
}

TEST_F(FullText, BadInputIsRefusedAndChangesNothing) {
  FullTextIndex ix;
  ASSERT_TRUE(ix.add(0, joined({"alpha", "beta"})).ok());
  std::vector<uint8_t> before = bytes_of(ix);
  auto status_of_add = [&](uint32_t slot, std::string_view terms) { return ix.add(slot, terms).status; };
  EXPECT_EQ(status_of_add(1, std::string_view("alpha", 5)), Status::invalid_argument);  // no final 0
  EXPECT_EQ(status_of_add(1, std::string_view("\0alpha\0", 7)), Status::invalid_argument);  // empty term
  EXPECT_EQ(status_of_add(1, std::string_view("a\0\0b\0", 5)), Status::invalid_argument);
  EXPECT_EQ(status_of_add(1, std::string(kMaxTermBytes + 1, 'x') + '\0'), Status::invalid_argument);
  EXPECT_TRUE(bytes_of(ix) == before);
  EXPECT_TRUE(ix.add(9, std::string(kMaxTermBytes, 'x') + '\0').ok());
  ASSERT_TRUE(ix.remove(9).ok());
  ASSERT_TRUE(ix.cleanup().ok());
  before = bytes_of(ix);
  EXPECT_EQ(status_of_add(1, std::string("caf\xC3", 4) + '\0'), Status::invalid_argument);  // cut UTF-8
  EXPECT_EQ(status_of_add(1, std::string("\xED\xA0\x80") + '\0'), Status::invalid_argument);  // a surrogate
  EXPECT_EQ(status_of_add(kMaxTextSlots, joined({"a"})), Status::invalid_argument);
  EXPECT_EQ(status_of_add(0, joined({"gamma"})), Status::duplicate_id);
  EXPECT_EQ(ix.remove(1).status, Status::unknown_id);
  EXPECT_EQ(ix.remove(kMaxTextSlots - 1).status, Status::unknown_id);
  const Result many = ix.add(1, joined(Terms(kMaxDocumentTerms + 1, "w")));
  EXPECT_EQ(many.status, Status::invalid_argument) << many.message;
  EXPECT_NE(many.message.find(std::to_string(kMaxDocumentTerms)), std::string::npos) << many.message;

  PodVector<TextHit> out;
  TextSearchParams p;
  EXPECT_EQ(ix.search(joined(Terms(kMaxQueryTerms + 1, "alpha")), p, &out).status, Status::invalid_argument);
  EXPECT_TRUE(ix.search(joined(Terms(kMaxQueryTerms, "alpha")), p, &out).ok());
  EXPECT_EQ(ix.search(std::string_view("alpha", 5), p, &out).status, Status::invalid_argument);
  for (const uint32_t k : {0u, kMaxTextK + 1}) {
    p = {};
    p.k = k;
    EXPECT_EQ(ix.search(joined({"alpha"}), p, &out).status, Status::invalid_argument) << k;
  }
  for (const float k1 : {-0.1f, kMaxBm25K1 * 2, NAN, INFINITY}) {
    p = {};
    p.k1 = k1;
    EXPECT_EQ(ix.search(joined({"alpha"}), p, &out).status, Status::invalid_argument) << k1;
  }
  for (const float b : {-0.1f, 1.1f, NAN}) {
    p = {};
    p.b = b;
    EXPECT_EQ(ix.search(joined({"alpha"}), p, &out).status, Status::invalid_argument) << b;
  }
  EXPECT_TRUE(bytes_of(ix) == before);
}

TEST_F(FullText, MemoryCapIsAskedBeforeReservingAndRefusesWholeOperations) {
  struct Cap {
    const FullTextIndex* ix;
    uint64_t cap;
  };
  FullTextIndex ix;
  Cap cap{&ix, 0};
  ix.set_memory_check({[](void* c, uint64_t extra) {
                         const auto* cap = static_cast<Cap*>(c);
                         const uint64_t reserved = cap->ix->memory().reserved;
                         if (reserved + extra <= cap->cap) return Result::success();
                         return Result::failure(Status::memory_cap_exceeded, "over the cap");
                       },
                       &cap});
  cap.cap = 1u << 30;
  for (size_t i = 0; i < 200; ++i) ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
  const TextMemoryUse m = ix.memory();
  EXPECT_GT(m.used, 0u);
  EXPECT_LE(m.used, m.reserved);
  cap.cap = m.reserved;  // no room for the worst case of anything more
  const std::vector<uint8_t> before = bytes_of(ix);
  EXPECT_EQ(ix.add(500, joined(docs_[500])).status, Status::memory_cap_exceeded);
  EXPECT_EQ(ix.add(500, std::string_view("no final zero", 13)).status, Status::invalid_argument)
      << "bad input is refused as such before any memory is asked for";
  EXPECT_EQ(ix.cleanup().status, Status::memory_cap_exceeded);
  EXPECT_TRUE(bytes_of(ix) == before);
  EXPECT_EQ(ix.memory().reserved, m.reserved);
  FullTextIndex other;
  other.set_memory_check({[](void*, uint64_t) { return Result::failure(Status::memory_cap_exceeded, "none"); }, nullptr});
  EXPECT_EQ(other.deserialize(before.data(), before.size()).status, Status::memory_cap_exceeded);
  cap.cap = 1u << 30;
  ASSERT_TRUE(ix.cleanup().ok());
  // The postings are compact: a few bytes each, blocks' metadata included.
  size_t postings = 0;
  for (size_t i = 0; i < 200; ++i) postings += std::set<std::string>(docs_[i].begin(), docs_[i].end()).size();
  const TextMemoryUse after = ix.memory();
  std::printf("[ fulltext ] 200 documents, %zu postings: %zu bytes used, %zu reserved\n", postings, after.used,
              after.reserved);
  // Per distinct term the vocabulary and a block record (~50 bytes) dominate a corpus this small.
  EXPECT_LT(after.used, postings * 10);
}

TEST_F(FullText, SerializeRoundTripsInEveryState) {
  FullTextIndex ix;
  Model model;
  for (size_t i = 0; i < 300; ++i) {
    ASSERT_TRUE(ix.add(uint32_t(i * 2), joined(docs_[i])).ok());
    model.add(uint32_t(i * 2), docs_[i]);
  }
  auto round_trip = [&](const char* state) {
    SCOPED_TRACE(state);
    const std::vector<uint8_t> bytes = bytes_of(ix);
    FullTextIndex copy;
    const Result r = copy.deserialize(bytes.data(), bytes.size());
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_TRUE(bytes_of(copy) == bytes);
    EXPECT_EQ(copy.size(), ix.size());
    EXPECT_EQ(copy.removed(), ix.removed());
    for (size_t qi = 0; qi < queries_.size(); qi += 5) {
      TextSearchParams p;
      p.k = 15;
      ASSERT_TRUE(same(run(copy, queries_[qi], p), run(ix, queries_[qi], p)));
    }
    expect_matches(copy, model, 7);
  };
  round_trip("delta only");
  ASSERT_TRUE(ix.cleanup().ok());
  round_trip("main only");
  for (uint32_t s = 0; s < 600; s += 7)
    if (model.live.count(s)) {
      ASSERT_TRUE(ix.remove(s).ok());
      model.remove(s);
    }
  for (size_t i = 300; i < 340; ++i) {
    ASSERT_TRUE(ix.add(uint32_t(i * 2), joined(docs_[i])).ok());
    model.add(uint32_t(i * 2), docs_[i]);
  }
  ASSERT_TRUE(ix.remove(602).ok());
  model.remove(602);
  ASSERT_TRUE(ix.add(602, joined(docs_[700])).ok());  // a slot removed from the delta, given a new document
  model.add(602, docs_[700]);
  ASSERT_TRUE(ix.add(14, joined(docs_[701])).ok());  // a slot removed from main, given a new document
  model.add(14, docs_[701]);
  round_trip("main, delta and removed documents");
  FullTextIndex empty;
  const std::vector<uint8_t> none = bytes_of(empty);
  ASSERT_TRUE(ix.deserialize(none.data(), none.size()).ok());
  EXPECT_EQ(ix.size(), 0u);
}

// Every truncation and many single-byte changes of a small section: refused
// with corrupt_snapshot / unsupported_version, or (a change the format cannot
// tell from a real index) loaded as an index that works and writes back the
// same bytes. ASan/UBSan runs make "never UB" a checked claim.
TEST_F(FullText, CorruptSectionsAreRefused) {
  FullTextIndex ix;
  for (size_t i = 0; i < 12; ++i) ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
  ASSERT_TRUE(ix.cleanup().ok());
  for (size_t i = 12; i < 16; ++i) ASSERT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
  ASSERT_TRUE(ix.remove(3).ok());
  ASSERT_TRUE(ix.remove(13).ok());
  const std::vector<uint8_t> good = bytes_of(ix);
  const std::vector<uint8_t> empty_bytes = bytes_of(FullTextIndex());
  FullTextIndex target;
  for (size_t len = 0; len < good.size(); ++len) {
    const Result r = target.deserialize(good.data(), len);
    ASSERT_EQ(r.status, Status::corrupt_snapshot) << len;
    EXPECT_TRUE(bytes_of(target) == empty_bytes) << "a refused section left the index changed";
  }
  std::vector<uint8_t> v = good;
  v[4] = 2;
  EXPECT_EQ(target.deserialize(v.data(), v.size()).status, Status::unsupported_version);
  // A block whose first slot is near 2^32, so that adding its deltas wraps
  // around to its last slot: refused, not read as slots far out of range.
  {
    FullTextIndex two;
    ASSERT_TRUE(two.add(0, joined({"w"})).ok());
    ASSERT_TRUE(two.add(1, joined({"w"})).ok());
    ASSERT_TRUE(two.cleanup().ok());
    std::vector<uint8_t> wrap = bytes_of(two);
    // Header 64, states 2, lengths 8, term length 1, term 1, term blocks 4: the block record.
    const size_t record = 64 + 2 + 8 + 1 + 1 + 4;
    const uint32_t first = 0xFFFFFFFFu;
    std::memcpy(wrap.data() + record, &first, 4);  // its postings: delta 0, then delta 1 -> slot 0 again
    uint32_t last = 0;
    std::memcpy(&last, wrap.data() + record + 4, 4);
    ASSERT_EQ(last, 1u);
    std::memcpy(wrap.data() + record + 4, &(last = 0), 4);
    EXPECT_EQ(target.deserialize(wrap.data(), wrap.size()).status, Status::corrupt_snapshot);
  }
  std::mt19937 rng(3);
  size_t refused = 0, loaded = 0;
  for (size_t trial = 0; trial < 6000; ++trial) {
    std::vector<uint8_t> bad = good;
    const size_t at = trial < good.size() ? trial : rng() % good.size();
    const uint8_t flips[] = {0x01, 0x80, 0xFF, uint8_t(rng())};
    bad[at] ^= flips[trial % 4] ? flips[trial % 4] : 1;
    FullTextIndex copy;
    const Result r = copy.deserialize(bad.data(), bad.size());
    if (!r.ok()) {
      ASSERT_TRUE(r.status == Status::corrupt_snapshot || r.status == Status::unsupported_version) << r.message;
      ++refused;
      continue;
    }
    ++loaded;
    EXPECT_TRUE(bytes_of(copy) == bad);
    for (size_t qi = 0; qi < 10; ++qi) run(copy, queries_[qi], {});
    EXPECT_TRUE(copy.add(40, joined(docs_[40])).ok());
    EXPECT_TRUE(copy.cleanup().ok());
    for (size_t qi = 0; qi < 10; ++qi) run(copy, queries_[qi], {});
  }
  // Every 4 bytes, at every offset, set to values at the edges of a count,
  // a slot or a length: what a forged section would try. On a small
  // section of every part (main, delta, removed, a reused slot).
  FullTextIndex small;
  for (uint32_t i = 0; i < 6; ++i) {
    const Terms d(docs_[i].begin(), docs_[i].begin() + std::min<size_t>(docs_[i].size(), 8 + i));
    ASSERT_TRUE(small.add(i, joined(d)).ok());
    if (i == 3) {
      ASSERT_TRUE(small.cleanup().ok());
    }
  }
  ASSERT_TRUE(small.remove(1).ok());
  ASSERT_TRUE(small.remove(4).ok());
  ASSERT_TRUE(small.add(1, joined({"sap", "sap", "new"})).ok());
  const std::vector<uint8_t> small_bytes = bytes_of(small);
  for (size_t at = 0; at + 4 <= small_bytes.size(); ++at) {
    for (const uint32_t value : {0u, 1u, 128u, 0x7FFFFFFEu, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> bad = small_bytes;
      std::memcpy(bad.data() + at, &value, 4);
      FullTextIndex copy;
      const Result r = copy.deserialize(bad.data(), bad.size());
      if (!r.ok()) {
        ASSERT_TRUE(r.status == Status::corrupt_snapshot || r.status == Status::unsupported_version) << r.message;
        ++refused;
        continue;
      }
      ++loaded;
      ASSERT_TRUE(bytes_of(copy) == bad) << at;
      for (size_t qi = 0; qi < 3; ++qi) run(copy, queries_[qi], {});
    }
  }
  std::printf("[ fulltext ] changed bytes: %zu refused, %zu loaded as another valid index\n", refused, loaded);
  EXPECT_GT(refused, loaded);
}

}  // namespace
}  // namespace tabvec
