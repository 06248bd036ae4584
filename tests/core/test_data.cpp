#include "test_data.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>

namespace tabvec::testing {

namespace {
std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> bytes;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return bytes;
}

template <typename T, typename M>
M read_vecs(const std::string& path, size_t max_rows) {
  M m;
  const std::vector<uint8_t> bytes = read_file(path);
  size_t at = 0;
  while (at + 4 <= bytes.size() && m.rows < max_rows) {
    int32_t dim;
    std::memcpy(&dim, &bytes[at], 4);
    at += 4;
    if (dim <= 0 || at + size_t(dim) * sizeof(T) > bytes.size()) break;
    m.dim = size_t(dim);
    const size_t old = m.values.size();
    m.values.resize(old + m.dim);
    std::memcpy(&m.values[old], &bytes[at], m.dim * sizeof(T));
    at += m.dim * sizeof(T);
    ++m.rows;
  }
  return m;
}
}  // namespace

std::string shared_data_dir() { return env_or("TABVEC_SHARED_DATA", std::string(TABVEC_SOURCE_DIR) + "/../shared/data"); }
std::string fmnist_dir() { return env_or("TABVEC_FMNIST_DIR", std::string(TABVEC_SOURCE_DIR) + "/.cache/data/fashion-mnist"); }

bool file_exists(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::fclose(f);
  return true;
}

Matrix read_fvecs(const std::string& path, size_t max_rows) { return read_vecs<float, Matrix>(path, max_rows); }
IntMatrix read_ivecs(const std::string& path, size_t max_rows) { return read_vecs<int32_t, IntMatrix>(path, max_rows); }

Matrix read_idx_images(const std::string& path, size_t max_rows) {
  Matrix m;
  const std::vector<uint8_t> b = read_file(path);
  if (b.size() < 16) return m;
  auto be32 = [&](size_t at) { return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3]; };
  if (be32(0) != 0x00000803) return m;
  const size_t count = std::min<size_t>(be32(4), max_rows);
  m.dim = size_t(be32(8)) * be32(12);
  if (b.size() < 16 + count * m.dim) return m;
  m.rows = count;
  m.values.resize(count * m.dim);
  for (size_t i = 0; i < m.values.size(); ++i) m.values[i] = float(b[16 + i]);
  return m;
}

Matrix random_matrix(size_t rows, size_t dim, uint64_t seed, float lo, float hi) {
  Matrix m;
  m.rows = rows;
  m.dim = dim;
  m.values.resize(rows * dim);
  uint64_t state = seed;
  for (float& v : m.values) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    v = lo + (hi - lo) * float(double(z >> 11) / double(1ull << 53));
  }
  return m;
}

Matrix clustered_matrix(size_t rows, size_t dim, size_t clusters, uint64_t seed, uint64_t stream) {
  const Matrix centres = random_matrix(clusters, dim, seed);
  // Sum of 4 uniforms on [-0.35, 0.35] has standard deviation ~0.2: close enough to Gaussian.
  const Matrix noise = random_matrix(rows * 4, dim, seed * 7919 + 1 + stream * 104729, -0.35f, 0.35f);
  const Matrix pick = random_matrix(rows, 1, seed * 31 + 5 + stream * 17, 0, float(clusters));
  Matrix m;
  m.rows = rows;
  m.dim = dim;
  m.values.resize(rows * dim);
  for (size_t i = 0; i < rows; ++i) {
    const size_t c = std::min(clusters - 1, size_t(pick.values[i]));
    for (size_t j = 0; j < dim; ++j) {
      const float e = noise.row(4 * i)[j] + noise.row(4 * i + 1)[j] + noise.row(4 * i + 2)[j] + noise.row(4 * i + 3)[j];
      m.values[i * dim + j] = centres.row(c)[j] + 0.5f * e;
    }
  }
  return m;
}

IntMatrix exact_knn(const Matrix& base, const Matrix& queries, size_t k, int metric) {
  IntMatrix truth;
  truth.rows = queries.rows;
  truth.dim = k;
  truth.values.resize(queries.rows * k);
  std::vector<std::pair<double, int32_t>> scored(base.rows);
  for (size_t q = 0; q < queries.rows; ++q) {
    for (size_t i = 0; i < base.rows; ++i) {
      double d = 0;
      for (size_t j = 0; j < base.dim; ++j) {
        if (metric == 0) {
          const double diff = double(queries.row(q)[j]) - base.row(i)[j];
          d += diff * diff;
        } else {
          d -= double(queries.row(q)[j]) * base.row(i)[j];
        }
      }
      scored[i] = {d, int32_t(i)};
    }
    std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
    for (size_t j = 0; j < k; ++j) truth.values[q * k + j] = scored[j].second;
  }
  return truth;
}

double recall_at_k(const std::vector<std::vector<uint32_t>>& found, const IntMatrix& truth, size_t k) {
  double total = 0;
  for (size_t q = 0; q < found.size(); ++q) {
    size_t hits = 0;
    for (size_t j = 0; j < k; ++j) {
      const uint32_t want = uint32_t(truth.row(q)[j]);
      hits += std::find(found[q].begin(), found[q].end(), want) != found[q].end() ? 1 : 0;
    }
    total += double(hits) / double(k);
  }
  return found.empty() ? 0 : total / double(found.size());
}

}  // namespace tabvec::testing
