// Allocation-failure injection for the fault-test binaries: replaces the
// global operator new so that, once armed, the allocation `countdown` from
// now and every later one fail, and counts the bytes live at any moment.
// Include it in exactly one file of a binary (it defines the operators).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

// The replacements pair malloc with free; GCC cannot see that and warns. It
// also warns, where it inlines delete on an object it knows, that reading the
// size in front of the block is out of that object's bounds: the block is
// this allocator's, whose header is there.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Warray-bounds"

namespace {

struct Injection {
  bool armed = false;
  long countdown = 0;  // allocations that still succeed
  bool failed = false;
};
Injection injection;

bool fail_this_allocation() {
  if (!injection.armed) return false;
  if (injection.countdown > 0) {
    --injection.countdown;
    return false;
  }
  injection.failed = true;
  return true;
}

// Every block carries its size in front, so the bytes live at any moment are
// known exactly (for memory accounting tests).
size_t live_bytes = 0;
constexpr size_t kHeader = 16;

void* counted_malloc(size_t bytes) {
  auto* p = static_cast<uint8_t*>(std::malloc(kHeader + bytes));
  if (!p) return nullptr;
  std::memcpy(p, &bytes, sizeof bytes);
  live_bytes += bytes;
  return p + kHeader;
}

}  // namespace

void* operator new(size_t bytes) {
  void* p = fail_this_allocation() ? nullptr : counted_malloc(bytes);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t bytes) { return operator new(bytes); }
void* operator new(size_t bytes, const std::nothrow_t&) noexcept {
  return fail_this_allocation() ? nullptr : counted_malloc(bytes);
}
void* operator new[](size_t bytes, const std::nothrow_t& tag) noexcept { return operator new(bytes, tag); }
void operator delete(void* p) noexcept {
  if (!p) return;
  uint8_t* block = static_cast<uint8_t*>(p) - kHeader;
  size_t bytes;
  std::memcpy(&bytes, block, sizeof bytes);
  live_bytes -= bytes;
  std::free(block);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete[](p); }
