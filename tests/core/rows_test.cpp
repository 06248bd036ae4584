// The storage tier (Rerank::storage): the index numbers rows, hands them to
// the caller on every write, and re-ranks with the rows the caller reads back.
// Here the "file" is a byte vector the test keeps, as the wrapper keeps a file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "index.h"
#include "snapshot.h"
#include "snapshot_crc.h"
#include "test_data.h"

namespace tabvec {
namespace {

IndexOptions storage_tier(uint32_t dim, Metric metric) {
  IndexOptions o;
  o.dim = dim;
  o.metric = metric;
  o.rerank = Rerank::storage;
  return o;
}

// What the wrapper does around an index with a storage tier: gives every
// write room for its rows, stores the rows it got at their numbers, and
// reads candidates' rows back for rescore().
struct RowFile {
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> scratch;

  Result add(Index& ix, const std::string& id, const float* v, bool upsert = false) {
    return write(ix, 1, [&](uint8_t* rows) {
      return upsert ? ix.upsert(id, v, ix.options().dim, {}, rows) : ix.add(id, v, ix.options().dim, {}, rows);
    });
  }
  template <typename Call>
  Result write(Index& ix, size_t n, Call&& call) {
    scratch.assign(ix.rows_needed(n) * ix.row_bytes(), 0xEE);
    const uint32_t first = ix.next_row();
    Result r = call(scratch.data());
    if (!r.ok()) {
      EXPECT_EQ(ix.next_row(), first) << "a failed write numbered rows";
      return r;
    }
    const size_t written = size_t(ix.next_row() - first) * ix.row_bytes();
    EXPECT_LE(written, scratch.size());
    const size_t at = size_t(first) * ix.row_bytes();
    if (written == 0) return r;  // staged vectors: no rows yet
    if (bytes.size() < at + written) bytes.resize(at + written);
    std::memcpy(bytes.data() + at, scratch.data(), written);
    return r;
  }
  // Rows are read `batch` candidates at a time, as the wrapper does with its
  // bounded buffer (a small batch here, so that every search takes several).
  Result search(Index& ix, const float* q, const SearchParams& p, SearchHits* hits, size_t batch = 7) {
    if (Result r = ix.search(q, ix.options().dim, p, hits); !r.ok()) return r;
    const size_t count = hits->size();
    std::vector<uint8_t> rows(batch * ix.row_bytes());
    size_t first = 0;
    do {
      const size_t n = std::min(batch, count - first);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t row = ix.row_of((*hits)[first + i].slot);
        if (row == kNoRow) continue;
        EXPECT_LE(size_t(row + 1) * ix.row_bytes(), bytes.size());
        std::memcpy(&rows[i * ix.row_bytes()], &bytes[size_t(row) * ix.row_bytes()], ix.row_bytes());
      }
      if (Result r = ix.rescore(q, ix.options().dim, rows.data(), first, n, p.k, hits); !r.ok()) return r;
      first += n;
    } while (first < count);
    return Result::success();
  }
};

double exact_distance(Metric metric, const float* q, const float* v, size_t dim) {
  double dot = 0, qq = 0, vv = 0, l2 = 0;
  for (size_t i = 0; i < dim; ++i) {
    dot += double(q[i]) * v[i];
    qq += double(q[i]) * q[i];
    vv += double(v[i]) * v[i];
    l2 += (double(q[i]) - v[i]) * (double(q[i]) - v[i]);
  }
  if (metric == Metric::l2) return l2;
  if (metric == Metric::inner_product) return -dot;
  return 1 - dot / std::sqrt(qq * vv);
}

// The k nearest of the ids still stored, by brute force over the original vectors.
std::vector<std::pair<double, std::string>> truth(Index& ix, const testing::Matrix& base, const float* q, size_t k) {
  std::vector<std::pair<double, std::string>> all;
  for (size_t i = 0; i < base.rows; ++i) {
    const std::string id = "v" + std::to_string(i);
    if (ix.contains(id)) all.emplace_back(exact_distance(ix.options().metric, q, base.row(i), base.dim), id);
  }
  std::sort(all.begin(), all.end());
  all.resize(std::min(k, all.size()));
  return all;
}

TEST(StorageTier, SmallStoresAnswerExactlyForEveryMetric) {
  const testing::Matrix base = testing::clustered_matrix(400, 24, 12, 5);
  const testing::Matrix queries = testing::clustered_matrix(30, 24, 12, 5, 1);
  for (Metric metric : {Metric::l2, Metric::inner_product, Metric::cosine}) {
    SCOPED_TRACE(metric_name(metric));
    // From a handful of (staged) vectors to past the quantizer's training.
    for (size_t n : {size_t(5), size_t(40), base.rows}) {
      std::unique_ptr<Index> ix;
      ASSERT_TRUE(Index::create(storage_tier(24, metric), &ix).ok());
      RowFile file;
      for (size_t i = 0; i < n; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
      for (size_t q = 0; q < queries.rows; ++q) {
        SearchParams p;
        p.k = 10;
        SearchHits hits;
        // Rows read one candidate at a time, a few, or all at once: the same answer.
        const Result r = file.search(*ix, queries.row(q), p, &hits, size_t(1) << (q % 3 * 4));
        ASSERT_TRUE(r.ok()) << r.message;
        const auto want = truth(*ix, base, queries.row(q), 10);
        ASSERT_EQ(hits.size(), want.size()) << n;
        for (size_t i = 0; i < hits.size(); ++i) {
          EXPECT_EQ(std::string(ix->id_of(hits[i].slot)), want[i].second) << "n " << n << " query " << q << " rank " << i;
          EXPECT_NEAR(hits[i].distance, want[i].first, 1e-4 * std::max(1.0, std::fabs(want[i].first)));
        }
      }
    }
  }
}

TEST(StorageTier, RescoreRefusesCandidatesPastTheLast) {
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(storage_tier(8, Metric::l2), &ix).ok());
  RowFile file;
  const testing::Matrix m = testing::random_matrix(30, 8, 3);
  for (size_t i = 0; i < m.rows; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), m.row(i)).ok());
  SearchParams p;
  p.k = 5;
  SearchHits hits;
  ASSERT_TRUE(ix->search(m.row(0), 8, p, &hits).ok());
  const size_t count = hits.size();
  ASSERT_GT(count, 5u);
  std::vector<uint8_t> rows(2 * ix->row_bytes());
  EXPECT_EQ(ix->rescore(m.row(0), 8, rows.data(), count - 1, 2, p.k, &hits).status, Status::invalid_argument);
  EXPECT_EQ(ix->rescore(m.row(0), 8, rows.data(), count + 1, 0, p.k, &hits).status, Status::invalid_argument);
  EXPECT_EQ(hits.size(), count) << "a refused call changes nothing";
}

