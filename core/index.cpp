#include "index.h"

#include "checksum.h"
#include "text.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace tabvec {

namespace {

constexpr size_t kMinBuffer = 16;      // also the sample the quantizer is first trained on

}  // namespace

size_t MemoryStats::total_used() const {
  return vectors.used + rerank.used + graph.used + ids.used + metadata.used + buffer.used + other.used;
}
size_t MemoryStats::total_reserved() const {
  return vectors.reserved + rerank.reserved + graph.reserved + ids.reserved + metadata.reserved + buffer.reserved +
         other.reserved;
}


Index::Index(const IndexOptions& o)
    : options_(o),
      kernels_(select_kernels(o.metric)),
      vector_bytes_per_slot_(o.storage == Storage::int8 ? o.dim : o.dim * 4),
      query_fineness_(query_fineness(o.dim)),
      vectors_(vector_bytes_per_slot_),
      exact_(o.rerank == Rerank::float16 ? o.dim * 2 : o.rerank == Rerank::storage ? 4 : o.dim * 4),  // exact_bytes_per_slot(), or unused
      graph_(o.max_degree) {}

Result Index::check_memory(uint64_t extra_bytes) const {
  if (options_.max_memory_bytes == 0) return Result::success();
  const uint64_t reserved = memory().total_reserved();
  if (reserved + extra_bytes > options_.max_memory_bytes) {
    return Result::failure(Status::memory_cap_exceeded,
                           "this needs up to " + std::to_string(extra_bytes) + " more bytes; " +
                               std::to_string(reserved) + " are reserved and the cap is " +
                               std::to_string(options_.max_memory_bytes));
  }
  return Result::success();
}

// In 64 bits: in WASM size_t is 32 bits, and a batch's worst case can pass 4 GiB.
uint64_t Index::bytes_to_add(size_t count, size_t id_bytes, size_t metadata_bytes) const {
  const size_t reuse = std::min(count, free_slots_.size());
  const size_t slots = slot_count_ + (count - reuse);
  // The id map: one `next` and at most one bucket per id, plus their handles.
  const uint64_t per_id_arrays = uint64_t(ChunkedArray<uint32_t>().bytes_to_grow(count)) * 3 + 3 * 4096;
  uint64_t bytes = uint64_t(vectors_.bytes_to_grow(slots)) + (scales_codes() ? code_scales_.bytes_to_grow(slots) : 0) +
                   (reranks() ? exact_.bytes_to_grow(slots) : 0) +
                   graph_.bytes_to_grow(slots) +
                   state_.bytes_to_grow(slots) + ChunkedArray<uint16_t>().bytes_to_grow(slots) +
                   ByteArena().bytes_to_append(id_bytes, count) + per_id_arrays +
                   unlinked_.bytes_to_grow(unlinked_.size() + count);
  if (metadata_bytes > 0)
    bytes += ByteArena().bytes_to_append(metadata_bytes, count) + ChunkedArray<uint32_t>().bytes_to_grow(slots);
  // Staged floats, while the quantizer waits for kMinBuffer vectors to train on.
  if (stages(count)) bytes += uint64_t(kMinBuffer) * (uint64_t(options_.dim) * 4 + 4);
  return bytes;
}

// Whether n new vectors will be staged as floats: the quantizer is untrained
// and, with them, still has too few vectors to train on.
bool Index::stages(size_t n) const {
  return options_.storage == Storage::int8 && !quantizer_.trained() && staged_slots_.size() + n < kMinBuffer;
}

// Everything a batch of n new vectors needs, before any of them is stored:
// then storing them (commit_batch) cannot fail halfway.
bool Index::reserve_for_add(size_t n, const std::string_view* ids, const std::string_view* metadata) {
  const size_t slots = slot_count_ + (n - std::min(n, free_slots_.size()));
  const size_t dim = options_.dim;
  const bool staging = stages(n);
  // Training may move every staged vector into the buffer list.
  const size_t buffered = unlinked_.size() + staged_slots_.size() + n;
  return vectors_.reserve(slots) && (!scales_codes() || code_scales_.reserve(slots)) &&
         (!reranks() || exact_.reserve(slots)) && state_.reserve(slots) &&
         ids_.reserve(slots, ids, n) &&
         (!metadata || metadata_.reserve(slots, metadata, n)) && unlinked_.reserve(buffered) &&
         (!staging || (staged_vectors_.reserve((staged_slots_.size() + n) * dim) &&
                       staged_slots_.reserve(staged_slots_.size() + n))) &&
         normalized_.reserve(dim) && decoded_.reserve(dim);
}

