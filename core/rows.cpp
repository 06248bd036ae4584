// The storage tier (Rerank::storage, index.h): numbering rows, checking
// them, and re-ranking with the rows the caller read. Called once per write
// or search, not per distance: compiled for size.
#include <algorithm>
#include <cstring>
#include <string>

#include "checksum.h"
#include "index.h"

namespace tabvec {

// The slot's id must be set.
uint64_t Index::row_tag(uint32_t slot, const uint8_t* row) const {
  const std::string_view id = ids_.id_of(slot);
  return xxh64(row, size_t(options_.dim) * 4) ^ xxh64(reinterpret_cast<const uint8_t*>(id.data()), id.size());
}

uint32_t Index::row_of(uint32_t slot) const {
  if (!stores_rows() || slot >= slot_count_ || !holds_stored_vector(slot)) return kNoRow;
  uint32_t row;
  std::memcpy(&row, exact_.at(slot), 4);
  return row;
}

Result Index::rewind_rows(uint32_t next) {
  bool held = !stores_rows() || next > next_row_;
  for (uint32_t s = 0; s < slot_count_ && !held; ++s) {
    const uint32_t row = row_of(s);
    held = row != kNoRow && row >= next;
  }
  if (held) return Result::failure(Status::invalid_argument, "rows from " + std::to_string(next) + " on are in use");
  next_row_ = next;
  return Result::success();
}

size_t Index::rows_held() const {
  size_t n = 0;
  for (uint32_t s = 0; s < slot_count_; ++s) n += row_of(s) != kNoRow;
  return n;
}

void Index::rows_in_use(uint32_t* out) const {
  for (uint32_t s = 0; s < slot_count_; ++s)
    if (const uint32_t row = row_of(s); row != kNoRow) *out++ = row;
}

void Index::renumber_rows() {
  uint32_t next = 0;
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (row_of(s) == kNoRow) continue;
    std::memcpy(exact_.at(s), &next, 4);
    ++next;
  }
  next_row_ = next;
}

Result Index::read_row(uint32_t slot, const uint8_t* row, float* out) const {
  if (row_of(slot) == kNoRow) return Result::failure(Status::invalid_argument, "that slot has no row");
  uint64_t tag;
  std::memcpy(&tag, row + size_t(options_.dim) * 4, kRowTagBytes);
  if (tag != row_tag(slot, row)) {
    return Result::failure(Status::corrupt_snapshot, "the stored vector of id '" + std::string(ids_.id_of(slot)) +
                                                         "' (row " + std::to_string(row_of(slot)) +
                                                         ") is damaged, missing or another vector's");
  }
  std::memcpy(out, row, size_t(options_.dim) * 4);
  return Result::success();
}

Result Index::rescore(const float* query, size_t len, const uint8_t* rows, size_t first, size_t count, uint32_t k,
                      SearchHits* hits) {
  if (!stores_rows() || first > hits->size() || count > hits->size() - first)
    return Result::failure(Status::invalid_argument, "rescore() is for a storage tier's candidates");
  if (Result r = check_vector(query, len, "query"); !r.ok()) return r;
  if (!normalized_.reserve(options_.dim) || !decoded_.reserve(options_.dim)) return Result::out_of_memory();
  const float* v = prepared(query);
  decoded_.resize(options_.dim);
  for (size_t i = 0; i < count; ++i) {
    Neighbor& n = (*hits)[first + i];
    if (row_of(n.slot) == kNoRow) continue;
    if (Result r = read_row(n.slot, rows + i * row_bytes(), decoded_.data()); !r.ok()) {
      hits->clear();
      return r;
    }
    n.distance = float_distance(options_.metric, kernels_.float_kernel(v, decoded_.data(), options_.dim));
  }
  if (first + count < hits->size()) return Result::success();
  std::sort(hits->begin(), hits->end(), closer);
  while (hits->size() > k) hits->pop_back();
  return Result::success();
}

}  // namespace tabvec
