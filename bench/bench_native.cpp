// Native benchmark: build speed, recall@10 vs queries/s over a sweep of L,
// and bytes per vector by component. Prints figures; asserts nothing.
//
//   build/native/bench/tabvec_bench [--quick] [--dataset fashion|sap|synthetic] [--R n] [--L-build n] [--alpha x] [--float32]
//
// Datasets: Fashion-MNIST 60k x 784 (L2, all 10,000 queries, ground truth
// from ../shared/data), SAP MiniLM 700 x 384 (cosine), and a seeded
// synthetic 100k x 128 set (ground truth computed here) for the memory target.
#include <cstdlib>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "test_data.h"

#ifdef TABVEC_WITH_HNSWLIB
#include <hnswlib/hnswlib.h>
#endif

namespace {

using tabvec::testing::IntMatrix;
using tabvec::testing::Matrix;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double recall10(const std::vector<std::vector<uint32_t>>& found, const IntMatrix& truth) {
  return tabvec::testing::recall_at_k(found, truth, 10);
}

void print_memory(const tabvec::Index& ix, size_t n) {
  const tabvec::MemoryStats m = ix.memory();
  auto row = [n](const char* name, const tabvec::MemoryUse& u) {
    std::printf("    %-9s used %8.1f B/vec   reserved %8.1f B/vec\n", name, double(u.used) / n, double(u.reserved) / n);
  };
  row("vectors", m.vectors);
  row("graph", m.graph);
  row("ids", m.ids);
  row("metadata", m.metadata);
  row("buffer", m.buffer);
  row("other", m.other);
  std::printf("    %-9s used %8.1f B/vec   reserved %8.1f B/vec   (reserved/used %.3f, %zu bytes reserved)\n", "TOTAL",
              double(m.total_used()) / n, double(m.total_reserved()) / n,
              double(m.total_reserved()) / double(m.total_used()), m.total_reserved());
}

void run_tabvec(const char* name, const Matrix& base, const Matrix& queries, const IntMatrix& truth,
                tabvec::IndexOptions o, const std::vector<uint32_t>& sweep) {
  std::printf("\n== %s: tabvec %s, R=%u L_build=%u alpha=%.2f, %zu x %zu, %zu queries\n", name,
              o.storage == tabvec::Storage::int8 ? "int8" : "float32", o.max_degree, o.build_list_size, o.alpha,
              base.rows, base.dim, queries.rows);
  std::unique_ptr<tabvec::Index> ix;
  if (!tabvec::Index::create(o, &ix).ok()) return;
  std::vector<std::string> names(base.rows);
  std::vector<std::string_view> ids(base.rows);
  for (size_t i = 0; i < base.rows; ++i) {
    names[i] = std::to_string(i);
    ids[i] = names[i];
  }
  const auto t0 = Clock::now();
  const tabvec::Result r = ix->add_batch(base.rows, ids.data(), base.values.data(), base.values.size(), nullptr, false);
  if (!r.ok()) {
    std::printf("  add failed: %s\n", r.message.c_str());
    return;
  }
  ix->link_pending();
  const double build_s = seconds_since(t0);
  std::printf("  build: %.2f s, %.0f vectors/s\n", build_s, base.rows / build_s);
  print_memory(*ix, base.rows);
  tabvec::SearchHits hits;
  for (uint32_t L : sweep) {
    tabvec::SearchParams p;
    p.k = 10;
    p.list_size = L;
    std::vector<std::vector<uint32_t>> found(queries.rows);
    std::vector<double> latencies(queries.rows);
    const auto ts = Clock::now();
    for (size_t q = 0; q < queries.rows; ++q) {
      const auto tq = Clock::now();
      if (!ix->search(queries.row(q), queries.dim, p, &hits).ok()) std::abort();  // a benchmark of failed searches measures nothing
      latencies[q] = seconds_since(tq);
      for (const auto& h : hits) found[q].push_back(uint32_t(std::stoul(std::string(ix->id_of(h.slot)))));
    }
    const double total = seconds_since(ts);
    std::sort(latencies.begin(), latencies.end());
    std::printf("  L=%-4u recall@10 %.4f  QPS %8.0f  p50 %6.1f us  p99 %6.1f us\n", L, recall10(found, truth),
                queries.rows / total, latencies[latencies.size() / 2] * 1e6, latencies[latencies.size() * 99 / 100] * 1e6);
  }
}

#ifdef TABVEC_WITH_HNSWLIB
void run_hnswlib(const char* name, const Matrix& base, const Matrix& queries, const IntMatrix& truth,
                 const std::vector<size_t>& sweep) {
  std::printf("\n== %s: hnswlib (Debian libhnswlib-dev) M=16 efConstruction=200, float32 L2\n", name);
  hnswlib::L2Space space(base.dim);
  hnswlib::HierarchicalNSW<float> index(&space, base.rows, 16, 200, 100);
  const auto t0 = Clock::now();
  for (size_t i = 0; i < base.rows; ++i) index.addPoint(base.row(i), i);
  const double build_s = seconds_since(t0);
  std::printf("  build: %.2f s, %.0f vectors/s\n", build_s, base.rows / build_s);
  const size_t bytes = base.rows * (index.size_data_per_element_ + sizeof(void*)) +
                       base.rows * (sizeof(int) * 2 + index.size_links_per_element_ / 2);
  std::printf("    approx   %8.1f B/vec (level-0 records + upper links + label map)\n", double(bytes) / base.rows);
  for (size_t ef : sweep) {
    index.setEf(ef);
    std::vector<std::vector<uint32_t>> found(queries.rows);
    std::vector<double> latencies(queries.rows);
    const auto ts = Clock::now();
    for (size_t q = 0; q < queries.rows; ++q) {
      const auto tq = Clock::now();
      auto res = index.searchKnn(queries.row(q), 10);
      latencies[q] = seconds_since(tq);
      while (!res.empty()) {
        found[q].push_back(uint32_t(res.top().second));
        res.pop();
      }
    }
    const double total = seconds_since(ts);
    std::sort(latencies.begin(), latencies.end());
    std::printf("  ef=%-4zu recall@10 %.4f  QPS %8.0f  p50 %6.1f us  p99 %6.1f us\n", ef, recall10(found, truth),
                queries.rows / total, latencies[latencies.size() / 2] * 1e6, latencies[latencies.size() * 99 / 100] * 1e6);
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;
  tabvec::IndexOptions tuning;  // overrides for R, L_build and alpha
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--dataset") == 0 && i + 1 < argc) only = argv[++i];
    if (std::strcmp(argv[i], "--R") == 0 && i + 1 < argc) tuning.max_degree = uint32_t(std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--L-build") == 0 && i + 1 < argc) tuning.build_list_size = uint32_t(std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--alpha") == 0 && i + 1 < argc) tuning.alpha = float(std::atof(argv[++i]));
    if (std::strcmp(argv[i], "--float32") == 0) tuning.storage = tabvec::Storage::float32;
  }
  auto tuned = [&tuning](tabvec::IndexOptions o) {
    o.max_degree = tuning.max_degree;
    o.build_list_size = tuning.build_list_size;
    o.alpha = tuning.alpha;
    o.storage = tuning.storage;
    return o;
  };
  auto wanted = [&only](const char* name) { return only.empty() || only == name; };
  const std::string shared = tabvec::testing::shared_data_dir();
  const std::string fm = tabvec::testing::fmnist_dir();
  std::printf("tabvec native benchmark (%s kernels)%s\n", tabvec::simd_enabled() ? "WASM SIMD" : "scalar/auto-vectorized",
              quick ? ", quick mode" : "");

