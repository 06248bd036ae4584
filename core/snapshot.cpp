#include "snapshot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "crc32.h"
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
  f(h.metadata_count), f(h.reserved), f(h.edge_count), f(h.id_bytes), f(h.metadata_bytes);
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
  const uint64_t size = sizeof(SnapshotHeader) + uint64_t(ix.slot_count_) + holding * ix.vector_bytes_per_slot_ +
                        uint64_t(ix.staged_slots_.size()) * (4 + 4 * uint64_t(o.dim)) + in_graph * 4 +
                        h.edge_count * 4 + (uint64_t(ix.unlinked_.size()) + ix.free_slots_.size()) * 4 + live * 4 +
                        h.id_bytes + uint64_t(h.metadata_count) * 8 + h.metadata_bytes + 4;
  ix_ = &ix;
  size_ = size_t(size);
  written_ = 0;
  crc_ = kCrc32Start;
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
      return piece(out, at);
    }
    case kStates: {
      uint8_t* out = reinterpret_cast<uint8_t*>(scratch_);
      size_t n = 0;
      for (; item_ < slots && n < sizeof(scratch_); ++item_) out[n++] = uint8_t(ix.state(uint32_t(item_)));
      return n > 0 && piece(out, n);
    }
    case kVectors:
      while (item_ < slots && !ix.holds_stored_vector(uint32_t(item_))) ++item_;
      if (item_ >= slots) return false;
      return piece(ix.vector_bytes(uint32_t(item_++)), ix.vector_bytes_per_slot_);
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
      scratch_[0] = ~crc_;
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
    if (section_ != kTrailer) crc_ = crc32_update(crc_, out + done, n);
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

// Bounds-checked reads: every read fails once past the end. Lengths are
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
  template <typename T>
  bool number(T& v) {
    const uint8_t* b = view(sizeof(T));
    if (b) std::memcpy(&v, b, sizeof(T));
    return b != nullptr;
  }
  bool u32(uint32_t& v) { return number(v); }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
};

// Loads a snapshot in steps, each validating its section before it trusts a
// byte of it. Any memory is reserved only once the sections' sizes are
// checked against the bytes present. The two formats share every check; they
// differ only in where a section's numbers sit.
class SnapshotReader {
 public:
  using S = Index::SlotState;
  SnapshotReader(const uint8_t* data, size_t length, uint64_t max_memory_bytes)
      : data_(data), length_(length), max_memory_bytes_(max_memory_bytes), r_(data, length >= 4 ? length - 4 : 0) {}

  Result read(std::unique_ptr<Index>* out) {
    Result res = check_envelope();
    if (res.ok()) res = read_header();
    if (res.ok()) res = read_states();
    if (res.ok()) res = h_.version == 1 ? check_v1_sizes() : check_v2_sizes();
    if (res.ok()) res = reserve();
    if (res.ok()) res = read_vectors();
    if (res.ok()) res = read_staged();
    if (res.ok()) res = h_.version == 1 ? read_v1_graph() : read_v2_graph();
    if (res.ok()) res = read_lists();
    if (res.ok()) res = h_.version == 1 ? read_v1_ids() : read_v2_ids();
    if (res.ok()) res = insert_ids();
    if (res.ok()) res = h_.version == 1 ? read_v1_metadata() : read_v2_metadata();
    if (res.ok()) res = insert_metadata();
    if (res.ok()) res = finish();
    if (res.ok()) *out = std::move(ix_);
    return res;
  }

 private:
  static Result corrupt(const std::string& why) {
    return Result::failure(Status::corrupt_snapshot, "snapshot is corrupt: " + why);
  }
  Index& x() { return *ix_; }
  uint64_t count(S state) const { return counts_[uint8_t(state)]; }
  uint64_t holding() const { return count(S::unlinked) + count(S::linked) + count(S::deleted); }
  uint64_t live() const { return count(S::staged) + count(S::unlinked) + count(S::linked); }
  uint64_t in_graph() const { return count(S::linked) + count(S::deleted); }
  // From the snapshot's own state bytes: one load, no chunk lookup.
  bool graph_slot(uint32_t s) const { return states_[s] == uint8_t(S::linked) || states_[s] == uint8_t(S::deleted); }

