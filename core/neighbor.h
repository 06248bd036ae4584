// A slot with its distance to a query or to another slot, the one ordering
// every list of them uses, and the candidate list of a graph walk.
#pragma once

#include <cstddef>
#include <cstdint>

#include "memory.h"

namespace tabvec {

struct Neighbor {
  uint32_t slot;
  float distance;  // squared L2, 1 - cosine, or -dot: smaller is closer
};

// Closer first; equal distances by slot, so every result order is deterministic.
inline bool closer(const Neighbor& a, const Neighbor& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot);
}

// The best `capacity` candidates seen by a walk, closest first, each marked
// once expanded (DiskANN's NeighborPriorityQueue). Invariant: every entry
// before cursor_ is expanded, so closest_unexpanded() resumes from there.
class CandidateList {
 public:
  [[nodiscard]] bool reserve(size_t capacity) { return entries_.reserve(capacity + 1); }
  // Empties the list for a walk keeping `capacity` (within the reserved room).
  void reset(size_t capacity) {
    entries_.clear();
    capacity_ = capacity;
    cursor_ = 0;
  }
  size_t size() const { return entries_.size(); }
  const Neighbor& operator[](size_t i) const { return entries_[i].neighbor; }

  // Inserts n unless the list is full of closer ones.
  void insert(const Neighbor& n) {
    if (entries_.size() == capacity_ && !closer(n, entries_.back().neighbor)) return;
    size_t lo = 0, hi = entries_.size();  // first entry farther than n
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (closer(n, entries_[mid].neighbor)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    entries_.insert(lo, {n, false});
    if (entries_.size() > capacity_) entries_.pop_back();
    if (lo < cursor_) cursor_ = lo;
  }
  bool has_unexpanded() {
    while (cursor_ < entries_.size() && entries_[cursor_].expanded) ++cursor_;
    return cursor_ < entries_.size();
  }
  // Needs has_unexpanded(); marks the entry expanded.
  Neighbor closest_unexpanded() {
    entries_[cursor_].expanded = true;
    return entries_[cursor_++].neighbor;
  }
  size_t reserved_bytes() const { return entries_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    Neighbor neighbor;
    bool expanded;
  };
  PodVector<Entry> entries_;
  size_t capacity_ = 0;
  size_t cursor_ = 0;
};

}  // namespace tabvec
