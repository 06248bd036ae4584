// Storage that grows in bounded chunks and never moves what it holds.
//
// WASM linear memory never shrinks, so a std::vector that doubles to hold a
// million records keeps its 2x (and 3x during the copy) peak forever. Here
// every array is a list of chunks allocated on demand: the first chunks are
// small (so a store of one vector costs a few hundred bytes), they double up
// to a fixed maximum, and from then on every chunk has that size. Growth
// never copies and never reserves more than one chunk ahead.
//
// Growth is fallible and explicit: reserve() allocates (and returns false,
// changing nothing, when memory runs out); resize() and push_back() only use
// what was reserved. So an operation can reserve everything first and then
// change the index without any step that can fail.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "memory.h"

namespace tabvec {

// An array of fixed-size records addressed by index.
class ChunkedRecords {
 public:
  static constexpr size_t kDefaultMaxChunkBytes = 256 * 1024;

  ChunkedRecords() = default;
  ChunkedRecords(size_t record_bytes, size_t max_chunk_bytes = kDefaultMaxChunkBytes);
  ChunkedRecords(ChunkedRecords&& o) noexcept { *this = std::move(o); }
  ChunkedRecords& operator=(ChunkedRecords&& o) noexcept;
  ~ChunkedRecords() { clear(); }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t record_bytes() const { return record_bytes_; }

  uint8_t* at(size_t i) {
    const Location loc = locate(i);
    return chunks_[loc.chunk] + loc.offset * record_bytes_;
  }
  const uint8_t* at(size_t i) const { return const_cast<ChunkedRecords*>(this)->at(i); }

  // Allocates chunks until n records fit; false (nothing allocated) if memory runs out.
  [[nodiscard]] bool reserve(size_t n);
  // Sets the size to n <= capacity(), zeroing new records; shrinking keeps the chunks.
  void resize(size_t n);
  // The same without zeroing, for a caller that writes every new record
  // before anything reads it (the snapshot loader, copying tens of MB).
  void resize_for_overwrite(size_t n) {
    assert(n <= capacity_);
    size_ = n;
  }
  // Bytes that reserve(n) would newly allocate (for memory-cap checks before acting).
  size_t bytes_to_grow(size_t n) const;
  // Sets the size to n <= size() and frees the chunks past those holding n
  // records and one more (so that capacity() > size(), and a size going back
  // and forth over a chunk boundary does not allocate and free each time).
  void shrink_to(size_t n);
  // Frees every chunk.
  void clear();

  size_t reserved_bytes() const;
  size_t used_bytes() const { return size_ * record_bytes_; }

 private:
  struct Location {
    size_t chunk;
    size_t offset;
  };
  Location locate(size_t i) const {
    const size_t shifted = i + (size_t(1) << first_shift_);
    if (shifted < (size_t(1) << max_shift_)) {
      const unsigned msb = floor_log2(shifted);
      return {msb - first_shift_, shifted - (size_t(1) << msb)};
    }
    const size_t tail = i - ((size_t(1) << max_shift_) - (size_t(1) << first_shift_));
    return {(max_shift_ - first_shift_) + (tail >> max_shift_), tail & ((size_t(1) << max_shift_) - 1)};
  }
  static unsigned floor_log2(size_t v) {  // v > 0
    return unsigned(sizeof(unsigned long long) * 8 - 1) - unsigned(__builtin_clzll(v));
  }
  size_t chunk_records(size_t chunk) const {
    const size_t geometric = max_shift_ - first_shift_;
    return size_t(1) << (chunk < geometric ? first_shift_ + chunk : max_shift_);
  }
  size_t capacity_of(size_t chunk_count) const;

  size_t record_bytes_ = 0;
  unsigned first_shift_ = 0;
  unsigned max_shift_ = 0;
  size_t size_ = 0;
  size_t capacity_ = 0;
  PodVector<uint8_t*> chunks_;
};

// Typed view over ChunkedRecords for trivially copyable T.
template <typename T>
class ChunkedArray {
 public:
  explicit ChunkedArray(size_t max_chunk_bytes = ChunkedRecords::kDefaultMaxChunkBytes)
      : records_(sizeof(T), max_chunk_bytes) {}

