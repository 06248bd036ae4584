#include "snapshot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "index.h"
#include "text.h"

namespace tabvec {

namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

// The running form of CRC-32: start from kCrcStart, finish with ~c.
constexpr uint32_t kCrcStart = 0xFFFFFFFFu;
uint32_t crc32_update(uint32_t c, const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) c = kCrcTable[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c;
}
uint32_t crc32(const uint8_t* data, size_t n) { return ~crc32_update(kCrcStart, data, n); }

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The header's fields after the magic, in file order: the one list both the
// writer and the reader walk.
template <typename Header, typename F>
void for_each_field(Header& h, F&& f) {
  f(h.version), f(h.header_bytes), f(h.metric), f(h.storage), f(h.round_active), f(h.round_two_pass);
  f(h.dim), f(h.max_degree), f(h.build_list_size), f(h.search_list_size), f(h.alpha), f(h.max_buffer);
  f(h.quantizer_offset), f(h.quantizer_step), f(h.slot_count), f(h.entry_point), f(h.graph_size);
  f(h.entry_refresh_at), f(h.pass1_alpha), f(h.pass2_cursor), f(h.pass2_end);
}

}  // namespace

// Writes the little-endian bytes of the snapshot that fall in a window
// [window_start, window_start + window_len) to `out`, and only counts the
// others, so that serialized_size(), serialize() and serialize_window() share
// one description of the layout. The checksum runs over the window's bytes.
class SnapshotWriter {
 public:
  SnapshotWriter(uint8_t* out, size_t window_start, size_t window_len, uint32_t crc)
      : out_(out), window_start_(window_start), window_end_(window_start + window_len), crc_(crc) {}
  size_t size() const { return n_; }
  uint32_t crc() const { return crc_; }
  void bytes(const void* p, size_t len, bool summed = true) {
    const size_t from = std::max(n_, window_start_), to = std::min(n_ + len, window_end_);
    if (from < to) {
      const uint8_t* src = static_cast<const uint8_t*>(p) + (from - n_);
      std::memcpy(out_ + (from - window_start_), src, to - from);
      if (summed) crc_ = crc32_update(crc_, src, to - from);
    }
    n_ += len;
  }
  // The trailer: the checksum of everything before it. Not summed itself, so
  // a window holding part of it leaves the running checksum as it was.
  void trailer() {
    const uint32_t v = ~crc_;
    const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    bytes(b, 4, false);
  }
  void u8(uint8_t v) { bytes(&v, 1); }
  void u32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    bytes(b, 4);
  }
  void f32(float v) { u32(float_bits(v)); }
  void number(uint8_t v) { u8(v); }
  void number(uint32_t v) { u32(v); }
  void number(float v) { f32(v); }
  void floats(const float* v, size_t n) {
    for (size_t i = 0; i < n; ++i) f32(v[i]);
  }

  void write(const Index& index);

 private:
  uint8_t* out_;
  size_t window_start_, window_end_;
  uint32_t crc_;
  size_t n_ = 0;
};

void SnapshotWriter::write(const Index& ix) {
  using S = Index::SlotState;
  const IndexOptions& o = ix.options_;
  SnapshotHeader h{};
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
  bytes(h.magic, 8);
  for_each_field(h, [this](auto& field) { number(field); });

  for (uint32_t s = 0; s < ix.slot_count_; ++s) u8(uint8_t(ix.state(s)));
  for (uint32_t s = 0; s < ix.slot_count_; ++s) {
    if (!ix.holds_stored_vector(s)) continue;
    if (o.storage == Storage::int8) {
      bytes(ix.vector_bytes(s), o.dim);
    } else {
      floats(reinterpret_cast<const float*>(ix.vector_bytes(s)), o.dim);
    }
  }
  u32(uint32_t(ix.staged_slots_.size()));
  for (size_t i = 0; i < ix.staged_slots_.size(); ++i) {
    u32(ix.staged_slots_[i]);
    floats(&ix.staged_vectors_[i * o.dim], o.dim);
  }
  for (uint32_t s = 0; s < ix.graph_.size(); ++s) {
    const S st = ix.state(s);
    if (st != S::linked && st != S::deleted) continue;
    const NeighborsRef nbrs = ix.graph_.neighbors(s);
    u32(nbrs.size());
    for (const uint32_t n : nbrs) u32(n);
  }
  u32(uint32_t(ix.unlinked_.size()));
  for (size_t i = 0; i < ix.unlinked_.size(); ++i) u32(ix.unlinked_.get(i));
  u32(uint32_t(ix.free_slots_.size()));
  for (size_t i = 0; i < ix.free_slots_.size(); ++i) u32(ix.free_slots_.get(i));
  for (uint32_t s = 0; s < ix.slot_count_; ++s) {
    if (!ix.ids_.has_id(s)) continue;
    const std::string_view id = ix.ids_.id_of(s);
    u32(uint32_t(id.size()));
    bytes(id.data(), id.size());
  }
  uint32_t with_metadata = 0;
  for (uint32_t s = 0; s < ix.slot_count_; ++s) with_metadata += ix.metadata_.has(s) ? 1 : 0;
  u32(with_metadata);
  for (uint32_t s = 0; s < ix.slot_count_; ++s) {
    if (!ix.metadata_.has(s)) continue;
    const std::string_view m = ix.metadata_.get(s);
    u32(s);
    u32(uint32_t(m.size()));
    bytes(m.data(), m.size());
  }
}

