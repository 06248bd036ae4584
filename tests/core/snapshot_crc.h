// Snapshot helpers for tests: the bytes of an index, and the checksums as the
// formats define them (CRC-32, reflected, polynomial 0xEDB88320, before format
// 3; the low 32 bits of XXH64 with seed 0 from it on), written plainly here
// from their definitions, so tests and fuzz targets can forge bytes that pass
// the checksum and check the core's fast versions against them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "index.h"
#include "snapshot.h"

namespace tabvec::testing {

// The index's snapshot bytes.
inline std::vector<uint8_t> snapshot(const Index& ix) {
  std::vector<uint8_t> bytes(ix.serialized_size());
  ix.serialize(bytes.data());
  return bytes;
}

inline uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

// XXH64 as its specification states it: one pass, no streaming.
inline uint64_t xxh64(const uint8_t* p, size_t n) {
  constexpr uint64_t P1 = 0x9E3779B185EBCA87u, P2 = 0xC2B2AE3D27D4EB4Fu, P3 = 0x165667B19E3779F9u,
                     P4 = 0x85EBCA77C2B2AE63u, P5 = 0x27D4EB2F165667C5u;
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  auto read = [](const uint8_t* q, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(q[i]) << (8 * i);
    return v;
  };
  auto round = [&](uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; };
  size_t i = 0;
  uint64_t h;
  if (n >= 32) {
    uint64_t v[4] = {P1 + P2, P2, 0, 0 - P1};
    for (; i + 32 <= n; i += 32)
      for (int l = 0; l < 4; ++l) v[l] = round(v[l], read(p + i + 8 * l, 8));
    h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
    for (uint64_t lane : v) h = (h ^ round(0, lane)) * P1 + P4;
  } else {
    h = P5;
  }
  h += n;
  for (; i + 8 <= n; i += 8) h = rotl(h ^ round(0, read(p + i, 8)), 27) * P1 + P4;
  if (i + 4 <= n) h = rotl(h ^ read(p + i, 4) * P1, 23) * P2 + P3, i += 4;
  for (; i < n; ++i) h = rotl(h ^ p[i] * P5, 11) * P1;
  h ^= h >> 33, h *= P2, h ^= h >> 29, h *= P3, h ^= h >> 32;
  return h;
}

// The checksum a snapshot's trailer holds, by the version in its header.
inline uint32_t snapshot_checksum(const uint8_t* p, size_t n) {
  uint32_t version = 0;
  if (n >= 12) std::memcpy(&version, p + 8, 4);
  return version >= kFirstXxh64SnapshotVersion ? uint32_t(xxh64(p, n)) : crc32(p, n);
}

// Rewrites the trailing checksum so that it matches the bytes before it.
inline void reseal(std::vector<uint8_t>& b) {
  if (b.size() < 4) return;
  const uint32_t c = snapshot_checksum(b.data(), b.size() - 4);
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + i] = uint8_t(c >> (8 * i));
}

}  // namespace tabvec::testing

namespace tabvec::testing {

// A snapshot (valid checksum) of `slots` free slots of a 16384-dimensional
// float32 index, in which every slot would need a 64 KiB vector record: with
// its free list a valid empty store, without it (`truncated`) a few bytes that
// ask for slots x 64 KiB. The loader must refuse the second before reserving.
// In format 1 or 2 (whose header adds five zero fields: no metadata, no
// edges, no id bytes).
inline std::vector<uint8_t> forged_free_slots(uint32_t slots, bool truncated, uint32_t version = 2) {
  std::vector<uint8_t> b;
  auto u8 = [&b](uint8_t v) { b.push_back(v); };
  auto u32 = [&b](uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
  };
  for (char c : {'T', 'A', 'B', 'V', 'E', 'C', '\0', '\0'}) u8(uint8_t(c));
  u32(version);                           // format version
  u32(version == 1 ? 80 : 112);           // header bytes
  u8(0), u8(1), u8(0), u8(0);             // l2, float32, no linking round
  u32(16384), u32(32), u32(64), u32(64);  // dim, R, L_build, L
  u32(0x3F99999Au);                       // alpha 1.2
  u32(256);                               // max buffer
  u32(0), u32(0);                         // quantizer: untrained
  u32(slots), u32(0xFFFFFFFFu), u32(0), u32(0);  // slots, no entry, no graph, refresh
  u32(0x3F800000u), u32(0), u32(0);       // pass-1 alpha 1, pass 2 cursor/end
  if (version >= 2) b.resize(112, 0);     // metadata count, rerank (none), edges, id bytes, metadata bytes
  b.resize(b.size() + slots, 0);          // every slot free
  if (!truncated) {
    if (version == 1) u32(0), u32(0), u32(slots);  // staged count, buffer count, free count
    for (uint32_t i = 0; i < slots; ++i) u32(slots - 1 - i);
    if (version == 1) u32(0);  // metadata count
  }
  b.resize(b.size() + 4);
  reseal(b);
  return b;
}

}  // namespace tabvec::testing