  // Magic, then the checksum over everything, then the version: bit rot in
  // the version field reads as corruption, not as a future format.
  Result check_envelope() {
    if (length_ < kSnapshotHeaderBytesV1 + 4)
      return corrupt("it is " + std::to_string(length_) + " bytes, shorter than a header");
    if (std::memcmp(data_, kSnapshotMagic, 8) != 0) return corrupt("it does not start with the tabvec magic bytes");
    if (crc32(data_, length_ - 4) != load_u32(data_ + length_ - 4))
      return corrupt("checksum mismatch (truncated or modified bytes)");
    return Result::success();
  }

  Result read_header() {
    r_.view(8);
    for_each_v1_field(h_, [this](auto& field) { r_.number(field); });
    if (h_.version < kOldestSnapshotVersion || h_.version > kSnapshotVersion)
      return Result::failure(Status::unsupported_version,
                             "snapshot format version " + std::to_string(h_.version) +
                                 " is not supported (this build reads versions " +
                                 std::to_string(kOldestSnapshotVersion) + " to " + std::to_string(kSnapshotVersion) + ")");
    const uint32_t header_bytes = h_.version == 1 ? kSnapshotHeaderBytesV1 : uint32_t(sizeof(SnapshotHeader));
    if (h_.header_bytes != header_bytes) return corrupt("header size " + std::to_string(h_.header_bytes));
    if (h_.version >= 2) {
      bool whole = true;
      for_each_v2_field(h_, [this, &whole](auto& field) { whole &= r_.number(field); });
      if (!whole) return corrupt("the header is truncated");
      if (h_.reserved != 0) return corrupt("reserved header field is " + std::to_string(h_.reserved));
    }
    IndexOptions o;
    o.dim = h_.dim;
    o.metric = Metric(h_.metric);
    o.storage = Storage(h_.storage);
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
    if (h_.slot_count > r_.remaining() || h_.slot_count > kMaxSlots)
      return corrupt("slot count " + std::to_string(h_.slot_count));
    if (h_.graph_size > h_.slot_count || h_.pass2_end > h_.slot_count || h_.pass2_cursor > h_.pass2_end)
      return corrupt("counts in the header disagree");
    // An untrained quantizer (and float32 storage) is written as +0, +0 exactly;
    // comparing bits also refuses -0, so every accepted snapshot has one form.
    const bool untrained = float_bits(h_.quantizer_step) == 0 && float_bits(h_.quantizer_offset) == 0;
    if (o.storage == Storage::int8 && !untrained && !x().quantizer_.restore(h_.quantizer_offset, h_.quantizer_step))
      return corrupt("bad quantizer");
    if (o.storage == Storage::float32 && !untrained) return corrupt("bad quantizer");
    return Result::success();
  }

  // Slot states first: one byte each, so bounded by the input. Their counts
  // say how many bytes the sections after them must hold.
  Result read_states() {
    states_ = r_.view(h_.slot_count);
    if (!states_) return corrupt("slot states are truncated");
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
    return Result::success();
  }

  // Format 1: the sections' least sizes against the bytes present.
  Result check_v1_sizes() {
    const uint64_t dim = x().options_.dim;
    // Vectors, staged (slot + floats), graph degrees, both lists, an id
    // (length + a byte) per live slot, and the four counts.
    const uint64_t least = holding() * x().vector_bytes_per_slot_ + count(S::staged) * (4 + 4 * dim) +
                           in_graph() * 4 + (count(S::unlinked) + count(S::free)) * 4 + live() * 5 + 16;
    if (least > r_.remaining()) return corrupt("slot counts need more bytes than the snapshot holds");
    return Result::success();
  }

