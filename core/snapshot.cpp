#include "snapshot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "checksum.h"
#include "index.h"
#include "text.h"

namespace tabvec {

// Sections of u32 and float arrays are copied to and from memory as they are,
// which is their little-endian file form only on little-endian hosts (every
// WebAssembly engine, x86, and ARM as configured by every mainstream OS).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "snapshot arrays are copied as little-endian memory");

namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The header's fields after the magic, in file order: the one list both the
// writer and the reader walk. Format 1 headers end after pass2_end.
template <typename Header, typename F>
void for_each_v1_field(Header& h, F&& f) {
  f(h.version), f(h.header_bytes), f(h.metric), f(h.storage), f(h.round_active), f(h.round_two_pass);
  f(h.dim), f(h.max_degree), f(h.build_list_size), f(h.search_list_size), f(h.alpha), f(h.max_buffer);
  f(h.quantizer_offset), f(h.quantizer_step), f(h.slot_count), f(h.entry_point), f(h.graph_size);
  f(h.entry_refresh_at), f(h.pass1_alpha), f(h.pass2_cursor), f(h.pass2_end);
}
template <typename Header, typename F>
void for_each_v2_field(Header& h, F&& f) {
  f(h.metadata_count), f(h.rerank), f(h.edge_count), f(h.id_bytes), f(h.metadata_bytes);
}
template <typename Header, typename F>
void for_each_v5_field(Header& h, F&& f) {
  f(h.next_row);
}

// True if no byte is 0x80 (-128, the one i8 value the quantizer never
// produces: codes are symmetric, -127..127), eight bytes a step.
bool codes_in_range(const uint8_t* p, size_t n) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  uint64_t found = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= kHighs;  // a 0x80 byte becomes zero
    found |= (w - kOnes) & ~w & kHighs;
  }
  for (; i < n; ++i) found |= p[i] == 0x80;
  return found == 0;
}

}  // namespace

// --- writing ---------------------------------------------------------------

size_t SnapshotWriter::start(const Index& ix) {
  using S = Index::SlotState;
  const IndexOptions& o = ix.options_;
  SnapshotHeader& h = header_;
  h = SnapshotHeader{};
  std::memcpy(h.magic, kSnapshotMagic, 8);
  h.version = kSnapshotVersion;
  h.header_bytes = sizeof(SnapshotHeader);
  h.metric = uint8_t(o.metric);
  h.storage = uint8_t(o.storage);
  h.rerank = uint32_t(o.rerank);
  h.next_row = ix.next_row_;
  h.round_active = ix.round_.active ? 1 : 0;
  h.round_two_pass = ix.round_.two_pass ? 1 : 0;
  h.dim = o.dim;
  h.max_degree = o.max_degree;
  h.build_list_size = o.build_list_size;
  h.search_list_size = o.search_list_size;
  h.alpha = o.alpha;
  h.max_buffer = o.max_buffer;
  h.quantizer_offset = ix.quantizer_.offset();
  h.quantizer_step = ix.quantizer_.step();
  h.slot_count = uint32_t(ix.slot_count_);
  h.entry_point = ix.entry_point_;
  h.graph_size = uint32_t(ix.graph_.size());
  h.entry_refresh_at = uint32_t(ix.entry_refresh_at_);
  h.pass1_alpha = ix.round_.pass1_alpha;
  h.pass2_cursor = uint32_t(ix.round_.pass2_cursor);
  h.pass2_end = uint32_t(ix.round_.pass2_end);

  uint64_t holding = 0, in_graph = 0, live = 0;
  for (uint32_t s = 0; s < ix.slot_count_; ++s) {
    const S st = ix.state(s);
    holding += ix.holds_stored_vector(s);
    if ((st == S::linked || st == S::deleted) && s < ix.graph_.size()) {
      ++in_graph;
      h.edge_count += ix.graph_.neighbors(s).size();
    }
    if (ix.ids_.has_id(s)) {
      ++live;
      h.id_bytes += ix.ids_.id_of(s).size();
    }
    if (ix.metadata_.has(s)) {
      ++h.metadata_count;
      h.metadata_bytes += ix.metadata_.get(s).size();
    }
  }
  const uint64_t size = sizeof(SnapshotHeader) + uint64_t(ix.slot_count_) +
                        holding * (ix.vector_bytes_per_slot_ + ix.exact_bytes_per_slot()) +
                        uint64_t(ix.staged_slots_.size()) * (4 + 4 * uint64_t(o.dim)) + in_graph * 4 +
                        h.edge_count * 4 + (uint64_t(ix.unlinked_.size()) + ix.free_slots_.size()) * 4 + live * 4 +
                        h.id_bytes + uint64_t(h.metadata_count) * 8 + h.metadata_bytes + 4;
  ix_ = &ix;
  size_ = size_t(size);
  written_ = 0;
  checksum_ = Xxh64{};
  section_ = kHeader;
  item_ = 0;
  piece_len_ = 0;
  return size_;
}

template <typename Produce>
void SnapshotWriter::batch(size_t items, Produce&& produce) {
  size_t n = 0;
  for (; item_ < items && n < kScratchWords; ++item_) produce(item_, n);
  piece_ = reinterpret_cast<const uint8_t*>(scratch_);
  piece_len_ = n * 4;
}

