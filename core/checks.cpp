// What the index refuses, and how it says so: options, vectors, ids,
// metadata and batches are checked here before anything changes. Runs once
// per call, not per distance: compiled for size.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "checksum.h"
#include "index.h"
#include "text.h"

namespace tabvec {

namespace {

std::string describe_float(float v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "Infinity" : "-Infinity";
}

// A number for a message, to three decimals. Not std::to_string(float): its
// printf would add ~3 KB gzip to the module for one message.
std::string describe_number(float v) {
  if (!std::isfinite(v)) return describe_float(v);
  if (std::fabs(v) >= 1e9f) return v > 0 ? "more than 1e9" : "less than -1e9";
  const long long thousandths = std::llround(double(v) * 1000);
  const long long frac = std::llabs(thousandths % 1000);
  std::string s = (thousandths < 0 ? "-" : "") + std::to_string(std::llabs(thousandths / 1000)) + ".";
  for (long long unit : {100, 10, 1}) s += char('0' + frac / unit % 10);
  return s;
}

// An option's value and the range it must lie in.
struct RangeCheck {
  const char* name;
  uint32_t value, lo, hi;
};

// One message for every option out of range: "name must be lo..hi, got value".
Result check_ranges(const RangeCheck* checks, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const RangeCheck& c = checks[i];
    if (c.value < c.lo || c.value > c.hi)
      return Result::failure(Status::invalid_argument, std::string(c.name) + " must be " + std::to_string(c.lo) + ".." +
                                                           std::to_string(c.hi) + ", got " + std::to_string(c.value));
  }
  return Result::success();
}

}  // namespace

Result Index::create(const IndexOptions& o, std::unique_ptr<Index>* out) {
  const RangeCheck ranges[] = {{"dim", o.dim, 1, kMaxDim},
                               {"metric", uint32_t(o.metric), 0, kMetricCount - 1},
                               {"storage", uint32_t(o.storage), 0, kStorageCount - 1},
                               {"rerank", uint32_t(o.rerank), 0, kRerankCount - 1},
                               {"maxDegree", o.max_degree, 2, kMaxDegree},
                               {"buildListSize", o.build_list_size, 1, kMaxListSize},
                               {"searchListSize", o.search_list_size, 1, kMaxListSize},
                               {"maxBuffer", o.max_buffer, 1, kMaxBuffer}};
  if (Result r = check_ranges(ranges, std::size(ranges)); !r.ok()) return r;
  if (o.rerank != Rerank::none && o.storage != Storage::int8)
    return Result::failure(Status::invalid_argument, "rerank needs int8 storage (float32 storage is exact already)");
  if (!(o.alpha >= 1.0f && o.alpha <= 4.0f))
    return Result::failure(Status::invalid_argument, "alpha must be in [1, 4], got " + describe_number(o.alpha));
  out->reset(new (std::nothrow) Index(o));
  return *out ? Result::success() : Result::out_of_memory();
}

Result Index::check_search(const SearchParams& params) {
  const RangeCheck ranges[] = {{"k", params.k, 1, kMaxListSize},
                               {"listSize", params.list_size, 0, kMaxListSize},
                               {"rerankFactor", params.rerank_factor, 1, kMaxRerankFactor}};
  return check_ranges(ranges, std::size(ranges));
}

// --- validation ---------------------------------------------------------------

Result Index::check_vector(const float* v, size_t len, const char* what) const {
  if (len != options_.dim) {
    return Result::failure(Status::dimension_mismatch, std::string(what) + " has " + std::to_string(len) +
                                                           " components, the index dimension is " +
                                                           std::to_string(options_.dim));
  }
  double norm = 0;
  for (size_t i = 0; i < len; ++i) {
    if (!std::isfinite(v[i])) {
      return Result::failure(Status::non_finite_value, std::string(what) + " component " + std::to_string(i) +
                                                           " is " + describe_float(v[i]));
    }
    norm += double(v[i]) * v[i];
  }
  if (norm > kMaxSquaredNorm) {
    return Result::failure(Status::non_finite_value,
                           std::string(what) + " is too long: its distances would overflow float");
  }
  if (options_.metric == Metric::cosine && !(norm > 0)) {
    return Result::failure(Status::zero_vector, std::string(what) + " has zero length, which has no cosine direction");
  }
  return Result::success();
}

