// Embind surface of the core for the TypeScript wrapper (js/src).
//
// Hot paths take raw pointers into the WASM heap (passed as numbers), so a
// Float32Array crosses with one copy and ids/metadata as UTF-8 bytes that the
// wrapper writes with TextEncoder.encodeInto: no per-element marshalling.
// Every fallible call returns a Status code; lastError() holds the message.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "checksum.h"
#include "index.h"
#include "snapshot.h"
#ifdef TABVEC_TEXT
#include "hybrid.h"
#endif

namespace tabvec {
namespace {

std::string_view bytes_at(uintptr_t ptr, uint32_t len) { return {reinterpret_cast<const char*>(ptr), len}; }

class WasmIndex {
 public:
  int create(uint32_t dim, uint32_t metric, uint32_t storage, uint32_t rerank, uint32_t max_degree,
             uint32_t build_list_size, float alpha, uint32_t search_list_size, uint32_t max_buffer,
             double max_memory_bytes) {
    IndexOptions o;
    o.dim = dim;
    // Codes past the enums' byte read as 255, which the core refuses, not as their low byte.
    o.metric = Metric(std::min(metric, 255u));
    o.storage = Storage(std::min(storage, 255u));
    o.rerank = Rerank(std::min(rerank, 255u));
    o.max_degree = max_degree;
    o.build_list_size = build_list_size;
    o.alpha = alpha;
    o.search_list_size = search_list_size;
    o.max_buffer = max_buffer;
    o.max_memory_bytes = uint64_t(max_memory_bytes);
#ifdef TABVEC_TEXT
    const int status = record(HybridIndex::create(o, text_options_, &hybrid_));
    index_ = hybrid_ ? &hybrid_->index() : nullptr;
    return status;
#else
    return record(Index::create(o, &index_));
#endif
  }

  // A snapshot streamed in (SnapshotLoader): loadStart with its length, then
  // loadFeed its bytes in order through a heap window, then loadFinish.
  int loadStart(double length, double max_memory_bytes) {
    return record(Loader::start(uint64_t(length), uint64_t(max_memory_bytes), &loader_));
  }
  int loadFeed(uintptr_t bytes, uint32_t len) { return record(loader_.feed(reinterpret_cast<const uint8_t*>(bytes), len)); }
#ifdef TABVEC_TEXT
  int loadFinish() {
    const int status = record(loader_.finish(&hybrid_));
    index_ = hybrid_ ? &hybrid_->index() : nullptr;
    return status;
  }

  // The text build's surface (issue 14). Text options apply to the next create().
  void textOptions(uint32_t language, uint32_t tokenizer, float k1, float b) {
    text_options_ = {language, tokenizer, k1, b};
  }
  uint32_t textLanguage() const { return hybrid_->text_options().language; }
  uint32_t textTokenizer() const { return hybrid_->text_options().tokenizer; }
  float textK1() const { return hybrid_->text_options().k1; }
  float textB() const { return hybrid_->text_options().b; }
  uint32_t textSize() const { return uint32_t(hybrid_->text().size()); }
  // The next write's texts: terms (each followed by a 0 byte) back to back,
  // with a u32 length per document, 0xFFFFFFFF for a document without text.
  // They must stay in the heap until that write returns.
  int setTexts(uint32_t n, uintptr_t terms, uintptr_t lens) {
    texts_.clear();
    if (!texts_.reserve(n)) return record(Result::out_of_memory());
    const uint32_t* l = reinterpret_cast<const uint32_t*>(lens);
    for (uint32_t i = 0, at = 0; i < n; ++i) {
      const bool present = l[i] != 0xFFFFFFFFu;
      texts_.push_back({bytes_at(terms + at, present ? l[i] : 0), present});
      if (present) at += l[i];
    }
    return 0;
  }
  // BM25 search over the query's terms; results as search() lays them out,
  // with the score where the distance is.
  int searchText(uintptr_t terms, uint32_t len, uint32_t k, emscripten::val predicate) {
    TextFilter filter;
    if (!predicate.isNull()) {
      filter.context = &predicate;
      filter.accept = [](void* ctx, uint32_t slot) {
        return static_cast<emscripten::val*>(ctx)->operator()(slot).as<bool>();
      };
    }
    const int status = record(hybrid_->search_text(bytes_at(terms, len), k, filter, &text_hits_));
    hits_.clear();
    if (status == 0 && !hits_.reserve(text_hits_.size())) return record(Result::out_of_memory());
    if (status == 0)
      for (const TextHit& h : text_hits_) hits_.push_back({h.slot, h.score});
    return records(status);
  }
#else
  int loadFinish() { return record(loader_.finish(&index_)); }
#endif

