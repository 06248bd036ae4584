// Full-text micro-benchmark: figures, not a test. Over the demo corpus (and
// copies of it, for longer posting lists): build time, queries per second
// with and without block-max MaxScore skipping, and the fraction of the
// query terms' postings each one decodes and scores.
//
//   build/native/bench/tabvec_fulltext_bench [copies...]   (default: 1 20)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fulltext.h"
#include "fulltext_corpus.h"

using namespace tabvec;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Run {
  double qps = 0;
  TextSearchStats total;
};

Run measure(FullTextIndex& ix, const std::vector<std::string>& queries, uint32_t k, bool skip) {
  Run run;
  PodVector<TextHit> hits;
  TextSearchParams p;
  p.k = k;
  p.skip = skip;
  size_t done = 0;
  const Clock::time_point start = Clock::now();
  do {  // at least 0.5 s of queries
    for (const std::string& q : queries) {
      TextSearchStats s;
      if (!ix.search(q, p, &hits, &s).ok()) std::abort();
      run.total.postings += s.postings, run.total.decoded += s.decoded, run.total.scored += s.scored;
      run.total.delta += s.delta;
      ++done;
    }
  } while (seconds_since(start) < 0.5);
  run.qps = done / seconds_since(start);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::vector<std::string>> docs = testing::demo_documents(TABVEC_SOURCE_DIR);
  // The 69 labelled queries, and 200 made of 1-4 terms of random documents.
  std::vector<std::string> queries;
  for (const auto& q : testing::demo_queries(TABVEC_SOURCE_DIR)) queries.push_back(testing::joined(q));
  std::mt19937 rng(14);
  for (int i = 0; i < 200; ++i) {
    const auto& d = docs[rng() % docs.size()];
    std::vector<std::string> q;
    for (int j = 0, n = 1 + i % 4; j < n; ++j) q.push_back(d[rng() % d.size()]);
    queries.push_back(testing::joined(q));
  }
  std::vector<int> copies_list;
  for (int i = 1; i < argc; ++i) copies_list.push_back(std::atoi(argv[i]));
  if (copies_list.empty()) copies_list = {1, 20};
  size_t demo_terms = 0;
  for (const auto& d : docs) demo_terms += d.size();
  std::printf("demo corpus: %zu documents, %zu terms; %zu queries\n", docs.size(), demo_terms, queries.size());
  for (const int copies : copies_list) {
    // Copies after the first drop each term occurrence with probability
    // 0.15, so that documents differ (exact twins would tie every score).
    std::vector<std::string> joined;
    size_t postings = 0;
    std::mt19937 drop(5);
    for (int c = 0; c < copies; ++c) {
      for (const auto& d : docs) {
        std::vector<std::string> kept;
        for (const std::string& term : d)
          if (c == 0 || drop() % 100 >= 15) kept.push_back(term);
        postings += std::set<std::string>(kept.begin(), kept.end()).size();
        joined.push_back(testing::joined(kept));
      }
    }
    FullTextIndex ix;
    const Clock::time_point start = Clock::now();
    for (size_t i = 0; i < joined.size(); ++i)
      if (!ix.add(uint32_t(i), joined[i]).ok()) std::abort();
    const double add_s = seconds_since(start);
    const Run delta = measure(ix, queries, 10, true);
    const Clock::time_point merge = Clock::now();
    if (!ix.cleanup().ok()) std::abort();
    const double cleanup_s = seconds_since(merge);
    const TextMemoryUse m = ix.memory();
    std::printf("\n%d cop%s: %zu documents, %zu postings, %zu terms\n", copies, copies == 1 ? "y" : "ies", ix.size(),
                postings, ix.vocabulary());
    std::printf("  build: add %.1f ms (%.2f us/document), cleanup into blocks %.1f ms\n", add_s * 1e3,
                add_s * 1e6 / ix.size(), cleanup_s * 1e3);
    std::printf("  memory: %zu bytes used (%.2f per posting), %zu reserved; section %zu bytes\n", m.used,
                double(m.used) / postings, m.reserved, ix.serialized_size());
    std::printf("  search before cleanup (delta scan), k=10: %.0f queries/s\n", delta.qps);
    for (const uint32_t k : {10u, 100u}) {
      const Run skip = measure(ix, queries, k, true);
      const Run all = measure(ix, queries, k, false);
      std::printf("  k=%-3u skipping: %7.0f queries/s, decoded %.3f, scored %.3f of postings\n", k, skip.qps,
                  double(skip.total.decoded) / skip.total.postings, double(skip.total.scored) / skip.total.postings);
      std::printf("  k=%-3u every posting: %7.0f queries/s, decoded %.3f, scored %.3f\n", k, all.qps,
                  double(all.total.decoded) / all.total.postings, double(all.total.scored) / all.total.postings);
    }
  }
  return 0;
}
