// The snapshot format: one byte buffer holding the whole index.
//
//   header    fixed 80 bytes (kHeaderBytes): magic "TABVEC\0\0", format version,
//             options, quantizer, counts, entry point, linking state
//   states    slot_count bytes (SlotState per slot)
//   vectors   for each slot that holds a code/vector, in slot order: its bytes
//   staged    u32 count, then per staged vector: u32 slot, dim x f32
//   graph     if the graph exists, for each linked/deleted slot: u32 degree, degree x u32
//   unlinked  u32 count, count x u32 (merge order)
//   free      u32 count, count x u32 (reuse order)
//   ids       for each live slot, in slot order: u32 length, bytes
//   metadata  u32 count, then per entry: u32 slot, u32 length, bytes
//   crc32     u32 over every byte before it
//
// Every integer and float is little-endian regardless of the host. Loading
// checks the CRC first, then every structural invariant, so hostile bytes
// that carry a valid CRC still cannot cause an out-of-bounds access.
#include <array>
#include <cmath>
#include <cstring>

#include "index.h"
#include "text.h"

namespace tabvec {

namespace {

constexpr char kMagic[8] = {'T', 'A', 'B', 'V', 'E', 'C', 0, 0};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 80;

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

uint32_t crc32(const uint8_t* data, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = kCrcTable[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

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

}  // namespace

// Writes little-endian values; with a null buffer it only counts, so that
// serialized_size() and serialize() share one description of the layout.
class SnapshotWriter {
 public:
  explicit SnapshotWriter(uint8_t* out) : out_(out) {}
  size_t size() const { return n_; }
  void bytes(const void* p, size_t len) {
    if (out_ && len) std::memcpy(out_ + n_, p, len);
    n_ += len;
  }
  void u8(uint8_t v) { bytes(&v, 1); }
  void u32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    bytes(b, 4);
  }
  void u64(uint64_t v) {
    u32(uint32_t(v));
    u32(uint32_t(v >> 32));
  }
  void f32(float v) { u32(float_bits(v)); }
  void floats(const float* v, size_t n) {
    for (size_t i = 0; i < n; ++i) f32(v[i]);
  }

  void write(const Index& index);

 private:
  uint8_t* out_;
  size_t n_ = 0;
};

void SnapshotWriter::write(const Index& ix) {
  using S = Index::SlotState;
  const IndexOptions& o = ix.options_;
  const size_t header_start = n_;
  bytes(kMagic, 8);
  u32(kFormatVersion);
  u32(uint32_t(kHeaderBytes));
  u8(uint8_t(o.metric));
  u8(uint8_t(o.storage));
  u8(ix.round_.active ? 1 : 0);
  u8(ix.round_.two_pass ? 1 : 0);
  u32(o.dim);
  u32(o.max_degree);
  u32(o.build_list_size);
  u32(o.search_list_size);
  f32(o.alpha);
  u32(o.max_buffer);
  f32(ix.quantizer_.offset());
  f32(ix.quantizer_.step());
  u32(uint32_t(ix.slot_count_));
  u32(ix.entry_point_);
  u32(uint32_t(ix.graph_.size()));
  u32(uint32_t(ix.entry_refresh_at_));
  f32(ix.round_.pass1_alpha);
  u32(uint32_t(ix.round_.pass2_cursor));
  u32(uint32_t(ix.round_.pass2_end));
  while (n_ - header_start < kHeaderBytes) u8(0);

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
    const uint32_t* record = reinterpret_cast<const uint32_t*>(ix.graph_.at(s));
    u32(record[0]);
    for (uint32_t i = 0; i < record[0]; ++i) u32(record[1 + i]);
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
  SnapshotWriter counter(nullptr);
  counter.write(*this);
  return counter.size() + 4;
}

void Index::serialize(uint8_t* out) const {
  SnapshotWriter writer(out);
  writer.write(*this);
  const uint32_t crc = crc32(out, writer.size());
  writer.u32(crc);
}

// Bounds-checked little-endian reads: every read fails once past the end.
class SnapshotReader {
 public:
  SnapshotReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t remaining() const { return n_ - at_; }
  bool bytes(void* out, size_t len) {
    if (len > remaining()) return false;
    if (len) std::memcpy(out, p_ + at_, len);
    at_ += len;
    return true;
  }
  const uint8_t* view(size_t len) {
    if (len > remaining()) return nullptr;
    const uint8_t* v = p_ + at_;
    at_ += len;
    return v;
  }
  bool u8(uint8_t& v) { return bytes(&v, 1); }
  bool u32(uint32_t& v) {
    uint8_t b[4];
    if (!bytes(b, 4)) return false;
    v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    return true;
  }
  bool f32(float& v) {
    uint32_t u;
    if (!u32(u)) return false;
    v = bits_float(u);
    return true;
  }
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
  void skip_to(size_t offset) { at_ = offset; }
  size_t offset() const { return at_; }

