// Which slots a graph walk has seen, as hnswlib's VisitedList: a tag per slot
// compared with the walk's own tag, so starting a walk clears nothing (except
// once every 65,535 walks, when the tag wraps).
#pragma once

#include <cstddef>
#include <cstdint>

#include "chunked.h"

namespace tabvec {

class VisitedSet {
 public:
  // Room for slots below n; false if memory runs out.
  [[nodiscard]] bool reserve(size_t n) {
    if (!tags_.reserve(n)) return false;
    if (tags_.size() < n) tags_.resize(n);
    return true;
  }
  void start_walk() {
    if (++tag_ != 0) return;
    for (size_t s = 0; s < tags_.size(); ++s) tags_.set(s, 0);
    tag_ = 1;
  }
  // True the first time a walk visits the slot.
  bool visit(uint32_t slot) {
    if (tags_.get(slot) == tag_) return false;
    tags_.set(slot, tag_);
    return true;
  }
  void clear() {
    tags_.clear();
    tag_ = 0;
  }
  size_t used_bytes() const { return tags_.used_bytes(); }
  size_t reserved_bytes() const { return tags_.reserved_bytes(); }

 private:
  ChunkedArray<uint16_t> tags_;
  uint16_t tag_ = 0;
};

}  // namespace tabvec
