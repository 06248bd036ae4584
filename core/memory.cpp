#include "memory.h"

#include <cstdlib>
#include <new>

namespace tabvec {

void* allocate(size_t bytes) noexcept {
#ifdef __EMSCRIPTEN__
  return std::malloc(bytes ? bytes : 1);
#else
  return ::operator new(bytes ? bytes : 1, std::nothrow);
#endif
}

void release(void* p) noexcept {
#ifdef __EMSCRIPTEN__
  std::free(p);
#else
  ::operator delete(p);
#endif
}

}  // namespace tabvec