bool SnapshotWriter::next_piece() {
  using S = Index::SlotState;
  const Index& ix = *ix_;
  const size_t slots = ix.slot_count_;
  const size_t dim = ix.options_.dim;
  auto in_graph = [&ix](size_t s) {
    const S st = ix.state(uint32_t(s));
    return (st == S::linked || st == S::deleted) && s < ix.graph_.size();
  };
  auto piece = [this](const void* p, size_t len) {
    piece_ = static_cast<const uint8_t*>(p);
    piece_len_ = len;
    return true;
  };
  switch (section_) {
    case kHeader: {
      if (item_++ > 0) return false;
      uint8_t* out = reinterpret_cast<uint8_t*>(scratch_);
      std::memcpy(out, header_.magic, 8);
      size_t at = 8;
      auto put = [&out, &at](auto v) {  // little-endian, as the host is
        std::memcpy(out + at, &v, sizeof(v));
        at += sizeof(v);
      };
      for_each_v1_field(header_, put);
      for_each_v2_field(header_, put);
      for_each_v5_field(header_, put);
      return piece(out, at);
    }
    case kStates: {
      uint8_t* out = reinterpret_cast<uint8_t*>(scratch_);
      size_t n = 0;
      for (; item_ < slots && n < sizeof(scratch_); ++item_) out[n++] = uint8_t(ix.state(uint32_t(item_)));
      return n > 0 && piece(out, n);
    }
    case kVectors:
    case kExact: {
      const bool exact = section_ == kExact;
      if (exact && !ix.reranks()) return false;
      while (item_ < slots && !ix.holds_stored_vector(uint32_t(item_))) ++item_;
      if (item_ >= slots) return false;
      const uint32_t s = uint32_t(item_++);
      return exact ? piece(ix.exact_.at(s), ix.exact_bytes_per_slot()) : piece(ix.vector_bytes(s), ix.vector_bytes_per_slot_);
    }
    case kStaged: {  // item 2i is staged entry i's slot, item 2i + 1 its floats
      if (item_ >= 2 * ix.staged_slots_.size()) return false;
      const size_t i = item_ / 2;
      const bool slot = item_++ % 2 == 0;
      if (!slot) return piece(&ix.staged_vectors_[i * dim], dim * 4);
      scratch_[0] = ix.staged_slots_[i];
      return piece(scratch_, 4);
    }
    case kDegrees:
      batch(slots, [&](size_t s, size_t& n) {
        if (in_graph(s)) scratch_[n++] = ix.graph_.neighbors(uint32_t(s)).size();
      });
      return piece_len_ > 0;
    case kNeighbors: {
      while (item_ < slots && !in_graph(item_)) ++item_;
      if (item_ >= slots) return false;
      const NeighborsRef nbrs = ix.graph_.neighbors(uint32_t(item_++));
      return piece(nbrs.begin(), size_t(nbrs.size()) * 4);
    }
    case kUnlinked:
    case kFree: {
      const ChunkedArray<uint32_t>& list = section_ == kUnlinked ? ix.unlinked_ : ix.free_slots_;
      batch(list.size(), [&](size_t i, size_t& n) { scratch_[n++] = list.get(i); });
      return piece_len_ > 0;
    }
    case kIdLengths:
      batch(slots, [&](size_t s, size_t& n) {
        if (ix.ids_.has_id(uint32_t(s))) scratch_[n++] = uint32_t(ix.ids_.id_of(uint32_t(s)).size());
      });
      return piece_len_ > 0;
    case kIdBytes: {
      while (item_ < slots && !ix.ids_.has_id(uint32_t(item_))) ++item_;
      if (item_ >= slots) return false;
      const std::string_view id = ix.ids_.id_of(uint32_t(item_++));
      return piece(id.data(), id.size());
    }
    case kMetaSlots:
    case kMetaLengths: {
      const bool lengths = section_ == kMetaLengths;
      batch(slots, [&](size_t s, size_t& n) {
        if (ix.metadata_.has(uint32_t(s)))
          scratch_[n++] = lengths ? uint32_t(ix.metadata_.get(uint32_t(s)).size()) : uint32_t(s);
      });
      return piece_len_ > 0;
    }
    case kMetaBytes: {
      while (item_ < slots && !ix.metadata_.has(uint32_t(item_))) ++item_;
      if (item_ >= slots) return false;
      const std::string_view m = ix.metadata_.get(uint32_t(item_++));
      return piece(m.data(), m.size());
    }
    case kTrailer:  // the checksum of everything before it, itself not summed
      if (item_++ > 0) return false;
      scratch_[0] = uint32_t(checksum_.digest());
      return piece(scratch_, 4);
    case kDone:
      return false;
  }
  return false;
}

size_t SnapshotWriter::write(uint8_t* out, size_t len) {
  size_t done = 0;
  while (done < len && section_ != kDone) {
    if (piece_len_ == 0) {
      if (!next_piece()) {
        section_ = Section(section_ + 1);
        item_ = 0;
      }
      continue;
    }
    const size_t n = std::min(piece_len_, len - done);
    std::memcpy(out + done, piece_, n);
    if (section_ != kTrailer) checksum_.update(out + done, n);
    piece_ += n;
    piece_len_ -= n;
    done += n;
  }
  written_ += done;
  return done;
}

size_t Index::serialized_size() const { return SnapshotWriter().start(*this); }

void Index::serialize(uint8_t* out) const {
  SnapshotWriter writer;
  writer.write(out, writer.start(*this));
}

// --- reading ---------------------------------------------------------------

// --- reading -----------------------------------------------------------------

namespace {

// Bounds-checked reads over a whole buffer (format 1, read whole). Lengths are
// 64-bit so that a forged count times a record size is compared whole, never
// cut to a 32-bit size_t first (WASM).
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t remaining() const { return n_ - at_; }
  const uint8_t* view(uint64_t len) {
    if (len > remaining()) return nullptr;
    const uint8_t* v = p_ + at_;
    at_ += size_t(len);
    return v;
  }
  bool u32(uint32_t& v) {
    const uint8_t* b = view(4);
    if (b) v = load_u32(b);
    return b != nullptr;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
};

Result corrupt(const std::string& why) {
  return Result::failure(Status::corrupt_snapshot, "snapshot is corrupt: " + why);
}

}  // namespace

// Formats 2 and 3 (one layout) are loaded as they stream in: each section is checked and copied
// into the index's own records as its bytes arrive, in whatever pieces they
// come. Format 1, whose records are interleaved with their counts, is
// gathered whole and read at finish(). Both formats share every check; they
// differ only in where a section's numbers sit.
//
// The checksum covers everything, but it is known only once the last byte
// has arrived. Until then the loader trusts nothing it has not checked: every
// size is checked against the snapshot's length before anything is reserved,
// and every section's structure as it is copied. Damage found on the way is
// CORRUPT_SNAPSHOT at once. A version this build does not read, and memory
// the sizes ask for that cannot be had, are reported only if the checksum is
// good, so bit rot in the version field or in a count (the maximum degree
// sizes every graph record) reads as corruption, not as a future format or a
// full memory. Such a count can still make the loader reserve memory before
// the checksum refuses it: at most a graph record (1 KiB) per graph slot,
// each of which takes at least dim + 5 bytes of the snapshot.
class SnapshotReader {
 public:
  using S = Index::SlotState;
  static void* operator new(size_t bytes, const std::nothrow_t&) noexcept { return allocate(bytes); }
  static void operator delete(void* p) noexcept { release(p); }

  SnapshotReader(uint64_t length, uint64_t max_memory_bytes) : length_(length), max_memory_bytes_(max_memory_bytes) {}