  // Format 2: every section's size is known, and together they must be
  // exactly the bytes present (each term is below 2^56, so the sum cannot wrap).
  Result check_v2_sizes() {
    const uint64_t dim = x().options_.dim;
    if (h_.edge_count > in_graph() * h_.max_degree || h_.id_bytes > live() * kMaxIdBytes ||
        h_.metadata_count > live() || h_.metadata_bytes > uint64_t(h_.metadata_count) * kMaxMetadataBytes)
      return corrupt("section sizes in the header disagree with the slot states");
    const uint64_t need = holding() * x().vector_bytes_per_slot_ + count(S::staged) * (4 + 4 * dim) + in_graph() * 4 +
                          h_.edge_count * 4 + (count(S::unlinked) + count(S::free)) * 4 + live() * 4 + h_.id_bytes +
                          uint64_t(h_.metadata_count) * 8 + h_.metadata_bytes;
    if (need != r_.remaining())
      return corrupt("the sections need " + std::to_string(need) + " bytes, the snapshot holds " +
                     std::to_string(r_.remaining()));
    return Result::success();
  }

  Result reserve() {
    Index& ix = x();
    const uint64_t dim = ix.options_.dim;
    const uint64_t estimate = uint64_t(h_.slot_count) * (ix.vector_bytes_per_slot_ + 2) +
                              uint64_t(h_.graph_size) * (uint64_t(ix.options_.max_degree) + 1) * 4;
    // Free slots keep a vector record each but take 5 bytes in the snapshot,
    // so a few bytes can still ask for much memory; no store this format can
    // describe needs more than a 32-bit address space.
    if (estimate > (uint64_t(1) << 32)) return corrupt("slot counts need more than 4 GiB of memory");
    if (max_memory_bytes_ != 0 && estimate > max_memory_bytes_)
      return Result::failure(Status::memory_cap_exceeded, "snapshot needs about " + std::to_string(estimate) +
                                                              " bytes, the cap is " + std::to_string(max_memory_bytes_));
    const uint32_t slots = h_.slot_count;
    if (!ix.state_.reserve(slots) || !ix.vectors_.reserve(slots) || !ix.graph_.reserve(h_.graph_size) ||
        !ix.visited_.reserve(slots) || !ix.unlinked_.reserve(count(S::unlinked)) ||
        !ix.free_slots_.reserve(count(S::free)) || !ix.staged_vectors_.reserve(count(S::staged) * dim) ||
        !ix.staged_slots_.reserve(count(S::staged)) || !strings_.reserve(live()))
      return Result::out_of_memory();
    ix.slot_count_ = slots;
    ix.state_.resize(slots);
    // Every record is written below (read_vectors), so none is zeroed first.
    ix.vectors_.resize_for_overwrite(slots);
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

  // The same layout in both formats: a record per holding slot, in slot order.
  Result read_vectors() {
    Index& ix = x();
    const uint32_t dim = ix.options_.dim;
    const size_t record = ix.vector_bytes_per_slot_;
    const uint8_t* p = r_.view(holding() * record);
    if (!p) return corrupt("vectors are truncated");
    const bool codes = ix.options_.storage == Storage::int8;
    for (uint32_t s = 0; s < h_.slot_count; ++s) {
      const uint8_t st = states_[s];
      uint8_t* to = ix.vectors_.at(s);
      if (st != uint8_t(S::unlinked) && st != uint8_t(S::linked) && st != uint8_t(S::deleted)) {
        std::memset(to, 0, record);  // a free or staged slot: no vector yet
        continue;
      }
      if (st != uint8_t(S::unlinked) && s >= h_.graph_size) return corrupt("linked slot outside the graph");
      // Checked while the record is in cache from the copy.
      std::memcpy(to, p, record);
      p += record;
      if (codes ? !codes_in_range(to, record) : !floats_ok(reinterpret_cast<const float*>(to), dim))
        return corrupt(codes ? "code out of range" : "vectors are not finite or too long");
    }
    return Result::success();
  }

  // Format 1 counts the entries first; both then hold (u32 slot, dim floats) each.
  Result read_staged() {
    Index& ix = x();
    const uint32_t dim = ix.options_.dim;
    const uint64_t staged = count(S::staged);
    uint32_t listed = 0;
    if (h_.version == 1 && (!r_.u32(listed) || listed != staged))
      return corrupt("staged list disagrees with slot states");
    ix.staged_vectors_.resize(size_t(staged) * dim);
    ix.staged_slots_.resize(size_t(staged));
    for (uint32_t i = 0; i < staged; ++i) {
      uint32_t s;
      const uint8_t* floats = nullptr;
      if (!r_.u32(s) || s >= h_.slot_count || states_[s] != uint8_t(S::staged)) return corrupt("bad staged slot");
      for (uint32_t j = 0; j < i; ++j)  // fewer than 16 staged vectors
        if (ix.staged_slots_[j] == s) return corrupt("staged slot listed twice");
      ix.staged_slots_[i] = s;
      float* to = &ix.staged_vectors_[size_t(i) * dim];
      if (!(floats = r_.view(size_t(dim) * 4))) return corrupt("staged vectors are truncated");
      std::memcpy(to, floats, size_t(dim) * 4);
      if (!floats_ok(to, dim)) return corrupt("staged vectors are not finite or too long");
    }
    return Result::success();
  }

  // One graph record: degree within R, each neighbour another slot of the
  // graph. Copied into the record whole, then checked there.
  Result link(uint32_t s, uint32_t deg, const uint8_t* neighbours) {
    if (deg > h_.max_degree) return corrupt("bad degree");
    uint32_t* record = reinterpret_cast<uint32_t*>(x().graph_.record(s));
    record[0] = deg;
    std::memcpy(record + 1, neighbours, size_t(deg) * 4);
    bool bad = false;
    for (uint32_t i = 1; i <= deg; ++i) bad |= record[i] >= h_.graph_size || record[i] == s;
    if (bad) return corrupt("bad neighbour");
    bool outside = false;
    for (uint32_t i = 1; i <= deg; ++i) outside |= !graph_slot(record[i]);
    if (outside) return corrupt("edge to a slot outside the graph");
    return Result::success();
  }

  // Records of slots outside the graph get degree 0, as free_slot() leaves them.
  void unlink(uint32_t s) { reinterpret_cast<uint32_t*>(x().graph_.record(s))[0] = 0; }

  Result read_v1_graph() {
    x().graph_.grow_for_overwrite(h_.graph_size);
    for (uint32_t s = 0; s < h_.graph_size; ++s) {
      if (!graph_slot(s)) {
        unlink(s);
        continue;
      }
      uint32_t deg;
      if (!r_.u32(deg) || deg > h_.max_degree) return corrupt("bad degree");
      const uint8_t* neighbours = r_.view(size_t(deg) * 4);
      if (!neighbours) return corrupt("the graph is truncated");
      if (Result res = link(s, deg, neighbours); !res.ok()) return res;
    }
    return Result::success();
  }

  Result read_v2_graph() {
    x().graph_.grow_for_overwrite(h_.graph_size);
    const uint8_t* degrees = r_.view(in_graph() * 4);
    const uint8_t* neighbours = r_.view(h_.edge_count * 4);  // sizes checked to fit
    uint64_t used = 0;
    for (uint32_t s = 0, k = 0; s < h_.graph_size; ++s) {
      if (!graph_slot(s)) {
        unlink(s);
        continue;
      }
      const uint32_t deg = load_u32(degrees + size_t(k++) * 4);
      if (deg > h_.max_degree || deg > h_.edge_count - used) return corrupt("bad degree");
      if (Result res = link(s, deg, neighbours + used * 4); !res.ok()) return res;
      used += deg;
    }
    if (used != h_.edge_count) return corrupt("degrees add up to " + std::to_string(used) + ", not the edge count");
    return Result::success();
  }

  // The buffer and free lists: distinct slots in one state each. Format 1
  // counts each list first.
  Result read_lists() {
    Index& ix = x();
    auto read_list = [&](ChunkedArray<uint32_t>& list, S want) -> bool {
      const uint64_t n = count(want);
      uint32_t listed = 0;
      if (h_.version == 1 && (!r_.u32(listed) || listed != n)) return false;
      const uint8_t* items = r_.view(n * 4);
      if (!items) return false;
      for (uint64_t i = 0; i < n; ++i) {
        const uint32_t s = load_u32(items + i * 4);
        if (s >= h_.slot_count || states_[s] != uint8_t(want)) return false;
        list.push_back(s);
      }
      return true;
    };
    if (!read_list(ix.unlinked_, S::unlinked)) return corrupt("write-buffer list");
    if (!read_list(ix.free_slots_, S::free)) return corrupt("free list");
    // States were counted, so a repeated member implies a missing one; find
    // repeats with the visited set (reserved above for every slot).
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

  // An id of a live slot: a length in range, then UTF-8.
  Result add_id(uint32_t len, const uint8_t* bytes) {
    if (len == 0 || len > kMaxIdBytes) return corrupt("bad id length");
    if (!bytes) return corrupt("ids are truncated");
    strings_.push_back(std::string_view(reinterpret_cast<const char*>(bytes), len));
    if (!valid_utf8(strings_.back())) return corrupt("an id is not UTF-8");
    return Result::success();
  }

  Result read_v1_ids() {
    for (uint64_t i = 0; i < live(); ++i) {
      uint32_t len = 0;
      if (!r_.u32(len)) return corrupt("ids are truncated");
      if (Result res = add_id(len, len <= kMaxIdBytes ? r_.view(len) : nullptr); !res.ok()) return res;
    }
    return Result::success();
  }

  Result read_v2_ids() {
    const uint8_t* lengths = r_.view(live() * 4);
    const uint8_t* bytes = r_.view(h_.id_bytes);  // sizes checked to fit
    uint64_t at = 0;
    for (uint64_t i = 0; i < live(); ++i) {
      const uint32_t len = load_u32(lengths + i * 4);
      if (len > h_.id_bytes - at) return corrupt("id lengths exceed the id bytes");
      if (Result res = add_id(len, bytes + at); !res.ok()) return res;
      at += len;
    }
    if (at != h_.id_bytes) return corrupt("id lengths add up to " + std::to_string(at) + ", not the id bytes");
    return Result::success();
  }

  // strings_ holds the live slots' ids in slot order: the map reserves for
  // all of them at once, then takes them in one pass.
  Result insert_ids() {
    Index& ix = x();
    PodVector<uint32_t> slots, hashes;
    if (!ix.ids_.reserve(h_.slot_count, strings_.data(), strings_.size()) || !slots.reserve(strings_.size()) ||
        !hashes.reserve(h_.slot_count))
      return Result::out_of_memory();
    for (uint32_t s = 0; s < h_.slot_count; ++s)
      if (states_[s] != uint8_t(S::free) && states_[s] != uint8_t(S::deleted)) slots.push_back(s);
    const size_t repeat = ix.ids_.assign(strings_.data(), slots.data(), slots.size(), hashes.data());
    if (repeat != slots.size()) return corrupt("id '" + std::string(strings_[repeat]) + "' appears twice");
    return Result::success();
  }

  // One metadata entry: for a live slot after the previous entry's, JSON text.
  Result add_metadata(uint32_t s, uint32_t len, const uint8_t* bytes) {
    if (s >= h_.slot_count || (!slots_.empty() && s <= slots_.back())) return corrupt("bad metadata slot");
    if (states_[s] == uint8_t(S::free) || states_[s] == uint8_t(S::deleted)) return corrupt("metadata for an empty slot");
    if (len == 0 || len > kMaxMetadataBytes) return corrupt("bad metadata length");
    if (!bytes) return corrupt("metadata is truncated");
    slots_.push_back(s);
    strings_.push_back(std::string_view(reinterpret_cast<const char*>(bytes), len));
    switch (check_json(strings_.back())) {
      case JsonCheck::valid: return Result::success();
      case JsonCheck::out_of_memory: return Result::out_of_memory();
      case JsonCheck::invalid: break;
    }
    return corrupt("metadata of slot " + std::to_string(s) + " is not JSON text");
  }

  Result reserve_metadata(uint64_t n) {
    strings_.clear();
    return strings_.reserve(n) && slots_.reserve(n) ? Result::success() : Result::out_of_memory();
  }

  Result read_v1_metadata() {
    uint32_t n;
    if (!r_.u32(n) || n > h_.slot_count || uint64_t(n) * 8 > r_.remaining()) return corrupt("bad metadata count");
    if (Result res = reserve_metadata(n); !res.ok()) return res;
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t s = 0, len = 0;
      if (!r_.u32(s) || !r_.u32(len)) return corrupt("metadata is truncated");
      if (Result res = add_metadata(s, len, len <= kMaxMetadataBytes ? r_.view(len) : nullptr); !res.ok()) return res;
    }
    return Result::success();
  }

  Result read_v2_metadata() {
    const uint32_t n = h_.metadata_count;
    if (Result res = reserve_metadata(n); !res.ok()) return res;
    const uint8_t* slots = r_.view(uint64_t(n) * 4);
    const uint8_t* lengths = r_.view(uint64_t(n) * 4);
    const uint8_t* bytes = r_.view(h_.metadata_bytes);  // sizes checked to fit
    uint64_t at = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t len = load_u32(lengths + size_t(i) * 4);
      if (len > h_.metadata_bytes - at) return corrupt("metadata lengths exceed the metadata bytes");
      if (Result res = add_metadata(load_u32(slots + size_t(i) * 4), len, bytes + at); !res.ok()) return res;
      at += len;
    }
    if (at != h_.metadata_bytes) return corrupt("metadata lengths do not add up to the metadata bytes");
    return Result::success();
  }