// --- vectors and the quantizer -----------------------------------------------

// In double: for a tiny vector 1 / length overflows float.
static double inverse_length(const float* v, uint32_t dim) {
  double norm = 0;
  for (uint32_t i = 0; i < dim; ++i) norm += double(v[i]) * v[i];
  return 1.0 / std::sqrt(norm);
}

// normalized_ must have room for dim floats.
const float* Index::prepared(const float* v) {
  if (options_.metric != Metric::cosine) return v;
  normalized_.resize(options_.dim);
  const double inv = inverse_length(v, options_.dim);
  for (uint32_t i = 0; i < options_.dim; ++i) normalized_[i] = float(v[i] * inv);
  return normalized_.data();
}

void Index::extend_range_prepared(QuantizerRange& r, const float* v) const {
  if (options_.metric != Metric::cosine) {
    extend_range(r, v, options_.dim);
    return;
  }
  const double inv = inverse_length(v, options_.dim);
  for (uint32_t i = 0; i < options_.dim; ++i) {
    const float x = float(v[i] * inv);
    r.lo = std::min(r.lo, x);
    r.hi = std::max(r.hi, x);
  }
}

void Index::store_vector(uint32_t slot, const float* v, uint8_t** rows) {
  if (options_.storage == Storage::int8) {
    int8_t* code = reinterpret_cast<int8_t*>(vectors_.at(slot));
    quantizer_.encode(v, options_.dim, code);
    if (scales_codes()) code_scales_.set(slot, code_scale(code));
  } else {
    std::memcpy(vectors_.at(slot), v, size_t(options_.dim) * 4);
  }
  if (!reranks()) return;
  uint8_t* exact = exact_.at(slot);
  if (stores_rows()) {
    const uint32_t row = next_row_++;
    std::memcpy(exact, &row, 4);
    uint8_t* out = *rows;
    std::memcpy(out, v, size_t(options_.dim) * 4);
    const uint64_t tag = row_tag(slot, out);
    std::memcpy(out + size_t(options_.dim) * 4, &tag, kRowTagBytes);
    *rows = out + row_bytes();
  } else if (options_.rerank == Rerank::float16) {
    encode_float16(v, options_.dim, reinterpret_cast<uint16_t*>(exact));
  } else {
    std::memcpy(exact, v, size_t(options_.dim) * 4);
  }
}


// Trains the quantizer once enough vectors exist (staged ones plus the
// incoming range), and widens it when incoming data falls outside it. Widening
// re-encodes every stored code from its decoded value; the 10% headroom makes
// that rare.
void Index::fit_quantizer(QuantizerRange incoming, size_t incoming_count, uint8_t** rows) {
  if (options_.storage != Storage::int8) return;
  if (!quantizer_.trained()) {
    if (stages(incoming_count)) return;
    for (size_t i = 0; i < staged_slots_.size(); ++i)
      extend_range(incoming, &staged_vectors_[i * options_.dim], options_.dim);
    quantizer_.train(options_.metric, incoming);
    encode_staged(rows);
    return;
  }
  const QuantizerRange current = quantizer_.range();
  if (incoming.empty() || (incoming.lo >= current.lo && incoming.hi <= current.hi)) return;
  // Retrain on the values actually stored (the extreme codes) plus the new
  // ones, not on the current range: that range already includes headroom, and
  // adding headroom to it again on every drift would widen the step (and lose
  // precision) geometrically.
  int8_t lowest = ScalarQuantizer::kMaxCode, highest = -ScalarQuantizer::kMaxCode;
  bool any = false;
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (!holds_stored_vector(s)) continue;
    const int8_t* code = reinterpret_cast<const int8_t*>(vectors_.at(s));
    for (uint32_t i = 0; i < options_.dim; ++i) {
      lowest = std::min(lowest, code[i]);
      highest = std::max(highest, code[i]);
    }
    any = true;
  }
  QuantizerRange wanted = incoming;
  if (any) {
    const float stored[2] = {quantizer_.offset() + quantizer_.step() * lowest,
                             quantizer_.offset() + quantizer_.step() * highest};
    extend_range(wanted, stored, 2);
  }
  const ScalarQuantizer old = quantizer_;
  quantizer_.train(options_.metric, wanted);
  decoded_.resize(options_.dim);  // reserved by reserve_for_add
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (!holds_stored_vector(s)) continue;
    int8_t* code = reinterpret_cast<int8_t*>(vectors_.at(s));
    old.decode(code, options_.dim, decoded_.data());
    quantizer_.encode(decoded_.data(), options_.dim, code);
    if (scales_codes()) code_scales_.set(s, code_scale(code));
  }
}

