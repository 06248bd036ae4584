// A store whose documents have text as well as a vector (issue 14): an Index
// and a FullTextIndex over the same slots, kept in step by every write.
//
// A document's text follows its id's slot. Each write is all-or-nothing
// across both: the text is validated and its memory reserved
// (FullTextIndex::prepare) before the Index write, and given to the slot the
// Index chose only after that write succeeded (commit, which cannot fail).
// Removing a text never allocates. Deleted slots lose their text at once, so
// a slot the Index reuses after consolidation never carries an old text.
//
// One memory cap covers both: the Index is capped at what the text index
// leaves of it before each write, and the text index asks for its extra
// bytes against what both hold.
//
// Only the text-enabled WebAssembly build instantiates this, so the core
// API's build does not carry the full-text code (scripts/size.mjs).
//
// The snapshot of a store with text wraps the Index's own snapshot:
//
//   header    HybridHeader, 48 bytes (magic "TABVEC\0T", version, sizes, text options)
//   index     index_bytes: the Index's snapshot (snapshot.h), checksum and all
//   text      text_bytes: the FullTextIndex's section (fulltext.cpp)
//   checksum  u32, the low 32 bits of XXH64 of every byte before it
//
// so the same trailer check (js/src/snapshot.ts) covers it, and the magic
// differs from a plain snapshot's in its last byte, which is how the wrapper
// picks the build to load it with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fulltext.h"
#include "index.h"
#include "snapshot.h"
#include "status.h"

namespace tabvec {

constexpr char kHybridMagic[8] = {'T', 'A', 'B', 'V', 'E', 'C', 0, 'T'};
constexpr uint32_t kHybridVersion = 1;

// How the wrapper tokenizes this store's texts (js/src/tokenize.ts's
// languages, by index) and the BM25 parameters its searches use. Stored in
// the snapshot so that a reopened store turns queries into the same terms.
struct TextOptions {
  uint32_t language = 0;
  // The version of the wrapper's tokenizer that made the stored terms: a
  // tokenizer that would make other terms of the same text refuses to load
  // them (the wrapper's check), rather than missing documents silently.
  uint32_t tokenizer = 1;
  float k1 = 1.2f;
  float b = 0.75f;
};
constexpr uint32_t kMaxTextLanguage = 15;

struct HybridHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint32_t language;
  float k1;
  float b;
  uint32_t tokenizer;
  uint64_t index_bytes;
  uint64_t text_bytes;
};
static_assert(sizeof(HybridHeader) == 48, "the hybrid snapshot header is 48 bytes");

// A document's text as the wrapper gives it: terms, each followed by a 0
// byte (fulltext.h). `present` false means the document has no text (it is
// found by vector search only), which differs from an empty text (a document
// of no terms, counted in BM25's statistics).
struct DocumentText {
  std::string_view terms;
  bool present = false;
};

class HybridIndex {
 public:
  static void* operator new(size_t bytes, const std::nothrow_t&) noexcept { return allocate(bytes); }
  static void operator delete(void* p) noexcept { release(p); }

  static Result create(const IndexOptions& options, const TextOptions& text, std::unique_ptr<HybridIndex>* out);
  // Wraps a loaded Index (its cap is max_memory_bytes) with the text section's index.
  static Result assemble(std::unique_ptr<Index> index, const TextOptions& text, const uint8_t* section,
                         size_t section_bytes, uint64_t max_memory_bytes, std::unique_ptr<HybridIndex>* out);

  Index& index() { return *index_; }
  const Index& index() const { return *index_; }
  const FullTextIndex& text() const { return text_; }
  const TextOptions& text_options() const { return text_options_; }
  uint64_t max_memory_bytes() const { return max_memory_bytes_; }

  // Index's writes, with each document's text.
  Result add(std::string_view id, const float* vector, size_t len, std::string_view metadata, DocumentText text,
             uint8_t* rows);
  Result upsert(std::string_view id, const float* vector, size_t len, std::string_view metadata, DocumentText text,
                uint8_t* rows);
  // All-or-nothing: if a text cannot be added, the batch's vectors are removed
  // again (remove_batch_vectors) and the failure returned.
  Result add_batch(size_t n, const std::string_view* ids, const float* vectors, size_t len,
                   const std::string_view* metadata, const DocumentText* texts, bool link_now, uint8_t* rows);
  Result remove(std::string_view id);
  Result consolidate(ConsolidateReport* report);

  // The k best documents for the query's terms by BM25 (fulltext.h).
  Result search_text(std::string_view query, uint32_t k, TextFilter filter, PodVector<TextHit>* out);

  // Caps the Index at what the text index leaves of the store's cap: called
  // before every write here, and by a caller before writing the Index
  // directly (set_metadata, link_pending), since the text's share moves.
  void cap_index();
  // Text upkeep: merges the delta or drops removed documents when due. Run
  // after single writes, before searches, and by a caller once a batch is
  // complete (not by add_batch, which may yet be taken back). Without memory
  // for it, it waits (searches stay exact).
  void upkeep();

  // The memory both hold, in the Index's components plus the text's.
  TextMemoryUse text_memory() const { return text_.memory(); }

  // Writing the snapshot: start() lays it out, write() hands out its bytes in
  // consecutive pieces, each part streamed from the index as it is (no
  // second copy of either half). Nothing may change the store in between.
  size_t serialize_start();
  size_t serialize_write(uint8_t* out, size_t len);

 private:
  HybridIndex() = default;
  static Result check_text_options(const TextOptions& text);
  Result prepare(std::string_view id, const float* vector, size_t len, std::string_view metadata, DocumentText text,
                 bool replace);


  std::unique_ptr<Index> index_;
  FullTextIndex text_;
  TextOptions text_options_;
  uint64_t max_memory_bytes_ = 0;

  // The snapshot being written.
  SnapshotWriter writer_;
  FullTextIndex::SectionCursor text_cursor_;
  HybridHeader header_{};
  size_t written_ = 0;
  Xxh64 checksum_{};
  uint8_t trailer_[4] = {};
};

// Loads a hybrid snapshot fed in pieces (the Index's part streams through
// SnapshotLoader; the text section is gathered, then loaded).
class HybridLoader {
 public:
  static Result start(uint64_t length, uint64_t max_memory_bytes, HybridLoader* out);
  Result feed(const uint8_t* bytes, size_t n);
  Result finish(std::unique_ptr<HybridIndex>* out);

 private:
  Result fail(Result r);
  uint64_t length_ = 0;
  uint64_t max_memory_bytes_ = 0;
  uint64_t fed_ = 0;
  HybridHeader header_{};
  SnapshotLoader index_;
  PodVector<uint8_t> section_;
  uint8_t trailer_[4] = {};
  Xxh64 checksum_{};
  Result failure_;
};

}  // namespace tabvec