  static Result read(const uint8_t* bytes, size_t length, uint64_t max_memory_bytes, std::unique_ptr<Index>* out);

 private:
  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
};

Result SnapshotReader::read(const uint8_t* data, size_t length, uint64_t max_memory_bytes, std::unique_ptr<Index>* out) {
  using S = Index::SlotState;
  auto corrupt = [](const std::string& why) { return Result::failure(Status::corrupt_snapshot, "snapshot is corrupt: " + why); };
  if (length < kHeaderBytes + 4) return corrupt("it is " + std::to_string(length) + " bytes, shorter than a header");
  if (std::memcmp(data, kMagic, 8) != 0) return corrupt("it does not start with the tabvec magic bytes");
  SnapshotReader r(data, length - 4);
  r.skip_to(8);
  uint32_t version = 0, header_bytes = 0;
  r.u32(version);
  r.u32(header_bytes);
  if (version != kFormatVersion)
    return Result::failure(Status::unsupported_version, "snapshot format version " + std::to_string(version) +
                                                            " is not supported (this build reads version " +
                                                            std::to_string(kFormatVersion) + ")");
  uint32_t stored_crc = 0;
  SnapshotReader(data + length - 4, 4).u32(stored_crc);
  if (crc32(data, length - 4) != stored_crc) return corrupt("checksum mismatch (truncated or modified bytes)");
  if (header_bytes != kHeaderBytes) return corrupt("header size " + std::to_string(header_bytes));

  IndexOptions o;
  uint8_t metric = 0, storage = 0, round_active = 0, round_two_pass = 0;
  float q_offset = 0, q_step = 0, pass1_alpha = 1;
  uint32_t slot_count = 0, entry = 0, graph_size = 0, refresh_at = 0, pass2_cursor = 0, pass2_end = 0;
  r.u8(metric);
  r.u8(storage);
  r.u8(round_active);
  r.u8(round_two_pass);
  r.u32(o.dim);
  r.u32(o.max_degree);
  r.u32(o.build_list_size);
  r.u32(o.search_list_size);
  r.f32(o.alpha);
  r.u32(o.max_buffer);
  r.f32(q_offset);
  r.f32(q_step);
  r.u32(slot_count);
  r.u32(entry);
  r.u32(graph_size);
  r.u32(refresh_at);
  r.f32(pass1_alpha);
  r.u32(pass2_cursor);
  if (!r.u32(pass2_end)) return corrupt("header is truncated");
  for (size_t i = r.offset(); i < kHeaderBytes; ++i) {
    if (data[i] != 0) return corrupt("reserved header bytes are not zero");
  }
  r.skip_to(kHeaderBytes);
  o.metric = Metric(metric);
  o.storage = Storage(storage);
  o.max_memory_bytes = max_memory_bytes;
  std::unique_ptr<Index> ix;
  if (Result res = Index::create(o, &ix); !res.ok())
    return res.status == Status::out_of_memory ? res : corrupt("bad options: " + res.message);
  if (round_active > 1 || round_two_pass > 1 || !(pass1_alpha >= 1.0f && pass1_alpha <= 4.0f))
    return corrupt("bad linking state");
  // Each slot takes at least one byte, which bounds every allocation below by the input size.
  if (slot_count > r.remaining() || slot_count > kMaxSlots) return corrupt("slot count " + std::to_string(slot_count));
  if (graph_size > slot_count || pass2_end > slot_count || pass2_cursor > pass2_end)
    return corrupt("counts in the header disagree");
  // An untrained quantizer (and float32 storage) is written as +0, +0 exactly;
  // comparing bits also refuses -0, so every accepted snapshot has one form.
  const bool untrained = float_bits(q_step) == 0 && float_bits(q_offset) == 0;
  if (o.storage == Storage::int8 && !untrained && !ix->quantizer_.restore(q_offset, q_step))
    return corrupt("bad quantizer");
  if (o.storage == Storage::float32 && !untrained) return corrupt("bad quantizer");

  // Slot states first: one byte each, so bounded by the input. Their counts
  // say how many bytes the sections after them must hold, which is checked
  // against what is there before any memory is sized from a header field.
  Index& x = *ix;
  const uint8_t* states = r.view(slot_count);
  if (!states) return corrupt("slot states are truncated");
  uint64_t counts[5] = {0, 0, 0, 0, 0};
  for (uint32_t s = 0; s < slot_count; ++s) {
    if (states[s] > uint8_t(S::deleted)) return corrupt("bad slot state");
    ++counts[states[s]];
  }
  const uint64_t staged = counts[uint8_t(S::staged)], unlinked = counts[uint8_t(S::unlinked)];
  const uint64_t linked = counts[uint8_t(S::linked)], deleted = counts[uint8_t(S::deleted)];
  const uint64_t free_count = counts[uint8_t(S::free)];
  const uint64_t holding = unlinked + linked + deleted;
  // The least each section takes: vectors, staged (slot + floats), graph
  // degrees, both lists, an id (length + a byte) per live slot, the counts.
  const uint64_t least = holding * x.vector_bytes_per_slot_ + staged * (4 + 4 * uint64_t(o.dim)) +
                         (linked + deleted) * 4 + (unlinked + free_count) * 4 + (staged + unlinked + linked) * 5 + 16;
  if (least > r.remaining()) return corrupt("slot counts need more bytes than the snapshot holds");
  // In 64 bits: in WASM size_t is 32 bits.
  const uint64_t stored_estimate = uint64_t(slot_count) * (x.vector_bytes_per_slot_ + 2) +
                                   uint64_t(graph_size) * (uint64_t(o.max_degree) + 1) * 4;
  // Free slots keep a vector record each but take 5 bytes in the snapshot, so
  // a few bytes can ask for much memory; no store this format can describe
  // needs more than a 32-bit address space.
  if (stored_estimate > (uint64_t(1) << 32)) return corrupt("slot counts need more than 4 GiB of memory");
  if (max_memory_bytes != 0 && stored_estimate > max_memory_bytes)
    return Result::failure(Status::memory_cap_exceeded, "snapshot needs about " + std::to_string(stored_estimate) +
                                                            " bytes, the cap is " + std::to_string(max_memory_bytes));
  if (!x.state_.reserve(slot_count) || !x.vectors_.reserve(slot_count) || !x.graph_.reserve(graph_size) ||
      !x.tags_.reserve(slot_count) || !x.unlinked_.reserve(unlinked) || !x.free_slots_.reserve(free_count) ||
      !x.staged_vectors_.reserve(staged * o.dim) || !x.staged_slots_.reserve(staged))
    return Result::out_of_memory();
  x.slot_count_ = slot_count;
  x.state_.resize(slot_count);
  x.vectors_.resize(slot_count);
  for (uint32_t s = 0; s < slot_count; ++s) x.set_state(s, S(states[s]));
  const bool trained = o.storage == Storage::float32 || q_step > 0;
  if ((o.storage == Storage::int8) && trained == (staged > 0) && (staged > 0 || unlinked + linked + deleted > 0))
    return corrupt("quantizer state disagrees with the stored vectors");
  for (uint32_t s = 0; s < slot_count; ++s) {
    if (!x.holds_stored_vector(s)) continue;
    const S st = x.state(s);
    if ((st == S::linked || st == S::deleted) && s >= graph_size) return corrupt("linked slot outside the graph");
    if (o.storage == Storage::int8) {
      const uint8_t* code = r.view(o.dim);
      if (!code) return corrupt("vectors are truncated");
      for (uint32_t i = 0; i < o.dim; ++i)
        if (int8_t(code[i]) < -ScalarQuantizer::kMaxCode) return corrupt("code out of range");
      std::memcpy(x.vectors_.at(s), code, o.dim);
    } else if (!r.vector_floats(reinterpret_cast<float*>(x.vectors_.at(s)), o.dim)) {
      return corrupt("vectors are truncated, not finite or too long");
    }
  }
  uint32_t staged_count = 0;
  if (!r.u32(staged_count) || staged_count != staged) return corrupt("staged list disagrees with slot states");
  x.staged_vectors_.resize(size_t(staged_count) * o.dim);
  x.staged_slots_.resize(staged_count);
  for (uint32_t i = 0; i < staged_count; ++i) {
    uint32_t s;
    if (!r.u32(s) || s >= slot_count || x.state(s) != S::staged) return corrupt("bad staged slot");
    for (uint32_t j = 0; j < i; ++j)
      if (x.staged_slots_[j] == s) return corrupt("staged slot listed twice");
    x.staged_slots_[i] = s;
    if (!r.vector_floats(&x.staged_vectors_[size_t(i) * o.dim], o.dim)) return corrupt("staged vectors");
  }
  if (graph_size > 0) {
    x.graph_.resize(graph_size);
    for (uint32_t s = 0; s < graph_size; ++s) {
      const S st = x.state(s);
      if (st != S::linked && st != S::deleted) continue;
      uint32_t deg;
      if (!r.u32(deg) || deg > o.max_degree) return corrupt("bad degree");
      x.degree(s) = deg;
      uint32_t* nbrs = x.neighbours(s);
      for (uint32_t i = 0; i < deg; ++i) {
        uint32_t n;
        if (!r.u32(n) || n >= graph_size || n == s) return corrupt("bad neighbour");
        const S ns = x.state(n);
        if (ns != S::linked && ns != S::deleted) return corrupt("edge to a slot outside the graph");
        nbrs[i] = n;
      }
    }
  }
  // Lists whose members must be distinct slots in one state (room reserved above).
  auto read_list = [&](ChunkedArray<uint32_t>& list, S want, uint64_t expected) -> bool {
    uint32_t count;
    if (!r.u32(count) || count != expected) return false;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t s;
      if (!r.u32(s) || s >= slot_count || x.state(s) != want) return false;
      list.push_back(s);
    }
    return true;
  };
  if (!read_list(x.unlinked_, S::unlinked, unlinked)) return corrupt("write-buffer list");
  if (!read_list(x.free_slots_, S::free, counts[uint8_t(S::free)])) return corrupt("free list");
  // States were counted, so a repeated member implies a missing one; check repeats with tags.
  x.tags_.resize(slot_count);  // reserved above
  for (size_t i = 0; i < x.unlinked_.size(); ++i) {
    if (x.tags_.get(x.unlinked_.get(i)) == 1) return corrupt("write-buffer slot listed twice");
    x.tags_.set(x.unlinked_.get(i), 1);
  }
  for (size_t i = 0; i < x.free_slots_.size(); ++i) {
    if (x.tags_.get(x.free_slots_.get(i)) == 1) return corrupt("free slot listed twice");
    x.tags_.set(x.free_slots_.get(i), 1);
  }
  for (uint32_t s = 0; s < slot_count; ++s) x.tags_.set(s, 0);
  x.tags_.clear();

