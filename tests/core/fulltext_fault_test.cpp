// Allocation-failure injection for FullTextIndex, as fault_test.cpp does it
// for Index (a binary of its own: both replace the global operator new).
// Each operation runs once for every N its allocations reach, with the N-th
// and every later allocation failing; each failure must be out_of_memory
// with the index the same bytes, and the same answers, as before the call,
// and the call must then succeed as it does with memory to spare.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "fault_injection.h"
#include "fulltext.h"
#include "fulltext_corpus.h"
#include "hybrid.h"

namespace tabvec {
namespace {

using testing::joined;
using Terms = std::vector<std::string>;

std::vector<uint8_t> bytes_of(const FullTextIndex& ix) {
  std::vector<uint8_t> out(ix.serialized_size());
  ix.serialize(out.data());
  return out;
}

class FullTextFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    docs_ = testing::demo_documents(TABVEC_SOURCE_DIR);
    ASSERT_GE(docs_.size(), 300u);
  }
  static std::vector<Terms> docs_;

  // Answers to a few queries, as text.
  static std::string answers(FullTextIndex& ix) {
    std::string out;
    for (const char* q : {"sap fiori app", "annotation", "deploy abap", "the"}) {
      PodVector<TextHit> hits;
      TextSearchParams p;
      p.k = 20;
      EXPECT_TRUE(ix.search(joined(testing::tokenize(q)), p, &hits).ok());
      for (const TextHit& h : hits) out += std::to_string(h.slot) + ":" + std::to_string(h.score) + " ";
      out += "| ";
    }
    return out;
  }

  // An index with documents in main, in the delta, and removed ones of both.
  static FullTextIndex fixture(size_t main_docs, size_t delta_docs) {
    FullTextIndex ix;
    for (size_t i = 0; i < main_docs; ++i) EXPECT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
    EXPECT_TRUE(ix.cleanup().ok());
    for (size_t i = main_docs; i < main_docs + delta_docs; ++i) EXPECT_TRUE(ix.add(uint32_t(i), joined(docs_[i])).ok());
    for (size_t i = 0; i < main_docs + delta_docs; i += 9) EXPECT_TRUE(ix.remove(uint32_t(i)).ok());
    return ix;
  }