void Index::encode_staged(uint8_t** rows) {
  for (size_t i = 0; i < staged_slots_.size(); ++i) {
    const uint32_t slot = staged_slots_[i];
    store_vector(slot, &staged_vectors_[i * options_.dim], rows);
    set_state(slot, SlotState::unlinked);
    unlinked_.push_back(slot);
  }
  staged_slots_.clear();
  staged_vectors_.clear();
}

// --- adding and removing -------------------------------------------------------

size_t Index::buffer_capacity() const {
  const size_t grown = std::max(kMinBuffer, live_count_ / 32);
  return std::min<size_t>(grown, options_.max_buffer);
}

bool Index::link_due() const { return staged_slots_.size() + unlinked_.size() >= buffer_capacity(); }

uint32_t Index::allocate_slot() {
  if (free_slots_.size() > 0) return free_slots_.pop_back();
  const uint32_t slot = uint32_t(slot_count_++);
  vectors_.resize(slot_count_);
  if (scales_codes()) code_scales_.resize(slot_count_);
  if (reranks()) exact_.resize(slot_count_);
  state_.resize(slot_count_);
  return slot;
}

void Index::insert_unlinked(std::string_view id, const float* v, std::string_view metadata, uint8_t** rows) {
  const uint32_t slot = allocate_slot();
  ids_.insert(id, slot);
  if (!metadata.empty()) metadata_.set(slot, metadata);
  if (options_.storage == Storage::int8 && !quantizer_.trained()) {
    const size_t at = staged_vectors_.size();
    staged_vectors_.resize(at + options_.dim);
    std::copy_n(v, options_.dim, &staged_vectors_[at]);
    staged_slots_.push_back(slot);
    set_state(slot, SlotState::staged);
  } else {
    store_vector(slot, v, rows);
    set_state(slot, SlotState::unlinked);
    unlinked_.push_back(slot);
  }
  ++live_count_;
}

static Result rows_argument() {
  return Result::failure(Status::invalid_argument, "a storage tier's writes take room for their rows, and only they do");
}

Result Index::add(std::string_view id, const float* vector, size_t len, std::string_view metadata, uint8_t* rows) {
  return add_batch(1, &id, vector, len, metadata.empty() ? nullptr : &metadata, true, rows);
}

Result Index::check_write(std::string_view id, const float* vector, size_t len, std::string_view metadata, bool replace) {
  QuantizerRange range;
  return check_batch(1, &id, vector, len, metadata.empty() ? nullptr : &metadata, replace ? ids_.find(id) : kNoSlot,
                     &range);
}

void Index::commit_batch(size_t n, const std::string_view* ids, const float* vectors,
                         const std::string_view* metadata, const QuantizerRange& range, bool link_now, uint8_t* rows) {
  fit_quantizer(range, n, &rows);
  for (size_t i = 0; i < n; ++i) {
    insert_unlinked(ids[i], prepared(vectors + i * options_.dim), metadata ? metadata[i] : std::string_view(), &rows);
  }
  if (link_now && link_due()) link_pending();
}

Result Index::add_batch(size_t n, const std::string_view* ids, const float* vectors, size_t len,
                        const std::string_view* metadata, bool link_now, uint8_t* rows) {
  if (n == 0) return Result::success();
  if (stores_rows() != (rows != nullptr)) return rows_argument();
  QuantizerRange range;
  if (Result r = check_batch(n, ids, vectors, len, metadata, kNoSlot, &range); !r.ok()) return r;
  size_t id_bytes = 0, metadata_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    id_bytes += ids[i].size();
    if (metadata) metadata_bytes += metadata[i].size();
  }
  if (Result r = check_memory(bytes_to_add(n, id_bytes, metadata_bytes)); !r.ok()) return r;
  if (!reserve_for_add(n, ids, metadata)) return Result::out_of_memory();
  commit_batch(n, ids, vectors, metadata, range, link_now, rows);
  return Result::success();
}