  Result insert_metadata() {
    Index& ix = x();
    if (!ix.metadata_.reserve(h_.slot_count, strings_.data(), strings_.size())) return Result::out_of_memory();
    for (size_t i = 0; i < slots_.size(); ++i) ix.metadata_.set(slots_[i], strings_[i]);
    return Result::success();
  }

  Result finish() {
    Index& ix = x();
    if (r_.remaining() != 0) return corrupt(std::to_string(r_.remaining()) + " unexpected trailing bytes");
    const uint32_t entry = h_.entry_point;
    if (in_graph() == 0 ? entry != 0xFFFFFFFFu : (entry >= h_.graph_size || !graph_slot(entry)))
      return corrupt("bad entry point");
    ix.entry_point_ = entry;
    ix.live_count_ = live();
    ix.linked_count_ = in_graph();
    ix.deleted_count_ = count(S::deleted);
    ix.entry_refresh_at_ = h_.entry_refresh_at;
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

  const uint8_t* data_;
  size_t length_;
  uint64_t max_memory_bytes_;
  ByteReader r_;  // everything before the checksum
  SnapshotHeader h_{};
  std::unique_ptr<Index> ix_;
  const uint8_t* states_ = nullptr;
  uint64_t counts_[5] = {0, 0, 0, 0, 0};
  PodVector<std::string_view> strings_;
  PodVector<uint32_t> slots_;
};

Result Index::deserialize(const uint8_t* bytes, size_t length, uint64_t max_memory_bytes, std::unique_ptr<Index>* out) {
  return SnapshotReader(bytes, length, max_memory_bytes).read(out);
}

}  // namespace tabvec