  Result feed(const uint8_t* p, size_t n) {
    if (!failure_.ok()) return failure_;
    if (n > length_ - received_) return fail(corrupt("it holds more than its stated " + std::to_string(length_) + " bytes"));
    // Everything before the last four bytes is checksummed and loaded; those
    // four are the checksum.
    const uint64_t body_end = length_ - 4;
    const size_t body = received_ < body_end ? size_t(std::min<uint64_t>(n, body_end - received_)) : 0;
    for (size_t i = body; i < n; ++i) trailer_[received_ + i - body_end] = p[i];
    const uint64_t at = received_;
    received_ += n;
    Result res = consume(p, body);
    if (res.status == Status::out_of_memory || res.status == Status::memory_cap_exceeded) {
      // A damaged count may have asked for that memory: the checksum decides
      // which failure to report. Give back what was taken meanwhile.
      ix_.reset();
      states_.reset(), whole_.reset(), id_bytes_.reset(), carry_.reset();
      after_checksum_ = std::move(res);
      res = Result::success();
    }
    if (res.ok()) sum(at, p, body);
    return fail(std::move(res));
  }

  Result finish(std::unique_ptr<Index>* out) {
    if (!failure_.ok()) return failure_;
    if (received_ != length_)
      return fail(corrupt("it ended after " + std::to_string(received_) + " of " + std::to_string(length_) + " bytes"));
    const uint32_t computed = summed_by_xxh64() ? uint32_t(xxh64_.digest()) : ~crc_;
    if (computed != load_u32(trailer_)) return fail(corrupt("checksum mismatch (truncated or modified bytes)"));
    if (!after_checksum_.ok()) return fail(std::move(after_checksum_));
    Result res = Result::success();
    if (gather_) {
      res = read_v1();
    } else {
      // Sections still open here are empty ones at the end, or truncated.
      while (res.ok() && section_ != kTrailer)
        res = left_ == 0 ? next_section() : corrupt("it ends inside its sections");
    }
    if (res.ok()) res = check_index();
    if (res.ok()) *out = std::move(ix_);
    return fail(std::move(res));
  }

 private:
  enum Section : uint8_t {
    kPrefix, kHeader, kStates, kVectors, kExact, kStaged, kDegrees, kNeighbors, kUnlinked, kFree,
    kIdLengths, kIdBytes, kMetaSlots, kMetaLengths, kMetaBytes, kTrailer
  };
  // The magic, version and header size: enough to tell the formats apart.
  static constexpr size_t kPrefixBytes = 16;

  Result fail(Result res) {
    if (!res.ok()) failure_ = res;
    return res;
  }
  // The prefix names the format, and with it the checksum (CRC-32 before
  // format 3, XXH64 from it on, and for versions this build does not know,
  // so that bit rot in the version reads as corruption): its bytes go into
  // both, the rest into the one the version picks. `at`: where p starts.
  bool summed_by_xxh64() const { return h_.version >= kFirstXxh64SnapshotVersion; }
  void sum(uint64_t at, const uint8_t* p, size_t n) {
    if (at < kPrefixBytes) {
      const size_t both = size_t(std::min<uint64_t>(n, kPrefixBytes - at));
      crc_ = crc32_update(crc_, p, both);
      xxh64_.update(p, both);
      p += both, n -= both;
    }
    if (n == 0) return;
    if (summed_by_xxh64()) xxh64_.update(p, n);
    else crc_ = crc32_update(crc_, p, n);
  }
  Index& x() { return *ix_; }
  uint64_t count(S state) const { return counts_[uint8_t(state)]; }
  uint64_t holding() const { return count(S::unlinked) + count(S::linked) + count(S::deleted); }
  uint64_t live() const { return count(S::staged) + count(S::unlinked) + count(S::linked); }
  uint64_t in_graph() const { return count(S::linked) + count(S::deleted); }
  // These run per vector and per edge in a file compiled for size, which
  // would otherwise call them: a third of a large load's time.
  [[gnu::always_inline]] bool holds_vector(uint32_t s) const { return states_.data()[s] >= uint8_t(S::unlinked); }
  [[gnu::always_inline]] bool graph_slot(uint32_t s) const { return states_.data()[s] >= uint8_t(S::linked); }
  [[gnu::always_inline]] uint32_t* graph_record(uint32_t s) { return reinterpret_cast<uint32_t*>(x().graph_.record(s)); }

  // --- streaming (formats 2 and 3) ----------------------------------------------

  // Hands the section's handler whole units (a vector record, a u32, ...),
  // gathering a unit split across two pieces in carry_.
  Result consume(const uint8_t* p, size_t n) {
    for (;;) {
      if (!after_checksum_.ok()) return Result::success();  // only the checksum is still wanted
      if (gather_) {
        whole_.append(p, n);
        return Result::success();
      }
      while (left_ == 0 && section_ != kTrailer)
        if (Result res = next_section(); !res.ok()) return res;
      if (n == 0) return Result::success();
      const uint8_t* units;
      size_t count;
      if (!carry_.empty() || n < unit_) {
        if (!carry_.reserve(unit_)) return Result::out_of_memory();
        const size_t take = std::min(n, unit_ - carry_.size());
        carry_.append(p, take);
        p += take, n -= take;
        if (carry_.size() < unit_) return Result::success();
        units = carry_.data(), count = 1;
      } else {
        // Metadata texts differ in length: one at a time.
        count = section_ == kMetaBytes ? 1 : size_t(std::min<uint64_t>(n / unit_, left_ / unit_));
        units = p;
        p += count * unit_, n -= count * unit_;
      }
      left_ -= uint64_t(count) * unit_;
      Result res = take(units, count);
      carry_.clear();
      if (!res.ok()) return res;
    }
  }

  Result take(const uint8_t* p, size_t n) {
    switch (section_) {
      case kPrefix: return read_prefix(p);
      case kHeader: return read_header(p);
      case kStates: states_.append(p, n); return Result::success();
      case kVectors: return take_vectors(p, n);
      case kExact: return take_vectors(p, n, true);
      case kStaged: return take_staged(p, n);
      case kDegrees: return take_degrees(p, n);
      case kNeighbors: return take_neighbours(p, n);
      case kUnlinked: return take_list(x().unlinked_, S::unlinked, p, n) ? Result::success() : corrupt("write-buffer list");
      case kFree: return take_list(x().free_slots_, S::free, p, n) ? Result::success() : corrupt("free list");
      case kIdLengths: return take_lengths(id_lengths_, kMaxIdBytes, p, n) ? Result::success() : corrupt("bad id length");
      case kIdBytes: id_bytes_.append(p, n); return Result::success();
      case kMetaSlots: return take_meta_slots(p, n);
      case kMetaLengths:
        return take_lengths(meta_lengths_, kMaxMetadataBytes, p, n) ? Result::success() : corrupt("bad metadata length");
      case kMetaBytes: return take_metadata(p);
      case kTrailer: break;
    }
    return Result::success();
  }