size_t Index::serialized_size() const {
  SnapshotWriter counter(nullptr, 0, 0, kCrcStart);
  counter.write(*this);
  return counter.size() + 4;
}

void Index::serialize(uint8_t* out) const {
  uint32_t crc = kCrcStart;
  serialize_window(0, out, serialized_size(), &crc);
}

void Index::serialize_window(size_t offset, uint8_t* out, size_t len, uint32_t* crc) const {
  SnapshotWriter writer(out, offset, len, *crc);
  writer.write(*this);
  writer.trailer();
  *crc = writer.crc();
}

// Bounds-checked little-endian reads: every read fails once past the end.
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t remaining() const { return n_ - at_; }
  const uint8_t* view(size_t len) {
    if (len > remaining()) return nullptr;
    const uint8_t* v = p_ + at_;
    at_ += len;
    return v;
  }
  bool u8(uint8_t& v) {
    const uint8_t* b = view(1);
    if (b) v = b[0];
    return b != nullptr;
  }
  bool u32(uint32_t& v) {
    const uint8_t* b = view(4);
    if (b) v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    return b != nullptr;
  }
  bool f32(float& v) {
    uint32_t u = 0;
    const bool ok = u32(u);
    v = bits_float(u);
    return ok;
  }
  bool number(uint8_t& v) { return u8(v); }
  bool number(uint32_t& v) { return u32(v); }
  bool number(float& v) { return f32(v); }
  // One stored vector: every component finite and, as Index::add requires,
  // short enough that distances cannot overflow.
  bool vector_floats(float* out, size_t n) {
    double norm = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!f32(out[i]) || !std::isfinite(out[i])) return false;
      norm += double(out[i]) * out[i];
    }
    return norm <= kMaxSquaredNorm;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
};

// Loads a snapshot in steps, each validating its section before it trusts a
// byte of it. Any memory is reserved only once the sections' sizes are
// checked against the bytes present.
class SnapshotReader {
 public:
  using S = Index::SlotState;
  SnapshotReader(const uint8_t* data, size_t length, uint64_t max_memory_bytes)
      : data_(data), length_(length), max_memory_bytes_(max_memory_bytes), r_(data, length >= 4 ? length - 4 : 0) {}

  Result read(std::unique_ptr<Index>* out) {
    Result res = check_envelope();
    if (res.ok()) res = read_header();
    if (res.ok()) res = read_states();
    if (res.ok()) res = reserve();
    if (res.ok()) res = read_vectors();
    if (res.ok()) res = read_staged();
    if (res.ok()) res = read_graph();
    if (res.ok()) res = read_lists();
    if (res.ok()) res = read_ids();
    if (res.ok()) res = read_metadata();
    if (res.ok()) res = finish();
    if (res.ok()) *out = std::move(ix_);
    return res;
  }

 private:
  static Result corrupt(const std::string& why) {
    return Result::failure(Status::corrupt_snapshot, "snapshot is corrupt: " + why);
  }
  Index& x() { return *ix_; }

  // Magic, then the checksum over everything, then the version: bit rot in
  // the version field reads as corruption, not as a future format.
  Result check_envelope() {
    if (length_ < sizeof(SnapshotHeader) + 4)
      return corrupt("it is " + std::to_string(length_) + " bytes, shorter than a header");
    if (std::memcmp(data_, kSnapshotMagic, 8) != 0) return corrupt("it does not start with the tabvec magic bytes");
    uint32_t stored_crc = 0;
    ByteReader(data_ + length_ - 4, 4).u32(stored_crc);
    if (crc32(data_, length_ - 4) != stored_crc) return corrupt("checksum mismatch (truncated or modified bytes)");
    return Result::success();
  }

