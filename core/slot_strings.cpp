#include "slot_strings.h"

#include <utility>

namespace tabvec {

bool SlotStrings::reserve(size_t slot_limit, const std::string_view* strings, size_t n) {
  return handles_.reserve(slot_limit) && arena_.reserve(strings, n);
}

void SlotStrings::set(uint32_t slot, std::string_view bytes) {
  const uint32_t handle = arena_.append(bytes);
  assert(handle != ByteArena::kNone);
  if (slot >= handles_.size()) handles_.resize(size_t(slot) + 1);
  else if (has(slot)) arena_.release(handles_.get(slot) - 1);
  handles_.set(slot, handle + 1);
}

void SlotStrings::erase(uint32_t slot) {
  if (!has(slot)) return;
  arena_.release(handles_.get(slot) - 1);
  handles_.set(slot, kNoString);
}

size_t SlotStrings::bytes_to_set(uint32_t slot, size_t length) const {
  return arena_.bytes_to_append(length, 1) + handles_.bytes_to_grow(size_t(slot) + 1);
}

void SlotStrings::compact_if_wasteful() {
  if (arena_.garbage_bytes() < 64 * 1024 || arena_.garbage_bytes() * 2 < arena_.used_bytes()) return;
  // Copy into a fresh arena first and switch only once every entry is in it.
  ByteArena fresh;
  PodVector<uint32_t> moved;
  if (!moved.reserve(handles_.size())) return;
  for (size_t slot = 0; slot < handles_.size(); ++slot) {
    uint32_t handle = handles_.get(slot);
    if (handle != kNoString) {
      const uint32_t copy = fresh.append(arena_.get(handle - 1));
      if (copy == ByteArena::kNone) return;
      handle = copy + 1;
    }
    moved.push_back(handle);
  }
  for (size_t slot = 0; slot < handles_.size(); ++slot) handles_.set(slot, moved[slot]);
  arena_ = std::move(fresh);
}

void SlotStrings::clear() {
  handles_.clear();
  arena_.clear();
}

}  // namespace tabvec
