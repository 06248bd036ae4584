// The tabvec index: a Vamana graph (DiskANN) over 8-bit or float32 vectors,
// with a small write buffer in front of it.
//
// Life of a vector: add() gives it a slot. Until the quantizer is trained
// (the first few vectors of an int8 index) it is *staged* as floats; then it
// is *unlinked*: stored as a code, searched by brute force in the write
// buffer. When the buffer is full it is merged into the graph (*linked*).
// remove() turns a linked slot into a tombstone that search walks through
// but never returns; consolidate() repairs the tombstones' neighbours and
// frees their slots for reuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "chunked.h"
#include "distance.h"
#include "graph.h"
#include "id_map.h"
#include "memory.h"
#include "neighbor.h"
#include "quantizer.h"
#include "slot_strings.h"
#include "status.h"
#include "visited.h"

namespace tabvec {

enum class Storage : uint8_t { int8 = 0, float32 = 1 };
constexpr int kStorageCount = int(Storage::float32) + 1;

// The name the JS API uses for a storage ("int8", "float32").
const char* storage_name(Storage s);

// The re-ranking tier: exact vectors kept beside the int8 codes. The graph
// walk runs on the codes; the best rerank_factor x k candidates it finds are
// then scored again on these, and those exact distances are returned.
// float16 keeps 2 bytes per dimension (components up to 65504 in magnitude,
// about 3 significant digits), float32 4. storage keeps them out of memory,
// as rows of a file the caller holds (below): the index keeps only
// each vector's row number, 4 bytes.
enum class Rerank : uint8_t { none = 0, float16 = 1, float32 = 2, storage = 3 };
constexpr int kRerankCount = int(Rerank::storage) + 1;
const char* rerank_name(Rerank r);

// A row of a storage tier: the prepared vector (unit length under cosine) as
// dim x f32, then a u64 tag, xxh64(those bytes) ^ xxh64(id), so that a row
// that is damaged, missing or not this vector's is noticed when it is read.
// Every vector the index stores gets the next row number (Index::next_row),
// and numbers are never reused: a row once written is never overwritten while
// anything may refer to it, and every copy of a store that applies the same
// operations numbers its rows alike.
constexpr uint32_t kRowTagBytes = 8;
constexpr uint32_t kNoRow = 0xFFFFFFFFu;

struct IndexOptions {
  uint32_t dim = 0;
  Metric metric = Metric::l2;
  Storage storage = Storage::int8;
  Rerank rerank = Rerank::none;    // only beside int8 codes: float32 storage is exact already
  uint32_t max_degree = 32;        // R
  uint32_t build_list_size = 64;   // L used while linking
  float alpha = 1.2f;              // RobustPrune's distance factor
  uint32_t search_list_size = 64;  // default L for search
  uint32_t max_buffer = 256;       // most vectors the write buffer holds before a merge
  uint64_t max_memory_bytes = 0;   // cap on reserved bytes; 0 means no cap
};

// Limits that keep every size computation inside 32 bits and every int8
// kernel free of overflow.
constexpr uint32_t kMaxDim = 16384;
constexpr uint32_t kMaxDegree = 256;
constexpr uint32_t kMaxListSize = 4096;
constexpr uint32_t kMaxSlots = 0x7FFFFFFFu;
constexpr uint32_t kMaxIdBytes = 65535;
constexpr uint32_t kMaxMetadataBytes = 16u << 20;
constexpr uint32_t kMaxBuffer = 65536;
constexpr uint32_t kMaxRerankFactor = 64;
// The largest magnitude float16 holds; larger components are refused, not made infinite.
constexpr float kMaxFloat16 = 65504.0f;
// A store with a re-ranking tier and at most this many slots is searched by
// an exact scan of the tier instead of the walk, so that a page with a few
// hundred notes always gets the true nearest ones. Measured natively at 384
// dimensions, cosine, k = 10: the scan costs 0.17 us a vector (float16; 0.14
// float32) and the walk with re-ranking 28-33 us from 256 to 2,048 vectors;
// they cross near 128 vectors. At 512 the scan is 85 us against 29: slower,
// but far below anything a page notices, and exact.
constexpr size_t kExactScanSlots = 512;
// Vectors longer than this are refused: below it every squared L2 distance
// and dot product between two vectors is a finite float, so no distance is
// ever NaN (which would break the ordering every sort relies on).
constexpr double kMaxSquaredNorm = double(std::numeric_limits<float>::max()) / 4;

// Called for candidate slots during search; true keeps the slot in results.
struct SearchFilter {
  bool (*accept)(void* context, uint32_t slot) = nullptr;
  void* context = nullptr;
};

struct SearchParams {
  uint32_t k = 10;
  uint32_t list_size = 0;         // L; 0 means options.search_list_size
  uint32_t rerank_factor = 2;     // with a re-ranking tier, re-score the best rerank_factor x k: 1..kMaxRerankFactor
  SearchFilter filter;            // accept == nullptr means no filter
};

using SearchHits = PodVector<Neighbor>;

struct MemoryUse {
  size_t used = 0;
  size_t reserved = 0;
};

struct MemoryStats {
  MemoryUse vectors, rerank, graph, ids, metadata, buffer, other;
  size_t total_used() const;
  size_t total_reserved() const;
};

struct ConsolidateReport {
  uint32_t tombstones_removed = 0;
  uint32_t nodes_repaired = 0;
};

// Every public operation either succeeds or returns a failure having changed
// nothing, including when memory runs out (Status::out_of_memory): each one
// validates, then reserves all the memory it needs, then changes the index
// with steps that cannot fail. Linking and consolidation that run on their
// own (add() filling the buffer, remove() piling up tombstones) are upkeep:
// without memory for them they wait, and the data stays searchable.
class Index {
 public:
  // The index lives in memory from allocate(), like everything it owns.
  static void* operator new(size_t bytes, const std::nothrow_t&) noexcept { return allocate(bytes); }
  static void operator delete(void* p) noexcept { release(p); }

