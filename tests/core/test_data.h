// Loading the real datasets the recall tests use, and the rule for when they
// are missing: skip loudly on a developer machine, fail under CI=true.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tabvec::testing {

struct Matrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<float> values;
  const float* row(size_t i) const { return values.data() + i * dim; }
};

struct IntMatrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<int32_t> values;
  const int32_t* row(size_t i) const { return values.data() + i * dim; }
};

// ../shared/data (or $TABVEC_SHARED_DATA).
std::string shared_data_dir();
// Uncompressed Fashion-MNIST IDX files written by the setup step (or $TABVEC_FMNIST_DIR).
std::string fmnist_dir();

bool file_exists(const std::string& path);
Matrix read_fvecs(const std::string& path, size_t max_rows = SIZE_MAX);
IntMatrix read_ivecs(const std::string& path, size_t max_rows = SIZE_MAX);
// IDX3 unsigned-byte images as float32 0..255.
Matrix read_idx_images(const std::string& path, size_t max_rows = SIZE_MAX);

// Deterministic pseudo-random vectors (splitmix64), reproducible across builds.
Matrix random_matrix(size_t rows, size_t dim, uint64_t seed, float lo = -1, float hi = 1);
// Seeded Gaussian-mixture vectors: `clusters` centres in [-1, 1]^dim, points
// at N(0, 0.1^2) around them. `stream` picks an independent draw of points
// from the same centres (queries vs base).
Matrix clustered_matrix(size_t rows, size_t dim, size_t clusters, uint64_t seed, uint64_t stream = 0);
// Exact top-k by squared L2 (metric 0) or by dot product of unit vectors (metric 1).
IntMatrix exact_knn(const Matrix& base, const Matrix& queries, size_t k, int metric);

// Mean fraction of the true top-k found among the returned ids.
double recall_at_k(const std::vector<std::vector<uint32_t>>& found, const IntMatrix& truth, size_t k);

}  // namespace tabvec::testing

// Skips (loudly) when a data file is absent, except under CI=true, where the
// data is always provisioned and absence is a failure.
#define TABVEC_REQUIRE_FILE(path)                                                                 \
  do {                                                                                            \
    if (!::tabvec::testing::file_exists(path)) {                                                  \
      const char* ci = std::getenv("CI");                                                         \
      if (ci && std::string(ci) == "true") FAIL() << "required data file missing under CI: " << (path); \
      GTEST_SKIP() << "\n*** SKIPPED: data file " << (path)                                       \
                   << " is missing. Provide ../shared/data and run the setup step. ***\n";       \
    }                                                                                             \
  } while (0)
