// The snapshot format: one byte buffer holding the whole index.
//
// Format 5 (written): the header, then sections that are plain arrays, so
// that loading copies and checks them in tight loops and never parses a
// record at a time:
//
//   header      SnapshotHeader, 120 bytes
//   states      slot_count x u8 (SlotState per slot)
//   vectors     per slot holding a code/vector, in slot order: dim x i8 or dim x f32
//   exact       the re-ranking tier (header field rerank; empty without one):
//               per slot holding a code, in slot order: dim x f16 or dim x f32,
//               or for a storage tier its u32 row (below the header's next_row)
//   staged      per staged slot: u32 slot, dim x f32
//   degrees     per linked/deleted slot, in slot order: u32 degree
//   neighbours  edge_count x u32: those slots' neighbour lists, back to back
//   unlinked    u32 per unlinked slot (merge order)
//   free        u32 per free slot (reuse order)
//   id lengths  u32 per live slot, in slot order
//   id bytes    id_bytes: those ids' UTF-8, back to back
//   meta slots  metadata_count x u32, increasing
//   meta lengths metadata_count x u32
//   meta bytes  metadata_bytes: the JSON texts, back to back
//   checksum    u32, the low 32 bits of XXH64 (checksum.h) of every byte before it
//
// Format 4 (read only): format 5 with a 112-byte header, without next_row,
// and no storage tier.
// Format 3 (read only): format 4 without the exact section; its rerank field
// (then named reserved) is zero.
// Format 2 (read only): format 3 with a CRC-32 (checksum.h) as its checksum.
// XXH64 replaced it because a table-driven CRC was a third of what loading
// a store cost.
//
// Every section's size follows from the header and the slot states, so the
// loader checks that they add up to the snapshot's length before it reserves
// anything, and then reads no length it has not checked.
//
// Format 1 (read only): the same header without its last 32 bytes, then
//   states; vectors as above; u32 staged count + staged entries; per
//   linked/deleted slot u32 degree + its neighbours; u32 count + unlinked;
//   u32 count + free; per live slot u32 length + id; u32 count + per entry
//   u32 slot, u32 length, JSON text; crc32.
//
// Every integer and float is little-endian. Loading checks the checksum
// before any other field, then every structural invariant, so hostile bytes
// that carry a valid checksum still cannot cause an out-of-bounds access or
// an allocation the input does not justify.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "checksum.h"
#include "status.h"

namespace tabvec {

class Index;
class SnapshotReader;

constexpr char kSnapshotMagic[8] = {'T', 'A', 'B', 'V', 'E', 'C', 0, 0};
constexpr uint32_t kSnapshotVersion = 5;        // what serialize() writes
constexpr uint32_t kFirstRerankSnapshotVersion = 4;  // the first with a rerank field
constexpr uint32_t kFirstRowsSnapshotVersion = 5;    // the first with next_row (and storage tiers)
constexpr uint32_t kFirstXxh64SnapshotVersion = 3;  // summed by XXH64; older ones by CRC-32
constexpr uint32_t kOldestSnapshotVersion = 1;  // the oldest deserialize() reads

// The header's fields in file order; each is stored little-endian at its
// offsetof(), which the static_asserts below pin to the format. Format 1
// headers end at pass2_end (header_bytes 80), formats 2 to 4 at metadata_bytes (112).
struct SnapshotHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint8_t metric;
  uint8_t storage;
  uint8_t round_active;    // a linking round is under way
  uint8_t round_two_pass;  // ... and it is a bulk build (two passes)
  uint32_t dim;
  uint32_t max_degree;
  uint32_t build_list_size;
  uint32_t search_list_size;
  float alpha;
  uint32_t max_buffer;
  float quantizer_offset;  // +0 and +0 when untrained (and for float32)
  float quantizer_step;
  uint32_t slot_count;
  uint32_t entry_point;  // 0xFFFFFFFF when the graph is empty
  uint32_t graph_size;   // slots the graph records cover
  uint32_t entry_refresh_at;
  float pass1_alpha;
  uint32_t pass2_cursor;
  uint32_t pass2_end;
  // Format 2: the sizes of the sections that slot states do not determine.
  uint32_t metadata_count;
  uint32_t rerank;  // Rerank (index.h); zero before format 4
  uint64_t edge_count;
  uint64_t id_bytes;
  uint64_t metadata_bytes;
  // Format 5.
  uint64_t next_row;  // storage tier: Index::next_row(); zero without one
};
constexpr uint32_t kSnapshotHeaderBytesV1 = 80;
constexpr uint32_t kSnapshotHeaderBytesV2 = 112;
static_assert(sizeof(SnapshotHeader) == 120, "the snapshot header is 120 bytes");
static_assert(offsetof(SnapshotHeader, metric) == 16 && offsetof(SnapshotHeader, dim) == 20 &&
                  offsetof(SnapshotHeader, quantizer_offset) == 44 && offsetof(SnapshotHeader, slot_count) == 52 &&
                  offsetof(SnapshotHeader, pass2_end) == 76,
              "header fields sit at the offsets format version 1 gives them");