  static Result create(const IndexOptions& options, std::unique_ptr<Index>* out);
  static Result deserialize(const uint8_t* bytes, size_t length, uint64_t max_memory_bytes,
                            std::unique_ptr<Index>* out);

  const IndexOptions& options() const { return options_; }
  // For a caller holding more memory under the same cap (HybridIndex).
  void set_max_memory_bytes(uint64_t bytes) { options_.max_memory_bytes = bytes; }
  // Slots in use or free: a new vector's slot is at most this.
  size_t slot_count() const { return slot_count_; }
  size_t size() const { return live_count_; }
  bool contains(std::string_view id) const { return ids_.find(id) != IdMap::kNotFound; }

  // The writes below take `rows` under a storage tier (nullptr otherwise):
  // room for rows_needed(n) rows, which receive the rows [next_row() before
  // the call, next_row() after it), for the caller to store. Besides the new
  // vectors they may hold staged ones that got their codes in the same call.
  // Adds one vector (len must equal dim). Empty metadata means none.
  Result add(std::string_view id, const float* vector, size_t len, std::string_view metadata = {},
             uint8_t* rows = nullptr);
  // Adds n vectors stored back to back; all-or-nothing. With link_now false
  // the new vectors stay in the write buffer until link_pending() merges them,
  // so a caller can report progress.
  Result add_batch(size_t n, const std::string_view* ids, const float* vectors, size_t len,
                   const std::string_view* metadata, bool link_now = true, uint8_t* rows = nullptr);
  // Replaces the vector (and metadata) of an existing id, or adds it.
  Result upsert(std::string_view id, const float* vector, size_t len, std::string_view metadata = {},
                uint8_t* rows = nullptr);
  Result remove(std::string_view id);
  // What add() (replace false) or upsert() (true) checks before it reserves
  // anything, alone: a caller that reserves memory of its own first
  // (HybridIndex) reports bad input as such, not as a full cap.
  Result check_write(std::string_view id, const float* vector, size_t len, std::string_view metadata, bool replace);
  // Makes room so that the next n remove() calls cannot run out of memory
  // (a batch that may have to take itself back reserves this first).
  Result reserve_removals(size_t n);
  Result set_metadata(std::string_view id, std::string_view metadata);