  // Ids and metadata are read in two passes: their bytes first (so the map
  // and arenas can reserve exactly), then inserted.
  PodVector<std::string_view> strings;
  if (!strings.reserve(staged + unlinked + linked)) return Result::out_of_memory();
  for (uint32_t s = 0; s < slot_count; ++s) {
    const S st = x.state(s);
    if (st == S::free || st == S::deleted) continue;
    uint32_t len;
    if (!r.u32(len) || len == 0 || len > kMaxIdBytes) return corrupt("bad id length");
    const uint8_t* id = r.view(len);
    if (!id) return corrupt("ids are truncated");
    strings.push_back(std::string_view(reinterpret_cast<const char*>(id), len));
    if (!valid_utf8(strings.back())) return corrupt("an id is not UTF-8");
  }
  if (!x.ids_.reserve(slot_count, strings.data(), strings.size())) return Result::out_of_memory();
  for (uint32_t s = 0, i = 0; s < slot_count; ++s) {
    const S st = x.state(s);
    if (st == S::free || st == S::deleted) continue;
    const std::string_view key = strings[i++];
    if (x.ids_.find(key) != IdMap::kNotFound) return corrupt("id '" + std::string(key) + "' appears twice");
    x.ids_.insert(key, s);
  }
  uint32_t with_metadata;
  if (!r.u32(with_metadata) || with_metadata > slot_count || uint64_t(with_metadata) * 8 > r.remaining())
    return corrupt("bad metadata count");
  PodVector<uint32_t> metadata_slots;
  strings.clear();
  if (!strings.reserve(with_metadata) || !metadata_slots.reserve(with_metadata)) return Result::out_of_memory();
  for (uint32_t i = 0; i < with_metadata; ++i) {
    uint32_t s, len;
    if (!r.u32(s) || s >= slot_count || (i > 0 && s <= metadata_slots.back())) return corrupt("bad metadata slot");
    const S st = x.state(s);
    if (st == S::free || st == S::deleted) return corrupt("metadata for an empty slot");
    if (!r.u32(len) || len == 0 || len > kMaxMetadataBytes) return corrupt("bad metadata length");
    const uint8_t* m = r.view(len);
    if (!m) return corrupt("metadata is truncated");
    metadata_slots.push_back(s);
    strings.push_back(std::string_view(reinterpret_cast<const char*>(m), len));
    switch (check_json(strings.back())) {
      case JsonCheck::valid: break;
      case JsonCheck::out_of_memory: return Result::out_of_memory();
      case JsonCheck::invalid: return corrupt("metadata of slot " + std::to_string(s) + " is not JSON text");
    }
  }
  if (!x.metadata_.reserve(slot_count, strings.data(), strings.size())) return Result::out_of_memory();
  for (uint32_t i = 0; i < with_metadata; ++i) x.metadata_.set(metadata_slots[i], strings[i]);
  if (r.remaining() != 0) return corrupt(std::to_string(r.remaining()) + " unexpected trailing bytes");

