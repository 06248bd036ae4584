// The graph's storage: one fixed-size record per slot, [degree][R neighbour
// slots] as little u32s (hnswlib's level-0 layout), in bounded chunks, read
// and written through a typed view.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>

#include "chunked.h"

namespace tabvec {

// A slot's neighbour list, over its record in the graph's chunks.
class NeighborsRef {
 public:
  explicit NeighborsRef(uint8_t* record) : record_(reinterpret_cast<uint32_t*>(record)) {}
  uint32_t size() const { return record_[0]; }
  uint32_t operator[](uint32_t i) const { return record_[1 + i]; }
  const uint32_t* begin() const { return record_ + 1; }
  const uint32_t* end() const { return record_ + 1 + record_[0]; }
  bool contains(uint32_t slot) const {
    for (const uint32_t n : *this)
      if (n == slot) return true;
    return false;
  }
  // Within the record's room (R, checked by the caller's graph).
  void push_back(uint32_t slot) { record_[1 + record_[0]++] = slot; }
  void set(uint32_t i, uint32_t slot) { record_[1 + i] = slot; }
  void clear() { record_[0] = 0; }

 private:
  uint32_t* record_;
};

class Graph {
 public:
  explicit Graph(uint32_t max_degree) : max_degree_(max_degree), records_(record_bytes(max_degree)) {}
  static constexpr size_t record_bytes(uint32_t max_degree) { return (size_t(max_degree) + 1) * sizeof(uint32_t); }

  uint32_t max_degree() const { return max_degree_; }
  size_t size() const { return records_.size(); }
  [[nodiscard]] bool reserve(size_t slots) { return records_.reserve(slots); }
  // Covers slots below n (within the reserved room); new records are empty.
  void grow_to(size_t n) {
    if (records_.size() < n) records_.resize(n);
  }
  // Like grow_to, for a caller that then writes each new record's degree
  // (and its neighbours): the slots past the degree are never read.
  void grow_for_overwrite(size_t n) {
    if (records_.size() < n) records_.resize_for_overwrite(n);
  }
  // Drops the records from slot n on, and the chunks past them but one.
  void shrink_to(size_t n) { records_.shrink_to(std::min(n, records_.size())); }
  NeighborsRef neighbors(uint32_t slot) { return NeighborsRef(records_.at(slot)); }
  // Read-only use of a record; the view itself does not write.
  NeighborsRef neighbors(uint32_t slot) const { return NeighborsRef(const_cast<uint8_t*>(records_.at(slot))); }
  void assign(uint32_t slot, const uint32_t* slots, uint32_t n) {
    assert(n <= max_degree_);
    NeighborsRef list = neighbors(slot);
    list.clear();
    for (uint32_t i = 0; i < n; ++i) list.push_back(slots[i]);
  }
  const uint8_t* prefetch_address(uint32_t slot) const { return records_.at(slot); }
  // The slot's record as it is stored, [degree][R neighbour slots], for
  // copying whole lists in (the snapshot loader, which then checks them).
  uint8_t* record(uint32_t slot) { return records_.at(slot); }
  size_t bytes_to_grow(size_t n) const { return records_.bytes_to_grow(n); }
  size_t used_bytes() const { return records_.used_bytes(); }
  size_t reserved_bytes() const { return records_.reserved_bytes(); }

 private:
  uint32_t max_degree_;
  ChunkedRecords records_;
};

}  // namespace tabvec
