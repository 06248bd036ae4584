// String id -> slot lookup by linear hashing.
//
// Linear hashing grows the bucket array one bucket at a time (splitting one
// chain per insert when the load passes the limit), so there is never a
// rehash of the whole table and the bucket array grows in chunks like every
// other array. Chains are threaded through a per-slot `next` array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chunked.h"
#include "slot_strings.h"

namespace tabvec {

class IdMap {
 public:
  static constexpr uint32_t kNotFound = 0xFFFFFFFFu;

  uint32_t find(std::string_view id) const;
  // Makes room for inserting these ids at slots below slot_limit; false if memory runs out.
  [[nodiscard]] bool reserve(size_t slot_limit, const std::string_view* ids, size_t n);
  // Maps id (which must be absent) to slot, in room made by reserve().
  void insert(std::string_view id, uint32_t slot);
  // Fills an empty map with ids[i] -> slots[i] (slots increasing), in room
  // made by reserve() with the same ids: the table is sized for all of them
  // at once and each id hashed once, with no bucket splits. `hashes` is
  // scratch for one u32 per slot. Returns n, or the index of the first id
  // equal to an earlier one (the map is then cleared of what was added).
  size_t assign(const std::string_view* ids, const uint32_t* slots, size_t n, uint32_t* hashes);
  // Removes the slot's id, if it has one.
  void erase_slot(uint32_t slot);
  std::string_view id_of(uint32_t slot) const { return ids_.get(slot); }
  bool has_id(uint32_t slot) const { return ids_.has(slot); }

  size_t size() const { return count_; }
  void compact_if_wasteful() { ids_.compact_if_wasteful(); }
  void clear();

  size_t reserved_bytes() const;
  size_t used_bytes() const;

  static uint32_t hash(std::string_view id);

 private:
  size_t bucket_of(uint32_t h) const;
  void split_one_bucket();

  SlotStrings ids_;
  ChunkedArray<uint32_t> next_;     // per slot: next slot in the same chain
  ChunkedArray<uint32_t> buckets_;  // chain heads
  unsigned level_ = 0;
  size_t split_ = 0;
  size_t count_ = 0;
};

}  // namespace tabvec
