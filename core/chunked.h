// Storage that grows in bounded chunks and never moves what it holds.
//
// WASM linear memory never shrinks, so a std::vector that doubles to hold a
// million records keeps its 2x (and 3x during the copy) peak forever. Here
// every array is a list of chunks allocated on demand: the first chunks are
// small (so a store of one vector costs a few hundred bytes), they double up
// to a fixed maximum, and from then on every chunk has that size. Growth
// never copies and never reserves more than one chunk ahead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace tabvec {

// An array of fixed-size records addressed by index.
class ChunkedRecords {
 public:
  static constexpr size_t kDefaultMaxChunkBytes = 256 * 1024;

  ChunkedRecords() = default;
  ChunkedRecords(size_t record_bytes, size_t max_chunk_bytes = kDefaultMaxChunkBytes);
  ChunkedRecords(ChunkedRecords&&) = default;
  ChunkedRecords& operator=(ChunkedRecords&&) = default;

  size_t size() const { return size_; }
  size_t record_bytes() const { return record_bytes_; }

  uint8_t* at(size_t i) {
    const Location loc = locate(i);
    return chunks_[loc.chunk].get() + loc.offset * record_bytes_;
  }
  const uint8_t* at(size_t i) const { return const_cast<ChunkedRecords*>(this)->at(i); }

  // Sets the size to n. Growing allocates chunks and zeroes new records;
  // shrinking keeps the chunks for reuse.
  void resize(size_t n);
  // Bytes that resize(n) would newly reserve (for memory-cap checks before acting).
  size_t bytes_to_grow(size_t n) const;
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
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
};

// Typed view over ChunkedRecords for trivially copyable T.
template <typename T>
class ChunkedArray {
 public:
  explicit ChunkedArray(size_t max_chunk_bytes = ChunkedRecords::kDefaultMaxChunkBytes)
      : records_(sizeof(T), max_chunk_bytes) {}

  size_t size() const { return records_.size(); }
  T get(size_t i) const {
    T v;
    std::memcpy(&v, records_.at(i), sizeof(T));
    return v;
  }
  void set(size_t i, T v) { std::memcpy(records_.at(i), &v, sizeof(T)); }
  void push_back(T v) {
    records_.resize(records_.size() + 1);
    set(records_.size() - 1, v);
  }
  T pop_back() {
    const T v = get(records_.size() - 1);
    records_.resize(records_.size() - 1);
    return v;
  }
  void resize(size_t n) { records_.resize(n); }
  size_t bytes_to_grow(size_t n) const { return records_.bytes_to_grow(n); }
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
class ByteArena {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr size_t kMaxChunkBytes = 64 * 1024;

  // Returns kNone only if the arena has run out of handles (4 GiB of entries).
  uint32_t append(std::string_view bytes);
  std::string_view get(uint32_t handle) const;
  void release(uint32_t handle);
  // Bytes append(bytes) could newly reserve, in the worst case.
  size_t bytes_to_append(size_t length) const;
  void clear();

  size_t reserved_bytes() const;
  size_t used_bytes() const { return used_; }
  size_t garbage_bytes() const { return garbage_; }

 private:
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    uint32_t capacity = 0;
    uint32_t used = 0;
  };
  size_t next_chunk_bytes(size_t need) const;

  std::vector<Chunk> chunks_;
  size_t used_ = 0;
  size_t garbage_ = 0;
};

}  // namespace tabvec
