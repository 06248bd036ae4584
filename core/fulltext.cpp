#include "fulltext.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "text.h"

namespace tabvec {

// The section is written field by field with memcpy, which is its
// little-endian form on every host tabvec runs on (as in snapshot.cpp).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the text section is written as little-endian memory");

namespace {

constexpr uint32_t kEnd = 0xFFFFFFFFu;  // past every slot

// The section's header; then, with no padding anywhere:
//   states        slot_count x u8 (0 none, 1 main, 2 delta, 3 removed)
//   lengths       slot_count x u32 (a live document's length, else 0)
//   term lengths  term_count x u8, in term id order
//   term bytes    term_bytes: the terms' UTF-8, back to back
//   term blocks   term_count x u32: how many main blocks each term has
//   blocks        block_count x 6 u32: first slot, last slot, largest tf,
//                 smallest length, postings, bytes (term by term, in slot order)
//   postings      payload_bytes: the blocks' bytes, back to back
//   delta docs    delta_docs x 4 u32: slot, length, entries, alive (0 or 1)
//   delta entries delta_entries x 2 u32: term id (increasing within a document), tf
// Everything that follows from these (document frequencies, the vocabulary's
// hash table, which delta document a slot has) is rebuilt on loading, and
// checked where it must agree (a live document's length is the sum of its tfs).
struct TextSectionHeader {
  char magic[4];
  uint32_t version;
  uint32_t header_bytes;
  uint32_t slot_count;
  uint32_t term_count;
  uint32_t block_count;
  uint32_t delta_docs;
  uint32_t delta_entries;
  uint32_t main_docs;
  uint32_t main_slot_end;  // main's documents are all below this slot
  uint64_t main_length;
  uint64_t term_bytes;
  uint64_t payload_bytes;
};
static_assert(sizeof(TextSectionHeader) == 64, "the text section header is 64 bytes");
constexpr size_t kBlockRecordBytes = 24;
constexpr size_t kDeltaDocRecordBytes = 16;
constexpr size_t kDeltaEntryRecordBytes = 8;

// LEB128; with out null it only counts.
size_t put_varint(uint8_t* out, uint32_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    if (out) out[n] = uint8_t(v | 0x80);
    ++n;
    v >>= 7;
  }
  if (out) out[n] = uint8_t(v);
  return n + 1;
}

// False if the varint runs past end or past 32 bits.
bool get_varint(const uint8_t*& p, const uint8_t* end, uint32_t* v) {
  uint32_t x = 0;
  for (unsigned shift = 0; shift < 35; shift += 7) {
    if (p == end) return false;
    const uint8_t byte = *p++;
    if (shift == 28 && byte > 0x0F) return false;
    x |= uint32_t(byte & 0x7F) << shift;
    if (!(byte & 0x80)) {
      *v = x;
      return true;
    }
  }
  return false;
}

// A block's bytes: per posting (slot - previous slot) << 1 | (tf == 1), then
// tf if it is not 1. The first posting's previous slot is the block's first
// slot (so its delta is 0). With out null it only counts.
size_t encode_block(const uint32_t* docs, const uint32_t* tfs, size_t n, uint8_t* out) {
  size_t at = 0;
  uint32_t prev = docs[0];
  for (size_t i = 0; i < n; ++i) {
    at += put_varint(out ? out + at : nullptr, (docs[i] - prev) << 1 | (tfs[i] == 1 ? 1u : 0u));
    if (tfs[i] != 1) at += put_varint(out ? out + at : nullptr, tfs[i]);
    prev = docs[i];
  }
  return at;
}

// BM25 as Lucene and Robertson define it; the test's reference spells it out
// the same way. Scores are summed in double, in the query's term order, and
// rounded to float once.
inline double bm25_idf(double docs, double df) { return std::log(1.0 + (docs - df + 0.5) / (df + 0.5)); }
inline double bm25_tf(double tf, double length, double k1, double b, double avgdl) {
  return tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * length / avgdl));
}

// True when a document whose score is at most `bound` can neither beat nor
// tie the k-th result's score theta: its summed score may differ from the
// summed bound by rounding (far below 1e-6 relative), and then rounds to
// float (2^-24 relative), so this leaves a margin over both.
inline bool surely_below(double bound, float theta) { return bound * (1 + 1e-6) < double(theta) * (1 - 1e-6); }

// The largest BM25 tf part of a block's postings: largest tf, smallest
// length (the part grows with tf and shrinks with length). A saturated tf
// stands for any tf: the part's limit as tf grows is k1 + 1.
inline double block_tf_bound(uint32_t max_tf, uint32_t min_length, double k1, double b, double avgdl, bool saturated) {
  return saturated ? k1 + 1.0 : bm25_tf(max_tf, min_length, k1, b, avgdl);
}

void put_u32(uint8_t*& out, uint32_t v) {
  std::memcpy(out, &v, 4);
  out += 4;
}
uint32_t get_u32(const uint8_t*& in) {
  uint32_t v;
  std::memcpy(&v, in, 4);
  in += 4;
  return v;
}

// Heapsort of u32s in the caller's order: the one sort of this file (each
// std::sort comparator would add ~1 KB to the .wasm; these sorts are of a
// document's or a query's terms, and of the vocabulary once per cleanup).
using Less = bool (*)(const void* context, uint32_t a, uint32_t b);
void sort_u32(uint32_t* a, size_t n, Less less, const void* context) {
  auto sift = [&](size_t root, size_t end) {
    for (size_t child; (child = 2 * root + 1) < end; root = child) {
      if (child + 1 < end && less(context, a[child], a[child + 1])) ++child;
      if (!less(context, a[root], a[child])) return;
      std::swap(a[root], a[child]);
    }
  };
  for (size_t i = n / 2; i-- > 0;) sift(i, n);
  for (size_t end = n; end-- > 1;) {
    std::swap(a[0], a[end]);
    sift(0, end);
  }
}

// A number for a message, to three decimals, as index.cpp writes them
// (std::to_string(float) would link printf: ~3 KB gzip).
std::string describe(float v) {
  if (std::isnan(v)) return "NaN";
  if (!(std::fabs(v) < 1e9f)) return v > 0 ? "more than 1e9" : "less than -1e9";
  const long long thousandths = std::llround(double(v) * 1000);
  const long long frac = std::llabs(thousandths % 1000);
  std::string s = (thousandths < 0 ? "-" : "") + std::to_string(std::llabs(thousandths / 1000)) + ".";
  for (long long unit : {100, 10, 1}) s += char('0' + frac / unit % 10);
  return s;
}

// "<what> <n><rest>": the messages below name the offending index or value.
std::string said(const char* what, uint64_t n, const char* rest = "") { return what + std::to_string(n) + rest; }

Result corrupt(const std::string& what) {
  return Result::failure(Status::corrupt_snapshot, "the text index section is corrupt: " + what);
}
Result corrupt_at(const char* what, uint64_t n, const char* rest) { return corrupt(said(what, n, rest)); }

}  // namespace

// ---------------------------------------------------------------------------
// Input.

Result FullTextIndex::check_memory(uint64_t extra) const {
  if (!memory_check_.check) return Result::success();
  return memory_check_.check(memory_check_.context, extra);
}

