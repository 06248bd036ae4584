#include "id_map.h"

#include <algorithm>
#include <cassert>

namespace tabvec {

namespace {
constexpr size_t kInitialBuckets = 16;
constexpr size_t kMaxLoad = 2;  // entries per bucket before a split; 2 B/id of heads
}  // namespace

uint32_t IdMap::hash(std::string_view id) {
  uint32_t h = 2166136261u;  // FNV-1a, then murmur3's finaliser to mix the low bits
  for (const char c : id) h = (h ^ uint8_t(c)) * 16777619u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

size_t IdMap::bucket_of(uint32_t h) const {
  const size_t low = kInitialBuckets << level_;
  size_t b = h & (low - 1);
  if (b < split_) b = h & (2 * low - 1);
  return b;
}

uint32_t IdMap::find(std::string_view id) const {
  if (buckets_.size() == 0) return kNotFound;
  for (uint32_t s = buckets_.get(bucket_of(hash(id))); s != kNotFound; s = next_.get(s)) {
    if (ids_.get(s) == id) return s;
  }
  return kNotFound;
}

void IdMap::split_one_bucket() {
  const size_t low = kInitialBuckets << level_;
  const size_t from = split_;
  const size_t to = low + split_;
  buckets_.push_back(kNotFound);
  uint32_t s = buckets_.get(from);
  uint32_t keep = kNotFound, move = kNotFound;
  while (s != kNotFound) {
    const uint32_t next = next_.get(s);
    if ((hash(ids_.get(s)) & (2 * low - 1)) == to) {
      next_.set(s, move);
      move = s;
    } else {
      next_.set(s, keep);
      keep = s;
    }
    s = next;
  }
  buckets_.set(from, keep);
  buckets_.set(to, move);
  if (++split_ == low) {
    ++level_;
    split_ = 0;
  }
}

bool IdMap::reserve(size_t slot_limit, const std::string_view* ids, size_t n) {
  // insert() splits one bucket whenever the load passes kMaxLoad, so the
  // table ends with just enough buckets for the final count.
  const size_t now = buckets_.size() == 0 ? kInitialBuckets : buckets_.size();
  const size_t buckets = std::max(now, (count_ + n + kMaxLoad - 1) / kMaxLoad);
  return ids_.reserve(slot_limit, ids, n) && next_.reserve(slot_limit) && buckets_.reserve(buckets);
}

void IdMap::insert(std::string_view id, uint32_t slot) {
  ids_.set(slot, id);
  if (buckets_.size() == 0) {
    buckets_.resize(kInitialBuckets);
    for (size_t b = 0; b < kInitialBuckets; ++b) buckets_.set(b, kNotFound);
  }
  if (slot >= next_.size()) next_.resize(size_t(slot) + 1);
  const size_t b = bucket_of(hash(id));
  next_.set(slot, buckets_.get(b));
  buckets_.set(b, slot);
  ++count_;
  if (count_ > buckets_.size() * kMaxLoad) split_one_bucket();
}

size_t IdMap::assign(const std::string_view* ids, const uint32_t* slots, size_t n, uint32_t* hashes) {
  assert(count_ == 0 && buckets_.size() == 0);
  // The bucket count insert() would reach for n ids, and the split point
  // that bucket_of() reads for that count.
  const size_t buckets = std::max(kInitialBuckets, (n + kMaxLoad - 1) / kMaxLoad);
  level_ = 0;
  while ((kInitialBuckets << (level_ + 1)) <= buckets) ++level_;
  split_ = buckets - (kInitialBuckets << level_);
  buckets_.resize(buckets);
  for (size_t b = 0; b < buckets; ++b) buckets_.set(b, kNotFound);
  if (n > 0 && slots[n - 1] >= next_.size()) next_.resize(size_t(slots[n - 1]) + 1);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t slot = slots[i], h = hash(ids[i]);
    const size_t b = bucket_of(h);
    // Only an equal hash makes an earlier id worth comparing.
    for (uint32_t s = buckets_.get(b); s != kNotFound; s = next_.get(s)) {
      if (hashes[s] == h && ids_.get(s) == ids[i]) {
        clear();
        return i;
      }
    }
    hashes[slot] = h;
    ids_.set(slot, ids[i]);
    next_.set(slot, buckets_.get(b));
    buckets_.set(b, slot);
  }
  count_ = n;
  return n;
}

void IdMap::erase_slot(uint32_t slot) {
  if (!ids_.has(slot)) return;
  const size_t b = bucket_of(hash(ids_.get(slot)));
  uint32_t prev = kNotFound;
  for (uint32_t s = buckets_.get(b); s != kNotFound; prev = s, s = next_.get(s)) {
    if (s != slot) continue;
    if (prev == kNotFound) {
      buckets_.set(b, next_.get(s));
    } else {
      next_.set(prev, next_.get(s));
    }
    break;
  }
  ids_.erase(slot);
  --count_;
}

void IdMap::clear() {
  ids_.clear();
  next_.clear();
  buckets_.clear();
  level_ = 0;
  split_ = 0;
  count_ = 0;
}

size_t IdMap::reserved_bytes() const {
  return ids_.reserved_bytes() + next_.reserved_bytes() + buckets_.reserved_bytes();
}

size_t IdMap::used_bytes() const {
  return ids_.used_bytes() + next_.used_bytes() + buckets_.used_bytes();
}

}  // namespace tabvec
