// A full-text index over the store's slots: BM25 (Lucene/Robertson) with
// top-k retrieval that skips the postings that cannot change the answer
// (issue 14, hybrid search). Tokenizing is the caller's (JS: Intl.Segmenter,
// lower-casing, optional stemming); the core receives each document, and each
// query, as its terms in UTF-8, every term followed by a 0 byte:
//
//   "deploy\0app\0deploy\0"   three terms (a 0 byte cannot occur inside a
//                             term that came from TextEncoder on a word)
//   ""                        no terms: an empty document, or an empty query
//
// An empty document is a document: it counts in N and the average length.
// A query is the set of its terms (repeats add nothing), scored by Lucene's
// BM25: sum over the query's terms t in the document of
//   idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg length)),
//   idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)),
// summed in double in the order the terms first appear in the query and
// rounded to float once, so a reference computed the same way is equal.
//
// Two tiers, as an LSM tree with one level:
//  - main: per term, its postings in slot order, in blocks of up to
//    kPostingBlock postings. A block is (slot delta << 1 | tf == 1) as a
//    LEB128 varint, then tf as a varint when it is not 1 (Lucene's trick:
//    most tfs are 1), in one ByteArena entry; beside it, its first and last
//    slot, count, largest tf and smallest document length, so search can
//    bound every block's BM25 contribution without decoding it.
//  - delta: documents added since the last cleanup(), each as its sorted
//    (term id, tf) list. Searching scores them all (they are few); cleanup()
//    merges them into main.
// add() appends to delta, so it never rewrites a block. remove() only marks
// the slot (unless it removes the newest document, which it takes back
// whole); its postings stay until cleanup() rebuilds main from the live
// documents. Until then the removed document still counts in the collection
// statistics (N, average length, document frequencies), as Lucene counts
// deleted documents until their segment merges; it is never returned.
// A slot removed can be given a new document at once (an upsert is remove
// then add); its old postings are told apart by the slot's state.
// cleanup() also renumbers terms in byte order and ends the slot array at
// the last live slot, so that after it an index is the same, byte for byte
// when serialized, whatever sequence of adds and removes led to its
// documents.
//
// Search walks main with block-max MaxScore (fulltext.cpp, search()): per
// window of slots, the terms whose block bounds cannot together reach the
// k-th score are only looked up for candidates the others produce, and
// windows that cannot reach it are skipped without decoding.
//
// Memory follows the core's rules: every array that grows with the postings,
// slots or delta is chunked (scratch sized by one document, one query or the
// vocabulary is one array), every byte comes from allocate() and is counted
// in memory(), and every operation validates, then checks the memory hook
// and reserves, then changes the index with steps that cannot fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chunked.h"
#include "id_map.h"
#include "memory.h"
#include "status.h"

namespace tabvec {

// Limits, stated once; the wrapper exports them to the tokenizer.
constexpr uint32_t kMaxTermBytes = 255;              // longer words are the tokenizer's to cut or drop
constexpr uint32_t kMaxDocumentTerms = 1u << 20;     // terms (with repeats) in one document
constexpr uint32_t kMaxQueryTerms = 256;             // terms (with repeats) in one query
constexpr uint32_t kMaxTextSlots = 0x7FFFFFFFu;      // slots are below this (index.h's kMaxSlots)
constexpr uint32_t kMaxVocabulary = 1u << 28;        // distinct terms
constexpr uint32_t kMaxTextK = 4096;                 // results of one search
constexpr float kMaxBm25K1 = 100.0f;                 // k1 in [0, kMaxBm25K1]; b in [0, 1]
constexpr uint32_t kPostingBlock = 128;              // postings per main block

constexpr char kTextSectionMagic[4] = {'T', 'V', 'F', 'T'};
constexpr uint32_t kTextSectionVersion = 1;

struct TextHit {
  uint32_t slot;
  float score;  // BM25, larger is better
};
// Higher score first; equal scores by slot, so every order is deterministic.
inline bool better(const TextHit& a, const TextHit& b) {
  return a.score > b.score || (a.score == b.score && a.slot < b.slot);
}

// The same shape as index.h's SearchFilter: true keeps the slot. Called only
// for a document whose score would put it among the results so far, at most
// once per document.
struct TextFilter {
  bool (*accept)(void* context, uint32_t slot) = nullptr;
  void* context = nullptr;
};

struct TextSearchParams {
  uint32_t k = 10;
  float k1 = 1.2f;  // Lucene's defaults
  float b = 0.75f;
  TextFilter filter;
  // Block-max MaxScore skipping; false scores every posting of every query
  // term (the same answer, for measuring what skipping saves).
  bool skip = true;
};

// What one search did, for the benchmark and tests.
struct TextSearchStats {
  uint64_t postings = 0;  // postings of the query's terms in main
  uint64_t decoded = 0;   // main postings decoded (whole blocks)
  uint64_t scored = 0;    // main postings whose BM25 term was computed
  uint64_t delta = 0;     // delta postings read (all of them: the delta is scanned)
};

struct TextMemoryUse {
  size_t used = 0;
  size_t reserved = 0;
};

// Asked before an operation reserves memory: may it reserve up to
// extra_bytes more? A failure is returned as is (Index passes its
// check_memory, which counts every component against max_memory_bytes).
struct TextMemoryCheck {
  Result (*check)(void* context, uint64_t extra_bytes) = nullptr;
  void* context = nullptr;
};

class FullTextIndex {
 public:
  FullTextIndex() = default;
  FullTextIndex(FullTextIndex&&) = default;
  FullTextIndex& operator=(FullTextIndex&&) = default;