  std::string lastError() const { return error_; }

  // `rows`: 0, or under a storage tier room for rowsNeeded(n) rows (Index::add).
  int add(uintptr_t id, uint32_t id_len, uintptr_t vector, uintptr_t meta, uint32_t meta_len, uintptr_t rows) {
#ifdef TABVEC_TEXT
    return record(hybrid_->add(bytes_at(id, id_len), reinterpret_cast<const float*>(vector), index_->options().dim,
                               bytes_at(meta, meta_len), take_text(), reinterpret_cast<uint8_t*>(rows)));
#else
    return record(index_->add(bytes_at(id, id_len), reinterpret_cast<const float*>(vector), index_->options().dim,
                              bytes_at(meta, meta_len), reinterpret_cast<uint8_t*>(rows)));
#endif
  }

  // ids: concatenated UTF-8 with a u32 length each; metadata likewise (lengths 0 = none).
  int addBatch(uint32_t n, uintptr_t ids, uintptr_t id_lens, uintptr_t vectors, uintptr_t meta, uintptr_t meta_lens,
               bool link_now, uintptr_t rows) {
    PodVector<std::string_view> id_views, meta_views;
    if (!id_views.try_resize(n) || !meta_views.try_resize(meta_lens ? n : 0)) return record(Result::out_of_memory());
    const uint32_t* il = reinterpret_cast<const uint32_t*>(id_lens);
    const uint32_t* ml = reinterpret_cast<const uint32_t*>(meta_lens);
    for (uint32_t i = 0, at = 0; i < n; at += il[i++]) id_views[i] = bytes_at(ids + at, il[i]);
    for (uint32_t i = 0, at = 0; ml && i < n; at += ml[i++]) meta_views[i] = bytes_at(meta + at, ml[i]);
#ifdef TABVEC_TEXT
    const bool with_texts = texts_.size() != 0;
    if (with_texts && texts_.size() != n) {
      texts_.clear();
      return record(Result::failure(Status::invalid_argument, "texts do not match the batch"));
    }
    const int status = record(hybrid_->add_batch(n, id_views.data(), reinterpret_cast<const float*>(vectors),
                                                 size_t(n) * index_->options().dim, ml ? meta_views.data() : nullptr,
                                                 with_texts ? texts_.data() : nullptr, link_now,
                                                 reinterpret_cast<uint8_t*>(rows)));
    texts_.clear();
    return status;
#else
    return record(index_->add_batch(n, id_views.data(), reinterpret_cast<const float*>(vectors),
                                    size_t(n) * index_->options().dim, ml ? meta_views.data() : nullptr, link_now,
                                    reinterpret_cast<uint8_t*>(rows)));
#endif
  }

  int upsert(uintptr_t id, uint32_t id_len, uintptr_t vector, uintptr_t meta, uint32_t meta_len, uintptr_t rows) {
#ifdef TABVEC_TEXT
    return record(hybrid_->upsert(bytes_at(id, id_len), reinterpret_cast<const float*>(vector), index_->options().dim,
                                  bytes_at(meta, meta_len), take_text(), reinterpret_cast<uint8_t*>(rows)));
#else
    return record(index_->upsert(bytes_at(id, id_len), reinterpret_cast<const float*>(vector), index_->options().dim,
                                 bytes_at(meta, meta_len), reinterpret_cast<uint8_t*>(rows)));
#endif
  }