  // Copies the stored vector into out: the exact one if a re-ranking tier
  // keeps it, else decoded from its code under int8.
  Result get_vector(std::string_view id, float* out, size_t len) const;
  uint32_t slot_of(std::string_view id) const { return ids_.find(id); }
  std::string_view id_of(uint32_t slot) const { return ids_.id_of(slot); }
  std::string_view metadata_of(uint32_t slot) const { return metadata_.get(slot); }

  // With a storage tier, search() returns the candidates to re-rank, by code
  // distance (every live vector when the store is small enough for an exact
  // scan), and rescore() finishes it, `count` candidates from `first` at a
  // time (so that a caller's buffer need not hold every candidate's row):
  // `rows` holds row_bytes() per candidate, in order, the bytes of row
  // row_of(slot) (ignored for a staged candidate: it has kNoRow and was
  // scored exactly). The call that scores the last candidate sorts them and
  // keeps the best k. A row that is not its vector's is CORRUPT_SNAPSHOT.
  Result search(const float* query, size_t len, const SearchParams& params, SearchHits* out);
  Result rescore(const float* query, size_t len, const uint8_t* rows, size_t first, size_t count, uint32_t k,
                 SearchHits* hits);

  // The storage tier's rows (rerank == storage).
  uint32_t row_bytes() const { return options_.dim * 4 + kRowTagBytes; }
  uint32_t next_row() const { return next_row_; }
  // kNoRow for a slot without one (staged, free).
  uint32_t row_of(uint32_t slot) const;
  size_t rows_needed(size_t n) const { return n + staged_slots_.size(); }
  // Numbers rows from `next` on again, after the caller took back the writes
  // that numbered rows from there (so copies that never saw them agree). Refused
  // unless next <= next_row() and no stored vector (tombstones too) holds such a row.
  Result rewind_rows(uint32_t next);
  // Compacting the rows (a caller moving them to a new file): rows_in_use()
  // writes the rows of the stored vectors in slot order (room for
  // rows_held()), which the caller copies to rows 0, 1, ... of the new file;
  // then renumber_rows() numbers the vectors' rows so, and next_row() is rows_held().
  size_t rows_held() const;
  void rows_in_use(uint32_t* out) const;
  void renumber_rows();
  // Copies the slot's vector out of its row, checking that the row is that vector's.
  Result read_row(uint32_t slot, const uint8_t* row, float* out) const;

  // Merges up to `budget` buffered vectors into the graph; returns how much
  // linking work remains (0 when the buffer is empty and the graph settled).
  // Stops early, with link_stalled() true, when memory for the next step
  // cannot be had.
  size_t link_pending(size_t budget = SIZE_MAX);
  size_t pending() const;
  // True when the write buffer is full enough that the next write merges it.
  bool link_due() const;
  bool link_stalled() const { return link_stalled_; }
  Result consolidate(ConsolidateReport* report = nullptr);

  const ScalarQuantizer& quantizer() const { return quantizer_; }
  MemoryStats memory() const;
  size_t tombstones() const { return deleted_count_; }

  // The snapshot (snapshot.h); SnapshotWriter writes it in pieces.
  size_t serialized_size() const;
  // Writes exactly serialized_size() bytes.
  void serialize(uint8_t* out) const;