  // Ends the current section and starts the next: what a section needs
  // (its unit, its bytes, the memory it fills) is set up here.
  Result next_section() {
    if (Result res = end_section(); !res.ok()) return res;
    section_ = Section(section_ + 1);
    const uint64_t dim = section_ >= kStates ? x().options_.dim : 0;
    unit_ = 4;
    cursor_ = 0;
    switch (section_) {
      case kHeader: unit_ = snapshot_header_bytes(h_.version) - kPrefixBytes, left_ = unit_; break;
      case kStates:
        unit_ = 1, left_ = h_.slot_count;
        if (!states_.reserve(h_.slot_count)) return Result::out_of_memory();
        break;
      case kVectors: unit_ = x().vector_bytes_per_slot_, left_ = holding() * unit_; break;
      case kExact: unit_ = std::max<size_t>(x().exact_bytes_per_slot(), 1), left_ = holding() * x().exact_bytes_per_slot(); break;
      case kStaged: unit_ = size_t(4 + 4 * dim), left_ = count(S::staged) * unit_; break;
      case kDegrees: left_ = in_graph() * 4; break;
      case kNeighbors: left_ = h_.edge_count * 4; break;
      case kUnlinked: left_ = count(S::unlinked) * 4; break;
      case kFree: left_ = count(S::free) * 4; break;
      case kIdLengths: left_ = live() * 4; break;
      case kIdBytes: unit_ = 1, left_ = h_.id_bytes; break;
      case kMetaSlots: case kMetaLengths: left_ = uint64_t(h_.metadata_count) * 4; break;
      // A unit per text: each is checked and stored once it is whole.
      case kMetaBytes: unit_ = h_.metadata_count > 0 ? meta_lengths_[0] : 1, left_ = h_.metadata_bytes; break;
      case kPrefix: case kTrailer: break;
    }
    return begin_section();
  }

  Result begin_section() {
    switch (section_) {
      case kStaged:
        x().staged_vectors_.resize(size_t(count(S::staged)) * x().options_.dim);
        x().staged_slots_.resize(size_t(count(S::staged)));
        break;
      case kDegrees: x().graph_.grow_for_overwrite(h_.graph_size); break;
      case kIdLengths: return id_lengths_.reserve(live()) ? Result::success() : Result::out_of_memory();
      case kIdBytes: return id_bytes_.reserve(h_.id_bytes) ? Result::success() : Result::out_of_memory();
      case kMetaSlots: case kMetaLengths:
        return meta_slots_.reserve(h_.metadata_count) && meta_lengths_.reserve(h_.metadata_count)
                   ? Result::success() : Result::out_of_memory();
      default: break;
    }
    return Result::success();
  }

  Result end_section() {
    switch (section_) {
      case kStates: return after_states();
      case kVectors: zero_records_from(x().vectors_, cursor_); return Result::success();
      case kExact: if (x().reranks()) zero_records_from(x().exact_, cursor_); return Result::success();
      case kDegrees:
        unlink_from(cursor_);
        if (edges_ != h_.edge_count)
          return corrupt("degrees add up to " + std::to_string(edges_) + ", not the edge count");
        cursor_ = 0, edges_ = 0;
        return Result::success();
      case kFree: return check_lists();
      case kIdLengths:
        if (length_sum_ != h_.id_bytes) return corrupt("id lengths add up to " + std::to_string(length_sum_) + ", not the id bytes");
        length_sum_ = 0;
        return Result::success();
      case kIdBytes: return add_ids(id_lengths_, id_bytes_.data());
      case kMetaLengths:
        if (length_sum_ != h_.metadata_bytes) return corrupt("metadata lengths do not add up to the metadata bytes");
        return reserve_metadata();
      default: return Result::success();
    }
  }

  Result read_prefix(const uint8_t* p) {
    if (std::memcmp(p, kSnapshotMagic, 8) != 0) return corrupt("it does not start with the tabvec magic bytes");
    std::memcpy(head_, p, kPrefixBytes);
    h_.version = load_u32(p + 8);
    if (h_.version < kOldestSnapshotVersion || h_.version > kSnapshotVersion) {
      after_checksum_ = Result::failure(Status::unsupported_version,
                                     "snapshot format version " + std::to_string(h_.version) +
                                         " is not supported (this build reads versions " +
                                         std::to_string(kOldestSnapshotVersion) + " to " +
                                         std::to_string(kSnapshotVersion) + ")");
      return Result::success();
    }
    if (h_.version == 1) {
      // Gathered whole, as before format 2, and read at finish().
      if (!whole_.reserve(size_t(length_ - 4))) return Result::out_of_memory();
      whole_.append(p, kPrefixBytes);
      gather_ = true;
    }
    return Result::success();
  }

  Result read_header(const uint8_t* p) {
    const uint32_t bytes = snapshot_header_bytes(h_.version);
    std::memcpy(head_ + kPrefixBytes, p, bytes - kPrefixBytes);
    return parse_header(head_, bytes, length_ - 4 - bytes);
  }

