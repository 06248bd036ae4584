#include "slot_strings.h"

#include <utility>

namespace tabvec {

bool SlotStrings::set(uint32_t slot, std::string_view bytes) {
  const uint32_t handle = arena_.append(bytes);
  if (handle == ByteArena::kNone) return false;
  if (slot >= handles_.size()) {
    const size_t old = handles_.size();
    handles_.resize(size_t(slot) + 1);
    for (size_t i = old; i < handles_.size(); ++i) handles_.set(i, ByteArena::kNone);
  }
  if (handles_.get(slot) != ByteArena::kNone) arena_.release(handles_.get(slot));
  handles_.set(slot, handle);
  return true;
}

void SlotStrings::erase(uint32_t slot) {
  if (!has(slot)) return;
  arena_.release(handles_.get(slot));
  handles_.set(slot, ByteArena::kNone);
}

size_t SlotStrings::bytes_to_set(uint32_t slot, size_t length) const {
  return arena_.bytes_to_append(length) + handles_.bytes_to_grow(size_t(slot) + 1);
}

void SlotStrings::compact_if_wasteful() {
  if (arena_.garbage_bytes() < 64 * 1024 || arena_.garbage_bytes() * 2 < arena_.used_bytes()) return;
  ByteArena fresh;
  for (size_t slot = 0; slot < handles_.size(); ++slot) {
    const uint32_t handle = handles_.get(slot);
    if (handle != ByteArena::kNone) handles_.set(slot, fresh.append(arena_.get(handle)));
  }
  arena_ = std::move(fresh);
}

void SlotStrings::clear() {
  handles_.clear();
  arena_.clear();
}

}  // namespace tabvec