  void set_memory_check(TextMemoryCheck check) { memory_check_ = check; }

  // Gives the slot its document. duplicate_id if the slot has one already;
  // invalid_argument for a slot out of range or malformed terms (empty, over
  // kMaxTermBytes, not UTF-8, or more than kMaxDocumentTerms of them).
  Result add(uint32_t slot, std::string_view terms);
  // The checks add() makes of a document's terms, alone (a batch's caller
  // checks every document before it writes any).
  static Result check_document(std::string_view terms) {
    size_t n = 0;
    return parse(terms, kMaxDocumentTerms, &n);
  }
  // add() in two steps, for a caller that learns the slot only after another
  // write that may fail (Index::add, upsert): prepare() validates the terms
  // and reserves everything a commit() to any slot up to slot_bound needs;
  // commit() then gives a slot without a document those terms and cannot
  // fail. The terms' bytes must stay as they are until then, and nothing but
  // remove() may call into the index between the two (a search or another
  // prepare() takes the scratch they share); prepare() alone changes nothing
  // a caller can observe.
  Result prepare(uint32_t slot_bound, std::string_view terms);
  void commit(uint32_t slot);
  bool prepared() const { return prepared_; }
  // Drops a prepare() that will not be committed (the write it was for
  // failed): the index is then as if it had never been prepared.
  void cancel() { prepared_ = false; }
  // unknown_id if the slot has no document. Never allocates. The newest
  // document (the last added since a cleanup, unless a prepare() is
  // pending), given to a slot that held none before, is taken out of the
  // statistics at once, so that taking back writes newest first restores the
  // index exactly; any other waits for cleanup().
  Result remove(uint32_t slot);
  bool has(uint32_t slot) const { return slot < slots_.size() && live(slots_.get(slot).state); }
  size_t size() const { return live_docs_; }
  size_t vocabulary() const { return terms_.size(); }
  size_t removed() const { return removed_docs_; }
  // The live document length (terms with repeats) of a slot, 0 without one.
  uint32_t length(uint32_t slot) const { return has(slot) ? slots_.get(slot).length : 0; }

  // The k best slots for the query by BM25, best first (ties by slot).
  // Unknown query terms and repeats add nothing. Allocates only its scratch,
  // which the filter must not disturb: it may not call into this index.
  Result search(std::string_view query, const TextSearchParams& params, PodVector<TextHit>* out,
                TextSearchStats* stats = nullptr);

  // True once the delta or the removed documents are worth a cleanup():
  // the delta is scanned by every search, and removed documents still count
  // in the statistics.
  bool cleanup_due() const;
  // Rebuilds main from the live documents (main's and delta's), dropping
  // removed ones and unused terms; all-or-nothing (it needs memory for the
  // new main beside the old). For Index::consolidate.
  Result cleanup();

  TextMemoryUse memory() const;

  // The section (layout in fulltext.cpp): exactly serialized_size() bytes.
  size_t serialized_size() const;
  void serialize(uint8_t* out) const;
  // The same bytes in consecutive pieces, so that a snapshot can be copied out
  // through a small buffer (HybridIndex) instead of a second copy of the
  // index: from a fresh cursor, each call writes the next min(len, left) bytes
  // and returns how many. The index must not change until the last piece.
  struct SectionCursor {
    uint32_t part = 0;
    size_t item = 0;
    size_t offset = 0;  // bytes of the item already written
  };
  size_t serialize_piece(SectionCursor* cursor, uint8_t* out, size_t len) const;
  // Replaces this index by the section's; on any failure (corrupt_snapshot,
  // unsupported_version, memory) it is left as it was.
  Result deserialize(const uint8_t* bytes, size_t length);

  void clear();