  // The header's fields, from `bytes` (the v1 or v2 header whole); `after` is
  // how many bytes follow it before the checksum.
  Result parse_header(const uint8_t* bytes, size_t n, uint64_t after) {
    ByteReader r(bytes, n);
    (void)r.view(8);
    for_each_v1_field(h_, [&r](auto& field) {
      const uint8_t* b = r.view(sizeof(field));
      if (b) std::memcpy(&field, b, sizeof(field));
    });
    if (h_.header_bytes != snapshot_header_bytes(h_.version)) return corrupt("header size " + std::to_string(h_.header_bytes));
    auto take = [&r](auto& field) { std::memcpy(&field, r.view(sizeof(field)), sizeof(field)); };
    if (h_.version >= 2) {
      for_each_v2_field(h_, take);
      if (h_.version < kFirstRerankSnapshotVersion && h_.rerank != 0)
        return corrupt("reserved header field is " + std::to_string(h_.rerank));
      if (h_.rerank >= uint32_t(kRerankCount)) return corrupt("bad rerank " + std::to_string(h_.rerank));
    }
    if (h_.version >= kFirstRowsSnapshotVersion) for_each_v5_field(h_, take);
    const bool rows = h_.rerank == uint32_t(Rerank::storage);
    if (rows && h_.version < kFirstRowsSnapshotVersion) return corrupt("bad rerank " + std::to_string(h_.rerank));
    if (rows ? h_.next_row >= kNoRow : h_.next_row != 0) return corrupt("bad next row " + std::to_string(h_.next_row));
    IndexOptions o;
    o.dim = h_.dim;
    o.metric = Metric(h_.metric);
    o.storage = Storage(h_.storage);
    o.rerank = Rerank(h_.rerank);
    o.max_degree = h_.max_degree;
    o.build_list_size = h_.build_list_size;
    o.search_list_size = h_.search_list_size;
    o.alpha = h_.alpha;
    o.max_buffer = h_.max_buffer;
    o.max_memory_bytes = max_memory_bytes_;
    if (Result res = Index::create(o, &ix_); !res.ok())
      return res.status == Status::out_of_memory ? res : corrupt("bad options: " + res.message);
    if (h_.round_active > 1 || h_.round_two_pass > 1 || !(h_.pass1_alpha >= 1.0f && h_.pass1_alpha <= 4.0f))
      return corrupt("bad linking state");
    // Each slot takes at least one byte (its state).
    if (h_.slot_count > after || h_.slot_count > kMaxSlots) return corrupt("slot count " + std::to_string(h_.slot_count));
    if (h_.graph_size > h_.slot_count || h_.pass2_end > h_.slot_count || h_.pass2_cursor > h_.pass2_end)
      return corrupt("counts in the header disagree");
    // An untrained quantizer (and float32 storage) is written as +0, +0 exactly;
    // comparing bits also refuses -0, so every accepted snapshot has one form.
    const bool untrained = float_bits(h_.quantizer_step) == 0 && float_bits(h_.quantizer_offset) == 0;
    if (o.storage == Storage::int8 && !untrained && !x().quantizer_.restore(h_.quantizer_offset, h_.quantizer_step))
      return corrupt("bad quantizer");
    if (o.storage == Storage::float32 && !untrained) return corrupt("bad quantizer");
    bytes_after_states_ = after - h_.slot_count;
    return Result::success();
  }

  // Slot states come first: one byte each, so bounded by the input. Their
  // counts say how many bytes the sections after them must hold; memory is
  // reserved only once those add up.
  Result after_states() {
    uint8_t worst = 0;
    for (uint32_t s = 0; s < h_.slot_count; ++s) {
      worst = std::max(worst, states_[s]);
      ++counts_[std::min(states_[s], uint8_t(S::deleted))];
    }
    if (worst > uint8_t(S::deleted)) return corrupt("bad slot state " + std::to_string(worst));
    const bool trained = x().options_.storage == Storage::float32 || h_.quantizer_step > 0;
    if (x().options_.storage == Storage::int8 && trained == (count(S::staged) > 0) &&
        (count(S::staged) > 0 || holding() > 0))
      return corrupt("quantizer state disagrees with the stored vectors");
    if (Result sizes = h_.version == 1 ? check_v1_sizes() : check_v2_sizes(); !sizes.ok()) return sizes;
    return reserve();
  }

  // Format 1: the sections' least sizes against the bytes present.
  Result check_v1_sizes() {
    const uint64_t dim = x().options_.dim;
    // Vectors, staged (slot + floats), graph degrees, both lists, an id
    // (length + a byte) per live slot, and the four counts.
    const uint64_t least = holding() * x().vector_bytes_per_slot_ + count(S::staged) * (4 + 4 * dim) +
                           in_graph() * 4 + (count(S::unlinked) + count(S::free)) * 4 + live() * 5 + 16;
    if (least > bytes_after_states_) return corrupt("slot counts need more bytes than the snapshot holds");
    return Result::success();
  }

  // Format 2: every section's size is known, and together they must be
  // exactly the bytes present (each term is below 2^56, so the sum cannot wrap).
  Result check_v2_sizes() {
    const uint64_t dim = x().options_.dim;
    if (h_.edge_count > in_graph() * h_.max_degree || h_.id_bytes > live() * kMaxIdBytes ||
        h_.metadata_count > live() || h_.metadata_bytes > uint64_t(h_.metadata_count) * kMaxMetadataBytes)
      return corrupt("section sizes in the header disagree with the slot states");
    const uint64_t need = holding() * (x().vector_bytes_per_slot_ + x().exact_bytes_per_slot()) + count(S::staged) * (4 + 4 * dim) + in_graph() * 4 +
                          h_.edge_count * 4 + (count(S::unlinked) + count(S::free)) * 4 + live() * 4 + h_.id_bytes +
                          uint64_t(h_.metadata_count) * 8 + h_.metadata_bytes;
    if (need != bytes_after_states_)
      return corrupt("the sections need " + std::to_string(need) + " bytes, the snapshot holds " +
                     std::to_string(bytes_after_states_));
    return Result::success();
  }

  Result reserve() {
    Index& ix = x();
    const uint64_t dim = ix.options_.dim;
    const uint64_t estimate = uint64_t(h_.slot_count) * (ix.vector_bytes_per_slot_ + ix.exact_bytes_per_slot() + 2 +
                                                         (ix.scales_codes() ? 4 : 0)) +
                              uint64_t(h_.graph_size) * (uint64_t(ix.options_.max_degree) + 1) * 4;
    // Free slots keep a vector record each but take 5 bytes in the snapshot,
    // so a few bytes can still ask for much memory; no store this format can
    // describe needs more than a 32-bit address space.
    if (estimate > (uint64_t(1) << 32)) return corrupt("slot counts need more than 4 GiB of memory");
    if (max_memory_bytes_ != 0 && estimate > max_memory_bytes_)
      return Result::failure(Status::memory_cap_exceeded, "snapshot needs about " + std::to_string(estimate) +
                                                              " bytes, the cap is " + std::to_string(max_memory_bytes_));
    const uint32_t slots = h_.slot_count;
    if (!ix.state_.reserve(slots) || !ix.vectors_.reserve(slots) ||
        (ix.scales_codes() && !ix.code_scales_.reserve(slots)) || (ix.reranks() && !ix.exact_.reserve(slots)) ||
        !ix.graph_.reserve(h_.graph_size) ||
        !ix.visited_.reserve(slots) || !ix.unlinked_.reserve(count(S::unlinked)) ||
        !ix.free_slots_.reserve(count(S::free)) || !ix.staged_vectors_.reserve(count(S::staged) * dim) ||
        !ix.staged_slots_.reserve(count(S::staged)))
      return Result::out_of_memory();
    ix.slot_count_ = slots;
    ix.state_.resize(slots);
    // Every record is written as its section arrives, so none is zeroed first.
    ix.vectors_.resize_for_overwrite(slots);
    if (ix.reranks()) ix.exact_.resize_for_overwrite(slots);
    if (ix.scales_codes()) ix.code_scales_.resize(slots);
    for (uint32_t s = 0; s < slots; ++s) ix.set_state(s, S(states_[s]));
    return Result::success();
  }