 private:
  static constexpr uint32_t kNoSlot = 0xFFFFFFFFu;
  enum class SlotState : uint8_t { free = 0, staged = 1, unlinked = 2, linked = 3, deleted = 4 };
  // The query as every kernel needs it: floats for staged slots (and float32
  // storage); under int8 either a slot's own code (graph build: scored code to
  // code, as slot_distance does) or a search query coded as int16,
  // query_fineness_ times finer than the codes on the same range (scored with
  // query_dot or query_l2: its rounding error all but vanishes beside the codes').
  struct Query {
    const float* floats;
    const int8_t* code;
    const int16_t* fine;
    // Cosine: 1 / |code| or 1 / |fine| (see code_scales_), a float. With
    // `fine`, l2: (step / fineness)^2, inner product: step^2 / fineness (in
    // double: (step / 258)^2 underflows a float sooner than step^2 did).
    double scale;
    int64_t fine_norm;  // with `fine`: |fine|^2 (below 2^44), which l2 adds to query_l2's sum
  };
  // A linking round: pass 1 inserts buffered slots, pass 2 (only when the
  // round started with more buffered than linked slots, i.e. a bulk build)
  // re-prunes every linked slot with alpha, as in the two-pass Vamana build.
  struct LinkRound {
    bool active = false;
    bool two_pass = false;
    float pass1_alpha = 1.0f;
    size_t pass2_cursor = 0;
    size_t pass2_end = 0;
  };

  explicit Index(const IndexOptions& options);

  // Checks (checks.cpp).
  static Result check_id(std::string_view id);
  static Result check_metadata(std::string_view metadata);
  static Result check_search(const SearchParams& params);
  Result check_vector(const float* v, size_t len, const char* what) const;
  Result check_float16_range(const float* v) const;
  Result check_batch(size_t n, const std::string_view* ids, const float* vectors, size_t len,
                     const std::string_view* metadata, uint32_t replacing, QuantizerRange* range);
  const float* prepared(const float* v);  // normalises for cosine into normalized_
  void extend_range_prepared(QuantizerRange& r, const float* v) const;
  Result check_memory(uint64_t extra_bytes) const;
  uint64_t bytes_to_add(size_t count, size_t id_bytes, size_t metadata_bytes) const;
  bool stages(size_t n) const;
  bool reserve_for_add(size_t n, const std::string_view* ids, const std::string_view* metadata);
  void commit_batch(size_t n, const std::string_view* ids, const float* vectors, const std::string_view* metadata,
                    const QuantizerRange& range, bool link_now, uint8_t* rows);
  uint32_t allocate_slot();
  // `rows`: under a storage tier, where the vector's row goes; advanced past it.
  void store_vector(uint32_t slot, const float* v, uint8_t** rows);
  uint64_t row_tag(uint32_t slot, const uint8_t* row) const;
  bool reranks() const { return options_.rerank != Rerank::none; }
  // The tier's vectors are in memory (float16, float32), not in storage.
  bool keeps_exact() const { return reranks() && options_.rerank != Rerank::storage; }
  bool stores_rows() const { return options_.rerank == Rerank::storage; }
  // exact_'s records: the vector, or under storage its row number.
  uint32_t exact_bytes_per_slot() const {
    switch (options_.rerank) {
      case Rerank::none: return 0;
      case Rerank::float16: return options_.dim * 2;
      case Rerank::storage: return 4;
      default: return options_.dim * 4;
    }
  }
  // The distance to the slot's exact vector in the tier.
  float exact_distance(const float* prepared_query, uint32_t slot);
  void fit_quantizer(QuantizerRange incoming, size_t incoming_count, uint8_t** rows);
  void encode_staged(uint8_t** rows);
  size_t buffer_capacity() const;
  void insert_unlinked(std::string_view id, const float* prepared_vector, std::string_view metadata, uint8_t** rows);
  void consolidate_if_due();

  SlotState state(uint32_t slot) const { return SlotState(state_.get(slot)); }
  // Buffered, linked and deleted slots keep their vector in vectors_ (staged
  // ones keep floats in staged_vectors_ until the quantizer is trained).
  bool holds_stored_vector(uint32_t slot) const {
    const SlotState st = state(slot);
    return st == SlotState::unlinked || st == SlotState::linked || st == SlotState::deleted;
  }
  void set_state(uint32_t slot, SlotState s) { state_.set(slot, uint8_t(s)); }
  const uint8_t* vector_bytes(uint32_t slot) const { return vectors_.at(slot); }