// Checks a 0-terminated term list and counts its terms; allocates nothing.
Result FullTextIndex::parse(std::string_view terms, uint32_t max_terms, size_t* count) {
  size_t n = 0;
  for (size_t at = 0; at < terms.size();) {
    const void* nul = std::memchr(terms.data() + at, 0, terms.size() - at);
    if (!nul) return Result::failure(Status::invalid_argument, "the last term is not followed by a 0 byte");
    const size_t end = size_t(static_cast<const char*>(nul) - terms.data());
    if (end == at) return Result::failure(Status::invalid_argument, said("term ", n, " is empty"));
    if (end - at > kMaxTermBytes)
      return Result::failure(Status::invalid_argument, "term " + std::to_string(n) + " has " +
                                                           std::to_string(end - at) + " bytes; the most is " +
                                                           std::to_string(kMaxTermBytes));
    if (!valid_utf8(terms.substr(at, end - at)))
      return Result::failure(Status::invalid_argument, said("term ", n, " is not valid UTF-8"));
    if (++n > max_terms)
      return Result::failure(Status::invalid_argument, said("more than ", max_terms, " terms"));
    at = end + 1;
  }
  *count = n;
  return Result::success();
}

// Where each of a parsed list's terms starts, into offsets_ (reserved for them).
void FullTextIndex::record_offsets(std::string_view terms) {
  offsets_.clear();
  for (size_t at = 0; at < terms.size(); at += std::strlen(terms.data() + at) + 1) offsets_.push_back(uint32_t(at));
}

// The table group_terms() needs for `count` terms: a power of two at least
// twice as large, so probes stay short.
size_t FullTextIndex::group_table_size(size_t count) {
  size_t size = 16;
  while (size < 2 * count) size *= 2;
  return size;
}

// The distinct terms of a parsed list in the order they first appear, each
// {offset, count}, into groups (reserved for `count`), through an open-
// addressing table in group_table_ (reserved for group_table_size(count)).
// Sorting the terms instead was two thirds of add()'s time (strcmp).
void FullTextIndex::group_terms(std::string_view terms, size_t count, PodVector<Entry>* groups) {
  const char* base = terms.data();
  const size_t mask = group_table_size(count) - 1;
  group_table_.clear();
  group_table_.resize(mask + 1);  // zeroed: 0 is an empty entry, else a group's index + 1
  groups->clear();
  for (size_t i = 0; i < count; ++i) {
    const uint32_t at = offsets_[i];
    const size_t end = i + 1 < count ? offsets_[i + 1] - 1 : terms.size() - 1;
    size_t probe = IdMap::hash(std::string_view(base + at, end - at)) & mask;
    for (;; probe = (probe + 1) & mask) {
      const uint32_t entry = group_table_[probe];
      if (entry == 0) {
        groups->push_back({at, 1});
        group_table_[probe] = uint32_t(groups->size());
        break;
      }
      Entry& group = (*groups)[entry - 1];
      if (std::strcmp(base + group.term, base + at) == 0) {
        ++group.tf;
        break;
      }
    }
  }
}

Result FullTextIndex::add(uint32_t slot, std::string_view terms) {
  if (has(slot)) return Result::failure(Status::duplicate_id, said("slot ", slot, " already has a text"));
  if (Result r = prepare(slot, terms); !r.ok()) return r;
  commit(slot);
  return Result::success();
}

Result FullTextIndex::prepare(uint32_t slot_bound, std::string_view terms) {
  prepared_ = false;
  if (slot_bound >= kMaxTextSlots)
    return Result::failure(Status::invalid_argument, said("slot ", slot_bound, " is out of range"));
  size_t n = 0;
  if (Result r = parse(terms, kMaxDocumentTerms, &n); !r.ok()) return r;
  // Held documents (live and removed) stay below kMaxTextSlots, so every
  // count of them, and of a term's postings, fits 32 bits.
  if (delta_entries_.size() + n > 0xFFFFFFFFu || held_docs_ >= kMaxTextSlots - 1)
    return Result::failure(Status::invalid_argument, "the delta is full: cleanup() first");
  // The worst case: every term new and distinct. Scratch for n terms; the
  // vocabulary's id map as Index::bytes_to_add counts one (its per-id
  // arrays and the terms' bytes); and each chunked array grown by whole
  // chunks: a chunk can be far larger than the records that open it.
  const uint64_t worst = uint64_t(n) * (4 + sizeof(Entry) + 4 + sizeof(std::string_view)) + 4 * group_table_size(n) +
                         uint64_t(ChunkedArray<uint32_t>().bytes_to_grow(n)) * 3 + 3 * 4096 +
                         ByteArena().bytes_to_append(terms.size(), n) + terms_.bytes_to_grow(terms_.size() + n) +
                         delta_entries_.bytes_to_grow(delta_entries_.size() + n) +
                         slots_.bytes_to_grow(size_t(slot_bound) + 1) + delta_docs_.bytes_to_grow(delta_docs_.size() + 1);
  if (Result r = check_memory(worst); !r.ok()) return r;
  if (!offsets_.reserve(n) || !groups_.reserve(n) || !by_term_.reserve(n) || !new_terms_.reserve(n) ||
      !group_table_.reserve(group_table_size(n)))
    return Result::out_of_memory();
  record_offsets(terms);
  group_terms(terms, n, &groups_);
  // Which terms are new, and their ids in the order they first appear.
  new_terms_.clear();
  for (Entry& g : groups_) {
    const std::string_view term(terms.data() + g.term);
    uint32_t id = vocab_.find(term);
    if (id == IdMap::kNotFound) {
      id = uint32_t(terms_.size() + new_terms_.size());
      new_terms_.push_back(term);
    }
    g.term = id;
  }
  if (terms_.size() + new_terms_.size() > kMaxVocabulary)
    return Result::failure(Status::invalid_argument, said("the vocabulary would pass ", kMaxVocabulary, " terms"));
  const size_t term_count = terms_.size() + new_terms_.size();
  if (!vocab_.reserve(term_count, new_terms_.data(), new_terms_.size()) || !terms_.reserve(term_count) ||
      !delta_entries_.reserve(delta_entries_.size() + groups_.size()) || !delta_docs_.reserve(delta_docs_.size() + 1) ||
      !slots_.reserve(size_t(slot_bound) + 1))
    return Result::out_of_memory();
  prepared_terms_ = n;
  prepared_ = true;
  return Result::success();
}

void FullTextIndex::commit(uint32_t slot) {
  // Nothing below can fail: prepare() reserved it all.
  prepared_ = false;
  const size_t n = prepared_terms_;
  for (const std::string_view term : new_terms_) {
    vocab_.insert(term, uint32_t(terms_.size()));
    terms_.push_back({0, 0, 0});
  }
  // A delta document lists its terms by id.
  by_term_.clear();
  for (size_t i = 0; i < groups_.size(); ++i) by_term_.push_back(uint32_t(i));
  sort_u32(
      by_term_.data(), by_term_.size(),
      [](const void* c, uint32_t a, uint32_t b) {
        const Entry* groups = static_cast<const Entry*>(c);
        return groups[a].term < groups[b].term;
      },
      groups_.data());
  const uint32_t first = uint32_t(delta_entries_.size());
  for (const uint32_t i : by_term_) {
    const Entry g = groups_[i];
    delta_entries_.push_back(g);
    Term t = terms_.get(g.term);
    ++t.df;
    terms_.set(g.term, t);
  }
  if (slot >= slots_.size()) slots_.resize(size_t(slot) + 1);
  slots_.set(slot, {uint32_t(n), uint32_t(delta_docs_.size()), kDelta, {}});
  delta_docs_.push_back({slot, uint32_t(n), first, uint32_t(groups_.size()), 1});
  delta_live_entries_ += groups_.size();
  ++held_docs_;
  held_length_ += n;
  ++live_docs_;
}