  Result read_header() {
    r_.view(8);
    for_each_field(h_, [this](auto& field) { r_.number(field); });
    if (h_.version != kSnapshotVersion)
      return Result::failure(Status::unsupported_version, "snapshot format version " + std::to_string(h_.version) +
                                                              " is not supported (this build reads version " +
                                                              std::to_string(kSnapshotVersion) + ")");
    if (h_.header_bytes != sizeof(SnapshotHeader)) return corrupt("header size " + std::to_string(h_.header_bytes));
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
    for (uint32_t s = 0; s < h_.slot_count; ++s) {
      if (states_[s] > uint8_t(S::deleted)) return corrupt("bad slot state");
      ++counts_[states_[s]];
    }
    const bool trained = x().options_.storage == Storage::float32 || h_.quantizer_step > 0;
    if (x().options_.storage == Storage::int8 && trained == (count(S::staged) > 0) &&
        (count(S::staged) > 0 || holding() > 0))
      return corrupt("quantizer state disagrees with the stored vectors");
    return Result::success();
  }
  uint64_t count(S state) const { return counts_[uint8_t(state)]; }
  uint64_t holding() const { return count(S::unlinked) + count(S::linked) + count(S::deleted); }
  uint64_t live() const { return count(S::staged) + count(S::unlinked) + count(S::linked); }

  // Checks the sections' least sizes against the bytes present, then reserves
  // everything (64-bit arithmetic: in WASM size_t is 32 bits).
  Result reserve() {
    Index& ix = x();
    const uint64_t dim = ix.options_.dim;
    // Vectors, staged (slot + floats), graph degrees, both lists, an id
    // (length + a byte) per live slot, and the four counts.
    const uint64_t least = holding() * ix.vector_bytes_per_slot_ + count(S::staged) * (4 + 4 * dim) +
                           (count(S::linked) + count(S::deleted)) * 4 + (count(S::unlinked) + count(S::free)) * 4 +
                           live() * 5 + 16;
    if (least > r_.remaining()) return corrupt("slot counts need more bytes than the snapshot holds");
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
    ix.vectors_.resize(slots);
    for (uint32_t s = 0; s < slots; ++s) ix.set_state(s, S(states_[s]));
    return Result::success();
  }

  Result read_vectors() {
    Index& ix = x();
    const uint32_t dim = ix.options_.dim;
    for (uint32_t s = 0; s < h_.slot_count; ++s) {
      if (!ix.holds_stored_vector(s)) continue;
      const S st = ix.state(s);
      if ((st == S::linked || st == S::deleted) && s >= h_.graph_size) return corrupt("linked slot outside the graph");
      if (ix.options_.storage == Storage::int8) {
        const uint8_t* code = r_.view(dim);
        if (!code) return corrupt("vectors are truncated");
        for (uint32_t i = 0; i < dim; ++i)
          if (int8_t(code[i]) < -ScalarQuantizer::kMaxCode) return corrupt("code out of range");
        std::memcpy(ix.vectors_.at(s), code, dim);
      } else if (!r_.vector_floats(reinterpret_cast<float*>(ix.vectors_.at(s)), dim)) {
        return corrupt("vectors are truncated, not finite or too long");
      }
    }
    return Result::success();
  }

  Result read_staged() {
    Index& ix = x();
    const uint32_t dim = ix.options_.dim;
    uint32_t staged = 0;
    if (!r_.u32(staged) || staged != count(S::staged)) return corrupt("staged list disagrees with slot states");
    ix.staged_vectors_.resize(size_t(staged) * dim);
    ix.staged_slots_.resize(staged);
    for (uint32_t i = 0; i < staged; ++i) {
      uint32_t s;
      if (!r_.u32(s) || s >= h_.slot_count || ix.state(s) != S::staged) return corrupt("bad staged slot");
      for (uint32_t j = 0; j < i; ++j)  // fewer than 16 staged vectors
        if (ix.staged_slots_[j] == s) return corrupt("staged slot listed twice");
      ix.staged_slots_[i] = s;
      if (!r_.vector_floats(&ix.staged_vectors_[size_t(i) * dim], dim)) return corrupt("staged vectors");
    }
    return Result::success();
  }

  Result read_graph() {
    Index& ix = x();
    ix.graph_.grow_to(h_.graph_size);
    for (uint32_t s = 0; s < h_.graph_size; ++s) {
      const S st = ix.state(s);
      if (st != S::linked && st != S::deleted) continue;
      uint32_t deg;
      if (!r_.u32(deg) || deg > ix.options_.max_degree) return corrupt("bad degree");
      NeighborsRef nbrs = ix.graph_.neighbors(s);
      nbrs.clear();
      for (uint32_t i = 0; i < deg; ++i) {
        uint32_t n;
        if (!r_.u32(n) || n >= h_.graph_size || n == s) return corrupt("bad neighbour");
        const S ns = ix.state(n);
        if (ns != S::linked && ns != S::deleted) return corrupt("edge to a slot outside the graph");
        nbrs.push_back(n);
      }
    }
    return Result::success();
  }

