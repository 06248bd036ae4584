// CRC-32 as zlib, PNG and Ethernet define it (reflected, polynomial
// 0xEDB88320), computed sixteen bytes per step ("slicing-by-16": sixteen
// 256-entry tables, each giving a byte's contribution from 0..15 bytes
// further back, so one step is sixteen independent lookups instead of a
// chain of sixteen). The 16 KiB of tables are built on first use, not at
// compile time: in the .wasm they would be 16 KiB of data every page downloads.
//
// A snapshot is checksummed whole on every load and save, so this is the
// bulk of opening one; byte-at-a-time CRC ran at ~300 MB/s in WebAssembly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tabvec {

// The running form: start from kCrc32Start, feed bytes with crc32_update, and
// the checksum is ~state (crc32() does all three).
constexpr uint32_t kCrc32Start = 0xFFFFFFFFu;

// Feeds n bytes into a running state (crc32.cpp, compiled for speed whatever
// the rest of the build is optimised for: it runs over every snapshot byte).
uint32_t crc32_update(uint32_t state, const uint8_t* p, size_t n);

inline uint32_t crc32(const uint8_t* p, size_t n) { return ~crc32_update(kCrc32Start, p, n); }

}  // namespace tabvec