Result FullTextIndex::remove(uint32_t slot) {
  if (!has(slot)) return Result::failure(Status::unknown_id, said("slot ", slot, " has no text"));
  SlotText s = slots_.get(slot);
  if (s.state == kDelta && s.delta + 1 == delta_docs_.size() && !prepared_ && slot >= main_slot_end_) {
    // Taken back whole only if the slot held nothing before this document:
    // no main document (all below main_slot_end_) and no earlier delta one.
    bool reused = false;
    for (size_t i = 0; i + 1 < delta_docs_.size() && !reused; ++i) reused = delta_docs_.get(i).slot == slot;
    if (!reused) {
      take_back_newest();
      return Result::success();
    }
  }
  if (s.state == kDelta) {
    DeltaDoc d = delta_docs_.get(s.delta);
    d.alive = 0;
    delta_docs_.set(s.delta, d);
    delta_live_entries_ -= d.count;
  }
  slots_.set(slot, {0, 0, kRemoved, {}});
  --live_docs_;
  ++removed_docs_;
  return Result::success();
}

// Removes the newest document (the last of the delta) from everything it
// added: its postings, its share of the statistics, the terms only it held
// and the slots past the last one still in use. Removing a write just made
// (a batch taken back, newest first) so leaves the index byte for byte as it
// was, scores included. Never allocates.
void FullTextIndex::take_back_newest() {
  const DeltaDoc d = delta_docs_.pop_back();
  for (uint32_t i = d.first; i < d.first + d.count; ++i) {
    const Entry e = delta_entries_.get(i);
    Term t = terms_.get(e.term);
    --t.df;
    terms_.set(e.term, t);
  }
  delta_entries_.shrink_to(d.first);
  // Terms nothing holds any more are the ones it brought: the newest ids.
  while (terms_.size() > 0 && terms_.get(terms_.size() - 1).df == 0 && terms_.get(terms_.size() - 1).block_count == 0) {
    vocab_.erase_slot(uint32_t(terms_.size() - 1));
    terms_.pop_back();
  }
  slots_.set(d.slot, {0, 0, kNone, {}});
  size_t end = slots_.size();
  while (end > 0 && slots_.get(end - 1).state == kNone) --end;
  slots_.shrink_to(end);
  --held_docs_;
  held_length_ -= d.length;
  --live_docs_;
  delta_live_entries_ -= d.count;
}

// ---------------------------------------------------------------------------
// Search.

bool FullTextIndex::decode(const Block& block, uint32_t* docs, uint32_t* tfs) const {
  const std::string_view bytes = postings_.get(block.handle);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* end = p + bytes.size();
  uint32_t prev = block.first_doc;
  // Slots stay below kMaxTextSlots, so the sums below cannot wrap around.
  if (prev >= kMaxTextSlots) return false;
  for (uint32_t i = 0; i < block.count; ++i) {
    uint32_t code, tf = 1;
    if (!get_varint(p, end, &code)) return false;
    const uint32_t delta = code >> 1;
    if ((i == 0) != (delta == 0) || delta >= kMaxTextSlots - prev) return false;
    if (!(code & 1) && (!get_varint(p, end, &tf) || tf < 2)) return false;
    prev += delta;
    docs[i] = prev;
    tfs[i] = tf;
  }
  return p == end && prev == block.last_doc;
}

void FullTextIndex::offer(uint32_t slot, double score, uint32_t k, const TextFilter& filter) {
  const TextHit hit{slot, float(score)};
  if (hits_.size() == k && !better(hit, hits_.back())) return;
  if (filter.accept && !filter.accept(filter.context, slot)) return;
  size_t lo = 0, hi = hits_.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (better(hits_[mid], hit)) lo = mid + 1;
    else hi = mid;
  }
  if (hits_.size() == k) hits_.pop_back();
  hits_.insert(lo, hit);
}

// The delta is scanned whole: each live document's sorted (term, tf) list
// is merged with the query's terms sorted by id (by_term_).
void FullTextIndex::score_delta(const double* idf, double k1, double b, double avgdl, uint32_t k,
                                const TextFilter& filter, TextSearchStats* stats) {
  const size_t nq = query_terms_.size();
  for (size_t d = 0; d < delta_docs_.size(); ++d) {
    const DeltaDoc doc = delta_docs_.get(d);
    if (!doc.alive) continue;
    stats->delta += doc.count;
    bool any = false;
    for (size_t q = 0; q < nq; ++q) contributions_[q] = 0;
    size_t q = 0;
    for (uint32_t e = 0; e < doc.count && q < nq; ++e) {
      const Entry entry = delta_entries_.get(doc.first + e);
      while (q < nq && query_terms_[by_term_[q]] < entry.term) ++q;
      if (q < nq && query_terms_[by_term_[q]] == entry.term) {
        const uint32_t qi = by_term_[q];
        contributions_[qi] = idf[qi] * bm25_tf(entry.tf, doc.length, k1, b, avgdl);
        any = true;
      }
    }
    if (!any) continue;
    double score = 0;
    for (size_t i = 0; i < nq; ++i) score += contributions_[i];
    offer(doc.slot, score, k, filter);
  }
}