// Everything is checked and reserved before the old record goes, so a failed
// upsert leaves it in place.
Result Index::upsert(std::string_view id, const float* vector, size_t len, std::string_view metadata, uint8_t* rows) {
  const uint32_t slot = ids_.find(id);
  if (slot == kNoSlot) return add(id, vector, len, metadata, rows);
  if (stores_rows() != (rows != nullptr)) return rows_argument();
  QuantizerRange range;
  const std::string_view* meta = metadata.empty() ? nullptr : &metadata;
  if (Result r = check_batch(1, &id, vector, len, meta, slot, &range); !r.ok()) return r;
  if (Result r = check_memory(bytes_to_add(1, id.size(), metadata.size())); !r.ok()) return r;
  if (!reserve_for_add(1, &id, meta) || !free_slots_.reserve(free_slots_.size() + 1)) return Result::out_of_memory();
  // `id` may point into the arena entry being removed; the arena keeps
  // released bytes until a compaction, which only consolidate() runs.
  remove_slot(slot);
  commit_batch(1, &id, vector, meta, range, true, rows);
  consolidate_if_due();
  return Result::success();
}

Result Index::remove(std::string_view id) {
  const uint32_t slot = ids_.find(id);
  if (slot == kNoSlot) return Result::failure(Status::unknown_id, "id '" + std::string(id) + "' does not exist");
  if (!free_slots_.reserve(free_slots_.size() + 1)) return Result::out_of_memory();
  remove_slot(slot);
  consolidate_if_due();
  return Result::success();
}

Result Index::reserve_removals(size_t n) {
  return free_slots_.reserve(free_slots_.size() + n) ? Result::success() : Result::out_of_memory();
}

// Tombstones slow every search that walks through them; repair once they are
// a quarter of the graph. Upkeep: without memory for it, it waits.
void Index::consolidate_if_due() {
  if (deleted_count_ >= 256 && deleted_count_ * 4 >= linked_count_) (void)consolidate();
}

// free_slots_ must have room for one more.
void Index::remove_slot(uint32_t slot) {
  ids_.erase_slot(slot);
  metadata_.erase(slot);
  --live_count_;
  switch (state(slot)) {
    case SlotState::staged: {
      const size_t i = size_t(std::find(staged_slots_.begin(), staged_slots_.end(), slot) - staged_slots_.begin());
      const size_t last = staged_slots_.size() - 1;
      std::copy_n(&staged_vectors_[last * options_.dim], options_.dim, &staged_vectors_[i * options_.dim]);
      staged_slots_[i] = staged_slots_[last];
      staged_slots_.pop_back();
      staged_vectors_.resize(last * options_.dim);
      free_slot(slot);
      break;
    }
    case SlotState::unlinked: {
      for (size_t i = 0; i < unlinked_.size(); ++i) {
        if (unlinked_.get(i) != slot) continue;
        unlinked_.set(i, unlinked_.get(unlinked_.size() - 1));
        unlinked_.pop_back();
        break;
      }
      free_slot(slot);
      break;
    }
    case SlotState::linked:
      set_state(slot, SlotState::deleted);
      ++deleted_count_;
      break;
    case SlotState::free:
    case SlotState::deleted:
      break;
  }
}

// The last slot is given back by shrinking the slot count, anything else
// joins the free list. So removing, newest first, what a failed batch added
// leaves the index as it was before the batch, byte for byte.
void Index::free_slot(uint32_t slot) {
  set_state(slot, SlotState::free);
  if (slot < graph_.size()) graph_.neighbors(slot).clear();
  if (slot + 1 != slot_count_) {
    free_slots_.push_back(slot);
    return;
  }
  // The chunks past the last slot go back too: a batch that failed and was
  // taken back (newest slot first) leaves as much memory as it found.
  slot_count_ = slot;
  vectors_.shrink_to(slot_count_);
  if (scales_codes()) code_scales_.shrink_to(slot_count_);
  if (reranks()) exact_.shrink_to(slot_count_);
  state_.shrink_to(slot_count_);
  graph_.shrink_to(slot_count_);
  round_.pass2_end = std::min(round_.pass2_end, slot_count_);
  round_.pass2_cursor = std::min(round_.pass2_cursor, round_.pass2_end);
}

