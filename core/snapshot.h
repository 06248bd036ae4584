// The snapshot format: one byte buffer holding the whole index.
//
//   header    SnapshotHeader, 80 bytes
//   states    slot_count bytes (SlotState per slot)
//   vectors   for each slot that holds a code/vector, in slot order: its bytes
//   staged    u32 count, then per staged vector: u32 slot, dim x f32
//   graph     if the graph exists, for each linked/deleted slot: u32 degree, degree x u32
//   unlinked  u32 count, count x u32 (merge order)
//   free      u32 count, count x u32 (reuse order)
//   ids       for each live slot, in slot order: u32 length, UTF-8 bytes
//   metadata  u32 count, then per entry: u32 slot, u32 length, JSON text
//   crc32     u32 over every byte before it
//
// Every integer and float is little-endian regardless of the host. Loading
// checks the checksum before any other field, then every structural
// invariant, so hostile bytes that carry a valid checksum still cannot cause
// an out-of-bounds access or an allocation the input does not justify.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tabvec {

constexpr char kSnapshotMagic[8] = {'T', 'A', 'B', 'V', 'E', 'C', 0, 0};
constexpr uint32_t kSnapshotVersion = 1;

// The header's fields in file order; each is stored little-endian at its
// offsetof(), which the static_asserts below pin to the format.
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
};
static_assert(sizeof(SnapshotHeader) == 80, "the snapshot header is 80 bytes");
static_assert(offsetof(SnapshotHeader, metric) == 16 && offsetof(SnapshotHeader, dim) == 20 &&
                  offsetof(SnapshotHeader, quantizer_offset) == 44 && offsetof(SnapshotHeader, slot_count) == 52 &&
                  offsetof(SnapshotHeader, pass2_end) == 76,
              "header fields sit at the offsets format version 1 gives them");

}  // namespace tabvec