Result FullTextIndex::search(std::string_view query, const TextSearchParams& params, PodVector<TextHit>* out,
                             TextSearchStats* stats) {
  if (params.k < 1 || params.k > kMaxTextK)
    return Result::failure(Status::invalid_argument, said("k is ", params.k, "; it must be 1..") + std::to_string(kMaxTextK));
  if (!(params.k1 >= 0 && params.k1 <= kMaxBm25K1))
    return Result::failure(Status::invalid_argument, "k1 is " + describe(params.k1) + "; it must be 0.." + std::to_string(uint32_t(kMaxBm25K1)));
  if (!(params.b >= 0 && params.b <= 1))
    return Result::failure(Status::invalid_argument, "b is " + describe(params.b) + "; it must be 0..1");
  prepared_ = false;
  TextSearchStats local;
  if (!stats) stats = &local;
  *stats = {};
  size_t n = 0;
  if (Result r = parse(query, kMaxQueryTerms, &n); !r.ok()) return r;
  // Scratch for n terms; it stays reserved for the next search. Like
  // Index::search, a search is not refused by the memory cap (a store at its
  // cap must stay searchable): its scratch is bounded by the query, and only
  // running out of memory fails it.
  if (!offsets_.reserve(n) || !by_term_.reserve(n) || !query_idf_.reserve(n) || !query_terms_.reserve(n) || !contributions_.reserve(n) ||
      !cursor_buffers_.reserve(n * 2 * kPostingBlock) || !hits_.reserve(size_t(params.k) + 1) ||
      !cursors_.reserve(n) || !out->reserve(params.k))
    return Result::out_of_memory();
  out->clear();
  hits_.clear();
  if (held_docs_ == 0) return Result::success();
  record_offsets(query);

  // The query's distinct known terms, in the order they first appear.
  query_terms_.clear();
  query_idf_.clear();
  for (const uint32_t at : offsets_) {
    const uint32_t id = vocab_.find(std::string_view(query.data() + at));
    if (id == IdMap::kNotFound || std::find(query_terms_.begin(), query_terms_.end(), id) != query_terms_.end())
      continue;
    query_terms_.push_back(id);
    query_idf_.push_back(bm25_idf(held_docs_, terms_.get(id).df));
  }
  const size_t nq = query_terms_.size();
  by_term_.clear();
  for (size_t i = 0; i < nq; ++i) by_term_.push_back(uint32_t(i));
  sort_u32(
      by_term_.data(), nq,
      [](const void* c, uint32_t a, uint32_t b) {
        const uint32_t* terms = static_cast<const uint32_t*>(c);
        return terms[a] < terms[b];
      },
      query_terms_.data());
  contributions_.resize(nq);
  const double k1 = params.k1, b = params.b, avgdl = double(held_length_) / held_docs_;
  const uint32_t k = params.k;

  score_delta(query_idf_.data(), k1, b, avgdl, k, params.filter, stats);

  // Main: block-max MaxScore over windows of slots. A window ends at the
  // first last-slot of the cursors' current blocks, so inside it each term's
  // postings lie in one block whose maxima bound their scores. Terms are
  // ordered by that bound; the longest prefix whose bounds add up to less
  // than the k-th score so far is non-essential: a document holding only
  // those terms cannot make the results. Only the essential terms' postings
  // are walked; the others are looked up (their blocks decoded) for the
  // candidates found, in falling bound order, and only while the remaining
  // bound could still lift the candidate into the results. A window where
  // every term is non-essential is skipped without decoding anything.
  // A cursor skips blocks by their last slot without decoding them; a block
  // is decoded into the cursor's buffers only when a posting in it is read.
  PodVector<Cursor>& cursors = cursors_;
  cursors.clear();
  for (size_t i = 0; i < nq; ++i) {
    const Term t = terms_.get(query_terms_[i]);
    if (t.block_count == 0) continue;
    Cursor c{};
    c.block = t.first_block;
    c.end = t.first_block + t.block_count;
    c.decoded = kEnd;
    c.docs = cursor_buffers_.data() + cursors.size() * 2 * kPostingBlock;
    c.tfs = c.docs + kPostingBlock;
    c.query_index = uint32_t(i);
    c.idf = query_idf_[i];
    for (uint32_t bl = c.block; bl < c.end; ++bl) stats->postings += blocks_.get(bl).count;
    cursors.push_back(c);
  }
  const size_t nc = cursors.size();
  uint32_t order[kMaxQueryTerms];     // cursor indices by window bound, rising
  double prefix[kMaxQueryTerms + 1];  // prefix[i]: sum of the first i bounds in that order
  auto seek_block = [&](Cursor& c, uint32_t target) {
    while (c.block < c.end && blocks_.get(c.block).last_doc < target) ++c.block;
  };
  // Positions c at its first posting >= target (target <= its block's last slot).
  auto seek = [&](Cursor& c, uint32_t target) {
    if (c.decoded != c.block) {
      const Block bl = blocks_.get(c.block);
      const bool ok = decode(bl, c.docs, c.tfs);
      assert(ok);
      (void)ok;
      c.decoded = c.block;
      c.pos = 0;
      c.count = bl.count;
      stats->decoded += bl.count;
    }
    while (c.docs[c.pos] < target) ++c.pos;
  };
  uint32_t floor = 0;  // every slot below it is done
  for (;;) {
    // The window: [lo, hi].
    uint32_t lo = kEnd, hi = kEnd;
    for (size_t i = 0; i < nc; ++i) {
      Cursor& c = cursors[i];
      seek_block(c, floor);
      if (c.block == c.end) continue;
      const Block bl = blocks_.get(c.block);
      if (c.decoded == c.block) seek(c, floor);
      const uint32_t next = c.decoded == c.block ? c.docs[c.pos] : std::max(bl.first_doc, floor);
      lo = std::min(lo, next);
    }
    if (lo == kEnd) break;
    for (size_t i = 0; i < nc; ++i) {
      Cursor& c = cursors[i];
      seek_block(c, lo);
      if (c.block < c.end) hi = std::min(hi, blocks_.get(c.block).last_doc);
    }
    const bool full = hits_.size() == k && params.skip;
    const float theta = full ? hits_.back().score : 0.0f;
    size_t essential = 0;  // order[essential..] are essential
    for (size_t i = 0; i < nc; ++i) {
      Cursor& c = cursors[i];
      c.window_bound = 0;
      if (c.block < c.end) {
        const Block bl = blocks_.get(c.block);
        if (std::max(bl.first_doc, lo) <= hi)
          c.window_bound =
              c.idf * block_tf_bound(bl.max_tf, bl.min_length, k1, b, avgdl, bl.max_tf == kMaxBoundTf);
      }
      size_t at = i;  // insertion sort: a handful of terms
      while (at > 0 && cursors[order[at - 1]].window_bound > c.window_bound) {
        order[at] = order[at - 1];
        --at;
      }
      order[at] = uint32_t(i);
    }
    prefix[0] = 0;
    for (size_t i = 0; i < nc; ++i) prefix[i + 1] = prefix[i] + cursors[order[i]].window_bound;
    if (full)
      while (essential < nc && surely_below(prefix[essential + 1], theta)) ++essential;
    if (essential < nc) {
      for (size_t i = essential; i < nc; ++i) {
        Cursor& c = cursors[order[i]];
        if (c.window_bound > 0) seek(c, lo);
      }
      for (;;) {
        uint32_t d = kEnd;
        for (size_t i = essential; i < nc; ++i) {
          const Cursor& c = cursors[order[i]];
          if (c.window_bound > 0 && c.pos < c.count && c.docs[c.pos] <= hi)
            d = std::min(d, c.docs[c.pos]);
        }
        if (d == kEnd) break;
        const SlotText s = slots_.get(d);
        const bool alive = s.state == kMain;
        double partial = 0;
        // All of them: the delta scan left values for terms without main postings.
        for (size_t i = 0; i < nq; ++i) contributions_[i] = 0;
        for (size_t i = essential; i < nc; ++i) {
          Cursor& c = cursors[order[i]];
          if (c.window_bound == 0 || c.pos >= c.count || c.docs[c.pos] != d) continue;
          if (alive) {
            const double part = c.idf * bm25_tf(c.tfs[c.pos], s.length, k1, b, avgdl);
            contributions_[c.query_index] = part;
            partial += part;
            ++stats->scored;
          }
          ++c.pos;
        }
        if (!alive) continue;
        // The k-th score as it is now (it rises as the window's documents come in).
        const bool full_now = hits_.size() == k && params.skip;
        const float theta_now = full_now ? hits_.back().score : 0.0f;
        bool pruned = false;
        for (size_t i = essential; i-- > 0;) {
          Cursor& c = cursors[order[i]];
          if (c.window_bound == 0) continue;
          if (full_now && surely_below(partial + prefix[i + 1], theta_now)) {
            pruned = true;
            break;
          }
          seek(c, d);
          if (c.docs[c.pos] == d) {
            const double part = c.idf * bm25_tf(c.tfs[c.pos], s.length, k1, b, avgdl);
            contributions_[c.query_index] = part;
            partial += part;
            ++stats->scored;
          }
        }
        if (pruned) continue;
        double score = 0;
        for (size_t i = 0; i < nq; ++i) score += contributions_[i];
        offer(d, score, k, params.filter);
      }
    }
    if (hi == kEnd) break;
    floor = hi + 1;
  }
  out->append(hits_.data(), hits_.size());
  return Result::success();
}

