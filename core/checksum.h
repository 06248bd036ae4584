// The checksums a snapshot's trailer holds: CRC-32 in formats 1 and 2, the
// low 32 bits of XXH64 from format 3 on. They run over every byte of every
// snapshot loaded or saved; checksum.cpp is compiled for speed whatever the
// rest of the build is optimised for.
//
// CRC-32 is the zlib/PNG/Ethernet one (reflected, polynomial 0xEDB88320),
// eight bytes per step ("slicing-by-8": eight 256-entry tables, each giving a
// byte's contribution from 0..7 bytes further back). Without a carry-less
// multiply (WebAssembly has none) it costs a table lookup per byte: ~1.7 GB/s
// in V8, 33 ms of a 57 MB store, a third of opening it. Slicing-by-16 was no
// faster there. The 8 KiB of tables are built on first use, not at compile
// time: in the .wasm they would be 8 KiB of data every page downloads.
//
// XXH64 (Yann Collet's xxHash, 64-bit, seed 0) takes eight bytes per
// multiply-rotate-multiply in four independent lanes: ~7 GB/s in V8, 7 ms of
// the same store, and no tables. Its low 32 bits keep the trailer four bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tabvec {

// The running form: start from kCrc32Start, feed bytes with crc32_update, and
// the checksum is ~state (crc32() does all three).
constexpr uint32_t kCrc32Start = 0xFFFFFFFFu;
uint32_t crc32_update(uint32_t state, const uint8_t* p, size_t n);
inline uint32_t crc32(const uint8_t* p, size_t n) { return ~crc32_update(kCrc32Start, p, n); }

// XXH64 fed in pieces of any size. Plain data: a zero-filled Xxh64 is the
// start state, so it can live in memory the caller allocated (the JS side
// keeps one in the WebAssembly heap to re-check a snapshot it copied out).
struct Xxh64 {
  uint64_t lanes[4];
  uint64_t total;       // bytes fed
  uint8_t pending[32];  // a stripe not yet whole
  uint32_t pending_bytes;
  uint32_t started;     // lanes hold the seeded start values

  void update(const uint8_t* p, size_t n);
  uint64_t digest() const;

 private:
  void stripes(const uint8_t* p, size_t n);
};

inline uint64_t xxh64(const uint8_t* p, size_t n) {
  Xxh64 h{};
  h.update(p, n);
  return h.digest();
}

}  // namespace tabvec