// A float16 tier holds components up to kMaxFloat16; under cosine it keeps
// unit vectors, which always fit.
Result Index::check_float16_range(const float* v) const {
  if (options_.rerank != Rerank::float16 || options_.metric == Metric::cosine) return Result::success();
  for (uint32_t i = 0; i < options_.dim; ++i) {
    if (std::fabs(v[i]) > kMaxFloat16)
      return Result::failure(Status::invalid_argument, "vector component " + std::to_string(i) +
                                                           " is beyond the +-65504 that rerank 'float16' keeps");
  }
  return Result::success();
}

Result Index::check_id(std::string_view id) {
  if (id.empty()) return Result::failure(Status::invalid_argument, "id must not be empty");
  if (id.size() > kMaxIdBytes)
    return Result::failure(Status::invalid_argument, "id is " + std::to_string(id.size()) + " bytes, the limit is 65535");
  if (!valid_utf8(id)) return Result::failure(Status::invalid_argument, "id is not valid UTF-8");
  return Result::success();
}

// Empty metadata means none.
Result Index::check_metadata(std::string_view m) {
  if (m.size() > kMaxMetadataBytes)
    return Result::failure(Status::invalid_argument, "metadata is " + std::to_string(m.size()) +
                                                         " bytes, the limit is " + std::to_string(kMaxMetadataBytes));
  if (m.empty()) return Result::success();
  switch (check_json(m)) {
    case JsonCheck::valid: return Result::success();
    case JsonCheck::out_of_memory: return Result::out_of_memory();
    case JsonCheck::invalid: break;
  }
  return Result::failure(Status::invalid_argument, "metadata is not JSON text");
}

// Validates a batch of new vectors: sizes, values, ids (absent, or equal to
// the slot being replaced, and distinct) and metadata. Also returns the range
// of the (prepared) values, for fitting the quantizer.
Result Index::check_batch(size_t n, const std::string_view* ids, const float* vectors, size_t len,
                          const std::string_view* metadata, uint32_t replacing, QuantizerRange* range) {
  if (len != n * options_.dim) {
    return Result::failure(Status::dimension_mismatch,
                           std::to_string(n) + " vectors need " + std::to_string(n * options_.dim) +
                               " components at dimension " + std::to_string(options_.dim) + ", got " +
                               std::to_string(len));
  }
  if (live_count_ + n > kMaxSlots) return Result::failure(Status::invalid_argument, "too many vectors");
  if (stores_rows() && uint64_t(next_row_) + rows_needed(n) >= kNoRow)
    return Result::failure(Status::invalid_argument, "the storage tier has no row numbers left");
  for (size_t i = 0; i < n; ++i) {
    Result r = check_id(ids[i]);
    if (r.ok()) r = check_vector(vectors + i * options_.dim, options_.dim, "vector");
    if (r.ok()) r = check_float16_range(vectors + i * options_.dim);
    if (r.ok() && metadata) r = check_metadata(metadata[i]);
    if (!r.ok()) {
      if (n > 1) r.message = "item " + std::to_string(i) + ": " + r.message;
      return r;
    }
    const uint32_t slot = ids_.find(ids[i]);
    if (slot != kNoSlot && slot != replacing)
      return Result::failure(Status::duplicate_id, "id '" + std::string(ids[i]) + "' already exists");
    if (options_.storage == Storage::int8) extend_range_prepared(*range, vectors + i * options_.dim);
  }
  if (n > 1) {
    // Repeated ids within the batch: sort (hash, index) pairs, then compare
    // only the ids whose hashes are equal. Plain integers sort with a small
    // instantiation of std::sort, where comparing ids inside it cost 5 KB.
    // XXH64, not the id map's FNV-1a: ids made to collide under FNV (easy)
    // would make the comparisons quadratic.
    PodVector<uint64_t> keys;
    if (!keys.reserve(n)) return Result::out_of_memory();
    for (size_t i = 0; i < n; ++i) {
      const uint32_t hash = uint32_t(xxh64(reinterpret_cast<const uint8_t*>(ids[i].data()), ids[i].size()));
      keys.push_back(uint64_t(hash) << 32 | i);
    }
    std::sort(keys.begin(), keys.end());
    for (size_t i = 1; i < n; ++i) {
      for (size_t j = i; j-- > 0 && keys[j] >> 32 == keys[i] >> 32;) {
        const std::string_view id = ids[uint32_t(keys[i])];
        if (id == ids[uint32_t(keys[j])])
          return Result::failure(Status::duplicate_id, "id '" + std::string(id) + "' appears twice in the batch");
      }
    }
  }
  return Result::success();
}

}  // namespace tabvec