  // The buffer and free lists: distinct slots in one state each.
  Result read_lists() {
    Index& ix = x();
    auto read_list = [&](ChunkedArray<uint32_t>& list, S want) -> bool {
      uint32_t n;
      if (!r_.u32(n) || n != count(want)) return false;
      for (uint32_t i = 0; i < n; ++i) {
        uint32_t s;
        if (!r_.u32(s) || s >= h_.slot_count || ix.state(s) != want) return false;
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

  // Ids are read in two passes: their bytes first, so that the map can
  // reserve exactly, then inserted.
  Result read_ids() {
    Index& ix = x();
    for (uint32_t s = 0; s < h_.slot_count; ++s) {
      const S st = ix.state(s);
      if (st == S::free || st == S::deleted) continue;
      uint32_t len;
      if (!r_.u32(len) || len == 0 || len > kMaxIdBytes) return corrupt("bad id length");
      const uint8_t* id = r_.view(len);
      if (!id) return corrupt("ids are truncated");
      strings_.push_back(std::string_view(reinterpret_cast<const char*>(id), len));
      if (!valid_utf8(strings_.back())) return corrupt("an id is not UTF-8");
    }
    if (!ix.ids_.reserve(h_.slot_count, strings_.data(), strings_.size())) return Result::out_of_memory();
    for (uint32_t s = 0, i = 0; s < h_.slot_count; ++s) {
      const S st = ix.state(s);
      if (st == S::free || st == S::deleted) continue;
      const std::string_view key = strings_[i++];
      if (ix.ids_.find(key) != IdMap::kNotFound) return corrupt("id '" + std::string(key) + "' appears twice");
      ix.ids_.insert(key, s);
    }
    return Result::success();
  }

  Result read_metadata() {
    Index& ix = x();
    uint32_t n;
    if (!r_.u32(n) || n > h_.slot_count || uint64_t(n) * 8 > r_.remaining()) return corrupt("bad metadata count");
    PodVector<uint32_t> slots;
    strings_.clear();
    if (!strings_.reserve(n) || !slots.reserve(n)) return Result::out_of_memory();
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t s, len;
      if (!r_.u32(s) || s >= h_.slot_count || (i > 0 && s <= slots.back())) return corrupt("bad metadata slot");
      const S st = ix.state(s);
      if (st == S::free || st == S::deleted) return corrupt("metadata for an empty slot");
      if (!r_.u32(len) || len == 0 || len > kMaxMetadataBytes) return corrupt("bad metadata length");
      const uint8_t* m = r_.view(len);
      if (!m) return corrupt("metadata is truncated");
      slots.push_back(s);
      strings_.push_back(std::string_view(reinterpret_cast<const char*>(m), len));
      switch (check_json(strings_.back())) {
        case JsonCheck::valid: break;
        case JsonCheck::out_of_memory: return Result::out_of_memory();
        case JsonCheck::invalid: return corrupt("metadata of slot " + std::to_string(s) + " is not JSON text");
      }
    }
    if (!ix.metadata_.reserve(h_.slot_count, strings_.data(), strings_.size())) return Result::out_of_memory();
    for (uint32_t i = 0; i < n; ++i) ix.metadata_.set(slots[i], strings_[i]);
    return Result::success();
  }

  Result finish() {
    Index& ix = x();
    if (r_.remaining() != 0) return corrupt(std::to_string(r_.remaining()) + " unexpected trailing bytes");
    const uint32_t entry = h_.entry_point;
    const bool graph_empty = count(S::linked) + count(S::deleted) == 0;
    if (graph_empty ? entry != 0xFFFFFFFFu
                    : (entry >= h_.graph_size || (ix.state(entry) != S::linked && ix.state(entry) != S::deleted)))
      return corrupt("bad entry point");
    ix.entry_point_ = entry;
    ix.live_count_ = live();
    ix.linked_count_ = count(S::linked) + count(S::deleted);
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
};

Result Index::deserialize(const uint8_t* bytes, size_t length, uint64_t max_memory_bytes, std::unique_ptr<Index>* out) {
  return SnapshotReader(bytes, length, max_memory_bytes).read(out);
}

}  // namespace tabvec
