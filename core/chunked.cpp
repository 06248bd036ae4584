#include "chunked.h"

#include <algorithm>
#include <cstring>

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

ChunkedRecords& ChunkedRecords::operator=(ChunkedRecords&& o) noexcept {
  if (this == &o) return *this;
  clear();
  record_bytes_ = o.record_bytes_;
  first_shift_ = o.first_shift_;
  max_shift_ = o.max_shift_;
  size_ = o.size_;
  capacity_ = o.capacity_;
  chunks_ = std::move(o.chunks_);
  o.size_ = o.capacity_ = 0;
  return *this;
}

bool ChunkedRecords::reserve(size_t n) {
  if (n <= capacity_) return true;
  size_t chunks = chunks_.size(), capacity = capacity_;
  while (capacity < n) capacity += chunk_records(chunks++);
  if (!chunks_.reserve(chunks)) return false;
  const size_t first_new = chunks_.size();
  while (chunks_.size() < chunks) {
    const size_t bytes = chunk_records(chunks_.size()) * record_bytes_;
    uint8_t* chunk = static_cast<uint8_t*>(allocate(bytes));
    if (!chunk) {
      while (chunks_.size() > first_new) {
        release(chunks_.back());
        chunks_.pop_back();
      }
      return false;
    }
    chunks_.push_back(chunk);
  }
  capacity_ = capacity;
  return true;
}

void ChunkedRecords::resize(size_t n) {
  assert(n <= capacity_);
  // Records between the old and new size may hold data from before a shrink.
  // Zeroed a chunk's run at a time: a store opening sets 100,000s of 1-byte records.
  while (size_ < n) {
    const Location loc = locate(size_);
    const size_t run = std::min(n - size_, chunk_records(loc.chunk) - loc.offset);
    std::memset(chunks_[loc.chunk] + loc.offset * record_bytes_, 0, run * record_bytes_);
    size_ += run;
  }
  size_ = n;
}

size_t ChunkedRecords::bytes_to_grow(size_t n) const {
  size_t chunks = chunks_.size();
  size_t capacity = capacity_;
  size_t bytes = 0;
  while (capacity < n) {
    const size_t records = chunk_records(chunks++);
    capacity += records;
    bytes += records * record_bytes_ + sizeof(uint8_t*);
  }
  return bytes;
}

void ChunkedRecords::shrink_to(size_t n) {
  assert(n <= size_);
  size_ = n;
  size_t keep = 0, capacity = 0;
  while (capacity <= size_ && keep < chunks_.size()) capacity += chunk_records(keep++);
  if (keep == chunks_.size()) return;
  while (chunks_.size() > keep) {
    release(chunks_.back());
    chunks_.pop_back();
  }
  capacity_ = capacity;
}

void ChunkedRecords::clear() {
  for (uint8_t* chunk : chunks_) release(chunk);
  chunks_.reset();
  size_ = 0;
  capacity_ = 0;
}

size_t ChunkedRecords::reserved_bytes() const {
  return capacity_ * record_bytes_ + chunks_.capacity() * sizeof(uint8_t*);
}

// ---------------------------------------------------------------------------

namespace {
constexpr size_t kFirstArenaChunkBytes = 256;
constexpr size_t kMaxArenaChunks = 0xFFFF;  // a handle keeps 16 bits for the chunk

size_t varint_size(size_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
}  // namespace

ByteArena& ByteArena::operator=(ByteArena&& o) noexcept {
  if (this == &o) return *this;
  clear();
  chunks_ = std::move(o.chunks_);
  current_ = o.current_;
  used_ = o.used_;
  garbage_ = o.garbage_;
  o.current_ = o.used_ = o.garbage_ = 0;
  return *this;
}

size_t ByteArena::next_chunk_bytes(size_t chunk_index, size_t need) const {
  // Chunks double from 256 B to 64 KiB; an entry larger than that gets a chunk
  // of its own size.
  size_t bytes = kFirstArenaChunkBytes;
  for (size_t i = 0; i < chunk_index && bytes < kMaxChunkBytes; ++i) bytes *= 2;
  while (bytes < need && bytes < kMaxChunkBytes) bytes *= 2;
  return bytes < need ? need : bytes;
}

size_t ByteArena::place(size_t current, uint32_t used, size_t need) const {
  if (current < chunks_.size() && chunks_[current].capacity - used >= need) return current;
  // The next spare that fits; smaller spares are skipped (they were reserved
  // for entries that were then not appended).
  for (size_t c = current + 1; c < chunks_.size(); ++c)
    if (chunks_[c].capacity >= need) return c;
  return chunks_.size();
}

bool ByteArena::add_chunk(size_t need) {
  if (chunks_.size() >= kMaxArenaChunks || !chunks_.reserve_more(1)) return false;
  const size_t bytes = next_chunk_bytes(chunks_.size(), need);
  if (bytes > 0xFFFFFFFFu) return false;
  uint8_t* data = static_cast<uint8_t*>(allocate(bytes));
  if (!data) return false;
  chunks_.push_back({data, uint32_t(bytes), 0});
  return true;
}

bool ByteArena::reserve_lengths(size_t n, size_t (*length_of)(const void* context, size_t i), const void* context) {
  const size_t had = chunks_.size();
  size_t current = current_;
  uint32_t used = current < had ? chunks_[current].used : 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t length = length_of(context, i);
    if (length == 0) continue;
    const size_t need = varint_size(length) + length;
    const size_t c = place(current, used, need);
    if (c == chunks_.size() && !add_chunk(need)) {
      while (chunks_.size() > had) {
        tabvec::release(chunks_.back().data);
        chunks_.pop_back();
      }
      return false;
    }
    if (c != current) used = 0;
    current = c;
    used += uint32_t(need);
  }
  return true;
}

size_t ByteArena::bytes_to_append(size_t total_length, size_t count) const {
  if (count == 0) return 0;
  // The entries with their length prefixes, plus one more chunk's worth for
  // the tail of the chunk being filled and for the chunk table.
  return total_length + 5 * count + kMaxChunkBytes + 2 * sizeof(Chunk);
}

uint32_t ByteArena::append(std::string_view bytes) {
  const size_t need = varint_size(bytes.size()) + bytes.size();
  if (need > 0xFFFFFFFFu) return kNone;
  size_t c = place(current_, current_ < chunks_.size() ? chunks_[current_].used : 0, need);
  if (c == chunks_.size() && !add_chunk(need)) return kNone;
  current_ = c;
  Chunk& chunk = chunks_[c];
  if (chunk.used > 0xFFFF) return kNone;  // unreachable: regular chunks are <= 64 KiB
  const uint32_t handle = uint32_t(c << 16) | chunk.used;
  uint8_t* out = chunk.data + chunk.used;
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
  const uint8_t* p = chunk.data + (handle & 0xFFFF);
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
  for (const Chunk& c : chunks_) tabvec::release(c.data);
  chunks_.reset();
  current_ = 0;
  used_ = 0;
  garbage_ = 0;
}

size_t ByteArena::reserved_bytes() const {
  size_t total = chunks_.capacity() * sizeof(Chunk);
  for (const Chunk& c : chunks_) total += c.capacity;
  return total;
}

}  // namespace tabvec