TEST(StorageTier, LargeStoresReRankTheWalksCandidates) {
  const size_t n = 6000, dim = 48;
  const testing::Matrix base = testing::clustered_matrix(n, dim, 40, 9);
  const testing::Matrix queries = testing::clustered_matrix(60, dim, 40, 9, 1);
  for (Metric metric : {Metric::l2, Metric::cosine}) {
    SCOPED_TRACE(metric_name(metric));
    std::unique_ptr<Index> ix;
    ASSERT_TRUE(Index::create(storage_tier(dim, metric), &ix).ok());
    RowFile file;
    std::vector<std::string> ids(n);
    std::vector<std::string_view> views(n);
    for (size_t i = 0; i < n; ++i) views[i] = ids[i] = "v" + std::to_string(i);
    ASSERT_TRUE(file.write(*ix, n, [&](uint8_t* rows) {
      return ix->add_batch(n, views.data(), base.values.data(), n * dim, nullptr, true, rows);
    }).ok());
    EXPECT_EQ(ix->next_row(), n);
    double hits_found = 0;
    for (size_t q = 0; q < queries.rows; ++q) {
      SearchParams p;
      p.k = 10;
      SearchHits hits;
      ASSERT_TRUE(file.search(*ix, queries.row(q), p, &hits).ok());
      ASSERT_EQ(hits.size(), 10u);
      const auto want = truth(*ix, base, queries.row(q), 10);
      for (size_t i = 0; i < hits.size(); ++i) {
        const uint32_t at = uint32_t(std::stoul(std::string(ix->id_of(hits[i].slot)).substr(1)));
        const double d = exact_distance(metric, queries.row(q), base.row(at), dim);
        EXPECT_NEAR(hits[i].distance, d, 1e-4 * std::max(1.0, std::fabs(d)));
        for (const auto& w : want) hits_found += w.second == ix->id_of(hits[i].slot);
      }
    }
    const double recall = hits_found / (10.0 * queries.rows);
    std::printf("[ storage ] %s %zux%zu: recall@10 re-ranked x2 %.4f\n", metric_name(metric), n, dim, recall);
    EXPECT_GE(recall, 0.99);
    // The heap holds a row number per vector, not the vector.
    EXPECT_EQ(ix->memory().rerank.used, n * 4);
  }
}