  // The storage tier's rows (Index::next_row and the rest): the bytes of a
  // row, the next row's number, and the room n new vectors' rows need.
  uint32_t rowBytes() const { return index_->row_bytes(); }
  uint32_t nextRow() const { return index_->next_row(); }
  uint32_t rowRoom(uint32_t n) const { return uint32_t(index_->rows_needed(n) * index_->row_bytes()); }
  int rewindRows(uint32_t next) { return record(index_->rewind_rows(next)); }
  // Compaction (Index::rows_in_use): the rows in use, in slot order, into a heap
  // buffer the wrapper sizes by rowsHeld(); then renumberRows().
  uint32_t rowsHeld() const { return uint32_t(index_->rows_held()); }
  void rowsInUse(uintptr_t out) const { index_->rows_in_use(reinterpret_cast<uint32_t*>(out)); }
  void renumberRows() { index_->renumber_rows(); }
  // The row of the id's vector as i32 bits (0xFFFFFFFF: none, a staged vector).
  int rowOf(uintptr_t id, uint32_t id_len) const {
    return int(index_->row_of(index_->slot_of(bytes_at(id, id_len))));
  }
  // After search() under a storage tier, with candidates first..first+count-1's
  // rows read (row_bytes() each, in result order).
  // The records are laid out once, after the last batch (or a failure).
  int rescore(uintptr_t query, uintptr_t rows, uint32_t first, uint32_t count, uint32_t k) {
    const int status = record(index_->rescore(reinterpret_cast<const float*>(query), index_->options().dim,
                                              reinterpret_cast<const uint8_t*>(rows), first, count, k, &hits_));
    return status == 0 && first + count < hits_.size() ? status : records(status);
  }

#ifdef TABVEC_TEXT
  int remove(uintptr_t id, uint32_t id_len) { return record(hybrid_->remove(bytes_at(id, id_len))); }
#else
  int remove(uintptr_t id, uint32_t id_len) { return record(index_->remove(bytes_at(id, id_len))); }
#endif
  int reserveRemovals(uint32_t n) { return record(index_->reserve_removals(n)); }

  int setMetadata(uintptr_t id, uint32_t id_len, uintptr_t meta, uint32_t meta_len) {
#ifdef TABVEC_TEXT
    hybrid_->cap_index();
#endif
    return record(index_->set_metadata(bytes_at(id, id_len), bytes_at(meta, meta_len)));
  }

  // `row`: 0, or the bytes of the id's row under a storage tier (checked to be its vector's).
  int getVector(uintptr_t id, uint32_t id_len, uintptr_t out, uintptr_t row) const {
    if (row)
      return record(index_->read_row(index_->slot_of(bytes_at(id, id_len)), reinterpret_cast<const uint8_t*>(row),
                                     reinterpret_cast<float*>(out)));
    return record(index_->get_vector(bytes_at(id, id_len), reinterpret_cast<float*>(out), index_->options().dim));
  }

  int slotOf(uintptr_t id, uint32_t id_len) const {
    const uint32_t s = index_->slot_of(bytes_at(id, id_len));
    return s == IdMap::kNotFound ? -1 : int(s);
  }
  uintptr_t idPtr(uint32_t slot) const { return uintptr_t(index_->id_of(slot).data()); }
  uint32_t idLen(uint32_t slot) const { return uint32_t(index_->id_of(slot).size()); }
  uintptr_t metadataPtr(uint32_t slot) const { return uintptr_t(index_->metadata_of(slot).data()); }
  uint32_t metadataLen(uint32_t slot) const { return uint32_t(index_->metadata_of(slot).size()); }

  // Results land in resultSlots()/resultDistances(), read through heap views.
  int search(uintptr_t query, uint32_t k, uint32_t list_size, uint32_t rerank_factor) {
    SearchParams p;
    p.k = k;
    p.list_size = list_size;
    p.rerank_factor = rerank_factor;
    return run_search(query, p);
  }

  // The predicate gets a slot and returns a boolean; it runs during traversal.
  int searchFiltered(uintptr_t query, uint32_t k, uint32_t list_size, uint32_t rerank_factor, emscripten::val predicate) {
    SearchParams p;
    p.k = k;
    p.list_size = list_size;
    p.rerank_factor = rerank_factor;
    p.filter.context = &predicate;
    p.filter.accept = [](void* ctx, uint32_t slot) {
      return static_cast<emscripten::val*>(ctx)->operator()(slot).as<bool>();
    };
    return run_search(query, p);
  }

  // Results as records of 6 u32: row (a storage tier's; else 0xFFFFFFFF), distance (f32 bits), id ptr, id length,
  // metadata ptr, metadata length. One call returns everything the wrapper needs.
  uint32_t resultCount() const { return uint32_t(hits_.size()); }
  uintptr_t resultRecords() const { return uintptr_t(records_.data()); }

