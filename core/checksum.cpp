#include "checksum.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace tabvec {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

const Tables& tables() {
  static const Tables built = make_tables();
  return built;
}

// Little-endian regardless of the host (compilers turn this into one load).
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// The same for eight bytes.
inline uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }

constexpr uint64_t kP1 = 0x9E3779B185EBCA87u, kP2 = 0xC2B2AE3D27D4EB4Fu, kP3 = 0x165667B19E3779F9u,
                   kP4 = 0x85EBCA77C2B2AE63u, kP5 = 0x27D4EB2F165667C5u;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t xxh_round(uint64_t lane, uint64_t input) { return rotl(lane + input * kP2, 31) * kP1; }
inline uint64_t xxh_merge(uint64_t h, uint64_t lane) { return (h ^ xxh_round(0, lane)) * kP1 + kP4; }

}  // namespace

// Whole 32-byte stripes, one lane per 8 bytes.
[[gnu::noinline]] void Xxh64::stripes(const uint8_t* p, size_t n) {
  uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
  for (; n >= 32; n -= 32, p += 32) {
    a = xxh_round(a, load_le64(p)), b = xxh_round(b, load_le64(p + 8));
    c = xxh_round(c, load_le64(p + 16)), d = xxh_round(d, load_le64(p + 24));
  }
  lanes[0] = a, lanes[1] = b, lanes[2] = c, lanes[3] = d;
}

void Xxh64::update(const uint8_t* p, size_t n) {
  if (!started) {
    lanes[0] = kP1 + kP2, lanes[1] = kP2, lanes[2] = 0, lanes[3] = 0 - kP1;
    started = 1;
  }
  total += n;
  if (pending_bytes > 0) {
    const size_t fill = std::min<size_t>(n, 32 - pending_bytes);
    std::memcpy(pending + pending_bytes, p, fill);
    p += fill, n -= fill, pending_bytes += uint32_t(fill);
    if (pending_bytes < 32) return;
    stripes(pending, 32);
    pending_bytes = 0;
  }
  const size_t whole = n & ~size_t(31);
  stripes(p, whole);
  std::memcpy(pending, p + whole, n - whole);
  pending_bytes = uint32_t(n - whole);
}

uint64_t Xxh64::digest() const {
  uint64_t h;
  if (total >= 32) {
    h = rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18);
    for (uint64_t lane : lanes) h = xxh_merge(h, lane);
  } else {
    h = kP5;
  }
  h += total;
  const uint8_t* p = pending;
  size_t n = pending_bytes;
  for (; n >= 8; n -= 8, p += 8) h = rotl(h ^ xxh_round(0, load_le64(p)), 27) * kP1 + kP4;
  if (n >= 4) h = rotl(h ^ uint64_t(load_le32(p)) * kP1, 23) * kP2 + kP3, p += 4, n -= 4;
  for (; n > 0; --n, ++p) h = rotl(h ^ *p * kP5, 11) * kP1;
  h ^= h >> 33, h *= kP2;
  h ^= h >> 29, h *= kP3;
  return h ^ (h >> 32);
}

uint32_t crc32_update(uint32_t c, const uint8_t* p, size_t n) {
  const auto& t = tables();
  for (; n >= 8; n -= 8, p += 8) {
    const uint32_t a = load_le32(p) ^ c, b = load_le32(p + 4);
    c = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^  //
        t[3][b & 0xFF] ^ t[2][(b >> 8) & 0xFF] ^ t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24];
  }
  for (; n > 0; --n) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c;
}

}  // namespace tabvec
