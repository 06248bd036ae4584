// The snapshots of older formats in tests/core/fixtures/: how each index was
// built (the same recipe the tests use to know what the bytes must hold), and
// the queries whose results were recorded beside each one.
//
// They were written with tests/core/fixtures/make_v1_fixtures.cpp: format 1
// (snapshot-v1-*) by the writer of commit 4146c2d, format 2 (snapshot-v2-*)
// by that of commit 34b8733. They are kept so that every later build proves
// it still opens what earlier builds saved.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "test_data.h"

namespace tabvec::testing {

struct V1Fixture {
  const char* name;
  IndexOptions options;
  size_t n;
};

inline std::vector<V1Fixture> v1_fixtures() {
  IndexOptions staged;
  staged.dim = 8;
  IndexOptions graph;
  graph.dim = 12;
  graph.max_degree = 8;
  graph.build_list_size = 16;
  graph.max_buffer = 16;
  IndexOptions cosine_f32 = graph;
  cosine_f32.metric = Metric::cosine;
  cosine_f32.storage = Storage::float32;
  IndexOptions ip = graph;
  ip.metric = Metric::inner_product;
  return {{"l2-int8-staged", staged, 5},
          {"l2-int8-graph", graph, 150},
          {"cosine-float32", cosine_f32, 120},
          {"ip-int8", ip, 90}};
}

// Some ids are not ASCII, every third vector has JSON metadata.
inline std::string v1_fixture_id(size_t i) {
  return (i % 5 == 0 ? "\xD0\xB8\xD0\xB4-" : "id-") + std::to_string(i);
}
inline std::string v1_fixture_metadata(size_t i) {
  return i % 3 == 0 ? "{\"n\":" + std::to_string(i) + ",\"t\":\"\xC3\xA9\"}" : std::string();
}
inline bool v1_fixture_removed(size_t i) { return i % 7 == 1 || i % 11 == 2; }

// Adds, removes some, consolidates (leaving free slots) and removes more
// (leaving tombstones); the last vectors stay in the write buffer.
inline std::unique_ptr<Index> build_v1_fixture(const V1Fixture& f) {
  std::unique_ptr<Index> ix;
  if (!Index::create(f.options, &ix).ok()) return nullptr;
  const Matrix m = random_matrix(f.n, f.options.dim, 7);
  for (size_t i = 0; i < f.n; ++i)
    if (!ix->add(v1_fixture_id(i), m.row(i), f.options.dim, v1_fixture_metadata(i)).ok()) return nullptr;
  for (size_t i = 0; i < f.n; ++i)
    if (i % 7 == 1 && !ix->remove(v1_fixture_id(i)).ok()) return nullptr;
  if (f.n >= 100 && !ix->consolidate().ok()) return nullptr;
  for (size_t i = 0; i < f.n; ++i)
    if (i % 7 != 1 && i % 11 == 2 && !ix->remove(v1_fixture_id(i)).ok()) return nullptr;
  return ix;
}

inline Matrix v1_fixture_queries(const V1Fixture& f) { return random_matrix(10, f.options.dim, 99); }

// The fixtures are kept in these formats, each built by the same recipe.
constexpr uint32_t kFixtureVersions[] = {1, 2, 3, 4};

inline std::string v1_fixture_path(const V1Fixture& f, const char* extension, uint32_t version = 1) {
  return std::string(TABVEC_SOURCE_DIR) + "/tests/core/fixtures/snapshot-v" + std::to_string(version) + "-" + f.name +
         extension;
}

}  // namespace tabvec::testing