// ---------------------------------------------------------------------------
// Cleanup.

bool FullTextIndex::cleanup_due() const {
  // The delta costs every search a scan; removed documents skew the statistics.
  return delta_docs_.size() > 64 + main_docs_ / 8 || removed_docs_ > 16 + live_docs_ / 8;
}

Result FullTextIndex::cleanup() {
  prepared_ = false;
  if (removed_docs_ == 0 && delta_docs_.size() == 0) return Result::success();
  const size_t term_count = terms_.size();
  const uint64_t postings = main_postings_ + delta_live_entries_;
  const uint64_t blocks_most = term_count + postings / kPostingBlock + 1;
  // Everything below at its largest, beside what is there now.
  const uint64_t worst = uint64_t(term_count) * (4 + 4 + sizeof(Term) + 3 * 4 + 5) + vocab_.reserved_bytes() +
                         delta_live_entries_ * sizeof(Entry) + blocks_most * (sizeof(Block) + 4) +
                         postings * 10 + blocks_most * 3 + ByteArena::kMaxChunkBytes + 4 * 4096;
  if (Result r = check_memory(worst); !r.ok()) return r;

  // The live delta postings per term, in slot order: a counting sort.
  // Scratch that grows with the vocabulary or the postings is chunked like
  // everything else: a contiguous copy of a large delta could fail where
  // chunks would not, and would leave the heap that much larger.
  ChunkedArray<uint32_t> starts;  // starts[t]..starts[t + 1]: term t's delta postings
  ChunkedArray<Entry> inverted;   // {slot, tf}
  // The surviving terms are sorted, so they stay one array (4 bytes a term;
  // IdMap::reserve takes its terms as one array too).
  PodVector<uint32_t> survivors;
  ChunkedArray<uint32_t> lengths;  // each new block's bytes
  PodVector<uint32_t> buffer;   // a decoded block, and a block being built
  if (!starts.reserve(term_count + 1) || !inverted.reserve(delta_live_entries_) ||
      !survivors.reserve(term_count) || !lengths.reserve(blocks_most) || !buffer.try_resize(4 * kPostingBlock))
    return Result::out_of_memory();
  starts.resize(term_count + 1);
  inverted.resize(delta_live_entries_);
  for (size_t d = 0; d < delta_docs_.size(); ++d) {
    const DeltaDoc doc = delta_docs_.get(d);
    if (!doc.alive) continue;
    for (uint32_t e = 0; e < doc.count; ++e) {
      const uint32_t at = delta_entries_.get(doc.first + e).term + 1;
      starts.set(at, starts.get(at) + 1);
    }
  }
  for (size_t t = 0; t < term_count; ++t) starts.set(t + 1, starts.get(t + 1) + starts.get(t));
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    const SlotText s = slots_.get(slot);
    if (s.state != kDelta) continue;
    const DeltaDoc doc = delta_docs_.get(s.delta);
    for (uint32_t e = 0; e < doc.count; ++e) {
      const Entry entry = delta_entries_.get(doc.first + e);
      const uint32_t at = starts.get(entry.term);
      inverted.set(at, {uint32_t(slot), entry.tf});
      starts.set(entry.term, at + 1);
    }
  }
  // starts[t] now ends term t's run, so term t's run starts at starts[t - 1].
  auto delta_begin = [&](size_t t) { return t == 0 ? 0u : starts.get(t - 1); };

  uint32_t* const docs = buffer.data();
  uint32_t* const tfs = docs + kPostingBlock;
  uint32_t* const out_docs = tfs + kPostingBlock;
  uint32_t* const out_tfs = out_docs + kPostingBlock;
  // Merges a term's live main postings with its live delta ones (disjoint:
  // a slot is either kMain or kDelta) and hands each block of up to
  // kPostingBlock to emit(docs, tfs, n).
  // The three passes over the merged postings differ only in what they do
  // with a block: one emit() for all three keeps one copy of the merge.
  enum Pass { kAny, kMeasure, kWrite } pass = kAny;
  bool any = false;
  size_t block_count = 0;
  IdMap vocab;
  ChunkedArray<Term> terms;
  ChunkedArray<Block> blocks;
  ByteArena bytes;
  Term term{};
  uint8_t encoded[kPostingBlock * 10];
  auto emit = [&](const uint32_t* d, const uint32_t* f, size_t n) {
    if (pass == kAny) {
      any = true;
    } else if (pass == kMeasure) {
      lengths.push_back(uint32_t(encode_block(d, f, n, nullptr)));
      ++block_count;
    } else {
      uint32_t max_tf = 0, min_length = kMaxBoundLength;
      for (size_t i = 0; i < n; ++i) {
        max_tf = std::max(max_tf, f[i]);
        min_length = std::min(min_length, slots_.get(d[i]).length);
      }
      Block block{d[0], d[n - 1], 0, uint16_t(min_length), uint8_t(std::min(max_tf, kMaxBoundTf)), uint8_t(n)};
      const size_t length = encode_block(d, f, n, encoded);
      block.handle = bytes.append(std::string_view(reinterpret_cast<const char*>(encoded), length));
      assert(block.handle != ByteArena::kNone);
      blocks.push_back(block);
      ++term.block_count;
      term.df += uint32_t(n);
    }
  };
  auto merge_term = [&](uint32_t t) {
    const Term term = terms_.get(t);
    size_t di = delta_begin(t);
    const size_t dend = starts.get(t);
    size_t n = 0;
    auto put = [&](uint32_t doc, uint32_t tf) {
      out_docs[n] = doc;
      out_tfs[n] = tf;
      if (++n == kPostingBlock) {
        emit(out_docs, out_tfs, n);
        n = 0;
      }
    };
    for (uint32_t bl = term.first_block; bl < term.first_block + term.block_count; ++bl) {
      const Block block = blocks_.get(bl);
      const bool ok = decode(block, docs, tfs);
      assert(ok);
      (void)ok;
      for (uint32_t i = 0; i < block.count; ++i) {
        if (slots_.get(docs[i]).state != kMain) continue;
        for (Entry e; di < dend && (e = inverted.get(di)).term < docs[i]; ++di) put(e.term, e.tf);
        put(docs[i], tfs[i]);
      }
    }
    for (; di < dend; ++di) put(inverted.get(di).term, inverted.get(di).tf);
    if (n > 0) emit(out_docs, out_tfs, n);
  };

  // Surviving terms, numbered in byte order, and the new blocks' sizes.
  for (uint32_t t = 0; t < term_count; ++t) {
    any = starts.get(t) > delta_begin(t);
    if (!any) merge_term(t);
    if (any) survivors.push_back(t);
  }
  sort_u32(
      survivors.data(), survivors.size(),
      [](const void* c, uint32_t a, uint32_t b) {
        const IdMap* vocab = static_cast<const IdMap*>(c);
        return vocab->id_of(a) < vocab->id_of(b);
      },
      &vocab_);
  pass = kMeasure;
  for (const uint32_t t : survivors) merge_term(t);

  // The new main, reserved in full beside the old one.
  {
    PodVector<std::string_view> views;
    if (!views.reserve(survivors.size())) return Result::out_of_memory();
    for (const uint32_t t : survivors) views.push_back(vocab_.id_of(t));
    if (!vocab.reserve(survivors.size(), views.data(), views.size()) || !terms.reserve(survivors.size()) ||
        !blocks.reserve(block_count) ||
        !bytes.reserve_lengths(
            block_count,
            [](const void* c, size_t i) { return size_t(static_cast<const ChunkedArray<uint32_t>*>(c)->get(i)); },
            &lengths))
      return Result::out_of_memory();
  }
  pass = kWrite;
  uint64_t main_postings = 0;
  for (const uint32_t t : survivors) {
    term = {uint32_t(blocks.size()), 0, 0};
    merge_term(t);
    vocab.insert(vocab_.id_of(t), uint32_t(terms.size()));
    terms.push_back(term);
    main_postings += term.df;
  }

  // Commit. The slot array then ends at the last live slot, as it would in
  // an index that only ever held the live documents.
  uint32_t docs_now = 0;
  uint64_t length_now = 0;
  size_t slot_end = 0;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    SlotText s = slots_.get(slot);
    if (s.state == kRemoved) s = {0, 0, kNone, {}};
    if (s.state == kDelta) s.state = kMain, s.delta = 0;
    if (s.state == kMain) ++docs_now, length_now += s.length, slot_end = slot + 1;
    slots_.set(slot, s);
  }
  slots_.shrink_to(slot_end);
  vocab_ = std::move(vocab);
  terms_ = std::move(terms);
  blocks_ = std::move(blocks);
  postings_ = std::move(bytes);
  delta_docs_.clear();
  delta_entries_.clear();
  main_postings_ = main_postings;
  main_docs_ = held_docs_ = live_docs_ = docs_now;
  main_slot_end_ = uint32_t(slot_end);
  main_length_ = held_length_ = length_now;
  removed_docs_ = 0;
  delta_live_entries_ = 0;
  return Result::success();
}

