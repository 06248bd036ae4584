// Where the core gets its memory, and the growable array it uses for scratch.
//
// Every allocation the core makes can fail softly: allocate() returns null
// instead of aborting, and each operation reserves what it needs before it
// changes anything (see Index), so running out of memory is
// Status::out_of_memory with the index exactly as it was.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tabvec {

// Null when the memory cannot be had. Native builds go through the nothrow
// operator new, which the fault-injection tests replace to fail the N-th
// allocation; Emscripten's aborts under -fno-exceptions, so WASM calls malloc.
void* allocate(size_t bytes) noexcept;
void release(void* p) noexcept;

// A growable array of trivially copyable T whose growth is fallible:
// reserve() and the try_ functions return false when memory runs out and
// leave the array as it was. Everything else needs the capacity reserved.
template <typename T>
class PodVector {
  static_assert(std::is_trivially_copyable<T>::value, "PodVector holds plain records");

 public:
  PodVector() = default;
  PodVector(const PodVector&) = delete;
  PodVector& operator=(const PodVector&) = delete;
  PodVector(PodVector&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  PodVector& operator=(PodVector&& o) noexcept {
    if (this != &o) {
      release(data_);
      data_ = o.data_;
      size_ = o.size_;
      capacity_ = o.capacity_;
      o.data_ = nullptr;
      o.size_ = o.capacity_ = 0;
    }
    return *this;
  }
  ~PodVector() { release(data_); }

  [[nodiscard]] bool reserve(size_t n) {
    if (n <= capacity_) return true;
    if (n > SIZE_MAX / sizeof(T)) return false;
    T* grown = static_cast<T*>(allocate(n * sizeof(T)));
    if (!grown) return false;
    if (size_) std::memcpy(static_cast<void*>(grown), data_, size_ * sizeof(T));
    release(data_);
    data_ = grown;
    capacity_ = n;
    return true;
  }
  // Room for `more` elements beyond size(), growing by at least half so that
  // repeated calls stay amortised O(1).
  [[nodiscard]] bool reserve_more(size_t more) {
    if (size_ + more <= capacity_) return true;
    const size_t grown = capacity_ + capacity_ / 2;
    return reserve(size_ + more > grown ? size_ + more : grown);
  }
  [[nodiscard]] bool try_push_back(const T& v) {
    if (!reserve_more(1)) return false;
    data_[size_++] = v;
    return true;
  }
  [[nodiscard]] bool try_resize(size_t n) {
    if (!reserve(n)) return false;
    resize(n);
    return true;
  }
  [[nodiscard]] bool try_assign(const T* from, size_t n) {
    if (!reserve(n)) return false;
    if (n) std::memcpy(static_cast<void*>(data_), from, n * sizeof(T));
    size_ = n;
    return true;
  }

  // Within the reserved capacity.
  void push_back(const T& v) {
    assert(size_ < capacity_);
    data_[size_++] = v;
  }
  void append(const T* from, size_t n) {
    assert(n <= capacity_ - size_);
    if (n) std::memcpy(static_cast<void*>(data_ + size_), from, n * sizeof(T));
    size_ += n;
  }
  void resize(size_t n) {
    assert(n <= capacity_);
    if (n > size_) std::memset(static_cast<void*>(data_ + size_), 0, (n - size_) * sizeof(T));
    size_ = n;
  }
  void insert(size_t at, const T& v) {  // at <= size()
    assert(size_ < capacity_);
    std::memmove(static_cast<void*>(data_ + at + 1), data_ + at, (size_ - at) * sizeof(T));
    data_[at] = v;
    ++size_;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }
  // Frees the memory too.
  void reset() {
    release(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T& front() { return data_[0]; }
  const T& front() const { return data_[0]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace tabvec