  if (linked + deleted == 0 ? entry != 0xFFFFFFFFu
                            : (entry >= graph_size || (x.state(entry) != S::linked && x.state(entry) != S::deleted)))
    return corrupt("bad entry point");
  x.entry_point_ = entry;
  x.live_count_ = staged + unlinked + linked;
  x.linked_count_ = linked + deleted;
  x.deleted_count_ = deleted;
  x.entry_refresh_at_ = refresh_at;
  x.round_.active = round_active != 0;
  x.round_.two_pass = round_two_pass != 0;
  x.round_.pass1_alpha = pass1_alpha;
  x.round_.pass2_cursor = pass2_cursor;
  x.round_.pass2_end = pass2_end;
  if (max_memory_bytes != 0 && x.memory().total_reserved() > max_memory_bytes)
    return Result::failure(Status::memory_cap_exceeded, "snapshot needs " + std::to_string(x.memory().total_reserved()) +
                                                            " bytes, the cap is " + std::to_string(max_memory_bytes));
  *out = std::move(ix);
  return Result::success();
}

Result Index::deserialize(const uint8_t* bytes, size_t length, uint64_t max_memory_bytes, std::unique_ptr<Index>* out) {
  return SnapshotReader::read(bytes, length, max_memory_bytes, out);
}

}  // namespace tabvec
