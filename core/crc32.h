// CRC-32 as zlib, PNG and Ethernet define it (reflected, polynomial
// 0xEDB88320), computed sixteen bytes per step ("slicing-by-16": sixteen
// 256-entry tables, each giving a byte's contribution from 0..15 bytes
// further back, so one step is sixteen independent lookups instead of a
// chain of sixteen). The 16 KiB of tables are built on first use, not at
// compile time: in the .wasm they would be 16 KiB of data every page downloads.
//
// A snapshot is checksummed whole on every load and save, so this is the
// bulk of opening one; byte-at-a-time CRC ran at ~300 MB/s in WebAssembly.
// Header-only, so it needs no build-file change.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tabvec {

// The running form: start from kCrc32Start, feed bytes with crc32_update, and
// the checksum is ~state (crc32() does all three).
constexpr uint32_t kCrc32Start = 0xFFFFFFFFu;

namespace crc32_detail {

using Tables = std::array<std::array<uint32_t, 256>, 16>;

inline Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t s = 1; s < 16; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

inline const Tables& tables() {
  static const Tables built = make_tables();
  return built;
}

// Little-endian regardless of the host (compilers turn this into one load).
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace crc32_detail

inline uint32_t crc32_update(uint32_t c, const uint8_t* p, size_t n) {
  const auto& t = crc32_detail::tables();
  using crc32_detail::load_le32;
  for (; n >= 16; n -= 16, p += 16) {
    const uint32_t a = load_le32(p) ^ c, b = load_le32(p + 4), d = load_le32(p + 8), e = load_le32(p + 12);
    c = t[15][a & 0xFF] ^ t[14][(a >> 8) & 0xFF] ^ t[13][(a >> 16) & 0xFF] ^ t[12][a >> 24] ^  //
        t[11][b & 0xFF] ^ t[10][(b >> 8) & 0xFF] ^ t[9][(b >> 16) & 0xFF] ^ t[8][b >> 24] ^    //
        t[7][d & 0xFF] ^ t[6][(d >> 8) & 0xFF] ^ t[5][(d >> 16) & 0xFF] ^ t[4][d >> 24] ^      //
        t[3][e & 0xFF] ^ t[2][(e >> 8) & 0xFF] ^ t[1][(e >> 16) & 0xFF] ^ t[0][e >> 24];
  }
  for (; n > 0; --n) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c;
}

inline uint32_t crc32(const uint8_t* p, size_t n) { return ~crc32_update(kCrc32Start, p, n); }

}  // namespace tabvec