// Copies of a store that apply the same operations number their rows alike,
// also when one of them was loaded from a snapshot in between: that is what
// lets several tabs read one rows file.
TEST(StorageTier, RowsAreNumberedAlikeByEveryCopy) {
  const size_t dim = 16;
  const testing::Matrix base = testing::clustered_matrix(900, dim, 10, 3);
  std::unique_ptr<Index> a, b;
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::cosine), &a).ok());
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::cosine), &b).ok());
  RowFile fa, fb;
  auto apply = [&](Index& ix, RowFile& f, size_t step) {
    const std::string id = "v" + std::to_string(step % 700);
    if (step % 7 == 3 && ix.contains(id)) return ix.remove(id);
    return f.add(ix, id, base.row(step % base.rows), ix.contains(id));
  };
  for (size_t step = 0; step < 2000; ++step) {
    if (step == 1000) {
      // b is reopened from its snapshot, as a tab that loads a checkpoint.
      const std::vector<uint8_t> bytes = testing::snapshot(*b);
      ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 0, &b).ok());
      EXPECT_EQ(b->next_row(), a->next_row());
    }
    const Result ra = apply(*a, fa, step), rb = apply(*b, fb, step);
    ASSERT_EQ(ra.status, rb.status) << step;
  }
  ASSERT_TRUE(a->consolidate().ok());
  ASSERT_TRUE(b->consolidate().ok());
  EXPECT_EQ(a->next_row(), b->next_row());
  EXPECT_EQ(fa.bytes, fb.bytes);
  for (size_t i = 0; i < 700; ++i) {
    const std::string id = "v" + std::to_string(i);
    ASSERT_EQ(a->contains(id), b->contains(id));
    if (a->contains(id)) {
      EXPECT_EQ(a->row_of(a->slot_of(id)), b->row_of(b->slot_of(id))) << id;
    }
  }
  // Either copy reads its rows from the other's file.
  SearchHits ha, hb;
  SearchParams p;
  ASSERT_TRUE(fb.search(*a, base.row(5), p, &ha).ok());
  ASSERT_TRUE(fa.search(*b, base.row(5), p, &hb).ok());
  ASSERT_EQ(ha.size(), hb.size());
  for (size_t i = 0; i < ha.size(); ++i) EXPECT_EQ(a->id_of(ha[i].slot), b->id_of(hb[i].slot));
}

TEST(StorageTier, EveryWriteGetsNewRowsAndFailedOnesNone) {
  const uint32_t dim = 8;
  const testing::Matrix base = testing::random_matrix(40, dim, 4);
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::l2), &ix).ok());
  RowFile file;
  // Staged vectors (before the quantizer trains) have no row yet; the write
  // that trains it hands out theirs too, numbered before its own.
  for (size_t i = 0; i < 15; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
  EXPECT_EQ(ix->next_row(), 0u);
  EXPECT_EQ(ix->row_of(ix->slot_of("v0")), kNoRow);
  EXPECT_EQ(ix->pending(), 0u);  // nothing to link until a write trains the quantizer
  ASSERT_TRUE(file.add(*ix, "v15", base.row(15)).ok());
  EXPECT_EQ(ix->next_row(), 16u);
  EXPECT_EQ(ix->row_of(ix->slot_of("v15")), 15u);
  // An upsert stores the new vector in a new row; the old one is never written again.
  const std::vector<uint8_t> before = file.bytes;
  ASSERT_TRUE(file.add(*ix, "v3", base.row(30), true).ok());
  EXPECT_EQ(ix->row_of(ix->slot_of("v3")), 16u);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), file.bytes.begin()));
  // Refused writes number nothing (RowFile checks it).
  const float nan[dim] = {std::nanf("")};
  EXPECT_EQ(file.add(*ix, "v3", base.row(1)).status, Status::duplicate_id);
  EXPECT_EQ(file.add(*ix, "x", nan).status, Status::non_finite_value);
  EXPECT_EQ(file.add(*ix, "v3", nan, true).status, Status::non_finite_value);
  EXPECT_EQ(ix->row_of(ix->slot_of("v3")), 16u);
  // Writes without room for their rows are refused, as rows where none are kept.
  EXPECT_EQ(ix->add("y", base.row(1), dim).status, Status::invalid_argument);
  EXPECT_EQ(ix->upsert("v4", base.row(1), dim).status, Status::invalid_argument);
  std::unique_ptr<Index> plain;
  ASSERT_TRUE(Index::create(IndexOptions{dim}, &plain).ok());
  uint8_t room[64];
  EXPECT_EQ(plain->add("y", base.row(1), dim, {}, room).status, Status::invalid_argument);
  EXPECT_EQ(ix->next_row(), 17u);
}