  // One float vector: every component finite and, as Index::add requires,
  // short enough that distances cannot overflow.
  static bool floats_ok(const float* v, size_t n) {
    double norm = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(v[i])) return false;
      norm += double(v[i]) * v[i];
    }
    return norm <= kMaxSquaredNorm;
  }

  // Free and staged slots keep zeroed vector (and exact) records.
  void zero_records_from(ChunkedRecords& records, uint32_t s) {
    for (; s < h_.slot_count; ++s)
      if (!holds_vector(s)) std::memset(records.at(s), 0, records.record_bytes());
  }

  // Records of the holding slots, in slot order: their codes or vectors
  // (all formats), or the re-ranking tier's exact vectors (`exact`).
  Result take_vectors(const uint8_t* p, size_t n, bool exact = false) {
    Index& ix = x();
    ChunkedRecords& records = exact ? ix.exact_ : ix.vectors_;
    const size_t record = records.record_bytes();
    const uint32_t dim = ix.options_.dim;
    const bool codes = !exact && ix.options_.storage == Storage::int8;
    const bool halves = exact && ix.options_.rerank == Rerank::float16;
    const bool rows = exact && ix.stores_rows();
    for (size_t i = 0; i < n; ++i, p += record) {
      uint32_t s = cursor_;
      while (!holds_vector(s)) std::memset(records.at(s++), 0, record);  // counted: a holding slot follows
      // (checked once, with the codes)
      if (!exact && states_[s] != uint8_t(S::unlinked) && s >= h_.graph_size) return corrupt("linked slot outside the graph");
      uint8_t* to = records.at(s);
      // Checked while the record is in cache from the copy.
      std::memcpy(to, p, record);
      const bool ok = codes    ? codes_in_range(to, record)
                      : rows   ? load_u32(to) < h_.next_row
                      : halves ? float16_finite(reinterpret_cast<const uint16_t*>(to), dim)
                               : floats_ok(reinterpret_cast<const float*>(to), dim);
      if (!ok) return corrupt(codes ? "code out of range" : rows ? "a row number past next_row" : "vectors are not finite or too long");
      if (codes && ix.scales_codes()) ix.code_scales_.set(s, ix.code_scale(reinterpret_cast<const int8_t*>(to)));
      cursor_ = s + 1;
    }
    return Result::success();
  }

  // Staged entries: u32 slot, dim floats (both formats).
  Result take_staged(const uint8_t* p, size_t n) {
    Index& ix = x();
    const uint32_t dim = ix.options_.dim;
    for (size_t e = 0; e < n; ++e, p += 4 + size_t(dim) * 4) {
      const uint32_t i = cursor_++, s = load_u32(p);
      if (s >= h_.slot_count || states_[s] != uint8_t(S::staged)) return corrupt("bad staged slot");
      for (uint32_t j = 0; j < i; ++j)  // fewer than 16 staged vectors
        if (ix.staged_slots_[j] == s) return corrupt("staged slot listed twice");
      ix.staged_slots_[i] = s;
      float* to = &ix.staged_vectors_[size_t(i) * dim];
      std::memcpy(to, p + 4, size_t(dim) * 4);
      if (!floats_ok(to, dim)) return corrupt("staged vectors are not finite or too long");
      // Training moves staged vectors into the tier, whatever the metric: float16 must hold them.
      if (ix.options_.rerank == Rerank::float16 && !std::all_of(to, to + dim, [](float x) { return std::fabs(x) <= kMaxFloat16; }))
        return corrupt("a staged vector is beyond the float16 tier's range");
    }
    return Result::success();
  }

  // Records of slots outside the graph get degree 0, as free_slot() leaves them.
  void unlink_from(uint32_t s) {
    for (; s < h_.graph_size; ++s)
      if (!graph_slot(s)) graph_record(s)[0] = 0;
  }

  // Format 2 degrees: one per graph slot, in slot order, into the records.
  Result take_degrees(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      uint32_t s = cursor_;
      while (!graph_slot(s)) graph_record(s++)[0] = 0;  // counted: a graph slot follows
      const uint32_t deg = load_u32(p + i * 4);
      if (deg > h_.max_degree || deg > h_.edge_count - edges_) return corrupt("bad degree");
      graph_record(s)[0] = deg;
      edges_ += deg;
      cursor_ = s + 1;
    }
    return Result::success();
  }

  // Format 2 neighbours: the graph slots' lists back to back, filled into
  // their records in runs.
  Result take_neighbours(const uint8_t* p, size_t n) {
    while (n > 0) {
      uint32_t* record = graph_record(cursor_);
      while (filled_ == record[0]) record = graph_record(++cursor_), filled_ = 0;  // slots outside have degree 0
      const uint32_t run = uint32_t(std::min<size_t>(n, record[0] - filled_));
      std::memcpy(record + 1 + filled_, p, size_t(run) * 4);
      if (const char* problem = edge_problem(cursor_, record + 1 + filled_, run)) return corrupt(problem);
      filled_ += run, p += size_t(run) * 4, n -= run;
    }
    return Result::success();
  }

  // Each neighbour another slot of the graph: what is wrong, or nullptr. One
  // pass, and no Result: it runs for every slot of the graph.
  [[gnu::always_inline]] const char* edge_problem(uint32_t s, const uint32_t* neighbours, uint32_t n) const {
    bool outside = false;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t t = neighbours[i];
      if (t >= h_.graph_size || t == s) return "bad neighbour";
      outside |= !graph_slot(t);
    }
    return outside ? "edge to a slot outside the graph" : nullptr;
  }

  // The buffer and free lists: distinct slots in one state each.
  bool take_list(ChunkedArray<uint32_t>& list, S want, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const uint32_t s = load_u32(p + i * 4);
      if (s >= h_.slot_count || states_[s] != uint8_t(want)) return false;
      list.push_back(s);
    }
    return true;
  }

  // States were counted, so a repeated member implies a missing one; find
  // repeats with the visited set (reserved above for every slot).
  Result check_lists() {
    Index& ix = x();
    (void)ix.visited_.reserve(h_.slot_count);
    ix.visited_.start_walk();
    auto repeats = [&ix](const ChunkedArray<uint32_t>& list) {
      for (size_t i = 0; i < list.size(); ++i)
        if (!ix.visited_.visit(list.get(i))) return true;
      return false;
    };
    const bool repeated = repeats(ix.unlinked_) || repeats(ix.free_slots_);
    ix.visited_.clear();
    return repeated ? corrupt("a slot is listed twice") : Result::success();
  }

  // u32 lengths, each 1..most; their sum is checked when the section ends.
  bool take_lengths(PodVector<uint32_t>& lengths, uint32_t most, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const uint32_t len = load_u32(p + i * 4);
      if (len == 0 || len > most) return false;
      lengths.push_back(len);
      length_sum_ += len;
    }
    return true;
  }

  // Metadata slots: increasing, each a live slot.
  Result take_meta_slots(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const uint32_t s = load_u32(p + i * 4);
      if (s >= h_.slot_count || (!meta_slots_.empty() && s <= meta_slots_.back())) return corrupt("bad metadata slot");
      if (states_[s] == uint8_t(S::free) || states_[s] == uint8_t(S::deleted)) return corrupt("metadata for an empty slot");
      meta_slots_.push_back(s);
    }
    return Result::success();
  }

  // The live slots' ids, in slot order, each UTF-8; the map reserves for all
  // of them at once, then takes them in one pass.
  Result add_ids(const PodVector<uint32_t>& lengths, const uint8_t* bytes) {
    Index& ix = x();
    PodVector<std::string_view> ids;
    PodVector<uint32_t> slots, hashes;
    if (!ids.reserve(lengths.size()) || !slots.reserve(lengths.size()) || !hashes.reserve(h_.slot_count))
      return Result::out_of_memory();
    for (uint32_t len : lengths) {
      ids.push_back(std::string_view(reinterpret_cast<const char*>(bytes), len));
      if (!valid_utf8(ids.back())) return corrupt("an id is not UTF-8");
      bytes += len;
    }
    if (!ix.ids_.reserve(h_.slot_count, ids.data(), ids.size())) return Result::out_of_memory();
    for (uint32_t s = 0; s < h_.slot_count; ++s)
      if (states_[s] != uint8_t(S::free) && states_[s] != uint8_t(S::deleted)) slots.push_back(s);
    const size_t repeat = ix.ids_.assign(ids.data(), slots.data(), slots.size(), hashes.data());
    if (repeat != slots.size()) return corrupt("id '" + std::string(ids[repeat]) + "' appears twice");
    return Result::success();
  }

  // Room in the metadata arena for every text, from their lengths.
  Result reserve_metadata() {
    auto length_of = [](const void* lengths, size_t i) -> size_t { return static_cast<const uint32_t*>(lengths)[i]; };
    return x().metadata_.reserve_lengths(h_.slot_count, meta_lengths_.size(), length_of, meta_lengths_.data())
               ? Result::success()
               : Result::out_of_memory();
  }

  // The next metadata text (its slot was checked as it came): JSON, stored
  // straight into the arena.
  Result take_metadata(const uint8_t* p) {
    const uint32_t i = cursor_++, slot = meta_slots_[i];
    const std::string_view text(reinterpret_cast<const char*>(p), meta_lengths_[i]);
    switch (check_json(text)) {
      case JsonCheck::valid: break;
      case JsonCheck::out_of_memory: return Result::out_of_memory();
      case JsonCheck::invalid: return corrupt("metadata of slot " + std::to_string(slot) + " is not JSON text");
    }
    x().metadata_.set(slot, text);
    if (cursor_ < meta_lengths_.size()) unit_ = meta_lengths_[cursor_];
    return Result::success();
  }

  // --- format 1, read whole -------------------------------------------------

  Result read_v1() {
    ByteReader r(whole_.data(), whole_.size());
    const uint8_t* head = r.view(kSnapshotHeaderBytesV1);
    if (!head) return corrupt("the header is truncated");
    if (Result res = parse_header(head, kSnapshotHeaderBytesV1, r.remaining()); !res.ok()) return res;
    const uint8_t* states = r.view(h_.slot_count);
    if (!states || !states_.reserve(h_.slot_count)) return states ? Result::out_of_memory() : corrupt("slot states are truncated");
    states_.append(states, h_.slot_count);
    if (Result res = after_states(); !res.ok()) return res;
    Index& ix = x();
    const uint32_t dim = ix.options_.dim;
    // Vectors: the same layout as format 2.
    const uint8_t* vectors = r.view(holding() * ix.vector_bytes_per_slot_);
    if (!vectors) return corrupt("vectors are truncated");
    if (Result res = take_vectors(vectors, size_t(holding())); !res.ok()) return res;
    zero_records_from(ix.vectors_, cursor_);
    // Staged: a count, then entries as in format 2.
    uint32_t listed = 0;
    if (!r.u32(listed) || listed != count(S::staged)) return corrupt("staged list disagrees with slot states");
    ix.staged_vectors_.resize(size_t(listed) * dim);
    ix.staged_slots_.resize(listed);
    const uint8_t* staged = r.view(uint64_t(listed) * (4 + 4 * uint64_t(dim)));
    if (!staged) return corrupt("staged vectors are truncated");
    cursor_ = 0;
    if (Result res = take_staged(staged, listed); !res.ok()) return res;
    // Graph: per graph slot its degree, then its neighbours.
    ix.graph_.grow_for_overwrite(h_.graph_size);
    for (uint32_t s = 0; s < h_.graph_size; ++s) {
      uint32_t* record = graph_record(s);
      record[0] = 0;
      if (!graph_slot(s)) continue;
      uint32_t deg;
      if (!r.u32(deg) || deg > h_.max_degree) return corrupt("bad degree");
      const uint8_t* neighbours = r.view(uint64_t(deg) * 4);
      if (!neighbours) return corrupt("the graph is truncated");
      std::memcpy(record + 1, neighbours, size_t(deg) * 4);
      record[0] = deg;
      if (const char* problem = edge_problem(s, record + 1, deg)) return corrupt(problem);
    }
    // The two lists, each after its count.
    for (auto [list, want] : {std::pair{&ix.unlinked_, S::unlinked}, std::pair{&ix.free_slots_, S::free}}) {
      const uint8_t* items = r.u32(listed) && listed == count(want) ? r.view(uint64_t(listed) * 4) : nullptr;
      if (!items || !take_list(*list, want, items, listed))
        return corrupt(want == S::unlinked ? "write-buffer list" : "free list");
    }
    if (Result res = check_lists(); !res.ok()) return res;
    // Ids: a length and the bytes for each live slot. Gathered into the
    // format 2 layout (lengths, then bytes back to back) to share its checks.
    PodVector<uint32_t> lengths;
    PodVector<uint8_t> bytes;
    if (!lengths.reserve(live())) return Result::out_of_memory();
    for (uint64_t i = 0; i < live(); ++i) {
      uint32_t len = 0;
      const uint8_t* id = r.u32(len) && len > 0 && len <= kMaxIdBytes ? r.view(len) : nullptr;
      if (!id) return corrupt(len == 0 || len > kMaxIdBytes ? "bad id length" : "ids are truncated");
      if (!bytes.reserve_more(len)) return Result::out_of_memory();
      lengths.push_back(len);
      bytes.append(id, len);
    }
    if (Result res = add_ids(lengths, bytes.data()); !res.ok()) return res;
    // Metadata: a count, then per entry slot, length and text.
    uint32_t n = 0;
    if (!r.u32(n) || n > h_.slot_count || uint64_t(n) * 8 > r.remaining()) return corrupt("bad metadata count");
    PodVector<const uint8_t*> texts;
    if (!meta_slots_.reserve(n) || !meta_lengths_.reserve(n) || !texts.reserve(n)) return Result::out_of_memory();
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t* slot = r.view(4);
      uint32_t len = 0;
      if (!slot || !r.u32(len)) return corrupt("metadata is truncated");
      if (Result res = take_meta_slots(slot, 1); !res.ok()) return res;
      if (len == 0 || len > kMaxMetadataBytes) return corrupt("bad metadata length");
      const uint8_t* text = r.view(len);
      if (!text) return corrupt("metadata is truncated");
      meta_lengths_.push_back(len);
      texts.push_back(text);
    }
    if (Result res = reserve_metadata(); !res.ok()) return res;
    cursor_ = 0;
    for (const uint8_t* text : texts)
      if (Result res = take_metadata(text); !res.ok()) return res;
    if (r.remaining() != 0) return corrupt(std::to_string(r.remaining()) + " unexpected trailing bytes");
    return Result::success();
  }

  // --- both -----------------------------------------------------------------

  Result check_index() {
    Index& ix = x();
    const uint32_t entry = h_.entry_point;
    if (in_graph() == 0 ? entry != 0xFFFFFFFFu : (entry >= h_.graph_size || !graph_slot(entry)))
      return corrupt("bad entry point");
    ix.entry_point_ = entry;
    ix.live_count_ = live();
    ix.linked_count_ = in_graph();
    ix.deleted_count_ = count(S::deleted);
    ix.entry_refresh_at_ = h_.entry_refresh_at;
    ix.next_row_ = uint32_t(h_.next_row);
    ix.round_.active = h_.round_active != 0;
    ix.round_.two_pass = h_.round_two_pass != 0;
    ix.round_.pass1_alpha = h_.pass1_alpha;
    ix.round_.pass2_cursor = h_.pass2_cursor;
    ix.round_.pass2_end = h_.pass2_end;
    if (max_memory_bytes_ != 0 && ix.memory().total_reserved() > max_memory_bytes_)
      return Result::failure(Status::memory_cap_exceeded, "snapshot needs " + std::to_string(ix.memory().total_reserved()) +
                                                              " bytes, the cap is " + std::to_string(max_memory_bytes_));
    return Result::success();
  }

  const uint64_t length_;
  const uint64_t max_memory_bytes_;
  uint64_t received_ = 0;
  uint32_t crc_ = kCrc32Start;
  Xxh64 xxh64_{};
  uint8_t trailer_[4] = {};
  Result failure_ = Result::success();  // once a call fails, every later one says so
  // A failure the checksum may explain (a version this build does not read,
  // memory a damaged count asked for): said only if the checksum is good;
  // until then only the checksum is computed.
  Result after_checksum_ = Result::success();
  bool gather_ = false;       // format 1: gathered whole into whole_
  PodVector<uint8_t> whole_;

  Section section_ = kPrefix;
  uint64_t left_ = kPrefixBytes;  // bytes of the current section still to come
  size_t unit_ = kPrefixBytes;    // what the section's handler takes whole
  PodVector<uint8_t> carry_;      // a unit split across two pieces
  uint8_t head_[sizeof(SnapshotHeader)] = {};
  SnapshotHeader h_{};
  uint64_t bytes_after_states_ = 0;
  std::unique_ptr<Index> ix_;
  PodVector<uint8_t> states_;
  uint64_t counts_[5] = {0, 0, 0, 0, 0};
  uint32_t cursor_ = 0;    // the slot (or entry) a section's next unit belongs to
  uint32_t filled_ = 0;    // neighbours of cursor_ copied so far
  uint64_t edges_ = 0;     // degrees so far
  uint64_t length_sum_ = 0;
  PodVector<uint32_t> id_lengths_, meta_slots_, meta_lengths_;
  PodVector<uint8_t> id_bytes_;
};

