// How much 8-bit codes alone cost in recall (issue 13): exhaustive scans, no
// graph, of a real text-embedding set under cosine, with the codes tabvec
// stores today and with sharper variants, each also re-ranked with exact
// floats. Prints figures, asserts nothing.
//
//   build/native/bench/tabvec_code_ceiling [dataset dir]
//
// The dataset dir holds base.f32 (n x dim), queries.f32 (nq x dim) and
// gt100.i32 (nq x 100, exact cosine neighbours, nearest first), as
// `node bench/text-dataset.mjs` writes them to .cache/bench/debian-use512-100k/.
//
// Every variant scores a query q against a stored vector i as
//   weight[i] * dot(query_as_scanned(q), codes[i])
// so it is a plain dot product over the codes with the per-dimension or
// per-vector factors folded into the query or the weight.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "quantizer.h"

namespace {

template <typename T>
std::vector<T> read_file(const std::string& path) {
  std::vector<T> v;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return v;
  std::fseek(f, 0, SEEK_END);
  v.resize(size_t(std::ftell(f)) / sizeof(T));
  std::fseek(f, 0, SEEK_SET);
  if (std::fread(v.data(), sizeof(T), v.size(), f) != v.size()) v.clear();
  std::fclose(f);
  return v;
}

void normalize(std::vector<float>& v, size_t dim) {
  for (size_t i = 0; i < v.size(); i += dim) {
    double sq = 0;
    for (size_t d = 0; d < dim; ++d) sq += double(v[i + d]) * v[i + d];
    const float inv = float(1 / std::sqrt(sq));
    for (size_t d = 0; d < dim; ++d) v[i + d] *= inv;
  }
}

// Eight running sums, so the compiler may vectorize without reordering floats itself.
float dot(const float* a, const float* b, size_t dim) {
  float s[8] = {};
  size_t d = 0;
  for (; d + 8 <= dim; d += 8)
    for (size_t j = 0; j < 8; ++j) s[j] += a[d + j] * b[d + j];
  for (; d < dim; ++d) s[0] += a[d] * b[d];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

float length(const float* v, size_t dim) { return std::sqrt(dot(v, v, dim)); }

// A variant: codes (integers held as floats), a weight per stored vector, and
// how a query is turned into what the scan multiplies the codes by.
struct Variant {
  const char* name;
  std::vector<float> codes;
  std::vector<float> weight;
  std::function<void(const float* q, float* out)> scanned_query;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : TABVEC_SOURCE_DIR "/.cache/bench/debian-use512-100k";
  std::vector<float> base = read_file<float>(dir + "/base.f32"), queries = read_file<float>(dir + "/queries.f32");
  const std::vector<int32_t> gt = read_file<int32_t>(dir + "/gt100.i32");
  if (base.empty() || queries.empty() || gt.empty()) {
    std::fprintf(stderr, "no dataset in %s (node bench/text-dataset.mjs makes it)\n", dir.c_str());
    return 1;
  }
  const size_t nq = gt.size() / 100, dim = queries.size() / nq, n = base.size() / dim;
  normalize(base, dim);
  normalize(queries, dim);
  std::printf("%s: %zu x %zu base, %zu queries, cosine, exhaustive scan\n\n", dir.c_str(), n, dim, nq);

  std::vector<Variant> variants;
  // tabvec today: one global range (ScalarQuantizer, as the core trains it),
  // the query coded with it too, each code product divided by the code's length.
  tabvec::QuantizerRange range;
  tabvec::extend_range(range, base.data(), base.size());
  auto quantizer = std::make_shared<tabvec::ScalarQuantizer>();
  quantizer->train(tabvec::Metric::cosine, range);
  auto global_codes = [&] {
    Variant v{"", std::vector<float>(base.size()), std::vector<float>(n), nullptr};
    std::vector<int8_t> code(dim);
    for (size_t i = 0; i < n; ++i) {
      quantizer->encode(&base[i * dim], dim, code.data());
      for (size_t d = 0; d < dim; ++d) v.codes[i * dim + d] = code[d];
      v.weight[i] = 1 / length(&v.codes[i * dim], dim);
    }
    return v;
  };
  variants.push_back(global_codes());
  variants.back().name = "global range, query coded too (tabvec today)";
  variants.back().scanned_query = [quantizer, dim](const float* q, float* out) {
    std::vector<int8_t> code(dim);
    quantizer->encode(q, dim, code.data());
    for (size_t d = 0; d < dim; ++d) out[d] = code[d];
  };
  variants.push_back(global_codes());
  variants.back().name = "global range, query in float";
  variants.back().scanned_query = [dim](const float* q, float* out) { std::copy(q, q + dim, out); };

  // One symmetric range per dimension; its scale folds into the query.
  {
    auto scale = std::make_shared<std::vector<float>>(dim, 0.0f);
    for (size_t i = 0; i < n; ++i)
      for (size_t d = 0; d < dim; ++d) (*scale)[d] = std::max((*scale)[d], std::fabs(base[i * dim + d]));
    for (float& s : *scale) s = 127 / s;
    Variant v{"per-dimension ranges, query in float", std::vector<float>(base.size()), std::vector<float>(n), nullptr};
    std::vector<float> decoded(dim);
    for (size_t i = 0; i < n; ++i) {
      for (size_t d = 0; d < dim; ++d) {
        v.codes[i * dim + d] = std::round(base[i * dim + d] * (*scale)[d]);
        decoded[d] = v.codes[i * dim + d] / (*scale)[d];
      }
      v.weight[i] = 1 / length(decoded.data(), dim);
    }
    v.scanned_query = [scale, dim](const float* q, float* out) {
      for (size_t d = 0; d < dim; ++d) out[d] = q[d] / (*scale)[d];
    };
    variants.push_back(std::move(v));
  }
  // One symmetric range per vector; its scale cancels in the code's length.
  {
    Variant v{"per-vector ranges, query in float", std::vector<float>(base.size()), std::vector<float>(n), nullptr};
    for (size_t i = 0; i < n; ++i) {
      float most = 0;
      for (size_t d = 0; d < dim; ++d) most = std::max(most, std::fabs(base[i * dim + d]));
      for (size_t d = 0; d < dim; ++d) v.codes[i * dim + d] = std::round(base[i * dim + d] * (127 / most));
      v.weight[i] = 1 / length(&v.codes[i * dim], dim);
    }
    v.scanned_query = [dim](const float* q, float* out) { std::copy(q, q + dim, out); };
    variants.push_back(std::move(v));
  }

  const size_t kRerank[] = {10, 20, 40};  // candidates re-scored with exact floats (10: none)
  std::printf("%-48s  recall@10 re-ranking the best 10 / 20 / 40 with floats\n", "codes");
  std::vector<float> scanned(dim);
  std::vector<std::pair<float, uint32_t>> best;
  for (const Variant& v : variants) {
    size_t hits[3] = {0, 0, 0};
    for (size_t q = 0; q < nq; ++q) {
      v.scanned_query(&queries[q * dim], scanned.data());
      best.clear();
      for (size_t i = 0; i < n; ++i) {
        const float score = v.weight[i] * dot(scanned.data(), &v.codes[i * dim], dim);
        if (best.size() < 40 || score > best.front().first) {
          best.emplace_back(score, uint32_t(i));
          std::push_heap(best.begin(), best.end(), std::greater<>());
          if (best.size() > 40) std::pop_heap(best.begin(), best.end(), std::greater<>()), best.pop_back();
        }
      }
      std::sort(best.begin(), best.end(), std::greater<>());
      for (int r = 0; r < 3; ++r) {
        std::vector<std::pair<float, uint32_t>> exact;
        for (size_t c = 0; c < kRerank[r]; ++c)
          exact.emplace_back(r == 0 ? best[c].first : dot(&queries[q * dim], &base[best[c].second * dim], dim), best[c].second);
        std::sort(exact.begin(), exact.end(), std::greater<>());
        for (size_t c = 0; c < 10; ++c)
          hits[r] += std::find(&gt[q * 100], &gt[q * 100 + 10], int32_t(exact[c].second)) != &gt[q * 100 + 10];
      }
    }
    std::printf("%-48s  %.4f / %.4f / %.4f\n", v.name, hits[0] / (10.0 * nq), hits[1] / (10.0 * nq), hits[2] / (10.0 * nq));
  }
  return 0;
}