  using Operation = std::function<Result(FullTextIndex&)>;
  void run(size_t main_docs, size_t delta_docs, const Operation& op, bool warm_scratch = false) {
    FullTextIndex reference = fixture(main_docs, delta_docs);
    ASSERT_TRUE(op(reference).ok());
    const std::vector<uint8_t> expected = bytes_of(reference);
    const std::string expected_answers = answers(reference);
    size_t failures = 0;
    for (long n = 0;; ++n) {
      FullTextIndex ix = fixture(main_docs, delta_docs);
      if (warm_scratch) answers(ix);
      const std::vector<uint8_t> before = bytes_of(ix);
      const std::string before_answers = answers(ix);
      injection = {true, n, false};
      Result r;
      bool threw = false;
      try {
        r = op(ix);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      const bool reached = injection.failed;
      injection = {};
      ASSERT_FALSE(threw) << "allocation " << n << " went through the throwing operator new";
      if (!reached) {
        EXPECT_TRUE(r.ok()) << r.message;
        EXPECT_TRUE(bytes_of(ix) == expected);
        break;
      }
      ++failures;
      ASSERT_EQ(r.status, Status::out_of_memory) << "allocation " << n << ": " << r.message;
      ASSERT_TRUE(bytes_of(ix) == before) << "allocation " << n << " failed the call but changed the index";
      ASSERT_EQ(answers(ix), before_answers) << "allocation " << n;
      const Result again = op(ix);
      ASSERT_TRUE(again.ok()) << "allocation " << n << ": " << again.message;
      ASSERT_TRUE(bytes_of(ix) == expected) << "allocation " << n;
      ASSERT_EQ(answers(ix), expected_answers) << "allocation " << n;
    }
    EXPECT_GT(failures, 0u) << "the operation allocated nothing, so nothing was tested";
    std::printf("[ fulltext faults ] %zu failing allocations\n", failures);
  }
};
std::vector<Terms> FullTextFaults::docs_;

TEST_F(FullTextFaults, AddToAnEmptyIndex) {
  const std::string doc = joined(docs_[250]);  // made before the allocations start failing
  run(0, 0, [&doc](FullTextIndex& ix) { return ix.add(7, doc); });
}

TEST_F(FullTextFaults, AddBesideMainAndDelta) {
  // Scratch warmed by searches first, so the allocations are the index's own.
  // b brings many new terms, so it grows the vocabulary whatever is reserved.
  Terms many = docs_[251];
  for (int i = 0; i < 3000; ++i) many.push_back("new" + std::to_string(i));
  const std::string a = joined(docs_[250]), b = joined(many);
  run(120, 40, [&a](FullTextIndex& ix) { return ix.add(500, a); }, true);
  run(120, 40, [&b](FullTextIndex& ix) { return ix.add(9, b); });  // a removed slot, reused
}

TEST_F(FullTextFaults, Cleanup) {
  run(120, 40, [](FullTextIndex& ix) { return ix.cleanup(); });
  run(0, 60, [](FullTextIndex& ix) { return ix.cleanup(); });
}

TEST_F(FullTextFaults, SearchGrowingItsScratch) {
  const std::string query = joined(testing::tokenize("sap fiori elements app annotation ui5 deploy"));
  run(120, 40, [&query](FullTextIndex& ix) {
    PodVector<TextHit> hits;
    TextSearchParams p;
    p.k = 300;
    return ix.search(query, p, &hits);
  });
}

TEST_F(FullTextFaults, Deserialize) {
  const std::vector<uint8_t> section = bytes_of(fixture(100, 30));
  run(20, 5, [section](FullTextIndex& ix) { return ix.deserialize(section.data(), section.size()); });
}

// memory().reserved is every byte the index holds, exactly: after adds,
// removes, searches, cleanups and a load.
TEST_F(FullTextFaults, MemoryAccountingIsExact) {
  std::vector<std::string> joined_docs;
  for (size_t i = 0; i < 300; ++i) joined_docs.push_back(joined(docs_[i]));
  const std::string query = joined(testing::tokenize("sap fiori elements app annotation ui5 deploy the"));
  PodVector<TextHit> hits;
  ASSERT_TRUE(hits.reserve(kMaxTextK));
  std::vector<uint8_t> section(1 << 22);
  const size_t base = live_bytes;
  {
    FullTextIndex ix;
    auto expect_exact = [&](const char* when) {
      EXPECT_EQ(live_bytes - base, ix.memory().reserved) << when;
      EXPECT_LE(ix.memory().used, ix.memory().reserved) << when;
    };
    expect_exact("empty");
    for (size_t i = 0; i < 200; ++i) ASSERT_TRUE(ix.add(uint32_t(i), joined_docs[i]).ok());
    expect_exact("after adds");
    TextSearchParams p;
    p.k = 100;
    ASSERT_TRUE(ix.search(query, p, &hits).ok());
    expect_exact("after a search");
    ASSERT_TRUE(ix.cleanup().ok());
    expect_exact("after cleanup");
    for (size_t i = 0; i < 200; i += 3) ASSERT_TRUE(ix.remove(uint32_t(i)).ok());
    for (size_t i = 200; i < 300; ++i) ASSERT_TRUE(ix.add(uint32_t(i), joined_docs[i]).ok());
    expect_exact("after removes and adds");
    ASSERT_TRUE(ix.cleanup().ok());
    expect_exact("after the second cleanup");
    ASSERT_LE(ix.serialized_size(), section.size());
    const size_t size = ix.serialized_size();
    ix.serialize(section.data());
    FullTextIndex copy;
    ASSERT_TRUE(copy.deserialize(section.data(), size).ok());
    EXPECT_EQ(live_bytes - base, ix.memory().reserved + copy.memory().reserved) << "after a load";
  }
  EXPECT_EQ(live_bytes, base) << "the index freed everything it held";
}

// HybridIndex: a write whose text or vector runs out of memory changes
// neither (fault injection as above, over the vectors and texts together).
class HybridFaults : public FullTextFaults {
 protected:
  static constexpr uint32_t kDim = 8;
  static std::vector<float> vector_of(size_t i) {
    std::vector<float> v(kDim);
    for (uint32_t d = 0; d < kDim; ++d) v[d] = float((i * 7919 + d * 104729) % 1000) / 1000.0f + float(d == i % kDim);
    return v;
  }
  static std::vector<uint8_t> hybrid_bytes(HybridIndex& h) {
    std::vector<uint8_t> out(h.serialize_start());
    EXPECT_EQ(h.serialize_write(out.data(), out.size()), out.size());
    return out;
  }
  static std::string hybrid_answers(HybridIndex& h) {
    std::string out;
    for (const char* q : {"sap fiori app", "annotation", "deploy abap"}) {
      PodVector<TextHit> hits;
      EXPECT_TRUE(h.search_text(joined(testing::tokenize(q)), 20, {}, &hits).ok());
      for (const TextHit& hit : hits) out += std::string(h.index().id_of(hit.slot)) + ":" + std::to_string(hit.score) + " ";
      out += "| ";
    }
    return out;
  }
  static std::unique_ptr<HybridIndex> hybrid_fixture() {
    IndexOptions o;
    o.dim = kDim;
    o.max_buffer = 64;
    std::unique_ptr<HybridIndex> h;
    EXPECT_TRUE(HybridIndex::create(o, TextOptions{}, &h).ok());
    for (size_t i = 0; i < 150; ++i) {
      const std::string id = "doc-" + std::to_string(i);
      const std::string terms = joined(docs_[i]);
      EXPECT_TRUE(h->add(id, vector_of(i).data(), kDim, {}, {terms, i % 5 != 0}, nullptr).ok());
    }
    for (size_t i = 0; i < 150; i += 11) EXPECT_TRUE(h->remove("doc-" + std::to_string(i)).ok());
    return h;
  }
  using HybridOperation = std::function<Result(HybridIndex&)>;
  void run_hybrid(const HybridOperation& op) {
    std::unique_ptr<HybridIndex> reference = hybrid_fixture();
    ASSERT_TRUE(op(*reference).ok());
    const std::vector<uint8_t> expected = hybrid_bytes(*reference);
    size_t failures = 0;
    for (long n = 0;; ++n) {
      std::unique_ptr<HybridIndex> h = hybrid_fixture();
      const std::vector<uint8_t> before = hybrid_bytes(*h);
      const std::string before_answers = hybrid_answers(*h);
      injection = {true, n, false};
      Result r;
      bool threw = false;
      try {
        r = op(*h);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      const bool reached = injection.failed;
      injection = {};
      ASSERT_FALSE(threw) << "allocation " << n << " went through the throwing operator new";
      if (!reached) {
        EXPECT_TRUE(r.ok()) << r.message;
        EXPECT_TRUE(hybrid_bytes(*h) == expected);
        break;
      }
      if (r.ok()) continue;  // the failing allocation was upkeep (linking, a text cleanup), which waits
      ++failures;
      ASSERT_EQ(r.status, Status::out_of_memory) << "allocation " << n << ": " << r.message;
      ASSERT_TRUE(hybrid_bytes(*h) == before) << "allocation " << n << " failed the call but changed the store";
      ASSERT_EQ(hybrid_answers(*h), before_answers) << "allocation " << n;
    }
    EXPECT_GT(failures, 0u) << "the operation allocated nothing, so nothing was tested";
    std::printf("[ hybrid faults ] %zu failing allocations\n", failures);
  }
};

TEST_F(HybridFaults, AddWithText) {
  const std::string terms = joined(docs_[300]);
  const std::vector<float> v = vector_of(300);
  run_hybrid([&](HybridIndex& h) { return h.add("new", v.data(), kDim, "{}", {terms, true}, nullptr); });
}

TEST_F(HybridFaults, UpsertReplacingText) {
  // New words, so the vocabulary and the delta must grow.
  std::string terms = joined(docs_[301]);
  for (int i = 0; i < 400; ++i) terms += "novel" + std::to_string(i) + std::string(1, '\0');
  const std::vector<float> v = vector_of(301);
  run_hybrid([&](HybridIndex& h) { return h.upsert("doc-3", v.data(), kDim, {}, {terms, true}, nullptr); });
}

TEST_F(HybridFaults, AddBatchWithTexts) {
  std::vector<std::string> ids, terms;
  std::vector<float> vectors;
  for (size_t i = 0; i < 12; ++i) {
    ids.push_back("batch-" + std::to_string(i));
    terms.push_back(joined(docs_[310 + i]));
    const std::vector<float> v = vector_of(310 + i);
    vectors.insert(vectors.end(), v.begin(), v.end());
  }
  const std::vector<std::string_view> id_views(ids.begin(), ids.end());
  std::vector<DocumentText> texts;
  for (size_t i = 0; i < terms.size(); ++i) texts.push_back({terms[i], i != 4});
  run_hybrid([&](HybridIndex& h) {
    return h.add_batch(ids.size(), id_views.data(), vectors.data(), vectors.size(), nullptr, texts.data(), false, nullptr);
  });
}

TEST_F(HybridFaults, Consolidate) {
  run_hybrid([](HybridIndex& h) {
    ConsolidateReport report;
    return h.consolidate(&report);
  });
}

}  // namespace
}  // namespace tabvec
