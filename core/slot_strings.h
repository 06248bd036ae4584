// One optional byte string per slot (ids, JSON metadata), packed in a ByteArena.
// The per-slot handle array is only allocated once a string is stored, so an
// index without metadata pays nothing for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chunked.h"

namespace tabvec {

class SlotStrings {
 public:
  bool has(uint32_t slot) const { return slot < handles_.size() && handles_.get(slot) != kNoString; }
  std::string_view get(uint32_t slot) const {
    return has(slot) ? arena_.get(handles_.get(slot) - 1) : std::string_view();
  }
  // Makes room for set() at slots below slot_limit with these strings, in
  // this order (empty ones are skipped); false if memory runs out.
  [[nodiscard]] bool reserve(size_t slot_limit, const std::string_view* strings, size_t n);
  // The same from the strings' lengths alone (ByteArena::reserve_lengths).
  [[nodiscard]] bool reserve_lengths(size_t slot_limit, size_t n, size_t (*length_of)(const void* context, size_t i),
                                     const void* context) {
    return handles_.reserve(slot_limit) && arena_.reserve_lengths(n, length_of, context);
  }
  // Replaces the slot's string, in room made by reserve().
  void set(uint32_t slot, std::string_view bytes);
  void erase(uint32_t slot);
  // Worst-case bytes that set(slot, bytes of this length) could newly reserve.
  size_t bytes_to_set(uint32_t slot, size_t length) const;
  // Rewrites the arena without released entries once they outweigh live ones
  // (skipped if memory for the copy cannot be had).
  void compact_if_wasteful();
  void clear();
  size_t reserved_bytes() const { return handles_.reserved_bytes() + arena_.reserved_bytes(); }
  size_t used_bytes() const {
    return handles_.used_bytes() + arena_.used_bytes() - arena_.garbage_bytes();
  }

 private:
  // Per slot, its arena handle plus one: growing the array zero-fills, and
  // zero is no string (a store opening sets 100,000s of slots in order).
  static constexpr uint32_t kNoString = 0;
  ChunkedArray<uint32_t> handles_;
  ByteArena arena_;
};

}  // namespace tabvec