// A caller that takes a write back (a batch that failed halfway, a row it
// could not store) numbers rows as if the write never happened, so that it
// stays in step with copies that never saw it.
TEST(StorageTier, RowsRewindOnlyPastWhatNoVectorHolds) {
  const uint32_t dim = 8;
  const testing::Matrix base = testing::random_matrix(60, dim, 6);
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::l2), &ix).ok());
  RowFile file;
  for (size_t i = 0; i < 40; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
  const uint32_t before = ix->next_row();
  for (size_t i = 40; i < 45; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
  EXPECT_EQ(ix->rewind_rows(before).status, Status::invalid_argument);  // v40..v44 hold those rows
  EXPECT_EQ(ix->next_row(), before + 5);
  for (size_t i = 45; i-- > 40;) ASSERT_TRUE(ix->remove("v" + std::to_string(i)).ok());
  ASSERT_TRUE(ix->consolidate().ok());
  ASSERT_TRUE(ix->rewind_rows(before).ok());
  EXPECT_EQ(ix->next_row(), before);
  EXPECT_EQ(ix->rewind_rows(before + 1).status, Status::invalid_argument);  // only back
}

// What a caller does to compact its rows file: copy the rows in use to the
// front of a new file, in slot order, and renumber.
TEST(StorageTier, RenumberingCompactsTheRows) {
  const uint32_t dim = 10;
  const testing::Matrix base = testing::clustered_matrix(700, dim, 5, 12);
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::cosine), &ix).ok());
  RowFile file;
  for (size_t i = 0; i < 600; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
  for (size_t i = 0; i < 600; i += 2) ASSERT_TRUE(ix->remove("v" + std::to_string(i)).ok());
  for (size_t i = 1; i < 600; i += 4) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(600 + i / 6), true).ok());
  ASSERT_TRUE(ix->consolidate().ok());
  SearchParams p;
  SearchHits before;
  ASSERT_TRUE(file.search(*ix, base.row(3), p, &before).ok());
  std::vector<uint32_t> used(ix->rows_held());
  EXPECT_EQ(used.size(), ix->size());
  ix->rows_in_use(used.data());
  RowFile compacted;
  for (uint32_t old : used)
    compacted.bytes.insert(compacted.bytes.end(), file.bytes.begin() + size_t(old) * ix->row_bytes(),
                           file.bytes.begin() + size_t(old + 1) * ix->row_bytes());
  ix->renumber_rows();
  EXPECT_EQ(ix->next_row(), used.size());
  EXPECT_LT(compacted.bytes.size() * 2, file.bytes.size());
  SearchHits after;
  ASSERT_TRUE(compacted.search(*ix, base.row(3), p, &after).ok());
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].slot, after[i].slot);
    EXPECT_EQ(before[i].distance, after[i].distance);
  }
  // New rows follow the compacted ones.
  ASSERT_TRUE(compacted.add(*ix, "new", base.row(699)).ok());
  EXPECT_EQ(ix->row_of(ix->slot_of("new")), used.size());
}