static_assert(offsetof(SnapshotHeader, metadata_count) == kSnapshotHeaderBytesV1 &&
                  offsetof(SnapshotHeader, edge_count) == 88 && offsetof(SnapshotHeader, id_bytes) == 96 &&
                  offsetof(SnapshotHeader, metadata_bytes) == 104,
              "format 2 fields follow the format 1 header");
static_assert(offsetof(SnapshotHeader, next_row) == kSnapshotHeaderBytesV2, "format 5 fields follow the format 2 header");

// The header's size in a format.
constexpr uint32_t snapshot_header_bytes(uint32_t version) {
  return version == 1 ? kSnapshotHeaderBytesV1 : version < kFirstRowsSnapshotVersion ? kSnapshotHeaderBytesV2 : 120;
}

// Writes an index's snapshot (format kSnapshotVersion) in consecutive pieces,
// so a caller can copy it out through a small buffer rather than hold a second
// copy of the store in memory. Each write() resumes where the last one
// stopped, so writing the whole snapshot costs the same however small the
// pieces. The index must not change between start() and the last write().
class SnapshotWriter {
 public:
  // Lays out the snapshot of `index` and returns its size in bytes.
  size_t start(const Index& index);
  // Writes the next min(len, remaining()) bytes to out; returns how many.
  size_t write(uint8_t* out, size_t len);
  size_t remaining() const { return size_ - written_; }

 private:
  enum Section : uint8_t {
    kHeader, kStates, kVectors, kExact, kStaged, kDegrees, kNeighbors, kUnlinked, kFree,
    kIdLengths, kIdBytes, kMetaSlots, kMetaLengths, kMetaBytes, kTrailer, kDone
  };
  static constexpr size_t kScratchWords = 1024;
  // Points piece_ at the next bytes of the current section; false when the
  // section has no more.
  bool next_piece();
  // Fills scratch_ with u32 values produced for items from item_ on.
  template <typename Produce>
  void batch(size_t items, Produce&& produce);

  const Index* ix_ = nullptr;
  SnapshotHeader header_{};
  size_t size_ = 0;
  size_t written_ = 0;
  Xxh64 checksum_{};
  Section section_ = kDone;
  size_t item_ = 0;  // next item (usually a slot) of the section
  const uint8_t* piece_ = nullptr;
  size_t piece_len_ = 0;
  uint32_t scratch_[kScratchWords];
};

// Loads a snapshot from its bytes fed in order, in pieces of any size, so a
// caller can stream it from storage through a small buffer instead of holding
// a second copy of the store in memory. Formats 2 and 3 are checked and copied into
// the index's own records as it arrives; format 1 is gathered whole. The
// checksum is compared at finish(), which hands over the index only if every
// check passed; after any failure the loader holds nothing the caller must
// free but itself.
class SnapshotLoader {
 public:
  // `length`: the snapshot's whole size, known before its first byte.
  static Result start(uint64_t length, uint64_t max_memory_bytes, SnapshotLoader* out);
  SnapshotLoader();
  ~SnapshotLoader();
  SnapshotLoader(SnapshotLoader&&) noexcept;
  SnapshotLoader& operator=(SnapshotLoader&&) noexcept;

  // The next n bytes. A failure is final: every later call returns it.
  Result feed(const uint8_t* bytes, size_t n);
  Result finish(std::unique_ptr<Index>* out);
  bool active() const { return impl_ != nullptr; }

 private:
  std::unique_ptr<SnapshotReader> impl_;
};

}  // namespace tabvec