// ---------------------------------------------------------------------------
// Memory.

TextMemoryUse FullTextIndex::memory() const {
  TextMemoryUse m;
  m.used = vocab_.used_bytes() + terms_.used_bytes() + blocks_.used_bytes() + postings_.used_bytes() +
           slots_.used_bytes() + delta_docs_.used_bytes() + delta_entries_.used_bytes();
  m.reserved = vocab_.reserved_bytes() + terms_.reserved_bytes() + blocks_.reserved_bytes() +
               postings_.reserved_bytes() + slots_.reserved_bytes() + delta_docs_.reserved_bytes() +
               delta_entries_.reserved_bytes() + offsets_.capacity() * 4 + groups_.capacity() * sizeof(Entry) +
               new_terms_.capacity() * sizeof(std::string_view) + by_term_.capacity() * 4 + query_idf_.capacity() * 8 +
               query_terms_.capacity() * 4 + cursor_buffers_.capacity() * 4 + hits_.capacity() * sizeof(TextHit) +
               contributions_.capacity() * 8 + cursors_.capacity() * sizeof(Cursor) + group_table_.capacity() * 4;
  return m;
}

void FullTextIndex::clear() {
  const TextMemoryCheck check = memory_check_;
  *this = FullTextIndex();
  memory_check_ = check;
}

// ---------------------------------------------------------------------------
// The section.

size_t FullTextIndex::block_bytes() const {
  size_t total = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) total += postings_.get(blocks_.get(i).handle).size();
  return total;
}

size_t FullTextIndex::serialized_size() const {
  size_t term_bytes = 0;
  for (size_t t = 0; t < terms_.size(); ++t) term_bytes += vocab_.id_of(uint32_t(t)).size();
  return sizeof(TextSectionHeader) + slots_.size() * 5 + terms_.size() * 5 + term_bytes +
         blocks_.size() * kBlockRecordBytes + block_bytes() + delta_docs_.size() * kDeltaDocRecordBytes +
         delta_entries_.size() * kDeltaEntryRecordBytes;
}

// The section's parts in order, each a run of items: the header; per slot its
// state, then its length; per term its byte length, its bytes, its block
// count; per block its record, then its bytes; the delta's documents and
// entries.
enum SectionPart : uint32_t {
  kPartHeader, kPartStates, kPartLengths, kPartTermLengths, kPartTermBytes, kPartBlockCounts, kPartBlockRecords,
  kPartBlockBytes, kPartDeltaDocs, kPartDeltaEntries, kPartEnd
};

size_t FullTextIndex::section_items(uint32_t part) const {
  switch (part) {
    case kPartHeader: return 1;
    case kPartStates: case kPartLengths: return slots_.size();
    case kPartTermLengths: case kPartTermBytes: case kPartBlockCounts: return terms_.size();
    case kPartBlockRecords: case kPartBlockBytes: return blocks_.size();
    case kPartDeltaDocs: return delta_docs_.size();
    case kPartDeltaEntries: return delta_entries_.size();
    default: return 0;
  }
}

// The bytes of one item of a part: the index's own where it holds them as
// they are written (terms, block bytes), else made in `scratch` (64 bytes).
std::string_view FullTextIndex::section_item(uint32_t part, size_t i, uint8_t* scratch) const {
  uint8_t* out = scratch;
  switch (part) {
    case kPartHeader: {
      TextSectionHeader h{};
      std::memcpy(h.magic, kTextSectionMagic, 4);
      h.version = kTextSectionVersion;
      h.header_bytes = sizeof(TextSectionHeader);
      h.slot_count = uint32_t(slots_.size());
      h.term_count = uint32_t(terms_.size());
      h.block_count = uint32_t(blocks_.size());
      h.delta_docs = uint32_t(delta_docs_.size());
      h.delta_entries = uint32_t(delta_entries_.size());
      h.main_docs = main_docs_;
      h.main_slot_end = main_slot_end_;
      h.main_length = main_length_;
      for (size_t t = 0; t < terms_.size(); ++t) h.term_bytes += vocab_.id_of(uint32_t(t)).size();
      h.payload_bytes = block_bytes();
      std::memcpy(out, &h, sizeof h);
      out += sizeof h;
      break;
    }
    case kPartStates: *out++ = slots_.get(i).state; break;
    case kPartLengths: put_u32(out, slots_.get(i).length); break;
    case kPartTermLengths: *out++ = uint8_t(vocab_.id_of(uint32_t(i)).size()); break;
    case kPartTermBytes: return vocab_.id_of(uint32_t(i));
    case kPartBlockCounts: put_u32(out, terms_.get(i).block_count); break;
    case kPartBlockRecords: {
      const Block bl = blocks_.get(i);
      for (const uint32_t v : {bl.first_doc, bl.last_doc, uint32_t(bl.max_tf), uint32_t(bl.min_length), uint32_t(bl.count),
                               uint32_t(postings_.get(bl.handle).size())})
        put_u32(out, v);
      break;
    }
    case kPartBlockBytes: return postings_.get(blocks_.get(i).handle);
    case kPartDeltaDocs: {
      const DeltaDoc d = delta_docs_.get(i);
      for (const uint32_t v : {d.slot, d.length, d.count, d.alive}) put_u32(out, v);
      break;
    }
    case kPartDeltaEntries: {
      const Entry e = delta_entries_.get(i);
      put_u32(out, e.term);
      put_u32(out, e.tf);
      break;
    }
    default: break;
  }
  return {reinterpret_cast<const char*>(scratch), size_t(out - scratch)};
}

