#include "chunked.h"

namespace tabvec {

namespace {
constexpr unsigned kFirstChunkShift = 4;  // the first chunk holds 16 records
}  // namespace

ChunkedRecords::ChunkedRecords(size_t record_bytes, size_t max_chunk_bytes)
    : record_bytes_(record_bytes), first_shift_(kFirstChunkShift) {
  // Largest power-of-two record count whose chunk fits max_chunk_bytes, but at
  // least the first chunk's count (huge records get chunks of 16).
  unsigned shift = first_shift_;
  while ((size_t(2) << shift) * record_bytes_ <= max_chunk_bytes) ++shift;
  max_shift_ = shift;
}

size_t ChunkedRecords::capacity_of(size_t chunk_count) const {
  size_t total = 0;
  for (size_t c = 0; c < chunk_count; ++c) total += chunk_records(c);
  return total;
}

void ChunkedRecords::resize(size_t n) {
  size_t capacity = capacity_of(chunks_.size());
  while (capacity < n) {
    const size_t records = chunk_records(chunks_.size());
    chunks_.emplace_back(new uint8_t[records * record_bytes_]());
    capacity += records;
  }
  if (n > size_) {
    // Records between the old and new size may hold data from before a shrink.
    for (size_t i = size_; i < n; ++i) std::memset(at(i), 0, record_bytes_);
  }
  size_ = n;
}

size_t ChunkedRecords::bytes_to_grow(size_t n) const {
  size_t chunks = chunks_.size();
  size_t capacity = capacity_of(chunks);
  size_t bytes = 0;
  while (capacity < n) {
    const size_t records = chunk_records(chunks++);
    capacity += records;
    bytes += records * record_bytes_ + sizeof(std::unique_ptr<uint8_t[]>);
  }
  return bytes;
}

void ChunkedRecords::clear() {
  chunks_.clear();
  chunks_.shrink_to_fit();
  size_ = 0;
}

size_t ChunkedRecords::reserved_bytes() const {
  return capacity_of(chunks_.size()) * record_bytes_ +
         chunks_.capacity() * sizeof(std::unique_ptr<uint8_t[]>);
}

// ---------------------------------------------------------------------------

namespace {
constexpr size_t kFirstArenaChunkBytes = 256;

size_t varint_size(size_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
}  // namespace

size_t ByteArena::next_chunk_bytes(size_t need) const {
  // Chunks double from 256 B to 64 KiB; an entry larger than that gets a chunk
  // of its own size.
  size_t bytes = kFirstArenaChunkBytes;
  for (size_t i = 0; i < chunks_.size() && bytes < kMaxChunkBytes; ++i) bytes *= 2;
  while (bytes < need && bytes < kMaxChunkBytes) bytes *= 2;
  return bytes < need ? need : bytes;
}

size_t ByteArena::bytes_to_append(size_t length) const {
  const size_t need = varint_size(length) + length;
  if (!chunks_.empty() && chunks_.back().capacity - chunks_.back().used >= need) return 0;
  return next_chunk_bytes(need) + sizeof(Chunk);
}

uint32_t ByteArena::append(std::string_view bytes) {
  const size_t need = varint_size(bytes.size()) + bytes.size();
  if (need > 0xFFFFFFFFu) return kNone;
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().used < need) {
    if (chunks_.size() >= 0xFFFF) return kNone;  // handle space exhausted
    Chunk chunk;
    chunk.capacity = uint32_t(next_chunk_bytes(need));
    chunk.data.reset(new uint8_t[chunk.capacity]);
    chunks_.push_back(std::move(chunk));
  }
  Chunk& chunk = chunks_.back();
  if (chunk.used > 0xFFFF) return kNone;  // unreachable: regular chunks are <= 64 KiB
  const uint32_t handle = uint32_t((chunks_.size() - 1) << 16) | chunk.used;
  uint8_t* out = chunk.data.get() + chunk.used;
  size_t v = bytes.size();
  while (v >= 0x80) {
    *out++ = uint8_t(v | 0x80);
    v >>= 7;
  }
  *out++ = uint8_t(v);
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  chunk.used += uint32_t(need);
  used_ += need;
  return handle;
}

std::string_view ByteArena::get(uint32_t handle) const {
  const Chunk& chunk = chunks_[handle >> 16];
  const uint8_t* p = chunk.data.get() + (handle & 0xFFFF);
  size_t length = 0;
  unsigned shift = 0;
  for (;;) {
    const uint8_t b = *p++;
    length |= size_t(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  return {reinterpret_cast<const char*>(p), length};
}

void ByteArena::release(uint32_t handle) {
  const size_t length = get(handle).size();
  garbage_ += varint_size(length) + length;
}

void ByteArena::clear() {
  chunks_.clear();
  chunks_.shrink_to_fit();
  used_ = 0;
  garbage_ = 0;
}

size_t ByteArena::reserved_bytes() const {
  size_t total = chunks_.capacity() * sizeof(Chunk);
  for (const Chunk& c : chunks_) total += c.capacity;
  return total;
}

}  // namespace tabvec