  // Returns the linking work left; linkStalled() says whether it stopped for want of memory.
  uint32_t linkPending(uint32_t budget) {
#ifdef TABVEC_TEXT
    hybrid_->cap_index();
#endif
    return uint32_t(index_->link_pending(budget));
  }
  bool linkStalled() const { return index_->link_stalled(); }
  uint32_t pending() const { return uint32_t(index_->pending()); }
#ifdef TABVEC_TEXT
  // Asked once a batch's vectors and texts are all written (the wrapper's
  // addMany): the text index's upkeep runs then, not between its chunks.
  bool linkDue() {
    hybrid_->upkeep();
    return index_->link_due();
  }
#else
  bool linkDue() const { return index_->link_due(); }
#endif
  // Status; consolidated() is how many tombstones the last successful call removed.
  int consolidate() {
    ConsolidateReport report;
#ifdef TABVEC_TEXT
    const int status = record(hybrid_->consolidate(&report));
#else
    const int status = record(index_->consolidate(&report));
#endif
    consolidated_ = report.tombstones_removed;
    return status;
  }
  uint32_t consolidated() const { return consolidated_; }
  uint32_t size() const { return uint32_t(index_->size()); }
  uint32_t dim() const { return index_->options().dim; }
  uint32_t metric() const { return uint32_t(index_->options().metric); }
  uint32_t storage() const { return uint32_t(index_->options().storage); }
  uint32_t rerank() const { return uint32_t(index_->options().rerank); }
  uint32_t tombstones() const { return uint32_t(index_->tombstones()); }

  // used/reserved pairs for vectors, rerank, graph, ids, metadata, buffer, other, text (16 doubles).
  void memoryStats(uintptr_t out) const {
    const MemoryStats m = index_->memory();
    double* o = reinterpret_cast<double*>(out);
#ifdef TABVEC_TEXT
    const TextMemoryUse t = hybrid_->text_memory();
    const MemoryUse text{t.used, t.reserved};
#else
    const MemoryUse text{};
#endif
    const MemoryUse parts[8] = {m.vectors, m.rerank, m.graph, m.ids, m.metadata, m.buffer, m.other, text};
    for (int i = 0; i < 8; ++i) {
      o[2 * i] = double(parts[i].used);
      o[2 * i + 1] = double(parts[i].reserved);
    }
  }

  // Starts writing the snapshot and returns its size; serializeNext() then
  // writes it in consecutive pieces (each resumes where the last stopped).
#ifdef TABVEC_TEXT
  double serializeStart() { return double(hybrid_->serialize_start()); }
  uint32_t serializeNext(uintptr_t out, uint32_t len) {
    return uint32_t(hybrid_->serialize_write(reinterpret_cast<uint8_t*>(out), len));
  }
#else
  double serializeStart() { return double(writer_.start(*index_)); }
  uint32_t serializeNext(uintptr_t out, uint32_t len) {
    return uint32_t(writer_.write(reinterpret_cast<uint8_t*>(out), len));
  }
#endif