  float code_distance(int32_t raw) const;
  // Cosine over int8 codes divides each code dot product by both codes' lengths.
  bool scales_codes() const { return options_.metric == Metric::cosine && options_.storage == Storage::int8; }
  float code_scale(const int8_t* code) const;
  float query_distance(const Query& q, const int8_t* code, uint32_t slot) const;
  float distance_to(const Query& q, uint32_t slot) const;
  float slot_distance(uint32_t a, uint32_t b) const;
  Query query_for_slot(uint32_t slot);
  Query query_for_vector(const float* prepared_vector);

  bool reserve_walk(uint32_t list_size);
  bool reserve_link_scratch(size_t pool_size);
  // The Vamana graph (vamana.cpp).
  bool greedy_search(const Query& q, uint32_t list_size, PodVector<Neighbor>* expanded,
                     const SearchParams* result_params);
  void robust_prune(uint32_t p, PodVector<Neighbor>& pool, float alpha);
  void inter_insert(uint32_t p, float alpha);
  bool link_one(uint32_t p, float alpha);
  bool refine_one(uint32_t p);
  bool refresh_entry_point(bool include_buffered = false);
  bool repair_node(uint32_t p);
  void offer_result(uint32_t slot, float distance, const SearchParams& params);
  void free_slot(uint32_t slot);
  void remove_slot(uint32_t slot);
  void search_exhaustive(const Query& q, const SearchParams& params, bool exact = false);

  friend class SnapshotReader;
  friend class SnapshotWriter;

  IndexOptions options_;
  Kernels kernels_;
  ScalarQuantizer quantizer_;
  uint32_t vector_bytes_per_slot_ = 0;
  int32_t query_fineness_ = 1;  // query_fineness(dim)

  // Per-slot storage; all sized to slot_count_ except graph_ (sized when
  // linking starts) and visited_ (sized at the first graph walk).
  size_t slot_count_ = 0;
  ChunkedRecords vectors_;
  // Cosine over int8 only (else empty): 1 / |code| of each slot's code. A unit
  // vector's code is not of unit length (each component is rounded), and
  // dividing by it raises the exhaustive-scan recall@10 ceiling on real text
  // embeddings from 0.987 to 0.995 with the same codes and kernel. Derived
  // from the codes, so never stored in a snapshot.
  ChunkedArray<float> code_scales_;
  // The re-ranking tier (options_.rerank): each stored slot's prepared vector
  // (unit length under cosine), as float16 or float32, or under storage its
  // row number (u32); empty without one.
  ChunkedRecords exact_;
  uint32_t next_row_ = 0;  // storage tier: the number the next stored vector's row gets
  Graph graph_;
  ChunkedArray<uint8_t> state_;
  VisitedSet visited_;
  IdMap ids_;
  SlotStrings metadata_;

  // Write buffer.
  PodVector<float> staged_vectors_;  // floats of staged slots, in staged_slots_ order
  PodVector<uint32_t> staged_slots_;
  ChunkedArray<uint32_t> unlinked_;
  ChunkedArray<uint32_t> free_slots_;

  uint32_t entry_point_ = 0xFFFFFFFFu;
  size_t live_count_ = 0;
  size_t linked_count_ = 0;   // linked + deleted: slots in the graph
  size_t deleted_count_ = 0;
  size_t entry_refresh_at_ = 0;
  LinkRound round_;
  bool link_stalled_ = false;

  // Scratch reused by every call, never allocated in the hot path once warm.
  CandidateList candidates_;
  PodVector<Neighbor> expanded_;
  PodVector<Neighbor> pool_;
  PodVector<uint32_t> pruned_;  // robust_prune's choice, for the caller to store
  PodVector<Neighbor> results_;
  PodVector<float> occlusion_;  // RobustPrune's per-candidate occlusion factors
  PodVector<float> normalized_;  // cosine inputs scaled to unit length
  PodVector<float> decoded_;
  PodVector<double> centroid_;
  PodVector<int16_t> query_fine_;
};

}  // namespace tabvec