  // Fashion-MNIST 60k, all 10,000 test queries.
  const std::string gt_path = shared + "/fashion-mnist/fmnist_test10k_gt100_l2.ivecs";
  if (!wanted("fashion")) {
  } else if (tabvec::testing::file_exists(gt_path) && tabvec::testing::file_exists(fm + "/train-images-idx3-ubyte")) {
    const size_t nq = quick ? 1000 : 10000;
    const Matrix base = tabvec::testing::read_idx_images(fm + "/train-images-idx3-ubyte");
    const Matrix queries = tabvec::testing::read_idx_images(fm + "/t10k-images-idx3-ubyte", nq);
    const IntMatrix truth = tabvec::testing::read_ivecs(gt_path, nq);
    tabvec::IndexOptions o;
    o.dim = 784;
    run_tabvec("fashion-mnist-60k", base, queries, truth, tuned(o), {10, 16, 24, 32, 48, 64, 100});
#ifdef TABVEC_WITH_HNSWLIB
    run_hnswlib("fashion-mnist-60k", base, queries, truth, {10, 16, 24, 32, 48, 64, 100});
#endif
  } else {
    std::printf("\n*** fashion-mnist skipped: need %s and %s (run the setup step) ***\n", gt_path.c_str(),
                (fm + "/train-images-idx3-ubyte").c_str());
  }

  const std::string sap = shared + "/sap-minilm384";
  if (wanted("sap") && tabvec::testing::file_exists(sap + "/sap_base700.fvecs")) {
    tabvec::IndexOptions o;
    o.dim = 384;
    o.metric = tabvec::Metric::cosine;
    run_tabvec("sap-minilm384", tabvec::testing::read_fvecs(sap + "/sap_base700.fvecs"),
               tabvec::testing::read_fvecs(sap + "/sap_query78.fvecs"),
               tabvec::testing::read_ivecs(sap + "/sap_query78_gt100_cos.ivecs"), tuned(o), {10, 16, 32, 64});
  }

  // Synthetic 100k x 128: a seeded mixture of 1,000 Gaussian clusters, shaped
  // like embedding data (uniform noise in 128 dims has no neighbourhood
  // structure, and no ANN index reaches high recall on it).
  if (wanted("synthetic")) {
    const size_t n = quick ? 20000 : 100000;
    const Matrix base = tabvec::testing::clustered_matrix(n, 128, 1000, 2024);
    const Matrix queries = tabvec::testing::clustered_matrix(200, 128, 1000, 2024, 7);
    const IntMatrix truth = tabvec::testing::exact_knn(base, queries, 10, 0);
    tabvec::IndexOptions o;
    o.dim = 128;
    run_tabvec(quick ? "synthetic-20k-128" : "synthetic-100k-128", base, queries, truth, tuned(o), {10, 16, 32, 64, 100});
  }
  return 0;
}