Result SnapshotLoader::start(uint64_t length, uint64_t max_memory_bytes, SnapshotLoader* out) {
  // Every size is checked against the length, so it must also fit a size_t
  // (32 bits in WebAssembly): no store this build can hold is larger.
  if (length < kSnapshotHeaderBytesV1 + 4 || length > SIZE_MAX)
    return corrupt("it is " + std::to_string(length) + " bytes, shorter than a header or too long to load");
  out->impl_.reset(new (std::nothrow) SnapshotReader(length, max_memory_bytes));
  return out->impl_ ? Result::success() : Result::out_of_memory();
}

SnapshotLoader::SnapshotLoader() = default;
SnapshotLoader::~SnapshotLoader() = default;
SnapshotLoader::SnapshotLoader(SnapshotLoader&&) noexcept = default;
SnapshotLoader& SnapshotLoader::operator=(SnapshotLoader&&) noexcept = default;

Result SnapshotLoader::feed(const uint8_t* bytes, size_t n) {
  if (!impl_) return Result::failure(Status::invalid_argument, "no snapshot is being loaded");
  return impl_->feed(bytes, n);
}

Result SnapshotLoader::finish(std::unique_ptr<Index>* out) {
  if (!impl_) return Result::failure(Status::invalid_argument, "no snapshot is being loaded");
  Result res = impl_->finish(out);
  impl_.reset();  // its memory is the caller's again either way
  return res;
}

Result Index::deserialize(const uint8_t* bytes, size_t length, uint64_t max_memory_bytes, std::unique_ptr<Index>* out) {
  SnapshotLoader loader;
  if (Result res = SnapshotLoader::start(length, max_memory_bytes, &loader); !res.ok()) return res;
  if (Result res = loader.feed(bytes, length); !res.ok()) return res;
  return loader.finish(out);
}

}  // namespace tabvec