TEST(StorageTier, RowsThatAreNotTheVectorsAreCorruption) {
  const uint32_t dim = 12;
  const testing::Matrix base = testing::clustered_matrix(600, dim, 6, 8);
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::l2), &ix).ok());
  RowFile file;
  for (size_t i = 0; i < base.rows; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
  SearchParams p;
  SearchHits hits;
  ASSERT_TRUE(file.search(*ix, base.row(0), p, &hits).ok());
  ASSERT_EQ(ix->id_of(hits[0].slot), "v0");
  // One bit of v0's row flipped; then its row swapped with another's.
  const uint32_t row = ix->row_of(ix->slot_of("v0"));
  const size_t at = size_t(row) * ix->row_bytes();
  RowFile damaged = file;
  damaged.bytes[at + 5] ^= 0x10;
  Result r = damaged.search(*ix, base.row(0), p, &hits);
  EXPECT_EQ(r.status, Status::corrupt_snapshot);
  EXPECT_NE(r.message.find("'v0'"), std::string::npos) << r.message;
  EXPECT_TRUE(hits.empty());
  damaged = file;
  std::swap_ranges(damaged.bytes.begin() + at, damaged.bytes.begin() + at + ix->row_bytes(),
                   damaged.bytes.begin() + size_t(ix->row_of(ix->slot_of("v1"))) * ix->row_bytes());
  EXPECT_EQ(damaged.search(*ix, base.row(0), p, &hits).status, Status::corrupt_snapshot);
  // The last candidate's row damaged, rows read one at a time: the batch that
  // meets it fails the search, and none of the earlier batches' scores remain.
  ASSERT_TRUE(ix->search(base.row(0), dim, p, &hits).ok());
  ASSERT_GT(hits.size(), 1u);
  damaged = file;
  damaged.bytes[size_t(ix->row_of(hits.back().slot)) * ix->row_bytes()] ^= 0x01;
  EXPECT_EQ(damaged.search(*ix, base.row(0), p, &hits, 1).status, Status::corrupt_snapshot);
  EXPECT_TRUE(hits.empty());
  // read_row (the wrapper's get()) checks the same way.
  std::vector<float> out(dim);
  EXPECT_TRUE(ix->read_row(ix->slot_of("v0"), &file.bytes[at], out.data()).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), base.row(0)));
  EXPECT_EQ(ix->read_row(ix->slot_of("v1"), &file.bytes[at], out.data()).status, Status::corrupt_snapshot);
}

TEST(StorageTier, SnapshotsKeepRowNumbersAndRefuseBadOnes) {
  const uint32_t dim = 8;
  const testing::Matrix base = testing::clustered_matrix(300, dim, 6, 2);
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(storage_tier(dim, Metric::inner_product), &ix).ok());
  RowFile file;
  for (size_t i = 0; i < base.rows; ++i) ASSERT_TRUE(file.add(*ix, "v" + std::to_string(i), base.row(i)).ok());
  for (size_t i = 0; i < base.rows; i += 3) ASSERT_TRUE(ix->remove("v" + std::to_string(i)).ok());
  ASSERT_TRUE(file.add(*ix, "v1", base.row(2), true).ok());
  std::vector<uint8_t> bytes = testing::snapshot(*ix);
  std::unique_ptr<Index> back;
  ASSERT_TRUE(Index::deserialize(bytes.data(), bytes.size(), 0, &back).ok());
  EXPECT_EQ(back->options().rerank, Rerank::storage);
  EXPECT_EQ(back->next_row(), ix->next_row());
  for (size_t i = 0; i < base.rows; ++i) {
    const std::string id = "v" + std::to_string(i);
    ASSERT_EQ(back->contains(id), ix->contains(id));
    if (ix->contains(id)) {
      EXPECT_EQ(back->row_of(back->slot_of(id)), ix->row_of(ix->slot_of(id)));
    }
  }
  EXPECT_EQ(testing::snapshot(*back), bytes);
  // next_row sits right after the format 2 header; lowering it below a row in use is refused.
  const uint64_t lowered = 5;
  std::memcpy(&bytes[kSnapshotHeaderBytesV2], &lowered, 8);
  testing::reseal(bytes);
  Result r = Index::deserialize(bytes.data(), bytes.size(), 0, &back);
  EXPECT_EQ(r.status, Status::corrupt_snapshot);
  EXPECT_NE(r.message.find("next_row"), std::string::npos) << r.message;
  const uint64_t too_big = kNoRow;
  std::memcpy(&bytes[kSnapshotHeaderBytesV2], &too_big, 8);
  testing::reseal(bytes);
  EXPECT_EQ(Index::deserialize(bytes.data(), bytes.size(), 0, &back).status, Status::corrupt_snapshot);
  // A store without a storage tier has next_row 0.
  std::unique_ptr<Index> plain;
  ASSERT_TRUE(Index::create(IndexOptions{dim}, &plain).ok());
  ASSERT_TRUE(plain->add("a", base.row(0), dim).ok());
  bytes = testing::snapshot(*plain);
  const uint64_t one = 1;
  std::memcpy(&bytes[kSnapshotHeaderBytesV2], &one, 8);
  testing::reseal(bytes);
  EXPECT_EQ(Index::deserialize(bytes.data(), bytes.size(), 0, &back).status, Status::corrupt_snapshot);
}

}  // namespace
}  // namespace tabvec
