// The snapshot's CRC-32 (reflected, polynomial 0xEDB88320) as the format
// defines it, so tests and fuzz targets can forge bytes that pass the checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tabvec::testing {

inline uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

// Rewrites the trailing checksum so that it matches the bytes before it.
inline void reseal(std::vector<uint8_t>& b) {
  if (b.size() < 4) return;
  const uint32_t c = crc32(b.data(), b.size() - 4);
  for (int i = 0; i < 4; ++i) b[b.size() - 4 + i] = uint8_t(c >> (8 * i));
}

}  // namespace tabvec::testing
