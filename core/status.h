// Outcome of every fallible core operation. The core never throws: the WASM
// build uses -fno-exceptions and the TypeScript wrapper turns the code into a
// typed error carrying the message.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace tabvec {

enum class Status : uint8_t {
  ok = 0,
  invalid_argument,     // an option or parameter is out of range
  dimension_mismatch,   // vector length differs from the index dimension
  non_finite_value,     // NaN or +/-Infinity in a vector component
  zero_vector,          // all-zero vector under the cosine metric
  duplicate_id,         // id already present (or repeated within one batch)
  unknown_id,           // id not present
  memory_cap_exceeded,  // the operation would reserve more than max_memory_bytes
  corrupt_snapshot,     // snapshot bytes fail validation
  unsupported_version,  // snapshot written by an incompatible format version
  out_of_memory,        // an allocation failed; the index is unchanged
};
constexpr int kStatusCount = int(Status::out_of_memory) + 1;

const char* status_name(Status s);

// Status plus a message that names the offending value. Empty message on success,
// so the success path allocates nothing.
struct [[nodiscard]] Result {
  Status status = Status::ok;
  std::string message;

  static Result success() { return {}; }
  static Result failure(Status s, std::string msg) { return {s, std::move(msg)}; }
  // No message: building one could itself need memory. The wrapper words it.
  static Result out_of_memory() { return {Status::out_of_memory, std::string()}; }
  bool ok() const { return status == Status::ok; }
};

}  // namespace tabvec