Result Index::set_metadata(std::string_view id, std::string_view metadata) {
  const uint32_t slot = ids_.find(id);
  if (slot == kNoSlot) return Result::failure(Status::unknown_id, "id '" + std::string(id) + "' does not exist");
  if (Result r = check_metadata(metadata); !r.ok()) return r;
  if (metadata.empty()) {
    metadata_.erase(slot);
    return Result::success();
  }
  if (Result r = check_memory(metadata_.bytes_to_set(slot, metadata.size())); !r.ok()) return r;
  if (!metadata_.reserve(size_t(slot) + 1, &metadata, 1)) return Result::out_of_memory();
  metadata_.set(slot, metadata);
  return Result::success();
}

Result Index::get_vector(std::string_view id, float* out, size_t len) const {
  const uint32_t slot = ids_.find(id);
  if (slot == kNoSlot) return Result::failure(Status::unknown_id, "id '" + std::string(id) + "' does not exist");
  if (len != options_.dim)
    return Result::failure(Status::dimension_mismatch, "output has room for " + std::to_string(len) +
                                                           " components, the index dimension is " +
                                                           std::to_string(options_.dim));
  if (state(slot) == SlotState::staged) {
    const size_t i = size_t(std::find(staged_slots_.begin(), staged_slots_.end(), slot) - staged_slots_.begin());
    std::copy_n(&staged_vectors_[i * options_.dim], options_.dim, out);
  } else if (keeps_exact()) {
    const uint8_t* exact = exact_.at(slot);
    if (options_.rerank == Rerank::float16) decode_float16(reinterpret_cast<const uint16_t*>(exact), options_.dim, out);
    else std::memcpy(out, exact, size_t(options_.dim) * 4);
  } else if (options_.storage == Storage::int8) {
    quantizer_.decode(reinterpret_cast<const int8_t*>(vectors_.at(slot)), options_.dim, out);
  } else {
    std::memcpy(out, vectors_.at(slot), size_t(options_.dim) * 4);
  }
  return Result::success();
}

// --- distances -----------------------------------------------------------------

// L2 and inner product; cosine codes are scaled by their lengths instead (code_scales_).
float Index::code_distance(int32_t raw) const {
  const float scaled = quantizer_.step() * quantizer_.step() * float(raw);
  return options_.metric == Metric::l2 ? scaled : -scaled;
}

// decoded_ must have room for dim floats.
float Index::exact_distance(const float* v, uint32_t slot) {
  const uint8_t* exact = exact_.at(slot);
  const float* kept = reinterpret_cast<const float*>(exact);
  if (options_.rerank == Rerank::float16) {
    decoded_.resize(options_.dim);
    decode_float16(reinterpret_cast<const uint16_t*>(exact), options_.dim, decoded_.data());
    kept = decoded_.data();
  }
  return float_distance(options_.metric, kernels_.float_kernel(v, kept, options_.dim));
}

float Index::code_scale(const int8_t* code) const {
  const int32_t squared = kernels_.code_kernel(code, code, options_.dim);
  return squared > 0 ? float(1.0 / std::sqrt(double(squared))) : 0.0f;
}

// A search query (int16, query_fineness_ times finer than the codes) to an int8 code.
float Index::query_distance(const Query& q, const int8_t* code, uint32_t slot) const {
  switch (options_.metric) {
    case Metric::cosine:
      return 1.0f - float(kernels_.query_dot(code, q.fine, options_.dim)) * float(q.scale) * code_scales_.get(slot);
    case Metric::inner_product: return float(-q.scale * kernels_.query_dot(code, q.fine, options_.dim));
    case Metric::l2:
      // (step / k)^2 sum (fine - k code)^2, exact in integers before the scale.
      return float(q.scale * double(q.fine_norm + kernels_.query_l2(code, q.fine, options_.dim, query_fineness_)));
  }
  return 0.0f;
}

float Index::distance_to(const Query& q, uint32_t slot) const {
  if (options_.storage == Storage::int8) {
    const int8_t* code = reinterpret_cast<const int8_t*>(vectors_.at(slot));
    if (q.fine) return query_distance(q, code, slot);
    const int32_t raw = kernels_.code_kernel(q.code, code, options_.dim);
    if (scales_codes()) return 1.0f - float(raw) * float(q.scale) * code_scales_.get(slot);
    return code_distance(raw);
  }
  return float_distance(options_.metric,
                        kernels_.float_kernel(q.floats, reinterpret_cast<const float*>(vectors_.at(slot)), options_.dim));
}