size_t FullTextIndex::serialize_piece(SectionCursor* c, uint8_t* out, size_t len) const {
  static_assert(sizeof(TextSectionHeader) <= 64 && kBlockRecordBytes <= 64, "an item fits the scratch");
  uint8_t scratch[64];
  size_t done = 0;
  while (done < len && c->part < kPartEnd) {
    if (c->item >= section_items(c->part)) {
      ++c->part;
      c->item = 0;
      continue;
    }
    const std::string_view item = section_item(c->part, c->item, scratch);
    const size_t n = std::min(len - done, item.size() - c->offset);
    std::memcpy(out + done, item.data() + c->offset, n);
    done += n;
    c->offset += n;
    if (c->offset == item.size()) {
      c->offset = 0;
      ++c->item;
    }
  }
  return done;
}

void FullTextIndex::serialize(uint8_t* out) const {
  SectionCursor cursor;
  serialize_piece(&cursor, out, serialized_size());
}

Result FullTextIndex::deserialize(const uint8_t* bytes, size_t length) {
  TextSectionHeader h;
  if (length < sizeof h) return corrupt("it is shorter than its header");
  std::memcpy(&h, bytes, sizeof h);
  if (std::memcmp(h.magic, kTextSectionMagic, 4) != 0) return corrupt("its magic is wrong");
  if (h.version != kTextSectionVersion)
    return Result::failure(Status::unsupported_version,
                           "text index section version " + std::to_string(h.version) + "; this build reads " +
                               std::to_string(kTextSectionVersion));
  if (h.header_bytes != sizeof h) return corrupt("its header size is " + std::to_string(h.header_bytes));
  if (h.slot_count > kMaxTextSlots || h.term_count > kMaxVocabulary || h.main_slot_end > h.slot_count ||
      uint64_t(h.main_docs) + h.delta_docs >= kMaxTextSlots)
    return corrupt("its slot, term or document count is out of range");
  // Every count against the bytes present, before anything is reserved.
  const uint64_t need = sizeof h + uint64_t(h.slot_count) * 5 + uint64_t(h.term_count) * 5 + h.term_bytes +
                        uint64_t(h.block_count) * kBlockRecordBytes + h.payload_bytes +
                        uint64_t(h.delta_docs) * kDeltaDocRecordBytes + uint64_t(h.delta_entries) * kDeltaEntryRecordBytes;
  if (h.term_bytes > length || h.payload_bytes > length || need != length)
    return corrupt("its sections need " + std::to_string(need) + " bytes; it holds " + std::to_string(length));

  FullTextIndex fresh;
  fresh.memory_check_ = memory_check_;
  // What the loaded index will hold: each array grown by its chunks, the
  // vocabulary's id map and strings, the postings' bytes. Not the scratch
  // that loading uses and frees, nor the slack of a half-filled chunk: a
  // store that kept to its cap must load again under it (its own arrays held
  // the same chunks), and acknowledged data must never become unreachable
  // because an estimate was generous.
  const uint64_t need_bytes =
      uint64_t(ChunkedArray<SlotText>().bytes_to_grow(h.slot_count)) + ChunkedArray<Term>().bytes_to_grow(h.term_count) +
      uint64_t(ChunkedArray<uint32_t>().bytes_to_grow(h.term_count)) * 3 + h.term_bytes + 2 * uint64_t(h.term_count) +
      ChunkedArray<Block>().bytes_to_grow(h.block_count) + h.payload_bytes + 2 * uint64_t(h.block_count) +
      ChunkedArray<DeltaDoc>().bytes_to_grow(h.delta_docs) + ChunkedArray<Entry>().bytes_to_grow(h.delta_entries);
  if (Result r = check_memory(need_bytes); !r.ok()) return r;
  PodVector<std::string_view> views;
  ChunkedArray<uint32_t> sums;  // per slot: its main postings' tfs, for a live document
  PodVector<uint32_t> buffer;
  if (!views.reserve(h.term_count) || !sums.reserve(h.slot_count) || !buffer.try_resize(2 * kPostingBlock) ||
      !fresh.slots_.reserve(h.slot_count) || !fresh.terms_.reserve(h.term_count) ||
      !fresh.blocks_.reserve(h.block_count) || !fresh.delta_docs_.reserve(h.delta_docs) ||
      !fresh.delta_entries_.reserve(h.delta_entries))
    return Result::out_of_memory();
  sums.resize(h.slot_count);
  const uint8_t* p = bytes + sizeof h;
  const uint8_t* states = p;
  p += h.slot_count;
  fresh.slots_.resize(h.slot_count);
  for (uint32_t s = 0; s < h.slot_count; ++s) {
    const uint32_t len = get_u32(p);
    if (states[s] > kRemoved || (states[s] == kMain && s >= h.main_slot_end))
      return corrupt("slot " + std::to_string(s) + " has state " + std::to_string(states[s]));
    if (live(states[s]) ? len > kMaxDocumentTerms : len != 0)
      return corrupt("slot " + std::to_string(s) + " has length " + std::to_string(len));
    fresh.slots_.set(s, {len, kEnd, states[s], {}});
    if (live(states[s])) ++fresh.live_docs_;
  }
  const uint8_t* term_lengths = p;
  p += h.term_count;
  const char* text = reinterpret_cast<const char*>(p);
  uint64_t text_left = h.term_bytes;
  for (uint32_t t = 0; t < h.term_count; ++t) {
    const uint32_t len = term_lengths[t];
    if (len == 0 || len > text_left) return corrupt_at("term ", t, "'s length is out of range");
    const std::string_view term(text, len);
    if (std::memchr(term.data(), 0, len) || !valid_utf8(term)) return corrupt_at("term ", t, " is not a term");
    views.push_back(term);
    text += len;
    text_left -= len;
  }
  if (text_left != 0) return corrupt("its term bytes do not add up");
  p += h.term_bytes;
  if (!fresh.vocab_.reserve(h.term_count, views.data(), views.size())) return Result::out_of_memory();
  for (uint32_t t = 0; t < h.term_count; ++t) {
    if (fresh.vocab_.find(views[t]) != IdMap::kNotFound) return corrupt_at("term ", t, " is repeated");
    fresh.vocab_.insert(views[t], t);
  }
  // Blocks, term by term.
  const uint8_t* block_records = p + uint64_t(h.term_count) * 4;
  const uint8_t* payload = block_records + uint64_t(h.block_count) * kBlockRecordBytes;
  uint64_t payload_at = 0;
  uint32_t block = 0;
  // Room for the block payloads, sized from the records' byte counts.
  for (uint32_t i = 0; i < h.block_count; ++i) {
    const uint8_t* r = block_records + uint64_t(i) * kBlockRecordBytes + 20;
    const uint32_t size = get_u32(r);
    if (size == 0 || size > kPostingBlock * 10) return corrupt_at("block ", i, "'s size is out of range");
  }
  if (!fresh.postings_.reserve_lengths(
          h.block_count,
          [](const void* c, size_t i) {
            const uint8_t* r = static_cast<const uint8_t*>(c) + i * kBlockRecordBytes + 20;
            return size_t(get_u32(r));
          },
          block_records))
    return Result::out_of_memory();
  uint64_t main_length = 0;
  for (uint32_t t = 0; t < h.term_count; ++t) {
    const uint32_t count = get_u32(p);
    if (count > h.block_count - block) return corrupt_at("term ", t, " has too many blocks");
    Term term{block, count, 0};
    uint32_t prev_last = 0;
    for (uint32_t i = 0; i < count; ++i, ++block) {
      const uint8_t* r = block_records + uint64_t(block) * kBlockRecordBytes;
      Block bl;
      bl.first_doc = get_u32(r);
      bl.last_doc = get_u32(r);
      const uint32_t max_tf_field = get_u32(r), min_length = get_u32(r), postings = get_u32(r), size = get_u32(r);
      if (postings == 0 || postings > kPostingBlock || size > h.payload_bytes - payload_at ||
          bl.first_doc > bl.last_doc || bl.last_doc >= h.main_slot_end || (i > 0 && bl.first_doc <= prev_last) ||
          max_tf_field > kMaxBoundTf ||
          min_length > kMaxBoundLength)
        return corrupt_at("block ", block, " is out of range");
      bl.max_tf = uint8_t(max_tf_field);
      bl.min_length = uint16_t(min_length);
      bl.count = uint8_t(postings);
      bl.handle = fresh.postings_.append(std::string_view(reinterpret_cast<const char*>(payload + payload_at), size));
      assert(bl.handle != ByteArena::kNone);
      payload_at += size;
      uint32_t* docs = buffer.data();
      uint32_t* tfs = docs + kPostingBlock;
      if (!fresh.decode(bl, docs, tfs)) return corrupt_at("block ", block, " does not decode");
      uint32_t max_tf = 0;
      for (uint32_t j = 0; j < bl.count; ++j) {
        max_tf = std::max(max_tf, tfs[j]);
        const SlotText s = fresh.slots_.get(docs[j]);
        if (tfs[j] > kMaxDocumentTerms) return corrupt_at("block ", block, " has a tf out of range");
        main_length += tfs[j];
        if (s.state != kMain) continue;
        // A live document's postings must fit its length, which bounds the block.
        const uint32_t sum = sums.get(docs[j]);
        if (tfs[j] > s.length - sum || s.length < bl.min_length)
          return corrupt("block " + std::to_string(block) + " disagrees with slot " + std::to_string(docs[j]) + "'s length");
        sums.set(docs[j], sum + tfs[j]);
      }
      if (std::min(max_tf, kMaxBoundTf) != bl.max_tf) return corrupt_at("block ", block, "'s largest tf is wrong");
      fresh.blocks_.push_back(bl);
      term.df += bl.count;
      prev_last = bl.last_doc;
    }
    fresh.main_postings_ += term.df;
    fresh.terms_.push_back(term);
  }
  if (block != h.block_count || payload_at != h.payload_bytes) return corrupt("its blocks do not add up");
  if (main_length != h.main_length) return corrupt("its main statistics are wrong");
  uint32_t main_live = 0;
  for (uint32_t s = 0; s < h.slot_count; ++s) {
    const SlotText slot = fresh.slots_.get(s);
    if (slot.state == kMain && sums.get(s) != slot.length) return corrupt_at("slot ", s, "'s length is wrong");
    if (slot.state == kMain) ++main_live;
  }
  if (main_live > h.main_docs) return corrupt("it has more live documents in main than documents");
  fresh.main_docs_ = h.main_docs;
  fresh.main_slot_end_ = h.main_slot_end;
  fresh.main_length_ = h.main_length;
  // The delta.
  p = payload + h.payload_bytes;
  const uint8_t* entries = p + uint64_t(h.delta_docs) * kDeltaDocRecordBytes;
  uint64_t entry = 0, delta_length = 0;
  for (uint32_t i = 0; i < h.delta_docs; ++i) {
    DeltaDoc d;
    d.slot = get_u32(p);
    d.length = get_u32(p);
    d.count = get_u32(p);
    d.alive = get_u32(p);
    d.first = uint32_t(entry);
    if (d.slot >= h.slot_count || d.length > kMaxDocumentTerms || d.count > h.delta_entries - entry || d.alive > 1)
      return corrupt_at("delta document ", i, " is out of range");
    uint64_t sum = 0;
    for (uint32_t e = 0; e < d.count; ++e) {
      const uint8_t* r = entries + (entry + e) * kDeltaEntryRecordBytes;
      const Entry en{get_u32(r), get_u32(r)};
      const uint32_t prev = e > 0 ? fresh.delta_entries_.back().term : 0;
      if (en.term >= h.term_count || (e > 0 && en.term <= prev) || en.tf == 0 || en.tf > kMaxDocumentTerms)
        return corrupt_at("delta document ", i, " has a bad entry");
      sum += en.tf;
      fresh.delta_entries_.push_back(en);
      Term t = fresh.terms_.get(en.term);
      ++t.df;
      fresh.terms_.set(en.term, t);
    }
    if (sum != d.length) return corrupt_at("delta document ", i, "'s length is wrong");
    entry += d.count;
    if (d.alive) {
      SlotText s = fresh.slots_.get(d.slot);
      if (s.state != kDelta || s.delta != kEnd || s.length != d.length)
        return corrupt_at("delta document ", i, " disagrees with its slot");
      s.delta = i;
      fresh.slots_.set(d.slot, s);
      fresh.delta_live_entries_ += d.count;
    }
    delta_length += d.length;
    fresh.delta_docs_.push_back(d);
  }
  if (entry != h.delta_entries) return corrupt("its delta entries do not add up");
  for (uint32_t s = 0; s < h.slot_count; ++s) {
    SlotText slot = fresh.slots_.get(s);
    if (slot.state == kDelta && slot.delta == kEnd) return corrupt_at("slot ", s, " has no delta document");
    if (slot.state != kDelta) slot.delta = 0, fresh.slots_.set(s, slot);
  }
  const uint64_t held = uint64_t(h.main_docs) + h.delta_docs;
  if (held < fresh.live_docs_) return corrupt("its document counts disagree");
  for (uint32_t t = 0; t < h.term_count; ++t)
    if (fresh.terms_.get(t).df > held) return corrupt_at("term ", t, " is in more documents than there are");
  fresh.held_docs_ = uint32_t(held);
  fresh.held_length_ = h.main_length + delta_length;
  fresh.removed_docs_ = uint32_t(held - fresh.live_docs_);
  // Scratch stays with the old index; the new one grows its own on first use.
  *this = std::move(fresh);
  return Result::success();
}

}  // namespace tabvec