 private:
  int record(const Result& r) const {
    error_ = r.message;
    return int(r.status);
  }
  int run_search(uintptr_t query, const SearchParams& p) {
    return records(record(index_->search(reinterpret_cast<const float*>(query), index_->options().dim, p, &hits_)));
  }
  // Lays out hits_ as result records; `status` passes through.
  int records(int status) {
    if (!records_.try_resize(hits_.size() * 6)) {
      hits_.clear();
      return record(Result::out_of_memory());
    }
    for (size_t i = 0; i < hits_.size(); ++i) {
      uint32_t* r = &records_[i * 6];
      const std::string_view id = index_->id_of(hits_[i].slot);
      const std::string_view meta = index_->metadata_of(hits_[i].slot);
      r[0] = index_->row_of(hits_[i].slot);
      std::memcpy(&r[1], &hits_[i].distance, 4);
      r[2] = uint32_t(uintptr_t(id.data()));
      r[3] = uint32_t(id.size());
      r[4] = uint32_t(uintptr_t(meta.data()));
      r[5] = uint32_t(meta.size());
    }
    return status;
  }

#ifdef TABVEC_TEXT
  // The next add or upsert's text (setTexts), which it takes.
  DocumentText take_text() {
    const DocumentText t = texts_.size() == 1 ? texts_[0] : DocumentText{};
    texts_.clear();
    return t;
  }
  using Loader = HybridLoader;
  std::unique_ptr<HybridIndex> hybrid_;
  Index* index_ = nullptr;
  PodVector<DocumentText> texts_;
  PodVector<TextHit> text_hits_;
  TextOptions text_options_;
#else
  using Loader = SnapshotLoader;
  std::unique_ptr<Index> index_;
  SnapshotWriter writer_;
#endif
  Loader loader_;
  mutable std::string error_;
  SearchHits hits_;
  PodVector<uint32_t> records_;
  uint32_t consolidated_ = 0;
};

bool simdBuild() { return simd_enabled(); }
// The checksum serialize() writes (checksum.h) over heap bytes, fed in
// pieces: `state` is SNAPSHOT_CHECKSUM_STATE_BYTES the caller zero-filled;
// returns the checksum of everything fed so far. The wrapper checks what it
// copied out of the heap with it, far faster than a hash in JS.
uint32_t snapshotChecksum(uintptr_t state, uintptr_t bytes, uint32_t len) {
  Xxh64* h = reinterpret_cast<Xxh64*>(state);
  h->update(reinterpret_cast<const uint8_t*>(bytes), len);
  return uint32_t(h->digest());
}
std::string statusName(int status) { return status_name(Status(status)); }
std::string metricName(int metric) { return metric_name(Metric(metric)); }
std::string storageName(int storage) { return storage_name(Storage(storage)); }
std::string rerankName(int rerank) { return rerank_name(Rerank(rerank)); }

}  // namespace
}  // namespace tabvec

// Built without RTTI, Embind names a type (for its unbound-type errors) by
// formatting the type's address with sprintf(buf, "%p"), which the compiler
// turns into siprintf (libc's sprintf without floating point), and that one
// call linked musl's whole printf: 2.5 KB of code a page downloads. Nothing
// else in the module formats with printf (the core writes its numbers
// itself), so this siprintf, which the linker takes instead of libc's,
// formats "%p" and copies any other format as it is.
extern "C" int siprintf(char* out, const char* format, ...) {
  if (std::strcmp(format, "%p") != 0) {
    std::strcpy(out, format);
    return int(std::strlen(out));
  }
  va_list args;
  va_start(args, format);
  const uintptr_t value = reinterpret_cast<uintptr_t>(va_arg(args, void*));
  va_end(args);
  char* p = out;
  *p++ = '0', *p++ = 'x';
  int shift = int(sizeof(value) * 8) - 4;
  while (shift > 0 && (value >> shift) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) *p++ = "0123456789abcdef"[(value >> shift) & 15];
  *p = 0;
  return int(p - out);
}