float Index::slot_distance(uint32_t a, uint32_t b) const {
  if (options_.storage == Storage::int8) {
    const int32_t raw = kernels_.code_kernel(reinterpret_cast<const int8_t*>(vectors_.at(a)),
                                             reinterpret_cast<const int8_t*>(vectors_.at(b)), options_.dim);
    if (scales_codes()) return 1.0f - float(raw) * code_scales_.get(a) * code_scales_.get(b);
    return code_distance(raw);
  }
  return float_distance(options_.metric, kernels_.float_kernel(reinterpret_cast<const float*>(vectors_.at(a)),
                                                               reinterpret_cast<const float*>(vectors_.at(b)),
                                                               options_.dim));
}

Index::Query Index::query_for_slot(uint32_t slot) {
  if (options_.storage == Storage::int8)
    return {nullptr, reinterpret_cast<const int8_t*>(vectors_.at(slot)), nullptr,
            scales_codes() ? code_scales_.get(slot) : 0.0f, 0};
  return {reinterpret_cast<const float*>(vectors_.at(slot)), nullptr, nullptr, 0.0f, 0};
}

// query_fine_ must have room for dim components.
Index::Query Index::query_for_vector(const float* v) {
  if (options_.storage != Storage::int8 || !quantizer_.trained()) return {v, nullptr, nullptr, 0.0f, 0};
  query_fine_.resize(options_.dim);
  const int16_t* fine = query_fine_.data();
  const int64_t squared = quantizer_.encode_query(v, options_.dim, query_fineness_, query_fine_.data());
  const double step = quantizer_.step(), fine_step = step / query_fineness_;
  double scale = step * fine_step;
  if (options_.metric == Metric::cosine) scale = squared > 0 ? float(1.0 / std::sqrt(double(squared))) : 0.0f;
  if (options_.metric == Metric::l2) scale = fine_step * fine_step;
  return {v, nullptr, fine, scale, squared};
}

// --- search --------------------------------------------------------------------

// results_ is a max-heap of the k closest accepted so far (its front the farthest).
void Index::offer_result(uint32_t slot, float distance, const SearchParams& params) {
  if (state(slot) == SlotState::deleted) return;
  const Neighbor n{slot, distance};
  if (results_.size() == params.k && !closer(n, results_.front())) return;
  if (params.filter.accept && !params.filter.accept(params.filter.context, slot)) return;
  results_.push_back(n);
  std::push_heap(results_.begin(), results_.end(), closer);
  if (results_.size() > params.k) {
    std::pop_heap(results_.begin(), results_.end(), closer);
    results_.pop_back();
  }
}

Result Index::search(const float* query, size_t len, const SearchParams& params, SearchHits* out) {
  out->clear();
  if (Result r = check_vector(query, len, "query"); !r.ok()) return r;
  if (Result r = check_search(params); !r.ok()) return r;
  const uint32_t list_size = std::max(params.k, params.list_size ? params.list_size : options_.search_list_size);
  // With a tier, a small store is scanned exactly; a larger one is walked on
  // the codes, keeping the best rerank_factor x k candidates to score again.
  // A storage tier's candidates go back to the caller, who reads their rows
  // for rescore(): when scanning, all of them.
  const bool exact_scan = reranks() && slot_count_ <= kExactScanSlots;
  const bool rescore_here = keeps_exact() && !exact_scan;
  SearchParams kept = params;
  if (reranks() && !exact_scan) kept.k = std::min(kMaxListSize, params.k * params.rerank_factor);
  if (stores_rows() && exact_scan) kept.k = std::max(params.k, uint32_t(slot_count_));
  const uint32_t returned = stores_rows() ? kept.k : params.k;
  if (!normalized_.reserve(options_.dim) || !query_fine_.reserve(options_.dim) || !decoded_.reserve(options_.dim) ||
      !results_.reserve(size_t(kept.k) + 1) || !out->reserve(returned) ||
      (entry_point_ != kNoSlot && !exact_scan && !reserve_walk(list_size)))
    return Result::out_of_memory();
  const float* v = prepared(query);
  const Query q = query_for_vector(v);

  results_.clear();
  if (exact_scan) {
    search_exhaustive(q, kept, keeps_exact());
  } else {
    if (entry_point_ != kNoSlot) greedy_search(q, list_size, nullptr, &kept);
    for (size_t i = 0; i < unlinked_.size(); ++i) offer_result(unlinked_.get(i), distance_to(q, unlinked_.get(i)), kept);
    for (size_t i = 0; i < staged_slots_.size(); ++i) {
      const float raw = kernels_.float_kernel(v, &staged_vectors_[i * options_.dim], options_.dim);
      offer_result(staged_slots_[i], float_distance(options_.metric, raw), kept);
    }
    // A selective filter can leave the beam with too few accepted nodes, and
    // a walk can miss nodes it cannot reach (a graph of a few nodes that lost
    // its links when a batch was taken back): then a scan of every vector is
    // both correct and cheap, so a search always returns min(k, matches) hits.
    if (results_.size() < std::min<size_t>(params.k, live_count_) && entry_point_ != kNoSlot) search_exhaustive(q, kept);
    // The candidates scored again on their exact vectors (staged ones were scored on floats already).
    if (rescore_here) {
      for (Neighbor& n : results_)
        if (state(n.slot) != SlotState::staged) n.distance = exact_distance(v, n.slot);
    }
  }
  std::sort(results_.begin(), results_.end(), closer);
  for (size_t i = 0; i < results_.size() && i < returned; ++i) out->push_back(results_[i]);
  return Result::success();
}