 private:
  enum State : uint8_t { kNone = 0, kMain = 1, kDelta = 2, kRemoved = 3 };
  static bool live(uint8_t state) { return state == kMain || state == kDelta; }
  struct SlotText {
    uint32_t length;  // live document's terms, with repeats; 0 otherwise
    uint32_t delta;   // kDelta: its index in delta_docs_
    uint8_t state;
    uint8_t pad[3];
  };
  struct Term {
    uint32_t first_block;  // its main blocks are blocks_[first_block, +block_count)
    uint32_t block_count;
    uint32_t df;           // held postings: main (live or not) + delta (live or not)
  };
  // 16 bytes: with ~1 block per distinct term, block records are a third of
  // a small corpus's index. The bounds saturate on the safe side.
  struct Block {
    uint32_t first_doc;
    uint32_t last_doc;
    uint32_t handle;      // ByteArena entry
    uint16_t min_length;  // smallest document length among its postings, at most kMaxBoundLength
    uint8_t max_tf;       // largest tf, kMaxBoundTf meaning that or more
    uint8_t count;        // postings, 1..kPostingBlock
  };
  static constexpr uint32_t kMaxBoundTf = 255;
  static constexpr uint32_t kMaxBoundLength = 65535;
  struct DeltaDoc {
    uint32_t slot;
    uint32_t length;
    uint32_t first;  // entries delta_entries_[first, +count)
    uint32_t count;
    uint32_t alive;
  };
  struct Entry {  // a (term, tf) pair of a delta document, or a parsed term
    uint32_t term;
    uint32_t tf;
  };
  // One query term's walk over its main blocks (search).
  struct Cursor {
    uint32_t block;    // current block (index in blocks_)
    uint32_t end;      // one past the term's last block
    uint32_t decoded;  // the block held in docs/tfs, or none
    uint32_t pos;      // in the decoded block
    uint32_t count;    // the decoded block's postings
    uint32_t* docs;
    uint32_t* tfs;
    uint32_t query_index;
    double idf;
    double window_bound;  // bound of its BM25 part in the current window
  };

  Result check_memory(uint64_t extra) const;
  static Result parse(std::string_view terms, uint32_t max_terms, size_t* count);
  void record_offsets(std::string_view terms);
  static size_t group_table_size(size_t count);
  void group_terms(std::string_view terms, size_t count, PodVector<Entry>* groups);
  double collection_length() const;
  void score_delta(const double* idf, double k1, double b, double avgdl, uint32_t k, const TextFilter& filter,
                   TextSearchStats* stats);
  void offer(uint32_t slot, double score, uint32_t k, const TextFilter& filter);
  bool decode(const Block& block, uint32_t* docs, uint32_t* tfs) const;
  void take_back_newest();
  size_t section_items(uint32_t part) const;
  std::string_view section_item(uint32_t part, size_t item, uint8_t* scratch) const;
  size_t block_bytes() const;

  TextMemoryCheck memory_check_;
  IdMap vocab_;                    // term bytes -> term id
  ChunkedArray<Term> terms_;       // per term id
  ChunkedArray<Block> blocks_;     // main, term by term
  ByteArena postings_;             // main's block bytes
  ChunkedArray<SlotText> slots_;   // per slot
  ChunkedArray<DeltaDoc> delta_docs_;
  ChunkedArray<Entry> delta_entries_;
  uint64_t main_postings_ = 0;
  // The statistics count held documents: live ones and removed ones not yet cleaned up.
  uint32_t held_docs_ = 0;
  uint64_t held_length_ = 0;
  uint32_t main_docs_ = 0;   // held documents in main (some may be empty: no postings)
  uint32_t main_slot_end_ = 0;  // main's documents (live or removed) are all below this slot
  uint64_t main_length_ = 0;
  uint32_t live_docs_ = 0;
  uint32_t removed_docs_ = 0;
  uint64_t delta_live_entries_ = 0;

  // prepare() to commit(): the terms held in the scratch below.
  bool prepared_ = false;
  size_t prepared_terms_ = 0;

  // Scratch reused by every call.
  PodVector<uint32_t> offsets_;       // parsed terms' start offsets
  PodVector<Entry> groups_;           // distinct terms with their counts
  PodVector<uint32_t> group_table_;   // group_terms()' hash table
  PodVector<std::string_view> new_terms_;
  PodVector<uint32_t> by_term_;      // groups (add) or query terms (search) in term id order
  PodVector<double> query_idf_;
  PodVector<uint32_t> query_terms_;
  PodVector<uint32_t> cursor_buffers_;
  PodVector<TextHit> hits_;
  PodVector<double> contributions_;
  PodVector<Cursor> cursors_;
};

}  // namespace tabvec