  size_t size() const { return records_.size(); }
  size_t capacity() const { return records_.capacity(); }
  T get(size_t i) const {
    T v;
    std::memcpy(&v, records_.at(i), sizeof(T));
    return v;
  }
  void set(size_t i, T v) { std::memcpy(records_.at(i), &v, sizeof(T)); }
  // push_back and resize use reserved capacity only.
  void push_back(T v) {
    records_.resize(records_.size() + 1);
    set(records_.size() - 1, v);
  }
  T back() const { return get(records_.size() - 1); }
  T pop_back() {
    const T v = back();
    records_.resize(records_.size() - 1);
    return v;
  }
  [[nodiscard]] bool reserve(size_t n) { return records_.reserve(n); }
  void resize(size_t n) { records_.resize(n); }
  size_t bytes_to_grow(size_t n) const { return records_.bytes_to_grow(n); }
  void shrink_to(size_t n) { records_.shrink_to(n); }
  void clear() { records_.clear(); }
  size_t reserved_bytes() const { return records_.reserved_bytes(); }
  size_t used_bytes() const { return records_.used_bytes(); }

 private:
  ChunkedRecords records_;
};

// Variable-length byte strings (ids, metadata) packed into chunks. An entry is
// a LEB128 length followed by its bytes and never spans two chunks, so a
// handle is (chunk << 16 | offset) and reading one is a single lookup.
// Released entries become garbage that the owner reclaims with a compaction.
//
// reserve() allocates, ahead of time, the chunks that appending a list of
// entries will fill, so the appends themselves cannot fail. Chunks past the
// one being filled are such reserved, still empty, spares.
class ByteArena {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr size_t kMaxChunkBytes = 64 * 1024;

  ByteArena() = default;
  ByteArena(ByteArena&& o) noexcept { *this = std::move(o); }
  ByteArena& operator=(ByteArena&& o) noexcept;
  ~ByteArena() { clear(); }

  // Makes room for appending these entries, in order (empty ones are
  // skipped: they are never stored); false if memory or handles run out.
  [[nodiscard]] bool reserve(const std::string_view* entries, size_t n) {
    return reserve_lengths(
        n, [](const void* entries, size_t i) { return static_cast<const std::string_view*>(entries)[i].size(); }, entries);
  }
  // The same for n entries whose lengths length_of(context, i) gives, before
  // their bytes are at hand (a snapshot streaming in).
  [[nodiscard]] bool reserve_lengths(size_t n, size_t (*length_of)(const void* context, size_t i), const void* context);
  // Appends; kNone if memory or handles run out (never after a reserve() that covered it).
  uint32_t append(std::string_view bytes);
  std::string_view get(uint32_t handle) const;
  void release(uint32_t handle);
  // Bytes appending entries of these total length and count could newly allocate, in the worst case.
  size_t bytes_to_append(size_t total_length, size_t count) const;
  void clear();

  size_t reserved_bytes() const;
  size_t used_bytes() const { return used_; }
  size_t garbage_bytes() const { return garbage_; }

 private:
  struct Chunk {
    uint8_t* data;
    uint32_t capacity;
    uint32_t used;
  };
  size_t next_chunk_bytes(size_t chunk_index, size_t need) const;
  // Where an entry of `need` bytes goes after chunk `current` filled to `used`:
  // the chunk index, or chunks_.size() if a new chunk is needed.
  size_t place(size_t current, uint32_t used, size_t need) const;
  bool add_chunk(size_t need);

  PodVector<Chunk> chunks_;
  size_t current_ = 0;  // the chunk being filled
  size_t used_ = 0;
  size_t garbage_ = 0;
};

}  // namespace tabvec