// Every live vector scored: on its code, or with `exact` on the tier's
// exact vector (then the results are the true nearest neighbours).
void Index::search_exhaustive(const Query& q, const SearchParams& params, bool exact) {
  results_.clear();
  for (uint32_t s = 0; s < slot_count_; ++s) {
    const SlotState st = state(s);
    if (st == SlotState::linked || st == SlotState::unlinked)
      offer_result(s, exact ? exact_distance(q.floats, s) : distance_to(q, s), params);
  }
  for (size_t i = 0; i < staged_slots_.size(); ++i) {
    const float raw = kernels_.float_kernel(q.floats, &staged_vectors_[i * options_.dim], options_.dim);
    offer_result(staged_slots_[i], float_distance(options_.metric, raw), params);
  }
}

// --- accounting ------------------------------------------------------------------

MemoryStats Index::memory() const {
  MemoryStats m;
  m.vectors = {vectors_.used_bytes() + code_scales_.used_bytes(), vectors_.reserved_bytes() + code_scales_.reserved_bytes()};
  if (reranks()) m.rerank = {exact_.used_bytes(), exact_.reserved_bytes()};
  m.graph = {graph_.used_bytes(), graph_.reserved_bytes()};
  m.ids = {ids_.used_bytes(), ids_.reserved_bytes()};
  m.metadata = {metadata_.used_bytes(), metadata_.reserved_bytes()};
  m.buffer = {staged_vectors_.size() * 4 + staged_slots_.size() * 4 + unlinked_.used_bytes(),
              staged_vectors_.capacity() * 4 + staged_slots_.capacity() * 4 + unlinked_.reserved_bytes()};
  const size_t scratch = candidates_.reserved_bytes() + pruned_.capacity() * 4 +
                         (expanded_.capacity() + pool_.capacity() + results_.capacity()) * sizeof(Neighbor) +
                         (occlusion_.capacity() + normalized_.capacity() + decoded_.capacity()) * 4 +
                         centroid_.capacity() * 8 + query_fine_.capacity() * 2;
  m.other = {sizeof(Index) + state_.used_bytes() + visited_.used_bytes() + free_slots_.used_bytes() + scratch,
             sizeof(Index) + state_.reserved_bytes() + visited_.reserved_bytes() + free_slots_.reserved_bytes() + scratch};
  return m;
}

const char* storage_name(Storage s) {
  switch (s) {
    case Storage::int8: return "int8";
    case Storage::float32: return "float32";
  }
  return "unknown_storage";
}

const char* rerank_name(Rerank r) {
  switch (r) {
    case Rerank::none: return "none";
    case Rerank::float16: return "float16";
    case Rerank::float32: return "float32";
    case Rerank::storage: return "storage";
  }
  return "unknown_rerank";
}

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::invalid_argument: return "invalid_argument";
    case Status::dimension_mismatch: return "dimension_mismatch";
    case Status::non_finite_value: return "non_finite_value";
    case Status::zero_vector: return "zero_vector";
    case Status::duplicate_id: return "duplicate_id";
    case Status::unknown_id: return "unknown_id";
    case Status::memory_cap_exceeded: return "memory_cap_exceeded";
    case Status::corrupt_snapshot: return "corrupt_snapshot";
    case Status::unsupported_version: return "unsupported_version";
    case Status::out_of_memory: return "out_of_memory";
  }
  return "unknown_status";
}

}  // namespace tabvec