EMSCRIPTEN_BINDINGS(tabvec) {
  using tabvec::WasmIndex;
  emscripten::function("simdBuild", &tabvec::simdBuild);
  emscripten::function("snapshotChecksum", &tabvec::snapshotChecksum);
  emscripten::constant("SNAPSHOT_CHECKSUM_STATE_BYTES", uint32_t(sizeof(tabvec::Xxh64)));
  // The core's rules, so the wrapper never restates them: status names by
  // code, metric, storage and rerank names by code, option defaults, and the size limits it checks before copying
  // ids and metadata into the heap.
  emscripten::function("statusName", &tabvec::statusName);
  emscripten::constant("STATUS_COUNT", tabvec::kStatusCount);
  emscripten::constant("STATUS_OUT_OF_MEMORY", int(tabvec::Status::out_of_memory));
  emscripten::function("metricName", &tabvec::metricName);
  emscripten::constant("METRIC_COUNT", tabvec::kMetricCount);
  emscripten::function("storageName", &tabvec::storageName);
  emscripten::constant("STORAGE_COUNT", tabvec::kStorageCount);
  emscripten::function("rerankName", &tabvec::rerankName);
  emscripten::constant("RERANK_COUNT", tabvec::kRerankCount);
  // The core checks every option's range (Index::create, Index::search).
  const tabvec::IndexOptions defaults;
  emscripten::constant("DEFAULT_MAX_DEGREE", defaults.max_degree);
  emscripten::constant("DEFAULT_BUILD_LIST_SIZE", defaults.build_list_size);
  emscripten::constant("DEFAULT_ALPHA", defaults.alpha);
  emscripten::constant("DEFAULT_SEARCH_LIST_SIZE", defaults.search_list_size);
  emscripten::constant("DEFAULT_MAX_BUFFER", defaults.max_buffer);
  emscripten::constant("DEFAULT_K", tabvec::SearchParams{}.k);
  emscripten::constant("DEFAULT_RERANK_FACTOR", tabvec::SearchParams{}.rerank_factor);
  emscripten::constant("MAX_ID_BYTES", tabvec::kMaxIdBytes);
  emscripten::constant("MAX_METADATA_BYTES", tabvec::kMaxMetadataBytes);
#ifdef TABVEC_TEXT
  emscripten::constant("MAX_TERM_BYTES", tabvec::kMaxTermBytes);
  emscripten::constant("MAX_DOCUMENT_TERMS", tabvec::kMaxDocumentTerms);
  emscripten::constant("MAX_QUERY_TERMS", tabvec::kMaxQueryTerms);
  emscripten::constant("MAX_TEXT_K", tabvec::kMaxTextK);
  emscripten::constant("MAX_BM25_K1", tabvec::kMaxBm25K1);
  emscripten::constant("DEFAULT_BM25_K1", tabvec::TextOptions{}.k1);
  emscripten::constant("DEFAULT_BM25_B", tabvec::TextOptions{}.b);
#endif
  emscripten::class_<WasmIndex>("Index")
      .constructor<>()
      .function("create", &WasmIndex::create)
      .function("loadStart", &WasmIndex::loadStart)
      .function("loadFeed", &WasmIndex::loadFeed)
      .function("loadFinish", &WasmIndex::loadFinish)
      .function("lastError", &WasmIndex::lastError)
      .function("add", &WasmIndex::add)
      .function("addBatch", &WasmIndex::addBatch)
      .function("upsert", &WasmIndex::upsert)
      .function("remove", &WasmIndex::remove)
      .function("reserveRemovals", &WasmIndex::reserveRemovals)
      .function("setMetadata", &WasmIndex::setMetadata)
      .function("getVector", &WasmIndex::getVector)
      .function("slotOf", &WasmIndex::slotOf)
      .function("idPtr", &WasmIndex::idPtr)
      .function("idLen", &WasmIndex::idLen)
      .function("metadataPtr", &WasmIndex::metadataPtr)
      .function("metadataLen", &WasmIndex::metadataLen)
      .function("search", &WasmIndex::search)
      .function("searchFiltered", &WasmIndex::searchFiltered)
      .function("resultCount", &WasmIndex::resultCount)
      .function("resultRecords", &WasmIndex::resultRecords)
      .function("linkPending", &WasmIndex::linkPending)
      .function("linkStalled", &WasmIndex::linkStalled)
      .function("consolidated", &WasmIndex::consolidated)
      .function("pending", &WasmIndex::pending)
      .function("linkDue", &WasmIndex::linkDue)
      .function("consolidate", &WasmIndex::consolidate)
      .function("size", &WasmIndex::size)
      .function("dim", &WasmIndex::dim)
      .function("metric", &WasmIndex::metric)
      .function("storage", &WasmIndex::storage)
      .function("rerank", &WasmIndex::rerank)
      .function("tombstones", &WasmIndex::tombstones)
      .function("rowBytes", &WasmIndex::rowBytes)
      .function("nextRow", &WasmIndex::nextRow)
      .function("rowRoom", &WasmIndex::rowRoom)
      .function("rewindRows", &WasmIndex::rewindRows)
      .function("rowsHeld", &WasmIndex::rowsHeld)
      .function("rowsInUse", &WasmIndex::rowsInUse)
      .function("renumberRows", &WasmIndex::renumberRows)
      .function("rowOf", &WasmIndex::rowOf)
      .function("rescore", &WasmIndex::rescore)
      .function("memoryStats", &WasmIndex::memoryStats)
      .function("serializeStart", &WasmIndex::serializeStart)
      .function("serializeNext", &WasmIndex::serializeNext)
#ifdef TABVEC_TEXT
      .function("textOptions", &WasmIndex::textOptions)
      .function("textLanguage", &WasmIndex::textLanguage)
      .function("textTokenizer", &WasmIndex::textTokenizer)
      .function("textK1", &WasmIndex::textK1)
      .function("textB", &WasmIndex::textB)
      .function("textSize", &WasmIndex::textSize)
      .function("setTexts", &WasmIndex::setTexts)
      .function("searchText", &WasmIndex::searchText)
#endif
      ;
}
